/* kern_avx2.c - AVX2 kernel (compiled with -mavx2 -mfma, called only after cpuid says so): BF16
 * widened to fp32 by a shift or a mask, then a multiply and an add per weight in the scalar
 * kernel's order (no FMA, so both levels give identical bits). A panel is two 8-lane halves. */
#include <immintrin.h>

#include "cpu_mm.h"

#define NBMAX 4

/* xg: the packed x of this group's first pair and the block's first row; xs: one pair's stride */
static inline __attribute__((always_inline)) void group8(const uint8_t *wg, const uint16_t *xg, uint64_t xs, int nb,
                                                         __m256 (*acc)[NBMAX]) {
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
            acc[0][j] = _mm256_add_ps(acc[0][j], _mm256_mul_ps(xo, wo0));
            acc[0][j] = _mm256_add_ps(acc[0][j], _mm256_mul_ps(xe, we0));
            acc[1][j] = _mm256_add_ps(acc[1][j], _mm256_mul_ps(xo, wo1));
            acc[1][j] = _mm256_add_ps(acc[1][j], _mm256_mul_ps(xe, we1));
        }
    }
}

static inline __attribute__((always_inline)) void run(const uw_kargs *a, int r, uint64_t b0, int nb, int pal) {
    __m256 acc[2][NBMAX];
    float *ap = a->acc + ((uint64_t)r * a->nb + b0) * UW_PANEL;
    for (int j = 0; j < nb; j++) {
        acc[0][j] = _mm256_loadu_ps(ap + j * UW_PANEL);
        acc[1][j] = _mm256_loadu_ps(ap + j * UW_PANEL + 8);
    }
    const uint64_t xs = 2 * a->xbw; /* nb <= 4: the block's rows are in one x block */
    const uint8_t *wp = a->w + (uint64_t)r * a->panel_bytes;
    const uint32_t *eg = a->xgroup[r], *ev = a->xval[r];
    uint64_t el = a->xleft[r];
    for (uint64_t g = 0; g < a->ng; g++) {
        const uint16_t *xg = uw_xpair(a, (a->g0 + g) * (UW_GROUP_K / 2), b0);
        if (pal) {
            uint16_t wg[128];
            uw_pal_rebuild_group(wp + g * UW_PAL_GROUP_BYTES, a->table, wg);
            uw_pal_patch(wg, a->g0 + g, &eg, &ev, &el);
            group8((const uint8_t *)wg, xg, xs, nb, acc);
        } else {
            group8(wp + g * UW_PLAIN_GROUP_BYTES, xg, xs, nb, acc);
        }
    }
    for (int j = 0; j < nb; j++) {
        _mm256_storeu_ps(ap + j * UW_PANEL, acc[0][j]);
        _mm256_storeu_ps(ap + j * UW_PANEL + 8, acc[1][j]);
    }
}

static void kern(const uw_kargs *a, int pal) {
    for (int r = 0; r < a->R; r++)
        for (uint64_t b = 0; b < a->nb;) {
            uint64_t left = a->nb - b;
            if (left >= 4) run(a, r, b, 4, pal), b += 4;
            else if (left >= 2) run(a, r, b, 2, pal), b += 2;
            else run(a, r, b, 1, pal), b += 1;
        }
}

static void plain(const uw_kargs *a) { kern(a, 0); }
static void palette(const uw_kargs *a) { kern(a, 1); }

const uw_cpu_kern uw_cpu_kern_avx2 = {"avx2", plain, palette, uw_pal_to_plain_generic, 4};
