/* matmul.c - CPU y = x * W^T in fp32 with a fixed accumulation order (k ascending), on plain
 * BF16 weights and on a blob decoded band by band into scratch: the same inner kernel, hence
 * bit-identical results (contract C2). Built with -ffp-contract=off so no FMA changes rounding. */
#include <stdlib.h>

#include "../../codecs/decode.h"

static inline float bf16_to_f32(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define PANEL 8 /* output rows computed together: one SIMD lane each */

/* Which NaN survives an add of two NaNs is left open by IEEE 754 and, on x86, follows the
 * operand order the compiler happened to pick for that lane and call site; so a NaN output is
 * written as the one canonical quiet NaN, and every pipeline stays bit-identical (contract C2). */
#define UW_CANONICAL_NAN (uw_nan_f32())
static inline float uw_nan_f32(void) {
    uint32_t u = 0x7FC00000u;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* rows [o0, o0+nr) of W given as w (row stride in); y row stride out. Each output keeps its own
 * accumulator and adds x[k]*w[k] for k = 0, 1, ... in order, exactly as a scalar loop would: the
 * PANEL rows only share the loop, so results do not depend on PANEL, the band, or the pipeline
 * that produced w. (BF16 x BF16 products are exact in fp32; only the adds round.) */
static uw_status kernel(const uint16_t *x, const uint16_t *w, float *y, uint64_t batch, uint64_t out, uint64_t in, uint64_t o0,
                        uint64_t nr) {
    float *wp = malloc(in * PANEL * sizeof *wp), *xf = malloc(batch * in * sizeof *xf);
    if (!wp || !xf) {
        free(wp), free(xf);
        return uw_error_set(UW_ERR_NOMEM, "matmul: out of memory for a %llu x %d panel", (unsigned long long)in, PANEL);
    }
    for (uint64_t i = 0; i < batch * in; i++) xf[i] = bf16_to_f32(x[i]);
    for (uint64_t o = 0; o < nr; o += PANEL) {
        uint64_t np = nr - o < PANEL ? nr - o : PANEL;
        for (uint64_t j = 0; j < PANEL; j++) /* pack [k][PANEL], rows past the end as zeros */
            for (uint64_t k = 0; k < in; k++) wp[k * PANEL + j] = j < np ? bf16_to_f32(w[(o + j) * in + k]) : 0.0f;
        for (uint64_t bi = 0; bi < batch; bi++) {
            const float *xb = xf + bi * in;
            float acc[PANEL] = {0};
            for (uint64_t k = 0; k < in; k++) {
                const float xv = xb[k], *wk = wp + k * PANEL;
                for (int j = 0; j < PANEL; j++) acc[j] += xv * wk[j];
            }
            for (uint64_t j = 0; j < np; j++) y[bi * out + o0 + o + j] = acc[j] == acc[j] ? acc[j] : UW_CANONICAL_NAN;
        }
    }
    free(wp);
    free(xf);
    return UW_OK;
}

typedef struct mm_ctx {
    const uint16_t *x, *w;
    float *y;
    uint64_t batch, out, in, band;
    const uw_blob *b;
    const uw_fast_tab *ft; /* the blob's decode tables, built once per call */
} mm_ctx;

static uw_status plain_task(void *ctx, uint64_t i, int worker) {
    mm_ctx *m = ctx;
    (void)worker;
    uint64_t o0 = i * m->band, nr = m->out - o0 < m->band ? m->out - o0 : m->band;
    return kernel(m->x, m->w + o0 * m->in, m->y, m->batch, m->out, m->in, o0, nr);
}

static uw_status blob_task(void *ctx, uint64_t ti, int worker) {
    mm_ctx *m = ctx;
    const uw_blob *b = m->b;
    (void)worker;
    uint64_t o0 = ti * b->tile_rows, nr = b->rows - o0 < b->tile_rows ? b->rows - o0 : b->tile_rows;
    uint16_t *band = malloc(nr * b->cols * 2);
    if (!band) return uw_error_set(UW_ERR_NOMEM, "matmul: out of memory for a weight band");
    uw_status s = uw_codec_decode_band(b, m->ft, ti, band, b->cols);
    if (s == UW_OK) s = kernel(m->x, band, m->y, m->batch, m->out, m->in, o0, nr);
    free(band);
    return s;
}

uw_status uw_matmul_bf16(const uint16_t *x, const uint16_t *w, float *y, uint64_t batch, uint64_t out, uint64_t in,
                         int threads) {
    UW_RETURN_ERROR_IF(!x || !w || !y || !batch || !out || !in, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    mm_ctx m = {x, w, y, batch, out, in, 64, NULL, NULL};
    return uw_parallel_for((out + m.band - 1) / m.band, threads, plain_task, &m);
}

uw_status uw_matmul_blob(const void *blob, size_t size, const uint16_t *x, float *y, uint64_t batch, int threads) {
    uw_blob b;
    UW_RETURN_ERROR_IF(!x || !y || !batch, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    uw_fast_tab *ft;
    UW_FORWARD_IF_ERROR(uw_fast_tab_new(&b, &ft));
    mm_ctx m = {x, NULL, y, batch, b.rows, b.cols, b.tile_rows, &b, ft};
    uw_status s = uw_parallel_for(b.tiles_r, threads, blob_task, &m);
    uw_fast_tab_free(ft);
    return s;
}
