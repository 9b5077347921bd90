/* tuner.c - the autotuner and its cache: per (backend, device, driver, shape, batch bucket) it
 * times every offered pipeline and, by coordinate descent, the backend's per-call parameters;
 * the fastest is recorded and replayed by UW_PIPELINE_AUTO. File format: docs/TUNING.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "file.h"

#define CACHE_MAGIC "# unweight tuning cache v1"
#define MAX_PARAMS 4

typedef struct entry {
    char backend[32], device[256], driver[128];
    uint64_t rows, cols;
    int bucket;
    uw_pipeline pipeline;
    int nparams;
    char names[MAX_PARAMS][32];
    int values[MAX_PARAMS];
    double time_us;
} entry;

struct uw_tuner {
    char *path;
    entry *e;
    size_t n, cap;
    char warning[1024];
};

static const uw_pipeline candidates[] = {UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_EXP_PREDECODE,
                                         UW_PIPELINE_PALETTE_TRANSCODE, UW_PIPELINE_DECODE_GEMM};

int uw_batch_bucket(uint64_t batch, uint64_t *rep) {
    static const uint64_t top[] = {1, 4, 16, 64, 256, 1024};
    int b = 0;
    while (b < 5 && batch > top[b]) b++;
    if (rep) *rep = top[b];
    return b;
}

/* keys are single-line, tab-free strings */
static void clean_copy(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
    for (char *p = dst; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
}

static const char *dev_driver(const uw_device *d) {
    return d->be->driver ? d->be->driver(d->ctx) : "-";
}

static uw_pipeline pipeline_by_name(const char *s) {
    for (int p = UW_PIPELINE_DECODE_GEMM; p <= UW_PIPELINE_PLAIN_BF16; p++)
        if (!strcmp(uw_pipeline_name((uw_pipeline)p), s)) return (uw_pipeline)p;
    return UW_PIPELINE_AUTO;
}

__attribute__((format(printf, 2, 3))) static void warn(uw_tuner *t, const char *fmt, ...) {
    size_t used = strlen(t->warning);
    if (used >= sizeof t->warning - 2) return;
    if (used) t->warning[used++] = ';', t->warning[used++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->warning + used, sizeof t->warning - used, fmt, ap);
    va_end(ap);
}

static uw_status add_entry(uw_tuner *t, const entry *e) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        entry *ne = realloc(t->e, nc * sizeof *ne);
        if (!ne) return uw_error_set(UW_ERR_NOMEM, "out of memory");
        t->e = ne;
        t->cap = nc;
    }
    t->e[t->n++] = *e;
    return UW_OK;
}

/* One line: backend, device, driver, rows, cols, bucket, pipeline, params, time_us. */
static int parse_line(char *line, entry *e) {
    char *f[9];
    int nf = 0;
    for (char *p = line; nf < 9;) {
        f[nf++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = 0;
        p = tab + 1;
    }
    if (nf != 9 || strchr(f[8], '\t')) return 0;
    memset(e, 0, sizeof *e);
    if (strlen(f[0]) >= sizeof e->backend || strlen(f[1]) >= sizeof e->device || strlen(f[2]) >= sizeof e->driver) return 0;
    strcpy(e->backend, f[0]);
    strcpy(e->device, f[1]);
    strcpy(e->driver, f[2]);
    char *end;
    errno = 0;
    e->rows = strtoull(f[3], &end, 10);
    if (*end || !e->rows || errno) return 0;
    e->cols = strtoull(f[4], &end, 10);
    if (*end || !e->cols || errno) return 0;
    long bk = strtol(f[5], &end, 10);
    if (*end || bk < 0 || bk > 5) return 0;
    e->bucket = (int)bk;
    e->pipeline = pipeline_by_name(f[6]);
    if (e->pipeline == UW_PIPELINE_AUTO) return 0;
    if (strcmp(f[7], "-")) {
        for (char *p = f[7]; p && *p;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            char *eq = strchr(p, '=');
            if (!eq || eq == p || e->nparams >= MAX_PARAMS || (size_t)(eq - p) >= sizeof e->names[0]) return 0;
            memcpy(e->names[e->nparams], p, (size_t)(eq - p));
            long v = strtol(eq + 1, &end, 10);
            if (*end || eq[1] == 0) return 0;
            e->values[e->nparams++] = (int)v;
            p = comma ? comma + 1 : NULL;
        }
    }
    e->time_us = strtod(f[8], &end);
    if ((*end && *end != '\n') || !(e->time_us > 0)) return 0;
    return 1;
}

uw_status uw_tuner_open(const char *path, uw_tuner **out) {
    UW_RETURN_ERROR_IF(!out, UW_ERR_INVALID_ARG, "uw_tuner_open: NULL argument");
    uw_tuner *t = calloc(1, sizeof *t);
    UW_RETURN_ERROR_IF(!t, UW_ERR_NOMEM, "out of memory");
    if (path) t->path = strdup(path);
    *out = t;
    if (!path) return UW_OK;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) warn(t, "cannot read tuning cache %s: %s", path, strerror(errno));
        return UW_OK;
    }
    char line[2048];
    long ln = 0;
    int bad = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t L = strlen(line);
        if (L && line[L - 1] == '\n') line[--L] = 0;
        else if (!feof(f)) { bad = 1; break; } /* over-long line */
        if (ln == 1) {
            if (strcmp(line, CACHE_MAGIC)) { bad = 1; break; }
            continue;
        }
        if (!L || line[0] == '#') continue;
        entry e;
        if (!parse_line(line, &e)) { bad = 1; break; }
        if (add_entry(t, &e) != UW_OK) { bad = 1; break; }
    }
    fclose(f);
    if (bad || ln == 0) {
        warn(t, "ignoring corrupt tuning cache %s (line %ld)", path, ln);
        t->n = 0;
    }
    return UW_OK;
}

void uw_tuner_close(uw_tuner *t) {
    if (!t) return;
    free(t->e);
    free(t->path);
    free(t);
}

const char *uw_tuner_warning(const uw_tuner *t) { return t ? t->warning : ""; }
size_t uw_tuner_entries(const uw_tuner *t) { return t ? t->n : 0; }
void uw_device_set_tuner(uw_device *d, uw_tuner *t) {
    if (d) d->tuner = t;
}

uw_status uw_tuner_save(uw_tuner *t) {
    UW_RETURN_ERROR_IF(!t || !t->path, UW_ERR_INVALID_ARG, "uw_tuner_save: tuner has no file");
    int fd;
    char *tmp;
    UW_FORWARD_IF_ERROR(uw_atomic_begin(t->path, &fd, &tmp));
    FILE *f = fdopen(dup(fd), "w");
    uw_status s = f ? UW_OK : uw_error_set(UW_ERR_IO, "%s: cannot write", t->path);
    if (f) {
        fprintf(f, "%s\n# backend\tdevice\tdriver\trows\tcols\tbucket\tpipeline\tparams\ttime_us\n", CACHE_MAGIC);
        for (size_t i = 0; i < t->n; i++) {
            const entry *e = &t->e[i];
            fprintf(f, "%s\t%s\t%s\t%llu\t%llu\t%d\t%s\t", e->backend, e->device, e->driver, (unsigned long long)e->rows,
                    (unsigned long long)e->cols, e->bucket, uw_pipeline_name(e->pipeline));
            if (!e->nparams) fputc('-', f);
            for (int k = 0; k < e->nparams; k++) fprintf(f, "%s%s=%d", k ? "," : "", e->names[k], e->values[k]);
            fprintf(f, "\t%.3f\n", e->time_us);
        }
        if (fclose(f)) s = uw_error_set(UW_ERR_IO, "%s: write failed", t->path);
    }
    return uw_atomic_end(fd, tmp, t->path, s == UW_OK) == UW_OK ? s : uw_error_set(UW_ERR_IO, "%s: cannot replace", t->path);
}

/* ---- look-up ---- */

/* 2: full key match; 1: same backend, device, shape and bucket but another driver (stale) */
static int key_matches(const entry *e, const uw_device *d, uint64_t rows, uint64_t cols, int bucket) {
    char dev[256], drv[128];
    clean_copy(dev, sizeof dev, d->name);
    clean_copy(drv, sizeof drv, dev_driver(d));
    if (e->rows != rows || e->cols != cols || e->bucket != bucket || strcmp(e->backend, d->be->name) || strcmp(e->device, dev)) return 0;
    return strcmp(e->driver, drv) ? 1 : 2;
}

static entry *find(uw_tuner *t, const uw_device *d, uint64_t rows, uint64_t cols, int bucket) {
    if (!t) return NULL;
    for (size_t i = t->n; i-- > 0;)
        if (key_matches(&t->e[i], d, rows, cols, bucket) == 2) return &t->e[i];
    for (size_t i = t->n; i-- > 0;)
        if (key_matches(&t->e[i], d, rows, cols, bucket) == 1) {
            warn(t, "ignoring stale tuning entry for %s (recorded with driver %s)", d->name, t->e[i].driver);
            break;
        }
    return NULL;
}

/* an entry is trusted only if its pipeline's resident form is there and every parameter and
 * value is one the backend offers now */
static int entry_usable(const entry *e, const uw_weights *w) {
    unsigned need;
    if (uw_pipeline_needs(e->pipeline, w->rows, w->cols, &need, NULL) != UW_OK || !(w->resident & need)) return 0;
    int np = 0;
    const uw_param_desc *pd = w->dev->be->params ? w->dev->be->params(w->dev->ctx, &np) : NULL;
    for (int k = 0; k < e->nparams; k++) {
        int ok = 0;
        for (int i = 0; i < np && !ok; i++)
            if (!strcmp(pd[i].name, e->names[k]))
                for (int v = 0; v < pd[i].nvalues; v++) ok |= pd[i].values[v] == e->values[k];
        if (!ok || !w->dev->be->set_param) return 0;
    }
    return 1;
}

uw_status uw_weights_choice(uw_weights *w, uint64_t batch, uw_choice *c) {
    UW_RETURN_ERROR_IF(!w || !c || !batch, UW_ERR_INVALID_ARG, "uw_weights_choice: bad argument");
    memset(c, 0, sizeof *c);
    int bucket = uw_batch_bucket(batch, NULL);
    entry *e = find(w->dev->tuner, w->dev, w->rows, w->cols, bucket);
    if (e && !entry_usable(e, w)) {
        warn(w->dev->tuner, "ignoring tuning entry for %s: its pipeline or parameters are not available", w->dev->name);
        e = NULL;
    }
    if (e) {
        c->pipeline = e->pipeline;
        c->tuned = 1;
        c->nparams = e->nparams;
        for (int k = 0; k < e->nparams; k++) {
            memcpy(c->param_names[k], e->names[k], sizeof c->param_names[k]);
            c->param_values[k] = e->values[k];
        }
        c->time_us = e->time_us;
        return UW_OK;
    }
    c->pipeline = (w->resident & UW_RESIDENT_HUFFMAN) ? UW_PIPELINE_FUSED_HUFFMAN
                : (w->resident & UW_RESIDENT_PALETTE) ? UW_PIPELINE_PALETTE_DIRECT
                                                      : UW_PIPELINE_PLAIN_BF16;
    /* defaults for the per-call parameters: each one's first value */
    int np = 0;
    const uw_param_desc *pd = w->dev->be->params ? w->dev->be->params(w->dev->ctx, &np) : NULL;
    for (int i = 0; i < np && i < MAX_PARAMS && w->dev->be->set_param; i++) {
        snprintf(c->param_names[i], sizeof c->param_names[i], "%s", pd[i].name);
        c->param_values[i] = pd[i].values[0];
        c->nparams = i + 1;
    }
    return UW_OK;
}

/* ---- measurement ---- */

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median time of one matmul with the given parameters: one warm-up, then at least 5 runs and
 * at least ~20 ms, at most 25 runs */
static uw_status time_one(uw_weights *w, uw_pipeline p, const uw_param_desc *pd, const int *vals, int np, const uint16_t *x,
                          float *y, uint64_t batch, double *us) {
    const uw_backend *be = w->dev->be;
    for (int i = 0; i < np; i++) UW_FORWARD_IF_ERROR(be->set_param(w->dev->ctx, pd[i].name, vals[i]));
    UW_FORWARD_IF_ERROR(be->matmul(w->dev->ctx, w->wh, p, x, y, batch));
    double t[25], total = 0;
    int n = 0;
    while (n < 25 && (n < 5 || total < 20000)) {
        double t0 = now_us();
        UW_FORWARD_IF_ERROR(be->matmul(w->dev->ctx, w->wh, p, x, y, batch));
        t[n] = now_us() - t0;
        total += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_d);
    *us = t[n / 2];
    return UW_OK;
}

uw_status uw_tune(uw_tuner *t, uw_weights *w, uint64_t batch, int force) {
    UW_RETURN_ERROR_IF(!t || !w || !batch, UW_ERR_INVALID_ARG, "uw_tune: bad argument");
    uint64_t rep;
    int bucket = uw_batch_bucket(batch, &rep);
    uw_device *d = w->dev;
    entry *old = find(t, d, w->rows, w->cols, bucket);
    if (old && !force && entry_usable(old, w)) return UW_OK;
    uint16_t *x = malloc(rep * w->cols * 2);
    float *y = malloc(rep * w->rows * 4);
    if (!x || !y) {
        free(x), free(y);
        return uw_error_set(UW_ERR_NOMEM, "tuner: out of memory");
    }
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i < rep * w->cols; i++) { /* random finite BF16 in [-2, 2) */
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (uint16_t)(((r >> 20) & 0x807F) | (uint16_t)((120 + (r >> 40) % 8) << 7));
    }
    int np = 0;
    const uw_param_desc *pd = d->be->params && d->be->set_param ? d->be->params(d->ctx, &np) : NULL;
    if (np > MAX_PARAMS) np = MAX_PARAMS;
    entry best;
    memset(&best, 0, sizeof best);
    best.time_us = 1e300;
    uw_status s = UW_OK;
    for (size_t k = 0; k < sizeof candidates / sizeof candidates[0] && s == UW_OK; k++) {
        uw_pipeline p = candidates[k];
        unsigned need;
        if (uw_pipeline_needs(p, w->rows, w->cols, &need, NULL) != UW_OK || !(w->resident & need)) continue;
        int cur[MAX_PARAMS];
        for (int i = 0; i < np; i++) cur[i] = pd[i].values[0];
        double tcur;
        s = time_one(w, p, pd, cur, np, x, y, rep, &tcur);
        if (s == UW_ERR_UNSUPPORTED) { /* not offered here, or its resident form is missing */
            s = UW_OK;
            continue;
        }
        /* coordinate descent: one parameter at a time, keep a value only if >3% faster */
        for (int round = 0, improved = 1; s == UW_OK && improved && round < 3; round++) {
            improved = 0;
            for (int i = 0; i < np && s == UW_OK; i++)
                for (int v = 0; v < pd[i].nvalues && s == UW_OK; v++) {
                    if (pd[i].values[v] == cur[i]) continue;
                    int trial[MAX_PARAMS];
                    memcpy(trial, cur, sizeof trial);
                    trial[i] = pd[i].values[v];
                    double tt;
                    s = time_one(w, p, pd, trial, np, x, y, rep, &tt);
                    if (s == UW_OK && tt < tcur * 0.97) {
                        memcpy(cur, trial, sizeof cur);
                        tcur = tt;
                        improved = 1;
                    }
                }
        }
        if (s == UW_OK && tcur < best.time_us) {
            best.pipeline = p;
            best.time_us = tcur;
            best.nparams = np;
            for (int i = 0; i < np; i++) {
                snprintf(best.names[i], sizeof best.names[i], "%s", pd[i].name);
                best.values[i] = cur[i];
            }
        }
    }
    free(x);
    free(y);
    UW_FORWARD_IF_ERROR(s);
    UW_RETURN_ERROR_IF(best.pipeline == UW_PIPELINE_AUTO, UW_ERR_UNSUPPORTED,
                       "tuner: no compressed pipeline runs with the resident forms of this weight");
    clean_copy(best.backend, sizeof best.backend, d->be->name);
    clean_copy(best.device, sizeof best.device, d->name);
    clean_copy(best.driver, sizeof best.driver, dev_driver(d));
    best.rows = w->rows;
    best.cols = w->cols;
    best.bucket = bucket;
    if (old) {
        *old = best;
        return UW_OK;
    }
    return add_entry(t, &best);
}
