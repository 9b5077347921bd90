/* uw_hopper.cu - the sm_90a reconstructive matmul: compressed tiles streamed from HBM by the
 * copy engine (cp.async.bulk) into a shared-memory ring, rebuilt on chip by decoder warps, and
 * consumed by wgmma straight from shared memory. One kernel template for every W source (plain
 * BF16, Huffman, palette IR, exponent plane): the consumer warpgroup's wgmma sequence is the
 * same for all of them (contract C2); only what fills a W slot differs.
 *
 * CTA (320 threads) for a band of 64 output rows x a batch tile of BN, k-steps of C columns:
 *   warps 0-3  consumer warpgroup: waits for a W slot and an x stage, wgmma m64nBNk16 over the
 *              slot's C/64 swizzled 64x64 sub-tiles (4 x k16 each), releases both;
 *   warps 4-7  two decode groups of 64 threads, taking k-steps in turn: wait for the step's
 *              compressed stage, decode lanes (or look up nibbles) into exponent rows, wait for a
 *              free W slot, join exponents + plane into BF16 in the 128-byte-swizzled layout
 *              wgmma reads, fence the async proxy, signal the slot full and the stage free;
 *   warp 8     producer of compressed stages: plane rows and stream bytes / nibble rows /
 *              exponent rows by 1-D bulk copies completing on the stage's mbarrier (plain BF16:
 *              TMA tensor loads of W straight into the slot, 128-byte swizzle);
 *   warp 9     producer of x stages: TMA tensor loads of [BN][64] BF16 boxes (128-byte swizzle,
 *              zero fill past the batch and past K).
 * The GEMV-shaped variant for batch 1-16 is the same kernel with BN = 16 (wgmma n16) and k split
 * across CTAs: there the decode and the bytes, not the tensor cores, are the limit.
 * Rings: 2 compressed stages, 2 W slots, 2-4 x stages, each with full/empty mbarriers. */
#include "cuda_internal.h"
#include "uw_mbar.cuh"
#include "uw_wgmma.cuh"

UW_GPU_NS_BEGIN

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define UW_HOPPER_BODY 1
#endif

#define UW_H_THREADS 320
#define UW_H_NS 2 /* compressed stages */
#define UW_H_NW 2 /* W slots */
#define UW_H_NG 2 /* decode groups of 64 threads */

/* ---------------------------------------------------------------- shared-memory layout ---- */

struct uw_hlayout {
    uint32_t w, x, stage, stage_bytes, p_bytes, aux_cap, e, tab, bar, total, nxs;
};

static __host__ __device__ __forceinline__ uint32_t uw_up16(uint32_t v) { return (v + 15u) & ~15u; }

static __host__ __device__ __forceinline__ uw_hlayout uw_hopper_layout(int src, uint32_t bn, uint32_t C, uint32_t tab_bits) {
    uw_hlayout L;
    L.nxs = bn >= 128 ? 2 : 4;
    L.w = 0;                                            /* NW slots of [C/64][64][128 B], 1024-aligned */
    L.x = L.w + UW_H_NW * UW_BAND * C * 2;              /* NXS stages of [BN][128 B] */
    L.stage = L.x + L.nxs * bn * 128;
    L.p_bytes = src == UW_SRC_BF16 ? 0 : UW_BAND * (C + 16);
    L.aux_cap = src == UW_SRC_HUFF  ? uw_up16(UW_BAND * C * 3 / 4 + 64) /* up to 6 bits/weight in the stage */
              : src == UW_SRC_PAL   ? UW_BAND * (C / 2 + 16)
              : src == UW_SRC_EXP   ? UW_BAND * (C + 16)
                                    : 0;
    L.stage_bytes = L.p_bytes + L.aux_cap;
    L.e = L.stage + UW_H_NS * L.stage_bytes;
    uint32_t e_bytes = (src == UW_SRC_HUFF || src == UW_SRC_PAL) ? UW_H_NG * uw_up16(UW_BAND * (C + 4)) : 0;
    L.tab = L.e + e_bytes;
    L.bar = uw_up16(L.tab + (src == UW_SRC_HUFF ? (uint32_t)UW_DT_BYTES << tab_bits : 0));
    L.total = L.bar + 8 * (2 * UW_H_NS + 2 * UW_H_NW + 2 * L.nxs) + 1024; /* + alignment of the base */
    return L;
}

size_t uw_cu_hopper_smem(int src, uint32_t bn, uint32_t C, uint32_t tab_bits) {
    return uw_hopper_layout(src, bn, C, tab_bits).total;
}

uint32_t uw_cu_hopper_threads(void) { return UW_H_THREADS; }

/* ---------------------------------------------------------------- sm_90a primitives ------- */
#ifdef UW_HOPPER_BODY
/* 2-D tensor load: box at (c0 innermost, c1) */
static __device__ __forceinline__ void tma_2d(void *dst, const uw_gpu_tmap *map, int32_t c0, int32_t c1, uint64_t *bar) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::"r"(
                     uw_gpu_smem_addr(dst)),
                 "l"((uint64_t)map), "r"(uw_gpu_smem_addr(bar)), "r"(c0), "r"(c1)
                 : "memory");
}
static __device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
static __device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
static __device__ __forceinline__ void wgmma_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory"); }
/* K-major operand, 128-byte swizzle: rows of 128 bytes, 8-row atoms 1024 bytes apart */
static __device__ __forceinline__ uint64_t wg_desc(const void *p) {
    uint64_t a = uw_gpu_smem_addr(p);
    return ((a & 0x3FFFF) >> 4) | ((uint64_t)(16 >> 4) << 16) | ((uint64_t)(1024 >> 4) << 32) | (1ull << 62);
}
#endif

/* ---------------------------------------------------------------- the kernel -------------- */

template <int SRC, int BN>
__global__ void __launch_bounds__(UW_H_THREADS, 1)
    uw_k_mm_hopper(const __grid_constant__ uw_kparams p, const __grid_constant__ uw_mmargs a,
                   const __grid_constant__ uw_gpu_tmap tmx, const __grid_constant__ uw_gpu_tmap tmw) {
#ifdef UW_HOPPER_BODY
    UW_GPU_DYNAMIC_SMEM(sm_raw, 16);
    /* 1024-byte alignment (128-byte swizzle atoms) by an offset from sm_raw, never through an
     * integer: a pointer rebuilt from uintptr_t loses its address space, and every table lookup
     * and tile store would become a generic access (ci/check-ptx.sh checks the PTX) */
    uint8_t *sm = sm_raw + ((1024u - (uw_gpu_smem_addr(sm_raw) & 1023u)) & 1023u);
    const uint32_t C = p.C;
    const uw_hlayout L = uw_hopper_layout(SRC, BN, C, p.tab_bits);
    const uint32_t NXS = L.nxs;
    uint64_t *bars = (uint64_t *)(sm + L.bar);
    uint64_t *comp_full = bars, *comp_empty = bars + UW_H_NS, *w_full = bars + 2 * UW_H_NS, *w_empty = w_full + UW_H_NW,
             *x_full = w_empty + UW_H_NW, *x_empty = x_full + NXS;
    uint32_t *T = (uint32_t *)(sm + L.tab);
    const uint32_t tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const uint32_t band = blockIdx.x, n0 = blockIdx.y * BN, z = blockIdx.z;
    const uint32_t kb = z * a.kt_per, ke = min(a.ktiles, kb + a.kt_per), n = ke - kb;

    if (tid == 0) {
        for (int i = 0; i < UW_H_NS; i++) mbar_init(&comp_full[i], 1), mbar_init(&comp_empty[i], 1);
        for (int i = 0; i < UW_H_NW; i++) mbar_init(&w_full[i], 1), mbar_init(&w_empty[i], 128);
        for (uint32_t i = 0; i < NXS; i++) mbar_init(&x_full[i], 1), mbar_init(&x_empty[i], 128);
        fence_barrier_init();
    }
    if (SRC == UW_SRC_HUFF)
        for (uint32_t i = tid; i < (1u << p.tab_bits); i += UW_H_THREADS) T[i] = p.table[i];
    __syncthreads();

    if (warp < 4) {
        /* ---- consumer warpgroup */
        float d[BN / 2];
#pragma unroll
        for (int i = 0; i < BN / 2; i++) d[i] = 0.0f;
        uint32_t j = 0; /* x stages consumed */
        for (uint32_t i = 0; i < n; i++) {
            const uw_step s = uw_step_of(p, band, kb + i);
            const uint32_t nsb = (s.tc + 63) / 64, slot = i % UW_H_NW;
            const uint8_t *W = sm + L.w + slot * UW_BAND * C * 2;
            mbar_wait(w_full, slot, (i / UW_H_NW) & 1);
            for (uint32_t sb = 0; sb < nsb; sb++, j++) {
                const uint32_t xs = j % NXS;
                const uint8_t *X = sm + L.x + xs * BN * 128;
                mbar_wait(x_full, xs, (j / NXS) & 1);
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < 4; kk++)
                    uw_wgmma<BN>::mma(d, wg_desc(W + sb * UW_BAND * 128 + kk * 32), wg_desc(X + kk * 32));
                wgmma_commit();
                wgmma_wait0();
                mbar_arrive(&x_empty[xs]);
            }
            mbar_arrive(&w_empty[slot]);
        }
        /* D fragment: d[i] is row 16 * warp + lane / 4 + 8 * ((i % 4) / 2), column 8 * (i / 4) +
         * 2 * (lane % 4) + i % 2; rows are output features, columns batch rows */
        float *out = a.nsplit > 1 ? a.partial + (size_t)z * a.batch * p.rows : a.y;
#pragma unroll
        for (int i = 0; i < BN / 2; i++) {
            uint32_t m = band * UW_BAND + warp * 16 + lane / 4 + 8 * ((i % 4) / 2);
            uint32_t nn = n0 + 8 * (i / 4) + 2 * (lane % 4) + (i % 2);
            if (m < p.rows && nn < a.batch) out[(size_t)nn * p.rows + m] = d[i];
        }
    } else if (warp < 8) {
        /* ---- decode groups */
        const uint32_t g = (warp - 4) / 2, gi = tid - 128 - g * 64, bar_id = 1 + g;
        uint8_t *Eg = sm + L.e + g * uw_up16(UW_BAND * (C + 4));
        auto group_bar = [&]() { uw_gpu_named_barrier(bar_id, 64); };
        uint32_t err = 0;
        if (SRC != UW_SRC_BF16) {
            for (uint32_t i = g; i < n; i += UW_H_NG) {
                const uint32_t kt = kb + i, st = i % UW_H_NS, slot = i % UW_H_NW;
                const uw_step s = uw_step_of(p, band, kt);
                const uint8_t *P = sm + L.stage + st * L.stage_bytes, *aux = P + L.p_bytes;
                mbar_wait(comp_full, st, (i / UW_H_NS) & 1);
                const uint8_t *E = Eg;
                uint32_t ldE = C + 4;
                if (SRC == UW_SRC_HUFF) {
                    err |= uw_decode_band(p, T, band, kt, gi, aux, L.aux_cap, Eg, ldE);
                } else if (SRC == UW_SRC_PAL) {
                    err |= uw_palette_band(p, band, kt, gi, 64, aux, C / 2 + 16, Eg, ldE, group_bar);
                } else { /* exponent rows were copied into the stage */
                    E = aux;
                    ldE = C + 16;
                }
                group_bar();
                mbar_wait(w_empty, slot, ((i / UW_H_NW) & 1) ^ 1);
                uint8_t *W = sm + L.w + slot * UW_BAND * C * 2;
                uw_join_tile(s, C, E, ldE, P, C + 16, gi, 64,
                             [&](uint32_t r, uint32_t c, uint4 v) { *(uint4 *)(W + uw_wslot_off(r, c)) = v; });
                fence_proxy_async(); /* the generic-proxy stores above are read by wgmma (async proxy) */
                group_bar();
                if (gi == 0) {
                    mbar_arrive(&w_full[slot]);
                    mbar_arrive(&comp_empty[st]);
                }
            }
        }
        if (err) uw_gpu_atomic_or(p.err, err);
    } else if (warp == 8) {
        /* ---- producer: compressed stages (or W slots for plain BF16) */
        for (uint32_t i = 0; i < n; i++) {
            const uint32_t kt = kb + i;
            const uw_step s = uw_step_of(p, band, kt);
            const uint32_t nsb = (s.tc + 63) / 64;
            if (SRC == UW_SRC_BF16) {
                const uint32_t slot = i % UW_H_NW;
                if (lane == 0) {
                    uint8_t *W = sm + L.w + slot * UW_BAND * C * 2;
                    mbar_wait(w_empty, slot, ((i / UW_H_NW) & 1) ^ 1);
                    mbar_arrive_expect_tx(&w_full[slot], nsb * UW_BAND * 128);
                    for (uint32_t sb = 0; sb < nsb; sb++)
                        tma_2d(W + sb * UW_BAND * 128, &tmw, (int32_t)(s.c0 + sb * 64), (int32_t)s.r0, &w_full[slot]);
                }
                continue;
            }
            const uint32_t st = i % UW_H_NS;
            uint8_t *P = sm + L.stage + st * L.stage_bytes, *aux = P + L.p_bytes;
            mbar_wait(comp_empty, st, ((i / UW_H_NS) & 1) ^ 1);
            uint32_t bytes = s.valid * s.tc; /* plane rows (tc is a multiple of 32 here) */
            if (SRC == UW_SRC_HUFF) bytes += uw_stage_plan(p, band, kt, L.aux_cap, [](uint32_t, uint32_t, uint64_t, uint32_t) {});
            else if (SRC == UW_SRC_PAL) bytes += s.valid * (s.tc / 2);
            else bytes += s.valid * s.tc;
            if (lane == 0) mbar_arrive_expect_tx(&comp_full[st], bytes);
            __syncwarp();
            for (uint32_t r = lane; r < s.valid; r += 32) {
                const uint64_t g0 = (uint64_t)(s.r0 + r) * p.cols + s.c0;
                bulk_g2s(P + r * (C + 16), p.plane + g0, s.tc, &comp_full[st]);
                if (SRC == UW_SRC_PAL) bulk_g2s(aux + r * (C / 2 + 16), p.nib + g0 / 2, s.tc / 2, &comp_full[st]);
                if (SRC == UW_SRC_EXP) bulk_g2s(aux + r * (C + 16), p.exps + g0, s.tc, &comp_full[st]);
            }
            if (SRC == UW_SRC_HUFF && lane == 0)
                uw_stage_plan(p, band, kt, L.aux_cap, [&](uint32_t, uint32_t off, uint64_t src, uint32_t len) {
                    bulk_g2s(aux + off, p.blob + src, len, &comp_full[st]);
                });
        }
    } else if (lane == 0) {
        /* ---- producer: x stages */
        uint32_t j = 0;
        for (uint32_t i = 0; i < n; i++) {
            const uw_step s = uw_step_of(p, band, kb + i);
            const uint32_t nsb = (s.tc + 63) / 64;
            for (uint32_t sb = 0; sb < nsb; sb++, j++) {
                const uint32_t xs = j % NXS;
                mbar_wait(x_empty, xs, ((j / NXS) & 1) ^ 1);
                mbar_arrive_expect_tx(&x_full[xs], BN * 128);
                tma_2d(sm + L.x + xs * BN * 128, &tmx, (int32_t)(s.c0 + sb * 64), (int32_t)n0, &x_full[xs]);
            }
        }
    }
#else
    (void)tmx;
    (void)tmw;
    if (threadIdx.x == 0 && blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0) uw_gpu_atomic_or(p.err, UW_DERR_ARCH);
    (void)a;
#endif
}

/* ---------------------------------------------------------------- host side --------------- */

typedef void (*uw_hfn)(uw_kparams, uw_mmargs, uw_gpu_tmap, uw_gpu_tmap);

static uw_hfn hopper_fn(int src, uint32_t bn) {
#define UW_H(S)                                                                                \
    case S:                                                                                    \
        return bn == 16 ? uw_k_mm_hopper<S, 16> : bn == 64 ? uw_k_mm_hopper<S, 64> : uw_k_mm_hopper<S, 128>;
    switch (src) {
        UW_H(UW_SRC_BF16)
        UW_H(UW_SRC_HUFF)
        UW_H(UW_SRC_PAL)
        UW_H(UW_SRC_EXP)
    }
#undef UW_H
    return NULL;
}

int uw_cu_hopper_usable(const cu_ctx *c) {
    if (c->props.major != 9 || c->props.minor != 0 || !c->tmap_encode) return 0;
    cudaFuncAttributes at;
    if (cudaFuncGetAttributes(&at, (const void *)uw_k_mm_hopper<UW_SRC_HUFF, 128>) != cudaSuccess) {
        (void)uw_gpu_get_last_error();
        return 0;
    }
    if (at.binaryVersion != 90) return 0; /* sm_90a machine code (not a JIT of older PTX) */
    /* the largest configuration must fit the shared memory */
    size_t need = uw_cu_hopper_smem(UW_SRC_HUFF, 128, 256, 12);
    return need <= c->props.sharedMemPerBlockOptin;
}

uw_status uw_cu_hopper_matmul(const cu_ctx *c, int src, const uw_kparams *k, const uw_mmargs *a, const uw_plan *pl,
                              const uw_gpu_tmap *tmap_w, uw_gpu_stream s) {
    uw_gpu_tmap tmx;
    UW_FORWARD_IF_ERROR(uw_cu_tmap_2d(c, &tmx, a->x, k->cols, a->batch, (uint64_t)k->cols * 2, 64, pl->bn));
    uw_hfn fn = hopper_fn(src, pl->bn);
    size_t smem = uw_cu_hopper_smem(src, pl->bn, k->C, k->tab_bits);
    UW_RETURN_ERROR_IF(smem > c->smem_optin, UW_ERR_UNSUPPORTED, "cuda: the Hopper kernel needs %zu bytes of shared memory, %zu available",
                       smem, c->smem_optin);
    CU_TRY(uw_gpu_func_set_max_smem(fn, smem), "cudaFuncSetAttribute (hopper matmul)");
    dim3 grid(pl->bands, pl->btiles, pl->nsplit);
    UW_GPU_LAUNCH(fn, grid, UW_H_THREADS, smem, s, *k, *a, tmx, src == UW_SRC_BF16 ? *tmap_w : tmx);
    return uw_cu_launch_check("hopper matmul kernel");
}

UW_GPU_NS_END
