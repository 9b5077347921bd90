/* kern_scalar.c - the portable kernel (any CPU): the blocked order of every level (per 32-k block
 * two half sums from +0, pairs in increasing order, odd element first, then s + (h1 + h2)), one
 * fp32 multiply then one fp32 add per weight (built with -ffp-contract=off, so never an FMA). The
 * AVX2 kernel performs exactly these operations, so the two levels give identical bits. */
#include "cpu_mm.h"

static inline float bf(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* h[16] += two groups (256 words; pair p of the two, lane r -> words 32p + 2r (even k), +1
 * (odd k)) for batch row b, whose first k is kg */
static void half(const uint16_t *wh, const uw_kargs *a, uint64_t kg, uint64_t b, float *h) {
    for (uint32_t p = 0; p < 8; p++) {
        const uint16_t *xp = uw_xpair(a, kg / 2 + p, b), *wg = wh + 32 * p;
        float xe = bf(xp[0]), xo = bf(xp[1]);
        for (uint32_t r = 0; r < UW_PANEL; r++) {
            /* the pair as one 32-bit word: gcc 12.2 -O3 miscompiled this loop with two 16-bit
             * loads (wg[2r], wg[2r + 1]: the second half sum came out doubled) */
            uint32_t d;
            memcpy(&d, wg + 2 * r, 4);
            float po = xo * bf((uint16_t)(d >> 16)), pe = xe * bf((uint16_t)d);
            h[r] = h[r] + po; /* odd element of the pair first, as vdpbf16ps */
            h[r] = h[r] + pe;
        }
    }
}

/* acc[b][16] += one block of 32 k (512 words: 4 groups) whose first k is kb */
static void block(const uint16_t *wb, const uw_kargs *a, uint64_t kb, float *acc) {
    for (uint64_t b = 0; b < a->nb; b++) {
        float h1[UW_PANEL] = {0}, h2[UW_PANEL] = {0};
        half(wb, a, kb, b, h1);
        half(wb + 256, a, kb + 16, b, h2);
        float *ab = acc + b * UW_PANEL;
        for (uint32_t r = 0; r < UW_PANEL; r++) ab[r] = ab[r] + (h1[r] + h2[r]);
    }
}

static void plain(const uw_kargs *a) {
    for (int r = 0; r < a->R; r++) {
        const uint8_t *wp = a->w + (uint64_t)r * a->panel_bytes;
        for (uint64_t g = 0; g < a->ng; g += UW_BLOCK_GROUPS) {
            uint16_t wb[512];
            memcpy(wb, wp + g * UW_PLAIN_GROUP_BYTES, sizeof wb);
            block(wb, a, (a->g0 + g) * UW_GROUP_K, a->acc + (uint64_t)r * a->nb * UW_PANEL);
        }
    }
}

static void palette(const uw_kargs *a) {
    for (int r = 0; r < a->R; r++) {
        const uint8_t *wp = a->w + (uint64_t)r * a->panel_bytes;
        const uint32_t *xg = a->xgroup[r], *xv = a->xval[r];
        uint64_t xl = a->xleft[r];
        for (uint64_t g = 0; g < a->ng; g += UW_BLOCK_GROUPS) {
            uint16_t wb[512];
            for (uint32_t q = 0; q < UW_BLOCK_GROUPS; q++) {
                uw_pal_rebuild_group(wp + (g + q) * UW_PAL_GROUP_BYTES, a->table, wb + 128 * q);
                uw_pal_patch(wb + 128 * q, a->g0 + g + q, &xg, &xv, &xl);
            }
            block(wb, a, (a->g0 + g) * UW_GROUP_K, a->acc + (uint64_t)r * a->nb * UW_PANEL);
        }
    }
}

const uw_cpu_kern uw_cpu_kern_scalar = {"scalar", plain, palette, uw_pal_to_plain_generic, 4, 0, NULL};
