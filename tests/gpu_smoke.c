/* gpu_smoke.c - one small matmul case on one backend, kernel family and pipeline, reported in one
 * line so that a device check (ci/device-check.sh stage 2) localises a fault:
 *   usage: gpu_smoke BACKEND DEVICE_SPEC PIPELINE ROWSxCOLS BATCH
 * (DEVICE_SPEC "" = the default; for cuda e.g. "kernel=hopper" or "kernel=generic"). The weights
 * (gauss, BF16, fixed seed) are encoded in the encoder's default geometry and uploaded with every
 * resident form; x is drawn afresh (normal, never zero); y is poisoned before each call.
 * Checks: C1 the device decode is bit-exact; C2 the pipeline's output is bit-identical to
 * plain-bf16 on the same device; C3 every output within the backend's bound of a float64
 * reference (tests/uw_c3.h). Prints the largest error / bound, the largest absolute error, the
 * number of outputs over the bound, the first one (batch row, output row), and which output rows
 * mod 16 and batch rows mod 8 hold bad outputs (a wrong fragment or descriptor map shows as a
 * pattern there). Exit 0 pass, 1 fail, 2 usage, 77 no device. */
#include "test_util.h"
#include "uw_c3.h"

static int pipeline_of(const char *name, uw_pipeline *p) {
    for (int i = UW_PIPELINE_DECODE_GEMM; i <= UW_PIPELINE_BLAS_BF16; i++)
        if (!strcmp(name, uw_pipeline_name((uw_pipeline)i))) return *p = (uw_pipeline)i, 1;
    return 0;
}

int main(int argc, char **argv) {
    unsigned long long rows = 0, cols = 0, batch = 0;
    uw_pipeline pipe;
    if (argc != 6 || !pipeline_of(argv[3], &pipe) || sscanf(argv[4], "%llux%llu", &rows, &cols) != 2 || !rows || !cols ||
        sscanf(argv[5], "%llu", &batch) != 1 || !batch || batch > 4096) {
        fprintf(stderr, "usage: gpu_smoke BACKEND DEVICE_SPEC PIPELINE ROWSxCOLS BATCH (pipeline: plain-bf16, fused-huffman, ...)\n");
        return 2;
    }
    const char *backend = argv[1], *spec = argv[2][0] ? argv[2] : NULL;
    char tag[256];
    snprintf(tag, sizeof tag, "%s [%s] %s %llux%llu b%llu", backend, spec ? spec : "default", argv[3], rows, cols, batch);
    uw_device *dev;
    uw_status s = uw_device_open(backend, spec, &dev);
    if (s == UW_ERR_NO_DEVICE) {
        printf("SKIP %s: no device (%s)\n", tag, uw_last_error());
        return 77;
    }
    if (s != UW_OK) {
        printf("FAIL %s: open: %s\n", tag, uw_last_error());
        return 1;
    }
    const uint64_t n = rows * cols;
    uint16_t *w = malloc(n * 2), *o = malloc(n * 2), *x = malloc(batch * cols * 2);
    float *y = malloc(batch * rows * 4), *yp = malloc(batch * rows * 4);
    t_rng ^= rows * 0x9E3779B97F4A7C15ull ^ cols ^ batch << 40;
    t_fill("gauss", w, n, cols);
    for (uint64_t i = 0; i < batch * cols; i++) {
        do x[i] = t_bf16((float)t_normal());
        while ((x[i] & 0x7FFF) == 0);
    }
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    uint8_t *blob = NULL;
    size_t bs = 0;
    uw_weights *wt = NULL;
    int fail = 0;
    if (uw_tensor_encode(w, rows, cols, &ep, &blob, &bs) != UW_OK ||
        uw_weights_upload(dev, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt) != UW_OK) {
        printf("FAIL %s: encode/upload: %s\n", tag, uw_last_error());
        return 1;
    }
    memset(o, 0x5A, n * 2);
    s = uw_weights_decode(wt, o, n);
    const char *c1 = s != UW_OK ? "error" : memcmp(o, w, n * 2) ? "differs" : "ok";
    fail |= strcmp(c1, "ok") != 0;
    memset(y, 0xFF, batch * rows * 4); /* NaN: an output never written fails C3 */
    s = uw_weights_matmul(wt, pipe, x, y, batch);
    if (s != UW_OK) {
        printf("FAIL %s: C1 %s; matmul: %s\n", tag, c1, uw_last_error());
        return 1;
    }
    const char *c2 = "n/a";
    if (pipe != UW_PIPELINE_PLAIN_BF16 && pipe != UW_PIPELINE_BLAS_BF16) {
        memset(yp, 0xFF, batch * rows * 4);
        s = uw_weights_matmul(wt, UW_PIPELINE_PLAIN_BF16, x, yp, batch);
        c2 = s != UW_OK ? "plain-bf16 failed" : memcmp(y, yp, batch * rows * 4) ? "differs" : "ok";
        fail |= strcmp(c2, "ok") != 0;
    }
    /* C3 against float64 */
    const double g = uw_c3_gamma(backend, cols), fl = uw_c3_floor(cols);
    double worst = 0, worst_abs = 0;
    uint64_t nbad = 0, fb = 0, fr = 0;
    unsigned rows16 = 0, cols8 = 0;
    for (uint64_t b = 0; b < batch; b++)
        for (uint64_t r = 0; r < rows; r++) {
            double mag, ref = uw_c3_dot(x + b * cols, w + r * cols, cols, &mag);
            double err = fabs((double)y[b * rows + r] - ref), tol = g * mag + fl;
            if (!(err <= tol)) {
                if (!nbad) fb = b, fr = r;
                nbad++;
                rows16 |= 1u << (r % 16);
                cols8 |= 1u << (b % 8);
                err = err == err ? err : INFINITY;
            }
            if (err / tol > worst) worst = err / tol;
            if (err > worst_abs) worst_abs = err;
        }
    fail |= nbad != 0;
    printf("%s %s: C1 %s, C2 %s, C3 max err/bound %.3g (max |err| %.3g), %llu of %llu outputs over", fail ? "FAIL" : "PASS", tag, c1,
           c2, worst, worst_abs, (unsigned long long)nbad, (unsigned long long)(batch * rows));
    if (nbad)
        printf(", first (batch row %llu, output row %llu), bad output rows mod 16: 0x%04x, bad batch rows mod 8: 0x%02x",
               (unsigned long long)fb, (unsigned long long)fr, rows16, cols8);
    printf(" | %s\n", uw_device_name(dev));
    uw_weights_free(wt);
    uw_free(blob);
    uw_device_close(dev);
    free(w), free(o), free(x), free(y), free(yp);
    return fail;
}
