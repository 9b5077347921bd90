#!/usr/bin/env python3
"""bench/cpu_matmul_chart.py JSON PNG - the chart of bench/cpu-matmul.sh: per weight set and
thread count, each variant's speed relative to PyTorch F.linear bf16 (or to plain-bf16 where
PyTorch is absent) per batch size, and at batch 1 the GB/s of weight bytes against the read
bandwidth measured in the same run."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

runs = json.load(open(sys.argv[1]))["runs"]
keys = []
for r in runs:
    k = (r["set"], r["threads"])
    if k not in keys:
        keys.append(k)
variants = ["plain-bf16", "palette-direct", "fused-huffman", "torch-bf16"]
colors = {"plain-bf16": "#888888", "palette-direct": "#1f77b4", "fused-huffman": "#2ca02c", "torch-bf16": "#d62728"}
fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 7.5), squeeze=False)
for col, (name, t) in enumerate(keys):
    rs = [r for r in runs if r["set"] == name and r["threads"] == t]
    base = "vs_torch" if "torch-bf16" in rs[0]["variants"] else "vs_plain"
    ax = axes[0][col]
    w = 0.8 / len(variants)
    for i, v in enumerate(variants):
        xs = [j + i * w for j, r in enumerate(rs) if v in r["variants"]]
        ys = [r["variants"][v][base] for r in rs if v in r["variants"]]
        ax.bar(xs, ys, w, label=v, color=colors[v])
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks([j + 0.4 - w / 2 for j in range(len(rs))], [str(r["batch"]) for r in rs])
    ax.set_yscale("log")
    ax.set_title(f"{name}, {t} thread{'s' if t > 1 else ''}", fontsize=9)
    ax.set_xlabel("batch")
    if col == 0:
        ax.set_ylabel("speed relative to PyTorch bf16" if base == "vs_torch" else "speed relative to plain-bf16")
        ax.legend(fontsize=7)
    ax = axes[1][col]
    r1 = [r for r in rs if r["batch"] == 1]
    if r1:
        r1 = r1[0]
        vs = [v for v in variants if v in r1["variants"]]
        ax.bar(range(len(vs)), [r1["variants"][v]["gbs"] for v in vs], color=[colors[v] for v in vs])
        ax.axhline(r1["read_gbs"], color="black", ls="--", lw=1, label=f"read bandwidth {r1['read_gbs']:.1f} GB/s")
        ax.set_xticks(range(len(vs)), vs, rotation=30, fontsize=7)
        ax.set_ylabel("GB/s of weight bytes, batch 1")
        ax.legend(fontsize=7)
fig.suptitle("unweight CPU matmul vs PyTorch F.linear (bf16), same run, interleaved matrix by matrix", fontsize=10)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
