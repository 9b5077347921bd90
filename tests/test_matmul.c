/* test_matmul.c - contract C2 on the CPU: y = x W^T from a compressed blob is bit-identical to
 * the plain BF16 kernel (Huffman and palette IR, every batch size), and C3: within the
 * recursive-summation bound gamma_n * sum|x||w| of a float64 reference. */
#include "test_util.h"
#include "uw_c3.h"

static void run(const char *cname, uint64_t out, uint64_t in, int codec) {
    uint16_t *w = malloc(out * in * 2);
    t_fill(cname, w, out * in, in);
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.codec = codec;
    p.tile_rows = 16; /* several bands, partial last band */
    p.lanes = 4;
    uint8_t *blob;
    size_t bs;
    CHECK_OK(uw_tensor_encode(w, out, in, &p, &blob, &bs), "encode");
    static const uint64_t batches[] = {1, 2, 7, 16, 64};
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        uint64_t B = batches[k];
        uint16_t *x = malloc(B * in * 2);
        for (uint64_t i = 0; i < B * in; i++) x[i] = t_bf16((float)t_normal());
        float *y0 = malloc(B * out * 4), *y1 = malloc(B * out * 4);
        CHECK_OK(uw_matmul_bf16(x, w, y0, B, out, in, 2), "plain matmul");
        CHECK_OK(uw_matmul_blob(blob, bs, x, y1, B, 2), "blob matmul");
        CHECK(!memcmp(y0, y1, B * out * 4), "C2: compressed matmul is bit-identical to plain (%s %llux%llu batch %llu codec %d)", cname,
              (unsigned long long)out, (unsigned long long)in, (unsigned long long)B, codec);
        if (!strcmp(cname, "gauss")) {
            double g = uw_c3_gamma_rn(in); /* round to nearest; no underflow floor: gauss data */
            for (uint64_t b = 0; b < B; b++)
                for (uint64_t o = 0; o < out; o++) {
                    double mag, ref = uw_c3_dot(x + b * in, w + o * in, in, &mag);
                    double err = fabs((double)y1[b * out + o] - ref);
                    if (err > g * mag) {
                        CHECK(0, "C3: |y - y64| = %g within gamma_n*sum|xw| = %g", err, g * mag);
                        b = B;
                        break;
                    }
                }
        }
        free(x);
        free(y0);
        free(y1);
    }
    uw_free(blob);
    free(w);
}

int main(void) {
    run("gauss", 100, 300, UW_CODEC_HUFFMAN);
    run("gauss", 37, 129, UW_CODEC_PALETTE);
    run("rare_0p2pct", 64, 1024, UW_CODEC_HUFFMAN);
    run("specials", 33, 65, UW_CODEC_HUFFMAN); /* inf/NaN propagate identically */
    run("all_verbatim", 20, 64, UW_CODEC_HUFFMAN);
    T_DONE();
}
