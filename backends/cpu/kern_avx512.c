/* kern_avx512.c - AVX-512 BF16 kernel (compiled with -mavx512bf16 -mavx512vbmi -mavx512vbmi2 ...,
 * called only after cpuid and XCR0 say so). One vdpbf16ps adds a pair of products into each of 16
 * lanes = 16 output rows: h += x[2p+1] w[2p+1], then += x[2p] w[2p], each add rounded to
 * nearest even, inputs and results denormal-flushed (measured; docs/CONFORMANCE.md section 4.1); per
 * 32-k block two such half sums from +0, then acc + (h1 + h2): the order of TDPBF16PS. The
 * palette form is rebuilt in registers (cpu_pack.c): two vpermb look-ups, four byte unpacks and
 * four 16-bit rotates per 128 weights; a half block with one of the rare exceptions is rebuilt and
 * patched into plain groups first (out of line), then takes the same inline arithmetic. */
#include <immintrin.h>

#include "cpu_pal512.h"

/* accumulators (R x NB vectors) kept in registers up to this many, else in L1; likewise the
 * first half sum */
#ifndef UW_ACC_REGS
#define UW_ACC_REGS 4
#endif
#ifndef UW_H1_REGS
#define UW_H1_REGS 8
#endif

/* h[r][j] += one group g (of the call) of R panels for NB batch rows (rows b0.., x of the group
 * at xq); palette groups here have no exception (run() sends those through plain groups) */
static inline __attribute__((always_inline)) void group(const uw_kargs *a, const uint8_t *const *wp, uint64_t g, const uint16_t *xq,
                                                        __m512i t, const int R, const int NB, const int pal, const int pfon,
                                                        __m512 (*h)[16]) {
    const uint64_t gb = pal ? UW_PAL_GROUP_BYTES : UW_PLAIN_GROUP_BYTES, pf = (pal ? UW_PF_PAL : UW_PF_PLAIN) / R;
    const uint64_t xs = 2 * a->xbw, xb8 = a->xblk; /* one pair, 8 rows */
    __m512i w[4][4];
    for (int r = 0; r < R; r++) {
        const uint8_t *p = wp[r] + g * gb;
        for (uint64_t o = 0; pfon && o < gb; o += 64) _mm_prefetch((const char *)p + pf + o, UW_PF_HINT);
        if (pal) uw_pal_rebuild512(p, t, w[r]);
        else
            for (int m = 0; m < 4; m++) w[r][m] = _mm512_loadu_si512(p + 64 * m);
    }
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < NB; j++) {
            int32_t d;
            memcpy(&d, xq + (j >> 3) * xb8 + m * xs + 2 * (j & 7), 4);
            __m512bh xv2 = (__m512bh)_mm512_set1_epi32(d);
            for (int r = 0; r < R; r++) h[r][j] = _mm512_dpbf16_ps(h[r][j], (__m512bh)w[r][m], xv2);
        }
}

/* R panels x NB batch rows over all blocks of the call: per block two half sums from +0 (groups
 * 0-1 and 2-3), then acc + (h1 + h2), the adds flushing to zero (MXCSR.FTZ, set by kern()). The
 * halves are one loop (not unrolled) so that only one half sum is in registers; h1 waits in L1. */
typedef struct xcursor { /* one panel's exceptions from the next one on */
    const uint32_t *xg, *xv;
    uint64_t xl;
} xcursor;

/* groups g, g+1 of the call's R palette panels rebuilt and patched into plain groups at tmp (512
 * bytes a panel), the palette stream prefetched as the fast path would; returns the first
 * exception group (absolute) left in any panel */
static __attribute__((noinline)) uint64_t half_fix(const uw_kargs *a, uint64_t g, int R, xcursor *xc, uint8_t (*tmp)[512]) {
    const __m512i t = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->table));
    uint64_t nx = UINT64_MAX;
    for (int r = 0; r < R; r++) {
        for (uint64_t q = 0; q < 2; q++) {
            const uint8_t *p = a->w + (uint64_t)r * a->panel_bytes + (g + q) * UW_PAL_GROUP_BYTES;
            for (int o = 0; o < UW_PAL_GROUP_BYTES; o += 64) _mm_prefetch((const char *)p + UW_PF_PAL / R + o, UW_PF_HINT);
            __m512i w[4];
            uw_pal_rebuild512(p, t, w);
            for (int m = 0; m < 4; m++) _mm512_store_si512(tmp[r] + q * UW_PLAIN_GROUP_BYTES + 64 * m, w[m]);
            uw_pal_patch((uint16_t *)(void *)(tmp[r] + q * UW_PLAIN_GROUP_BYTES), a->g0 + g + q, &xc[r].xg, &xc[r].xv, &xc[r].xl);
        }
        if (xc[r].xl && *xc[r].xg < nx) nx = *xc[r].xg;
    }
    return nx;
}

static inline __attribute__((always_inline)) void run(const uw_kargs *a, uint64_t b0, const int R, const int NB, const int pal) {
    __m512 acc[4][16], h1[4][16];
    const uint8_t *wp[4];
    xcursor xc[4];
    uint64_t nx = UINT64_MAX; /* the first group (absolute) with an exception in any panel */
    _Alignas(64) uint8_t tmp[4][512];
    /* acc in registers while it leaves room for a half sum and the weights, else in memory (L1) */
    const int mem = R * NB > UW_ACC_REGS, hmem = R * NB > UW_H1_REGS; /* and h1 too for the largest */
    _Alignas(64) float h1m[4][16][16];
    for (int r = 0; r < R; r++) {
        wp[r] = a->w + (uint64_t)r * a->panel_bytes;
        if (!mem)
            for (int j = 0; j < NB; j++) acc[r][j] = _mm512_loadu_ps(a->acc + ((uint64_t)r * a->nb + b0 + j) * UW_PANEL);
        if (pal) {
            xc[r].xg = a->xgroup[r], xc[r].xv = a->xval[r], xc[r].xl = a->xleft[r];
            if (xc[r].xl && *xc[r].xg < nx) nx = *xc[r].xg;
        }
    }
    const uint16_t *xq = uw_xpair(a, a->g0 * (UW_GROUP_K / 2), b0); /* the first group's pairs, row b0 */
    const uint64_t xgs = 4 * 2 * a->xbw;                              /* one group */
    __m512i t = _mm512_setzero_si512();
    if (pal) t = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->table)); /* entry i = table[i & 15] */
    for (int r = 0; r < R; r++) /* (written before read; initialised for the compiler's sake) */
        for (int j = 0; j < NB; j++)
            if (hmem) _mm512_store_ps(h1m[r][j], _mm512_setzero_ps());
            else h1[r][j] = _mm512_setzero_ps();
    for (uint64_t hg = 0; hg < a->ng; hg += 2) { /* one half block: groups hg, hg + 1 */
        __m512 h[4][16];
        for (int r = 0; r < R; r++)
            for (int j = 0; j < NB; j++) h[r][j] = _mm512_setzero_ps();
        if (pal && __builtin_expect(a->g0 + hg + 2 > nx, 0)) { /* a rare exception: this half through plain groups */
            nx = half_fix(a, hg, R, xc, tmp);
            const uint8_t *tp[4] = {tmp[0], tmp[1], tmp[2], tmp[3]};
            group(a, tp, 0, xq + hg * xgs, t, R, NB, 0, 0, h);
            group(a, tp, 1, xq + (hg + 1) * xgs, t, R, NB, 0, 0, h);
        } else {
            group(a, wp, hg, xq + hg * xgs, t, R, NB, pal, 1, h);
            group(a, wp, hg + 1, xq + (hg + 1) * xgs, t, R, NB, pal, 1, h);
        }
        if (!(hg & 2)) {
            for (int r = 0; r < R; r++)
                for (int j = 0; j < NB; j++)
                    if (hmem) _mm512_store_ps(h1m[r][j], h[r][j]);
                    else h1[r][j] = h[r][j];
            continue;
        }
        for (int r = 0; r < R; r++)
            for (int j = 0; j < NB; j++) {
                float *p = a->acc + ((uint64_t)r * a->nb + b0 + j) * UW_PANEL;
                __m512 t12 = _mm512_add_ps(hmem ? _mm512_load_ps(h1m[r][j]) : h1[r][j], h[r][j]);
                if (mem) _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), t12));
                else acc[r][j] = _mm512_add_ps(acc[r][j], t12);
            }
    }
    if (!mem)
        for (int r = 0; r < R; r++)
            for (int j = 0; j < NB; j++) _mm512_storeu_ps(a->acc + ((uint64_t)r * a->nb + b0 + j) * UW_PANEL, acc[r][j]);
}

/* one function per (R, NB, palette): the loops above unroll to straight-line register code */
#define V(R, NB)                                                                                       \
    static void p_##R##_##NB(const uw_kargs *a, uint64_t b0) { run(a, b0, R, NB, 0); }                  \
    static void q_##R##_##NB(const uw_kargs *a, uint64_t b0) { run(a, b0, R, NB, 1); }
V(4, 1) V(4, 2) V(2, 1) V(2, 2) V(2, 4) V(2, 8) V(1, 1) V(1, 2) V(1, 4) V(1, 8) V(1, 16)
#undef V

typedef void (*vfn)(const uw_kargs *, uint64_t);

/* all batch rows of s (R = 1, 2 or 4 panels), groups [s->g0, s->g0 + s->ng) */
static void batch_rows(const uw_kargs *s, int pal) {
    static const vfn tab[2][3][5] = {
        {{p_1_1, p_1_2, p_1_4, p_1_8, p_1_16}, {p_2_1, p_2_2, p_2_4, p_2_8, NULL}, {p_4_1, p_4_2, NULL, NULL, NULL}},
        {{q_1_1, q_1_2, q_1_4, q_1_8, q_1_16}, {q_2_1, q_2_2, q_2_4, q_2_8, NULL}, {q_4_1, q_4_2, NULL, NULL, NULL}}};
    static const int maxlog[3] = {4, 3, 1}; /* the largest NB per R */
    const int ri = s->R >= 4 ? 2 : s->R >= 2 ? 1 : 0;
    for (uint64_t b = 0; b < s->nb;) {
        int l = maxlog[ri];
        while ((1ull << l) > s->nb - b) l--;
        tab[pal][ri][l](s, b);
        b += 1ull << l;
    }
}

static void kern(const uw_kargs *a, int pal) {
    int rn = a->R >= 4 ? 4 : a->R >= 2 ? 2 : 1;
    uw_kargs s = *a;
    for (int r0 = 0; r0 < a->R; r0 += rn) { /* a->R not a power of two: the rest one panel at a time */
        if (a->R - r0 < rn) rn = 1;
        s.w = a->w + (uint64_t)r0 * a->panel_bytes;
        s.acc = a->acc + (uint64_t)r0 * a->nb * UW_PANEL;
        s.R = rn;
        for (int r = 0; r < rn; r++) s.xgroup[r] = a->xgroup[r0 + r], s.xval[r] = a->xval[r0 + r], s.xleft[r] = a->xleft[r0 + r];
        batch_rows(&s, pal);
    }
}

static void pal_to_plain(const uw_kargs *a, uint8_t *dst, uint64_t dpb) {
    __m512i t = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->table));
    for (int r = 0; r < a->R; r++) {
        const uint32_t *xg = a->xgroup[r], *xv = a->xval[r];
        uint64_t xl = a->xleft[r], next = xl ? *xg : UINT64_MAX;
        const uint8_t *src = a->w + (uint64_t)r * a->panel_bytes;
        uint8_t *d = dst + (uint64_t)r * dpb;
        for (uint64_t g = 0; g < a->ng; g++) {
            __m512i w[4];
            uw_pal_rebuild512(src + g * UW_PAL_GROUP_BYTES, t, w);
            if (__builtin_expect(a->g0 + g == next, 0)) {
                uw_pal_patch512(w, a->g0 + g, &xg, &xv, &xl);
                next = xl ? *xg : UINT64_MAX;
            }
            for (int m = 0; m < 4; m++) _mm512_storeu_si512(d + g * UW_PLAIN_GROUP_BYTES + 64 * m, w[m]);
        }
    }
}

/* The block sums' adds must flush results below the normal range to zero, as vdpbf16ps does
 * (and TDPBF16PS, whose order this is): MXCSR.FTZ for the call, restored after. The variants are
 * called through a table (never inlined here), so no add can move across the two writes. */
static void with_ftz(const uw_kargs *a, int pal) {
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8000u);
    kern(a, pal);
    _mm_setcsr(csr);
}

static void plain(const uw_kargs *a) { with_ftz(a, 0); }
static void palette(const uw_kargs *a) { with_ftz(a, 1); }

const uw_cpu_kern uw_cpu_kern_avx512 = {"avx512bf16", plain, palette, pal_to_plain, 4, 0, NULL};
