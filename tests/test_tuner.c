/* test_tuner.c - the autotuner and its cache on one backend (usage: test_tuner BACKEND DIR):
 * the tuner picks a pipeline the backend offers; AUTO runs exactly that pipeline (bitwise equal
 * output); the cache file round-trips and a second run does not re-tune; a corrupt file and a
 * stale entry (other driver) are ignored with a warning and AUTO falls back to the default.
 * Exit 77 when the backend has no device here. */
#include <unistd.h>

#include "test_util.h"

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const char *backend = argv[1];
    char path[1024];
    snprintf(path, sizeof path, "%s/tuner_%s.tsv", argv[2], backend);
    unlink(path);
    uw_device *d;
    T_OPEN_DEVICE_OR_SKIP(backend, &d);
    const uint64_t rows = 96, cols = 200, B = 5;
    uint16_t *w = malloc(rows * cols * 2), *x = malloc(B * cols * 2);
    t_fill("gauss", w, rows * cols, cols);
    for (uint64_t i = 0; i < B * cols; i++) x[i] = t_bf16((float)t_normal());
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.tile_rows = 32;
    p.tile_cols = 64;
    p.lanes = 8;
    uint8_t *blob;
    size_t bs;
    CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode");
    uw_weights *wt;
    CHECK_OK(uw_weights_upload_budget(d, blob, bs, (uint64_t)1 << 30, &wt), "upload under a budget");
    float *y0 = malloc(B * rows * 4), *y1 = malloc(B * rows * 4);

    /* 1. tune, pick a valid pipeline, AUTO == that pipeline */
    uw_tuner *t;
    CHECK_OK(uw_tuner_open(path, &t), "tuner open (no file yet)");
    CHECK(!strcmp(uw_tuner_warning(t), ""), "a missing cache file is not a warning: %s", uw_tuner_warning(t));
    uw_device_set_tuner(d, t);
    uw_choice c;
    CHECK_OK(uw_weights_choice(wt, B, &c), "choice before tuning");
    /* a 1 GiB budget keeps the Huffman and palette forms: the cpu backend's default is then
     * palette-direct, the others' fused-huffman (docs/TUNING.md) */
    uw_pipeline dflt = !strcmp(backend, "cpu") ? UW_PIPELINE_PALETTE_DIRECT : UW_PIPELINE_FUSED_HUFFMAN;
    CHECK(!c.tuned && c.pipeline == dflt, "untuned default is %s (got %s)", uw_pipeline_name(dflt), uw_pipeline_name(c.pipeline));
    CHECK_OK(uw_tune(t, wt, B, 0), "tune");
    CHECK_OK(uw_weights_choice(wt, B, &c), "choice after tuning");
    CHECK(c.tuned && c.time_us > 0, "tuned choice recorded");
    CHECK(c.pipeline >= UW_PIPELINE_DECODE_GEMM && c.pipeline <= UW_PIPELINE_FUSED_HUFFMAN, "tuner picked a compressed pipeline (%s)",
          uw_pipeline_name(c.pipeline));
    CHECK_OK(uw_weights_matmul(wt, c.pipeline, x, y0, B), "the chosen pipeline runs");
    memset(y1, 0x55, B * rows * 4);
    CHECK_OK(uw_weights_matmul(wt, UW_PIPELINE_AUTO, x, y1, B), "AUTO runs");
    CHECK(!memcmp(y0, y1, B * rows * 4), "AUTO output equals the chosen pipeline's, bit for bit");
    printf("%s: tuned pipeline %s (%.1f us)\n", backend, uw_pipeline_name(c.pipeline), c.time_us);

    /* 2. the cache round-trips; a second run does not re-tune */
    CHECK_OK(uw_tuner_save(t), "save");
    uw_tuner_close(t);
    CHECK_OK(uw_tuner_open(path, &t), "reopen");
    CHECK(uw_tuner_entries(t) == 1 && !strcmp(uw_tuner_warning(t), ""), "one entry, no warning after reload: %s", uw_tuner_warning(t));
    uw_device_set_tuner(d, t);
    uw_choice c2;
    CHECK_OK(uw_weights_choice(wt, B, &c2), "choice after reload");
    CHECK(c2.tuned && c2.pipeline == c.pipeline && c2.nparams == c.nparams, "reloaded choice equals the tuned one");
    CHECK(c2.time_us > c.time_us * 0.999 && c2.time_us < c.time_us * 1.001, "recorded time survives the round trip");
    CHECK_OK(uw_tune(t, wt, B, 0), "tune again (cached)");
    CHECK_OK(uw_weights_choice(wt, B, &c2), "choice");
    CHECK(c2.time_us > c.time_us * 0.999 && c2.time_us < c.time_us * 1.001 && uw_tuner_entries(t) == 1, "second run reuses the cache, no re-tune");
    uw_choice c3;
    CHECK_OK(uw_weights_choice(wt, 200, &c3), "another bucket");
    CHECK(!c3.tuned, "another batch bucket is untuned");
    uw_tuner_close(t);

    /* 3. a stale entry (other driver) is ignored with a warning */
    FILE *f = fopen(path, "r");
    char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    char *line = strstr(buf, "\n");
    line = line ? strstr(line + 1, "\n") : NULL; /* after the two comment lines */
    CHECK(line != NULL, "cache file has an entry line");
    if (line) {
        char *field = line + 1; /* backend \t device \t driver ... : replace the driver */
        char *t1 = strchr(field, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL, *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        if (t3) {
            char out[8192];
            snprintf(out, sizeof out, "%.*sdriver-from-last-year%s", (int)(t2 + 1 - buf), buf, t3);
            f = fopen(path, "w");
            fputs(out, f);
            fclose(f);
        }
    }
    CHECK_OK(uw_tuner_open(path, &t), "open stale");
    uw_device_set_tuner(d, t);
    CHECK_OK(uw_weights_choice(wt, B, &c2), "choice with a stale cache");
    CHECK(!c2.tuned, "a stale entry is not trusted");
    CHECK(strstr(uw_tuner_warning(t), "stale") != NULL, "and a warning says so: '%s'", uw_tuner_warning(t));
    CHECK_OK(uw_weights_matmul(wt, UW_PIPELINE_AUTO, x, y1, B), "AUTO with a stale cache runs the default");
    uw_tuner_close(t);

    /* 4. a corrupt cache is ignored with a warning */
    static const char *const bad[] = {"not a cache\n", "# unweight tuning cache v1\ncpu\tx\ty\t1\t2\t3\n",
                                      "# unweight tuning cache v1\ncpu\tx\ty\t96\t200\t9\tfused-huffman\t-\t1.0\n",
                                      "# unweight tuning cache v1\ncpu\tx\ty\t96\t200\t1\tno-such-pipeline\t-\t1.0\n", ""};
    for (int k = 0; k < 5; k++) {
        f = fopen(path, "w");
        fputs(bad[k], f);
        fclose(f);
        CHECK_OK(uw_tuner_open(path, &t), "open corrupt cache %d", k);
        CHECK(uw_tuner_entries(t) == 0 && strstr(uw_tuner_warning(t), "corrupt"), "corrupt cache %d ignored with a warning ('%s')", k,
              uw_tuner_warning(t));
        uw_device_set_tuner(d, t);
        CHECK_OK(uw_weights_choice(wt, B, &c2), "choice");
        CHECK(!c2.tuned, "corrupt cache %d not trusted", k);
        uw_device_set_tuner(d, NULL);
        uw_tuner_close(t);
    }
    unlink(path);
    uw_weights_free(wt);
    uw_device_close(d);
    uw_free(blob);
    free(w), free(x), free(y0), free(y1);
    T_DONE();
}
