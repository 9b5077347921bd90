"""bench/report.py - the tables and the chart of bench/compare.py's results (STEM.md, STEM.png):
size and speed per class, the acceptance checks of issues 3 and 15, the end-to-end check and the
whole-process timings. Imported by compare.py; `compare.py --render JSON` redraws them."""
import os
import sys

CLASSES = ["MLP", "attention", "embeddings", "other", "all"]


def log(msg):
    print(f"[report] {msg}", file=sys.stderr, flush=True)


def f2(x, nd=3):
    return "-" if x is None else f"{x:.{nd}f}"


def fs(x):
    """A speed in GB/s: 3 decimals, or 2 significant digits below 0.01."""
    return "-" if x is None else (f"{x:.3f}" if x >= 0.01 else f"{x:.2g}")


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.4f}"


def speedup(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def headline(mr, N):
    """The issue's acceptance checks on the first model's MLP tensors."""
    k = mr["classes"].get("MLP")
    if not k:
        return []
    b, g = k["bits"], k["gbps"]
    yes = lambda ok: "**yes**" if ok else "**NO**"  # noqa: E731
    gap, fgap = b["ours"] - b["bound"], (b.get("ours_file") or b["ours"]) - b["bound"]
    L = [f"## Headline: {mr['model']}, MLP weights ({k['tensors']} tensors, "
         f"{k['orig_bytes'] / 1e6:.1f} MB)\n",
         "| check | result | figures |", "|---|---|---|",
         f"| within 0.05 bit/weight of the order-0 bound, all metadata included | {yes(fgap <= 0.05)} | "
         f"bound {b['bound']:.4f}; ours {b['ours']:.4f} per blob ({gap:+.4f}), "
         f"{b.get('ours_file') or b['ours']:.4f} as a file ({fgap:+.4f}) |",
         f"| smaller than ZipNN | {yes(b['ours'] < b['zipnn'])} | ours {b['ours']:.4f} vs ZipNN "
         f"{b['zipnn']:.4f} bits/weight ({b['ours'] - b['zipnn']:+.4f}) |",
         f"| smaller than zstd -19 (same sample bytes) | "
         f"{yes(b['ours_on_zstd19_sample'] < b['zstd19'])} | ours {b['ours_on_zstd19_sample']:.4f} "
         f"vs zstd -19 {b['zstd19']:.4f} bits/weight |"]
    for key, label in (("zipnn", "ZipNN"), ("zstd3", "zstd -3"), ("zstd19", "zstd -19")):
        o, t = g["ours"]["dec1"], g[key]["dec1"]
        L.append(f"| single-thread decode faster than {label} | {yes(o > t)} | ours {o:.3f} vs "
                 f"{t:.3f} GB/s: {o / t:.2f}x |")
    o, t = g["ours"]["decN"], g["zipnn"]["decN"]
    L.append(f"| (all cores: decode vs ZipNN) | {yes(o > t)} | ours {o:.3f} vs {t:.3f} GB/s "
             f"with {N} threads: {o / t:.2f}x |")
    L.append("")
    return L


def checks15(res, N):
    """The codec-speed checks of issue 15, from this run's figures."""
    mr = res["models"][0]
    yes = lambda ok: "**yes**" if ok else "**NO**"  # noqa: E731
    L = [f"## Issue 15 checks ({mr['model']}, same run)\n", "| check | result | figures |", "|---|---|---|"]
    for c in ("MLP", "all"):
        g = mr["classes"].get(c, {}).get("gbps")
        if not g:
            continue
        o, z = g["ours"], g["zipnn"]
        if c == "MLP":
            L.append(f"| encode >= 1.5 GB/s on one core ({c}) | {yes(o['enc1'] >= 1.5)} | {o['enc1']:.3f} GB/s |")
            L.append(f"| encode with {N} threads >= 1.8x one ({c}) | {yes(o['encN'] >= 1.8 * o['enc1'])} | "
                     f"{o['encN']:.3f} vs {o['enc1']:.3f} GB/s: {o['encN'] / o['enc1']:.2f}x |")
        L.append(f"| decode >= 2x ZipNN, one thread ({c}) | {yes(o['dec1'] >= 2 * z['dec1'])} | "
                 f"{o['dec1']:.3f} vs {z['dec1']:.3f} GB/s: {o['dec1'] / z['dec1']:.2f}x |")
        L.append(f"| decode >= 1.8x ZipNN, {N} threads ({c}) | {yes(o['decN'] >= 1.8 * z['decN'])} | "
                 f"{o['decN']:.3f} vs {z['decN']:.3f} GB/s: {o['decN'] / z['decN']:.2f}x |")
    for r in (res.get("files") or {}).get("files", []):
        want = 1.5 if r["name"] == "many small tensors" else 2.0
        ud, zd = r["runs"]["unweight decompress"][0], r["runs"]["zstd -d"][0]
        L.append(f"| `unweight decompress` >= {want}x faster than `zstd -d` ({r['name']}) | {yes(zd >= want * ud)} | "
                 f"{ud:.3f} vs {zd:.3f} s: {zd / ud:.2f}x |")
    L.append("")
    return L


SIZE_COLS = [("bound", "order-0 bound"), ("ours", "ours Huffman"), ("palette", "ours palette IR"),
             ("zstd3", "zstd -3"), ("zstd19", "zstd -19 (sample)"), ("zipnn", "ZipNN")]
CODECS = [("ours", "unweight (Huffman)"), ("zstd3", "zstd -3"), ("zstd19", "zstd -19 (sample)"),
          ("zipnn", "ZipNN")]


def report_md(res, a, started, elapsed):
    N = a.threads
    m = res["machine"]
    L = []
    L.append(f"# unweight vs zstd vs ZipNN on real weights ({started})\n")
    L.append(f"- Machine: `{m['cpu']}`, {m['cores']} cores, {m['memory']}, {m['os']}; "
             f"host `{m['host']}`.")
    L.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".")
    L.append(f"- Settings: {a.repeat} interleaved rounds (every codec once per round), best round "
             f"kept per tensor (zstd -19 encodes once); "
             f"\"1t\" = 1 thread, \"{N}t\" = {N} threads; GB/s = 1e9 bytes of BF16 per second "
             f"(encode: input bytes, decode: output bytes). Whole run: {elapsed:.0f} s.")
    L.append(f"- Command: `{res['command']}`\n")
    L.append("Sizes are bits per weight (16 = uncompressed BF16). \"ours Huffman\" counts each "
             "tensor's whole blob (header, code tables, tile/lane index, padding); \"file\" adds "
             "every byte of the container (safetensors JSON with the original header embedded). "
             "zstd -19 runs on a sample of each class (listed in the JSON); *ours/zstd-19* "
             "compares with our size on the very same sample bytes. Ratios ours/baseline < 1: we "
             "are smaller. Speed ratios: ours ÷ baseline, > 1: we are faster. \"ours file\" for MLP comes from "
             "`unweight compress --select mlp` (only MLP tensors compressed): its container "
             "header still lists every tensor, so it is slightly pessimistic. zstd -19 speeds are "
             "on the sample.\n")
    L.extend(checks15(res, N))
    L.extend(headline(res["models"][0], N))
    for mr in res["models"]:
        L.append(f"## {mr['model']}\n")
        L.append(f"`{mr['path']}`; load average (1 min) at the start of each round and at "
                 f"the end: {', '.join(f'{x:.2f}' for x in mr['load_average_per_round'])} "
                 f"on {res['machine']['cores']} cores.\n")
        L.append("### Size (bits/weight)\n")
        L.append("| class | tensors | MB | " + " | ".join(h for _, h in SIZE_COLS) +
                 " | ours file (all metadata) | ours - bound | ours/zstd-3 | ours/zstd-19 | ours/ZipNN |")
        L.append("|---|---:|---:|" + "---:|" * (len(SIZE_COLS) + 5))
        for c in CLASSES:
            k = mr["classes"].get(c)
            if not k:
                continue
            b = k["bits"]
            gap = None if b["ours"] is None or b["bound"] is None else b["ours"] - b["bound"]
            L.append(f"| {c} | {k['tensors']} | {k['orig_bytes'] / 1e6:.1f} | " +
                     " | ".join(f2(b[key]) for key, _ in SIZE_COLS) +
                     f" | {f2(b.get('ours_file'))} | {'-' if gap is None else f'{gap:+.3f}'}"
                     f" | {ratio(b['ours'], b['zstd3'])} | "
                     f"{ratio(b['ours_on_zstd19_sample'], b['zstd19'])} | {ratio(b['ours'], b['zipnn'])} |")
        L.append("")
        L.append("zstd -19 sample: " + "; ".join(
            f"{c} {mr['classes'][c]['zstd19_sample_tensors']} tensors, "
            f"{mr['classes'][c]['zstd19_sample_bytes'] / 1e6:.1f} MB (ours on it "
            f"{f2(mr['classes'][c]['bits']['ours_on_zstd19_sample'])})"
            for c in CLASSES if c in mr["classes"] and c != "all") + ".\n")
        L.append("### Speed (GB/s)\n")
        L.append(f"| class | codec | enc 1t | enc {N}t | dec 1t | dec {N}t | ours dec 1t ÷ this | "
                 f"ours dec {N}t ÷ this |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for c in CLASSES:
            k = mr["classes"].get(c)
            if not k:
                continue
            g = k["gbps"]
            for key, label in CODECS:
                s = g.get(key)
                if not s:
                    continue
                L.append(f"| {c} | {label} | {fs(s['enc1'])} | {fs(s['encN'])} | {fs(s['dec1'])} | "
                         f"{fs(s['decN'])} | {'-' if key == 'ours' else speedup(g['ours']['dec1'], s['dec1'])} | "
                         f"{'-' if key == 'ours' else speedup(g['ours']['decN'], s['decN'])} |")
            L.append(f"| {c} | memcpy | | | {f2(g['memcpy']['copy'], 2)} | | | |")
        L.append("")
        if mr["failures"]:
            L.append("**Failures:** " + "; ".join(mr["failures"]) + "\n")
    if res.get("e2e"):
        e = res["e2e"]
        L.append("## End-to-end check (bench/e2e-real.sh)\n")
        L.append(f"`{e['model']}` ({e['original_bytes']} bytes): **{'PASS' if e['ok'] else 'FAIL'}**\n")
        L.append("| codec | compressed bytes | verify | decompress = original | peak RSS compress | "
                 "peak RSS decompress | compress s | decompress s |")
        L.append("|---|---:|---|---|---:|---:|---:|---:|")
        for r in e["runs"]:
            L.append(f"| {r['codec']} | {r['compressed_bytes']} | {r['verify']} | "
                     f"{'byte-identical' if r['roundtrip_identical'] else 'DIFFERS'} | "
                     f"{r['compress_peak_rss_kb'] / 1024:.0f} MiB | {r['decompress_peak_rss_kb'] / 1024:.0f} MiB | "
                     f"{r['compress_wall_s']} | {r['decompress_wall_s']} |")
        L.append("")
    L.extend(files_md(res.get("files")))
    if res.get("missing"):
        L.append("**Baselines not available:** " + ", ".join(res["missing"]) + "\n")
    return "\n".join(L)


def files_md(fr):
    """Whole processes, file to file (bench/file_bench.py)."""
    if not fr:
        return []
    L = ["## Whole process, file to file\n",
         f"Each run a fresh process (`unweight`, the `zstd` CLI, ZipNN through `bench/zipnn_file.py`), "
         f"best of {fr['repeat']}, {fr['threads']} threads where a tool takes a thread count; the output "
         f"is removed before each run; every decompressed file equals the original (cmp). GB/s: "
         f"original bytes per second. Load average (1 min) during the runs: "
         f"{', '.join(f'{x:.2f}' for x in fr['load_average'])}."
         + (f" \"many small tensors\": {fr['small_file']}." if fr.get("small_file") else "") + "\n"]
    for r in fr["files"]:
        mb = r["bytes"] / 1e6
        L.append(f"### {r['name']} ({mb:.1f} MB; unweight {r['unweight_bytes'] / 1e6:.1f} MB, zstd -3 "
                 f"{r['zstd_bytes'] / 1e6:.1f} MB" + (f", ZipNN {r['zipnn_bytes'] / 1e6:.1f} MB" if r.get("zipnn_bytes") else "")
                 + ")\n")
        zd = r["runs"]["zstd -d"][0]
        L.append("| run | seconds | GB/s | zstd -d time ÷ this |")
        L.append("|---|---:|---:|---:|")
        for k, v in r["runs"].items():
            t = v[0]
            L.append(f"| {k} | {t:.3f} | {r['bytes'] / t / 1e9:.2f} | "
                     f"{f'{zd / t:.2f}x' if 'decompress' in k or k == 'zstd -d' else ''} |")
        L.append("")
    return L


def chart(res, path, a):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = res["models"]
    fig, axes = plt.subplots(len(models), 2, figsize=(15, 4.6 * len(models)), squeeze=False)
    colors = {"bound": "#444444", "ours": "#1f77b4", "palette": "#9ecae1", "zstd3": "#ff7f0e",
              "zstd19": "#d62728", "zipnn": "#2ca02c", "memcpy": "#bbbbbb"}
    for i, mr in enumerate(models):
        ax = axes[i][0]
        cls = [c for c in CLASSES if c in mr["classes"] and c != "other"]
        w = 0.8 / len(SIZE_COLS)
        for j, (key, label) in enumerate(SIZE_COLS):
            vals = [mr["classes"][c]["bits"][key] or 0 for c in cls]
            xs = [x + (j - len(SIZE_COLS) / 2 + 0.5) * w for x in range(len(cls))]
            ax.bar(xs, vals, w, label=label, color=colors[key])
            for x, v in zip(xs, vals):
                if v:
                    ax.text(x, v + 0.05, f"{v:.2f}", ha="center", va="bottom", fontsize=6.5,
                            rotation=90)
        ax.set_xticks(range(len(cls)))
        ax.set_xticklabels(cls)
        ax.set_ylim(9.5, 16.8)
        ax.axhline(16, color="#999999", lw=0.8, ls=":")
        ax.set_ylabel("bits / weight (lower is better)")
        ax.set_title(f"{mr['model']}: size by tensor class (16 = raw BF16)")
        ax.legend(fontsize=7, ncol=3, loc="upper left")
        ax = axes[i][1]
        hl = "MLP" if "MLP" in mr["classes"] else "all"
        g = mr["classes"][hl]["gbps"]
        metrics = [("enc1", "encode 1t"), ("encN", f"encode {a.threads}t"), ("dec1", "decode 1t"),
                   ("decN", f"decode {a.threads}t")]
        codecs = [k for k, _ in CODECS if g.get(k)]
        w = 0.8 / (len(codecs) + 1)
        for j, key in enumerate(codecs + ["memcpy"]):
            if key == "memcpy":
                vals = [0, 0, g["memcpy"]["copy"], 0]
                label = "memcpy"
            else:
                vals = [g[key][m] or 0 for m, _ in metrics]
                label = dict(CODECS)[key]
            xs = [x + (j - len(codecs) / 2) * w for x in range(len(metrics))]
            ax.bar(xs, vals, w, label=label, color=colors[key])
            for x, v in zip(xs, vals):
                if v:
                    ax.text(x, v * 1.08, f"{v:.3g}", ha="center", va="bottom", fontsize=6.5,
                            rotation=90)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 300)
        ax.set_xticks(range(len(metrics)))
        ax.set_xticklabels([l for _, l in metrics])
        ax.set_ylabel("GB/s of BF16 (log, higher is better)")
        ax.set_title(f"{mr['model']}: speed on {hl} tensors")
        ax.legend(fontsize=7, ncol=3, loc="upper left")
    fig.suptitle(f"unweight vs zstd vs ZipNN, {res['started']}, {res['machine']['cpu']} "
                 f"({res['machine']['cores']} cores)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_outputs(res, a, started, elapsed):
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    md = report_md(res, a, started, elapsed)
    try:
        chart(res, a.out + ".png", a)
        md += f"\n![chart]({os.path.basename(a.out)}.png)\n"
    except Exception as e:  # noqa: BLE001
        md += f"\n(chart not drawn: {e})\n"
        log(f"chart failed: {e}")
    with open(a.out + ".md", "w") as f:
        f.write(md)
    print(md)


