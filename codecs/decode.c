/* decode.c - whole-blob, tile-row and band decodes on the CPU and the public decode entry points
 * uw_blob_decode / uw_blob_decode_ref. Work is cut into tasks of whole tile rows (each task's
 * lanes share one pool of the fast decoder); tasks run on the thread pool, and the tensor
 * checksum is fed each task's rows in order as soon as they and all before them are done, by the
 * thread that finished them, while they are still in its cache. */
#include <stdlib.h>

#include "decode.h"

/* elements per task: enough lanes for the pool, output small enough to stay in L2 for the hash;
 * with several threads half as many, so that a tensor's tasks share out evenly (an MLP matrix of
 * 884K elements: 14 tasks rather than 7, which two threads split 4:3) */
#define TASK_ELEMS ((uint64_t)1 << 17)

typedef struct dec_ctx {
    const uw_blob *b;
    const uw_fast_tab *ft;
    uint16_t *out;        /* element (row0, 0) of the matrix */
    uint64_t ti0, ti1, per, row0;
    int fast;
    uint64_t ntasks;
    uw_ordered_hash oh;   /* the checksum, fed the tasks' rows in order (no-op without a hash) */
} dec_ctx;

/* task i's rows, for the checksum */
static void task_piece(void *ctx, uint64_t i, const void **p, size_t *n) {
    const dec_ctx *d = ctx;
    uint64_t ta = d->ti0 + i * d->per, tz = ta + d->per < d->ti1 ? ta + d->per : d->ti1;
    uint64_t a = ta * d->b->tile_rows, z = tz * d->b->tile_rows < d->b->rows ? tz * d->b->tile_rows : d->b->rows;
    *p = d->out + (a - d->row0) * d->b->cols;
    *n = (z - a) * d->b->cols * 2;
}

static uw_status dec_task(void *ctx, uint64_t i, int worker) {
    dec_ctx *d = ctx;
    const uw_blob *b = d->b;
    (void)worker;
    uint64_t ta = d->ti0 + i * d->per, tz = ta + d->per < d->ti1 ? ta + d->per : d->ti1;
    uint16_t *dst = d->out + (ta * b->tile_rows - d->row0) * b->cols;
    if (d->fast) {
        UW_FORWARD_IF_ERROR(uw_codec_decode_tiles_fast(b, d->ft, ta * b->tiles_c, tz * b->tiles_c, dst, ta * b->tile_rows, b->cols));
    } else {
        for (uint64_t t = ta * b->tiles_c; t < tz * b->tiles_c; t++) {
            uint64_t r0, c0;
            uint32_t tr, tc;
            uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
            UW_FORWARD_IF_ERROR(uw_codec_decode_tile_ref(b, t, dst + (r0 - ta * b->tile_rows) * b->cols + c0, b->cols));
        }
    }
    uw_ordered_hash_done(&d->oh, i);
    return UW_OK;
}

static uw_status decode_rows(const uw_blob *b, const uw_fast_tab *ft, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads, int fast,
                             uw_hash_state *h) {
    dec_ctx d;
    memset(&d, 0, sizeof d);
    d.b = b;
    d.ft = ft;
    d.out = out;
    d.ti0 = ti0;
    d.ti1 = ti1;
    d.row0 = ti0 * b->tile_rows;
    d.fast = fast;
    uint64_t band = (uint64_t)b->tile_rows * b->cols;
    uint64_t task = uw_threads_resolve(threads) > 1 ? TASK_ELEMS / 2 : TASK_ELEMS;
    d.per = band >= task ? 1 : task / band;
    d.ntasks = ti1 > ti0 ? (ti1 - ti0 + d.per - 1) / d.per : 0;
    UW_FORWARD_IF_ERROR(uw_ordered_hash_init(&d.oh, h, d.ntasks, task_piece, &d));
    uw_status s = uw_parallel_for(d.ntasks, threads, dec_task, &d);
    uw_ordered_hash_free(&d.oh);
    return s;
}

uw_status uw_codec_decode_rows_with(const uw_blob *b, const uw_fast_tab *ft, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads,
                                    uw_hash_state *h) {
    return decode_rows(b, ft, ti0, ti1, out, threads, 1, h);
}

uw_status uw_codec_decode_rows(const uw_blob *b, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads, int fast) {
    uw_fast_tab *ft = NULL;
    if (fast) UW_FORWARD_IF_ERROR(uw_fast_tab_new(b, &ft));
    uw_status s = decode_rows(b, ft, ti0, ti1, out, threads, fast, NULL);
    uw_fast_tab_free(ft);
    return s;
}

uw_status uw_codec_decode_blob(const uw_blob *b, uint16_t *out, int threads, int fast) {
    uw_fast_tab *ft = NULL;
    if (fast) UW_FORWARD_IF_ERROR(uw_fast_tab_new(b, &ft));
    uw_hash_state *h = uw_hash_state_new();
    uw_status s = h ? decode_rows(b, ft, 0, b->tiles_r, out, threads, fast, h) : uw_error_set(UW_ERR_NOMEM, "decoder: out of memory");
    uw_fast_tab_free(ft);
    if (h && uw_hash_digest(h) != b->tensor_hash && s == UW_OK)
        s = uw_error_set(UW_ERR_CHECKSUM, "decoded tensor checksum mismatch (the compressed data is damaged)");
    return s;
}

uw_status uw_codec_decode_band(const uw_blob *b, const uw_fast_tab *ft, uint64_t tile_row, uint16_t *band, uint64_t ld) {
    UW_RETURN_ERROR_IF(!band || tile_row >= b->tiles_r || ld < b->cols || (b->codec == UW_CODEC_HUFFMAN && !ft),
                       UW_ERR_INVALID_ARG, "decode: band %llu of %llu, row stride %llu, %s tables: bad argument",
                       (unsigned long long)tile_row, (unsigned long long)b->tiles_r, (unsigned long long)ld, ft ? "with" : "no");
    return uw_codec_decode_tiles_fast(b, ft, tile_row * b->tiles_c, (tile_row + 1) * b->tiles_c, band, tile_row * b->tile_rows, ld);
}

static uw_status decode_common(const void *blob, size_t size, uint16_t *out, uint64_t out_elems, int threads, int fast) {
    uw_blob b;
    UW_RETURN_ERROR_IF(!out, UW_ERR_INVALID_ARG, "decode: NULL output");
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    UW_RETURN_ERROR_IF(out_elems != b.n, UW_ERR_INVALID_ARG, "decode: output holds %llu elements, tensor has %llu",
                       (unsigned long long)out_elems, (unsigned long long)b.n);
    return uw_codec_decode_blob(&b, out, threads, fast);
}

uw_status uw_blob_decode(const void *blob, size_t size, uint16_t *out, uint64_t out_elems, int threads) {
    return decode_common(blob, size, out, out_elems, threads, 1);
}

uw_status uw_blob_decode_ref(const void *blob, size_t size, uint16_t *out, uint64_t out_elems) {
    return decode_common(blob, size, out, out_elems, 1, 0);
}
