#!/usr/bin/env python3
"""bench/compare.py - unweight vs zstd vs ZipNN on the same real tensors, in one run.

Called by bench/run.sh (which fetches the weights and installs the baselines); can be run
alone:

  python3 bench/compare.py --unweight build/unweight \\
      --model embeddinggemma-300m=~/.cache/unweight/models/embeddinggemma-300m/model.safetensors \\
      --out bench/results/DATE-HOST [--repeat 3] [--threads N] [--e2e e2e.json]

What is measured, per model, on exactly the tensors that `unweight compress` compresses
(BF16, 2+ dimensions, 4096+ elements; the same bytes for every codec):
  order-0 bound   8 + H(exponent), from `unweight info --json`
  ours Huffman    `unweight compress` + `info --json`: blob bytes (blob header, code tables,
                  tile/lane index, padding included); whole-file figure with every byte of
                  the container metadata for "all" and (from `--select mlp`) "MLP"
  ours palette IR `unweight compress --codec palette` + `info --json`
  ours speed      `unweight bench FILE --json` (best of R per tensor, 1 thread and N threads)
  zstd -3         libzstd through python-zstandard, one frame per tensor on the raw BF16
                  bytes; 1 thread; "N threads" = N tensors at a time (libzstd has no
                  multi-threaded decoder; a class made of one tensor gains nothing)
  zstd -19        same, on a sample of each class (zstd -19 encodes at ~2 MB/s); our size on
                  the very same sample bytes is measured too and the ratio uses it
  ZipNN           `zipnn.ZipNN(input_format="byte", bytearray_dtype="bfloat16", threads=T)`,
                  T = 1 and N, one call per tensor
  memcpy          from `unweight bench` (same run)
Every baseline's output is decompressed and compared with the input (not timed).
Writes STEM.md (tables), STEM.json (all figures, per tensor too), STEM.png (chart).
"""
import argparse
import concurrent.futures as cf
import datetime
import json
import os
import platform
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

from report import write_outputs

warnings.filterwarnings("ignore", category=FutureWarning)  # torch, imported by zipnn

CLASSES = ["MLP", "attention", "embeddings", "other", "all"]
MLP_RE = re.compile(r"(gate_proj|up_proj|down_proj|\bfc1\b|\bfc2\b|\.w[123]\.|mlp|ffn|"
                    r"feed_forward|experts|intermediate\.dense|(^|\.)output\.dense)")
ATTN_RE = re.compile(r"(q_proj|k_proj|v_proj|o_proj|qkv|self_attn|attention|\battn\b|"
                     r"\.query\.|\.key\.|\.value\.)")
EMB_RE = re.compile(r"(embed_tokens|lm_head|word_embeddings|position_embeddings|"
                    r"token_type_embeddings|\\bwte\\b|\\bwpe\\b|(^|\.)embeddings\.)")


def classify(name):
    """MLP / attention / embeddings / other, by tensor name."""
    if EMB_RE.search(name):
        return "embeddings"
    if "attention" in name or ATTN_RE.search(name):
        return "attention"  # BERT's attention.output.dense is attention, not MLP
    if MLP_RE.search(name):
        return "MLP"
    return "other"


def log(msg):
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log(" ".join(map(str, cmd)))
    return subprocess.run(list(map(str, cmd)), check=True, stdout=subprocess.PIPE,
                          text=True, **kw).stdout


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        hdr = json.loads(f.read(n))
    hdr.pop("__metadata__", None)
    return hdr, 8 + n


def write_safetensors(path, tensors):
    """tensors: list of (name, shape, uint16 array) -> plain BF16 safetensors file."""
    hdr, off = {}, 0
    for name, shape, a in tensors:
        hdr[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    js = json.dumps(hdr, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        for _, _, a in tensors:
            f.write(a.tobytes())


# ---------------------------------------------------------------- baselines

class Zstd:
    def __init__(self, level):
        import zstandard
        self.zstd = zstandard
        self.level = level
        self.tl = threading.local()

    def _c(self):
        if not hasattr(self.tl, "c"):
            self.tl.c = self.zstd.ZstdCompressor(level=self.level)
            self.tl.d = self.zstd.ZstdDecompressor()
        return self.tl.c, self.tl.d

    def compress(self, b):
        return self._c()[0].compress(b)

    def decompress(self, c, size):
        return self._c()[1].decompress(c, max_output_size=size)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def zstd_pool(z, items, threads, fn):
    """N tensors at a time on `threads` threads; items: list of (data, compressed)."""
    with cf.ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda _: z._c(), range(threads * 4)))  # warm the thread-local contexts
        if fn == "enc":
            t, _ = timed(lambda: list(ex.map(lambda it: z.compress(it[0]), items)))
        else:
            t, _ = timed(lambda: list(ex.map(lambda it: z.decompress(it[1], len(it[0])), items)))
    return t


def zipnn_once(threads, data):
    """One ZipNN compress + decompress of `data`; returns (bytes, enc_s, dec_s, ok)."""
    import zipnn
    z = zipnn.ZipNN(input_format="byte", bytearray_dtype="bfloat16", threads=threads)
    # ZipNN.compress reorders the bits of its input buffer in place (it does so even to an
    # immutable bytes object), so every call gets a fresh copy, made outside the timer.
    buf = bytearray(data)
    te, c = timed(lambda: z.compress(buf))
    td, d = timed(lambda: z.decompress(c))
    return len(c), te, td, bytes(d) == data


def tmin(d, key, v):
    d[key] = min(d.get(key, float("inf")), v)


# ---------------------------------------------------------------- aggregation

def agg_size(rows, key):
    numel = sum(r["numel"] for r in rows)
    b = sum(r[key] for r in rows if r.get(key) is not None)
    return 8.0 * b / numel if numel and all(r.get(key) is not None for r in rows) else None


def agg_speed(rows, key):
    if not rows or any(r.get(key) is None for r in rows):
        return None
    return sum(r["orig_bytes"] for r in rows) / sum(r[key] for r in rows) / 1e9


def zstd19_sample(cls_rows, budget):
    """The zstd -19 sample of one class, at most `budget` bytes: the whole class if it fits;
    else whole layers evenly spaced through the depth (all of the class's tensors in them);
    else whole tensors evenly spaced; a class whose tensors are each larger than the budget
    gets 32 evenly spaced row blocks of its largest tensor. Returns [(row, rows or None)]."""
    rows = sorted(cls_rows, key=lambda r: r["name"])
    total = sum(r["orig_bytes"] for r in rows)
    if total <= budget:
        return [(r, None) for r in rows]
    layers = {}
    for r in rows:
        m = re.search(r"(?:^|\.)(\d+)\.", r["name"])
        layers.setdefault(int(m.group(1)) if m else None, []).append(r)
    if None not in layers and len(layers) >= 2:
        # whole layers (every tensor of the class in them), evenly spaced through the depth
        keys = sorted(layers)
        lb = [sum(r["orig_bytes"] for r in layers[k]) for k in keys]
        k = max(1, int(budget // (sum(lb) / len(lb))))
        out, used = [], 0
        for i in np.unique(np.linspace(0, len(keys) - 1, num=min(k, len(keys))).round().astype(int)):
            if out and used + lb[i] > budget:
                continue
            out += [(r, None) for r in layers[keys[i]]]
            used += lb[i]
        return out
    small = [r for r in rows if r["orig_bytes"] <= budget // 2]
    if len(small) >= 2:
        k = max(1, int(budget // (sum(r["orig_bytes"] for r in small) / len(small))))
        idx = np.unique(np.linspace(0, len(small) - 1, num=min(k, len(small))).round().astype(int))
        out, used = [], 0
        for i in idx:
            if used + small[i]["orig_bytes"] <= budget:
                out.append((small[i], None))
                used += small[i]["orig_bytes"]
        return out
    big = max(rows, key=lambda r: r["orig_bytes"])
    nrows = big["shape"][0]
    row_bytes = big["orig_bytes"] // nrows
    want = max(1, budget // row_bytes)
    blocks = 32
    per = max(1, want // blocks)
    starts = np.linspace(0, nrows - per, num=blocks).astype(int)
    sel = np.unique(np.concatenate([np.arange(s, s + per) for s in starts]))
    return [(big, sel)]


# ---------------------------------------------------------------- per model

def bench_model(name, path, a, tmp):
    log(f"== {name}: {path}")
    uw = a.unweight
    os.makedirs(tmp, exist_ok=True)
    hdr, base = read_header(path)
    files = {}
    for tag, extra in (("huffman", []), ("palette", ["--codec", "palette"]),
                       ("mlp", ["--select", "mlp"])):
        out = os.path.join(tmp, f"{tag}.safetensors")
        run([uw, "compress", path, out, "--force", "--threads", a.threads] + extra)
        files[tag] = json.loads(run([uw, "info", out, "--json"]))
        if tag != "huffman":
            os.unlink(out)
    pal = {t["name"]: t for t in files["palette"]["tensors"]}
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    rows = []
    for t in files["huffman"]["tensors"]:
        if t["codec"] == "raw":
            continue
        n = t["name"]
        s, e = hdr[n]["data_offsets"]
        assert e - s == t["orig_bytes"]
        rows.append({
            "name": n, "class": classify(n), "shape": t["shape"], "numel": t["numel"],
            "orig_bytes": t["orig_bytes"], "offset": base + s,
            "bound_bytes": t["bound_bits_per_weight"] * t["numel"] / 8,
            "ours_bytes": t["stored_bytes"], "palette_bytes": pal[n]["stored_bytes"],
        })
    byname = {r["name"]: r for r in rows}
    log(f"{name}: {len(rows)} compressed tensors, "
        f"{sum(r['orig_bytes'] for r in rows) / 1e6:.1f} MB")
    data = {r["name"]: bytes(mm[r["offset"]:r["offset"] + r["orig_bytes"]]) for r in rows}
    classes = {c: [r for r in rows if c == "all" or r["class"] == c] for c in CLASSES}
    failures = []

    # zstd -19 sample (zstd -19 encodes at ~2 MB/s); ours is measured on the same bytes
    sample_tensors, sample_meta = [], []
    for c in ["MLP", "attention", "embeddings", "other"]:
        if not classes[c]:
            continue
        budget = int(a.zstd19_mib * (1 << 20) * (1.0 if c == "MLP" else 0.5))
        for r, sel in zstd19_sample(classes[c], budget):
            arr = np.frombuffer(data[r["name"]], dtype="<u2").reshape(r["shape"][0], -1)
            if sel is None:
                sname, shape, sub = r["name"], r["shape"], arr
            else:
                sname = r["name"] + ".rowsample"
                sub = np.ascontiguousarray(arr[sel])
                shape = [len(sel)] + list(r["shape"][1:])
            sample_tensors.append((sname, shape, np.ascontiguousarray(sub).reshape(-1)))
            sample_meta.append({"name": sname, "source": r["name"], "class": c,
                                "rows": None if sel is None else
                                f"{len(sel)} of {r['shape'][0]} rows in 32 evenly spaced blocks",
                                "numel": int(sub.size), "orig_bytes": int(sub.nbytes)})
    spath = os.path.join(tmp, "zstd19-sample.safetensors")
    write_safetensors(spath, sample_tensors)
    suw = os.path.join(tmp, "zstd19-sample.uw.safetensors")
    run([uw, "compress", spath, suw, "--force", "--threads", a.threads])
    sinfo = {t["name"]: t for t in json.loads(run([uw, "info", suw, "--json"]))["tensors"]}
    os.unlink(suw)
    os.unlink(spath)
    sdata = {n: arr.tobytes() for n, _, arr in sample_tensors}
    for m in sample_meta:
        m.update(ours_bytes=sinfo[m["name"]]["stored_bytes"], ours_codec=sinfo[m["name"]]["codec"])

    # Measurements run in R interleaved rounds (every codec once per round, best of R kept),
    # so that load from other processes on a shared machine hits every codec alike.
    z3, z19 = Zstd(3), Zstd(19)
    comp3, comp19, pool = {}, {}, {}
    loads = []
    huf = os.path.join(tmp, "huffman.safetensors")
    for rnd in range(a.repeat):
        loads.append(os.getloadavg()[0])
        log(f"{name}: round {rnd + 1}/{a.repeat} (load average {loads[-1]:.2f})")
        bench = json.loads(run([uw, "bench", huf, "--backend", "cpu", "--json", "--repeat", 1,
                                "--threads", a.threads]))
        cpu = next(b for b in bench["backends"] if b["name"] == "cpu")
        for t in cpu["tensors"]:
            r = byname[t["name"]]
            for k_uw, k in (("encode_1t_s", "ours_enc1_s"), ("encode_nt_s", "ours_encN_s"),
                            ("decode_1t_s", "ours_dec1_s"), ("decode_nt_s", "ours_decN_s"),
                            ("memcpy_s", "memcpy_s")):
                tmin(r, k, t[k_uw])
        for r in rows:
            d = data[r["name"]]
            te, c = timed(lambda: z3.compress(d))
            td, dd = timed(lambda: z3.decompress(c, len(d)))
            tmin(r, "zstd3_enc1_s", te)
            tmin(r, "zstd3_dec1_s", td)
            if rnd == 0:
                comp3[r["name"]] = c
                r["zstd3_bytes"] = len(c)
                if dd != d:
                    failures.append(f"zstd -3 round trip differs on {r['name']}")
            for th, tag in ((1, "1"), (a.threads, "N")):
                nb, te, td, ok = zipnn_once(th, d)
                r["zipnn_bytes"] = nb
                tmin(r, f"zipnn_enc{tag}_s", te)
                tmin(r, f"zipnn_dec{tag}_s", td)
                if not ok:
                    failures.append(f"ZipNN threads={th} round trip differs on {r['name']}")
        for c, cr in classes.items():
            if cr:
                items = [(data[r["name"]], comp3[r["name"]]) for r in cr]
                tmin(pool, f"zstd3_enc_{c}", zstd_pool(z3, items, a.threads, "enc"))
                tmin(pool, f"zstd3_dec_{c}", zstd_pool(z3, items, a.threads, "dec"))
        for m in sample_meta:
            d = sdata[m["name"]]
            if rnd == 0:
                te, c = timed(lambda: z19.compress(d))
                comp19[m["name"]] = c
                m.update(zstd19_bytes=len(c), zstd19_enc1_s=te)
                log(f"{name}: zstd -19 {m['name']} {len(d) / 1e6:.2f} MB in {te:.1f} s")
            td, dd = timed(lambda: z19.decompress(comp19[m["name"]], len(d)))
            tmin(m, "zstd19_dec1_s", td)
            if rnd == 0 and dd != d:
                failures.append(f"zstd -19 round trip differs on {m['name']}")
        for c in CLASSES:
            sm = [m for m in sample_meta if c == "all" or m["class"] == c]
            if sm:
                items = [(sdata[m["name"]], comp19[m["name"]]) for m in sm]
                if rnd == 0:
                    pool[f"zstd19_enc_{c}"] = zstd_pool(z19, items, a.threads, "enc")
                tmin(pool, f"zstd19_dec_{c}", zstd_pool(z19, items, a.threads, "dec"))
    loads.append(os.getloadavg()[0])
    os.unlink(huf)
    out = {"model": name, "path": path, "tensors": rows, "classes": {}, "failures": failures,
           "load_average_per_round": loads, "zstd19_sample": sample_meta,
           "file_bits_all": files["huffman"]["totals"]["file_bits_per_weight"],
           "file_bits_mlp": files["mlp"]["totals"]["file_bits_per_weight"]
           if files["mlp"]["totals"].get("compressed_tensors") else None,
           "totals": {k: files[k]["totals"] for k in files}}
    pool3 = {c: (pool[f"zstd3_enc_{c}"], pool[f"zstd3_dec_{c}"]) for c in CLASSES if classes[c]}
    pool19 = {c: (pool[f"zstd19_enc_{c}"], pool[f"zstd19_dec_{c}"]) for c in CLASSES
              if f"zstd19_enc_{c}" in pool}

    for c, cr in classes.items():
        if not cr:
            continue
        sm = [m for m in sample_meta if c == "all" or m["class"] == c]
        ob = sum(r["orig_bytes"] for r in cr)
        sb = sum(m["orig_bytes"] for m in sm)
        k = {
            "tensors": len(cr), "numel": sum(r["numel"] for r in cr), "orig_bytes": ob,
            "bits": {
                "bound": agg_size(cr, "bound_bytes"),
                "ours": agg_size(cr, "ours_bytes"),
                "palette": agg_size(cr, "palette_bytes"),
                "zstd3": agg_size(cr, "zstd3_bytes"),
                "zipnn": agg_size(cr, "zipnn_bytes"),
                "zstd19": agg_size(sm, "zstd19_bytes"),
                "ours_on_zstd19_sample": agg_size(sm, "ours_bytes"),
            },
            "zstd19_sample_bytes": sb, "zstd19_sample_tensors": len(sm),
            "gbps": {
                "ours": {"enc1": agg_speed(cr, "ours_enc1_s"), "encN": agg_speed(cr, "ours_encN_s"),
                         "dec1": agg_speed(cr, "ours_dec1_s"), "decN": agg_speed(cr, "ours_decN_s")},
                "zstd3": {"enc1": agg_speed(cr, "zstd3_enc1_s"), "encN": ob / pool3[c][0] / 1e9,
                          "dec1": agg_speed(cr, "zstd3_dec1_s"), "decN": ob / pool3[c][1] / 1e9},
                "zstd19": {"enc1": agg_speed(sm, "zstd19_enc1_s"), "encN": sb / pool19[c][0] / 1e9,
                           "dec1": agg_speed(sm, "zstd19_dec1_s"), "decN": sb / pool19[c][1] / 1e9}
                if sm else None,
                "zipnn": {"enc1": agg_speed(cr, "zipnn_enc1_s"), "encN": agg_speed(cr, "zipnn_encN_s"),
                          "dec1": agg_speed(cr, "zipnn_dec1_s"), "decN": agg_speed(cr, "zipnn_decN_s")},
                "memcpy": {"copy": agg_speed(cr, "memcpy_s")},
            },
        }
        if c == "all":
            k["bits"]["ours_file"] = out["file_bits_all"]
        if c == "MLP":
            k["bits"]["ours_file"] = out["file_bits_mlp"]
        out["classes"][c] = k
    for r in rows:
        r.pop("offset")
    del mm
    return out


# ---------------------------------------------------------------- machine

def cli_source(uw):
    """Where the CLI was built from: the CMake source dir of its build folder, with git HEAD."""
    src = None
    try:
        for line in open(os.path.join(os.path.dirname(os.path.abspath(uw)), "CMakeCache.txt")):
            if line.startswith("CMAKE_HOME_DIRECTORY:"):
                src = line.split("=", 1)[1].strip()
    except OSError:
        return "unknown (no CMakeCache.txt beside the CLI)"
    if not src:
        return "unknown"
    g = lambda *c: subprocess.run(["git", "-C", src] + list(c), stdout=subprocess.PIPE,  # noqa: E731
                                  stderr=subprocess.DEVNULL, text=True)
    head = g("rev-parse", "--short", "HEAD")
    if head.returncode != 0 or g("rev-parse", "--show-toplevel").stdout.strip() != os.path.realpath(src):
        return f"{src} (not a git checkout)"
    dirty = g("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return f"{src} at git {head.stdout.strip()}" + (" with uncommitted changes" if dirty else "")


def machine_info(a):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1048576:.0f} GiB"
    except OSError:
        pass
    osr = "?"
    try:
        osr = dict(l.rstrip().split("=", 1) for l in open("/etc/os-release") if "=" in l
                   ).get("PRETTY_NAME", "?").strip('"')
    except OSError:
        pass
    vers = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("zstandard", "zipnn", "matplotlib"):
        try:
            from importlib.metadata import version
            vers[mod] = version(mod)
        except Exception:
            vers[mod] = "?"
    try:
        import zstandard
        vers["libzstd (in python-zstandard)"] = ".".join(map(str, zstandard.ZSTD_VERSION))
    except Exception:
        pass
    try:
        vers["unweight"] = run([a.unweight, "--version"]).strip().removeprefix("unweight ")
    except Exception:
        pass
    vers["unweight source"] = cli_source(a.unweight)
    try:
        cc = subprocess.run(["cc", "--version"], stdout=subprocess.PIPE, text=True).stdout
        vers["compiler"] = cc.splitlines()[0].removeprefix("cc ")
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": osr,
            "host": socket.gethostname(), "versions": vers}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unweight")
    ap.add_argument("--model", action="append", help="NAME=PATH")
    ap.add_argument("--render", metavar="JSON",
                    help="only redraw STEM.md/.png from a JSON written by an earlier run")
    ap.add_argument("--out", required=True, help="output stem: writes STEM.md/.json/.png")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--zstd19-mib", type=float, default=32,
                    help="zstd -19 sample per class: MLP gets this many MiB, others half")
    ap.add_argument("--e2e", help="JSON written by bench/e2e-real.sh --json")
    ap.add_argument("--files", help="JSON written by bench/file_bench.py (whole-process times)")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--command", default=None, help="command line to record")
    a = ap.parse_args()
    if a.render:
        res = json.load(open(a.render))
        a.repeat, a.threads = res["settings"]["repeat"], res["settings"]["threads"]
        write_outputs(res, a, res["started"], res["elapsed_s"])
        return
    if not a.unweight or not a.model:
        ap.error("--unweight and --model are required (or --render)")
    missing = []
    for mod, label in (("zstandard", "zstd (python-zstandard)"), ("zipnn", "ZipNN")):
        try:
            __import__(mod)
        except Exception as e:  # noqa: BLE001
            missing.append(f"{label}: {e}")
    if missing:
        sys.exit("[compare] baselines missing: " + "; ".join(missing))
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.time()
    tmp = a.tmp or os.path.join(os.path.dirname(a.out) or ".", ".tmp-compare")
    res = {"started": started, "machine": machine_info(a),
           "command": a.command or " ".join(sys.argv),
           "settings": {"repeat": a.repeat, "threads": a.threads, "zstd19_mib": a.zstd19_mib},
           "models": []}
    for spec in a.model:
        name, path = spec.split("=", 1)
        res["models"].append(bench_model(name, os.path.expanduser(path), a,
                                         os.path.join(tmp, name)))
    shutil.rmtree(tmp, ignore_errors=True)
    if a.e2e:
        res["e2e"] = json.load(open(a.e2e))
    if a.files:
        res["files"] = json.load(open(a.files))
    elapsed = time.time() - t0
    res["elapsed_s"] = elapsed
    with open(a.out + ".json", "w") as f:
        json.dump(res, f, indent=1)
    write_outputs(res, a, started, elapsed)
    bad = [f for mr in res["models"] for f in mr["failures"]]
    if bad or (res.get("e2e") and not res["e2e"]["ok"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
