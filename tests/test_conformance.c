/* test_conformance.c - the conformance program every backend runs.
 *   usage: test_conformance BACKEND GOLDEN_DIR [--sample FILE.safetensors] [--large ROWSxCOLS]
 *                           [--no-golden] [--require-all] [--c4 all|N]
 * On the golden vectors and synthetic edge tensors (unless --no-golden), on every 2-D BF16 tensor
 * of a real safetensors file (--sample) and on a gauss tensor large enough to take several tiles
 * per block of a persistent grid (--large), it checks
 * C1 decode on the device is bit-exact; C2 every offered pipeline gives output bit-identical to
 * the same backend's plain BF16 pipeline, batch sizes {1, 2, 7, 16, 64, 255} (decode+gemm, where
 * the backend runs it through the vendor BLAS and offers blas-bf16, against the vendor BLAS on
 * the resident BF16 weights: same GEMM, same bytes in); C3 the plain output is within
 * uw_c3_gamma(backend, K) * sum|x w| (+ an underflow floor) of a float64 reference (uw_c3.h:
 * round-to-nearest fp32 accumulation, or the NVIDIA tensor cores' truncating one); a failure
 * names the worst (batch row, output row). --require-all: every pipeline of the list below must
 * be offered (a backend that answers "unsupported" for one fails). --c4: C4, batch invariance, for
 * the backends that promise it (docs/CONFORMANCE.md): at every batch size up to N (all: every
 * size), rows 0, B/2 and B-1 of every pipeline's output equal the same x rows run at batch 1,
 * bit for bit. Exit 77 (CTest: skipped, not
 * passed) when the backend has no device here. */
#include "test_util.h"
#include "uw_c3.h"

static const char *backend;
static uw_device *dev;


static int is_finite_bf16(uint16_t v) { return ((v >> 7) & 0xFF) != 0xFF; }

static const uw_pipeline pipes[] = {UW_PIPELINE_DECODE_GEMM, UW_PIPELINE_EXP_PREDECODE, UW_PIPELINE_PALETTE_TRANSCODE,
                                    UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_FUSED_HUFFMAN};
static int offered[8];
static uint64_t c4_max; /* --c4: the largest batch size C4 is checked at (0: not checked) */

/* C4: rows of a batch-B result equal those rows computed at batch 1 */
static void c4_check(const char *what, uw_weights *wt, uw_pipeline p, const uint16_t *x, const float *y, uint64_t B, uint64_t rows,
                     uint64_t cols) {
    if (B < 2 || B > c4_max) return;
    const uint64_t pick[3] = {0, B / 2, B - 1};
    float *y1 = malloc(rows * 4);
    for (int i = 0; i < 3; i++) {
        uint64_t b = pick[i];
        memset(y1, 0x7F, rows * 4);
        CHECK_OK(uw_weights_matmul(wt, p, x + b * cols, y1, 1), "%s %s batch 1 (C4 reference)", what, uw_pipeline_name(p));
        CHECK(!memcmp(y1, y + b * rows, rows * 4), "C4 %s/%s: %s row %llu of batch %llu equals the same row at batch 1", backend, what,
              uw_pipeline_name(p), (unsigned long long)b, (unsigned long long)B);
    }
    free(y1);
}

/* C3 on y[B][rows] = x[B][cols] w[rows][cols]^T against float64; reports the worst (b, r) */
static void c3_check(const char *what, const uint16_t *x, const uint16_t *w, const float *y, uint64_t B, uint64_t rows,
                     uint64_t cols) {
    double *wd = malloc(rows * cols * sizeof(double)), *xd = malloc(cols * sizeof(double));
    for (uint64_t i = 0; i < rows * cols; i++) wd[i] = t_f32(w[i]);
    const double g = uw_c3_gamma(backend, cols), fl = uw_c3_floor(cols);
    double worst = 0, worst_err = 0, worst_tol = 0;
    uint64_t wb = 0, wr = 0, nbad = 0;
    for (uint64_t b = 0; b < B; b++) {
        for (uint64_t i = 0; i < cols; i++) xd[i] = t_f32(x[b * cols + i]);
        for (uint64_t r = 0; r < rows; r++) {
            const double *wr_ = wd + r * cols;
            double ref = 0, mag = 0;
            for (uint64_t i = 0; i < cols; i++) {
                double a = xd[i] * wr_[i];
                ref += a;
                mag += fabs(a);
            }
            double err = fabs((double)y[b * rows + r] - ref), tol = g * mag + fl;
            if (!(err <= tol)) nbad++; /* (NaN output fails) */
            double ratio = err / tol;
            if (!(ratio <= worst)) worst = ratio, worst_err = err, worst_tol = tol, wb = b, wr = r;
        }
    }
    CHECK(!nbad, "C3 %s/%s: within the C3 bound of float64 at batch %llu (%llu of %llu outputs over; worst at batch row %llu, "
          "output row %llu: error %.3g, bound %.3g)", backend, what, (unsigned long long)B, (unsigned long long)nbad,
          (unsigned long long)(B * rows), (unsigned long long)wb, (unsigned long long)wr, worst_err, worst_tol);
    free(wd);
    free(xd);
}

static void check_blob(const char *what, const uint8_t *blob, size_t bs, const uint16_t *w, uint64_t rows, uint64_t cols, int batches_full) {
    uint64_t n = rows * cols;
    uw_blob_info bi;
    CHECK_OK(uw_blob_inspect(blob, bs, &bi), "%s inspect", what);
    unsigned res = UW_RESIDENT_PALETTE | UW_RESIDENT_BF16 | (bi.codec == UW_CODEC_HUFFMAN ? UW_RESIDENT_HUFFMAN : 0);
    uw_weights *wt = NULL;
    uw_status s = uw_weights_upload(dev, blob, bs, res, &wt);
    CHECK(s == UW_OK, "%s: upload to %s", what, backend);
    if (s != UW_OK) return;
    uint16_t *o = malloc(n * 2);
    memset(o, 0x5A, n * 2);
    CHECK_OK(uw_weights_decode(wt, o, n), "%s: decode", what);
    CHECK(!memcmp(o, w, n * 2), "C1 %s/%s: device decode is bit-exact", backend, what);
    static const uint64_t all_b[] = {1, 2, 7, 16, 64, 255}, few_b[] = {1, 7};
    const uint64_t *bs_list = batches_full ? all_b : few_b;
    int nb = batches_full ? 6 : 2;
    int finite = 1;
    for (uint64_t i = 0; i < n; i++) finite &= is_finite_bf16(w[i]);
    for (int k = 0; k < nb; k++) {
        uint64_t B = bs_list[k];
        uint16_t *x = malloc(B * cols * 2);
        for (uint64_t i = 0; i < B * cols; i++) x[i] = t_bf16((float)t_normal());
        float *y0 = malloc(B * rows * 4), *y1 = malloc(B * rows * 4), *yb = malloc(B * rows * 4);
        CHECK_OK(uw_weights_matmul(wt, UW_PIPELINE_PLAIN_BF16, x, y0, B), "%s plain matmul batch %llu", what, (unsigned long long)B);
        c4_check(what, wt, UW_PIPELINE_PLAIN_BF16, x, y0, B, rows, cols);
        /* the vendor-BLAS baseline, if offered: decode+gemm's reference on such backends */
        s = uw_weights_matmul(wt, UW_PIPELINE_BLAS_BF16, x, yb, B);
        int have_blas = s == UW_OK;
        CHECK(s == UW_OK || s == UW_ERR_UNSUPPORTED, "%s blas-bf16 batch %llu runs", what, (unsigned long long)B);
        for (size_t p = 0; p < sizeof pipes / sizeof pipes[0]; p++) {
            int vs_blas = pipes[p] == UW_PIPELINE_DECODE_GEMM && have_blas;
            memset(y1, 0x7F, B * rows * 4);
            s = uw_weights_matmul(wt, pipes[p], x, y1, B);
            if (s == UW_ERR_UNSUPPORTED) continue;
            offered[pipes[p]] = 1;
            CHECK(s == UW_OK, "%s %s batch %llu runs", what, uw_pipeline_name(pipes[p]), (unsigned long long)B);
            CHECK(!memcmp(vs_blas ? yb : y0, y1, B * rows * 4), "C2 %s/%s: %s is bit-identical to %s at batch %llu", backend, what,
                  uw_pipeline_name(pipes[p]), vs_blas ? "blas-bf16" : "plain-bf16", (unsigned long long)B);
            c4_check(what, wt, pipes[p], x, y1, B, rows, cols);
        }
        if (finite) c3_check(what, x, w, y0, B, rows, cols); /* (NaN/inf inputs have no meaningful tolerance) */
        free(x), free(y0), free(y1), free(yb);
    }
    free(o);
    uw_weights_free(wt);
}

static void golden(const char *dir) {
    char path[2048], line[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    FILE *m = fopen(path, "r");
    CHECK(m != NULL, "manifest %s", path);
    if (!m) return;
    int count = 0;
    while (fgets(line, sizeof line, m)) {
        char file[512];
        unsigned long long rows, cols, want;
        if (line[0] == '#' || sscanf(line, "%511s %llu %llu %llx", file, &rows, &cols, &want) != 4) continue;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        FILE *f = fopen(path, "rb");
        if (!f) { CHECK(0, "open %s", path); continue; }
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *blob = malloc((size_t)sz);
        size_t got = fread(blob, 1, (size_t)sz, f);
        fclose(f);
        uint16_t *w = malloc(rows * cols * 2);
        CHECK(got == (size_t)sz && uw_blob_decode(blob, (size_t)sz, w, rows * cols, 1) == UW_OK && t_hash_fnv(w, rows * cols * 2) == want,
              "%s: host reference decode matches the golden hash", file);
        check_blob(file, blob, (size_t)sz, w, rows, cols, !strncmp(file, "real_", 5) || !strcmp(file, "gauss.uwb"));
        free(w);
        free(blob);
        count++;
    }
    fclose(m);
    printf("%s: %d golden vectors\n", backend, count);
}

static void edges(void) {
    static const uint64_t shapes[][2] = {{1, 1}, {1, 300}, {300, 1}, {33, 65}, {130, 257}};
    static const struct { const char *name; int rare; uint32_t chunk; } cases[] = {
        {"gauss", UW_RARE_AUTO, 0}, {"one_exponent", UW_RARE_AUTO, 0}, {"all_verbatim", UW_RARE_VERBATIM, 8},
        {"rare_0p2pct", UW_RARE_ESCAPE, 0}, {"specials", UW_RARE_AUTO, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            uint64_t rows = shapes[s][0], cols = shapes[s][1];
            uint16_t *w = malloc(rows * cols * 2);
            t_fill(cases[c].name, w, rows * cols, cols);
            uw_encode_params p;
            uw_encode_params_default(&p);
            p.rare_mode = cases[c].rare;
            p.chunk_len = cases[c].chunk;
            p.tile_rows = 16; /* edge tiles in both directions */
            p.tile_cols = 48;
            p.lanes = 4;
            uint8_t *blob;
            size_t bs;
            char what[128];
            snprintf(what, sizeof what, "%s %llux%llu", cases[c].name, (unsigned long long)rows, (unsigned long long)cols);
            CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode %s", what);
            check_blob(what, blob, bs, w, rows, cols, s == 4);
            uw_free(blob);
            free(w);
        }
}

/* every 2-D (matrix view, FORMAT.md 9.2) BF16 tensor of a real safetensors file, encoded with the
 * encoder's defaults (the backend re-tiles on upload where its geometry differs) */
static void sample(const char *path) {
    uw_file *f = NULL;
    CHECK_OK(uw_file_open(path, &f), "open sample %s", path);
    if (!f) return;
    int count = 0;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info ti;
        const void *data;
        size_t size;
        if (uw_file_tensor_info(f, i, &ti) != UW_OK || strcmp(ti.dtype, "BF16") || ti.ndim < 2) continue;
        CHECK_OK(uw_file_tensor_data(f, i, &data, &size), "%s: tensor data", ti.name);
        uint64_t n = size / 2, cols = ti.shape[ti.ndim - 1];
        for (int d = ti.ndim - 2; d >= 1 && cols < 64; d--) cols *= ti.shape[d];
        uint16_t *w = malloc(size);
        memcpy(w, data, size);
        uw_encode_params p;
        uw_encode_params_default(&p);
        uint8_t *blob;
        size_t bs;
        char what[300];
        snprintf(what, sizeof what, "%s %llux%llu", ti.name, (unsigned long long)(n / cols), (unsigned long long)cols);
        CHECK_OK(uw_tensor_encode(w, n / cols, cols, &p, &blob, &bs), "encode %s", what);
        check_blob(what, blob, bs, w, n / cols, cols, 1);
        uw_free(blob);
        free(w);
        count++;
    }
    uw_file_close(f);
    CHECK(count > 0, "the sample %s has 2-D BF16 tensors", path);
    printf("%s: %d tensors of %s\n", backend, count, path);
}

/* a gauss tensor of rows x cols with the encoder's defaults */
static void large(uint64_t rows, uint64_t cols) {
    uint16_t *w = malloc(rows * cols * 2);
    t_fill("gauss", w, rows * cols, cols);
    uw_encode_params p;
    uw_encode_params_default(&p);
    uint8_t *blob;
    size_t bs;
    char what[64];
    snprintf(what, sizeof what, "gauss %llux%llu", (unsigned long long)rows, (unsigned long long)cols);
    CHECK_OK(uw_tensor_encode(w, rows, cols, &p, &blob, &bs), "encode %s", what);
    check_blob(what, blob, bs, w, rows, cols, 1);
    uw_free(blob);
    free(w);
}

int main(int argc, char **argv) {
    const char *sample_path = NULL;
    unsigned long long lr = 0, lc = 0;
    int no_golden = 0, require_all = 0, bad = argc < 3;
    for (int i = 3; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--sample") && i + 1 < argc) sample_path = argv[++i];
        else if (!strcmp(argv[i], "--large") && i + 1 < argc) bad = sscanf(argv[++i], "%llux%llu", &lr, &lc) != 2 || !lr || !lc;
        else if (!strcmp(argv[i], "--no-golden")) no_golden = 1;
        else if (!strcmp(argv[i], "--require-all")) require_all = 1;
        else if (!strcmp(argv[i], "--c4") && i + 1 < argc) {
            const char *v = argv[++i];
            unsigned long long m = 0;
            if (!strcmp(v, "all")) c4_max = UINT64_MAX;
            else bad = sscanf(v, "%llu", &m) != 1, c4_max = m;
        }
        else bad = 1;
    }
    if (bad) {
        fprintf(stderr, "usage: test_conformance BACKEND GOLDEN_DIR [--sample FILE.safetensors] [--large ROWSxCOLS] [--no-golden] "
                        "[--require-all] [--c4 all|N]\n");
        return 2;
    }
    backend = argv[1];
    uw_status s = uw_device_open(backend, NULL, &dev);
    if (s == UW_ERR_NO_DEVICE) {
        printf("%s: no device (%s): conformance NOT run\n", backend, uw_last_error());
        return 77;
    }
    CHECK(s == UW_OK, "open backend %s", backend);
    if (s != UW_OK) T_DONE();
    printf("device: %s\n", uw_device_name(dev));
    if (!no_golden) {
        golden(argv[2]);
        edges();
    }
    if (sample_path) sample(sample_path);
    if (lr) large(lr, lc);
    printf("pipelines offered and checked:");
    for (size_t p = 0; p < sizeof pipes / sizeof pipes[0]; p++) {
        if (offered[pipes[p]]) printf(" %s", uw_pipeline_name(pipes[p]));
        else CHECK(!require_all, "--require-all: %s offers pipeline %s", backend, uw_pipeline_name(pipes[p]));
    }
    printf("\n");
    uw_device_close(dev);
    T_DONE();
}
