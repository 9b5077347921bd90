/* uw_gemv_end.cuh - the end of a GEMV launch (uw_gemv.cu): the sums of the bands that units share,
 * in the fixed order of uw_gemv.cuh (units of a CTA in order, then CTAs in order), and the launch
 * tag that the flags between CTAs carry.
 *
 * A CTA sums the bands crossing one of its unit boundaries from its units' slots (NVIDIA: shared
 * memory, each warp's area; AMD: the workspace). A band that other CTAs hold too is added up by
 * the last of them to get there: each CTA first looks whether every other one has published its
 * sum (flag == this launch's tag); if so it adds the published sums and its own in CTA order and
 * writes y; if not it publishes its own (sums, fence, flag), fences and looks again. Of CTAs that
 * publish at about the same time at least one sees the others (uw_gpu_flags.h); if two do, both
 * add the same sums in the same order and write the same bits. No CTA waits for another, so the
 * persistent grid needs no co-residency. Flags are never cleared: a launch's tag is one more than
 * the previous launch's (uw_gv_arrive), so no memset runs per call. */
#ifndef UW_GEMV_END_CUH
#define UW_GEMV_END_CUH

#include "uw_gemv_parts.cuh"
#include "uw_gpu_flags.h"

UW_GPU_NS_BEGIN

/* The launch's tag: the workspace's epoch + 1. Every CTA reads the epoch, then counts itself in; the
 * last to arrive (after every CTA has read it) clears the count and advances the epoch for the next
 * launch, which the stream orders after this one: so a graph replayed many times gets a new tag
 * each time, and an interrupted count cannot outlive its (failed) context. */
static __device__ __forceinline__ uint64_t uw_gv_arrive(uint8_t *ws, uint32_t G) {
    uint64_t *epoch = (uint64_t *)ws;
    uint32_t *arrivals = (uint32_t *)(ws + 8);
    const uint64_t e = uw_gpu_flag_observe(epoch);
    if (uw_gpu_arrive(arrivals) == G - 1) {
        uw_gpu_arrive_reset(arrivals);
        uw_gpu_flag_publish(epoch, e + 1);
    }
    return e + 1;
}

/* slot s of the CTA's unit k */
static __device__ __forceinline__ float *uw_gv_slot(uint8_t *sm, const uw_gvlayout &L, const uw_gvargs &a, uint32_t k, uint32_t s) {
#if UW_GPU_BAND_MMA_VALU
    (void)sm, (void)L;
    return (float *)(a.ws + uw_gvws_layout_of(a.G).uslots) + ((size_t)(blockIdx.x * UW_GV_UNITS + k) * 2 + s) * UW_GV_SLOT_FLOATS;
#else
    (void)a;
    const uint32_t w = (k >> 1) | ((k & 1u) << 2); /* the warp running unit k (uw_gv_unit_of_warp) */
    return (float *)(sm + L.groups + w * L.group_bytes) + s * UW_GV_SLOT_FLOATS;
#endif
}

static __device__ __forceinline__ uint64_t *uw_gv_flag(const uw_gvargs &a, uint32_t c, uint32_t s) {
    return (uint64_t *)(a.ws + uw_gvws_layout_of(a.G).flags) + 2 * c + s;
}
static __device__ __forceinline__ float *uw_gv_partial(const uw_gvargs &a, uint32_t c, uint32_t s) {
    return (float *)(a.ws + uw_gvws_layout_of(a.G).partial) + ((size_t)c * 2 + s) * UW_GV_NB_MAX * UW_GV_SLOTS;
}
static __device__ __forceinline__ bool uw_gv_cta_has_steps(const uw_gv_grid &g, uint32_t c) {
    return uw_gv_unit_begin(g, c * UW_GV_UNITS) < uw_gv_unit_begin(g, (c + 1) * UW_GV_UNITS);
}
/* every other CTA holding steps of band b has published its sums of it in this launch (the flags
 * read back to back, one fence after them) */
static __device__ __forceinline__ bool uw_gv_others_published(const uw_gv_grid &g, const uw_gvargs &a, uint32_t b, uint64_t tag) {
    uint32_t c0, c1;
    uw_gv_band_ctas(g, b, &c0, &c1);
    bool all = true;
    for (uint32_t c = c0; c <= c1; c++)
        if (c != blockIdx.x && uw_gv_cta_has_steps(g, c) && uw_gpu_flag_peek(uw_gv_flag(a, c, uw_gv_cta_slot(g, c, b))) != tag) all = false;
    uw_gpu_fence();
    return all;
}

/* after every unit of the CTA has filled its slots (a barrier before) */
template <int NB>
static __device__ __forceinline__ void uw_gv_end(const uw_kparams &p, const uw_gvargs &a, const uw_gv_grid &g, uint8_t *sm,
                                                 const uw_gvlayout &L, uint64_t tag, uint32_t tid) {
    constexpr uint32_t T = UW_GV_THREADS, PER = UW_GV_SLOTS * NB / T; /* elements of a band's sums per thread */
    const uint32_t c = blockIdx.x, cb = uw_gv_unit_begin(g, c * UW_GV_UNITS) / g.nbs;
    float own[2][PER]; /* the CTA's sums of the bands it shares with other CTAs: [0] its first band, [1] its last */
    uint32_t xb[2] = {~0u, ~0u};
    uint32_t prev = ~0u;
    for (uint32_t k = 0; k <= UW_GV_UNITS; k++) {
        uw_gv_fold f;
        if (!uw_gv_fold_at(g, c, k, &f) || f.band == prev) continue;
        prev = f.band;
        const uint32_t ci = f.band == cb ? 0 : 1, valid = uw_gv_band_rows(g, f.band);
        if (f.cross && ci) xb[1] = f.band;
        else if (f.cross) xb[0] = f.band;
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < PER; m++) {
            const uint32_t e = tid + m * T, n = e / UW_GV_SLOTS, r = e % UW_GV_SLOTS;
            float v = 0.0f;
            bool any = false;
            for (uint32_t u = f.u0; u <= f.u1; u++) { /* the CTA's units in order */
                if (uw_gv_unit_begin(g, u) == uw_gv_unit_begin(g, u + 1)) continue;
                const float x = uw_gv_slot(sm, L, a, u - c * UW_GV_UNITS, uw_gv_unit_slot(g, u, f.band))[n * UW_GV_SLD + r];
                v = any ? v + x : x;
                any = true;
            }
            if (!f.cross) {
                if (r < valid && n < a.batch) a.y[(size_t)n * p.rows + f.band * UW_GV_SLOTS + r] = v;
            } else if (ci) {
                own[1][m] = v;
            } else {
                own[0][m] = v;
            }
        }
    }
    if (xb[0] == ~0u && xb[1] == ~0u) return; /* (uniform over the CTA) */

    /* the bands shared with other CTAs: add them if every other one has published, else publish */
    volatile uint32_t *dec = (volatile uint32_t *)(sm + L.tag + 8);
    if (tid == 0)
        for (int ci = 0; ci < 2; ci++) dec[ci] = xb[ci] != ~0u && uw_gv_others_published(g, a, xb[ci], tag);
    uw_gpu_syncthreads();
    bool publish[2] = {xb[0] != ~0u && !dec[0], xb[1] != ~0u && !dec[1]};
    if (publish[0] || publish[1]) {
        UW_GPU_UNROLL
        for (int ci = 0; ci < 2; ci++) {
            if (!publish[ci]) continue;
            float *P = uw_gv_partial(a, c, (uint32_t)ci);
            UW_GPU_UNROLL
            for (uint32_t m = 0; m < PER; m++) P[tid + m * T] = own[ci][m]; /* [batch row][band row] */
        }
        uw_gpu_fence();
        uw_gpu_syncthreads();
        if (tid == 0) {
            for (int ci = 0; ci < 2; ci++)
                if (publish[ci]) uw_gpu_flag_publish(uw_gv_flag(a, c, (uint32_t)ci), tag);
            uw_gpu_fence();
            for (int ci = 0; ci < 2; ci++)
                if (publish[ci]) dec[ci] = uw_gv_others_published(g, a, xb[ci], tag);
        }
        uw_gpu_syncthreads();
    }
    UW_GPU_UNROLL
    for (int ci = 0; ci < 2; ci++) {
        if (xb[ci] == ~0u || !dec[ci]) continue;
        uint32_t c0, c1;
        uw_gv_band_ctas(g, xb[ci], &c0, &c1);
        const uint32_t valid = uw_gv_band_rows(g, xb[ci]);
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < PER; m++) {
            const uint32_t e = tid + m * T, n = e / UW_GV_SLOTS, r = e % UW_GV_SLOTS;
            float v = 0.0f;
            bool any = false;
            for (uint32_t cc = c0; cc <= c1; cc++) { /* the CTAs in order */
                if (!uw_gv_cta_has_steps(g, cc)) continue;
                const float x = cc == c ? own[ci][m] : uw_gpu_ld_coherent(uw_gv_partial(a, cc, uw_gv_cta_slot(g, cc, xb[ci])) + e);
                v = any ? v + x : x;
                any = true;
            }
            if (r < valid && n < a.batch) a.y[(size_t)n * p.rows + xb[ci] * UW_GV_SLOTS + r] = v;
        }
    }
}

UW_GPU_NS_END
#endif
