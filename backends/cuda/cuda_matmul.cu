/* cuda_matmul.cu - y = x W^T on the device: the pipelines (uw_pipeline 1-5, plain BF16 and the
 * cuBLAS baseline), the generic kernel (NVIDIA sm_80+: mma.sync m16n8k16 BF16, cp.async
 * double-buffered x tiles; AMD: the same kernel with the vector-ALU band product and plain
 * copies, through uw_gpu.h) and the deterministic split-k reduction.
 *
 * Contract C2 by construction: every reconstructive pipeline and plain BF16 run ONE kernel
 * template per family, uw_k_mm_generic<SRC, BN> (here) or the Hopper kernel (uw_hopper.cu),
 * where SRC only changes how the 64 x C BF16 tile of W reaches shared memory (copied, Huffman
 * lanes decoded, palette nibbles + exceptions, exponent plane joined). The MMA instruction
 * sequence over k, the tile shapes and the split-k reduction order are the same, and the
 * family, batch tile and split depend on the device, the shape, the batch size and x's
 * alignment only (uw_cu_plan), never on the pipeline. decode+gemm goes through cuBLAS, so its
 * C2 reference is cuBLAS on the resident BF16 weights (UW_PIPELINE_BLAS_BF16), with the same
 * default workspace and stream: the decoded weights are the same bytes. Without a vendor BLAS
 * (UW_GPU_HAS_BLAS 0: HIP) decode+gemm runs the plain-bf16 kernel on the decoded weights and is
 * held to plain-bf16. */
#include <stdlib.h>

#include "cuda_internal.h"

UW_GPU_NS_BEGIN

#define UW_MM_THREADS 128
static_assert(UW_MM_THREADS == UW_GPU_BAND_THREADS, "the band product (uw_gpu.h) is written for 128 threads");

/* ---------------------------------------------------------------- generic kernel ---------- */

template <int BN> struct uw_gsmem {
    /* bytes: W tile [64][C+8] BF16, x tiles 2 x [BN][C+8] BF16, plane and exponent rows 2 x [64][C+16], table */
    static __host__ __device__ size_t w(uint32_t C) { return (size_t)UW_BAND * (C + 8) * 2; }
    static __host__ __device__ size_t x(uint32_t C) { return (size_t)2 * BN * (C + 8) * 2; }
    static __host__ __device__ size_t rows(uint32_t C) { return (size_t)UW_BAND * (C + 16); }
};

size_t uw_cu_generic_smem(int src, uint32_t bn, uint32_t C, uint32_t tab_bits) {
    size_t w = (size_t)UW_BAND * (C + 8) * 2, x = (size_t)2 * bn * (C + 8) * 2, rows = (size_t)UW_BAND * (C + 16);
    return w + x + (src != UW_SRC_BF16 ? 2 * rows : 0) + (src == UW_SRC_HUFF ? (size_t)UW_DT_BYTES << tab_bits : 0);
}

uint32_t uw_cu_generic_threads(void) { return UW_MM_THREADS; }

/* 8 BF16 of row `row` (global, stride ld elements) from column c, zero past `limit` */
static __device__ __forceinline__ uint4 gather8(const uint16_t *row, uint32_t c, uint32_t limit) {
    uint32_t w[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
        uint32_t lo = c + 2 * k < limit ? row[c + 2 * k] : 0, hi = c + 2 * k + 1 < limit ? row[c + 2 * k + 1] : 0;
        w[k] = lo | hi << 16;
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

/* nrows x C tile of BF16 rows (global row r at src + r * ld) into dst (stride ldd), rows >= valid
 * and columns >= tc zero. aligned: src rows on 16 bytes and tc % 8 == 0 (then cp.async). */
static __device__ __forceinline__ void load_bf16_tile(uint16_t *dst, uint32_t ldd, const uint16_t *src, uint64_t ld,
                                                      uint32_t nrows, uint32_t valid, uint32_t C, uint32_t tc, bool aligned,
                                                      uint32_t tid) {
    const uint32_t per_row = C / 8;
    for (uint32_t i = tid; i < nrows * per_row; i += UW_MM_THREADS) {
        uint32_t r = i / per_row, c = (i % per_row) * 8;
        uint16_t *d = dst + (size_t)r * ldd + c;
        if (r < valid && c < tc) {
            if (aligned) uw_gpu_cp_async16(d, src + r * ld + c, 16);
            else *(uint4 *)d = gather8(src + r * ld, c, tc);
        } else {
            *(uint4 *)d = make_uint4(0, 0, 0, 0);
        }
    }
}

template <int SRC, int BN>
__global__ void __launch_bounds__(UW_MM_THREADS) uw_k_mm_generic(uw_kparams p, uw_mmargs a) {
    UW_GPU_DYNAMIC_SMEM(sm, 128);
    const uint32_t C = p.C, ldW = C + 8, ldB = C + 16;
    uint16_t *W = (uint16_t *)sm;
    uint16_t *X = (uint16_t *)(sm + uw_gsmem<BN>::w(C));
    uint8_t *P = sm + uw_gsmem<BN>::w(C) + uw_gsmem<BN>::x(C);
    uint8_t *E = P + uw_gsmem<BN>::rows(C);
    uint32_t *T = (uint32_t *)(E + uw_gsmem<BN>::rows(C));
    const uint32_t ldE = SRC == UW_SRC_EXP ? ldB : C + 4; /* decoded rows: C + 4 keeps byte stores conflict-free */
    const uint32_t tid = threadIdx.x;
    const uint32_t band = blockIdx.x, n0 = blockIdx.y * BN, z = blockIdx.z;
    const uint32_t kb = z * a.kt_per, ke = min(a.ktiles, kb + a.kt_per);
    const uint32_t xvalid = min((uint32_t)BN, a.batch - n0);
    const bool plane16 = p.cols % 16 == 0, w16_aligned = p.cols % 8 == 0;
    uint32_t err = 0;
    if (SRC == UW_SRC_HUFF)
        for (uint32_t i = tid; i < (1u << p.tab_bits); i += UW_MM_THREADS) T[i] = p.table[i];

    float acc[UW_GPU_BAND_ACC(BN)];
#pragma unroll
    for (int j = 0; j < UW_GPU_BAND_ACC(BN); j++) acc[j] = 0.0f;

    {
        uw_step s = uw_step_of(p, band, kb);
        load_bf16_tile(X, ldW, a.x + (size_t)n0 * p.cols + s.c0, p.cols, BN, xvalid, C, s.tc, a.x_aligned, tid);
        uw_gpu_cp_async_commit();
    }
    for (uint32_t kt = kb; kt < ke; kt++) {
        const uint32_t i = kt - kb;
        const uw_step s = uw_step_of(p, band, kt);
        /* 1. start the copies of this step's W source */
        if (SRC == UW_SRC_BF16) {
            load_bf16_tile(W, ldW, p.w16 + (size_t)s.r0 * p.cols + s.c0, p.cols, UW_BAND, s.valid, C, s.tc, w16_aligned, tid);
        } else {
            uw_copy_rows(P, ldB, p.plane + (size_t)s.r0 * p.cols + s.c0, p.cols, s.valid, s.tc, plane16, tid, UW_MM_THREADS);
            if (SRC == UW_SRC_EXP)
                uw_copy_rows(E, ldB, p.exps + (size_t)s.r0 * p.cols + s.c0, p.cols, s.valid, s.tc, plane16, tid, UW_MM_THREADS);
        }
        uw_gpu_cp_async_commit();
        /* 2. prefetch the next x tile into the other buffer */
        if (kt + 1 < ke) {
            uw_step sn = uw_step_of(p, band, kt + 1);
            load_bf16_tile(X + (size_t)((i + 1) & 1) * BN * ldW, ldW, a.x + (size_t)n0 * p.cols + sn.c0, p.cols, BN, xvalid, C,
                           sn.tc, a.x_aligned, tid);
        }
        uw_gpu_cp_async_commit();
        uw_gpu_cp_async_wait<1>(); /* all but the prefetch */
        __syncthreads();
        /* 3. rebuild the W tile on chip */
        if (SRC == UW_SRC_HUFF) {
            if (tid < p.Q * p.lanes) err |= uw_decode_band(p, T, band, kt, tid, NULL, 0, E, ldE);
            __syncthreads();
        } else if (SRC == UW_SRC_PAL) {
            err |= uw_palette_band(p, band, kt, tid, UW_MM_THREADS, NULL, 0, E, ldE, []() { __syncthreads(); });
            __syncthreads();
        }
        if (SRC != UW_SRC_BF16) {
            uw_join_tile(s, C, E, ldE, P, ldB, tid, UW_MM_THREADS,
                         [&](uint32_t r, uint32_t c, uint4 v) { *(uint4 *)(W + (size_t)r * ldW + c) = v; });
            __syncthreads();
        }
        /* 4. the band product over the step (uw_gpu.h: tensor cores on NVIDIA, warp w owning rows
         *    16w..16w+15; the vector ALU on AMD), the same sequence for every SRC */
        const uint16_t *Xb = X + (size_t)(i & 1) * BN * ldW;
        for (uint32_t ks = 0; ks < C / 16; ks++) uw_gpu_band_mma_k16<BN>(acc, W, Xb, ldW, ks * 16, tid);
        __syncthreads();
    }
    uw_gpu_cp_async_wait<0>();
    if (err) uw_gpu_atomic_or(p.err, err);
    /* accumulator j holds output (W row = output feature m, batch row n) of the band and tile */
    float *out = a.nsplit > 1 ? a.partial + (size_t)z * a.batch * p.rows : a.y;
#pragma unroll
    for (int j = 0; j < UW_GPU_BAND_ACC(BN); j++) {
        uint32_t mr, nc;
        uw_gpu_band_acc_pos<BN>(tid, (uint32_t)j, &mr, &nc);
        uint32_t mm = band * UW_BAND + mr, nn = n0 + nc;
        if (mm < p.rows && nn < a.batch) out[(size_t)nn * p.rows + mm] = acc[j];
    }
}

/* y = partial[0] + partial[1] + ... in split order (deterministic) */
__global__ void uw_k_splitk_reduce(const float *partial, float *y, uint64_t n, uint32_t nsplit) {
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        float v = partial[i];
        for (uint32_t z = 1; z < nsplit; z++) v += partial[(uint64_t)z * n + i];
        y[i] = v;
    }
}

typedef void (*uw_mm_fn)(uw_kparams, uw_mmargs);

static uw_mm_fn generic_fn(int src, uint32_t bn) {
#define UW_G(S)                                                                                \
    case S: return bn == 16 ? uw_k_mm_generic<S, 16> : uw_k_mm_generic<S, 64>;
    switch (src) {
        UW_G(UW_SRC_BF16)
        UW_G(UW_SRC_HUFF)
        UW_G(UW_SRC_PAL)
        UW_G(UW_SRC_EXP)
    }
#undef UW_G
    return NULL;
}

/* ---------------------------------------------------------------- planning ---------------- */

uw_status uw_cu_plan(const cu_ctx *c, const cu_weights *w, uint64_t batch, const void *x, uw_plan *pl) {
    UW_RETURN_ERROR_IF(batch > 0x7FFFFFFFull, UW_ERR_LIMIT, UW_GPU_VENDOR ": batch %llu over 2^31", (unsigned long long)batch);
    memset(pl, 0, sizeof *pl);
    /* the GEMV family: batch <= 16, where the weight's resident forms allow it and x's rows are
     * 4-byte aligned; the same for every pipeline of the weight (C2). kernel=gemv insists on it. */
    const int gemv = w->gemv && ((uintptr_t)x & 3) == 0;
    UW_RETURN_ERROR_IF(batch <= 16 && c->par.kernel == UW_FAM_GEMV && !gemv, UW_ERR_UNSUPPORTED,
                       UW_GPU_VENDOR ": kernel=gemv asked for, but this %llux%llu weight cannot take it (64x%u tiles of %u lanes "
                                     "resident: %ux%u/%u; cols %% 32 == 0; x 4-byte aligned; " UW_GPU_ENV_DEBUG "=1 notes why)",
                       (unsigned long long)w->rows, (unsigned long long)w->cols, 256u, 64u, w->R, w->C, w->lanes);
    if (batch <= 16 && gemv && (c->par.kernel == 0 || c->par.kernel == UW_FAM_GEMV)) {
        pl->family = UW_FAM_GEMV;
        pl->bn = batch <= 8 ? 8 : 16;
        return UW_OK;
    }
    int hopper = c->hopper && w->cols % 32 == 0 && ((uintptr_t)x & 15) == 0;
    pl->family = hopper ? UW_FAM_HOPPER : UW_FAM_GENERIC;
    pl->bn = batch <= 16 ? 16 : (hopper && batch > 64) ? 128 : 64;
    pl->ktiles = (uint32_t)((w->cols + w->C - 1) / w->C);
    pl->bands = (uint32_t)((w->rows + UW_BAND - 1) / UW_BAND);
    pl->btiles = (uint32_t)((batch + pl->bn - 1) / pl->bn);
    uint32_t s = (uint32_t)c->par.splitk;
    if (!s) { /* enough CTAs to fill the device: one per SM (Hopper), two (generic) */
        uint64_t target = (uint64_t)c->props.multiProcessorCount * (hopper ? 1 : 2), ctas = (uint64_t)pl->bands * pl->btiles;
        s = 1;
        while (ctas * s < target && s < 16 && 4 * s <= pl->ktiles) s *= 2;
    }
    if (s > pl->ktiles) s = pl->ktiles;
    pl->kt_per = (pl->ktiles + s - 1) / s;
    pl->nsplit = (pl->ktiles + pl->kt_per - 1) / pl->kt_per;
    return UW_OK;
}

/* ---------------------------------------------------------------- running ----------------- */

static uw_status run_generic(const cu_ctx *c, int src, const uw_kparams *k, const uw_mmargs *a, const uw_plan *pl,
                             uw_gpu_stream s) {
    uw_mm_fn fn = generic_fn(src, pl->bn);
    size_t smem = uw_cu_generic_smem(src, pl->bn, k->C, k->tab_bits);
    UW_RETURN_ERROR_IF(smem > c->smem_optin, UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": the generic kernel needs %zu bytes of shared memory, %s has %zu",
                       smem, c->props.name, c->smem_optin);
    CU_TRY(uw_gpu_func_set_max_smem(fn, smem), "setting the shared-memory size (generic matmul)");
    dim3 grid(pl->bands, pl->btiles, pl->nsplit);
    UW_GPU_LAUNCH(fn, grid, UW_MM_THREADS, smem, s, *k, *a);
    return uw_cu_launch_check("generic matmul kernel");
}

/* one reconstructive matmul (or plain BF16) with the planned family */
static uw_status run_mm(cu_ctx *c, cu_weights *w, int src, const uw_kparams *k, const uint16_t *x, float *y, uint64_t batch,
                        uw_gpu_stream s) {
    uw_plan pl;
    UW_FORWARD_IF_ERROR(uw_cu_plan(c, w, batch, x, &pl));
    if (pl.family == UW_FAM_GEMV) return uw_cu_gemv_matmul(c, src, k, x, y, (uint32_t)batch, s);
    uw_mmargs a;
    memset(&a, 0, sizeof a);
    a.x = x;
    a.y = y;
    a.batch = (uint32_t)batch;
    a.ktiles = pl.ktiles;
    a.kt_per = pl.kt_per;
    a.nsplit = pl.nsplit;
    a.x_aligned = w->cols % 8 == 0 && ((uintptr_t)x & 15) == 0;
    void *partial = NULL;
    uint64_t n = batch * w->rows;
    if (pl.nsplit > 1) {
        UW_FORWARD_IF_ERROR(uw_cu_scratch(c, s, (size_t)pl.nsplit * n * sizeof(float), &partial));
        a.partial = (float *)partial;
    }
    uw_status st;
    if (pl.family == UW_FAM_HOPPER) {
        st = UW_OK;
        if (src == UW_SRC_BF16 && !w->has_tmap_w) { /* uploaded while the Hopper kernels were switched off */
            st = uw_cu_tmap_2d(c, &w->tmap_w, w->w16, w->cols, w->rows, w->cols * 2, 64, 64);
            w->has_tmap_w = st == UW_OK;
        }
        if (st == UW_OK) st = uw_cu_hopper_matmul(c, src, k, &a, &pl, &w->tmap_w, s);
    } else {
        st = run_generic(c, src, k, &a, &pl, s);
    }
    if (st == UW_OK && pl.nsplit > 1) {
        uint64_t blocks = (n + 255) / 256, cap = (uint64_t)c->props.multiProcessorCount * 8;
        UW_GPU_LAUNCH(uw_k_splitk_reduce, (unsigned)(blocks < cap ? blocks : cap), 256, 0, s, a.partial, y, n, pl.nsplit);
        st = uw_cu_launch_check("split-k reduction");
    }
    uw_cu_scratch_free(s, partial);
    return st;
}

/* the core has checked that p's resident form is here */
uw_status uw_cu_matmul_dev(cu_ctx *c, cu_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch,
                           uw_gpu_stream s) {
    uw_kparams k = uw_cu_kp_base(c, w);
    switch (p) {
    case UW_PIPELINE_PLAIN_BF16:
        return run_mm(c, w, UW_SRC_BF16, &k, x, y, batch, s);
    case UW_PIPELINE_BLAS_BF16:
        return uw_cu_blas_gemm(c, w->w16, w->rows, w->cols, x, y, batch, s);
    case UW_PIPELINE_FUSED_HUFFMAN:
        uw_cu_kp_huff(w, &k);
        return run_mm(c, w, UW_SRC_HUFF, &k, x, y, batch, s);
    case UW_PIPELINE_PALETTE_DIRECT: {
        cu_palette pal = uw_cu_resident_palette(w);
        uw_cu_kp_palette(w, &pal, &k);
        uw_cu_kp_patch(w->patch_pal, w->patch_pal_idx_n, &k);
        return run_mm(c, w, UW_SRC_PAL, &k, x, y, batch, s);
    }
    case UW_PIPELINE_PALETTE_TRANSCODE: {
        cu_palette pal;
        void *scratch = NULL;
        uw_status st = uw_cu_transcode(c, w, s, &pal, &scratch);
        if (st == UW_OK) {
            uw_cu_kp_palette(w, &pal, &k);
            uw_cu_kp_patch(w->patch_huff, w->patch_huff_idx_n, &k); /* the transcode keeps the Huffman form's palette */
            st = run_mm(c, w, UW_SRC_PAL, &k, x, y, batch, s);
        }
        uw_cu_scratch_free(s, scratch);
        return st;
    }
    case UW_PIPELINE_EXP_PREDECODE: {
        void *exps = NULL;
        uw_status st = uw_cu_scratch(c, s, w->n, &exps);
        if (st == UW_OK) st = uw_cu_decode_huff(c, w, NULL, (uint8_t *)exps, s);
        if (st == UW_OK) {
            k.exps = (const uint8_t *)exps;
            k.plane = w->huff + w->hb.off_plane;
            st = run_mm(c, w, UW_SRC_EXP, &k, x, y, batch, s);
        }
        uw_cu_scratch_free(s, exps);
        return st;
    }
    case UW_PIPELINE_DECODE_GEMM: {
        void *wd = NULL;
        uw_status st = uw_cu_scratch(c, s, w->n * 2, &wd);
        if (st == UW_OK) st = uw_cu_decode_huff(c, w, (uint16_t *)wd, NULL, s);
        if (st == UW_OK && UW_GPU_HAS_BLAS) {
            st = uw_cu_blas_gemm(c, (const uint16_t *)wd, w->rows, w->cols, x, y, batch, s);
        } else if (st == UW_OK) { /* no vendor BLAS: our plain-bf16 kernel on the decoded weights */
            k.w16 = (const uint16_t *)wd;
            st = run_mm(c, w, UW_SRC_BF16, &k, x, y, batch, s);
        }
        uw_cu_scratch_free(s, wd);
        return st;
    }
    default:
        return uw_error_set(UW_ERR_UNSUPPORTED, "the " UW_GPU_VENDOR " backend does not offer pipeline %s", uw_pipeline_name(p));
    }
}

uw_status uw_cu_matmul_host(cu_ctx *c, cu_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch) {
    uw_gpu_stream s = c->stream;
    void *xd = NULL, *yd = NULL;
    size_t xb = batch * w->cols * 2, yb = batch * w->rows * 4;
    uw_status st = uw_cu_err_reset(c, s);
    if (st == UW_OK) st = uw_cu_scratch(c, s, xb, &xd);
    if (st == UW_OK) st = uw_cu_scratch(c, s, yb, &yd);
    if (st == UW_OK && uw_gpu_h2d_async(xd, x, xb, s) != UW_GPU_SUCCESS) st = uw_cu_fail(uw_gpu_get_last_error(), "copying x");
    if (st == UW_OK) st = uw_cu_matmul_dev(c, w, p, (const uint16_t *)xd, (float *)yd, batch, s);
    if (st == UW_OK && uw_gpu_d2h_async(y, yd, yb, s) != UW_GPU_SUCCESS) st = uw_cu_fail(uw_gpu_get_last_error(), "copying y");
    uw_cu_scratch_free(s, xd);
    uw_cu_scratch_free(s, yd);
    uw_status chk = uw_cu_err_check(c, s, "matmul");
    return st != UW_OK ? st : chk;
}

UW_GPU_NS_END
