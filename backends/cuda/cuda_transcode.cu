/* cuda_transcode.cu - Huffman -> palette IR on the device (pipeline 3, docs/FORMAT.md section 8),
 * same palette and tiles, into stream-ordered scratch:
 *   1. the exponent plane (the decode kernel, as pipeline 2);
 *   2. the nibble plane, element-parallel (an exponent outside the palette gets nibble 0);
 *   3. per tile, the number of exceptions; 4. their exclusive scan = the exception index;
 *   5. per tile, the exceptions in position order (block-wide ordered compaction).
 * The exception list is sized by the host's count (w->nexc, from the validated host decode); if the
 * device's exponent plane ever disagrees (a decode fault), steps 4 and 5 keep every index inside
 * that capacity and set UW_DERR_EXC_ORDER instead of writing or reading past the scratch. */
#include "cuda_internal.h"

UW_GPU_NS_BEGIN

#define UW_TC_THREADS 256

static __device__ __forceinline__ void build_rev(const uw_kparams &p, uint8_t *rev) {
    for (uint32_t i = threadIdx.x; i < 256; i += blockDim.x) rev[i] = 0xFF;
    __syncthreads();
    if (threadIdx.x < p.nregular) rev[p.palette[threadIdx.x]] = (uint8_t)threadIdx.x;
    __syncthreads();
}

__global__ void __launch_bounds__(UW_TC_THREADS) uw_k_nibbles(uw_kparams p, const uint8_t *exps, uint8_t *nib, uint64_t n) {
    __shared__ uint8_t rev[256];
    build_rev(p, rev);
    uint64_t nb = (n + 1) / 2;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < nb; i += (uint64_t)gridDim.x * blockDim.x) {
        uint32_t a = rev[exps[2 * i]], b = 2 * i + 1 < n ? rev[exps[2 * i + 1]] : 0;
        a = a == 0xFF ? 0 : a;
        b = b == 0xFF ? 0 : b;
        nib[i] = (uint8_t)(a | b << 4);
    }
}

/* WRITE = 0: counts[t] = exceptions of tile t; WRITE = 1: write them at excidx[t], exc holding cap. */
template <int WRITE>
__global__ void __launch_bounds__(UW_TC_THREADS) uw_k_exceptions(uw_kparams p, const uint8_t *exps, uint32_t *counts,
                                                                 const uint64_t *excidx, uint32_t *exc, uint64_t cap) {
    __shared__ uint8_t rev[256];
    __shared__ uint32_t wc[UW_TC_THREADS / UW_GPU_WARP];
    build_rev(p, rev);
    const uint32_t lane = threadIdx.x % UW_GPU_WARP, warp = threadIdx.x / UW_GPU_WARP;
    const uint64_t T = (uint64_t)p.tiles_r * p.tiles_c;
    uint32_t err = 0;
    for (uint64_t t = blockIdx.x; t < T; t += gridDim.x) {
        const uint32_t ti = (uint32_t)(t / p.tiles_c), tj = (uint32_t)(t % p.tiles_c);
        const uint32_t r0 = ti * p.R, c0 = tj * p.C;
        const uint32_t tr = min(p.R, p.rows - r0), tc = min(p.C, p.cols - c0), lim = tr * tc;
        uint64_t running = WRITE ? excidx[t] : 0;
        for (uint32_t p0 = 0; p0 < lim; p0 += UW_TC_THREADS) {
            uint32_t pos = p0 + threadIdx.x, e = 0;
            bool rare = false;
            if (pos < lim) {
                e = exps[(uint64_t)(r0 + pos / tc) * p.cols + c0 + pos % tc];
                rare = rev[e] == 0xFF;
            }
            uw_gpu_lanemask bal = uw_gpu_ballot(rare); /* 32 or 64 lanes (uw_gpu.h) */
            if (lane == 0) wc[warp] = uw_gpu_popc_mask(bal);
            __syncthreads();
            uint32_t before = 0, total = 0;
            for (uint32_t k = 0; k < UW_TC_THREADS / UW_GPU_WARP; k++) {
                before += k < warp ? wc[k] : 0;
                total += wc[k];
            }
            if (WRITE && rare) {
                const uint64_t k = running + before + uw_gpu_popc_mask(bal & uw_gpu_lanemask_lt(lane));
                if (k < cap) exc[k] = pos << 8 | e;
                else err |= UW_DERR_EXC_ORDER;
            }
            running += total;
            __syncthreads();
        }
        if (!WRITE && threadIdx.x == 0) counts[t] = (uint32_t)running;
    }
    if (err) uw_gpu_atomic_or(p.err, err);
}

/* exclusive scan of counts[0..T) into excidx[0..T] (one block), each entry at most cap */
__global__ void __launch_bounds__(1024) uw_k_scan(const uint32_t *counts, uint64_t *excidx, uint64_t T, uint64_t cap, uint32_t *err) {
    __shared__ uint64_t part[1024];
    __shared__ uint64_t carry;
    if (threadIdx.x == 0) carry = 0;
    __syncthreads();
    for (uint64_t b0 = 0; b0 < T; b0 += 1024) {
        uint64_t i = b0 + threadIdx.x;
        uint64_t v = i < T ? counts[i] : 0;
        part[threadIdx.x] = v;
        __syncthreads();
        for (uint32_t d = 1; d < 1024; d <<= 1) { /* Hillis-Steele inclusive scan */
            uint64_t add = threadIdx.x >= d ? part[threadIdx.x - d] : 0;
            __syncthreads();
            part[threadIdx.x] += add;
            __syncthreads();
        }
        if (i < T) excidx[i] = min(carry + part[threadIdx.x] - v, cap);
        __syncthreads();
        if (threadIdx.x == 1023) carry += part[1023];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        excidx[T] = min(carry, cap);
        if (carry > cap) uw_gpu_atomic_or(err, UW_DERR_EXC_ORDER);
    }
}

static size_t up256(size_t v) { return (v + 255) & ~(size_t)255; }

uw_status uw_cu_transcode(cu_ctx *c, const cu_weights *w, uw_gpu_stream s, cu_palette *pal, void **scratch) {
    UW_RETURN_ERROR_IF(!w->huff, UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": palette-transcode needs the Huffman form resident");
    uw_kparams k = uw_cu_kp_base(c, w);
    uw_cu_kp_huff(w, &k);
    const uint64_t T = (uint64_t)k.tiles_r * k.tiles_c;
    size_t o_exps = 0, o_nib = up256(w->n), o_cnt = o_nib + up256((w->n + 1) / 2), o_idx = o_cnt + up256(4 * T),
           o_exc = o_idx + up256(8 * (T + 1)), total = o_exc + up256(4 * (w->nexc ? w->nexc : 1));
    const uint64_t cap = w->nexc; /* the exception list's capacity, in entries */
    UW_FORWARD_IF_ERROR(uw_cu_scratch(c, s, total, scratch));
    uint8_t *base = (uint8_t *)*scratch;
    uint8_t *exps = base + o_exps, *nib = base + o_nib;
    uint32_t *counts = (uint32_t *)(base + o_cnt), *exc = (uint32_t *)(base + o_exc);
    uint64_t *excidx = (uint64_t *)(base + o_idx);
    UW_FORWARD_IF_ERROR(uw_cu_decode_huff(c, w, NULL, exps, s));
    unsigned sms = (unsigned)c->props.multiProcessorCount;
    uint64_t nb = (w->n + 1) / 2, gb = (nb + UW_TC_THREADS - 1) / UW_TC_THREADS;
    UW_GPU_LAUNCH(uw_k_nibbles, (unsigned)(gb < 8ull * sms ? gb : 8ull * sms), UW_TC_THREADS, 0, s, k, exps, nib, w->n);
    UW_FORWARD_IF_ERROR(uw_cu_launch_check("nibble kernel"));
    unsigned gt = (unsigned)(T < 8ull * sms ? T : 8ull * sms);
    UW_GPU_LAUNCH(uw_k_exceptions<0>, gt, UW_TC_THREADS, 0, s, k, exps, counts, nullptr, nullptr, cap);
    UW_FORWARD_IF_ERROR(uw_cu_launch_check("exception count kernel"));
    UW_GPU_LAUNCH(uw_k_scan, 1, 1024, 0, s, counts, excidx, T, cap, k.err);
    UW_FORWARD_IF_ERROR(uw_cu_launch_check("exception scan kernel"));
    UW_GPU_LAUNCH(uw_k_exceptions<1>, gt, UW_TC_THREADS, 0, s, k, exps, nullptr, excidx, exc, cap);
    UW_FORWARD_IF_ERROR(uw_cu_launch_check("exception write kernel"));
    pal->nib = nib;
    pal->plane = k.plane;
    pal->excidx = excidx;
    pal->exc = exc;
    memcpy(pal->palette, w->hb.palette, 16);
    pal->nregular = w->hb.nregular;
    return UW_OK;
}

UW_GPU_NS_END
