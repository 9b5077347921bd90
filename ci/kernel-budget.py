#!/usr/bin/env python3
"""kernel-budget.py - the GPU kernels' budgets, checked from the built binaries (no GPU).

For every kernel instance named in ci/kernel-budget.json: registers, spills (local memory),
shared memory per CTA (static + the dynamic size the host code asks for, from
`bench_cuda --kernel-info`) and the CTAs (workgroups) per SM (CU) they allow; and for each of its
inner loops, instructions per decoded weight, by pipe, counted in the machine code (NVIDIA SASS
from the CUDA build's objects, nvdisasm; AMD GCN assembly compiled here by clang for the HIP
targets). How loops are found: ci/kbudget/measure.py. Prints the table and exits 1 when an
instance exceeds its budget (the numbers docs/PERFORMANCE.md's predictions rest on).

usage: ci/kernel-budget.py [--cuda-build build-cuda] [--tools DIR] [--no-hip] [--json FILE] [--only REGEX]
Needs: nvdisasm and cuobjdump (CUDA toolkit; else --tools DIR installs NVIDIA's pip wheels
nvidia-cuda-nvdisasm and nvidia-cuda-cuobjdump there with `pip install --target`, a few seconds),
c++filt, clang++-15 with Debian's ROCm device libraries for the HIP part (ci/setup.sh).
"""
import argparse
import json
import math
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kbudget import amdgcn, measure, sass  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demangle(names):
    if not names:
        return {}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout.splitlines()
    return dict(zip(names, out))


def kernel_info(build):
    exe = os.path.join(build, "bench_cuda")
    txt = subprocess.run([exe, "--kernel-info"], capture_output=True, text=True, check=True).stdout
    info = {}
    for ln in txt.splitlines():
        m = re.match(r"kernel (\S+) (\S+) bn=(\d+) threads=(\d+) smem=(\d+)", ln)
        if m:
            info["%s %s bn=%s" % m.group(1, 2, 3)] = dict(threads=int(m.group(4)), smem=int(m.group(5)))
    return info


def load_cuda(build, objects, tmp):
    """{arch: (funcs, res, demangled->mangled)} over the budget's CUDA objects"""
    out = {}
    for obj in objects:
        # the library's object target (CMakeFiles/<target>.dir); the newest if a build folder
        # holds more than one (an older layout's objects stay behind until a clean build)
        cands = glob.glob(os.path.join(build, "CMakeFiles", "*.dir", "backends", "cuda", obj + ".o"))
        if not cands:
            raise FileNotFoundError("%s/CMakeFiles/*.dir/backends/cuda/%s.o: not built (configure with -DUW_CUDA=ON and build first)"
                                    % (build, obj))
        path = max(cands, key=os.path.getmtime)
        for arch, cubin in sass.cubins_of_object(path, os.path.join(tmp, obj)):
            funcs, res = sass.load_cubin(cubin)
            f0, r0, d0 = out.setdefault(arch, ({}, {}, {}))
            f0.update(funcs)
            r0.update(res)
            d0.update({v: k for k, v in demangle(list(funcs)).items()})
    return out


SRC_NAMES = ("bf16", "huff", "pal", "exp")


def hip_kernel_info(asm, info):
    """threads and dynamic LDS the HIP GEMV kernels declare in their code object
    (uw_gemv_kernel_info: threads, then bytes per source) into info["gemv-hip <src>"]"""
    m = re.search(r"^uw_gemv_kernel_info:\n((?:\s+\.long\s+\d+.*\n)+)", asm, re.M)
    if not m:
        return
    vals = [int(v) for v in re.findall(r"\.long\s+(\d+)", m.group(1))]
    for i, src in enumerate(SRC_NAMES):
        d = dict(threads=vals[0], smem=vals[1 + i])
        if info.setdefault("gemv-hip " + src, d) != d:
            raise ValueError("uw_gemv_kernel_info differs between AMD targets")


def load_hip(cfg, tmp, info):
    out = {}
    clang = shutil.which(cfg["clang"])
    if not clang:
        raise FileNotFoundError("%s not found (apt-get install hipcc)" % cfg["clang"])
    ma = "/usr/lib/" + subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    flags = [f.replace("{multiarch}", ma) for f in cfg["flags"]] + ["-I" + ROOT, "-I" + os.path.join(ROOT, "include")]
    for arch in cfg["archs"]:
        for src in cfg["sources"]:
            asm = amdgcn.compile_asm(clang, os.path.join(ROOT, src), arch, flags,
                                     os.path.join(tmp, "%s.%s.s" % (os.path.basename(src), arch)))
            funcs = amdgcn.parse_asm(asm)
            meta = amdgcn.parse_metadata(asm)
            hip_kernel_info(asm, info)
            f0, r0, d0 = out.setdefault(arch, ({}, {}, {}))
            f0.update(funcs)
            r0.update(meta)
            d0.update({v: k for k, v in demangle(list(funcs)).items()})
    return out


def find_symbol(dem, pattern):
    hits = [m for d, m in dem.items() if re.search(pattern, d)]
    if len(hits) != 1:
        raise ValueError("symbol /%s/ matches %d functions" % (pattern, len(hits)))
    return hits[0]


def check_kernel(k, hw, funcs, res, dem, info):
    """(row dict, [failures])"""
    fails = []
    mangled = find_symbol(dem, k["symbol"])
    ins = funcs[mangled]
    r = res.get(mangled, {})
    ki = info.get(k.get("info"))
    if ki is None:
        raise ValueError("no kernel info for '%s' (bench_cuda --kernel-info; HIP GEMV: uw_gemv_kernel_info)" % k.get("info"))
    row = dict(name=k["name"], arch=k["arch"], threads=ki["threads"], loops=[])
    if k["vendor"] == "cuda":
        smem = ki["smem"] + r.get("shared", 0)
        row.update(regs=r.get("reg", 0), local=r.get("local", 0) + r.get("stack", 0), smem=smem,
                   occ=measure.nv_ctas_per_sm(hw, ki["threads"], r.get("reg", 0), smem))
    else:
        smem = ki["smem"] + r.get("lds", 0)
        row.update(regs=r.get("vgpr", 0) + r.get("agpr", 0), local=r.get("scratch", 0), smem=smem,
                   occ=measure.amd_wgs_per_cu(hw, ki["threads"], r.get("wave", 64), r.get("vgpr", 0), r.get("agpr", 0), smem))
    for key, lim, cmp in (("regs", "max_regs", "le"), ("local", "max_local", "le"), ("smem", "max_smem", "le"),
                          ("occ", "min_ctas", "ge")):
        if lim in k:
            bad = row[key] > k[lim] if cmp == "le" else row[key] < k[lim]
            if bad:
                fails.append("%s: %s %s, budget %s %s" % (k["name"], key, row[key], "<=" if cmp == "le" else ">=", k[lim]))
    blocks, loops = measure.analyse_function(ins)
    pipes = sass.PIPES if k["vendor"] == "cuda" else amdgcn.PIPES
    for lp in k.get("loops", []):
        line = measure.find_line(os.path.join(ROOT, lp["file"]), lp["stmt"])
        recs = measure.measure_loop(ins, blocks, loops, os.path.basename(lp["file"]), line, lp["units"],
                                    "line" if k["vendor"] == "cuda" else "loop", pipes)
        if not recs:
            fails.append("%s: loop '%s' (%s:%d) not found in the machine code" % (k["name"], lp["name"], lp["file"], line))
            continue
        worst = max(recs, key=lambda x: x["ipw"])
        worst.update(name=lp["name"], copies=len(recs))
        row["loops"].append(worst)
        for key in LOOP_KEYS:
            lim = "max_" + key
            if lim in lp and worst.get(key, 0) > lp[lim] + 1e-9:
                fails.append("%s: loop '%s': %s %.3g per weight, budget %.3g" % (k["name"], lp["name"], key, worst[key], lp[lim]))
    return row, fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cuda-build", default=os.path.join(ROOT, "build-cuda"))
    ap.add_argument("--budgets", default=os.path.join(ROOT, "ci", "kernel-budget.json"))
    ap.add_argument("--no-hip", action="store_true")
    ap.add_argument("--json", help="write the measured rows here")
    ap.add_argument("--only", help="instances whose name matches")
    ap.add_argument("--tools", help="folder for NVIDIA's disassembler wheels, installed there when missing")
    ap.add_argument("--write-budgets", action="store_true",
                    help="fill every budget the file does not set yet with the measured value (+3%%, registers exact) "
                         "and write the file back; existing budgets are kept")
    a = ap.parse_args()
    with open(a.budgets) as f:
        B = json.load(f)
    if a.tools:
        sass.TOOL_DIRS.append(os.path.abspath(a.tools))
        if not (sass.tool("nvdisasm") and sass.tool("cuobjdump")):
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                            os.path.abspath(a.tools), "nvidia-cuda-nvdisasm", "nvidia-cuda-cuobjdump"], check=True)
    for t in ("nvdisasm", "cuobjdump"):
        if not sass.tool(t):
            sys.exit("kernel-budget: %s not found (give --tools DIR, or python3 -m pip install nvidia-cuda-%s)" % (t, t))
    tmp = tempfile.mkdtemp(prefix="kbudget.")
    try:
        info = kernel_info(a.cuda_build)
        code = {"cuda": load_cuda(a.cuda_build, B["cuda"]["objects"], tmp)}
        if not a.no_hip:
            code["hip"] = load_hip(B["hip"], tmp, info)
        rows, fails = [], []
        for k in B["kernels"]:
            if a.only and not re.search(a.only, k["name"]):
                continue
            if k["vendor"] not in code:
                continue
            arch = code[k["vendor"]].get(k["arch"])
            if arch is None:
                fails.append("%s: no %s code in the build" % (k["name"], k["arch"]))
                continue
            hw = B["hardware"][k["hw"]]
            try:
                row, fl = check_kernel(k, hw, arch[0], arch[1], arch[2], info)
            except (ValueError, KeyError) as e:
                fails.append("%s: %s" % (k["name"], e))
                continue
            rows.append(row)
            fails += fl
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows)
    if a.write_budgets:
        fill_budgets(B, rows)
        with open(a.budgets, "w") as f:
            json.dump(B, f, indent=1)
            f.write("\n")
        print("kernel-budget: wrote %s" % a.budgets)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    if fails:
        print("\nkernel-budget: %d budget(s) exceeded:" % len(fails))
        for x in fails:
            print("  " + x)
        return 1
    print("\nkernel-budget: %d kernel instances within their budgets" % len(rows))
    return 0


LOOP_KEYS = ("ipw", "alu", "fma", "lsu", "valu", "salu", "lds", "warp_cycles", "branches", "shared", "generic")


def fill_budgets(B, rows):
    by = {r["name"]: r for r in rows}
    for k in B["kernels"]:
        r = by.get(k["name"])
        if not r:
            continue
        for key, lim in (("regs", "max_regs"), ("local", "max_local"), ("smem", "max_smem")):
            k.setdefault(lim, r[key])
        k.setdefault("min_ctas", r["occ"])
        for lp in k.get("loops", []):
            m = next((x for x in r["loops"] if x["name"] == lp["name"]), None)
            if not m:
                continue
            for key in LOOP_KEYS:
                if key in m and ("max_" + key) not in lp:
                    v = m[key]
                    lp["max_" + key] = v if key == "branches" else (math.ceil(v * 1.03 * 100) / 100 if v else 0)


def print_table(rows):
    print("%-28s %-7s %4s %5s %5s %7s %4s" % ("kernel", "arch", "thr", "regs", "local", "smem", "occ"))
    for r in rows:
        print("%-28s %-7s %4d %5d %5d %7d %4d" % (r["name"], r["arch"], r["threads"], r["regs"], r["local"], r["smem"], r["occ"]))
        for lp in r["loops"]:
            pipes = " ".join("%s %.2f" % (p, lp[p]) for p in ("alu", "fma", "lsu", "tensor", "uniform", "ctrl", "valu", "salu", "lds",
                                                               "vmem", "mfma") if lp.get(p))
            lat = " latency %.1f cycles/weight/warp;" % lp["warp_cycles"] if "warp_cycles" in lp else ""
            print("    %-24s %6.2f instr/weight (%d instr / %g weights, %d branches, %d copies;%s shared %.2f, generic %.2f; %s)" %
                  (lp["name"], lp["ipw"], lp["instrs"], lp["weights"], lp["branches"], lp["copies"], lat, lp["shared"], lp["generic"],
                   pipes))


if __name__ == "__main__":
    sys.exit(main())
