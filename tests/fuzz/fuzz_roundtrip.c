/* fuzz_roundtrip.c - libFuzzer target: arbitrary shape, encoder parameters and BF16 values ->
 * encode -> both decoders, palette IR and matmul must reproduce the input exactly. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz in = {data, size, 0};
    uint32_t big = fz_u8(&in); /* mostly small tensors, some up to 64 x 300 */
    uint64_t rows = 1 + fz_u8(&in) % (big & 1 ? 64 : 16), cols = 1 + fz_u16(&in) % (big & 2 ? 300 : 48);
    uw_encode_params p;
    uw_encode_params_default(&p);
    uint32_t x = fz_u8(&in);
    p.codec = x & 1 ? UW_CODEC_PALETTE : UW_CODEC_HUFFMAN;
    p.rare_mode = (int)((x >> 1) % 4) - 1; /* -1 auto .. 2 verbatim */
    p.sym_order = (int)((x >> 3) % 3);
    uint32_t c = fz_u8(&in) % 12;
    p.chunk_len = c < 3 ? 0 : 1u << c; /* 0 or 8..2048 */
    uint32_t t = fz_u8(&in);
    p.tile_rows = t & 1 ? 1 + fz_u8(&in) % 64 : 0;
    p.tile_cols = t & 2 ? 1 + fz_u16(&in) % 320 : 0;
    p.lanes = t & 4 ? 1 + fz_u8(&in) % 40 : 0;
    p.threads = 1;
    /* values: raw 16-bit words, or exponents drawn from a small fuzz-chosen table (skewed
     * towards its first entries) so that palettes, rare exponents and verbatim chunks occur */
    uint32_t vmode = fz_u8(&in) & 1;
    uint8_t table[24];
    uint32_t ntab = 1 + fz_u8(&in) % 24;
    for (uint32_t k = 0; k < ntab; k++) table[k] = (uint8_t)fz_u8(&in);
    uint64_t n = rows * cols;
    uint16_t *w = malloc(n * 2), *o = malloc(n * 2);
    if (!w || !o) { free(w); free(o); return 0; }
    size_t body = fz_left(&in), at = in.i;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t v = body ? data[at + (i * 2) % body] | (uint32_t)data[at + (i * 2 + 1) % body] << 8 : (uint32_t)i * 2654435761u >> 16;
        if (vmode) {
            uint32_t r = v & 0xFF, idx = r < 200 ? r % (ntab < 4 ? ntab : 4) : r % ntab;
            v = (v & 0x8000) | ((uint32_t)table[idx] << 7) | ((v >> 8) & 0x7F);
        }
        w[i] = (uint16_t)v;
    }
    uint8_t *blob = NULL, *pal = NULL;
    size_t bs = 0, ps = 0;
    if (uw_tensor_encode(w, rows, cols, &p, &blob, &bs) != UW_OK) goto out;
    FZ_REQUIRE(uw_blob_check(blob, bs) == UW_OK, "checksum of a fresh blob");
    uw_blob_info bi;
    FZ_REQUIRE(uw_blob_inspect(blob, bs, &bi) == UW_OK && bi.rows == rows && bi.cols == cols, "inspect");
    memset(o, 0, n * 2);
    FZ_REQUIRE(uw_blob_decode(blob, bs, o, n, 1) == UW_OK, "fast decode of a fresh blob");
    FZ_REQUIRE(!memcmp(o, w, n * 2), "fast decode reproduces the tensor");
    memset(o, 0, n * 2);
    FZ_REQUIRE(uw_blob_decode_ref(blob, bs, o, n) == UW_OK, "reference decode of a fresh blob");
    FZ_REQUIRE(!memcmp(o, w, n * 2), "reference decode reproduces the tensor");
    if (p.codec == UW_CODEC_HUFFMAN) {
        FZ_REQUIRE(uw_blob_to_palette(blob, bs, &pal, &ps) == UW_OK, "transcode to the palette IR");
        memset(o, 0, n * 2);
        FZ_REQUIRE(uw_blob_decode(pal, ps, o, n, 1) == UW_OK && !memcmp(o, w, n * 2), "palette IR reproduces the tensor");
    }
    if (n <= 8192) {
        uint16_t *xb = malloc(cols * 2 * 2);
        float *y1 = malloc(rows * 2 * 4), *y2 = malloc(rows * 2 * 4);
        if (xb && y1 && y2) {
            for (uint64_t k = 0; k < cols * 2; k++) xb[k] = (uint16_t)(0x3C00 + (k * 37) % 0x800);
            FZ_REQUIRE(uw_matmul_blob(blob, bs, xb, y1, 2, 1) == UW_OK, "compressed matmul runs");
            FZ_REQUIRE(uw_matmul_bf16(xb, w, y2, 2, rows, cols, 1) == UW_OK, "plain matmul runs");
            FZ_REQUIRE(fz_same_f32(y1, y2, rows * 2), "compressed matmul bit-identical to plain (C2)");
        }
        free(xb);
        free(y1);
        free(y2);
    }
out:
    uw_free(blob);
    uw_free(pal);
    free(w);
    free(o);
    return 0;
}
