#!/usr/bin/env python3
"""bench/python_e2e.py - the Python package on a real model (EmbeddingGemma-300M, cached by
bench/fetch-weights.sh): compress its checkpoint, load the compressed directory with
transformers' AutoModel.from_pretrained through unweight's loader and check the last hidden
states bit for bit against the original model; then keep the MLP (or all Linear) weights
compressed in memory with unweight.torch.compress_model, check the outputs against the same model
on the plain-bf16 pipeline, and time forwards interleaved with PyTorch's own model.

    python bench/python_e2e.py [--model DIR] [--work DIR] [--tokens 128] [--batch 1] [--repeat 5]

Needs: the package (pip install .), torch, transformers. Exit 0 only if every check passes;
77 if the model is not cached (run bench/fetch-weights.sh)."""

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import sys
import time

import torch
from transformers import AutoModel

import unweight
import unweight.torch as ut

HOME = os.path.expanduser("~")


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.view(torch.int16), b.view(torch.int16))


def forward(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state


def mib(n):
    return n / (1 << 20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(HOME, ".cache/unweight/models/embeddinggemma-300m"))
    ap.add_argument("--work", default=os.path.join(HOME, ".cache/unweight/work/embeddinggemma-300m-uw"))
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--select", default="mlp", choices=["mlp", "all"])
    ap.add_argument("--resident", default="huffman", choices=["huffman", "palette", "huffman+palette"],
                    help="how the kept weights stay in memory (huffman+palette adds the 12-bit palette form: the fast batch-1 path on the CPU)")
    ap.add_argument("--pipeline", default="auto", help="compress_model's pipeline (auto, palette-direct, fused-huffman)")
    ap.add_argument("--threads", type=int, default=0, help="torch and library threads (0 = all cores)")
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()

    src = os.path.join(a.model, "model.safetensors")
    if not (os.path.exists(src) and os.path.exists(os.path.join(a.model, "config.json"))):
        print(f"{a.model}: no model.safetensors + config.json; run bench/fetch-weights.sh", file=sys.stderr)
        return 77
    if a.threads:
        torch.set_num_threads(a.threads)
    ok = True

    # 1. the compressed checkpoint directory: config.json + the compressed model.safetensors
    os.makedirs(a.work, exist_ok=True)
    shutil.copy(os.path.join(a.model, "config.json"), a.work)
    dst = os.path.join(a.work, "model.safetensors")
    t = time.perf_counter()
    unweight.compress_file(src, dst, select="all", threads=a.threads, progress=False)
    t_compress = time.perf_counter() - t
    print(f"compressed {src}: {os.path.getsize(src)} -> {os.path.getsize(dst)} bytes "
          f"({100 * os.path.getsize(dst) / os.path.getsize(src):.2f}%) in {t_compress:.1f} s")

    # 2. transformers loads both; the compressed one through unweight's loader
    original = AutoModel.from_pretrained(a.model, dtype=torch.bfloat16).eval()
    decodes = unweight._lib.lib.calls["uw_file_decode"]
    t = time.perf_counter()
    with ut.hf_loading():
        loaded = AutoModel.from_pretrained(a.work, dtype=torch.bfloat16).eval()
    t_load = time.perf_counter() - t
    with unweight.safe_open(dst, "pt") as f:
        ntensors = len(f.keys())
    decoded = unweight._lib.lib.calls["uw_file_decode"] - decodes
    print(f"AutoModel.from_pretrained({a.work}) through unweight: {type(loaded).__name__}, "
          f"{decoded} tensors decoded by unweight (file has {ntensors}), {t_load:.2f} s")
    ok &= decoded == ntensors

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, original.config.vocab_size, (a.batch, a.tokens), generator=g)
    h_orig, h_loaded = forward(original, ids), forward(loaded, ids)
    same_loaded = bits_equal(h_orig, h_loaded)
    print(f"last hidden states {tuple(h_orig.shape)} {h_orig.dtype}: compressed file vs original "
          f"{'bit-identical' if same_loaded else 'DIFFER'}")
    ok &= same_loaded

    # 3. weights kept compressed in memory; the reference: the same layers on the plain-bf16 pipeline
    kept = loaded
    plain = copy.deepcopy(original)
    report = ut.compress_model(kept, select=a.select, threads=a.threads, resident=a.resident, pipeline=a.pipeline)
    ut.compress_model(plain, select=a.select, pipeline="plain-bf16", threads=a.threads)
    print(report)
    first = next(m for m in kept.modules() if isinstance(m, ut.CompressedLinear))
    choice = first.choice(a.batch * a.tokens)
    print(f"AUTO at batch {a.batch * a.tokens}: {choice[0]} ({'tuning cache' if choice[1] else 'default'}, {choice[2]})")
    h_kept, h_plain = forward(kept, ids), forward(plain, ids)
    same_kept = bits_equal(h_kept, h_plain)
    diff = (h_kept.float() - h_orig.float()).abs().max().item()
    scale = h_orig.float().abs().max().item()
    print(f"compress_model outputs vs plain-bf16 pipeline: {'bit-identical' if same_kept else 'DIFFER'}; "
          f"max |diff| vs PyTorch's own bf16 model {diff:.4g}, max |h| {scale:.4g} (summation order differs)")
    ok &= same_kept

    # how far each bf16 run is from the model computed in float32 (the same checkpoint upcast)
    f32 = AutoModel.from_pretrained(a.model, dtype=torch.float32).eval()
    ref = forward(f32, ids).double()
    del f32
    err = {}
    for k, h in (("pytorch", h_orig), ("unweight", h_kept)):
        d = h.double() - ref
        err[k] = (d.pow(2).mean().sqrt() / ref.pow(2).mean().sqrt()).item()
    print(f"rms error vs the float32 model: pytorch bf16 {err['pytorch']:.4f}, unweight {err['unweight']:.4f}")

    # 4. time per forward, interleaved (one round = each model once), median of rounds
    models = {"pytorch": original, "unweight": kept, "plain-bf16": plain}
    for m in models.values():
        forward(m, ids)  # warm-up
    times = {k: [] for k in models}
    for _ in range(a.repeat):
        for k, m in models.items():
            t = time.perf_counter()
            forward(m, ids)
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"time per forward (batch {a.batch} x {a.tokens} tokens, median of {a.repeat}, interleaved):")
    for k in models:
        print(f"  {k:11s} {1000 * med[k]:9.1f} ms  ({med[k] / med['pytorch']:.2f}x pytorch; "
              f"runs {', '.join(f'{1000 * x:.0f}' for x in times[k])})")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({
                "model": a.model, "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                "torch": torch.__version__, "unweight": unweight.__version__, "batch": a.batch, "tokens": a.tokens,
                "file_bytes": [os.path.getsize(src), os.path.getsize(dst)], "compress_s": t_compress,
                "hidden_bit_identical": same_loaded, "kept_bit_identical_to_plain": same_kept,
                "rms_error_vs_fp32": err, "layers": len(report.layers), "linear_bytes": [report.bytes_before, report.bytes_after],
                "model_bytes": [report.model_bytes_before, report.model_bytes_after],
                "forward_ms": {k: [1000 * x for x in v] for k, v in times.items()}, "loadavg": load,
            }, f, indent=1)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
