/* cuda_decode.cu - decode kernels. Huffman: tile-parallel (a persistent grid walks the tiles),
 * one thread per lane decodes exponent bytes into shared memory with the lookup table in shared
 * memory, then the block joins them with the plane into BF16 (or writes the exponent plane of
 * pipeline 2). Palette IR: element-parallel nibble lookup, then one block per tile patches the
 * tile's exceptions. */
#include "cuda_internal.h"

UW_GPU_NS_BEGIN

#define UW_DEC_THREADS 64

static __device__ __forceinline__ void load_table(const uw_kparams &p, uint32_t *tab, uint32_t tid, uint32_t nthreads) {
    for (uint32_t i = tid; i < (1u << p.tab_bits); i += nthreads) tab[i] = p.table[i];
}

/* EXPS: write exponent bytes to exps; else BF16 to out. aligned: cols % 8 == 0. */
template <bool EXPS>
__global__ void __launch_bounds__(UW_DEC_THREADS) uw_k_decode_huff(uw_kparams p, uint16_t *out, uint8_t *exps,
                                                                   uint32_t aligned) {
    UW_GPU_DYNAMIC_SMEM(sm, 16);
    uint32_t *tab = (uint32_t *)sm;
    uint8_t *E = sm + ((size_t)UW_DT_BYTES << p.tab_bits);
    const uint32_t ldE = p.C + 4, tid = threadIdx.x;
    const uint8_t *plane = p.plane;
    load_table(p, tab, tid, UW_DEC_THREADS);
    __syncthreads();
    uint32_t err = 0;
    const uint64_t T = (uint64_t)p.tiles_r * p.tiles_c;
    for (uint64_t t = blockIdx.x; t < T; t += gridDim.x) {
        const uint32_t ti = (uint32_t)(t / p.tiles_c), tj = (uint32_t)(t % p.tiles_c);
        const uint32_t r0 = ti * p.R, c0 = tj * p.C;
        const uint32_t tr = min(p.R, p.rows - r0), tc = min(p.C, p.cols - c0);
        const uw_range by = uw_tile_bytes(p, t);
        for (uint32_t j = tid; j < p.lanes; j += UW_DEC_THREADS) {
            const uw_range lr = uw_lane_range(p, t, j, (by.e - by.b) * 8);
            uint32_t ra = (uint32_t)(((uint64_t)j * tr) / p.lanes), rz = (uint32_t)(((uint64_t)(j + 1) * tr) / p.lanes);
            err |= uw_decode_lane(p.tab_bits, p.order, p.chunk, tab, (const uint32_t *)(p.blob + p.off_stream),
                                  by.b * 8 + lr.b, by.b * 8 + lr.e, j + 1 == p.lanes, rz - ra, tc, E + (size_t)ra * ldE, ldE);
        }
        __syncthreads();
        if (aligned) { /* 8 elements per step: 16-byte stores of BF16, 8-byte stores of exponents */
            const uint32_t per_row = tc / 8;
            for (uint32_t i = tid; i < tr * per_row; i += UW_DEC_THREADS) {
                uint32_t r = i / per_row, c = (i % per_row) * 8;
                const uint8_t *er = E + (size_t)r * ldE + c;
                uint32_t e_lo = *(const uint32_t *)er, e_hi = *(const uint32_t *)(er + 4);
                uint64_t g = (uint64_t)(r0 + r) * p.cols + c0 + c;
                if (EXPS) {
                    *(uint2 *)(exps + g) = make_uint2(e_lo, e_hi);
                } else {
                    uint2 pp = *(const uint2 *)(plane + g);
                    *(uint4 *)(out + g) = uw_join8(e_lo, e_hi, pp.x, pp.y);
                }
            }
        } else {
            for (uint32_t r = 0; r < tr; r++) {
                uint64_t g0 = (uint64_t)(r0 + r) * p.cols + c0;
                for (uint32_t c = tid; c < tc; c += UW_DEC_THREADS) {
                    uint8_t x = E[(size_t)r * ldE + c];
                    if (EXPS) exps[g0 + c] = x;
                    else out[g0 + c] = uw_bf16_join(plane[g0 + c], x);
                }
            }
        }
        __syncthreads();
    }
    if (err) uw_gpu_atomic_or(p.err, err);
}

/* palette IR, pass 1: one thread per nibble byte (two elements) */
__global__ void uw_k_decode_pal(uw_kparams p, uint16_t *out, uint64_t n) {
    uint64_t nb = (n + 1) / 2;
    uint32_t err = 0;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < nb; i += (uint64_t)gridDim.x * blockDim.x) {
        uint32_t v = p.nib[i];
        uint64_t e0 = 2 * i;
        uint32_t a = v & 15, b = v >> 4;
        if (a >= p.nregular) err |= UW_DERR_PAL_INDEX;
        out[e0] = uw_bf16_join(p.plane[e0], p.palette[a]);
        if (e0 + 1 < n) {
            if (b >= p.nregular) err |= UW_DERR_PAL_INDEX;
            out[e0 + 1] = uw_bf16_join(p.plane[e0 + 1], p.palette[b]);
        }
    }
    if (err) uw_gpu_atomic_or(p.err, err);
}

/* palette IR, pass 2: the exceptions of each tile (block per tile, persistent) */
__global__ void uw_k_decode_pal_exc(uw_kparams p, uint16_t *out) {
    uint32_t err = 0;
    const uint64_t T = (uint64_t)p.tiles_r * p.tiles_c;
    for (uint64_t t = blockIdx.x; t < T; t += gridDim.x) {
        const uint32_t ti = (uint32_t)(t / p.tiles_c), tj = (uint32_t)(t % p.tiles_c);
        const uint32_t r0 = ti * p.R, c0 = tj * p.C;
        const uint32_t tr = min(p.R, p.rows - r0), tc = min(p.C, p.cols - c0);
        uint64_t k0 = p.excidx[t], k1 = p.excidx[t + 1];
        for (uint64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
            uint32_t x = p.exc[k], pos = x >> 8;
            if (pos >= tr * tc || (k > k0 && (p.exc[k - 1] >> 8) >= pos)) {
                err |= UW_DERR_EXC_ORDER;
                continue;
            }
            uint64_t g = (uint64_t)(r0 + pos / tc) * p.cols + c0 + pos % tc;
            if ((p.nib[g >> 1] >> ((uint32_t)(g & 1) * 4)) & 15u) err |= UW_DERR_EXC_NIBBLE;
            out[g] = uw_bf16_join(p.plane[g], (uint8_t)x);
        }
    }
    if (err) uw_gpu_atomic_or(p.err, err);
}

uint32_t uw_cu_decode_threads(void) { return UW_DEC_THREADS; }
size_t uw_cu_decode_smem(uint32_t R, uint32_t C, uint32_t tab_bits) { return ((size_t)4 << tab_bits) + (size_t)R * (C + 4); }

static unsigned persistent_grid(const cu_ctx *c, uint64_t work, unsigned per_sm) {
    uint64_t g = (uint64_t)c->props.multiProcessorCount * per_sm;
    if (work < g) g = work;
    return (unsigned)(g ? g : 1);
}

uw_status uw_cu_decode_huff(cu_ctx *c, const cu_weights *w, uint16_t *out, uint8_t *exps, uw_gpu_stream s) {
    UW_RETURN_ERROR_IF(!w->huff, UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": the Huffman form is not resident");
    uw_kparams k = uw_cu_kp_base(c, w);
    uw_cu_kp_huff(w, &k);
    size_t smem = uw_cu_decode_smem(k.R, k.C, k.tab_bits);
    uint32_t aligned = k.cols % 8 == 0;
    unsigned grid = persistent_grid(c, (uint64_t)k.tiles_r * k.tiles_c, 16);
    if (exps) {
        CU_TRY(uw_gpu_func_set_max_smem(uw_k_decode_huff<true>, smem), "setting the shared-memory size");
        UW_GPU_LAUNCH(uw_k_decode_huff<true>, grid, UW_DEC_THREADS, smem, s, k, nullptr, exps, aligned);
    } else {
        CU_TRY(uw_gpu_func_set_max_smem(uw_k_decode_huff<false>, smem), "setting the shared-memory size");
        UW_GPU_LAUNCH(uw_k_decode_huff<false>, grid, UW_DEC_THREADS, smem, s, k, out, nullptr, aligned);
    }
    return uw_cu_launch_check("decode kernel");
}

uw_status uw_cu_decode_palette(cu_ctx *c, const cu_weights *w, const cu_palette *pal, uint16_t *out, uw_gpu_stream s) {
    uw_kparams k = uw_cu_kp_base(c, w);
    uw_cu_kp_palette(w, pal, &k);
    UW_GPU_LAUNCH(uw_k_decode_pal, persistent_grid(c, (w->n / 2 + 255) / 256 + 1, 8), 256, 0, s, k, out, w->n);
    UW_FORWARD_IF_ERROR(uw_cu_launch_check("palette decode kernel"));
    UW_GPU_LAUNCH(uw_k_decode_pal_exc, persistent_grid(c, (uint64_t)k.tiles_r * k.tiles_c, 8), 128, 0, s, k, out);
    return uw_cu_launch_check("palette exception kernel");
}

uw_status uw_cu_decode_dev(cu_ctx *c, const cu_weights *w, uint16_t *out, uw_gpu_stream s) {
    if (w->huff) return uw_cu_decode_huff(c, w, out, NULL, s);
    if (w->pal) {
        cu_palette pal = uw_cu_resident_palette(w);
        return uw_cu_decode_palette(c, w, &pal, out, s);
    }
    CU_TRY(uw_gpu_d2d_async(out, w->w16, w->n * 2, s), "copying BF16 weights");
    return UW_OK;
}

uw_status uw_cu_decode_host(cu_ctx *c, const cu_weights *w, uint16_t *host) {
    void *dev = NULL;
    uw_gpu_stream s = c->stream;
    uw_status st = uw_cu_err_reset(c, s);
    if (st == UW_OK) st = uw_cu_scratch(c, s, w->n * 2, &dev);
    if (st == UW_OK) st = uw_cu_decode_dev(c, w, (uint16_t *)dev, s);
    if (st == UW_OK && uw_gpu_d2h_async(host, dev, w->n * 2, s) != UW_GPU_SUCCESS)
        st = uw_cu_fail(uw_gpu_get_last_error(), "copying the decoded tensor");
    uw_cu_scratch_free(s, dev);
    uw_status chk = uw_cu_err_check(c, s, "decode");
    if (st == UW_OK) st = chk;
    if (st == UW_OK && uw_hash64(host, w->n * 2) != w->tensor_hash)
        st = uw_error_set(UW_ERR_CHECKSUM, UW_GPU_VENDOR ": the decoded tensor's checksum differs (device decode is wrong)");
    return st;
}

UW_GPU_NS_END
