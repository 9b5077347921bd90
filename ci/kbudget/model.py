"""model.py - the performance model of docs/PERFORMANCE.md: predicted time of every pipeline on
the Llama-3.1-8B MLP shapes for H100 SXM, H200 and MI300X, from bytes moved and the counted
instructions per weight that ci/kernel-budget.json enforces.

Per kernel launch:  T = max(T_mem, T_work) + T_launch
  T_mem  = bytes / (eff * HBM bandwidth)
  T_work = waves * (work of one CTA) / (its rate), rates per scheduler (SM sub-partition; AMD: SIMD)
           bounded by issue (1 instruction/cycle), the ALU and FMA pipes (1/2 warp-instruction per
           cycle each), shared-memory wavefronts (1 per cycle per SM) and the latency of one warp
           alone per loop iteration (latency.py) times the warps the scheduler interleaves.
cuBLAS / rocBLAS: T = max(bytes / (eff * BW), FLOPs / (tc_eff * tensor peak)) + T_launch.
Every figure a formula uses is in DEVICES, FORMAT or the budget file; docs/PERFORMANCE.md cites them.
"""
import math

SHAPES = [("gate/up", 14336, 4096), ("down", 4096, 14336)]
BATCHES = [1, 4, 16, 64, 256]
PIPELINES = ["blas-bf16", "plain-bf16", "fused-huffman", "palette-direct", "exp-predecode", "palette-transcode", "decode+gemm"]

# bits per weight of the resident forms on Llama-3.1-8B-like weights (docs/PERFORMANCE.md, "Bytes")
FORMAT = dict(huff_bits=10.80, exc_rate=0.002, pal_bits=12.0 + 0.002 * 32 + 64.0 / 16384, plane_bits=8.0,
              stream_bits=10.80 - 8.0)

DEVICES = {
    # sms, clock (Hz), HBM bytes/s, streaming efficiency, tensor peak (dense BF16 FLOP/s) and the
    # fraction a large GEMM reaches, launch+ramp+tail overhead per kernel (s)
    "H100": dict(vendor="nvidia", sms=132, clk=1.83e9, bw=3.35e12, eff=0.90, tc=989e12, tc_eff=0.80, launch=1.5e-6),
    "H200": dict(vendor="nvidia", sms=132, clk=1.83e9, bw=4.80e12, eff=0.90, tc=989e12, tc_eff=0.80, launch=1.5e-6),
    "MI300X": dict(vendor="amd", sms=304, clk=2.10e9, bw=5.30e12, eff=0.80, tc=1307e12, tc_eff=0.60, launch=2.0e-6),
}


def loop(budget, kernel, name):
    """the budget of one loop: {ipw, alu, fma, lsu, valu, warp_cycles, ...} (limits as numbers)"""
    for k in budget["kernels"]:
        if k["name"] == kernel:
            for lp in k["loops"]:
                if lp["name"] == name:
                    return {key[4:]: v for key, v in lp.items() if key.startswith("max_")}
            raise KeyError("%s: no loop '%s'" % (kernel, name))
    raise KeyError("no kernel '%s' in the budgets" % kernel)


def kern(budget, kernel):
    for k in budget["kernels"]:
        if k["name"] == kernel:
            return k
    raise KeyError(kernel)


def smsp_rate(lp, warps, vendor="nvidia"):
    """weights per cycle one scheduler completes running loop lp with `warps` warps (each thread
    its own weights); NVIDIA: 32 lanes, issue 1/cycle, ALU and FMA 1/2 per cycle each; AMD: a
    SIMD16 runs one wave64 VALU instruction per 4 cycles"""
    if vendor == "amd":
        cyc = 4.0 * lp.get("valu", 0) + lp.get("salu", 0) + lp.get("lds", 0) + lp.get("vmem", 0) + lp.get("ctrl", 0)
        return 64.0 / cyc if cyc else float("inf")
    bounds = [1.0 / lp["ipw"]]
    for pipe in ("alu", "fma"):
        if lp.get(pipe):
            bounds.append(0.5 / lp[pipe])
    if lp.get("warp_cycles"):
        bounds.append(warps / lp["warp_cycles"])
    return 32.0 * min(bounds)


def blas(dev, N, rows, cols, b):
    bytes_ = 2.0 * N + 2.0 * b * cols + 4.0 * b * rows
    return max(bytes_ / (dev["eff"] * dev["bw"]), 2.0 * N * b / (dev["tc_eff"] * dev["tc"])) + dev["launch"]


def mem_time(dev, bytes_):
    return bytes_ / (dev["eff"] * dev["bw"])


# ---------------------------------------------------------------- today's kernels (design 0) --

def hopper_plan(dev, rows, cols, b):
    """uw_cu_plan for the Hopper family (cuda_matmul.cu)"""
    bn = 16 if b <= 16 else 64 if b <= 64 else 128
    bands, btiles, ktiles = math.ceil(rows / 64), math.ceil(b / bn), math.ceil(cols / 256)
    s, ctas = 1, bands * btiles
    while ctas * s < dev["sms"] and s < 16 and 4 * s <= ktiles:
        s *= 2
    kt_per = math.ceil(ktiles / s)
    return dict(bn=bn, bands=bands, btiles=btiles, ktiles=ktiles, kt_per=kt_per, nsplit=math.ceil(ktiles / kt_per))


def hopper_step_cycles(budget, src, bn):
    """cycles one decode group (2 warps, one per scheduler) spends on one 64x256 step: its lanes'
    decode (or palette fill) then the join, each latency-bound (one decode warp per scheduler);
    two groups alternate, so a CTA finishes two steps per that many cycles"""
    name = "hopper %s bn%d" % (src, bn)
    per_thread = 64 * 256 / 64  # weights per thread per step, each phase
    t = 0.0
    for lname in {"huff": ["huffman decode", "join"], "pal": ["palette fill", "join"], "exp": ["join"], "bf16": []}[src]:
        lp = loop(budget, name, lname)
        t += per_thread * 32.0 / smsp_rate(lp, 1)
    return t


def hopper_kernel(budget, dev, rows, cols, b, src, wbytes):
    pl = hopper_plan(dev, rows, cols, b)
    k = kern(budget, "hopper %s bn%d" % (src, pl["bn"]))
    occ = k.get("min_ctas", 1)
    ctas = pl["bands"] * pl["btiles"] * pl["nsplit"]
    waves = math.ceil(ctas / (dev["sms"] * occ))
    N = rows * cols
    bytes_ = wbytes * N * pl["btiles"] + 2.0 * b * cols + 4.0 * b * rows * pl["nsplit"]
    t = mem_time(dev, bytes_)
    if src != "bf16":
        step = hopper_step_cycles(budget, src, pl["bn"])
        t_cta = pl["kt_per"] * step / 2.0 / dev["clk"]
        t = max(t, waves * t_cta)
    t += dev["launch"]
    if pl["nsplit"] > 1:  # the split-k reduction kernel
        t += mem_time(dev, 4.0 * b * rows * (pl["nsplit"] + 1)) + dev["launch"]
    return t


def decode_kernel(budget, dev, N, exps):
    """uw_k_decode_huff: persistent 64-thread blocks, one lane per thread, then the store"""
    name = "decode %s sm_90a" % ("exps" if exps else "bf16")
    k = kern(budget, name)
    occ = k.get("min_ctas", 1)
    warps = occ * 2 / 4.0  # warps per scheduler
    dec = loop(budget, name, "huffman decode")
    st = loop(budget, name, "exponent store" if exps else "join")
    per_thread = 256.0  # a 64x256 tile: 64 lanes of 256, then 64 rows x 256 stored by 64 threads
    cyc = per_thread * 32.0 / smsp_rate(dec, warps) + per_thread * 32.0 / smsp_rate(st, warps)
    rate_sm = 4 * 32.0 * 256 * warps / cyc  # weights per cycle per SM
    t_work = N / (dev["sms"] * rate_sm * dev["clk"])
    bytes_ = N * (FORMAT["stream_bits"] / 8 + (1.0 if exps else 1.0 + 2.0))
    return max(mem_time(dev, bytes_), t_work) + dev["launch"]


def design0(budget, dev, pipeline, rows, cols, b):
    N = rows * cols
    hb, pb = FORMAT["huff_bits"] / 8, FORMAT["pal_bits"] / 8
    if pipeline == "blas-bf16":
        return blas(dev, N, rows, cols, b)
    if dev["vendor"] == "amd":
        return amd_design0(budget, dev, pipeline, rows, cols, b)
    if pipeline == "plain-bf16":
        return hopper_kernel(budget, dev, rows, cols, b, "bf16", 2.0)
    if pipeline == "fused-huffman":
        return hopper_kernel(budget, dev, rows, cols, b, "huff", hb)
    if pipeline == "palette-direct":
        return hopper_kernel(budget, dev, rows, cols, b, "pal", pb)
    if pipeline == "exp-predecode":
        return decode_kernel(budget, dev, N, True) + hopper_kernel(budget, dev, rows, cols, b, "exp", 2.0)
    if pipeline == "palette-transcode":
        # exponent plane + counts, nibble pass, two exception passes, the scan, then palette-direct
        passes = decode_kernel(budget, dev, N, True) + mem_time(dev, 1.5 * N) + 2 * mem_time(dev, 1.0 * N) + 4 * dev["launch"]
        return passes + hopper_kernel(budget, dev, rows, cols, b, "pal", pb)
    if pipeline == "decode+gemm":
        return decode_kernel(budget, dev, N, False) + blas(dev, N, rows, cols, b)
    raise KeyError(pipeline)


def amd_design0(budget, dev, pipeline, rows, cols, b):
    """the HIP generic kernel (64x64 tiles, 16 lanes; 128 threads = 2 waves; phases in turn:
    16 threads decode, 128 join, 128 band product on the vector ALU), one workgroup per CU"""
    N = rows * cols
    bn = 16 if b <= 16 else 64
    arch = "gfx940"
    src = {"plain-bf16": "bf16", "fused-huffman": "huff", "palette-direct": "pal", "exp-predecode": "exp",
           "palette-transcode": "pal", "decode+gemm": "bf16"}[pipeline]
    name = "hip %s bn%d %s" % (src, bn, arch)
    step = 64 * 64  # weights per k-step of a workgroup
    cyc = 0.0
    if src == "huff":
        cyc += 256 * 64.0 / smsp_rate(loop(budget, name, "huffman decode"), 1, "amd")  # one wave, 16 lanes busy
    if src == "pal":
        cyc += (step / 128) * 64.0 / smsp_rate(loop(budget, name, "palette fill"), 1, "amd")
    if src != "bf16":
        cyc += (step / 128) * 64.0 / smsp_rate(loop(budget, name, "join"), 1, "amd")
    cyc += (step / 128) * 64.0 / smsp_rate(loop(budget, name, "band product"), 1, "amd")
    k = kern(budget, name)
    rate_cu = step / cyc * min(2, k.get("min_ctas", 1))  # a workgroup's 2 waves run on 2 of the 4 SIMDs
    btiles = math.ceil(b / bn)  # each batch tile is a grid row of its own and reads W again
    t_work = btiles * N / (dev["sms"] * rate_cu * dev["clk"])
    wb = {"bf16": 2.0, "huff": FORMAT["huff_bits"] / 8 + 0.125 / 8, "pal": FORMAT["pal_bits"] / 8, "exp": 2.0}[src]
    t = max(mem_time(dev, wb * N * btiles + 2.0 * b * cols + 4.0 * b * rows), t_work) + dev["launch"]
    if pipeline == "exp-predecode":
        t += mem_time(dev, N * (FORMAT["stream_bits"] / 8 + 1.0)) + dev["launch"]
    if pipeline == "palette-transcode":
        t += mem_time(dev, N * (FORMAT["stream_bits"] / 8 + 1.0 + 1.5 + 2.0)) + 4 * dev["launch"]
    if pipeline == "decode+gemm":
        t += mem_time(dev, N * (FORMAT["huff_bits"] / 8 + 2.0)) + dev["launch"]
    return t


def table(budget, design, devices=("H100", "H200", "MI300X"), shapes=None):
    """{(device, shape, batch, pipeline): seconds}"""
    out = {}
    for dname in devices:
        dev = DEVICES[dname]
        for sname, rows, cols in shapes or SHAPES:
            for b in BATCHES:
                for p in PIPELINES:
                    if dev["vendor"] == "amd" and p == "blas-bf16":
                        out[(dname, sname, b, p)] = blas(dev, rows * cols, rows, cols, b)
                        continue
                    out[(dname, sname, b, p)] = design(budget, dev, p, rows, cols, b)
    return out


# ---------------------------------------------------------------- the redesign (design 1) ----
# The GEMV family for batch <= GEMV_MAX_BATCH (backends/cuda/uw_gemv.cu, docs/PERFORMANCE.md
# section 5): a persistent grid of one CTA per SM, 8 warps, every warp decodes. A step is one
# 32-column chunk of one 64-row band (2048 weights, 64 per thread); the steps of the matrix in
# order (band, tile, chunk) are split over G x 8 units (stream-K), warp w of a CTA running unit
# 2 (w % 4) + w / 4, so a scheduler's two warps run neighbouring units. The per-weight counts are
# the budgets of the "chunk" loop (one step) of the "gemv <src> nb<8|16> sm_90a" instances.
GEMV_MAX_BATCH = 16
GEMV = dict(warps=8, units=8, ctas_per_sm=1, lanes=64, chunk=32, tile_cols=256, step_weights=64 * 32)
# The end of a launch (uw_gemv_end.cuh): the CTAs sum their units' slots in shared memory (~150
# cycles: barriers, 8 dependent adds after the loads), then the last CTA holding a band it shares
# reads the others' flags and published sums: two round trips to L2. L2_RT: a load that hits L2
# under light load (Jia et al. 2018 measure ~190 cycles on Volta, Luo et al. 2024 ~260 on Hopper;
# 300 taken), a lead until measured.
L2_RT = 300
END_FOLD = 150
# the design estimate written before the kernels existed (section 7 keeps its predictions)
GEMV_ESTIMATE = {
    "huff": dict(ipw=7.4, alu=5.3, fma=1.2, warp_cycles=15.0),
    "pal": dict(ipw=3.6, alu=2.6, fma=0.6, warp_cycles=4.0),
    "exp": dict(ipw=2.4, alu=1.6, fma=0.5, warp_cycles=3.0),
    "bf16": dict(ipw=0.9, alu=0.3, fma=0.3, warp_cycles=2.0),
}


def gemv_loop(budget, src, nb):
    name = "gemv %s nb%d sm_90a" % (src, nb)
    try:
        kern(budget, name)
    except KeyError:
        return dict(GEMV_ESTIMATE[src])
    return loop(budget, name, "chunk")


def gemv_units(rows, cols, G):
    """steps of each unit (uw_gv_unit_begin) and S"""
    S = math.ceil(rows / 64) * math.ceil(cols / 256) * 8
    U = G * GEMV["units"]
    return [((u + 1) * S) // U - (u * S) // U for u in range(U)], S


def gemv_shared_bands(rows, cols, G):
    """whether some band is held by more than one CTA (the end's sums over CTAs run)"""
    us, S = gemv_units(rows, cols, G)
    nbs = math.ceil(cols / 256) * 8
    begins = [(c * GEMV["units"] * S) // (G * GEMV["units"]) for c in range(G)]
    return any(0 < b < S and b % nbs for b in begins)


def gemv_kernel(budget, dev, rows, cols, b, src, wbytes):
    nb = 8 if b <= 8 else 16
    lp = gemv_loop(budget, src, nb)
    N = rows * cols
    G = dev["sms"] * GEMV["ctas_per_sm"]
    per_sched = GEMV["warps"] * GEMV["ctas_per_sm"] / 4.0
    rate = smsp_rate(lp, per_sched)  # weights per cycle per scheduler, its warps interleaved
    # the busiest scheduler: its two warps run units 2k, 2k + 1 of a CTA (a Huffman unit starts
    # its lanes where its first step is, from the upload's table: no decode before it)
    us, S = gemv_units(rows, cols, G)
    worst = max(us[2 * k] + us[2 * k + 1] for k in range(len(us) // 2))
    t_work = worst * GEMV["step_weights"] / rate / dev["clk"]
    # the tail: the last step of a warp, alone on its scheduler once its data arrived; then the end
    t_tail = GEMV["step_weights"] / 32.0 * lp["warp_cycles"] / dev["clk"]
    t_end = (END_FOLD + (2 * L2_RT if gemv_shared_bands(rows, cols, G) else 0)) / dev["clk"]
    # W, x, y; Huffman: the lane starts of the units (64 words each)
    bytes_ = wbytes * N + 2.0 * b * cols + 4.0 * b * rows + (256.0 * len(us) if src == "huff" else 0)
    return max(mem_time(dev, bytes_), t_work) + t_tail + t_end + dev["launch"]


def design1(budget, dev, pipeline, rows, cols, b):
    # AMD: the HIP build has the GEMV kernel too (run on HIP-CPU), but its resident geometry
    # (64x256 tiles) is not the HIP default, so batch <= 16 stays on the generic kernel there
    if b > GEMV_MAX_BATCH or pipeline == "blas-bf16" or dev["vendor"] == "amd":
        return design0(budget, dev, pipeline, rows, cols, b)
    N = rows * cols
    # the patch lists: 4 bytes per rare exponent, 4 per (tile, chunk) of index
    patch = FORMAT["exc_rate"] * 4 + 4.0 / (64 * 32)
    hb = FORMAT["huff_bits"] / 8 + patch  # (escapes: raw bytes in the stream and an entry in the list)
    pb = (4.0 + FORMAT["plane_bits"]) / 8 + patch  # nibbles and plane; the IR's exception table is not read
    if pipeline == "plain-bf16":
        return gemv_kernel(budget, dev, rows, cols, b, "bf16", 2.0)
    if pipeline == "fused-huffman":
        return gemv_kernel(budget, dev, rows, cols, b, "huff", hb)
    if pipeline == "palette-direct":
        return gemv_kernel(budget, dev, rows, cols, b, "pal", pb)
    # the decode-first pipelines keep their extra passes (decode kernel as in design 0)
    if pipeline == "exp-predecode":
        return design0(budget, dev, "exp-predecode", rows, cols, b) - design0_matmul(budget, dev, "exp", rows, cols, b) + \
            gemv_kernel(budget, dev, rows, cols, b, "exp", 2.0)
    if pipeline == "palette-transcode":
        return design0(budget, dev, "palette-transcode", rows, cols, b) - design0_matmul(budget, dev, "pal", rows, cols, b) + \
            gemv_kernel(budget, dev, rows, cols, b, "pal", pb)
    if pipeline == "decode+gemm":
        return design0(budget, dev, pipeline, rows, cols, b)
    raise KeyError(pipeline)


def design0_matmul(budget, dev, src, rows, cols, b):
    if dev["vendor"] == "amd":
        return amd_design0(budget, dev, {"exp": "plain-bf16", "pal": "palette-direct"}[src], rows, cols, b) * 0 + \
            amd_design0(budget, dev, {"exp": "plain-bf16", "pal": "palette-direct"}[src], rows, cols, b)
    wb = {"exp": 2.0, "pal": FORMAT["pal_bits"] / 8}[src]
    return hopper_kernel(budget, dev, rows, cols, b, src, wb)
