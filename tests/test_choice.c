/* test_choice.c - running a pipeline with explicit per-call parameters (usage: test_choice
 * BACKEND): every offered value of every parameter gives the bits of the defaults, on every
 * pipeline the backend offers; a name or value the device does not offer, AUTO or an unknown
 * pipeline in a choice are UW_ERR_INVALID_ARG; a pipeline whose resident form is missing is
 * UW_ERR_UNSUPPORTED with a message naming the form, the same on every backend. Exit 77 when
 * the backend has no device here. */
#include "test_util.h"

static const uw_pipeline pipes[] = {UW_PIPELINE_DECODE_GEMM, UW_PIPELINE_EXP_PREDECODE, UW_PIPELINE_PALETTE_TRANSCODE,
                                    UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PLAIN_BF16};

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const char *backend = argv[1];
    uw_device *d;
    T_OPEN_DEVICE_OR_SKIP(backend, &d);
    CHECK(!strcmp(uw_device_backend(d), backend) && *uw_device_driver(d), "the device names its backend and driver");
    const uint64_t rows = 70, cols = 150, B = 3;
    uint16_t *w = malloc(rows * cols * 2), *x = malloc(B * cols * 2);
    t_fill("gauss", w, rows * cols, cols);
    for (uint64_t i = 0; i < B * cols; i++) x[i] = t_bf16((float)t_normal());
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    ep.tile_rows = 32, ep.tile_cols = 64, ep.lanes = 8;
    uint8_t *blob;
    size_t bs;
    CHECK_OK(uw_tensor_encode(w, rows, cols, &ep, &blob, &bs), "encode");
    uw_weights *all, *huff;
    CHECK_OK(uw_weights_upload(d, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &all), "upload all forms");
    CHECK_OK(uw_weights_upload(d, blob, bs, UW_RESIDENT_HUFFMAN, &huff), "upload Huffman only");
    uint64_t r = 0, c = 0;
    CHECK(uw_weights_shape(all, &r, &c) == UW_OK && r == rows && c == cols && uw_weights_device(all) == d, "shape and device");
    float *y0 = malloc(B * rows * 4), *y1 = malloc(B * rows * 4);
    CHECK_OK(uw_weights_matmul(all, UW_PIPELINE_PLAIN_BF16, x, y0, B), "plain-bf16 at the defaults");

    /* 1. every offered value of every parameter, on every offered pipeline: the same bits */
    int np = uw_device_param_count(d), runs = 0;
    for (size_t p = 0; p < sizeof pipes / sizeof pipes[0]; p++) {
        if (uw_weights_matmul(all, pipes[p], x, y1, B) == UW_ERR_UNSUPPORTED) continue;
        for (int i = 0; i < np; i++) {
            uw_param_info pi;
            CHECK_OK(uw_device_param_info(d, i, &pi), "param %d", i);
            CHECK(pi.nvalues >= 1 && pi.name && *pi.name, "parameter %d has a name and a default", i);
            for (int v = 0; v < pi.nvalues; v++) {
                uw_choice ch;
                memset(&ch, 0, sizeof ch);
                ch.pipeline = pipes[p];
                ch.nparams = 1;
                snprintf(ch.param_names[0], sizeof ch.param_names[0], "%s", pi.name);
                ch.param_values[0] = pi.values[v];
                memset(y1, 0x7F, B * rows * 4);
                CHECK_OK(uw_weights_matmul_choice(all, &ch, x, y1, B), "%s %s=%d", uw_pipeline_name(pipes[p]), pi.name, pi.values[v]);
                CHECK(!memcmp(y0, y1, B * rows * 4), "%s with %s=%d gives plain-bf16's bits", uw_pipeline_name(pipes[p]), pi.name,
                      pi.values[v]);
                runs++;
            }
        }
        uw_choice dflt;
        memset(&dflt, 0, sizeof dflt);
        dflt.pipeline = pipes[p];
        memset(y1, 0x7F, B * rows * 4);
        CHECK_OK(uw_weights_matmul_choice(all, &dflt, x, y1, B), "%s with no parameter named", uw_pipeline_name(pipes[p]));
        CHECK(!memcmp(y0, y1, B * rows * 4), "%s at the defaults gives plain-bf16's bits", uw_pipeline_name(pipes[p]));
    }
    printf("%s: %d parameters, %d explicit runs, all bit-identical\n", backend, np, runs);

    /* 2. what a choice may not hold */
    uw_choice bad;
    memset(&bad, 0, sizeof bad);
    bad.pipeline = UW_PIPELINE_FUSED_HUFFMAN;
    bad.nparams = 1;
    snprintf(bad.param_names[0], sizeof bad.param_names[0], "no-such-knob");
    CHECK(uw_weights_matmul_choice(all, &bad, x, y1, B) == UW_ERR_INVALID_ARG && strstr(uw_last_error(), "no-such-knob"),
          "an unknown parameter name is refused, by name");
    if (np) {
        uw_param_info pi;
        uw_device_param_info(d, 0, &pi);
        snprintf(bad.param_names[0], sizeof bad.param_names[0], "%s", pi.name);
        bad.param_values[0] = -12345;
        CHECK(uw_weights_matmul_choice(all, &bad, x, y1, B) == UW_ERR_INVALID_ARG && strstr(uw_last_error(), "not offered"),
              "a value the device does not offer is refused");
    }
    CHECK(uw_device_param_info(d, np, &(uw_param_info){0}) == UW_ERR_INVALID_ARG, "parameter index past the end is refused");
    bad.nparams = 0;
    bad.pipeline = UW_PIPELINE_AUTO;
    CHECK(uw_weights_matmul_choice(all, &bad, x, y1, B) == UW_ERR_INVALID_ARG, "a choice names a concrete pipeline, not AUTO");
    bad.pipeline = (uw_pipeline)99;
    CHECK(uw_weights_matmul_choice(all, &bad, x, y1, B) == UW_ERR_INVALID_ARG, "an unknown pipeline is refused");
    CHECK(uw_weights_matmul(all, (uw_pipeline)99, x, y1, B) == UW_ERR_INVALID_ARG, "an unknown pipeline is refused (uw_weights_matmul)");

    /* 3. a missing resident form: one status and one message whatever the backend */
    CHECK(uw_weights_matmul(huff, UW_PIPELINE_PLAIN_BF16, x, y1, B) == UW_ERR_UNSUPPORTED &&
              !strcmp(uw_last_error(), "pipeline plain-bf16 needs the BF16 form resident"),
          "plain-bf16 without the BF16 form: '%s'", uw_last_error());
    CHECK(uw_weights_matmul(huff, UW_PIPELINE_PALETTE_DIRECT, x, y1, B) == UW_ERR_UNSUPPORTED &&
              !strcmp(uw_last_error(), "pipeline palette-direct needs the palette IR form resident"),
          "palette-direct without the palette IR: '%s'", uw_last_error());
    CHECK(uw_weights_matmul(huff, UW_PIPELINE_FUSED_HUFFMAN, x, y1, B) == UW_OK && !memcmp(y0, y1, B * rows * 4),
          "fused-huffman runs with the Huffman form alone");

    /* 4. the default for an untuned shape (an empty tuner): by resident forms, and on the cpu
     * backend palette-direct when the Huffman and palette forms are both there */
    uw_tuner *empty;
    CHECK_OK(uw_tuner_open(NULL, &empty), "an empty tuner");
    uw_weights *hp;
    CHECK_OK(uw_weights_upload(d, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE, &hp), "upload Huffman + palette");
    uw_choice dc;
    CHECK(uw_tuner_choice(empty, huff, B, &dc) == UW_OK && dc.pipeline == UW_PIPELINE_FUSED_HUFFMAN && !dc.tuned,
          "Huffman alone: fused-huffman (got %s)", uw_pipeline_name(dc.pipeline));
    uw_pipeline want = !strcmp(backend, "cpu") ? UW_PIPELINE_PALETTE_DIRECT : UW_PIPELINE_FUSED_HUFFMAN;
    CHECK(uw_tuner_choice(empty, hp, B, &dc) == UW_OK && dc.pipeline == want && !dc.tuned,
          "Huffman + palette on %s: %s (got %s)", backend, uw_pipeline_name(want), uw_pipeline_name(dc.pipeline));
    CHECK(uw_weights_matmul_choice(hp, &dc, x, y1, B) == UW_OK && !memcmp(y0, y1, B * rows * 4), "the default runs, plain-bf16's bits");
    uw_weights_free(hp);
    uw_tuner_close(empty);

    uw_weights_free(all);
    uw_weights_free(huff);
    uw_device_close(d);
    uw_free(blob);
    free(w), free(x), free(y0), free(y1);
    T_DONE();
}
