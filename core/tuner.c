/* tuner.c - the autotuner: per (backend, device, driver, shape, batch bucket) it times every
 * pipeline through the public device API (uw_weights_matmul_choice) and, by coordinate descent,
 * the backend's per-call parameters; the fastest goes into the tuning cache (tune_cache.c), which
 * UW_PIPELINE_AUTO replays. Nothing is set on the device: each timed call carries its choice. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tune_cache.h"

static const uw_pipeline candidates[] = {UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_EXP_PREDECODE,
                                         UW_PIPELINE_PALETTE_TRANSCODE, UW_PIPELINE_DECODE_GEMM};

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median time of one matmul with the given choice: one warm-up, then at least 5 runs and at
 * least ~20 ms, at most 25 runs */
static uw_status time_one(uw_weights *w, const uw_choice *c, const uint16_t *x, float *y, uint64_t batch, double *us) {
    UW_FORWARD_IF_ERROR(uw_weights_matmul_choice(w, c, x, y, batch));
    double t[25], total = 0;
    int n = 0;
    while (n < 25 && (n < 5 || total < 20000)) {
        double t0 = now_us();
        UW_FORWARD_IF_ERROR(uw_weights_matmul_choice(w, c, x, y, batch));
        t[n] = now_us() - t0;
        total += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_d);
    *us = t[n / 2];
    return UW_OK;
}

/* Time pipeline c->pipeline from its parameters' defaults (c holds every parameter, in the
 * device's order), one parameter at a time, keeping a value only if >3% faster; at most three
 * rounds. c ends as the best found; UW_ERR_UNSUPPORTED if the pipeline does not run here. */
static uw_status descend(uw_weights *w, const uw_param_info *pi, uw_choice *c, const uint16_t *x, float *y, uint64_t batch,
                         double *best) {
    UW_FORWARD_IF_ERROR(time_one(w, c, x, y, batch, best));
    uw_status s = UW_OK;
    for (int round = 0, improved = 1; s == UW_OK && improved && round < 3; round++) {
        improved = 0;
        for (int i = 0; i < c->nparams && s == UW_OK; i++)
            for (int v = 0; v < pi[i].nvalues && s == UW_OK; v++) {
                if (pi[i].values[v] == c->param_values[i]) continue;
                uw_choice trial = *c;
                trial.param_values[i] = pi[i].values[v];
                double tt;
                s = time_one(w, &trial, x, y, batch, &tt);
                if (s == UW_OK && tt < *best * 0.97) {
                    *c = trial;
                    *best = tt;
                    improved = 1;
                }
            }
    }
    return s;
}

uw_status uw_tune(uw_tuner *t, uw_weights *w, uint64_t batch, int force) {
    UW_RETURN_ERROR_IF(!t || !w || !batch, UW_ERR_INVALID_ARG, "uw_tune: bad argument");
    uw_choice have;
    UW_FORWARD_IF_ERROR(uw_tuner_choice(t, w, batch, &have));
    if (have.tuned && !force) return UW_OK;
    uw_device *d = uw_weights_device(w);
    uint64_t rows, cols, rep;
    UW_FORWARD_IF_ERROR(uw_weights_shape(w, &rows, &cols));
    int bucket = uw_batch_bucket(batch, &rep);
    uw_param_info pi[UW_CHOICE_MAX_PARAMS];
    uw_choice start;
    memset(&start, 0, sizeof start);
    start.nparams = uw_device_param_count(d);
    for (int i = 0; i < start.nparams; i++) {
        UW_FORWARD_IF_ERROR(uw_device_param_info(d, i, &pi[i]));
        snprintf(start.param_names[i], sizeof start.param_names[i], "%s", pi[i].name);
        start.param_values[i] = pi[i].values[0];
    }
    uint16_t *x = malloc(rep * cols * 2);
    float *y = malloc(rep * rows * 4);
    if (!x || !y) {
        free(x), free(y);
        return uw_error_set(UW_ERR_NOMEM, "tuner: out of memory");
    }
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i < rep * cols; i++) { /* random finite BF16 in [-2, 2) */
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (uint16_t)(((r >> 20) & 0x807F) | (uint16_t)((120 + (r >> 40) % 8) << 7));
    }
    uw_choice best;
    memset(&best, 0, sizeof best);
    best.time_us = 1e300;
    uw_status s = UW_OK;
    for (size_t k = 0; k < sizeof candidates / sizeof candidates[0] && s == UW_OK; k++) {
        uw_choice c = start;
        c.pipeline = candidates[k];
        double us;
        s = descend(w, pi, &c, x, y, rep, &us);
        if (s == UW_ERR_UNSUPPORTED) { /* not offered here, or its resident form is missing */
            s = UW_OK;
            continue;
        }
        if (s == UW_OK && us < best.time_us) {
            best = c;
            best.time_us = us;
        }
    }
    free(x);
    free(y);
    UW_FORWARD_IF_ERROR(s);
    UW_RETURN_ERROR_IF(best.pipeline == UW_PIPELINE_AUTO, UW_ERR_UNSUPPORTED,
                       "tuner: no compressed pipeline runs with the resident forms of this weight");
    uw_tune_entry e;
    memset(&e, 0, sizeof e);
    uw_tune_key_make(&e.key, uw_device_backend(d), uw_device_name(d), uw_device_driver(d), rows, cols, bucket);
    e.pipeline = best.pipeline;
    e.nparams = best.nparams;
    for (int i = 0; i < best.nparams; i++) {
        memcpy(e.names[i], best.param_names[i], sizeof e.names[i]);
        e.values[i] = best.param_values[i];
    }
    e.time_us = best.time_us;
    return uw_tune_cache_put(t, &e);
}
