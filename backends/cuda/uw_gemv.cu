/* uw_gemv.cu - the GEMV family: y = x W^T for batch <= 16 with every thread decoding
 * (docs/PERFORMANCE.md, design 1). One kernel template for every W source (plain BF16, Huffman,
 * palette IR, exponent plane): only how a step's 64 x 32 BF16 chunk reaches shared memory
 * differs; the product, its order and the sums are the same (contract C2).
 *
 * A persistent grid of G CTAs; the work decomposition and the order of the sums are uw_gemv.cuh's
 * (stream-K over the global step order, G x 8 units). NVIDIA: each warp runs one unit, 2 lane slots
 * per thread; AMD: the CTA's one 64-thread group runs its 8 units in turn, 1 slot per thread. A
 * unit walks its steps with its own cp.async ring (S stages of plane and nibble/exponent/BF16 rows;
 * Huffman: the stream of the current and the next tile) and only its own barriers:
 *   1. wait for the step's stage;
 *   2. rebuild the chunk: each slot's 32 exponents (Huffman: the codes decoded during the previous
 *      step, while this step decodes the next step's from the lanes' register windows; palette:
 *      prmt lookups; exponent plane: loads), joined with the plane bytes into 32 BF16 in the unit's
 *      W buffer; then the exponents the stream does not carry, from the patch list;
 *   3. the product: NVIDIA ldmatrix + mma.sync m16n8k16 (W rows as A, x as B), AMD the vector ALU;
 *   4. the next step's x fragments and patch entries; refill the freed stage with the step S ahead.
 * A band the unit holds whole goes to y when the unit leaves it; the unit's first and last bands,
 * if shared, stay in its two slots, which the end of the kernel sums (uw_gemv_end.cuh). */
#include "cuda_internal.h"
#include "uw_gemv_end.cuh"

UW_GPU_NS_BEGIN

size_t uw_cu_gemv_smem(int src, uint32_t tab_bits) { return uw_gv_layout(src, tab_bits).total; }
uint32_t uw_cu_gemv_threads(void) { return UW_GV_THREADS; }
size_t uw_cu_gemv_workspace(uint32_t G) { return (size_t)uw_gvws_layout_of(G).total; }
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
    constexpr bool PATCHED = SRC == UW_SRC_HUFF || SRC == UW_SRC_PAL;
    const uint32_t tid = threadIdx.x, q = tid / UW_GV_GROUP_THREADS, gt = tid % UW_GV_GROUP_THREADS;
    uint8_t *G = sm + L.groups + q * L.group_bytes, *W = G + L.w;
    const uw_gv_sp tab = uw_gv_sp_of(sm, L.tab), tiles = uw_gv_sp_of(G, L.tiles);
    const uint32_t mask = (1u << p.tab_bits) - 1u;
    if (SRC == UW_SRC_HUFF) /* (every 12-bit index: the NVIDIA reader does not mask) */
        for (uint32_t i = tid; i < (1u << UW_DT_MAX_BITS); i += UW_GV_THREADS)
            ((uint32_t *)(sm + L.tab))[i] = uw_gv_entry(p.table[i & mask]);
    uw_gv_paltab pt; /* built on the host (uw_cu_kp_palette); read from the parameters where used */
    UW_GPU_UNROLL
    for (int w = 0; w < 4; w++) pt.ht[w] = p.paltab[w], pt.lt[w] = p.paltab[4 + w];
    const uw_gv_grid g = uw_gv_grid_of(p.rows, p.cols, a.G);
    if (tid == 0) *(uint64_t *)(sm + L.tag) = uw_gv_arrive(a.ws, a.G);
#if !UW_GPU_BAND_MMA_VALU
    const uint16_t *xr[NB / 8]; /* this thread's x rows (B fragments), from its first column */
    UW_GPU_UNROLL
    for (int j = 0; j < NB / 8; j++) xr[j] = a.x + (size_t)uw_minu(8 * j + gt / 4, a.batch - 1) * p.cols + 2 * (gt % 4);
#endif
    uw_gpu_syncthreads();
    const uint64_t tag = *(const uint64_t *)(sm + L.tag);

    uw_gv_stager<SRC> stager;
    uint64_t *tbars = (uint64_t *)(G + L.tbar); /* (sm_90, Huffman: the tile buffers' barriers) */
    uint32_t tph = 0;                            /* their phases */
#if UW_GPU_HAS_MBAR && !UW_GPU_BAND_MMA_VALU
    if (SRC == UW_SRC_HUFF && gt == 0) {
        mbar_init(tbars, 1);
        mbar_init(tbars + 1, 1);
        fence_barrier_init();
    }
    __syncwarp();
#endif

    /* ---- unit k of the CTA */
    auto unit = [&](uint32_t k) {
        const uint32_t u = blockIdx.x * UW_GV_UNITS + k, sb = uw_gv_unit_begin(g, u), se = uw_gv_unit_begin(g, u + 1);
        if (sb == se) return;
        /* Huffman: a tile's stream is issued with the stage of the step before its first (the unit's
         * first tile: with the first stage), so it has landed when that step starts the tile's lanes;
         * nbit: the slots' lanes' first bits in the tile buffers; the next tile's meta is copied into
         * the group's tile meta when a tile is issued */
        uint32_t nbit[UW_GV_SPT] = {};
        uw_gv_tilewalk tw;
        uint8_t *const tmeta = G + L.tmeta;
        auto tile_issue = [&](uint32_t s) {
            const uint32_t b = s / UW_GV_TSTEPS % 2;
            uw_gv_tile_issue(p, tmeta, G + L.tiles, b * L.tile_bytes, tbars + b, gt, nbit);
            uw_gv_group_sync(); /* (every thread has read the meta) */
            tw.fetch(p, gt, tmeta);
        };
        /* the ring: the stage of step i is (i - sb) % S; the stager walks the steps to stage; patched
         * sources: stage i also holds the patch index of steps i + 1 and i + 2 */
        stager.start(p, g, sb, gt);
        auto stage_next = [&](uint32_t j, uint8_t *st) {
            stager.issue(p, g, st, L, gt);
            if (PATCHED && j + 1 < g.S) uw_gv_stage_pidx(p, j + 1, st, L, gt);
            if (SRC == UW_SRC_HUFF && j + 1 < se && (j + 1) % UW_GV_TSTEPS == 0) tile_issue(j + 1);
        };
        uint32_t fbit[UW_GV_SPT] = {};
        if (SRC == UW_SRC_HUFF) { /* the first tile, its lanes from where the unit starts (upload's table) */
            tw.start(p, sb / UW_GV_TSTEPS, gt);
            tw.fetch(p, gt, tmeta);
            uw_gpu_cp_async_commit();
            uw_gpu_cp_async_wait<0>();
            uw_gv_group_sync();
            const uint32_t b = sb / UW_GV_TSTEPS % 2;
            uw_gv_tile_issue(p, tmeta, G + L.tiles, b * L.tile_bytes, tbars + b, gt, fbit);
            UW_GPU_UNROLL /* (the unit's first lane bits, not the tile's) */
            for (int kk = 0; kk < UW_GV_SPT; kk++)
                fbit[kk] += p.gv_starts[(size_t)u * UW_GV_SLOTS + gt + kk * UW_GV_GROUP_THREADS] -
                            ((const uint32_t *)(tmeta + 16))[gt + kk * UW_GV_GROUP_THREADS];
            uw_gv_group_sync();
            tw.fetch(p, gt, tmeta);
            uw_gpu_cp_async_commit(); /* the next tile's meta has landed before any stage does */
            uw_gpu_cp_async_wait<0>();
            uw_gv_group_sync();
        }
        for (uint32_t j = sb; j < sb + UW_GV_STAGES; j++) {
            if (j < se) stage_next(j, G + L.stage + (j - sb) * L.stage_bytes);
            uw_gpu_cp_async_commit();
        }
        /* the patch list: the thread's entries of this step (pe; the step has pn entries), loaded during
         * the step before from the index its stage holds */
        uint32_t pn = 0, pe[UW_GV_PATCH_PER] = {};
        auto patch_fetch = [&](uint32_t a0, uint32_t a1) {
            pn = a1 - a0;
            UW_GPU_UNROLL
            for (int h = 0; h < UW_GV_PATCH_PER; h++) {
                const uint32_t e = gt + h * UW_GV_GROUP_THREADS;
                pe[h] = e < pn ? uw_gpu_ldg(p.patch + a0 + e) : 0u;
            }
        };
        if (PATCHED) patch_fetch(uw_gpu_ldg(p.patch_idx + sb), uw_gpu_ldg(p.patch_idx + sb + 1));
#if !UW_GPU_BAND_MMA_VALU
        uint32_t xb[2][NB / 8][2]; /* this step's x fragments, loaded during the previous step */
        uw_gv_xfrag<NB>(xr, uw_minu(sb % g.nbs * UW_GV_CHUNK, p.cols - UW_GV_CHUNK), xb);
#endif
        uw_gv_lane lane[UW_GV_SPT] = {};
        uint32_t En[UW_GV_SPT][8] = {}; /* Huffman: the exponents of the next step, decoded during this one */
        if (SRC == UW_SRC_HUFF) {
            uw_gpu_cp_async_wait<UW_GV_STAGES - 1>();
            uw_gv_tile_wait(tbars, sb / UW_GV_TSTEPS % 2, tph);
            uw_gv_group_sync();
            UW_GPU_UNROLL
            for (int kk = 0; kk < UW_GV_SPT; kk++) {
                lane[kk].init(tiles, fbit[kk]);
                lane[kk].chunk(tab, mask, En[kk]);
            }
        }

        uw_gv_acc<NB> acc, first;
        acc.zero();
        first.zero();
        bool kept_first = false;
        uint8_t *stage = G + L.stage; /* step i's stage */
        for (uint32_t i = sb; i < se;) {
            const uint32_t band = i / g.nbs, bend = uw_minu(se, (band + 1) * g.nbs);
            for (; i < bend; i++) {
                /* ---- a step: 64 slots x 32 columns */
                const uint32_t ch = i - band * g.nbs, col = ch * UW_GV_CHUNK;
                uw_gpu_cp_async_wait<UW_GV_STAGES - 1>();
                uw_gv_group_sync();

                /* the chunk: 32 BF16 for each of the thread's slots, into W (BF16: already in the stage) */
                if (SRC != UW_SRC_BF16) {
                    /* rows past the matrix hold anything: their products are never written */
                    uint32_t Pw[UW_GV_SPT][8], o[UW_GV_SPT][16];
                    UW_GPU_UNROLL
                    for (int kk = 0; kk < UW_GV_SPT; kk++) {
                        const uint4 *P = (const uint4 *)(stage + L.plane + (gt + kk * UW_GV_GROUP_THREADS) * UW_GV_CHUNK);
                        const uint4 p0 = P[0], p1 = P[1];
                        Pw[kk][0] = p0.x, Pw[kk][1] = p0.y, Pw[kk][2] = p0.z, Pw[kk][3] = p0.w;
                        Pw[kk][4] = p1.x, Pw[kk][5] = p1.y, Pw[kk][6] = p1.z, Pw[kk][7] = p1.w;
                    }
                    if (SRC == UW_SRC_HUFF) {
                        uint32_t E[UW_GV_SPT][8];
                        UW_GPU_UNROLL
                        for (int kk = 0; kk < UW_GV_SPT; kk++)
                            UW_GPU_UNROLL
                            for (int w = 0; w < 8; w++) E[kk][w] = En[kk][w];
                        if (i + 1 < se && (i + 1) % UW_GV_TSTEPS == 0) { /* the next step starts a tile: its lanes */
                            uw_gv_tile_wait(tbars, (i + 1) / UW_GV_TSTEPS % 2, tph);
                            UW_GPU_UNROLL
                            for (int kk = 0; kk < UW_GV_SPT; kk++) lane[kk].init(tiles, nbit[kk]);
                        }
                        /* the next step's codes (past the unit's end: read and dropped), word by word, each
                         * word's dependency chains interleaved with this step's join of the same word */
                        UW_GPU_UNROLL
                        for (int w = 0; w < 8; w++) {
                            UW_GPU_UNROLL
                            for (int kk = 0; kk < UW_GV_SPT; kk++) {
                                const uint32_t e0 = lane[kk].code(tab, mask), e1 = lane[kk].code(tab, mask);
                                En[kk][w] = uw_gv_prmt(e0, e1, 0x5410);
                            }
                            UW_GPU_UNROLL
                            for (int kk = 0; kk < UW_GV_SPT; kk++) uw_gv_join4(E[kk][w], Pw[kk][w], &o[kk][2 * w], &o[kk][2 * w + 1]);
                        }
                    }
                    UW_GPU_UNROLL
                    for (int kk = 0; kk < UW_GV_SPT; kk++) {
                        const uint32_t sl = gt + kk * UW_GV_GROUP_THREADS;
                        if (SRC == UW_SRC_PAL) {
                            const uint4 nn = *(const uint4 *)(stage + L.aux + sl * 16);
                            const uint32_t N[4] = {nn.x, nn.y, nn.z, nn.w};
                            UW_GPU_UNROLL
                            for (int w = 0; w < 8; w++) uw_gv_pal4(pt, N[w / 2] >> (16 * (w % 2)), Pw[kk][w], &o[kk][2 * w], &o[kk][2 * w + 1]);
                        }
                        if (SRC == UW_SRC_EXP) {
                            const uint4 *X = (const uint4 *)(stage + L.aux + sl * UW_GV_CHUNK);
                            const uint4 e0 = X[0], e1 = X[1];
                            const uint32_t E[8] = {e0.x, e0.y, e0.z, e0.w, e1.x, e1.y, e1.z, e1.w};
                            UW_GPU_UNROLL
                            for (int w = 0; w < 8; w++) uw_gv_join4(E[w], Pw[kk][w], &o[kk][2 * w], &o[kk][2 * w + 1]);
                        }
                        uint4 *dst = (uint4 *)(W + sl * UW_GV_WLD * 2);
                        UW_GPU_UNROLL
                        for (int v = 0; v < 4; v++) dst[v] = make_uint4(o[kk][4 * v], o[kk][4 * v + 1], o[kk][4 * v + 2], o[kk][4 * v + 3]);
                    }
                    if (PATCHED) { /* the exponents the stream does not carry: the thread's entries, loaded during
                                    * the last step, into the joined BF16 */
                        uw_gv_group_sync();
                        UW_GPU_UNROLL
                        for (int h = 0; h < UW_GV_PATCH_PER; h++) {
                            if (gt + h * UW_GV_GROUP_THREADS >= pn) continue;
                            uint16_t *wp = (uint16_t *)(W + uw_gv_patch_row(pe[h]) * UW_GV_WLD * 2 + uw_gv_patch_col(pe[h]) * 2);
                            *wp = uw_gv_patch_bf16(*wp, pe[h]);
                        }
                    }
                }
#if UW_GPU_BAND_MMA_VALU
                /* the step's x as float, [column][batch row], zero past the batch and K: read by every
                 * thread at the same address (LDS broadcast) in the product's inner loop */
                float *xs = (float *)(G + L.xs);
                for (uint32_t e = gt; e < UW_GV_CHUNK * NB; e += UW_GV_GROUP_THREADS) {
                    const uint32_t cc = e % UW_GV_CHUNK, n = e / UW_GV_CHUNK, kx = col + cc;
                    xs[cc * NB + n] = n < a.batch && kx < p.cols ? uw_gpu_bf16_to_f32(a.x[(size_t)n * p.cols + kx]) : 0.0f;
                }
#endif
                uw_gv_group_sync();

                /* the product, the same for every source; a chunk past K (a last tile narrower than 256) is
                 * skipped, since its W rows are not zero (x is, but W may hold infinities) */
                const uint16_t *Wb = (const uint16_t *)(SRC == UW_SRC_BF16 ? stage + L.aux : W);
                if (col < p.cols) {
#if UW_GPU_BAND_MMA_VALU
                    /* thread r owns row r of the band: the step's columns in k order */
                    const uint16_t *wr = Wb + gt * UW_GV_WLD;
                    const float4 *x4p = (const float4 *)(G + L.xs); /* 16-byte aligned */
                    for (uint32_t cc = 0; cc < UW_GV_CHUNK; cc++) {
                        const float w = uw_gpu_bf16_to_f32(wr[cc]);
                        UW_GPU_UNROLL
                        for (int j = 0; j < NB / 4; j++) {
                            const float4 x4 = x4p[cc * NB / 4 + j];
                            acc.v[4 * j] = fmaf(w, x4.x, acc.v[4 * j]);
                            acc.v[4 * j + 1] = fmaf(w, x4.y, acc.v[4 * j + 1]);
                            acc.v[4 * j + 2] = fmaf(w, x4.z, acc.v[4 * j + 2]);
                            acc.v[4 * j + 3] = fmaf(w, x4.w, acc.v[4 * j + 3]);
                        }
                    }
#else
                    UW_GPU_UNROLL
                    for (int kk = 0; kk < 2; kk++) /* consecutive mma on different accumulators */
                        UW_GPU_UNROLL
                        for (int b = 0; b < 4; b++) {
                            uint32_t af[4];
                            uw_gpu_ldmatrix_x4(af, Wb + (16 * b + gt % 16) * UW_GV_WLD + 16 * kk + (gt / 16) * 8);
                            UW_GPU_UNROLL
                            for (int j = 0; j < NB / 8; j++) uw_gpu_mma_bf16_16816(acc.v[b][j], af, xb[kk][j]);
                        }
#endif
                }
                if (i + 1 < se) { /* the next step's x fragments and patch entry */
#if !UW_GPU_BAND_MMA_VALU
                    const uint32_t nch = ch + 1 == g.nbs ? 0 : ch + 1;
                    uw_gv_xfrag<NB>(xr, uw_minu(nch * UW_GV_CHUNK, p.cols - UW_GV_CHUNK), xb);
#endif
                    if (PATCHED) {
                        const uint32_t *ix = uw_gv_pidx(stage, L, i + 1);
                        patch_fetch(ix[0], ix[1]);
                    }
                }
                uw_gv_group_sync();

                /* refill this stage with the step S ahead */
                if (i + UW_GV_STAGES < se) stage_next(i + UW_GV_STAGES, stage);
                uw_gpu_cp_async_commit();
                stage = stage == G + L.stage + (UW_GV_STAGES - 1) * L.stage_bytes ? G + L.stage : stage + L.stage_bytes;
            }
            /* leaving the band: to y if the unit holds it whole; the unit's first band, shared, is kept;
             * its last stays in acc */
            if (band * g.nbs >= sb && (band + 1) * g.nbs <= se) {
                acc.flush(p, a, band, gt);
            } else if (i < se) {
                first = acc;
                kept_first = true;
            }
            if (i < se) acc.zero();
        }
        /* the unit's shared bands into its slots */
        uw_gpu_cp_async_wait<0>();
        uw_gv_group_sync();
        const uint32_t lb = (se - 1) / g.nbs;
        if (kept_first) first.dump(uw_gv_slot(sm, L, a, k, 0), gt);
        if (!(lb * g.nbs >= sb && (lb + 1) * g.nbs <= se)) acc.dump(uw_gv_slot(sm, L, a, k, uw_gv_unit_slot(g, u, lb)), gt);
    };
#if UW_GPU_BAND_MMA_VALU
    for (uint32_t k = 0; k < UW_GV_UNITS; k++) {
        unit(k);
        uw_gpu_syncthreads(); /* (the next unit reuses the group's shared memory) */
    }
#else
    unit(uw_gv_unit_of_warp(q));
#endif
    uw_gpu_syncthreads();
    uw_gv_end<NB>(p, a, g, sm, L, tag, tid);
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

/* the context's workspace, made (zeroed) at the first launch; a launch on another stream than the
 * last waits for the last (the flags and slots are the context's, not the stream's) */
static uw_status gemv_workspace(cu_ctx *c, uw_gpu_stream s) {
    if (!c->gemv_ws) {
        const size_t n = uw_cu_gemv_workspace((uint32_t)c->props.multiProcessorCount);
        UW_FORWARD_IF_ERROR(uw_cu_alloc((void **)&c->gemv_ws, n, "the GEMV workspace"));
        CU_TRY(uw_gpu_memset_async(c->gemv_ws, 0, n, s), "clearing the GEMV workspace");
        CU_TRY(uw_gpu_event_create(&c->gemv_done), "creating the GEMV workspace's event");
    } else if (c->gemv_stream != s) {
        CU_TRY(uw_gpu_stream_wait_event(s, c->gemv_done), "ordering GEMV launches of two streams");
    }
    c->gemv_stream = s;
    return UW_OK;
}

uw_status uw_cu_gemv_matmul(cu_ctx *c, int src, const uw_kparams *k, const uint16_t *x, float *y, uint32_t batch, uw_gpu_stream s) {
    uw_gv_fn fn = gemv_fn(src, batch <= 8 ? 8 : 16);
    const size_t smem = uw_cu_gemv_smem(src, UW_DT_MAX_BITS); /* the kernel's layout is the largest table's */
    UW_RETURN_ERROR_IF(smem > c->smem_optin, UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": the GEMV kernel needs %zu bytes of shared memory, %s has %zu",
                       smem, c->props.name, c->smem_optin);
    CU_TRY(uw_gpu_func_set_max_smem(fn, smem), "setting the shared-memory size (GEMV matmul)");
    UW_FORWARD_IF_ERROR(gemv_workspace(c, s));
    uw_gvargs a;
    a.x = x;
    a.y = y;
    a.ws = c->gemv_ws;
    a.batch = batch;
    a.G = (uint32_t)c->props.multiProcessorCount;
    UW_GPU_LAUNCH(fn, a.G, UW_GV_THREADS, smem, s, *k, a);
    UW_FORWARD_IF_ERROR(uw_cu_launch_check("GEMV matmul kernel"));
    CU_TRY(uw_gpu_event_record(c->gemv_done, s), "recording the GEMV launch");
    return UW_OK;
}

UW_GPU_NS_END
