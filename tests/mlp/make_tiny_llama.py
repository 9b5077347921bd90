#!/usr/bin/env python3
"""make_tiny_llama.py OUT.safetensors - a tiny Llama-shaped file (2 layers, hidden 64,
intermediate 160, random N(0, 0.02) BF16 weights, names as in Hugging Face Llama) for the
end-to-end MLP test. Deterministic; standard library only."""
import json
import math
import random
import struct
import sys


def bf16(f):
    u = struct.unpack("<I", struct.pack("<f", f))[0]
    u += 0x7FFF + ((u >> 16) & 1)
    return (u >> 16) & 0xFFFF


def main():
    rng = random.Random(7)
    hid, inter = 64, 160
    tensors = {}
    for layer in range(2):
        p = f"model.layers.{layer}.mlp."
        tensors[p + "gate_proj.weight"] = (inter, hid)
        tensors[p + "up_proj.weight"] = (inter, hid)
        tensors[p + "down_proj.weight"] = (hid, inter)
        tensors[f"model.layers.{layer}.post_attention_layernorm.weight"] = (hid,)
    header, blobs, off = {}, [], 0
    for name, shape in tensors.items():
        n = math.prod(shape)
        data = struct.pack(f"<{n}H", *(bf16(rng.gauss(0, 0.02) if len(shape) > 1 else 1.0) for _ in range(n)))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


if __name__ == "__main__":
    main()
