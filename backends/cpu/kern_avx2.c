/* kern_avx2.c - AVX2 kernel (compiled with -mavx2 -mfma, called only after cpuid says so): BF16
 * widened to fp32 by a shift or a mask, then a multiply and an add per weight in the scalar
 * kernel's blocked order (no FMA, so both levels give identical bits). A panel is two 8-lane
 * halves; per 32-k block two half sums from +0, then acc + (h1 + h2) through memory. */
#include <immintrin.h>

#include "cpu_mm.h"

#define NBMAX 2

/* h += one group: wg its 256 bytes, xg the packed x of its first pair and the pass's first row,
 * xs one pair's stride */
static inline __attribute__((always_inline)) void group8(const uint8_t *wg, const uint16_t *xg, uint64_t xs, int nb,
                                                         __m256 (*h)[NBMAX]) {
    const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int m = 0; m < 4; m++) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(wg + m * 64)), v1 = _mm256_loadu_si256((const __m256i *)(wg + m * 64 + 32));
        __m256 wo0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi)), we0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16));
        __m256 wo1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi)), we1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16));
        for (int j = 0; j < nb; j++) {
            int32_t d;
            memcpy(&d, xg + m * xs + 2 * j, 4);
            __m256i xd = _mm256_set1_epi32(d);
            __m256 xo = _mm256_castsi256_ps(_mm256_and_si256(xd, hi)), xe = _mm256_castsi256_ps(_mm256_slli_epi32(xd, 16));
            h[0][j] = _mm256_add_ps(h[0][j], _mm256_mul_ps(xo, wo0)); /* odd element first */
            h[0][j] = _mm256_add_ps(h[0][j], _mm256_mul_ps(xe, we0));
            h[1][j] = _mm256_add_ps(h[1][j], _mm256_mul_ps(xo, wo1));
            h[1][j] = _mm256_add_ps(h[1][j], _mm256_mul_ps(xe, we1));
        }
    }
}

static inline __attribute__((always_inline)) void run(const uw_kargs *a, int r, uint64_t b0, int nb, int pal) {
    float *ap = a->acc + ((uint64_t)r * a->nb + b0) * UW_PANEL;
    const uint64_t xs = 2 * a->xbw; /* nb <= 2: the pass's rows are in one x block */
    const uint8_t *wp = a->w + (uint64_t)r * a->panel_bytes;
    const uint32_t *eg = a->xgroup[r], *ev = a->xval[r];
    uint64_t el = a->xleft[r];
    for (uint64_t g = 0; g < a->ng; g += UW_BLOCK_GROUPS) {
        __m256 h[2][NBMAX], t1[2][NBMAX];
        for (int half = 0; half < 2; half++) {
            for (int j = 0; j < nb; j++) h[0][j] = h[1][j] = _mm256_setzero_ps();
            for (uint64_t q = g + 2 * (uint64_t)half; q < g + 2 * (uint64_t)half + 2; q++) {
                const uint16_t *xg = uw_xpair(a, (a->g0 + q) * (UW_GROUP_K / 2), b0);
                if (pal) {
                    uint16_t wg[128];
                    uw_pal_rebuild_group(wp + q * UW_PAL_GROUP_BYTES, a->table, wg);
                    uw_pal_patch(wg, a->g0 + q, &eg, &ev, &el);
                    group8((const uint8_t *)wg, xg, xs, nb, h);
                } else {
                    group8(wp + q * UW_PLAIN_GROUP_BYTES, xg, xs, nb, h);
                }
            }
            if (!half)
                for (int j = 0; j < nb; j++) t1[0][j] = h[0][j], t1[1][j] = h[1][j];
        }
        for (int j = 0; j < nb; j++)
            for (int i = 0; i < 2; i++) {
                float *p = ap + j * UW_PANEL + 8 * i;
                _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), _mm256_add_ps(t1[i][j], h[i][j])));
            }
    }
}

static void kern(const uw_kargs *a, int pal) {
    for (int r = 0; r < a->R; r++)
        for (uint64_t b = 0; b < a->nb;) {
            if (a->nb - b >= 2) run(a, r, b, 2, pal), b += 2;
            else run(a, r, b, 1, pal), b += 1;
        }
}

static void plain(const uw_kargs *a) { kern(a, 0); }
static void palette(const uw_kargs *a) { kern(a, 1); }

const uw_cpu_kern uw_cpu_kern_avx2 = {"avx2", plain, palette, uw_pal_to_plain_generic, 4, 0, NULL};
