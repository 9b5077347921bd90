"""measure.py - what the budget check counts in one kernel: its inner loops (found through the
source statement each holds), instructions per decoded weight by pipe, branches, shared-memory
accesses, and the occupancy its resources allow.

How a loop is found (robust to addresses, unrolling and inlining):
  1. the budget names a statement by a regular expression over one source file; it must match
     exactly one line there (else the check fails: an ambiguous or missing marker);
  2. every instruction carries its source line chain (NVIDIA: nvdisasm -gi, innermost line and
     each "inlined at"; AMD: the .loc line of clang's assembly); the loop is the smallest natural
     loop (cfg.py) holding an instruction of that line (it may hold smaller loops that do not:
     an out-of-line barrier wait, say); where unrolling or loop versioning made several copies,
     each copy is measured and the worst is checked;
  3. weights per trip = sum over the budget's `units` of (instructions of that kind in the loop:
     on the statement's line for NVIDIA, anywhere in the loop for AMD) x (weights one such
     instruction stands for, per thread), so an unrolled body counts its copies. Instructions per weight = the loop's static instructions (every path: for a
     branch-free body this is exactly what issues) / weights per trip.
"""
import re

from . import cfg, latency


def find_line(src_path, stmt):
    with open(src_path) as f:
        lines = f.read().splitlines()
    hits = [i + 1 for i, ln in enumerate(lines) if re.search(stmt, ln)]
    if len(hits) != 1:
        raise ValueError("%s: statement /%s/ matches %d lines (%s), need exactly one" % (src_path, stmt, len(hits), hits[:5]))
    return hits[0]


def analyse_function(ins):
    blocks = cfg.blocks_of(ins)
    dom = cfg.dominators(blocks)
    return blocks, cfg.natural_loops(blocks, dom)


def measure_loop(ins, blocks, loops, fname, line, units, scope, pipes):
    """one record per loop copy: {instrs, weights, ipw, pipe ipw, branches, shared, generic}.
    units: [(regex over the mnemonic, weights per instruction per thread)]; scope "line": only
    unit instructions of the statement's line count (NVIDIA, whose line chains include inlining),
    "loop": any in the loop (AMD, whose line table names the innermost line only, sometimes 0)"""
    key = (fname, line)
    holding = [(h, body) for h, body in loops if any(key in ins[i]["lines"] for i in cfg.loop_instructions(blocks, body))]
    smallest = [(h, body) for h, body in holding if not any(b2 < body for _, b2 in holding)]
    out = []
    for h, body in smallest:
        idx = cfg.loop_instructions(blocks, body)
        w = 0.0
        for rx, wpu in units:
            w += wpu * sum(1 for i in idx if re.match(rx, ins[i]["op"]) and (scope == "loop" or key in ins[i]["lines"]))
        if w <= 0:
            continue
        rec = dict(instrs=len(idx), weights=w, ipw=len(idx) / w,
                   branches=sum(1 for i in idx if ins[i]["branch"] in ("cond", "uncond", "cold")),
                   shared=sum(1 for i in idx if ins[i]["shared"]) / w,
                   generic=sum(1 for i in idx if re.match(r"(LD|ST)(\.|$)", ins[i]["op"])) / w)
        for p in pipes:
            rec[p] = sum(1 for i in idx if ins[i]["pipe"] == p) / w
        if "alu" in pipes:  # NVIDIA: cycles one warp alone needs per weight of each thread
            rec["warp_cycles"] = latency.recurrence(ins, idx) / w
        out.append(rec)
    return out


# ---------------------------------------------------------------- occupancy ----------------

def nv_ctas_per_sm(hw, threads, regs, smem_bytes):
    """CTAs per SM from registers (allocated per warp in units of 256, regs per thread rounded
    up to 8), shared memory (plus the 1 KB the system reserves per CTA), threads and the CTA limit
    (CUDA C++ Programming Guide, compute capabilities table; CUDA occupancy calculator rules)"""
    warps = -(-threads // 32)
    r = max(8, -(-regs // 8) * 8)
    per_warp = -(-(r * 32) // 256) * 256
    by_regs = hw["regs_per_sm"] // (per_warp * warps) if regs else hw["max_ctas_per_sm"]
    need = smem_bytes + hw["smem_reserved_per_cta"]
    by_smem = hw["smem_per_sm"] // need if need else hw["max_ctas_per_sm"]
    if smem_bytes > hw["smem_per_cta_max"]:
        by_smem = 0
    by_threads = hw["threads_per_sm"] // (warps * 32)
    return min(by_regs, by_smem, by_threads, hw["max_ctas_per_sm"])


def amd_wgs_per_cu(hw, threads, wave, vgpr, agpr, lds_bytes):
    """workgroups per CU: waves per SIMD from the unified VGPR+AGPR file (granule 8), LDS per CU,
    the wave slots per SIMD (AMD CDNA3 ISA guide; ROCm occupancy rules)"""
    waves = -(-threads // wave)
    regs = -(-(vgpr + (-(-agpr // 4) * 4 if agpr else 0)) // 8) * 8 if vgpr else 8
    per_simd = min(hw["waves_per_simd"], hw["vgprs_per_simd_lane"] // max(regs, 8))
    simds = hw["simds_per_cu"]
    # the workgroup's waves spread over the CU's SIMDs
    by_regs = (per_simd * simds) // waves
    by_lds = hw["lds_per_cu"] // lds_bytes if lds_bytes else hw["max_wgs_per_cu"]
    return min(by_regs, by_lds, hw["max_wgs_per_cu"])
