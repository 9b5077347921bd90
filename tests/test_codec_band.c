/* test_codec_band.c - the codec's band decode, the CPU matmul's entry point into the codec
 * (codecs/decode.h, label cpu): for Huffman blobs in each rare mode and order and for palette-IR
 * blobs, every tile row decoded with uw_codec_decode_band into a buffer with a padded row
 * stride, with tables built once per blob (uw_fast_tab_new) and shared by every band, is the
 * tensor's rows bit for bit and leaves the padding untouched; bad arguments are rejected. */
#include "../codecs/decode.h"
#include "test_isa.h"
#include "test_util.h"

static void check_bands(const char *what, const uint16_t *w, uint64_t rows, uint64_t cols, const uw_encode_params *p) {
    uint8_t *blob;
    size_t bs;
    CHECK_OK(uw_tensor_encode(w, rows, cols, p, &blob, &bs), "%s: encode", what);
    uw_blob b;
    CHECK_OK(uw_blob_parse(blob, bs, &b), "%s: parse", what);
    uw_fast_tab *ft = NULL;
    CHECK_OK(uw_fast_tab_new(&b, &ft), "%s: tables", what);
    CHECK((ft != NULL) == (b.codec == UW_CODEC_HUFFMAN), "%s: tables exactly for a Huffman blob", what);
    const uint64_t ld = cols + 5;
    uint16_t *band = malloc(b.tile_rows * ld * 2);
    int bad = 0;
    for (uint64_t ti = 0; ti < b.tiles_r && !bad; ti++) {
        uint64_t r0 = ti * b.tile_rows, nr = rows - r0 < b.tile_rows ? rows - r0 : b.tile_rows;
        memset(band, 0xA5, b.tile_rows * ld * 2);
        CHECK_OK(uw_codec_decode_band(&b, ft, ti, band, ld), "%s: band %llu", what, (unsigned long long)ti);
        for (uint64_t r = 0; r < nr && !bad; r++) {
            bad |= memcmp(band + r * ld, w + (r0 + r) * cols, cols * 2) != 0;
            for (uint64_t c = cols; c < ld; c++) bad |= band[r * ld + c] != 0xA5A5;
        }
    }
    CHECK(!bad, "%s: every band is the tensor's rows, the row padding untouched", what);
    CHECK(uw_codec_decode_band(&b, ft, b.tiles_r, band, ld) == UW_ERR_INVALID_ARG, "%s: a band past the last is rejected", what);
    CHECK(uw_codec_decode_band(&b, ft, 0, band, cols - 1) == UW_ERR_INVALID_ARG, "%s: a row stride under cols is rejected", what);
    if (b.codec == UW_CODEC_HUFFMAN)
        CHECK(uw_codec_decode_band(&b, NULL, 0, band, ld) == UW_ERR_INVALID_ARG, "%s: a Huffman band without tables is rejected", what);
    uw_fast_tab_free(ft);
    free(band);
    uw_free(blob);
}

int main(void) {
    t_isa_or_skip();
    static const struct { const char *data; int codec, rare, order; uint32_t chunk; } cases[] = {
        {"gauss", UW_CODEC_HUFFMAN, UW_RARE_AUTO, 0, 0},          {"gauss", UW_CODEC_HUFFMAN, UW_RARE_NONE, 1, 0},
        {"rare_0p2pct", UW_CODEC_HUFFMAN, UW_RARE_ESCAPE, 2, 0},   {"all_verbatim", UW_CODEC_HUFFMAN, UW_RARE_VERBATIM, 2, 8},
        {"one_exponent", UW_CODEC_HUFFMAN, UW_RARE_AUTO, 0, 0},    {"specials", UW_CODEC_PALETTE, UW_RARE_AUTO, 0, 0},
    };
    const uint64_t rows = 75, cols = 133;
    uint16_t *w = malloc(rows * cols * 2);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        t_fill(cases[c].data, w, rows * cols, cols);
        uw_encode_params p;
        uw_encode_params_default(&p);
        p.codec = cases[c].codec, p.rare_mode = cases[c].rare, p.sym_order = cases[c].order, p.chunk_len = cases[c].chunk;
        p.tile_rows = 16, p.tile_cols = 48, p.lanes = cases[c].codec == UW_CODEC_HUFFMAN ? 5 : 0;
        char what[96];
        snprintf(what, sizeof what, "%s codec %d rare %d order %d", cases[c].data, p.codec, p.rare_mode, p.sym_order);
        check_bands(what, w, rows, cols, &p);
    }
    free(w);
    T_DONE();
}
