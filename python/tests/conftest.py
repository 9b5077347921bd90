"""Shared fixtures of the Python package's tests: the built-in sample, a raw safetensors writer
and reader independent of both unweight and safetensors (the reference bytes), synthetic tensors."""

import json
import os
import struct

import ml_dtypes
import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(REPO, "tests", "data", "sample.safetensors")

SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2,
    "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}


def write_raw(path, tensors, metadata=None):
    """Write a safetensors file: tensors maps name -> (dtype, shape, bytes), in that order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, (dtype, shape, data) in tensors.items():
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        assert len(data) == n * SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
    js = json.dumps(header).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for _, _, data in tensors.values():
            f.write(data)


def read_raw(path):
    """{name: (dtype, shape, bytes)} and the metadata of a plain safetensors file, parsed here."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + n])
    meta = header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = (t["dtype"], tuple(t["shape"]), blob[base + b : base + e])
    return out, meta


def bf16_weights(rows, cols, seed, scale=0.02):
    """A trained-looking BF16 matrix (normal, rounded to nearest even), as uint16 bits."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, scale, size=(rows, cols)).astype(np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)


def bf16_specials():
    """BF16 bit patterns a decoder must keep: signed zeros, subnormals, infinities, NaN payloads."""
    return np.array([0x0000, 0x8000, 0x0001, 0x807F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81, 0x0080, 0x7F7F, 0xFF7F],
                    dtype=np.uint16)


def every_dtype_tensors(seed=1):
    """One tensor of every safetensors dtype (random bytes: any bit pattern must survive), plus
    the shapes that are easy to get wrong (scalar, zero elements), and BF16 tensors large enough
    to be compressed (with special values inside)."""
    rng = np.random.default_rng(seed)
    t = {}
    for i, (dt, size) in enumerate(SIZES.items()):
        shape = (3, 5, 7) if i % 2 else (37,)
        n = int(np.prod(shape))
        data = rng.integers(0, 256, size=n * size, dtype=np.uint8)
        if dt == "BOOL":
            data = data & 1
        t[f"t.{dt.lower()}"] = (dt, shape, data.tobytes())
    t["scalar.f32"] = ("F32", (), np.float32(3.5).tobytes())
    t["empty.bf16"] = ("BF16", (0, 64), b"")
    t["empty.i64"] = ("I64", (4, 0), b"")
    w = bf16_weights(96, 128, seed)
    w.reshape(-1)[: len(bf16_specials())] = bf16_specials()
    t["model.layers.0.mlp.up_proj.weight"] = ("BF16", (96, 128), w.tobytes())
    t["model.layers.0.self_attn.q_proj.weight"] = ("BF16", (64, 128), bf16_weights(64, 128, seed + 1).tobytes())
    t["conv.weight"] = ("BF16", (64, 32, 2, 2), bf16_weights(64, 128, seed + 2).tobytes())
    return t


@pytest.fixture
def sample():
    return SAMPLE


@pytest.fixture
def every_dtype_file(tmp_path):
    p = tmp_path / "every_dtype.safetensors"
    write_raw(p, every_dtype_tensors(), metadata={"format": "pt", "note": "synthetic, every dtype"})
    return p
