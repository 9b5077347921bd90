/* kern_scalar.c - the codec's kernels in portable C (codec_isa.h): every CPU has this level, and
 * the SIMD levels must give the same bytes. */
#include "codec_isa.h"
#include "decode_steps.h"

static void merge(uint16_t *o, const uint8_t *pl, const uint8_t *e, size_t n) {
    for (size_t k = 0; k < n; k++) o[k] = uw_bf16_join(pl[k], e[k]);
}

/* four counters per exponent, taken in turn: a run of equal exponents does not wait on one
 * counter's previous increment */
void uw_kern_hist_scalar(const uint16_t *w, size_t n, uint64_t h[256]) {
    uint32_t c[4][256];
    memset(c, 0, sizeof c);
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        c[0][uw_bf16_exp(w[k])]++;
        c[1][uw_bf16_exp(w[k + 1])]++;
        c[2][uw_bf16_exp(w[k + 2])]++;
        c[3][uw_bf16_exp(w[k + 3])]++;
    }
    for (; k < n; k++) c[0][uw_bf16_exp(w[k])]++;
    for (int x = 0; x < 256; x++) h[x] += (uint64_t)c[0][x] + c[1][x] + c[2][x] + c[3][x];
}

void uw_kern_plane_scalar(const uint16_t *w, size_t n, uint8_t *out) {
    for (size_t k = 0; k < n; k++) out[k] = uw_bf16_plane(w[k]);
}

uint32_t uw_kern_pair_stats_scalar(const uint16_t *x, uint32_t n, const uint8_t s[256], uint32_t h[4 * 289], uint32_t *rare,
                                   uint32_t cap) {
    uint32_t k = 0, nr = 0;
    for (; k < n; k += 2) {
        uint32_t a = s[uw_bf16_exp(x[k])], b = k + 1 < n ? s[uw_bf16_exp(x[k + 1])] : 0;
        h[(k >> 1 & 3) * 289 + a * 17 + b]++;
        if ((a | b) & 16) { /* rare: where */
            if (a == 16 && nr++ < cap) rare[nr - 1] = k;
            if (b == 16 && nr++ < cap) rare[nr - 1] = k + 1;
        }
    }
    return nr;
}

void uw_kern_pair_index_scalar(const uint16_t *x, uint32_t n, const uint8_t s[256], uint16_t *out) {
    for (uint32_t k = 0; k < n; k += 2)
        out[k / 2] = (uint16_t)(s[uw_bf16_exp(x[k])] * 17 + (k + 1 < n ? s[uw_bf16_exp(x[k + 1])] : 0));
}

const uw_codec_kern uw_codec_kern_scalar = {UW_CODEC_ISA_SCALAR, "scalar", merge, uw_kern_hist_scalar, uw_kern_plane_scalar,
                                            uw_kern_pair_stats_scalar, uw_kern_pair_index_scalar, uw_row_code_scalar};
