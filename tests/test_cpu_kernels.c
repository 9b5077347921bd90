/* test_cpu_kernels.c - the CPU backend's kernel of one ISA level (UW_CPU_ISA, default the best
 * this CPU has; exit 77 = that level is not available here, reported as skipped). At the amx
 * level every matmul runs on AMX tiles (amx_batch=1), and each result must also equal the
 * avx512bf16 kernel's (amx_batch=0: AMX gives the bits of vdpbf16ps, whatever the batch):
 *   ORDER  the result is exactly the documented accumulation order of the level
 *          (docs/CONFORMANCE.md section 4.1), emulated here operation by operation, NaN canonical;
 *   C2     every pipeline is bit-identical to plain-bf16, on odd shapes (K not a multiple of 32,
 *          one row, 1 x 4099) and NaN/Inf/subnormal weights and activations;
 *   C4     a row's output does not depend on the batch size (batches 1/3/17/255);
 *   THREADS the result does not depend on the device's thread count, and several application
 *          threads calling matmul on one device and one set of weights at once get it too. */
#include <pthread.h>

#include "test_util.h"

static char level[32];


/* one pair step of the level: acc += x_odd w_odd, then += x_even w_even */
static float step(float acc, float xo, float wo, float xe, float we) {
    if (!strcmp(level, "avx512bf16") || !strcmp(level, "amx")) { /* vdpbf16ps/tdpbf16ps: exact products, RNE adds, DAZ and FTZ */
        acc = t_ftz(fmaf(t_ftz(xo), t_ftz(wo), t_ftz(acc)));
        return t_ftz(fmaf(t_ftz(xe), t_ftz(we), acc));
    }
    volatile float po = xo * wo, pe = xe * we; /* scalar and avx2: rounded product, rounded add */
    volatile float a1 = acc + po;
    return a1 + pe;
}

/* the adds that combine half sums: flushed to zero on the AMX/vdpbf16ps levels */
static float add(float a, float b) {
    volatile float s = a + b;
    return !strcmp(level, "avx512bf16") || !strcmp(level, "amx") ? t_ftz(s) : s;
}

/* the documented order: K padded with +0 to a multiple of 32; per block of 32 k two half sums
 * from +0 over k 0-15 and 16-31, pairs in increasing order, odd element first; s + (h1 + h2) */
static float emulate(const uint16_t *x, const uint16_t *w, uint64_t K) {
    uint64_t kp = (K + 31) / 32 * 32;
    float acc = 0.0f;
    for (uint64_t kb = 0; kb < kp; kb += 32) {
        float h[2];
        for (int half = 0; half < 2; half++) {
            h[half] = 0.0f;
            for (uint64_t k = kb + 16 * (uint64_t)half; k < kb + 16 * (uint64_t)half + 16; k += 2) {
                float xe = k < K ? t_f32(x[k]) : 0.0f, we = k < K ? t_f32(w[k]) : 0.0f;
                float xo = k + 1 < K ? t_f32(x[k + 1]) : 0.0f, wo = k + 1 < K ? t_f32(w[k + 1]) : 0.0f;
                h[half] = step(h[half], xo, wo, xe, we);
            }
        }
        acc = add(acc, add(h[0], h[1]));
    }
    if (acc != acc) {
        uint32_t q = 0x7FC00000u;
        memcpy(&acc, &q, 4);
    }
    return acc;
}

static void fill_x(uint16_t *x, uint64_t n, int specials) {
    for (uint64_t i = 0; i < n; i++) {
        x[i] = t_bf16((float)t_normal());
        if (specials) {
            unsigned k = (unsigned)(t_rand() % 64);
            if (k == 0) x[i] = t_mk((unsigned)t_rand(), 255, 0);                          /* +-inf */
            else if (k == 1) x[i] = t_mk((unsigned)t_rand(), 255, 1 + (unsigned)(t_rand() % 127)); /* NaN */
            else if (k < 6) x[i] = t_mk((unsigned)t_rand(), 0, (unsigned)t_rand());       /* subnormal */
            else if (k == 6) x[i] = t_mk((unsigned)t_rand(), 0, 0);                       /* +-0 */
        }
    }
}

static const uw_pipeline pipes[] = {UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_DECODE_GEMM,
                                    UW_PIPELINE_PALETTE_TRANSCODE};

/* one matmul; at the amx level on AMX tiles at any batch (amx_batch 1) or never (0) */
static int amx_level(void) { return !strcmp(level, "amx"); }
static uw_status mm(uw_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t B, int amx_batch) {
    if (!amx_level()) return uw_weights_matmul(w, p, x, y, B);
    uw_choice c;
    memset(&c, 0, sizeof c);
    c.pipeline = p;
    c.nparams = 1;
    snprintf(c.param_names[0], sizeof c.param_names[0], "amx_batch");
    c.param_values[0] = amx_batch;
    return uw_weights_matmul_choice(w, &c, x, y, B);
}

/* products around 2^-126: half sums and their combining adds land below the normal range, where
 * the FTZ of the AMX/vdpbf16ps levels (and the exact products) decide bits */
static void fill_tiny(uint16_t *v, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) v[i] = t_mk((unsigned)t_rand(), 61 + (unsigned)(t_rand() % 7), (unsigned)t_rand());
}

static void shape(uw_device *d, const char *wcase, uint64_t rows, uint64_t cols, int xspecial) {
    uint16_t *w = malloc(rows * cols * 2);
    if (!strcmp(wcase, "tiny")) fill_tiny(w, rows * cols);
    else t_fill(wcase, w, rows * cols, cols);
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.tile_rows = 24; /* bands that are not whole panels, and edge tiles */
    p.tile_cols = cols % 2 ? 544 : 520; /* tile by tile (a multiple of 32), or the whole band */
    uint8_t *blob;
    size_t bs;
    CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode");
    uw_weights *wt;
    CHECK_OK(uw_weights_upload(d, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt), "upload");
    static const uint64_t batches[] = {1, 3, 17, 255};
    uint64_t maxb = 255;
    uint16_t *x = malloc(maxb * cols * 2);
    if (!strcmp(wcase, "tiny")) fill_tiny(x, maxb * cols);
    else fill_x(x, maxb * cols, xspecial);
    float *y1 = malloc(maxb * rows * 4), *y = malloc(maxb * rows * 4), *yp = malloc(maxb * rows * 4);
    /* batch 1, row by row: the reference for C4 */
    for (uint64_t b = 0; b < maxb; b++) CHECK_OK(mm(wt, UW_PIPELINE_PLAIN_BF16, x + b * cols, y1 + b * rows, 1, 1), "batch 1");
    int order_ok = 1;
    for (uint64_t b = 0; b < maxb && order_ok; b++)
        for (uint64_t o = 0; o < rows && order_ok; o++) {
            float e = emulate(x + b * cols, w + o * cols, cols);
            if (memcmp(&e, &y1[b * rows + o], 4)) {
                order_ok = 0;
                fprintf(stderr, "  row %llu batch row %llu: got %a, the documented order gives %a\n", (unsigned long long)o,
                        (unsigned long long)b, (double)y1[b * rows + o], (double)e);
            }
        }
    CHECK(order_ok, "ORDER %s: %s %llux%llu%s is the documented accumulation order, bit for bit", level, wcase,
          (unsigned long long)rows, (unsigned long long)cols, xspecial ? " (special x)" : "");
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        uint64_t B = batches[bi];
        memset(yp, 0x7F, B * rows * 4);
        CHECK_OK(mm(wt, UW_PIPELINE_PLAIN_BF16, x, yp, B, 1), "plain");
        CHECK(!memcmp(yp, y1, B * rows * 4), "C4 %s: %s %llux%llu batch %llu rows equal batch-1 rows", level, wcase, (unsigned long long)rows,
              (unsigned long long)cols, (unsigned long long)B);
        for (size_t k = 0; k < sizeof pipes / sizeof pipes[0]; k++) {
            memset(y, 0x7F, B * rows * 4);
            CHECK_OK(mm(wt, pipes[k], x, y, B, 1), "%s", uw_pipeline_name(pipes[k]));
            CHECK(!memcmp(yp, y, B * rows * 4), "C2 %s: %s is bit-identical to plain-bf16 (%s %llux%llu batch %llu%s)", level,
                  uw_pipeline_name(pipes[k]), wcase, (unsigned long long)rows, (unsigned long long)cols, (unsigned long long)B,
                  xspecial ? ", special x" : "");
        }
        for (int k = -1; amx_level() && k < 2; k++) { /* plain, palette-direct, fused-huffman on vdpbf16ps */
            uw_pipeline p = k < 0 ? UW_PIPELINE_PLAIN_BF16 : pipes[k];
            memset(y, 0x7F, B * rows * 4);
            CHECK_OK(mm(wt, p, x, y, B, 0), "%s on avx512bf16", uw_pipeline_name(p));
            CHECK(!memcmp(yp, y, B * rows * 4), "AMX %s: AMX tiles give the avx512bf16 kernel's bits (%s, %s %llux%llu batch %llu%s)",
                  level, uw_pipeline_name(p), wcase, (unsigned long long)rows, (unsigned long long)cols, (unsigned long long)B,
                  xspecial ? ", special x" : "");
        }
    }
    free(x), free(y1), free(y), free(yp);
    uw_weights_free(wt);
    uw_free(blob);
    free(w);
}

/* ---- several application threads on one device and one weight ---- */
typedef struct th_arg {
    uw_weights *w;
    const uint16_t *x;
    const float *want;
    uint64_t B, rows;
    int ok;
} th_arg;

static void *caller(void *v) {
    th_arg *a = v;
    float *y = malloc(a->B * a->rows * 4);
    a->ok = 1;
    for (int it = 0; it < 20; it++) {
        uw_pipeline p = pipes[it % 2]; /* fused-huffman and palette-direct */
        if (mm(a->w, p, a->x, y, a->B, 1) != UW_OK || memcmp(y, a->want, a->B * a->rows * 4)) a->ok = 0;
    }
    free(y);
    return NULL;
}

static void threads_check(void) {
    uint64_t rows = 300, cols = 1000, B = 5;
    uint16_t *w = malloc(rows * cols * 2), *x = malloc(4 * B * cols * 2);
    t_fill("rare_0p2pct", w, rows * cols, cols);
    fill_x(x, 4 * B * cols, 0);
    uint8_t *blob;
    size_t bs;
    uw_encode_params p;
    uw_encode_params_default(&p);
    CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode");
    float *want = malloc(4 * B * rows * 4), *y = malloc(4 * B * rows * 4);
    static const char *const specs[] = {"threads=1", "threads=2", "threads=3"};
    uw_device *d[3];
    uw_weights *wt[3];
    for (int i = 0; i < 3; i++) {
        CHECK_OK(uw_device_open("cpu", specs[i], &d[i]), "open %s", specs[i]);
        CHECK_OK(uw_weights_upload(d[i], blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt[i]), "upload");
        for (int t = 0; t < 4; t++) {
            float *dst = i ? y : want;
            CHECK_OK(mm(wt[i], UW_PIPELINE_PLAIN_BF16, x + t * B * cols, dst + t * B * rows, B, 1), "plain");
        }
        if (i) CHECK(!memcmp(want, y, 4 * B * rows * 4), "THREADS %s: %s gives the bits of threads=1", level, specs[i]);
    }
    /* four application threads at once on the 2-thread device and its one weight */
    pthread_t th[4];
    th_arg a[4];
    for (int t = 0; t < 4; t++) {
        a[t] = (th_arg){wt[1], x + t * B * cols, want + t * B * rows, B, rows, 0};
        pthread_create(&th[t], NULL, caller, &a[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK(a[t].ok, "THREADS %s: application thread %d of 4 sharing one device and weight gets the reference bits", level, t);
    }
    for (int i = 0; i < 3; i++) uw_weights_free(wt[i]), uw_device_close(d[i]);
    free(w), free(x), free(want), free(y);
    uw_free(blob);
}

int main(void) {
    uw_device *d;
    uw_status s = uw_device_open("cpu", "threads=2", &d);
    const char *forced = getenv("UW_CPU_ISA");
    if (s == UW_ERR_NO_DEVICE && forced) {
        printf("UW_CPU_ISA=%s: not available on this CPU (%s): NOT run\n", forced, uw_last_error());
        return 77;
    }
    CHECK(s == UW_OK, "open cpu");
    if (s != UW_OK) T_DONE();
    const char *name = uw_device_name(d), *comma = strrchr(name, ',');
    snprintf(level, sizeof level, "%s", comma ? comma + 2 : "?");
    char *note = strchr(level, ' '); /* "avx512bf16 (amx not bit-compatible)" */
    if (note) *note = 0;
    printf("device: %s (level %s)\n", name, level);
    CHECK(amx_level() || !strcmp(level, "avx512bf16") || !strcmp(level, "avx2") || !strcmp(level, "scalar"),
          "the device names its ISA level");
    static const uint64_t shapes[][2] = {{1, 4099}, {1, 1}, {37, 129}, {17, 100}, {64, 31}, {130, 257}};
    static const char *const cases[] = {"gauss", "specials", "subnormals", "signed_zeros", "all_exponents", "rare_0p2pct", "tiny"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            shape(d, cases[c], shapes[i][0], shapes[i][1], c == 2 && i < 3);
    shape(d, "gauss", 33, 4099, 1);
    uw_device_close(d);
    threads_check();
    T_DONE();
}
