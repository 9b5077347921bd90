#!/usr/bin/env python3
"""make_seeds.py - seed inputs for the fuzz targets (stdlib only). Writes small plain and
compressed safetensors files (container), blobs cut out of them plus tests/golden/*.uwb (blob),
and short byte strings (huffman, roundtrip) into DIR/<target>/. Minimize afterwards with
libFuzzer's -merge=1 into tests/fuzz/corpus/<target>/ (docs/FUZZING.md).

usage: make_seeds.py UNWEIGHT_BIN SAMPLE.safetensors DIR
"""
import json, os, random, shutil, struct, subprocess, sys

BIN, SAMPLE, OUT = sys.argv[1:4]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:], raw


def write_st(path, tensors, meta=None):
    """tensors: list of (name, dtype, shape, bytes)"""
    hdr, off, blobs = {}, 0, []
    if meta:
        hdr["__metadata__"] = meta
    for name, dt, shape, data in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    js = json.dumps(hdr, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


def slice2d(hdr, data, name, rows, cols):
    t = hdr[name]
    b, _ = t["data_offsets"]
    full_cols = 1
    for d in t["shape"][1:]:
        full_cols *= d
    out = bytearray()
    for r in range(rows):
        s = b + 2 * r * full_cols
        out += data[s:s + 2 * cols]
    return bytes(out)


def main():
    hdr, data, _ = read_st(SAMPLE)
    for t in ("container", "blob", "huffman", "roundtrip"):
        os.makedirs(os.path.join(OUT, t), exist_ok=True)
    c = os.path.join(OUT, "container")
    w64 = slice2d(hdr, data, "encoder.layer.3.intermediate.dense.weight", 64, 64)
    w_conv = slice2d(hdr, data, "PP-DocLayoutV2.inference.pdiparams.0488", 64, 64)
    ln = slice2d(hdr, data, "encoder.layer.3.output.LayerNorm.weight", 1, 64)
    plains = {
        "one_bf16": [("w", "BF16", [64, 64], w64)],
        "mixed": [("a.mlp.up_proj.weight", "BF16", [64, 64], w64), ("norm", "BF16", [64], ln),
                  ("conv", "BF16", [64, 64, 1, 1], w_conv), ("f32", "F32", [4], struct.pack("<4f", 1, 2, 3, 4)),
                  ("empty", "BF16", [0, 64], b"")],
        "meta": [("w", "BF16", [64, 64], w64)],
    }
    for name, ts in plains.items():
        p = os.path.join(c, name + ".safetensors")
        write_st(p, ts, {"format": "pt"} if name == "meta" else None)
        for codec in ("huffman", "palette"):
            q = os.path.join(c, "%s_%s.safetensors" % (name, codec))
            subprocess.run([BIN, "compress", p, q, "--codec", codec, "--threads", "1"], check=True)
    # blobs cut out of the compressed files, plus the golden vectors
    b = os.path.join(OUT, "blob")
    for f in sorted(os.listdir(c)):
        h, d, _ = read_st(os.path.join(c, f))
        for k, t in h.items():
            if k != "__metadata__" and t["dtype"] == "U8":
                s, e = t["data_offsets"]
                open(os.path.join(b, "%s.%s.uwb" % (f, k)), "wb").write(d[s:e])
    g = os.path.join(ROOT, "tests", "golden")
    for f in sorted(os.listdir(g)):
        if f.endswith(".uwb") and os.path.getsize(os.path.join(g, f)) < 16384:
            shutil.copy(os.path.join(g, f), os.path.join(b, "golden_" + f))
    rnd = random.Random(4)
    for t in ("huffman", "roundtrip"):
        for k in range(16):
            n = rnd.choice([8, 32, 128, 512, 2048])
            open(os.path.join(OUT, t, "seed%02d" % k), "wb").write(bytes(rnd.randrange(256) for _ in range(n)))


main()
