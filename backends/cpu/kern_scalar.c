/* kern_scalar.c - the portable kernel (any CPU): the same pair order as the SIMD levels, one fp32
 * multiply then one fp32 add per weight (built with -ffp-contract=off, so never an FMA). The AVX2
 * kernel performs exactly these operations, so the two levels give identical bits. */
#include "cpu_mm.h"

static inline float bf(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* acc[b][16] += one group (128 words: pair m, lane r -> words 32m + 2r (even k), 32m + 2r + 1 (odd k)) */
static void group(const uint16_t *wg, const uw_kargs *a, uint64_t kg, float *acc) {
    for (uint64_t b = 0; b < a->nb; b++) {
        float *ab = acc + b * UW_PANEL;
        for (uint32_t m = 0; m < 4; m++) {
            const uint16_t *xp = uw_xpair(a, kg / 2 + m, b);
            float xe = bf(xp[0]), xo = bf(xp[1]);
            for (uint32_t r = 0; r < UW_PANEL; r++) {
                float po = xo * bf(wg[32 * m + 2 * r + 1]), pe = xe * bf(wg[32 * m + 2 * r]);
                ab[r] = ab[r] + po; /* odd element of the pair first, as vdpbf16ps */
                ab[r] = ab[r] + pe;
            }
        }
    }
}

static void plain(const uw_kargs *a) {
    for (int r = 0; r < a->R; r++) {
        const uint8_t *wp = a->w + (uint64_t)r * a->panel_bytes;
        for (uint64_t g = 0; g < a->ng; g++) {
            uint16_t wg[128];
            memcpy(wg, wp + g * UW_PLAIN_GROUP_BYTES, sizeof wg);
            group(wg, a, (a->g0 + g) * UW_GROUP_K, a->acc + (uint64_t)r * a->nb * UW_PANEL);
        }
    }
}

static void palette(const uw_kargs *a) {
    for (int r = 0; r < a->R; r++) {
        const uint8_t *wp = a->w + (uint64_t)r * a->panel_bytes;
        const uint32_t *xg = a->xgroup[r], *xv = a->xval[r];
        uint64_t xl = a->xleft[r];
        for (uint64_t g = 0; g < a->ng; g++) {
            uint16_t wg[128];
            uw_pal_rebuild_group(wp + g * UW_PAL_GROUP_BYTES, a->table, wg);
            uw_pal_patch(wg, a->g0 + g, &xg, &xv, &xl);
            group(wg, a, (a->g0 + g) * UW_GROUP_K, a->acc + (uint64_t)r * a->nb * UW_PANEL);
        }
    }
}

const uw_cpu_kern uw_cpu_kern_scalar = {"scalar", plain, palette, uw_pal_to_plain_generic, 4};
