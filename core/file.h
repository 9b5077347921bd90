/* file.h - the opened-file object behind uw_file: mapping, outer header, and for compressed
 * files the original header recovered from __metadata__["unweight"]. */
#ifndef UW_FILE_H
#define UW_FILE_H

#include "safetensors.h"

#define UW_META_KEY "unweight"

typedef struct uw_entry {
    const st_tensor *orig;   /* as in the original file */
    const st_tensor *stored; /* as stored in this file */
    int compressed;
    int codec;
    double entropy, rare_frac;
} uw_entry;

struct uw_file {
    char *path;
    const uint8_t *map;
    uint64_t size;
    st_header outer;
    int compressed;
    json_t *meta;            /* parsed unweight metadata */
    const char *orig_json;   /* original header text (inside meta) */
    uint64_t orig_json_len;
    st_header orig;          /* == outer for plain files (not separately owned) */
    uw_entry *e;             /* in original key order */
    size_t n;
};

/* Create (write) a file atomically: *fd of a temporary beside `path`, *tmp its name. */
uw_status uw_atomic_begin(const char *path, int *fd, char **tmp);
/* fsync + rename over path (commit) or unlink (abort). */
uw_status uw_atomic_end(int fd, char *tmp, const char *path, int commit);
/* write all bytes at offset */
uw_status uw_pwrite_all(int fd, const void *p, uint64_t n, uint64_t off, const char *what);

/* Same file? (device + inode), for "never overwrite the input". */
int uw_same_file(const char *a, const char *b);

#endif
