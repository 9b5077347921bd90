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
    int has_hash;            /* passthrough tensor with a checksum in the unweight metadata */
    uint64_t hash;           /* its XXH3-64 */
} uw_entry;

struct uw_file {
    char *path;
    const uint8_t *map;
    uint64_t size;
    int owns_map;            /* map is our mmap (uw_file_open), not a caller's buffer */
    st_header outer;
    int compressed;
    json_t *meta;            /* parsed unweight metadata */
    const char *orig_json;   /* original header text (inside meta) */
    uint64_t orig_json_len;
    st_header orig;          /* == outer for plain files (not separately owned) */
    uw_entry *e;             /* in original key order */
    size_t n;
};

/* Open a file image held in memory (not copied; it must outlive the uw_file). `name` is used
 * in messages. Same validation as uw_file_open; the fuzz targets use it. */
uw_status uw_file_open_buffer(const void *data, uint64_t size, const char *name, uw_file **out);

/* Create (write) a file atomically: *fd of a temporary beside `path`, *tmp its name. */
uw_status uw_atomic_begin(const char *path, int *fd, char **tmp);
/* fsync + rename over path (commit) or unlink (abort); frees tmp. */
uw_status uw_atomic_end(int fd, char *tmp, const char *path, int commit);
/* The same, the fsync only when sync is set. */
uw_status uw_atomic_end_sync(int fd, char *tmp, const char *path, int commit, int sync);
/* fsync + close a temporary without renaming it (errors name path): for outputs that are
 * renamed together later (uw_compress_model); uw_atomic_close fsyncs only when sync is set. */
uw_status uw_atomic_sync(int fd, const char *path);
uw_status uw_atomic_close(int fd, const char *path, int sync);
/* Whether an output is made durable (fsync) before it takes its name: the environment variable
 * UW_FSYNC (1 or 0) decides, else dflt. Compressed outputs default to 1 (they may become the only
 * copy of the weights); decompressed ones to 0, like zstd -d and cp (the compressed file can
 * always make them again, and an fsync costs about as much as decoding the whole file). */
int uw_fsync_wanted(int dflt);
/* Reserve an output's blocks before it is written (Linux fallocate; elsewhere nothing): writes
 * into reserved blocks skip the file system's per-page delayed allocation, which costs about as
 * much as copying the bytes (ext4: 100 MB written in 2 MiB pieces, 17.5 ms plain, 10 ms
 * reserved). The file's size becomes `size`: every caller writes all of it or discards it. */
void uw_preallocate(int fd, uint64_t size);
/* write all bytes at offset */
uw_status uw_pwrite_all(int fd, const void *p, uint64_t n, uint64_t off, const char *what);

/* Parse a checksum as the metadata writes it: 16 lowercase hex digits. 1 on success. */
int uw_parse_hash_hex(const char *s, uint64_t *v);
/* Check passthrough tensor i's bytes against its checksum (UW_OK when it has none). */
uw_status uw_file_check_passthrough(const uw_file *f, size_t i, const void *data, size_t size);
/* Compressed tensor i's blob parsed, its element count checked against the original shape and,
 * with check_hash, its blob checksum (without: the caller feeds the checksum as it decodes). */
struct uw_blob;
uw_status uw_file_blob_open(const uw_file *f, size_t i, struct uw_blob *b, int check_hash);

/* Decode tensor i in bands of whole tile rows (about 32 MiB each, at least one tile row), handing
 * each band to sink(user, bytes, offset within the tensor, size) in order (sink NULL: decode
 * only), and check the checksums; passthrough tensors go to the sink in one piece. Memory: one
 * band, not the tensor. */
typedef uw_status (*uw_sink_fn)(void *user, const void *data, uint64_t offset, uint64_t size);
uw_status uw_file_decode_stream(const uw_file *f, size_t i, int threads, uw_sink_fn sink, void *user);

/* Whole-file decoding in units (file_decode.c): a large tensor alone, or a run of small ones
 * decoded side by side. uw_file_unit_end: the end of the unit starting at tensor i.
 * uw_file_decode_unit decodes tensors [i, z) on `threads` threads, checks every checksum, and
 * with fd >= 0 writes each tensor's original bytes at base + its original offset (out names the
 * output in messages). Each tensor's verdict goes to st[k - i], its message (naming the file and
 * the tensor) to msg[k - i]; the return value is UW_OK unless the unit could not run at all. */
#define UW_FILE_MSG 512
#define UW_FILE_UNIT_MAX 256
size_t uw_file_unit_end(const uw_file *f, size_t i);
uw_status uw_file_decode_unit(const uw_file *f, size_t i, size_t z, int threads, int fd, uint64_t base, const char *out, uw_status *st,
                              char (*msg)[UW_FILE_MSG]);

/* Tell the kernel the mapped bytes [off, off + len) of the file are done with: their pages leave
 * the process's resident set (they stay in the page cache). Only for uw_file_open mappings of
 * files over 1 GiB (smaller files stay mapped: a release costs every thread a TLB shootdown). */
void uw_file_release(const uw_file *f, uint64_t off, uint64_t len);

/* The whole-file operations' parts (compress.c), shared with the model calls (model.c). */
typedef enum uw_file_op { UW_OP_COMPRESS, UW_OP_DECOMPRESS, UW_OP_VERIFY } uw_file_op;
/* UW_OK if f is what `op` takes (compress: a plain file; decompress, verify: a compressed one),
 * else UW_ERR_INVALID_ARG naming the file. */
uw_status uw_file_expect(const uw_file *f, uw_file_op op);
/* Bytes of original tensor data: the unit of every whole-file progress report. */
uint64_t uw_file_work(const uw_file *f);
/* Let the stored bytes of tensor i (of tensors [i, z)) leave the resident set once consumed. */
void uw_file_release_stored(const uw_file *f, size_t i);
void uw_file_release_unit(const uw_file *f, size_t i, size_t z);
/* Write the compressed (decompressed) image of f into fd, an empty temporary; `out` names the
 * output in messages. f must be plain (compressed): uw_file_expect first. */
uw_status uw_compress_write(const uw_file *f, int fd, const char *out, const uw_compress_options *o);
uw_status uw_decompress_write(const uw_file *f, int fd, const char *out, int threads, uw_progress_fn progress, void *user);
/* Shannon entropy in bits per symbol of a histogram of n symbols, compress.c. */
double uw_entropy_bits(const uint64_t *hist, int n);

#endif
