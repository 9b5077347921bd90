#!/usr/bin/env python3
"""odd_files.py DIR - writes valid but unusual safetensors files into DIR for the byte-exact
round-trip test: no tensors, zero-element tensors, offsets in another order than the keys,
trailing header padding, 3-D and 1-D BF16, every dtype, non-ASCII names, metadata.
Standard library only; deterministic."""
import json
import os
import random
import struct
import sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
         "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def bf16_bytes(rng, n):
    out = bytearray()
    for _ in range(n):
        f = rng.gauss(0, 0.05)
        u = struct.unpack("<I", struct.pack("<f", f))[0]
        u += 0x7FFF + ((u >> 16) & 1)
        out += struct.pack("<H", (u >> 16) & 0xFFFF)
    return bytes(out)


def write(path, tensors, metadata=None, pad=0, order=None):
    """tensors: list of (name, dtype, shape, bytes); order: data order (indices) if not key order"""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    order = order or list(range(len(tensors)))
    offs, off = {}, 0
    for i in order:
        offs[i] = (off, off + len(tensors[i][3]))
        off += len(tensors[i][3])
    for i, (name, dtype, shape, _) in enumerate(tensors):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": list(offs[i])}
    js = json.dumps(header, ensure_ascii=False).encode() + b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(tensors[i][3] for i in order))


def main():
    d = sys.argv[1]
    rng = random.Random(11)
    big = bf16_bytes(rng, 64 * 100)
    write(os.path.join(d, "empty.safetensors"), [], metadata={"format": "pt"})
    write(os.path.join(d, "zero_elements.safetensors"),
          [("a", "BF16", [0, 10], b""), ("w", "BF16", [64, 100], big), ("z", "F32", [0], b"")])
    write(os.path.join(d, "offsets_reordered.safetensors"),
          [("first", "BF16", [64, 100], big), ("second", "F32", [3], struct.pack("<3f", 1, 2, 3)),
           ("third", "BF16", [2, 64, 50], bf16_bytes(rng, 6400))], order=[2, 0, 1], pad=13)
    write(os.path.join(d, "all_dtypes.safetensors"),
          [(f"t_{k}", k, [5, 3], bytes(rng.randrange(256) for _ in range(15 * v))) for k, v in SIZES.items()]
          + [("bf16_1d", "BF16", [10000], bf16_bytes(rng, 10000)), ("bf16_3d", "BF16", [3, 40, 70], bf16_bytes(rng, 8400))],
          metadata={"note": "ünïcödé metadata", "k": ""})
    write(os.path.join(d, "unicode_names.safetensors"),
          [("模型.层.0.权重", "BF16", [80, 80], bf16_bytes(rng, 6400)), ("émoji 🙂", "BF16", [64, 64], bf16_bytes(rng, 4096))])


if __name__ == "__main__":
    main()
