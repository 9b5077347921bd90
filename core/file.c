/* file.c - uw_file: mmap a safetensors file (plain or compressed), validate its header, map
 * original tensors to stored ones, decode a tensor; plus atomic output helpers. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* fallocate */
#endif
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../codecs/decode.h"
#include "file_guess.h"

#define BAD(...) return uw_error_set(UW_ERR_CORRUPT, __VA_ARGS__)

/* g: the other thread's guess of the metadata (file_guess.h), taken where it is this text */
static uw_status load_meta(uw_file *f, uw_file_guess *g) {
    json_t *mv = f->outer.metadata ? json_object_get(f->outer.metadata, UW_META_KEY) : NULL;
    if (!mv) return UW_OK;
    f->compressed = 1;
    const char *s = json_string_value(mv);
    f->meta = uw_file_guess_take_meta(g, s, json_string_length(mv));
    if (!f->meta) {
        json_error_t err;
        /* {"tensors":{name:{"shape":[...]}}} nests 4 deep */
        UW_FORWARD_IF_ERROR(uw_st_prescan(s, strlen(s), 4));
        f->meta = json_loads(s, JSON_REJECT_DUPLICATES, &err);
        if (!json_is_object(f->meta)) BAD("__metadata__.unweight is not a JSON object (%s)", err.text);
    }
    json_t *ver = json_object_get(f->meta, "version"), *oh = json_object_get(f->meta, "original_header"),
           *tens = json_object_get(f->meta, "tensors"), *fmt = json_object_get(f->meta, "format"),
           *ohh = json_object_get(f->meta, "original_header_xxh3"), *pth = json_object_get(f->meta, "passthrough_xxh3");
    if (!json_is_integer(ver)) BAD("__metadata__.unweight has no integer version");
    if (json_integer_value(ver) != 1) return uw_error_set(UW_ERR_UNSUPPORTED, "container version %lld not supported", (long long)json_integer_value(ver));
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "unweight")) BAD("__metadata__.unweight has no \"format\":\"unweight\"");
    if (!json_is_string(oh) || !json_is_object(tens)) BAD("__metadata__.unweight lacks original_header or tensors");
    /* version 1 knows these keys and no others: a damaged key name is damage, not an extension */
    const char *k;
    json_t *v;
    json_object_foreach(f->meta, k, v) {
        static const char *const known[] = {"format", "version", "original_header", "original_header_xxh3", "passthrough_xxh3", "tensors", NULL};
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(k, known[i]);
        if (!ok) BAD("__metadata__.unweight has an unknown key '%.64s'", k);
    }
    f->orig_json = json_string_value(oh);
    f->orig_json_len = json_string_length(oh);
    if (ohh) {
        uint64_t want;
        if (!json_is_string(ohh) || !uw_parse_hash_hex(json_string_value(ohh), &want)) BAD("__metadata__.unweight original_header_xxh3 is not 16 hex digits");
        if (uw_hash64(f->orig_json, f->orig_json_len) != want)
            return uw_error_set(UW_ERR_CHECKSUM, "original header checksum mismatch (the file's metadata is damaged)");
    }
    if (pth) {
        if (!json_is_object(pth)) BAD("__metadata__.unweight passthrough_xxh3 is not an object");
        json_object_foreach(pth, k, v) {
            uint64_t h;
            if (!json_is_string(v) || !uw_parse_hash_hex(json_string_value(v), &h))
                BAD("__metadata__.unweight passthrough_xxh3 of '%.64s' is not 16 hex digits", k);
        }
    }
    if (!uw_file_guess_take_orig(g, &f->orig)) UW_FORWARD_IF_ERROR(uw_st_parse_json(f->orig_json, f->orig_json_len, UINT64_MAX, &f->orig));
    return UW_OK;
}

int uw_parse_hash_hex(const char *s, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        x = x << 4 | (uint64_t)d;
    }
    if (s[16]) return 0;
    *v = x;
    return 1;
}

uw_status uw_file_check_passthrough(const uw_file *f, size_t i, const void *data, size_t size) {
    const uw_entry *e = &f->e[i];
    if (e->compressed || !e->has_hash || uw_hash64(data, size) == e->hash) return UW_OK;
    return uw_error_set(UW_ERR_CHECKSUM, "%s: tensor '%s': passthrough tensor checksum mismatch (its stored bytes are damaged)", f->path,
                        e->orig->name);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

/* stored tensors by name: sorted pointers + binary search (headers may hold 10^6 tensors) */
static const st_tensor *find_stored(const st_tensor **sorted, size_t n, const char *name) {
    st_tensor key;
    key.name = name;
    const st_tensor *kp = &key;
    const st_tensor **hit = bsearch(&kp, sorted, n, sizeof *sorted, cmp_name);
    return hit ? *hit : NULL;
}

/* Validate compressed entry e's blob header and index (cheap: no payload is read), and that it
 * holds exactly the original element count: the decoded size comes from the original header, so
 * nothing may allocate a declared size the file cannot back. */
static uw_status check_blob(const uw_file *f, const uw_entry *e) {
    uw_blob bb;
    const uint8_t *bd = f->map + 8 + f->outer.header_len + e->stored->begin;
    uw_status s = uw_blob_parse(bd, e->stored->end - e->stored->begin, &bb);
    if (s != UW_OK) {
        uw_error_prefix("tensor '%s'", e->orig->name);
        return s;
    }
    if (bb.n != e->orig->numel)
        return uw_error_set(UW_ERR_CORRUPT, "tensor '%s': blob holds %llu x %llu elements, the original shape %llu", e->orig->name,
                            (unsigned long long)bb.rows, (unsigned long long)bb.cols, (unsigned long long)e->orig->numel);
    if (bb.codec != e->codec)
        return uw_error_set(UW_ERR_CORRUPT, "tensor '%s': __metadata__.unweight names codec %s, the blob is %s", e->orig->name,
                            e->codec == UW_CODEC_PALETTE ? "palette" : "huffman", bb.codec == UW_CODEC_PALETTE ? "palette" : "huffman");
    return UW_OK;
}

/* The blobs of entries [0, n) checked on all threads (each check touches the blob's first page:
 * a page fault per tensor, which a file of many small tensors otherwise pays one by one); the
 * error reported is the first entry's, as a loop in order would. */
#define BLOB_TASK 32
typedef struct blob_checks {
    const uw_file *f;
    size_t n;
    _Atomic size_t first_bad;
} blob_checks;

static uw_status blob_task(void *ctx, uint64_t t, int worker) {
    (void)worker;
    blob_checks *c = ctx;
    size_t z = (t + 1) * BLOB_TASK < c->n ? (t + 1) * BLOB_TASK : c->n;
    for (size_t i = t * BLOB_TASK; i < z; i++)
        if (c->f->e[i].compressed && check_blob(c->f, &c->f->e[i]) != UW_OK) {
            size_t cur = atomic_load(&c->first_bad);
            while (i < cur && !atomic_compare_exchange_weak(&c->first_bad, &cur, i)) {
            }
            break;
        }
    return UW_OK;
}

static uw_status check_blobs(const uw_file *f, size_t n) {
    blob_checks c = {f, n, n};
    UW_FORWARD_IF_ERROR(uw_parallel_for((n + BLOB_TASK - 1) / BLOB_TASK, 0, blob_task, &c));
    size_t i = atomic_load(&c.first_bad);
    return i < n ? check_blob(f, &f->e[i]) : UW_OK; /* again here: the message is this thread's */
}

static uw_status build_entries(uw_file *f) {
    st_header *o = f->compressed ? &f->orig : &f->outer;
    f->n = o->n;
    f->e = calloc(o->n ? o->n : 1, sizeof *f->e);
    if (!f->e) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    json_t *tens = f->compressed ? json_object_get(f->meta, "tensors") : NULL;
    json_t *pth = f->compressed ? json_object_get(f->meta, "passthrough_xxh3") : NULL;
    size_t ncomp = 0, npass = 0;
    const st_tensor **byname = malloc((f->outer.n ? f->outer.n : 1) * sizeof *byname);
    if (!byname) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->outer.n; i++) byname[i] = &f->outer.t[i];
    qsort(byname, f->outer.n, sizeof *byname, cmp_name);
    uw_status s = UW_OK;
    size_t i = 0;
    for (; i < o->n; i++) {
        uw_entry *e = &f->e[i];
        e->orig = &o->t[i];
        if (!f->compressed) { e->stored = e->orig; continue; }
        json_t *ti = json_object_get(tens, e->orig->name);
        e->stored = find_stored(byname, f->outer.n, e->orig->name);
        if (!e->stored) { s = uw_error_set(UW_ERR_CORRUPT, "tensor '%s' of the original header is missing from the file", e->orig->name); break; }
        if (ti) {
            ncomp++;
            const char *why = NULL;
            json_t *codec = json_object_get(ti, "codec"), *ent = json_object_get(ti, "exp_entropy_ubits"),
                   *rare = json_object_get(ti, "rare_ppm"), *dt = json_object_get(ti, "dtype"), *sh = json_object_get(ti, "shape");
            if (!json_is_object(ti)) why = "is not an object";
            else if (!json_is_string(codec) || (strcmp(json_string_value(codec), "huffman") && strcmp(json_string_value(codec), "palette")))
                why = "has no codec \"huffman\" or \"palette\"";
            else if (!json_is_integer(ent) || json_integer_value(ent) < 0 || !json_is_integer(rare) || json_integer_value(rare) < 0)
                why = "lacks non-negative integer exp_entropy_ubits / rare_ppm";
            else if (!json_is_string(dt) || strcmp(json_string_value(dt), e->orig->dtype))
                why = "has a dtype that differs from the original header";
            else if (!json_is_array(sh) || json_array_size(sh) != (size_t)e->orig->ndim)
                why = "has a shape that differs from the original header";
            else
                for (int d = 0; d < e->orig->ndim && !why; d++) {
                    json_t *v = json_array_get(sh, (size_t)d);
                    if (!json_is_integer(v) || (uint64_t)json_integer_value(v) != e->orig->shape[d]) why = "has a shape that differs from the original header";
                }
            if (why) { s = uw_error_set(UW_ERR_CORRUPT, "__metadata__.unweight entry of tensor '%s' %s", e->orig->name, why); break; }
            e->compressed = 1;
            e->codec = !strcmp(json_string_value(codec), "palette") ? UW_CODEC_PALETTE : UW_CODEC_HUFFMAN;
            e->entropy = (double)json_integer_value(ent) / 1e6;
            e->rare_frac = (double)json_integer_value(rare) / 1e6;
            if (strcmp(e->stored->dtype, "U8") || e->stored->ndim != 1) { s = uw_error_set(UW_ERR_CORRUPT, "compressed tensor '%s' is not stored as a 1-D U8 blob", e->orig->name); break; }
            if (strcmp(e->orig->dtype, "BF16")) { s = uw_error_set(UW_ERR_UNSUPPORTED, "compressed tensor '%s' has original dtype %s", e->orig->name, e->orig->dtype); break; }
        } else {
            if (strcmp(e->stored->dtype, e->orig->dtype) || e->stored->numel != e->orig->numel || e->stored->ndim != e->orig->ndim ||
                memcmp(e->stored->shape, e->orig->shape, sizeof e->orig->shape)) {
                s = uw_error_set(UW_ERR_CORRUPT, "passthrough tensor '%s' differs from the original header", e->orig->name);
                break;
            }
            if (pth) {
                json_t *hv = json_object_get(pth, e->orig->name);
                if (!hv) { s = uw_error_set(UW_ERR_CORRUPT, "passthrough tensor '%s' has no checksum in __metadata__.unweight", e->orig->name); break; }
                uw_parse_hash_hex(json_string_value(hv), &e->hash); /* format checked in load_meta */
                e->has_hash = 1;
                npass++;
            }
        }
    }
    free(byname);
    if (!f->compressed) return s;
    /* the blobs of the entries checked so far: a bad blob before the entry that stopped the loop
     * is the first error */
    uw_status sb = check_blobs(f, i);
    if (sb != UW_OK) return sb;
    if (s != UW_OK) return s;
    if (ncomp != json_object_size(tens)) BAD("__metadata__.unweight lists tensors absent from the original header");
    if (pth && npass != json_object_size(pth)) BAD("__metadata__.unweight passthrough_xxh3 lists tensors that are not passthrough tensors");
    if (f->outer.n != o->n) BAD("file holds %zu tensors, the original header %zu", f->outer.n, o->n);
    return UW_OK;
}

/* Validate the mapped image: outer header, unweight metadata, original-to-stored mapping. */
static uw_status file_parse(uw_file *f) {
    uw_file_guess g;
    uw_status s = uw_file_parse_outer(f->map, f->size, &f->outer, &g);
    if (s == UW_OK) s = load_meta(f, &g);
    uw_file_guess_free(&g);
    if (s == UW_OK) s = build_entries(f);
    if (s != UW_OK) uw_error_prefix("%s", f->path);
    return s;
}

uw_status uw_file_open(const char *path, uw_file **out) {
    UW_RETURN_ERROR_IF(!path || !out, UW_ERR_INVALID_ARG, "uw_file_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return uw_error_set(UW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return uw_error_set(UW_ERR_IO, "%s: not a regular file", path);
    }
    uw_file *f = calloc(1, sizeof *f);
    if (!f) { close(fd); return uw_error_set(UW_ERR_NOMEM, "out of memory"); }
    f->path = strdup(path);
    f->size = (uint64_t)st.st_size;
    if (!f->path) { close(fd); uw_file_close(f); return uw_error_set(UW_ERR_NOMEM, "out of memory"); }
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            uw_status s = uw_error_set(UW_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
            close(fd);
            uw_file_close(f);
            return s;
        }
        f->map = m;
        f->owns_map = 1;
        madvise(m, f->size, MADV_SEQUENTIAL);
    }
    close(fd);
    uw_status s = file_parse(f);
    if (s != UW_OK) {
        uw_file_close(f);
        return s;
    }
    *out = f;
    return UW_OK;
}

uw_status uw_file_open_buffer(const void *data, uint64_t size, const char *name, uw_file **out) {
    UW_RETURN_ERROR_IF(!out || (!data && size) || !name, UW_ERR_INVALID_ARG, "uw_file_open_buffer: NULL argument");
    *out = NULL;
    uw_file *f = calloc(1, sizeof *f);
    if (!f) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    f->path = strdup(name);
    f->map = data;
    f->size = size;
    if (!f->path) { uw_file_close(f); return uw_error_set(UW_ERR_NOMEM, "out of memory"); }
    uw_status s = file_parse(f);
    if (s != UW_OK) {
        uw_file_close(f);
        return s;
    }
    *out = f;
    return UW_OK;
}

void uw_file_close(uw_file *f) {
    if (!f) return;
    if (f->map && f->owns_map) munmap((void *)f->map, f->size);
    if (f->compressed) uw_st_free(&f->orig);
    uw_st_free(&f->outer);
    if (f->meta) json_decref(f->meta);
    free(f->e);
    free(f->path);
    free(f);
}

int uw_file_is_compressed(const uw_file *f) { return f && f->compressed; }
size_t uw_file_tensor_count(const uw_file *f) { return f ? f->n : 0; }

uw_status uw_file_tensor_info(const uw_file *f, size_t i, uw_tensor_info *info) {
    UW_RETURN_ERROR_IF(!f || !info || i >= f->n, UW_ERR_INVALID_ARG, "uw_file_tensor_info: bad argument");
    const uw_entry *e = &f->e[i];
    memset(info, 0, sizeof *info);
    info->name = e->orig->name;
    info->dtype = e->orig->dtype;
    info->ndim = e->orig->ndim;
    memcpy(info->shape, e->orig->shape, sizeof info->shape);
    info->orig_bytes = e->orig->end - e->orig->begin;
    info->stored_bytes = e->stored->end - e->stored->begin;
    info->compressed = e->compressed;
    info->codec = e->codec;
    info->exp_entropy = e->entropy;
    info->verbatim_frac = e->rare_frac;
    return UW_OK;
}

uw_status uw_file_find(const uw_file *f, const char *name, size_t *index) {
    UW_RETURN_ERROR_IF(!f || !name, UW_ERR_INVALID_ARG, "uw_file_find: NULL argument");
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].orig->name, name)) {
            if (index) *index = i;
            return UW_OK;
        }
    return uw_error_set(UW_ERR_NOT_FOUND, "%s: no tensor named '%s'", f->path, name);
}

uw_status uw_file_tensor_data(const uw_file *f, size_t i, const void **data, size_t *size) {
    UW_RETURN_ERROR_IF(!f || i >= f->n || !data || !size, UW_ERR_INVALID_ARG, "uw_file_tensor_data: bad argument");
    const st_tensor *s = f->e[i].stored;
    *data = f->map + 8 + f->outer.header_len + s->begin;
    *size = s->end - s->begin;
    return UW_OK;
}

uw_status uw_file_blob_open(const uw_file *f, size_t i, uw_blob *b, int check_hash) {
    const void *data = NULL;
    size_t size = 0;
    UW_FORWARD_IF_ERROR(uw_file_tensor_data(f, i, &data, &size));
    UW_FORWARD_IF_ERROR(uw_blob_parse(data, size, b));
    UW_RETURN_ERROR_IF(b->n != f->e[i].orig->numel, UW_ERR_CORRUPT, "blob holds %llu elements, the original shape %llu",
                       (unsigned long long)b->n, (unsigned long long)f->e[i].orig->numel);
    UW_RETURN_ERROR_IF(check_hash && uw_blob_compute_hash(data, b->payload_end) != b->blob_hash, UW_ERR_CHECKSUM,
                       "blob checksum mismatch (the compressed bytes are damaged)");
    return UW_OK;
}

uw_status uw_file_decode(const uw_file *f, size_t i, void *dst, size_t dst_size, int threads) {
    UW_RETURN_ERROR_IF(!f || i >= f->n || !dst, UW_ERR_INVALID_ARG, "uw_file_decode: bad argument");
    const uw_entry *e = &f->e[i];
    uint64_t ob = e->orig->end - e->orig->begin;
    UW_RETURN_ERROR_IF(dst_size != ob, UW_ERR_INVALID_ARG, "uw_file_decode: tensor '%s' needs %llu bytes, buffer has %zu",
                       e->orig->name, (unsigned long long)ob, dst_size);
    const void *data;
    size_t size;
    UW_FORWARD_IF_ERROR(uw_file_tensor_data(f, i, &data, &size));
    if (!e->compressed) {
        memcpy(dst, data, size);
        return uw_file_check_passthrough(f, i, dst, size);
    }
    uw_blob b;
    uw_status s = uw_file_blob_open(f, i, &b, 1);
    if (s == UW_OK) s = uw_codec_decode_blob(&b, dst, threads, 1);
    if (s != UW_OK) uw_error_prefix("%s: tensor '%s'", f->path, e->orig->name);
    return s;
}

#define UW_STREAM_BYTES ((uint64_t)32 << 20)

uw_status uw_file_decode_stream(const uw_file *f, size_t i, int threads, uw_sink_fn sink, void *user) {
    UW_RETURN_ERROR_IF(!f || i >= f->n, UW_ERR_INVALID_ARG, "uw_file_decode_stream: bad argument");
    const uw_entry *e = &f->e[i];
    const void *data = NULL;
    size_t size = 0;
    UW_FORWARD_IF_ERROR(uw_file_tensor_data(f, i, &data, &size));
    if (!e->compressed) {
        UW_FORWARD_IF_ERROR(uw_file_check_passthrough(f, i, data, size));
        return sink ? sink(user, data, 0, size) : UW_OK;
    }
    uw_blob b;
    uw_status s = uw_file_blob_open(f, i, &b, 1);
    uint16_t *buf = NULL;
    uw_fast_tab *ft = NULL;
    uw_hash_state *h = NULL;
    if (s == UW_OK) s = uw_fast_tab_new(&b, &ft); /* once per tensor, shared by its bands */
    if (s == UW_OK && !(h = uw_hash_state_new())) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
    if (s == UW_OK) {
        uint64_t band = (uint64_t)b.tile_rows * b.cols * 2; /* bytes of one tile row */
        uint64_t per = band >= UW_STREAM_BYTES ? 1 : UW_STREAM_BYTES / band;
        if (per > b.tiles_r) per = b.tiles_r;
        uint64_t cap = per * band < b.n * 2 ? per * band : b.n * 2;
        buf = malloc(cap);
        if (!buf) s = uw_error_set(UW_ERR_NOMEM, "out of memory for a %llu-byte decode band", (unsigned long long)cap);
        for (uint64_t ti = 0; ti < b.tiles_r && s == UW_OK; ti += per) {
            uint64_t ti1 = ti + per < b.tiles_r ? ti + per : b.tiles_r;
            uint64_t r0 = ti * b.tile_rows, r1 = ti1 * b.tile_rows < b.rows ? ti1 * b.tile_rows : b.rows;
            uint64_t bytes = (r1 - r0) * b.cols * 2;
            s = uw_codec_decode_rows_with(&b, ft, ti, ti1, buf, threads, h);
            if (s == UW_OK && sink) s = sink(user, buf, r0 * b.cols * 2, bytes);
        }
    }
    uw_fast_tab_free(ft);
    if (h && uw_hash_digest(h) != b.tensor_hash && s == UW_OK)
        s = uw_error_set(UW_ERR_CHECKSUM, "decoded tensor checksum mismatch (the compressed data is damaged)");
    free(buf);
    if (s != UW_OK && strncmp(uw_last_error(), f->path, strlen(f->path))) uw_error_prefix("%s: tensor '%s'", f->path, e->orig->name);
    return s;
}

uw_status uw_file_verify_tensor(const uw_file *f, size_t i, int threads) {
    return uw_file_decode_stream(f, i, threads, NULL, NULL);
}

/* Files up to this size keep their pages mapped: releasing costs a TLB shootdown on every other
 * thread per call, and bounding the resident set matters for large files only. */
#define UW_RELEASE_MIN ((uint64_t)1 << 30)

void uw_file_release(const uw_file *f, uint64_t off, uint64_t len) {
    if (!f->owns_map || !len || f->size <= UW_RELEASE_MIN) return;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), a = uw_align_up(off, pg), z = (off + len) / pg * pg;
    if (z > a) madvise((void *)(f->map + a), z - a, MADV_DONTNEED);
}

/* ---- atomic output ---- */

uw_status uw_atomic_begin(const char *path, int *fd, char **tmp) {
    /* the temporary is renamed over the path at the end: a device or other special file there
     * (/dev/null, a FIFO) would be replaced by a regular file, so only a regular file (or nothing)
     * may be there */
    struct stat st;
    *tmp = NULL;
    UW_RETURN_ERROR_IF(stat(path, &st) == 0 && !S_ISREG(st.st_mode), UW_ERR_INVALID_ARG,
                       "%s: not a regular file (outputs are written to a temporary beside it and renamed over it)", path);
    size_t n = strlen(path) + 16;
    *tmp = malloc(n);
    if (!*tmp) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    snprintf(*tmp, n, "%s.tmp.XXXXXX", path);
    *fd = mkstemp(*tmp);
    if (*fd < 0) {
        uw_status s = uw_error_set(UW_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return s;
    }
    fchmod(*fd, 0644);
    return UW_OK;
}

void uw_preallocate(int fd, uint64_t size) {
#if defined(__linux__)
    /* a hint: where the file system cannot, the writes allocate as they go */
    if (size) (void)fallocate(fd, 0, 0, (off_t)size);
#else
    (void)fd, (void)size;
#endif
}

int uw_fsync_wanted(int dflt) {
    const char *e = getenv("UW_FSYNC");
    return e && *e ? strcmp(e, "0") != 0 : dflt;
}

uw_status uw_atomic_close(int fd, const char *path, int sync) {
    uw_status s = UW_OK;
    if (sync && fsync(fd)) s = uw_error_set(UW_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) && s == UW_OK) s = uw_error_set(UW_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    return s;
}

uw_status uw_atomic_sync(int fd, const char *path) { return uw_atomic_close(fd, path, 1); }

uw_status uw_atomic_end(int fd, char *tmp, const char *path, int commit) { return uw_atomic_end_sync(fd, tmp, path, commit, 1); }

uw_status uw_atomic_end_sync(int fd, char *tmp, const char *path, int commit, int sync) {
    uw_status s = UW_OK;
    if (commit) s = uw_atomic_close(fd, path, sync);
    else close(fd);
    if (commit && s == UW_OK && rename(tmp, path)) s = uw_error_set(UW_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (!commit || s != UW_OK) unlink(tmp);
    free(tmp);
    return s;
}

uw_status uw_pwrite_all(int fd, const void *p, uint64_t n, uint64_t off, const char *what) {
    const uint8_t *q = p;
    while (n) {
        ssize_t w = pwrite(fd, q, n > ((uint64_t)1 << 30) ? ((size_t)1 << 30) : (size_t)n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return uw_error_set(UW_ERR_IO, "%s: write failed: %s", what, strerror(errno));
        }
        q += w;
        n -= (uint64_t)w;
        off += (uint64_t)w;
    }
    return UW_OK;
}

int uw_same_file(const char *a, const char *b) {
    if (!a || !b) return 0;
    if (!strcmp(a, b)) return 1;
    struct stat x, y;
    if (stat(a, &x) || stat(b, &y)) return 0;
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}
