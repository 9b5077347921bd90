/* test_decode_reject.c - every decoder rejects the same damaged streams, in the same words.
 * Blobs (Huffman in each rare mode and symbol order, and palette IR) get bits flipped in their
 * lane offsets and streams (or exceptions and nibbles); the blob checksum is recomputed, so the
 * damage reaches the decoders. For the backend under test (argv[1]), decoding the resident
 * weights and every matmul pipeline that decodes them must reject (UW_ERR_CORRUPT) exactly the
 * streams the CPU reference decoder rejects, naming the broken rule in the shared decode error
 * vocabulary (codecs/decode_errors.h); what the reference accepts must not be rejected.
 * Exit 77 (CTest: skipped, not passed) when the backend has no device here. */
#include "../codecs/blob.h"
#include "../codecs/decode_errors.h"
#include "test_isa.h"
#include "test_util.h"

static uw_device *dev;
static const char *backend;
static int checked, rejected, by_kernel;

/* the message names a rule of the shared vocabulary */
static int names_a_rule(const char *msg) {
    for (unsigned i = 0; i < UW_DERR_COUNT; i++)
        if (strstr(msg, uw_derr_text(1u << i))) return 1;
    return 0;
}

/* ref: the reference decoder's verdict on the damaged blob (UW_ERR_CORRUPT or not) */
static void check_verdict(const char *what, const char *path, uw_status got, int ref_rejects) {
    if (got == UW_ERR_UNSUPPORTED) return; /* a pipeline this backend does not offer */
    checked++;
    if (ref_rejects) {
        CHECK(got == UW_ERR_CORRUPT, "%s: %s %s accepts a stream the reference decoder rejects (%s)", what, backend, path,
              uw_status_name(got));
        if (got == UW_ERR_CORRUPT)
            CHECK(names_a_rule(uw_last_error()), "%s: %s %s names the broken rule in the shared vocabulary", what, backend, path);
    } else {
        CHECK(got != UW_ERR_CORRUPT, "%s: %s %s rejects a stream the reference decoder accepts", what, backend, path);
    }
}

static void check_damaged(const char *what, const uint8_t *blob, size_t size, uint64_t rows, uint64_t cols) {
    uw_blob b;
    if (uw_blob_parse(blob, size, &b) != UW_OK) return; /* caught by the structural checks: not a decoder's job */
    uint64_t n = rows * cols;
    uint16_t *out = malloc(n * 2), *x = malloc(cols * 2);
    float *y = malloc(rows * 4);
    for (uint64_t k = 0; k < cols; k++) x[k] = (uint16_t)(0x3F80 + (k % 7));
    uw_status ref = uw_blob_decode_ref(blob, size, out, n);
    int ref_rejects = ref == UW_ERR_CORRUPT;
    if (ref_rejects) {
        rejected++;
        CHECK(names_a_rule(uw_last_error()), "%s: the reference decoder names the broken rule", what);
    }
    unsigned resident = b.codec == UW_CODEC_HUFFMAN ? UW_RESIDENT_HUFFMAN : UW_RESIDENT_PALETTE;
    uw_weights *w = NULL;
    uw_status s = uw_weights_upload(dev, blob, size, resident, &w);
    if (s != UW_OK) { /* a backend that validates on upload (cuda, hip: host decode first) */
        check_verdict(what, "upload", s, ref_rejects);
    } else {
        check_verdict(what, "decode", uw_weights_decode(w, out, n), ref_rejects);
        static const uw_pipeline huff[] = {UW_PIPELINE_DECODE_GEMM, UW_PIPELINE_EXP_PREDECODE, UW_PIPELINE_PALETTE_TRANSCODE,
                                           UW_PIPELINE_FUSED_HUFFMAN};
        const uw_pipeline *pipes = huff;
        size_t np = 4;
        static const uw_pipeline pal[] = {UW_PIPELINE_PALETTE_DIRECT};
        if (b.codec == UW_CODEC_PALETTE) pipes = pal, np = 1;
        for (size_t p = 0; p < np; p++)
            check_verdict(what, uw_pipeline_name(pipes[p]), uw_weights_matmul(w, pipes[p], x, y, 1), ref_rejects);
        by_kernel += ref_rejects;
        uw_weights_free(w);
    }
    free(out), free(x), free(y);
}

/* flip every `step`-th bit of [a, b) bytes, one at a time, checksum recomputed */
static void flips(const char *name, uint8_t *blob, size_t size, uint64_t a, uint64_t b, uint64_t step, uint64_t rows,
                  uint64_t cols) {
    uw_blob pb;
    if (uw_blob_parse(blob, size, &pb) != UW_OK) return;
    for (uint64_t bit = a * 8 + 3; bit < b * 8; bit += step) {
        uint8_t *d = malloc(size);
        memcpy(d, blob, size);
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        uw_wr64(d + 120, uw_blob_compute_hash(d, pb.payload_end));
        char what[160];
        snprintf(what, sizeof what, "%s, bit %llu flipped", name, (unsigned long long)bit);
        check_damaged(what, d, size, rows, cols);
        free(d);
    }
}

int main(int argc, char **argv) {
    t_isa_or_skip();
    if (argc != 2) {
        fprintf(stderr, "usage: test_decode_reject BACKEND\n");
        return 2;
    }
    backend = argv[1];
    uw_status s = uw_device_open(backend, NULL, &dev);
    if (s == UW_ERR_NO_DEVICE) {
        printf("%s: no device (%s): NOT run\n", backend, uw_last_error());
        return 77;
    }
    CHECK(s == UW_OK, "open backend %s", backend);
    if (s != UW_OK) T_DONE();
    const uint64_t rows = 40, cols = 71; /* edge tiles of 7 columns: odd chunks, padding symbols */
    static const struct { const char *data; int codec, rare, order; uint32_t chunk; } cases[] = {
        {"gauss", UW_CODEC_HUFFMAN, UW_RARE_NONE, 1, 0},        {"gauss", UW_CODEC_HUFFMAN, UW_RARE_NONE, 2, 0},
        {"rare_0p2pct", UW_CODEC_HUFFMAN, UW_RARE_ESCAPE, 1, 0}, {"spread40", UW_CODEC_HUFFMAN, UW_RARE_ESCAPE, 2, 0},
        {"all_verbatim", UW_CODEC_HUFFMAN, UW_RARE_VERBATIM, 1, 8}, {"spread40", UW_CODEC_HUFFMAN, UW_RARE_VERBATIM, 2, 16},
        {"spread40", UW_CODEC_PALETTE, UW_RARE_AUTO, 0, 0},
    };
    uint16_t *w = malloc(rows * cols * 2);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        t_fill(cases[c].data, w, rows * cols, cols);
        uw_encode_params p;
        uw_encode_params_default(&p);
        p.codec = cases[c].codec, p.rare_mode = cases[c].rare, p.sym_order = cases[c].order, p.chunk_len = cases[c].chunk;
        p.tile_rows = 16, p.tile_cols = 32, p.lanes = cases[c].codec == UW_CODEC_HUFFMAN ? 4 : 0;
        uint8_t *blob;
        size_t bs;
        CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode %s", cases[c].data);
        uw_blob b;
        CHECK_OK(uw_blob_parse(blob, bs, &b), "parse %s", cases[c].data);
        char name[96];
        snprintf(name, sizeof name, "%s codec %d rare %d order %d", cases[c].data, b.codec, b.rare_mode, b.order);
        if (b.codec == UW_CODEC_HUFFMAN) flips(name, blob, bs, b.off_laneoff, b.off_stream + b.count, 29, rows, cols);
        else flips(name, blob, bs, b.off_exc, b.off_nibbles + (b.n + 1) / 2, 13, rows, cols);
        uw_free(blob);
    }
    free(w);
    printf("%s: %d verdicts checked; %d damaged streams rejected by the reference decoder, %d of them reached the device decoders\n",
           backend, checked, rejected, by_kernel);
    CHECK(rejected > 0 && checked > rejected, "the damage covers rejected and accepted streams");
    uw_device_close(dev);
    T_DONE();
}
