/* tune_cache.c - the tuning cache: its file (format: docs/TUNING.md), the entries and their
 * look-up. Every access to a tuner's entries and warnings holds its lock, so one uw_tuner may
 * serve AUTO look-ups and uw_tune on several threads at once. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "file.h"
#include "tune_cache.h"

#define CACHE_MAGIC "# unweight tuning cache v1"

struct uw_tuner {
    pthread_mutex_t lock; /* guards everything below */
    char *path;
    uw_tune_entry *e;
    size_t n, cap;
    char warning[1024];
};

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

void uw_tune_key_make(uw_tune_key *k, const char *backend, const char *device, const char *driver, uint64_t rows,
                      uint64_t cols, int bucket) {
    memset(k, 0, sizeof *k);
    clean_copy(k->backend, sizeof k->backend, backend);
    clean_copy(k->device, sizeof k->device, device);
    clean_copy(k->driver, sizeof k->driver, driver);
    k->rows = rows;
    k->cols = cols;
    k->bucket = bucket;
}

static uw_pipeline pipeline_by_name(const char *s) {
    for (int p = UW_PIPELINE_DECODE_GEMM; p <= UW_PIPELINE_PLAIN_BF16; p++)
        if (!strcmp(uw_pipeline_name((uw_pipeline)p), s)) return (uw_pipeline)p;
    return UW_PIPELINE_AUTO;
}

/* (lock held) */
static void vwarn(uw_tuner *t, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (strstr(t->warning, msg)) return; /* once: AUTO looks up on every call */
    size_t used = strlen(t->warning);
    if (used >= sizeof t->warning - 2) return;
    if (used) t->warning[used++] = ';', t->warning[used++] = ' ';
    snprintf(t->warning + used, sizeof t->warning - used, "%s", msg);
}

__attribute__((format(printf, 2, 3))) static void warn_locked(uw_tuner *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarn(t, fmt, ap);
    va_end(ap);
}

void uw_tune_cache_warn(uw_tuner *t, const char *fmt, ...) {
    if (!t) return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&t->lock);
    vwarn(t, fmt, ap);
    pthread_mutex_unlock(&t->lock);
    va_end(ap);
}

/* (lock held, or not yet shared) */
static uw_status add_entry(uw_tuner *t, const uw_tune_entry *e) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        uw_tune_entry *ne = realloc(t->e, nc * sizeof *ne);
        if (!ne) return uw_error_set(UW_ERR_NOMEM, "out of memory");
        t->e = ne;
        t->cap = nc;
    }
    t->e[t->n++] = *e;
    return UW_OK;
}

/* One line: backend, device, driver, rows, cols, bucket, pipeline, params, time_us. */
static int parse_line(char *line, uw_tune_entry *e) {
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
    uw_tune_key *k = &e->key;
    if (strlen(f[0]) >= sizeof k->backend || strlen(f[1]) >= sizeof k->device || strlen(f[2]) >= sizeof k->driver) return 0;
    strcpy(k->backend, f[0]);
    strcpy(k->device, f[1]);
    strcpy(k->driver, f[2]);
    char *end;
    errno = 0;
    k->rows = strtoull(f[3], &end, 10);
    if (*end || !k->rows || errno) return 0;
    k->cols = strtoull(f[4], &end, 10);
    if (*end || !k->cols || errno) return 0;
    long bk = strtol(f[5], &end, 10);
    if (*end || bk < 0 || bk > 5) return 0;
    k->bucket = (int)bk;
    e->pipeline = pipeline_by_name(f[6]);
    if (e->pipeline == UW_PIPELINE_AUTO) return 0;
    if (strcmp(f[7], "-")) {
        for (char *p = f[7]; p && *p;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            char *eq = strchr(p, '=');
            if (!eq || eq == p || e->nparams >= UW_TUNE_MAX_PARAMS || (size_t)(eq - p) >= sizeof e->names[0]) return 0;
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
    pthread_mutex_init(&t->lock, NULL);
    if (path) t->path = strdup(path);
    *out = t;
    if (!path) return UW_OK;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) warn_locked(t, "cannot read tuning cache %s: %s", path, strerror(errno));
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
        uw_tune_entry e;
        if (!parse_line(line, &e)) { bad = 1; break; }
        if (add_entry(t, &e) != UW_OK) { bad = 1; break; }
    }
    fclose(f);
    if (bad || ln == 0) {
        warn_locked(t, "ignoring corrupt tuning cache %s (line %ld)", path, ln);
        t->n = 0;
    }
    return UW_OK;
}

void uw_tuner_close(uw_tuner *t) {
    if (!t) return;
    pthread_mutex_destroy(&t->lock);
    free(t->e);
    free(t->path);
    free(t);
}

const char *uw_tuner_warning(const uw_tuner *t) {
    static _Thread_local char copy[sizeof t->warning]; /* others may add warnings meanwhile */
    copy[0] = 0;
    if (!t) return copy;
    uw_tuner *m = (uw_tuner *)t; /* the lock is not part of the tuner's value */
    pthread_mutex_lock(&m->lock);
    memcpy(copy, t->warning, sizeof copy);
    pthread_mutex_unlock(&m->lock);
    return copy;
}

size_t uw_tuner_entries(const uw_tuner *t) {
    if (!t) return 0;
    uw_tuner *m = (uw_tuner *)t;
    pthread_mutex_lock(&m->lock);
    size_t n = t->n;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static uw_status save_locked(uw_tuner *t) {
    int fd;
    char *tmp;
    UW_FORWARD_IF_ERROR(uw_atomic_begin(t->path, &fd, &tmp));
    FILE *f = fdopen(dup(fd), "w");
    uw_status s = f ? UW_OK : uw_error_set(UW_ERR_IO, "%s: cannot write", t->path);
    if (f) {
        fprintf(f, "%s\n# backend\tdevice\tdriver\trows\tcols\tbucket\tpipeline\tparams\ttime_us\n", CACHE_MAGIC);
        for (size_t i = 0; i < t->n; i++) {
            const uw_tune_entry *e = &t->e[i];
            const uw_tune_key *k = &e->key;
            fprintf(f, "%s\t%s\t%s\t%llu\t%llu\t%d\t%s\t", k->backend, k->device, k->driver, (unsigned long long)k->rows,
                    (unsigned long long)k->cols, k->bucket, uw_pipeline_name(e->pipeline));
            if (!e->nparams) fputc('-', f);
            for (int j = 0; j < e->nparams; j++) fprintf(f, "%s%s=%d", j ? "," : "", e->names[j], e->values[j]);
            fprintf(f, "\t%.3f\n", e->time_us);
        }
        if (fclose(f)) s = uw_error_set(UW_ERR_IO, "%s: write failed", t->path);
    }
    return uw_atomic_end(fd, tmp, t->path, s == UW_OK) == UW_OK ? s : uw_error_set(UW_ERR_IO, "%s: cannot replace", t->path);
}

uw_status uw_tuner_save(uw_tuner *t) {
    UW_RETURN_ERROR_IF(!t || !t->path, UW_ERR_INVALID_ARG, "uw_tuner_save: tuner has no file");
    pthread_mutex_lock(&t->lock);
    uw_status s = save_locked(t);
    pthread_mutex_unlock(&t->lock);
    return s;
}

/* ---- look-up ---- */

/* 2: full key match; 1: same backend, device, shape and bucket but another driver (stale) */
static int key_matches(const uw_tune_key *e, const uw_tune_key *k) {
    if (e->rows != k->rows || e->cols != k->cols || e->bucket != k->bucket || strcmp(e->backend, k->backend) ||
        strcmp(e->device, k->device))
        return 0;
    return strcmp(e->driver, k->driver) ? 1 : 2;
}

/* (lock held) the newest entry with the full key */
static uw_tune_entry *find_locked(uw_tuner *t, const uw_tune_key *k) {
    for (size_t i = t->n; i-- > 0;)
        if (key_matches(&t->e[i].key, k) == 2) return &t->e[i];
    return NULL;
}

int uw_tune_cache_find(uw_tuner *t, const uw_tune_key *k, uw_tune_entry *out) {
    if (!t) return 0;
    pthread_mutex_lock(&t->lock);
    const uw_tune_entry *e = find_locked(t, k);
    if (e) {
        *out = *e;
    } else {
        for (size_t i = t->n; i-- > 0;)
            if (key_matches(&t->e[i].key, k) == 1) {
                warn_locked(t, "ignoring stale tuning entry for %s (recorded with driver %s)", k->device, t->e[i].key.driver);
                break;
            }
    }
    pthread_mutex_unlock(&t->lock);
    return e != NULL;
}

uw_status uw_tune_cache_put(uw_tuner *t, const uw_tune_entry *e) {
    pthread_mutex_lock(&t->lock);
    uw_tune_entry *old = find_locked(t, &e->key);
    uw_status s = UW_OK;
    if (old) *old = *e;
    else s = add_entry(t, e);
    pthread_mutex_unlock(&t->lock);
    return s;
}
