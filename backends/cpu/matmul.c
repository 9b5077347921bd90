/* matmul.c - CPU y = x * W^T in fp32 with a fixed accumulation order (k ascending), on plain
 * BF16 weights and on a blob decoded band by band into scratch: the same inner kernel, hence
 * bit-identical results (contract C2). Built with -ffp-contract=off so no FMA changes rounding. */
#include <stdlib.h>

#include "cpu_decode.h"

static inline float bf16_to_f32(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* rows [o0, o0+nr) of W given as w (row stride in); y row stride out */
static void kernel(const uint16_t *x, const uint16_t *w, float *y, uint64_t batch, uint64_t out, uint64_t in,
                   uint64_t o0, uint64_t nr) {
    for (uint64_t bi = 0; bi < batch; bi++) {
        const uint16_t *xr = x + bi * in;
        for (uint64_t o = 0; o < nr; o++) {
            const uint16_t *wr = w + o * in;
            float acc = 0.0f;
            for (uint64_t k = 0; k < in; k++) acc += bf16_to_f32(xr[k]) * bf16_to_f32(wr[k]);
            y[bi * out + o0 + o] = acc;
        }
    }
}

typedef struct mm_ctx {
    const uint16_t *x, *w;
    float *y;
    uint64_t batch, out, in, band;
    const uw_blob *b;
} mm_ctx;

static uw_status plain_task(void *ctx, uint64_t i, int worker) {
    mm_ctx *m = ctx;
    (void)worker;
    uint64_t o0 = i * m->band, nr = m->out - o0 < m->band ? m->out - o0 : m->band;
    kernel(m->x, m->w + o0 * m->in, m->y, m->batch, m->out, m->in, o0, nr);
    return UW_OK;
}

static uw_status blob_task(void *ctx, uint64_t ti, int worker) {
    mm_ctx *m = ctx;
    const uw_blob *b = m->b;
    (void)worker;
    uint64_t o0 = ti * b->tile_rows, nr = b->rows - o0 < b->tile_rows ? b->rows - o0 : b->tile_rows;
    uint16_t *band = malloc(nr * b->cols * 2);
    if (!band) return uw_error_set(UW_ERR_NOMEM, "matmul: out of memory for a weight band");
    uw_status s = uw_cpu_decode_band(b, ti, band);
    if (s == UW_OK) kernel(m->x, band, m->y, m->batch, m->out, m->in, o0, nr);
    free(band);
    return s;
}

uw_status uw_matmul_bf16(const uint16_t *x, const uint16_t *w, float *y, uint64_t batch, uint64_t out, uint64_t in,
                         int threads) {
    UW_RETURN_ERROR_IF(!x || !w || !y || !batch || !out || !in, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    mm_ctx m = {x, w, y, batch, out, in, 64, NULL};
    return uw_parallel_for((out + m.band - 1) / m.band, threads, plain_task, &m);
}

uw_status uw_matmul_blob(const void *blob, size_t size, const uint16_t *x, float *y, uint64_t batch, int threads) {
    uw_blob b;
    UW_RETURN_ERROR_IF(!x || !y || !batch, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    mm_ctx m = {x, NULL, y, batch, b.rows, b.cols, b.tile_rows, &b};
    return uw_parallel_for(b.tiles_r, threads, blob_task, &m);
}
