/* tune_cache.h - the tuning cache (docs/TUNING.md): entries keyed by (backend, device, driver,
 * shape, batch bucket), loaded from and saved to one text file, looked up and recorded under
 * the tuner's own lock. A leaf module: it knows nothing of devices, backends or timing. */
#ifndef UW_TUNE_CACHE_H
#define UW_TUNE_CACHE_H

#include "uw_internal.h"

#define UW_TUNE_MAX_PARAMS UW_CHOICE_MAX_PARAMS

typedef struct uw_tune_key {
    char backend[32], device[256], driver[128]; /* single-line, tab-free */
    uint64_t rows, cols;
    int bucket;
} uw_tune_key;

typedef struct uw_tune_entry {
    uw_tune_key key;
    uw_pipeline pipeline;
    int nparams;
    char names[UW_TUNE_MAX_PARAMS][32];
    int values[UW_TUNE_MAX_PARAMS];
    double time_us;
} uw_tune_entry;

/* A key from a device's descriptions (tabs and line breaks become spaces, as the file needs). */
void uw_tune_key_make(uw_tune_key *k, const char *backend, const char *device, const char *driver, uint64_t rows,
                      uint64_t cols, int bucket);
/* 1 and a copy in *e if t (may be NULL) holds an entry for the key (the newest); 0 if not, with a
 * warning when one matches all but the driver (stale). */
int uw_tune_cache_find(uw_tuner *t, const uw_tune_key *k, uw_tune_entry *e);
/* Record e, replacing the entry with the same key if there is one. */
uw_status uw_tune_cache_put(uw_tuner *t, const uw_tune_entry *e);
/* Add a warning for uw_tuner_warning (once per distinct text). */
void uw_tune_cache_warn(uw_tuner *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
