/* retile.c - re-encoding a parsed blob: in another tile geometry (what a backend does on load
 * when the blob's tiles do not suit it, FORMAT.md section 4.2) or as the palette IR
 * (uw_blob_to_palette). The one copy of this logic; the OpenCL and CUDA/HIP uploads call it. */
#include <stdlib.h>

#include "decode.h"
#include "encode.h"

static uw_status encode_as(const uw_blob *b, const uint16_t *w, int codec, uint32_t tile_rows, uint32_t tile_cols,
                           uint32_t lanes, uint8_t **out, size_t *out_size) {
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.codec = codec;
    p.tile_rows = tile_rows;
    p.tile_cols = tile_cols;
    p.lanes = codec == UW_CODEC_HUFFMAN ? lanes : 0;
    int same_codec = b->codec == UW_CODEC_HUFFMAN && codec == UW_CODEC_HUFFMAN;
    if (same_codec) { /* keep the blob's choices */
        p.rare_mode = b->rare_mode;
        p.sym_order = b->order;
        p.chunk_len = b->chunk;
    }
    uw_status s = uw_tensor_encode(w, b->rows, b->cols, &p, out, out_size);
    if (s != UW_OK && same_codec) { /* its choices may not carry over to other tiles: let the encoder pick */
        p.rare_mode = UW_RARE_AUTO;
        p.sym_order = 0;
        p.chunk_len = 0;
        s = uw_tensor_encode(w, b->rows, b->cols, &p, out, out_size);
    }
    return s;
}

uw_status uw_blob_retile(const uw_blob *b, const uint16_t *decoded, int codec, uint32_t tile_rows, uint32_t tile_cols,
                         uint32_t lanes, uint8_t **out, size_t *out_size) {
    UW_RETURN_ERROR_IF(!out || !out_size, UW_ERR_INVALID_ARG, "re-tile: NULL output");
    *out = NULL;
    if (decoded) return encode_as(b, decoded, codec, tile_rows, tile_cols, lanes, out, out_size);
    uint16_t *w = malloc(b->n * 2);
    UW_RETURN_ERROR_IF(!w, UW_ERR_NOMEM, "re-tile: out of memory for a %llu-element tensor", (unsigned long long)b->n);
    uw_status s = uw_codec_decode_blob(b, w, 0, 1);
    if (s == UW_OK) s = encode_as(b, w, codec, tile_rows, tile_cols, lanes, out, out_size);
    free(w);
    return s;
}

uw_status uw_blob_to_palette(const void *blob, size_t size, uint8_t **out, size_t *out_size) {
    uw_blob b;
    UW_RETURN_ERROR_IF(!out || !out_size, UW_ERR_INVALID_ARG, "transcode: NULL output");
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    return uw_blob_retile(&b, NULL, UW_CODEC_PALETTE, b.tile_rows, b.tile_cols, 0, out, out_size);
}
