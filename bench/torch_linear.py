#!/usr/bin/env python3
"""bench/torch_linear.py - the PyTorch side of bench_cpu_mm (which starts it with --torch and
talks to it one line at a time): holds its own copies of the benchmark's weights and times
torch.nn.functional.linear on bf16, one matrix per request, so both sides are measured
interleaved matrix by matrix in one run.

Requests (one line each, one line answered):
  hello                              -> "1"
  gen NAME ROWS COLS COUNT           -> COUNT synthetic N(0, 0.02) weights, rounded to bf16
  load NAME PATH TENSOR...           -> the named BF16 tensors of a .safetensors file
  run NAME I BATCH THREADS           -> microseconds of F.linear(x, W_I) for a bf16 x [BATCH, cols],
                                        answered once its worker threads stopped spinning
  quit
"""
import json
import os
import struct
import sys
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

weights = {}
xs = {}


def quiesce(limit=0.2):
    """Wait (at most `limit` s) until no other thread of this process is running: PyTorch's OpenMP
    workers spin for a while after each parallel region, on the cores the benchmark's next
    variant is about to time (plain-bf16 with 2 threads lost a quarter of its speed to them)."""
    me, end = threading.get_native_id(), time.perf_counter() + limit
    while time.perf_counter() < end:
        running = False
        for tid in os.listdir("/proc/self/task"):
            if int(tid) == me:
                continue
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            running = running or state == "R"
        if not running:
            return
        time.sleep(0.0005)


def load_safetensors(path, names):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = []
        for name in names:
            t = header[name]
            assert t["dtype"] == "BF16", name
            b, e = t["data_offsets"]
            f.seek(base + b)
            raw = np.frombuffer(f.read(e - b), dtype=np.int16).copy()
            out.append(torch.from_numpy(raw).view(torch.bfloat16).reshape(t["shape"]).contiguous())
        return out


def main():
    torch.manual_seed(1234)
    threads = None
    for line in sys.stdin:
        req = line.split()
        if not req:
            continue
        ans = "1"
        if req[0] == "hello":
            pass
        elif req[0] == "gen":
            name, rows, cols, count = req[1], int(req[2]), int(req[3]), int(req[4])
            weights[name] = [(torch.randn(rows, cols) * 0.02).to(torch.bfloat16) for _ in range(count)]
        elif req[0] == "load":
            weights[req[1]] = load_safetensors(req[2], req[3:])
        elif req[0] == "run":
            name, i, batch, t = req[1], int(req[2]), int(req[3]), int(req[4])
            if t != threads:
                torch.set_num_threads(t)
                threads = t
            w = weights[name][i]
            key = (w.shape[1], batch)
            if key not in xs:
                xs[key] = torch.randn(batch, w.shape[1]).to(torch.bfloat16)
            x = xs[key]
            with torch.no_grad():
                t0 = time.perf_counter()
                y = F.linear(x, w)
                t1 = time.perf_counter()
            del y
            ans = "%.3f" % ((t1 - t0) * 1e6)
            quiesce()
        elif req[0] == "quit":
            break
        else:
            ans = "-1"
        sys.stdout.write(ans + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
