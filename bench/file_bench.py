#!/usr/bin/env python3
"""bench/file_bench.py - whole-process, file-to-file times: unweight vs the zstd CLI vs ZipNN.

Called by bench/run.sh; can be run alone:

  python3 bench/file_bench.py --unweight build/unweight --file NAME=PATH ... --out OUT.json \\
      [--repeat R] [--threads N] [--small-from MODEL.safetensors] [--tmp DIR]

For each file (and, with --small-from, a made-up file of many small tensors: 1024 tensors of
64 x 768 real BF16 weights, rows of the model's embedding, 100 MB), every tool compresses and
decompresses it as a user would, each run a fresh process, best of R (the output removed before
each run, so no run pays for deleting the previous output):
  unweight   `unweight compress IN OUT --threads N`, `unweight decompress OUT BACK --threads N`
             (and --threads 1), `unweight verify OUT`
  zstd       the zstd CLI at level 3: `zstd -3 -T1` and `-T0` (all cores), `zstd -d`
  ZipNN      the ZipNN library on the file's bytes as BF16 (`bench/zipnn_file.py`, which is how
             ZipNN's own file scripts use it), threads 1 and N: the process's wall time, and
             inside it the time of reading, coding and writing (the interpreter and torch
             import excluded)
Every decompressed file is compared with the original (cmp). Output: JSON (every figure).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(f"[file_bench] {msg}", file=sys.stderr, flush=True)


def timed(cmd, env=None):
    """Wall seconds of one process; raises on failure. Returns (seconds, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(list(map(str, cmd)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {p.stderr.strip()[:300]}")
    return dt, p.stdout


def same_file(a, b):
    return subprocess.run(["cmp", "-s", a, b]).returncode == 0


def make_small(model, dst, n=1024, rows=64):
    """n tensors of rows x cols real BF16 weights (rows of the model's embedding)."""
    with open(model, "rb") as f:
        hl = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(hl))
    name = next(k for k, v in hdr.items() if k != "__metadata__" and v["dtype"] == "BF16" and len(v["shape"]) == 2
                and v["shape"][0] >= n * rows // 8)
    t = hdr[name]
    s, _ = t["data_offsets"]
    shape = t["shape"]
    mm = np.memmap(model, dtype=np.uint16, mode="r", offset=8 + hl + s, shape=tuple(shape))
    out, off, parts = {}, 0, []
    for i in range(n):
        r0 = (i * rows * 7) % (shape[0] - rows)
        a = np.ascontiguousarray(mm[r0:r0 + rows])
        out[f"layers.{i}.weight"] = {"dtype": "BF16", "shape": [rows, shape[1]], "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        parts.append(a.tobytes())
    js = json.dumps(out, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        for p in parts:
            f.write(p)
    return f"{n} tensors of {rows}x{shape[1]} (rows of {name})"


def best(fn, repeat, before=None):
    """Best (minimum) seconds of repeat calls of fn() (each after before())."""
    times = []
    for _ in range(repeat):
        if before:
            before()
        times.append(fn())
    return min(times), times


def bench_file(name, path, a, tmp):
    uw, N, R = a.unweight, a.threads, a.repeat
    os.makedirs(tmp, exist_ok=True)
    orig = os.path.getsize(path)
    r = {"name": name, "path": path, "bytes": orig, "runs": {}}
    c_uw, d_uw = os.path.join(tmp, "c.uw"), os.path.join(tmp, "d.uw")
    c_z, d_z = os.path.join(tmp, "c.zst"), os.path.join(tmp, "d.zst")
    c_n, d_n = os.path.join(tmp, "c.znn"), os.path.join(tmp, "d.znn")

    def rm(*ps):
        return lambda: [os.path.exists(p) and os.unlink(p) for p in ps]

    runs = r["runs"]
    log(f"{name}: unweight")
    runs["unweight compress"] = best(lambda: timed([uw, "compress", path, c_uw, "--threads", N])[0], R, rm(c_uw))
    r["unweight_bytes"] = os.path.getsize(c_uw)
    runs["unweight decompress"] = best(lambda: timed([uw, "decompress", c_uw, d_uw, "--threads", N])[0], R, rm(d_uw))
    r["unweight_roundtrip"] = same_file(path, d_uw)
    runs["unweight decompress 1t"] = best(lambda: timed([uw, "decompress", c_uw, d_uw, "--threads", 1])[0], R, rm(d_uw))
    env = dict(os.environ, UW_FSYNC="1")
    runs["unweight decompress (fsync)"] = best(lambda: timed([uw, "decompress", c_uw, d_uw, "--threads", N], env)[0], R, rm(d_uw))
    runs["unweight verify"] = best(lambda: timed([uw, "verify", c_uw, "--threads", N])[0], R)
    log(f"{name}: zstd")
    for lvl, t in (("-T1", "1"), ("-T0", str(N))):
        runs[f"zstd -3 compress {t}t"] = best(lambda: timed(["zstd", "-3", lvl, "-q", "-f", path, "-o", c_z])[0], R, rm(c_z))
    r["zstd_bytes"] = os.path.getsize(c_z)
    runs["zstd -d"] = best(lambda: timed(["zstd", "-d", "-q", "-f", c_z, "-o", d_z])[0], R, rm(d_z))
    r["zstd_roundtrip"] = same_file(path, d_z)
    if a.zipnn:
        log(f"{name}: ZipNN")
        zf = os.path.join(HERE, "zipnn_file.py")
        for th in sorted({1, N}):
            for mode, src, dst, what in (("c", path, c_n, "compress"), ("d", c_n, d_n, "decompress")):
                inner = []  # the tool's own time, without the interpreter's start

                def once(mode=mode, src=src, dst=dst, inner=inner, th=th):
                    dt, out = timed([a.python, zf, mode, src, dst, th])
                    inner.append(float(out.split()[0]))
                    return dt

                runs[f"zipnn {what} {th}t"] = best(once, R, rm(dst))
                runs[f"zipnn {what} {th}t (in process)"] = (min(inner), inner)
        r["zipnn_bytes"] = os.path.getsize(c_n)
        r["zipnn_roundtrip"] = same_file(path, d_n)
    for p in (c_uw, d_uw, c_z, d_z, c_n, d_n):
        if os.path.exists(p):
            os.unlink(p)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unweight", required=True)
    ap.add_argument("--file", action="append", default=[], help="NAME=PATH")
    ap.add_argument("--small-from", help="a model file whose rows make the many-small-tensors file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--python", default=sys.executable, help="the interpreter with zipnn")
    ap.add_argument("--no-zipnn", dest="zipnn", action="store_false")
    a = ap.parse_args()
    tmp = a.tmp or os.path.join(os.path.dirname(os.path.abspath(a.out)), ".tmp-file-bench")
    os.makedirs(tmp, exist_ok=True)
    files = [f.split("=", 1) for f in a.file]
    res = {"threads": a.threads, "repeat": a.repeat, "load_average": [os.getloadavg()[0]], "files": []}
    if a.small_from:
        sp = os.path.join(tmp, "many-small.safetensors")
        res["small_file"] = make_small(a.small_from, sp)
        files.append(("many small tensors", sp))
    for name, path in files:
        res["files"].append(bench_file(name, os.path.expanduser(path), a, os.path.join(tmp, "work")))
        res["load_average"].append(os.getloadavg()[0])
    shutil.rmtree(tmp, ignore_errors=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    for r in res["files"]:
        zd = r["runs"]["zstd -d"][0]
        log(f"{r['name']}: unweight decompress {r['runs']['unweight decompress'][0]:.3f} s, zstd -d {zd:.3f} s")
    bad = [r["name"] for r in res["files"] if not (r["unweight_roundtrip"] and r["zstd_roundtrip"] and r.get("zipnn_roundtrip", True))]
    if bad:
        sys.exit(f"[file_bench] round trip differs: {bad}")


if __name__ == "__main__":
    main()
