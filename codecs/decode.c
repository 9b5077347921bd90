/* decode.c - whole-blob, tile-row and band decodes on the CPU (tile-parallel) and the public
 * decode entry points uw_blob_decode / uw_blob_decode_ref. */
#include <stdlib.h>

#include "decode.h"

typedef struct dec_ctx {
    const uw_blob *b;
    const uw_fast_tab *ft;
    uint16_t *out;   /* element (row0, 0) of the matrix */
    uint64_t t0, row0;
    int fast;
} dec_ctx;

static uw_status dec_task(void *ctx, uint64_t i, int worker) {
    dec_ctx *d = ctx;
    (void)worker;
    uint64_t r0, c0, t = d->t0 + i;
    uint32_t tr, tc;
    uw_tile_rect(d->b, t, &r0, &tr, &c0, &tc);
    uint16_t *dst = d->out + (r0 - d->row0) * d->b->cols + c0;
    return d->fast ? uw_codec_decode_tile_fast(d->b, d->ft, t, dst, d->b->cols)
                   : uw_codec_decode_tile_ref(d->b, t, dst, d->b->cols);
}

uw_status uw_codec_decode_rows(const uw_blob *b, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads, int fast) {
    uw_fast_tab *ft = NULL;
    if (fast) UW_FORWARD_IF_ERROR(uw_fast_tab_new(b, &ft));
    dec_ctx d = {b, ft, out, ti0 * b->tiles_c, ti0 * b->tile_rows, fast};
    uw_status s = uw_parallel_for((ti1 - ti0) * b->tiles_c, threads, dec_task, &d);
    uw_fast_tab_free(ft);
    return s;
}

uw_status uw_codec_decode_blob(const uw_blob *b, uint16_t *out, int threads, int fast) {
    UW_FORWARD_IF_ERROR(uw_codec_decode_rows(b, 0, b->tiles_r, out, threads, fast));
    if (uw_hash64(out, b->n * 2) != b->tensor_hash)
        return uw_error_set(UW_ERR_CHECKSUM, "decoded tensor checksum mismatch (the compressed data is damaged)");
    return UW_OK;
}

uw_status uw_codec_decode_band(const uw_blob *b, const uw_fast_tab *ft, uint64_t tile_row, uint16_t *band, uint64_t ld) {
    UW_RETURN_ERROR_IF(!band || tile_row >= b->tiles_r || ld < b->cols || (b->codec == UW_CODEC_HUFFMAN && !ft),
                       UW_ERR_INVALID_ARG, "decode: band %llu of %llu, row stride %llu, %s tables: bad argument",
                       (unsigned long long)tile_row, (unsigned long long)b->tiles_r, (unsigned long long)ld, ft ? "with" : "no");
    for (uint64_t tj = 0; tj < b->tiles_c; tj++)
        UW_FORWARD_IF_ERROR(uw_codec_decode_tile_fast(b, ft, tile_row * b->tiles_c + tj, band + tj * b->tile_cols, ld));
    return UW_OK;
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
