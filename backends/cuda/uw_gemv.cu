/* uw_gemv.cu - the GEMV family: y = x W^T for batch <= 16 with every thread decoding
 * (docs/PERFORMANCE.md, design 1). One kernel template for every W source (plain BF16, Huffman,
 * palette IR, exponent plane): only how a step's 64 x 32 BF16 chunk reaches shared memory
 * differs; the product, its order and the reduction are the same (contract C2).
 *
 * A persistent grid of G CTAs; the work decomposition is uw_gemv.cuh's. A CTA holds Q groups
 * (NVIDIA: warps, 2 lane slots per thread; AMD: the wavefront, 1 slot per thread), each walking
 * its range of steps with its own cp.async ring (S stages of plane and nibble/exponent/BF16 rows,
 * plus the Huffman stream of the current and next tile pair) and only its own barriers:
 *   1. wait for the step's stage; read the x fragments of the step (global, L1/L2-resident);
 *   2. rebuild the chunk: each slot's 32 exponents (Huffman: 16 order-2 codes from the lane's
 *      register window; palette: prmt lookups; exponent plane: loads), joined with its plane
 *      bytes into 32 BF16 stored to the group's W buffer; then the patch list's exponents;
 *   3. the product: NVIDIA ldmatrix + mma.sync m16n8k16 (W rows as A, x as B), AMD the vector ALU;
 *   4. refill the freed stage with the step S ahead.
 * A group's partial sums of a row set are written to y when it leaves the set, except the sets it
 * shares with its neighbours, which the CTA adds in group order at the end (Q barriers). */
#include "cuda_internal.h"
#include "uw_gemv_parts.cuh"

UW_GPU_NS_BEGIN

size_t uw_cu_gemv_smem(int src, uint32_t tab_bits) { return uw_gv_layout(src, tab_bits).total; }
uint32_t uw_cu_gemv_threads(void) { return UW_GV_THREADS; }
#if defined(__HIP_DEVICE_COMPILE__) && !defined(UW_GPU_HIP_CPU)
/* threads per block and dynamic LDS of each source's instance at the largest decode table (12
 * bits), in the code object: ci/kernel-budget.py reads them from the AMD assembly (the host code
 * asks for the same uw_gv_layout) */
extern "C" __device__ __attribute__((used)) const uint32_t uw_gemv_kernel_info[1 + UW_SRC_COUNT] = {
    UW_GV_THREADS, uw_gv_layout(UW_SRC_BF16, 12).total, uw_gv_layout(UW_SRC_HUFF, 12).total, uw_gv_layout(UW_SRC_PAL, 12).total,
    uw_gv_layout(UW_SRC_EXP, 12).total};
#endif

/* ---------------------------------------------------------------- the kernel -------------- */

template <int SRC, int NB>
__global__ void __launch_bounds__(UW_GV_THREADS, 1) uw_k_gemv(uw_kparams p, uw_gvargs a) {
    UW_GPU_DYNAMIC_SMEM(sm, 128);
    /* the layout at the largest table (the host sizes the launch so): constant offsets */
    constexpr uw_gvlayout L = uw_gv_layout(SRC, UW_DT_MAX_BITS);
    const uint32_t tid = threadIdx.x, q = tid / UW_GV_GROUP_THREADS, gt = tid % UW_GV_GROUP_THREADS;
    uint8_t *G = sm + L.groups + q * L.group_bytes, *W = G + L.w;
    const uw_gv_sp tab = uw_gv_sp_of(sm, L.tab);
    const uint32_t mask = (1u << p.tab_bits) - 1u;
    if (SRC == UW_SRC_HUFF)
        for (uint32_t i = tid; i <= mask; i += UW_GV_THREADS) ((uint32_t *)(sm + L.tab))[i] = uw_gv_entry(p.table[i]);
    uw_gv_paltab pt; /* built on the host (uw_cu_kp_palette); read from the parameters where used */
    UW_GPU_UNROLL
    for (int w = 0; w < 4; w++) pt.ht[w] = p.paltab[w], pt.lt[w] = p.paltab[4 + w];
#if !UW_GPU_BAND_MMA_VALU
    const uint16_t *xr[NB / 8]; /* this thread's x rows (B fragments), from its first column */
    UW_GPU_UNROLL
    for (int j = 0; j < NB / 8; j++) {
        const uint32_t n = 8 * j + gt / 4;
        xr[j] = n < a.batch ? a.x + (size_t)n * p.cols + 2 * (gt % 4) : nullptr;
    }
#endif
    const uw_gv_cta cta = uw_gv_cta_of(p.rows, p.cols, blockIdx.x, a.G);
    uint32_t sb, se;
    uw_gv_group_range(cta.steps, q, UW_GV_GROUPS, &sb, &se);
    uw_gpu_syncthreads();

    /* The pair buffer of the tile pair of step i is (i / 8) % 2. A pair's data is issued with the
     * stage of the group's first step (its first pair), else at the previous pair's start, and read
     * from when the pair starts: the stream of its lanes (Huffman; their first bits, relative to the
     * buffer, planned then) and its patch index (Huffman, palette). */
    struct pairinfo {
        uint32_t bits[UW_GV_SPT]; /* the slots' lanes' first bits in the buffer */
        uint32_t pidx;            /* byte offset in the buffer of the pair's first patch index entry */
    };
    auto pair_issue = [&](const uw_gv_pos &ps, uint32_t i, pairinfo &pi) {
        uint8_t *buf = G + L.pair + ((i / 8) % 2) * L.pair_bytes;
        const uint32_t band = ps.set.row0 / 64, lr0 = ps.set.row0 % 64, tr = uw_minu(64, p.rows - band * 64);
        UW_GPU_UNROLL
        for (int k = 0; k < UW_GV_SPT; k++) pi.bits[k] = 0;
        if (SRC == UW_SRC_HUFF)
            uw_gv_stream_plan(p, ps, [&](uint32_t t, uint32_t off, uint64_t g0, uint32_t n, uint64_t bit) {
                for (uint32_t o = gt * 16; o < n; o += UW_GV_GROUP_THREADS * 16) uw_gpu_cp_async16(buf + off + o, p.blob + g0 + o, 16);
                const uint64_t ti = (uint64_t)band * p.tiles_c + ps.kt0 + t;
                const uw_range by = uw_tile_bytes(p, ti);
                UW_GPU_UNROLL
                for (int k = 0; k < UW_GV_SPT; k++) {
                    uint32_t r, tt;
                    uw_gv_slot(ps.set, gt + k * UW_GV_GROUP_THREADS, &r, &tt);
                    if (tt == t && r < ps.set.valid)
                        pi.bits[k] = (uint32_t)(off * 8 + bit + uw_lane_range(p, ti, uw_gv_lane_of_row(lr0 + r, tr), (by.e - by.b) * 8).b);
                }
            });
        /* the patch index of the pair's tiles (8 chunks each, and the next entry) and their entries */
        const uint32_t per = uw_minu(ps.set.nrows == 64 ? 1 : 2, p.tiles_c - ps.kt0), chunks = UW_GV_TILE / UW_GV_CHUNK;
        const uint64_t i0 = ((uint64_t)band * p.tiles_c + ps.kt0) * chunks, i1 = i0 + per * chunks;
        const uint64_t ib = (i0 * 4) & ~(uint64_t)15;
        for (uint32_t o = gt * 16; ib + o < i1 * 4 + 4; o += UW_GV_GROUP_THREADS * 16)
            uw_gpu_cp_async16(buf + L.pidx + o, (const uint8_t *)p.patch_idx + ib + o, 16);
        pi.pidx = L.pidx + (uint32_t)(i0 * 4 - ib);
    };

    /* the ring: the stage of step i is (i - sb) % S, S steps in flight; `cur` walks the steps
     * computed, `pre` the steps staged */
    uw_gv_cursor cur, pre;
    cur.start(cta.r0, cta.r1, p.cols, sb);
    pre = cur;
    pairinfo pcur = {}, pnext = {};
    /* the patch entries of a step: the lists of its tiles' chunk one after the other (at most
     * UW_GV_PATCH_MAX in all: uploads check), entry gt + 32 h the thread's; loaded a step ahead
     * through the pair's staged index. m: which are there; t1: which are the second tile's */
    struct patchfetch {
        uint32_t m, t1, x[UW_GV_PATCH_PER];
    } pf = {};
    auto pf_issue = [&](const uw_gv_pos &ps, uint32_t i, const pairinfo &pi) {
        const uint8_t *pb = G + L.pair + ((i / 8) % 2) * L.pair_bytes;
        const uint32_t *ix = (const uint32_t *)(pb + pi.pidx) + ps.chunk;
        const bool two = ps.set.nrows == 32 && ps.kt0 + 1 < p.tiles_c;
        const uint32_t a0 = ix[0], n0 = ix[1] - a0, b0 = two ? ix[UW_GV_TILE / UW_GV_CHUNK] : 0;
        const uint32_t n = n0 + (two ? ix[UW_GV_TILE / UW_GV_CHUNK + 1] - b0 : 0);
        pf.m = pf.t1 = 0;
        UW_GPU_UNROLL
        for (int h = 0; h < UW_GV_PATCH_PER; h++) {
            const uint32_t e = gt + UW_GV_GROUP_THREADS * h;
            pf.x[h] = e < n ? p.patch[e < n0 ? a0 + e : b0 + e - n0] : 0u;
            pf.m |= (uint32_t)(e < n) << h;
            pf.t1 |= (uint32_t)(e >= n0) << h;
        }
    };
#if !UW_GPU_BAND_MMA_VALU
    /* the x fragments of a step: its tiles (2 for a 32-row set), 16-column halves */
    auto x_issue = [&](const uw_gv_pos &ps, uint32_t xn_[2][2][NB / 8][2]) {
        UW_GPU_UNROLL
        for (int t = 0; t < 2; t++) {
            const uint32_t k0 = (ps.kt0 + t) * UW_GV_TILE + ps.chunk * UW_GV_CHUNK;
            UW_GPU_UNROLL
            for (int kk = 0; kk < 2; kk++) uw_gv_xfrag<NB>(xr, k0 + 16 * kk, (t == 0 || ps.set.nrows == 32) && k0 < p.cols, xn_[t][kk]);
        }
    };
    /* this step's x fragments, loaded at the end of the previous step: their latency hides behind
     * this step's decode; `xc` walks one step ahead of `cur` */
    uint32_t xb[2][2][NB / 8][2];
    x_issue(uw_gv_pos_of(cur), xb);
#endif
    uw_gv_cursor xc = cur; /* one step ahead of cur */
    xc.next();
    for (uint32_t i = sb; i < sb + UW_GV_STAGES; i++) {
        if (i < se) {
            const uw_gv_pos ps = uw_gv_pos_of(pre);
            pre.next();
            uw_gv_stage<SRC>(p, ps, G + L.stage + ((i - sb) % UW_GV_STAGES) * L.stage_bytes, L, gt);
            if ((SRC == UW_SRC_HUFF || SRC == UW_SRC_PAL) && i == sb) pair_issue(ps, i, pcur);
        }
        uw_gpu_cp_async_commit();
    }

    /* accumulators of the current set; the first set's, when it is shared with earlier groups */
    uw_gv_acc<NB> acc, first;
    acc.zero();
    first.zero();
    uw_gv_set first_set = cur.set, cur_set = cur.set;
    bool have_first = false;
    uw_gv_lane lane[UW_GV_SPT] = {};
    uint32_t En[UW_GV_SPT][8] = {}; /* Huffman: the exponents of the next step, decoded during this one */

    for (uint32_t i = sb; i < se;) {
        /* ---- a tile pair (from its first step, or from the group's first step inside it) */
        const uw_gv_pos pp = uw_gv_pos_of(cur);
        if (pp.set.first_step != cur_set.first_step) { /* a new row set */
            if (cur_set.first_step < sb) { /* shared with earlier groups: added in order at the end */
                first_set = cur_set;
                first = acc;
                have_first = true;
            } else {
                acc.flush(p, a, cur_set, gt, false);
            }
            acc.zero();
            cur_set = pp.set;
        }
        const uint32_t pair_end = uw_minu(se, (i / 8 + 1) * 8);
        if (SRC == UW_SRC_HUFF || SRC == UW_SRC_PAL) {
            /* this pair's data: committed with the first stage (the group's first pair), else at the
             * previous pair's start, since when every step committed a group: S - 1 of them unless the
             * previous pair was the group's first and shorter than that */
            if (i == sb) { /* the group's first pair: the lanes, and its first chunk (later pairs: at the end of the one before) */
                uw_gpu_cp_async_wait<0>();
                uw_gv_group_sync();
                pf_issue(pp, i, pcur);
                if (SRC == UW_SRC_HUFF) {
                    const uw_gv_sp buf = uw_gv_sp_of(G, L.pair + ((i / 8) % 2) * L.pair_bytes);
                    UW_GPU_UNROLL
                    for (int k = 0; k < UW_GV_SPT; k++) lane[k].init(buf, pcur.bits[k]);
                    for (uint32_t c = 0; c <= pp.chunk; c++) /* the range may start inside the pair: decode up to it */
                        UW_GPU_UNROLL
                        for (int k = 0; k < UW_GV_SPT; k++) lane[k].chunk(tab, mask, En[k]);
                }
            }
            if (pair_end < se) { /* the next pair's data, into the other buffer (its stages are issued later) */
                uw_gv_cursor nc;
                nc.start(cta.r0, cta.r1, p.cols, pair_end);
                pair_issue(uw_gv_pos_of(nc), pair_end, pnext);
                uw_gpu_cp_async_commit();
            }
        }
        for (; i < pair_end; i++, cur.next()) {
            /* ---- a step: 64 slots x 32 columns */
            const uw_gv_pos ps = uw_gv_pos_of(cur);
            const uint32_t per = ps.set.nrows == 64 ? 1 : 2, lr0 = ps.set.row0 % 64;
            uint8_t *stage = G + L.stage + ((i - sb) % UW_GV_STAGES) * L.stage_bytes;
            const bool pair_last = i + 1 == pair_end && i + 1 < se;
            /* the stage; at a pair's last step also the next pair's data, committed at this pair's start
             * and followed by a group per step since (S - 1 of them unless the pair was short) */
            if ((SRC == UW_SRC_HUFF || SRC == UW_SRC_PAL) && pair_last && i - sb < UW_GV_STAGES) uw_gpu_cp_async_wait<0>();
            else uw_gpu_cp_async_wait<UW_GV_STAGES - 1>();
            uw_gv_group_sync();

            /* the chunk: 32 BF16 for each of the thread's slots, into W (BF16: already in the stage) */
            if (SRC != UW_SRC_BF16) {
                uint32_t E[UW_GV_SPT][8];
                if (SRC == UW_SRC_HUFF) {
                    UW_GPU_UNROLL
                    for (int k = 0; k < UW_GV_SPT; k++)
                        UW_GPU_UNROLL
                        for (int w = 0; w < 8; w++) E[k][w] = En[k][w];
                    if (pair_last) { /* the next step starts a pair: its lanes */
                        const uw_gv_sp buf = uw_gv_sp_of(G, L.pair + (((i + 1) / 8) % 2) * L.pair_bytes);
                        UW_GPU_UNROLL
                        for (int k = 0; k < UW_GV_SPT; k++) lane[k].init(buf, pnext.bits[k]);
                    }
                    /* the next step's codes (past the range's end: read and dropped), their dependency
                     * chains interleaved with this step's join and product, which do not depend on them */
                    UW_GPU_UNROLL
                    for (int w = 0; w < 8; w++)
                        UW_GPU_UNROLL
                        for (int k = 0; k < UW_GV_SPT; k++) {
                            const uint32_t e0 = lane[k].code(tab, mask), e1 = lane[k].code(tab, mask);
                            En[k][w] = uw_gv_prmt(e0, e1, 0x5410);
                        }
                }
                UW_GPU_UNROLL
                for (int k = 0; k < UW_GV_SPT; k++) {
                    /* rows past the set's valid ones hold anything: their products are never written */
                    const uint32_t sl = gt + k * UW_GV_GROUP_THREADS;
                    const uint4 *P = (const uint4 *)(stage + L.plane + sl * UW_GV_CHUNK);
                    const uint4 p0 = P[0], p1 = P[1];
                    const uint32_t Pw[8] = {p0.x, p0.y, p0.z, p0.w, p1.x, p1.y, p1.z, p1.w};
                    uint32_t o[16];
                    if (SRC == UW_SRC_PAL) {
                        const uint4 nn = *(const uint4 *)(stage + L.aux + sl * 16);
                        const uint32_t N[4] = {nn.x, nn.y, nn.z, nn.w};
                        UW_GPU_UNROLL
                        for (int w = 0; w < 8; w++) uw_gv_pal4(pt, (N[w / 2] >> (16 * (w % 2))) & 0xFFFFu, Pw[w], &o[2 * w], &o[2 * w + 1]);
                    } else {
                        if (SRC == UW_SRC_EXP) {
                            const uint4 *X = (const uint4 *)(stage + L.aux + sl * UW_GV_CHUNK);
                            const uint4 e0 = X[0], e1 = X[1];
                            E[k][0] = e0.x, E[k][1] = e0.y, E[k][2] = e0.z, E[k][3] = e0.w;
                            E[k][4] = e1.x, E[k][5] = e1.y, E[k][6] = e1.z, E[k][7] = e1.w;
                        }
                        UW_GPU_UNROLL
                        for (int w = 0; w < 8; w++) uw_gv_join4(E[k][w], Pw[w], &o[2 * w], &o[2 * w + 1]);
                    }
                    uint4 *dst = (uint4 *)(W + sl * UW_GV_WLD * 2);
                    UW_GPU_UNROLL
                    for (int v = 0; v < 4; v++) dst[v] = make_uint4(o[4 * v], o[4 * v + 1], o[4 * v + 2], o[4 * v + 3]);
                }
                if (SRC == UW_SRC_HUFF || SRC == UW_SRC_PAL) { /* the exponents the stream does not carry */
                    uw_gv_group_sync();
                    UW_GPU_UNROLL
                    for (int h = 0; h < UW_GV_PATCH_PER; h++) { /* the thread's entries, loaded during the last step */
                        const uint32_t x = pf.x[h], t = pf.t1 >> h & 1;
                        const uint32_t row = uw_gv_patch_row(x), cc = uw_gv_patch_col(x) - ps.chunk * UW_GV_CHUNK;
                        if (!(pf.m >> h & 1) || row - lr0 >= ps.set.valid) continue; /* (row < lr0 wraps) */
                        const uint32_t sl = t * ps.set.nrows + row - lr0;
                        *(uint16_t *)(W + sl * UW_GV_WLD * 2 + cc * 2) =
                            uw_bf16_join(stage[L.plane + sl * UW_GV_CHUNK + cc], (uint8_t)uw_gv_patch_exp(x));
                    }
                }
            }
#if UW_GPU_BAND_MMA_VALU
            /* the step's x as float, [tile][column][batch row], zero past the batch: read by every
             * thread at the same address (LDS broadcast) in the product's inner loop */
            float *xs = (float *)(G + L.xs);
            for (uint32_t e = gt; e < per * UW_GV_CHUNK * NB; e += UW_GV_GROUP_THREADS) {
                const uint32_t c = e % UW_GV_CHUNK, n = e / UW_GV_CHUNK % NB, t = e / (UW_GV_CHUNK * NB);
                const uint32_t k = (ps.kt0 + t) * UW_GV_TILE + ps.chunk * UW_GV_CHUNK + c;
                xs[(t * UW_GV_CHUNK + c) * NB + n] = n < a.batch && k < p.cols ? uw_gpu_bf16_to_f32(a.x[(size_t)n * p.cols + k]) : 0.0f;
            }
#endif
            uw_gv_group_sync();

            /* the product, the same for every source */
            const uint16_t *Wb = (const uint16_t *)(SRC == UW_SRC_BF16 ? stage + L.aux : W);
#if UW_GPU_BAND_MMA_VALU
            if (gt < ps.set.nrows) /* thread r owns row r of the set: its tiles' columns in k order */
                for (uint32_t t = 0; t < per && (ps.kt0 + t) * UW_GV_TILE + ps.chunk * UW_GV_CHUNK < p.cols; t++) {
                    const uint16_t *wr = Wb + (t * ps.set.nrows + gt) * UW_GV_WLD;
                    const float4 *xr = (const float4 *)(G + L.xs) + t * UW_GV_CHUNK * NB / 4; /* 16-byte aligned */
                    for (uint32_t c = 0; c < UW_GV_CHUNK; c++) {
                        const float w = uw_gpu_bf16_to_f32(wr[c]);
                        UW_GPU_UNROLL
                        for (int j = 0; j < NB / 4; j++) {
                            const float4 x4 = xr[c * NB / 4 + j];
                            acc.v[4 * j] = fmaf(w, x4.x, acc.v[4 * j]);
                            acc.v[4 * j + 1] = fmaf(w, x4.y, acc.v[4 * j + 1]);
                            acc.v[4 * j + 2] = fmaf(w, x4.z, acc.v[4 * j + 2]);
                            acc.v[4 * j + 3] = fmaf(w, x4.w, acc.v[4 * j + 3]);
                        }
                    }
                }
#else
            /* a tile's chunk past K (the last tile narrower than 256, or a 32-row set's second tile
             * beyond an odd number of tiles): skipped, since its W rows are not zero (x is zero
             * there, but W may hold infinities) */
            const uint32_t cc0 = ps.kt0 * UW_GV_TILE + ps.chunk * UW_GV_CHUNK;
            const bool in0 = cc0 < p.cols, in1 = per == 2 && cc0 + UW_GV_TILE < p.cols;
            UW_GPU_UNROLL
            for (int kk = 0; kk < 2; kk++) /* consecutive mma on different accumulators */
                UW_GPU_UNROLL
                for (int b = 0; b < 4; b++) {
                    if (per == 2 && b >= 2 ? !in1 : !in0) continue;
                    uint32_t af[4];
                    uw_gpu_ldmatrix_x4(af, Wb + (16 * b + gt % 16) * UW_GV_WLD + 16 * kk + (gt / 16) * 8);
                    const int t = ps.set.nrows == 64 ? 0 : b / 2;
                    UW_GPU_UNROLL
                    for (int j = 0; j < NB / 8; j++) {
                        const uint32_t bf[2] = {t ? xb[1][kk][j][0] : xb[0][kk][j][0], t ? xb[1][kk][j][1] : xb[0][kk][j][1]};
                        uw_gpu_mma_bf16_16816(acc.v[b][j], af, bf);
                    }
                }
#endif
            if (i + 1 < se) { /* the next step's x fragments and first patch entries */
#if !UW_GPU_BAND_MMA_VALU
                x_issue(uw_gv_pos_of(xc), xb);
#endif
                if (SRC == UW_SRC_HUFF || SRC == UW_SRC_PAL) pf_issue(uw_gv_pos_of(xc), i + 1, pair_last ? pnext : pcur);
            }
            xc.next();
            uw_gv_group_sync();

            /* refill this stage with the step S ahead */
            if (i + UW_GV_STAGES < se) {
                uw_gv_stage<SRC>(p, uw_gv_pos_of(pre), stage, L, gt);
                pre.next();
            }
            uw_gpu_cp_async_commit();
        }
        pcur = pnext;
    }
    uw_gpu_cp_async_wait<0>();

    /* the sets shared between groups, added in group order */
    for (uint32_t g = 0; g < UW_GV_GROUPS; g++) {
        uw_gpu_syncthreads();
        if (q == g && sb < se) {
            if (have_first) first.flush(p, a, first_set, gt, true);
            acc.flush(p, a, cur_set, gt, cur_set.first_step < sb);
        }
    }
}

typedef void (*uw_gv_fn)(uw_kparams, uw_gvargs);

static uw_gv_fn gemv_fn(int src, uint32_t nb) {
#define UW_GV(S)                                                                               \
    case S: return nb == 8 ? uw_k_gemv<S, 8> : uw_k_gemv<S, 16>;
    switch (src) {
        UW_GV(UW_SRC_BF16)
        UW_GV(UW_SRC_HUFF)
        UW_GV(UW_SRC_PAL)
        UW_GV(UW_SRC_EXP)
    }
#undef UW_GV
    return NULL;
}

uw_status uw_cu_gemv_matmul(const cu_ctx *c, int src, const uw_kparams *k, const uint16_t *x, float *y, uint32_t batch,
                            uw_gpu_stream s) {
    uw_gv_fn fn = gemv_fn(src, batch <= 8 ? 8 : 16);
    const size_t smem = uw_cu_gemv_smem(src, UW_DT_MAX_BITS); /* the kernel's layout is the largest table's */
    UW_RETURN_ERROR_IF(smem > c->smem_optin, UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": the GEMV kernel needs %zu bytes of shared memory, %s has %zu",
                       smem, c->props.name, c->smem_optin);
    CU_TRY(uw_gpu_func_set_max_smem(fn, smem), "setting the shared-memory size (GEMV matmul)");
    uw_gvargs a;
    a.x = x;
    a.y = y;
    a.batch = batch;
    a.G = (uint32_t)c->props.multiProcessorCount;
    UW_GPU_LAUNCH(fn, a.G, UW_GV_THREADS, smem, s, *k, a);
    return uw_cu_launch_check("GEMV matmul kernel");
}

UW_GPU_NS_END
