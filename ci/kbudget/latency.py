"""latency.py - how long one warp alone takes per loop iteration, from the register reads and
writes of its instructions (NVIDIA SASS).

A warp issues in order, at most one instruction per cycle, and an instruction waits for its
sources. Running 12 iterations of the loop body in address order (every instruction, predicated
or not, as the static count does) under those two rules gives the steady-state cycles T one warp
needs per iteration, whatever else the scheduler has to do. With W warps per scheduler each
decoding independent lanes, a scheduler completes at most W * 32 * (weights per thread-iteration)
/ T weights per cycle: the latency bound the performance model sets beside the issue bounds.

Latencies (cycles; leads, not readings): dependent integer/FP32 arithmetic 4 and IMAD.WIDE 5
(Jia et al., "Dissecting the NVIDIA Volta GPU Architecture via Microbenchmarking", 2018, and the
Turing/Ampere follow-ups: 4-6 cycles for fixed-latency pipes), shared-memory load 30 (Hopper:
Luo et al., "Benchmarking and Dissecting the Nvidia Hopper GPU Architecture", IPDPS 2024, report
~30 cycles; a generic LD that reaches shared memory is taken as 33), global load 600 (an HBM miss
under load; loops that wait on HBM are staged, not latency-bound, in every kernel here). A
guarded (predicated) load counts as an ALU instruction: in the kernels here those are refills
that run once per several iterations, so the estimate is optimistic for loops that have them.
"""
import re

LAT = {"alu": 4, "fma": 4, "uniform": 2, "ctrl": 2, "xu": 16, "tensor": 32, "other": 4}
LAT_OP = {"LDS": 30, "LDSM": 30, "LD": 33, "LDG": 600, "LDC": 8, "ULDC": 4, "SHFL": 24, "ATOMS": 40, "IMAD.WIDE": 5}

_REG = re.compile(r"\b(U?R\d+|U?P\d|UPT|PT|RZ|URZ)(\.(64|128))?\b")
_NODEST = ("ST", "STS", "STG", "STL", "RED", "BRA", "BAR", "EXIT", "BSYNC", "WARPSYNC", "YIELD", "NOP", "BSSY", "ATOMS",
           "SYNCS", "FENCE", "MEMBAR", "UBLKCP", "UTMALDG", "DEPBAR", "ELECT", "WARPGROUP", "ARRIVES", "CALL", "RET",
           "BREAK", "LDGDEPBAR", "LDGSTS")


def _width(op):
    if ".128" in op:
        return 4
    if ".64" in op or ".WIDE" in op:
        return 2
    return 1


def _expand(tok, w):
    m = re.match(r"(U?R)(\d+)$", tok)
    if m and w > 1:
        return ["%s%d" % (m.group(1), int(m.group(2)) + k) for k in range(w)]
    return [tok]


def operands(text):
    """(dests, sources) register names of one SASS instruction"""
    pred = None
    m = re.match(r"^@(!?)(U?P[T0-9]+)\s+", text)
    if m:
        pred = m.group(2)
        text = text[m.end():]
    op, _, rest = text.partition(" ")
    base = op.split(".")[0]
    parts = [p.strip() for p in rest.split(",")] if rest else []
    dests, srcs = [], []
    if pred and pred not in ("PT", "UPT"):
        srcs.append(pred)
    first_src = 0
    if base not in _NODEST and parts:
        d0 = _REG.match(parts[0])
        if d0:
            dests += _expand(d0.group(1), _width(op) if base not in ("SHF",) else 1)
            first_src = 1
            # extra leading destinations: predicates (ISETP Pu, Pv; IADD3 carries) and LOP3's Pd, Rd form
            while first_src < len(parts):
                t = parts[first_src]
                if re.fullmatch(r"U?P[T0-9]", t) and not (base.endswith("SETP") and first_src > 1):
                    dests.append(t)
                    first_src += 1
                elif first_src == 1 and re.fullmatch(r"U?P\d", parts[0]) and re.fullmatch(r"U?R(\d+|Z)", t):
                    dests.append(t)
                    first_src += 1
                else:
                    break
            if pred:
                srcs += dests  # a predicated write keeps the old value when the guard is off
    for t in parts[first_src:]:
        for mm in _REG.finditer(t):
            name = mm.group(1)
            w = 2 if (mm.group(3) == "64") else 4 if mm.group(3) == "128" else 1
            srcs += _expand(name, w)
    if base in ("ST", "STS", "STG") and ".128" in op:  # the stored vector
        srcs += _expand(parts[-1], 4) if parts else []
    elif base in ("ST", "STS", "STG") and ".64" in op:
        srcs += _expand(parts[-1], 2) if parts else []
    zero = {"RZ", "URZ", "PT", "UPT"}
    return [d for d in dests if d not in zero], [s for s in srcs if s not in zero]


def latency_of(x):
    op = x["op"]
    base = op.split(".")[0]
    if x["text"].startswith("@") and x["pipe"] == "lsu":
        return LAT["alu"]  # a guarded load (a bit-reader refill, say) is taken as mostly off
    if base == "IMAD" and ".WIDE" in op:
        return LAT_OP["IMAD.WIDE"]
    if base in LAT_OP:
        return LAT_OP[base]
    return LAT.get(x["pipe"], 4)


def recurrence(ins, idx, iterations=12):
    """cycles per iteration of the loop made of instructions idx (address order), latency only"""
    ready = {}
    starts = []
    t_prev_issue = 0
    for it in range(iterations):
        first = None
        for i in idx:
            x = ins[i]
            d, s = operands(x["text"])
            # in order, one per cycle, after its sources
            t = max([ready.get(r, 0) for r in s] + [t_prev_issue + 1])
            t_prev_issue = t
            if first is None:
                first = t
            done = t + latency_of(x)
            for r in d:
                ready[r] = done
        starts.append(first)
    k = iterations // 2
    return (starts[-1] - starts[k]) / (iterations - 1 - k)
