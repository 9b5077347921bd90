/* test_blob_corrupt.c - integrity of a blob: every single-bit flip anywhere in a small blob is
 * caught by the blob checksum, and the decoders, fed the damaged blob without that check,
 * either reject it or still produce the exact original (never wrong bytes, never a crash).
 * Truncations at every length are rejected by the parser. */
#include "test_isa.h"
#include "test_util.h"

static void flips(const char *cname, int codec, int rare) {
    const uint64_t rows = 9, cols = 70, n = rows * cols;
    uint16_t *w = malloc(n * 2), *o = malloc(n * 2);
    t_fill(cname, w, n, cols);
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.codec = codec;
    p.rare_mode = rare;
    p.tile_rows = 4;
    p.tile_cols = 32;
    p.lanes = codec == UW_CODEC_HUFFMAN ? 2 : 0;
    uint8_t *blob;
    size_t bs;
    CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode");
    int detected = 0, wrong = 0;
    for (size_t bit = 0; bit < bs * 8; bit++) {
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (uw_blob_check(blob, bs) != UW_OK) detected++;
        uw_status s1 = uw_blob_decode(blob, bs, o, n, 1);
        if (s1 == UW_OK && memcmp(o, w, n * 2)) wrong++;
        uw_status s2 = uw_blob_decode_ref(blob, bs, o, n);
        if (s2 == UW_OK && memcmp(o, w, n * 2)) wrong++;
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(detected == (int)(bs * 8), "every one of %zu bit flips is detected by the blob checksum (%d were)", bs * 8, detected);
    CHECK(wrong == 0, "no bit flip decodes to wrong bytes with status OK (%d did)", wrong);
    for (size_t len = 0; len < bs; len++)
        CHECK(uw_blob_inspect(blob, len, NULL) != UW_OK, "truncated blob of %zu/%zu bytes is rejected", len, bs);
    printf("%s codec %d rare %d: %zu-byte blob, %zu flips detected\n", cname, codec, rare, bs, bs * 8);
    uw_free(blob);
    free(w);
    free(o);
}

int main(void) {
    t_isa_or_skip();
    flips("gauss", UW_CODEC_HUFFMAN, UW_RARE_AUTO);
    flips("all_verbatim", UW_CODEC_HUFFMAN, UW_RARE_VERBATIM);
    flips("all_verbatim", UW_CODEC_HUFFMAN, UW_RARE_ESCAPE);
    flips("rare_0p2pct", UW_CODEC_PALETTE, UW_RARE_AUTO);
    T_DONE();
}
