/* test_codec.c - codec properties on synthetic edge tensors (label cpu): every case round-trips
 * bit for bit through the fast and the reference decoder and through the palette IR, under
 * every rare-exponent mode, symbol order and tile geometry; package-merge is optimal; the decode
 * table's escape count from code lengths alone equals the table's own. */
#include "../codecs/decode_table.h"
#include "test_isa.h"
#include "test_util.h"

static const pset psets[] = {
    {"auto", UW_CODEC_HUFFMAN, 0, UW_RARE_AUTO, 0, 0, 0, 0},
    {"order1", UW_CODEC_HUFFMAN, 1, UW_RARE_AUTO, 0, 0, 0, 0},
    {"order2-escape", UW_CODEC_HUFFMAN, 2, UW_RARE_ESCAPE, 0, 0, 0, 0},
    {"order1-escape", UW_CODEC_HUFFMAN, 1, UW_RARE_ESCAPE, 0, 0, 0, 0},
    {"verbatim8", UW_CODEC_HUFFMAN, 0, UW_RARE_VERBATIM, 8, 0, 0, 0},
    {"verbatim256-order1", UW_CODEC_HUFFMAN, 1, UW_RARE_VERBATIM, 256, 0, 0, 0},
    {"tiny-tiles", UW_CODEC_HUFFMAN, 2, UW_RARE_AUTO, 0, 5, 7, 3},
    {"tall-tiles", UW_CODEC_HUFFMAN, 0, UW_RARE_AUTO, 0, 64, 16, 64},
    {"palette", UW_CODEC_PALETTE, 0, UW_RARE_AUTO, 0, 0, 0, 0},
    {"palette-tiny", UW_CODEC_PALETTE, 0, UW_RARE_AUTO, 0, 5, 7, 0},
};

static const uint64_t shapes[][2] = {{1, 1}, {1, 5000}, {5000, 1}, {37, 129}, {2, 4096}, {300, 1100}};

static void roundtrip_case(const char *cname, uint64_t rows, uint64_t cols) {
    uint64_t n = rows * cols;
    uint16_t *w = malloc(n * 2), *o = malloc(n * 2), *o2 = malloc(n * 2);
    t_fill(cname, w, n, cols);
    for (size_t k = 0; k < sizeof psets / sizeof psets[0]; k++) {
        const pset *ps = &psets[k];
        uw_encode_params p;
        t_pset_params(ps, &p);
        uint8_t *blob = NULL;
        size_t bs = 0;
        uw_status s = uw_tensor_encode(w, rows, cols, &p, &blob, &bs);
        if (s == UW_ERR_INVALID_ARG && ps->rare == UW_RARE_NONE) continue;
        CHECK(s == UW_OK, "encode %s %llux%llu %s", cname, (unsigned long long)rows, (unsigned long long)cols, ps->name);
        if (s != UW_OK) continue;
        CHECK(bs % 64 == 0, "blob length %zu is a multiple of 64", bs);
        CHECK_OK(uw_blob_check(blob, bs), "blob checksum %s %s", cname, ps->name);
        memset(o, 0xAB, n * 2);
        CHECK_OK(uw_blob_decode(blob, bs, o, n, 2), "fast decode %s %s", cname, ps->name);
        CHECK(!memcmp(o, w, n * 2), "fast decode is bit-exact: %s %llux%llu %s", cname, (unsigned long long)rows, (unsigned long long)cols, ps->name);
        memset(o2, 0xCD, n * 2);
        CHECK_OK(uw_blob_decode_ref(blob, bs, o2, n), "ref decode %s %s", cname, ps->name);
        CHECK(!memcmp(o2, w, n * 2), "reference decode is bit-exact: %s %llux%llu %s", cname, (unsigned long long)rows, (unsigned long long)cols, ps->name);
        if (ps->codec == UW_CODEC_HUFFMAN) {
            uw_blob b;
            CHECK_OK(uw_blob_parse(blob, bs, &b), "parse %s %s", cname, ps->name);
            if (b.codec == UW_CODEC_HUFFMAN) {
                uint32_t tab[1 << UW_DT_MAX_BITS], nesc = 0;
                uw_dtab_build(&b, tab);
                for (uint32_t i = 0; i < uw_dtab_entries(&b); i++) nesc += uw_dt_esc_a(tab[i]) || (b.order == 2 && uw_dt_esc_b(tab[i]));
                CHECK(uw_dtab_escapes(&b) == nesc, "escape entries counted from the code (%u) = in the table (%u): %s %s", uw_dtab_escapes(&b),
                      nesc, cname, ps->name);
            }
            uint8_t *pb = NULL;
            size_t ps2 = 0;
            CHECK_OK(uw_blob_to_palette(blob, bs, &pb, &ps2), "transcode %s %s", cname, ps->name);
            if (pb) {
                memset(o, 0, n * 2);
                CHECK_OK(uw_blob_decode(pb, ps2, o, n, 1), "palette decode %s", cname);
                CHECK(!memcmp(o, w, n * 2), "transcoded palette IR is bit-exact: %s %s", cname, ps->name);
                uw_free(pb);
            }
        }
        uw_free(blob);
    }
    free(w);
    free(o);
    free(o2);
}

/* brute force: minimal sum f*len over all length vectors with Kraft <= 1, lengths 1..L */
static uint64_t brute(const uint64_t *f, int n, int L, int i, uint64_t kraft_used, uint64_t cost) {
    if (i == n) return cost;
    uint64_t best = UINT64_MAX;
    for (int l = 1; l <= L; l++) {
        uint64_t k = (uint64_t)1 << (L - l);
        if (kraft_used + k > ((uint64_t)1 << L)) continue;
        uint64_t c = brute(f, n, L, i + 1, kraft_used + k, cost + f[i] * (uint64_t)l);
        if (c < best) best = c;
    }
    return best;
}

int uw_huff_lengths(const uint64_t *freq, int n, int maxlen, uint8_t *len_out); /* internal */
int uw_huff_complete(const uint8_t *len, int n, int maxlen);

static void test_huffman_optimal(void) {
    int trials = 0;
    for (int n = 2; n <= 7; n++)
        for (int L = 1; L <= 6; L++) {
            if ((1 << L) < n) continue;
            for (int rep = 0; rep < 30; rep++) {
                uint64_t f[8];
                for (int i = 0; i < n; i++) {
                    int kind = (int)(t_rand() % 3);
                    f[i] = 1 + (kind == 0 ? t_rand() % 10 : kind == 1 ? t_rand() % 1000 : (t_rand() % 2) << (t_rand() % 20));
                }
                uint8_t len[8];
                CHECK(uw_huff_lengths(f, n, L, len) == 0, "package-merge n=%d L=%d", n, L);
                uint64_t cost = 0;
                for (int i = 0; i < n; i++) {
                    CHECK(len[i] >= 1 && len[i] <= L, "length within 1..%d", L);
                    cost += f[i] * len[i];
                }
                CHECK(uw_huff_complete(len, n, L), "package-merge code is complete (Kraft sum 1)");
                uint64_t b = brute(f, n, L, 0, 0, 0);
                CHECK(cost == b, "package-merge cost %llu equals brute-force optimum %llu (n=%d L=%d)", (unsigned long long)cost,
                      (unsigned long long)b, n, L);
                trials++;
            }
        }
    /* unused symbols get no code; one used symbol is implied (length 0) */
    uint64_t f1[4] = {0, 5, 0, 0};
    uint8_t l1[4];
    CHECK(uw_huff_lengths(f1, 4, 12, l1) == 0 && !l1[0] && !l1[1] && !l1[2] && !l1[3], "single symbol gets length 0");
    uint64_t f2[3] = {1, 1, 1};
    uint8_t l2[3];
    CHECK(uw_huff_lengths(f2, 3, 1, l2) != 0, "3 symbols cannot fit lengths <= 1");
    printf("huffman optimality: %d random alphabets matched brute force\n", trials);
}

static void test_params_rejected(void) {
    uint16_t w[64] = {0};
    uint8_t *b;
    size_t bs;
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.tile_rows = 4;
    p.lanes = 5;
    CHECK(uw_tensor_encode(w, 8, 8, &p, &b, &bs) == UW_ERR_INVALID_ARG, "more lanes than tile rows is rejected");
    uw_encode_params_default(&p);
    p.chunk_len = 24;
    CHECK(uw_tensor_encode(w, 8, 8, &p, &b, &bs) == UW_ERR_INVALID_ARG, "chunk length not a power of two is rejected");
    uw_encode_params_default(&p);
    p.tile_rows = 65536;
    p.tile_cols = 65536;
    CHECK(uw_tensor_encode(w, 8, 8, &p, &b, &bs) == UW_ERR_INVALID_ARG, "tile over 2^24 elements is rejected");
    uw_encode_params_default(&p);
    CHECK(uw_tensor_encode(w, 0, 8, &p, &b, &bs) == UW_ERR_LIMIT, "empty tensor is rejected");
    uw_encode_params_default(&p);
    p.rare_mode = UW_RARE_NONE;
    uint16_t x[64];
    for (int i = 0; i < 64; i++) x[i] = t_mk(0, (unsigned)(60 + i), 0);
    CHECK(uw_tensor_encode(x, 8, 8, &p, &b, &bs) == UW_ERR_INVALID_ARG, "rare mode NONE with 64 exponents is rejected");
}

int main(void) {
    t_isa_or_skip();
    test_huffman_optimal();
    test_params_rejected();
    for (int c = 0; t_cases[c]; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) roundtrip_case(t_cases[c], shapes[s][0], shapes[s][1]);
    T_DONE();
}
