/* test_threads.c - one device and shared weights used by several threads at once (usage:
 * test_threads BACKEND DIR): AUTO matmuls with a tuner attached (tuned entries with non-default
 * parameters, a stale and an unusable entry, untuned shapes), explicit choices, device decodes
 * and a concurrent uw_tune on the same tuner all give, on every thread, exactly the bits of a
 * single-threaded run. The thread-safety contract of include/unweight.h; CI also runs it under
 * ThreadSanitizer. Exit 77 when the backend has no device here. */
#include <pthread.h>
#include <unistd.h>

#include "test_util.h"

#define NW 3          /* weights */
#define NB 3          /* batch sizes */
#define NTHREADS 4    /* matmul threads (plus one tuning thread) */
#define ROUNDS 6      /* passes over every (weight, batch) per thread */

static const uint64_t shapes[NW][2] = {{96, 200}, {130, 257}, {64, 128}};
static const uint64_t batches[NB] = {1, 5, 17}; /* buckets 0, 2, 3 */

static uw_device *dev;
static uw_tuner *tuner;
static uw_weights *wt[NW];
static uint16_t *orig[NW], *xs[NB];
static uint8_t *blob0; /* weight 0's blob, uploaded again by the tuning thread */
static size_t blob0_size;
static float *ref[NW][NB];

typedef struct worker {
    int id;
    int mismatches, errors;
    char first[512];
} worker;

static void note(worker *k, const char *what, int wi, int bi, uw_status s) {
    if (!k->first[0])
        snprintf(k->first, sizeof k->first, "thread %d: %s (weight %d, batch %llu): %s %s", k->id, what, wi,
                 (unsigned long long)batches[bi], uw_status_name(s), s ? uw_last_error() : "");
}

/* a choice with every parameter at its last offered value (the default where only one) */
static void last_values(uw_choice *c, uw_pipeline p) {
    memset(c, 0, sizeof *c);
    c->pipeline = p;
    c->nparams = uw_device_param_count(dev);
    for (int i = 0; i < c->nparams; i++) {
        uw_param_info pi;
        uw_device_param_info(dev, i, &pi);
        snprintf(c->param_names[i], sizeof c->param_names[i], "%s", pi.name);
        c->param_values[i] = pi.values[pi.nvalues - 1];
    }
}

static void *run_worker(void *arg) {
    worker *k = arg;
    static const uw_pipeline explicit_p[] = {UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_PLAIN_BF16};
    float *y = malloc(batches[NB - 1] * 130 * sizeof *y);
    uint16_t *dec = malloc(130 * 257 * 2);
    for (int r = 0; r < ROUNDS; r++)
        for (int j = 0; j < NW * NB; j++) {
            int idx = (j + k->id * 4 + r) % (NW * NB), wi = idx / NB, bi = idx % NB; /* each thread its own order */
            uint64_t B = batches[bi], out = shapes[wi][0];
            memset(y, 0x7F, B * out * sizeof *y);
            uw_status s = uw_weights_matmul(wt[wi], UW_PIPELINE_AUTO, xs[bi], y, B);
            if (s != UW_OK) k->errors++, note(k, "AUTO matmul", wi, bi, s);
            else if (memcmp(y, ref[wi][bi], B * out * sizeof *y)) k->mismatches++, note(k, "AUTO output differs", wi, bi, s);
            if ((j + r + k->id) % 3 == 0) { /* an explicit choice: non-default parameters or defaults */
                uw_choice c;
                last_values(&c, explicit_p[(j + r) % 3]);
                if ((j + k->id) % 2) c.nparams = 0;
                memset(y, 0x7F, B * out * sizeof *y);
                s = uw_weights_matmul_choice(wt[wi], &c, xs[bi], y, B);
                if (s != UW_OK) k->errors++, note(k, "explicit matmul", wi, bi, s);
                else if (memcmp(y, ref[wi][bi], B * out * sizeof *y)) k->mismatches++, note(k, "explicit output differs", wi, bi, s);
            }
            if ((j + r + k->id) % 7 == 0) {
                uint64_t n = shapes[wi][0] * shapes[wi][1];
                s = uw_weights_decode(wt[wi], dec, n);
                if (s != UW_OK) k->errors++, note(k, "decode", wi, bi, s);
                else if (memcmp(dec, orig[wi], n * 2)) k->mismatches++, note(k, "decode differs", wi, bi, s);
            }
        }
    free(y);
    free(dec);
    return NULL;
}

/* tunes weight 2 at batch 1 (forced: it records an entry while the others look up), uploads,
 * runs and frees a weight of its own, and reads the tuner's warnings and size meanwhile */
static void *run_tuning(void *arg) {
    worker *k = arg;
    uw_status s = uw_tune(tuner, wt[2], batches[0], 1);
    if (s != UW_OK) k->errors++, note(k, "uw_tune", 2, 0, s);
    for (int i = 0; i < 3; i++) {
        uw_weights *own = NULL;
        float *y = malloc(batches[1] * shapes[0][0] * sizeof *y);
        s = uw_weights_upload(dev, blob0, blob0_size, i == 1 ? UW_RESIDENT_PALETTE : UW_RESIDENT_HUFFMAN, &own);
        if (s == UW_OK) s = uw_weights_matmul(own, UW_PIPELINE_AUTO, xs[1], y, batches[1]);
        if (s != UW_OK) k->errors++, note(k, "upload and run a weight of its own", 0, 1, s);
        else if (memcmp(y, ref[0][1], batches[1] * shapes[0][0] * sizeof *y)) k->mismatches++, note(k, "own weight differs", 0, 1, s);
        uw_weights_free(own);
        free(y);
    }
    for (int i = 0; i < 20; i++) {
        const char *w = uw_tuner_warning(tuner);
        if (!strstr(w, "stale")) k->errors++, note(k, "the stale warning is missing", 0, 0, UW_OK);
        if (uw_tuner_entries(tuner) < 5) k->errors++, note(k, "entries lost", 0, 0, UW_OK);
    }
    return NULL;
}

/* One cache line (docs/TUNING.md) for weight wi at batch bucket `bucket`. */
static void entry(FILE *f, const char *driver, int wi, int bucket, uw_pipeline p, int last, int bogus) {
    fprintf(f, "%s\t%s\t%s\t%llu\t%llu\t%d\t%s\t", uw_device_backend(dev), uw_device_name(dev), driver,
            (unsigned long long)shapes[wi][0], (unsigned long long)shapes[wi][1], bucket, uw_pipeline_name(p));
    int np = uw_device_param_count(dev);
    if (!np) fputc('-', f);
    for (int i = 0; i < np; i++) {
        uw_param_info pi;
        uw_device_param_info(dev, i, &pi);
        fprintf(f, "%s%s=%d", i ? "," : "", pi.name, bogus ? 999999 : pi.values[last ? pi.nvalues - 1 : 0]);
    }
    fprintf(f, "\t12.5\n");
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const char *backend = argv[1];
    T_OPEN_DEVICE_OR_SKIP(backend, &dev);
    for (int wi = 0; wi < NW; wi++) {
        uint64_t rows = shapes[wi][0], cols = shapes[wi][1];
        orig[wi] = malloc(rows * cols * 2);
        if (wi == 1) t_fill("rare_0p2pct", orig[wi], rows * cols, cols); /* (two calls: gcc's -Wstring-compare) */
        else t_fill("gauss", orig[wi], rows * cols, cols);
        uw_encode_params p;
        uw_encode_params_default(&p);
        p.tile_rows = 32, p.tile_cols = 64, p.lanes = 8; /* several tiles each way */
        uint8_t *blob;
        size_t bs;
        CHECK_OK(uw_tensor_encode(orig[wi], rows, cols, &p, &blob, &bs), "encode weight %d", wi);
        CHECK_OK(uw_weights_upload(dev, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt[wi]),
                 "upload weight %d", wi);
        if (wi == 0) blob0 = blob, blob0_size = bs;
        else uw_free(blob);
    }
    for (int bi = 0; bi < NB; bi++) {
        xs[bi] = malloc(batches[bi] * 257 * 2);
        for (uint64_t i = 0; i < batches[bi] * 257; i++) xs[bi][i] = t_bf16((float)t_normal());
    }
    if (t_failures) T_DONE();

    /* the tuning cache: tuned entries with every parameter at its last (non-default) value, one
     * at the defaults, a stale one (other driver) and one whose values the device does not offer */
    char path[1024];
    snprintf(path, sizeof path, "%s/threads_%s.tsv", argv[2], backend);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "write %s", path);
    if (!f) T_DONE();
    fprintf(f, "# unweight tuning cache v1\n");
    entry(f, uw_device_driver(dev), 0, 0, UW_PIPELINE_PALETTE_DIRECT, 1, 0);
    entry(f, uw_device_driver(dev), 1, 2, UW_PIPELINE_PALETTE_TRANSCODE, 0, 0);
    entry(f, uw_device_driver(dev), 2, 3, UW_PIPELINE_DECODE_GEMM, 1, 0);
    entry(f, "driver-from-last-year", 0, 2, UW_PIPELINE_FUSED_HUFFMAN, 1, 0);
    entry(f, uw_device_driver(dev), 1, 0, UW_PIPELINE_PALETTE_DIRECT, 0, uw_device_param_count(dev) > 0);
    fclose(f);
    CHECK_OK(uw_tuner_open(path, &tuner), "open the tuning cache");
    CHECK(uw_tuner_entries(tuner) == 5 && !*uw_tuner_warning(tuner), "5 entries loaded, no warning ('%s')", uw_tuner_warning(tuner));
    uw_device_set_tuner(dev, tuner);
    uw_choice c;
    CHECK_OK(uw_weights_choice(wt[0], 1, &c), "choice");
    CHECK(c.tuned && c.pipeline == UW_PIPELINE_PALETTE_DIRECT, "the tuned entry is what AUTO runs (%s)", uw_pipeline_name(c.pipeline));
    CHECK_OK(uw_weights_choice(wt[0], 5, &c), "choice");
    CHECK(!c.tuned, "the stale entry is not");

    /* single-threaded reference: AUTO, held to plain-bf16 (contract C2; decode+gemm to blas-bf16
     * where the backend runs it through the vendor BLAS) */
    int nb = 0;
    for (int wi = 0; wi < NW; wi++)
        for (int bi = 0; bi < NB; bi++) {
            uint64_t B = batches[bi], out = shapes[wi][0];
            ref[wi][bi] = malloc(B * out * sizeof(float));
            float *plain = malloc(B * out * sizeof(float));
            CHECK_OK(uw_weights_matmul(wt[wi], UW_PIPELINE_AUTO, xs[bi], ref[wi][bi], B), "reference AUTO %d/%d", wi, bi);
            CHECK_OK(uw_weights_choice(wt[wi], B, &c), "choice %d/%d", wi, bi);
            if (c.pipeline != UW_PIPELINE_DECODE_GEMM || uw_weights_matmul(wt[wi], UW_PIPELINE_BLAS_BF16, xs[bi], plain, B) != UW_OK)
                CHECK_OK(uw_weights_matmul(wt[wi], UW_PIPELINE_PLAIN_BF16, xs[bi], plain, B), "reference plain %d/%d", wi, bi);
            CHECK(!memcmp(plain, ref[wi][bi], B * out * sizeof(float)), "AUTO (%s) equals the C2 reference on one thread (weight %d batch %llu)",
                  uw_pipeline_name(c.pipeline), wi, (unsigned long long)B);
            free(plain);
            nb++;
        }
    CHECK(strstr(uw_tuner_warning(tuner), "stale") != NULL, "the stale entry is ignored with a warning");
    if (uw_device_param_count(dev) > 0)
        CHECK(strstr(uw_tuner_warning(tuner), "not available") != NULL, "an entry with values the device does not offer is ignored with a warning");

    /* the same work on NTHREADS threads at once, and a tuning thread */
    pthread_t tid[NTHREADS + 1];
    worker k[NTHREADS + 1];
    memset(k, 0, sizeof k);
    for (int i = 0; i <= NTHREADS; i++) {
        k[i].id = i;
        CHECK(pthread_create(&tid[i], NULL, i < NTHREADS ? run_worker : run_tuning, &k[i]) == 0, "start thread %d", i);
    }
    int mism = 0, errs = 0;
    for (int i = 0; i <= NTHREADS; i++) {
        pthread_join(tid[i], NULL);
        mism += k[i].mismatches;
        errs += k[i].errors;
        if (k[i].first[0]) fprintf(stderr, "%s\n", k[i].first);
    }
    CHECK(errs == 0, "%d calls failed on the threads", errs);
    CHECK(mism == 0, "%d results differ from the single-threaded run", mism);
    CHECK_OK(uw_weights_choice(wt[2], 1, &c), "choice");
    CHECK(c.tuned, "the concurrent uw_tune recorded its entry");
    printf("%s: %d threads x %d rounds x %d (weight, batch) AUTO matmuls, explicit choices and decodes: bit-identical to one thread\n",
           backend, NTHREADS, ROUNDS, nb);

    uw_device_set_tuner(dev, NULL);
    uw_tuner_close(tuner);
    unlink(path);
    for (int wi = 0; wi < NW; wi++) {
        uw_weights_free(wt[wi]);
        free(orig[wi]);
        for (int bi = 0; bi < NB; bi++) free(ref[wi][bi]);
    }
    for (int bi = 0; bi < NB; bi++) free(xs[bi]);
    uw_free(blob0);
    uw_device_close(dev);
    T_DONE();
}
