/* compress.c - whole-file compress and decompress: a safetensors file into one whose compressed
 * tensors are U8 blobs (FORMAT.md section 9), and back byte for byte. Output is written to a
 * temporary file and renamed; memory stays bounded by the tensors in flight (the header space is
 * reserved up front and filled in last). Verify and whole models: model.c. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../codecs/encode.h"
#include "file.h"

double uw_entropy_bits(const uint64_t *hist, int n) {
    uint64_t tot = 0;
    for (int i = 0; i < n; i++) tot += hist[i];
    double h = 0;
    for (int i = 0; i < n; i++)
        if (hist[i]) {
            double p = (double)hist[i] / (double)tot;
            h -= p * log2(p);
        }
    return h;
}

void uw_matrix_view(int ndim, const uint64_t *shape, uint64_t *rows, uint64_t *cols) {
    /* trailing dimensions fold into the columns until there are 64 of them, so that a 1x1
     * convolution [out, in, 1, 1] is coded as the [out, in] matrix it multiplies as */
    uint64_t c = 1, n = 1;
    int d = ndim - 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (; d >= 1; d--) {
        c *= shape[d];
        if (c >= 64) break;
    }
    if (ndim <= 1) c = n;
    *cols = c ? c : 1;
    *rows = c ? n / c : 0;
}

void uw_compress_options_default(uw_compress_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->select = UW_SELECT_ALL;
    uw_encode_params_default(&o->params);
}

static int has_component(const char *name, const char *const *parts) {
    /* split on '.' and compare whole components */
    const char *p = name;
    while (*p) {
        const char *q = strchr(p, '.');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        for (int i = 0; parts[i]; i++)
            if (strlen(parts[i]) == n && !strncmp(p, parts[i], n)) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

int uw_select_tensor(int select, const char *name, const char *dtype, int ndim, const uint64_t *shape) {
    if (strcmp(dtype, "BF16") || ndim < 2) return 0;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (n < 4096) return 0;
    if (select == UW_SELECT_ALL) return 1;
    static const char *const mlp[] = {"gate_proj", "up_proj", "down_proj", "gate_up_proj", "fc1", "fc2", "w1", "w2", "w3",
                                      "experts", "mlp", "feed_forward", "ffn", "intermediate", NULL};
    if (has_component(name, mlp)) return 1;
    /* BERT-style FFN output: layer.N.output.dense (not attention.output.dense) */
    return strstr(name, ".output.dense") && !strstr(name, "attention.");
}

/* ---------------------------------------------------------------- compress ---------------- */

typedef struct job {
    const st_tensor *t;
    int compress;
    uint64_t out_off;           /* relative to the data section */
    size_t out_size;
    uint8_t *blob;              /* encoded, not yet written */
    uint64_t entropy_ubits, rare_ppm;
    uint64_t hash;              /* passthrough: XXH3-64 of its bytes (set when written) */
} job;

typedef struct cctx {
    const uw_compress_options *o;
    const uw_file *in;
    const uint8_t *data;   /* input data section */
    job *jobs;
    size_t njobs;
    int fd;
    uint64_t data_start;   /* output file offset of the data section */
    uint64_t pos;          /* next free data offset */
    uint64_t done, total;
    const char *out;
} cctx;

/* Encode one tensor into j->blob (not yet written). */
static uw_status encode_job(cctx *c, job *j, int threads) {
    const st_tensor *t = j->t;
    uint64_t cols, rows;
    uw_matrix_view(t->ndim, t->shape, &rows, &cols);
    const uint8_t *src = c->data + t->begin;
    uint16_t *tmp = NULL;
    if ((uintptr_t)src & 1) { /* keep uint16 loads aligned */
        tmp = malloc(t->numel * 2);
        if (!tmp) return uw_error_set(UW_ERR_NOMEM, "out of memory");
        memcpy(tmp, src, t->numel * 2);
        src = (const uint8_t *)tmp;
    }
    uw_encode_params p = c->o->params;
    p.threads = threads;
    uw_encode_stats st;
    uw_status s = uw_tensor_encode_ex((const uint16_t *)src, rows, cols, &p, &j->blob, &j->out_size, &st);
    free(tmp);
    if (s != UW_OK) {
        uw_error_prefix("tensor '%s'", t->name);
        return s;
    }
    j->entropy_ubits = (uint64_t)llround(uw_entropy_bits(st.hist, 256) * 1e6);
    j->rare_ppm = (uint64_t)llround((double)st.rare * 1e6 / (double)t->numel);
    return UW_OK;
}

/* Write encoded blobs at consecutive data offsets, in original order (so the output does not
 * depend on the thread count): offsets first, then the writes on all threads in pieces of up to
 * WRITE_PIECE (the kernel's copy into the page cache is the cost), then the blobs are freed and
 * the consumed input released. */
#define WRITE_PIECE ((uint64_t)8 << 20)

typedef struct write_ctx {
    cctx *c;
    job **jobs;
    int n;
    uint64_t *first; /* piece index where job k starts; first[n] = pieces */
} write_ctx;

static uw_status write_task(void *ctx, uint64_t p, int worker) {
    write_ctx *w = ctx;
    (void)worker;
    int k = 0;
    while (w->first[k + 1] <= p) k++;
    job *j = w->jobs[k];
    uint64_t at = (p - w->first[k]) * WRITE_PIECE, n = j->out_size - at < WRITE_PIECE ? j->out_size - at : WRITE_PIECE;
    return uw_pwrite_all(w->c->fd, j->blob + at, n, w->c->data_start + j->out_off + at, w->c->out);
}

static uw_status write_jobs(cctx *c, job **jobs, int n, int threads) {
    uint64_t *first = malloc(((size_t)n + 1) * sizeof *first);
    if (!first) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    first[0] = 0;
    for (int k = 0; k < n; k++) {
        jobs[k]->out_off = c->pos;
        c->pos += jobs[k]->out_size;
        first[k + 1] = first[k] + (jobs[k]->out_size + WRITE_PIECE - 1) / WRITE_PIECE;
    }
    write_ctx w = {c, jobs, n, first};
    uw_status s = uw_parallel_for(first[n], threads, write_task, &w);
    free(first);
    for (int k = 0; k < n; k++) {
        job *j = jobs[k];
        free(j->blob);
        j->blob = NULL;
        /* the input tensor is consumed: its mapped pages may leave the resident set */
        uw_file_release(c->in, 8 + c->in->outer.header_len + j->t->begin, j->t->end - j->t->begin);
        c->done += j->t->end - j->t->begin;
    }
    if (s == UW_OK && c->o->progress && c->o->progress(c->o->progress_user, c->done, c->total)) s = uw_error_set(UW_ERR_IO, "cancelled");
    return s;
}

typedef struct batch_ctx {
    cctx *c;
    job **jobs;
} batch_ctx;

static uw_status batch_task(void *ctx, uint64_t i, int worker) {
    batch_ctx *bc = ctx;
    (void)worker;
    return encode_job(bc->c, bc->jobs[i], 1);
}

/* JSON of the output header; placeholder=1 puts the largest integer in every field not known
 * yet, so the real header is never longer than the reserved one. */
static char *build_header(cctx *c, int placeholder) {
    const json_int_t X = INT64_MAX;
    json_t *root = json_object(), *meta = json_object(), *tens = json_object();
    json_t *um = json_object();
    const uw_file *f = c->in;
    if (f->outer.metadata) json_object_update(meta, f->outer.metadata);
    json_object_set_new(um, "format", json_string("unweight"));
    json_object_set_new(um, "version", json_integer(1));
    json_object_set_new(um, "original_header", json_stringn((const char *)f->map + 8, f->outer.header_len));
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)uw_hash64(f->map + 8, f->outer.header_len));
    json_object_set_new(um, "original_header_xxh3", json_string(hex));
    json_t *pth = json_object();
    for (size_t i = 0; i < c->njobs; i++) {
        const job *j = &c->jobs[i];
        if (j->compress) continue;
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)j->hash); /* same length as the placeholder */
        json_object_set_new(pth, j->t->name, json_string(hex));
    }
    json_object_set_new(um, "passthrough_xxh3", pth);
    for (size_t i = 0; i < c->njobs; i++) {
        const job *j = &c->jobs[i];
        if (!j->compress) continue;
        json_t *e = json_object(), *shape = json_array();
        for (int d = 0; d < j->t->ndim; d++) json_array_append_new(shape, json_integer((json_int_t)j->t->shape[d]));
        json_object_set_new(e, "dtype", json_string(j->t->dtype));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "codec", json_string(c->o->params.codec == UW_CODEC_PALETTE ? "palette" : "huffman"));
        json_object_set_new(e, "exp_entropy_ubits", json_integer(placeholder ? X : (json_int_t)j->entropy_ubits));
        json_object_set_new(e, "rare_ppm", json_integer(placeholder ? X : (json_int_t)j->rare_ppm));
        json_object_set_new(tens, j->t->name, e);
    }
    json_object_set_new(um, "tensors", tens);
    char *ums = json_dumps(um, JSON_COMPACT);
    json_decref(um);
    if (!ums) { json_decref(root); json_decref(meta); return NULL; }
    json_object_set_new(meta, UW_META_KEY, json_string(ums));
    free(ums);
    json_object_set_new(root, "__metadata__", meta);
    for (size_t i = 0; i < c->njobs; i++) {
        const job *j = &c->jobs[i];
        json_t *e = json_object(), *shape = json_array(), *off = json_array();
        if (j->compress) {
            json_object_set_new(e, "dtype", json_string("U8"));
            json_array_append_new(shape, json_integer(placeholder ? X : (json_int_t)j->out_size));
        } else {
            json_object_set_new(e, "dtype", json_string(j->t->dtype));
            for (int d = 0; d < j->t->ndim; d++) json_array_append_new(shape, json_integer((json_int_t)j->t->shape[d]));
        }
        json_array_append_new(off, json_integer(placeholder ? X : (json_int_t)j->out_off));
        json_array_append_new(off, json_integer(placeholder ? X : (json_int_t)(j->out_off + j->out_size)));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", off);
        json_object_set_new(root, j->t->name, e);
    }
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static int cmp_job(const void *a, const void *b) {
    const job *x = a, *y = b;
    return x->t->begin < y->t->begin ? -1 : x->t->begin > y->t->begin;
}

static uw_status compress_run(cctx *c) {
    const uw_file *f = c->in;
    const uw_compress_options *o = c->o;
    c->njobs = f->n;
    c->jobs = calloc(f->n ? f->n : 1, sizeof *c->jobs);
    if (!c->jobs) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++) {
        job *j = &c->jobs[i];
        j->t = f->e[i].orig;
        j->compress = uw_select_tensor(o->select, j->t->name, j->t->dtype, j->t->ndim, j->t->shape);
        j->out_size = j->compress ? 0 : j->t->end - j->t->begin;
        c->total += j->t->end - j->t->begin;
    }
    qsort(c->jobs, c->njobs, sizeof *c->jobs, cmp_job);
    char *ph = build_header(c, 1);
    if (!ph) return uw_error_set(UW_ERR_NOMEM, "out of memory building the header");
    uint64_t reserve = strlen(ph);
    free(ph);
    c->data_start = uw_align_up(8 + reserve, UW_BLOB_ALIGN);
    UW_RETURN_ERROR_IF(c->data_start - 8 > UW_MAX_HEADER_BYTES, UW_ERR_LIMIT, "output header would exceed %llu bytes",
                       (unsigned long long)UW_MAX_HEADER_BYTES);

    /* big tensors one at a time with tile-parallel threads; runs of small ones side by side, a
     * tensor per task (up to BATCH of them, BATCH_BYTES of input), then written in order */
    int threads = uw_threads_resolve(o->params.threads);
    const uint64_t big = (uint64_t)1 << 22;
    enum { BATCH = 64 };
    const uint64_t BATCH_BYTES = (uint64_t)256 << 20;
    job *batch[BATCH];
    uw_status s = UW_OK;
    for (size_t i = 0; i < c->njobs && s == UW_OK;) {
        job *j = &c->jobs[i];
        if (!j->compress) { i++; continue; }
        if (j->t->numel >= big || threads == 1) {
            s = encode_job(c, j, threads);
            if (s == UW_OK) s = write_jobs(c, &j, 1, threads);
            free(j->blob);
            j->blob = NULL;
            i++;
            continue;
        }
        int nb = 0;
        uint64_t bytes = 0;
        while (i < c->njobs && nb < BATCH) {
            job *q = &c->jobs[i];
            if (q->compress && (q->t->numel >= big || (nb && bytes + q->t->numel * 2 > BATCH_BYTES))) break;
            if (q->compress) batch[nb++] = q, bytes += q->t->numel * 2;
            i++;
        }
        batch_ctx bc = {c, batch};
        s = uw_parallel_for((uint64_t)nb, threads, batch_task, &bc);
        if (s == UW_OK) s = write_jobs(c, batch, nb, threads);
        for (int k = 0; k < nb; k++) {
            free(batch[k]->blob);
            batch[k]->blob = NULL;
        }
    }
    UW_FORWARD_IF_ERROR(s);
    /* passthrough tensors after the blobs, in their original order */
    for (size_t i = 0; i < c->njobs; i++) {
        job *j = &c->jobs[i];
        if (j->compress) continue;
        j->out_off = c->pos;
        j->hash = uw_hash64(c->data + j->t->begin, j->out_size);
        UW_FORWARD_IF_ERROR(uw_pwrite_all(c->fd, c->data + j->t->begin, j->out_size, c->data_start + c->pos, c->out));
        uw_file_release(c->in, 8 + c->in->outer.header_len + j->t->begin, j->out_size);
        c->pos += j->out_size;
        c->done += j->out_size;
        if (o->progress && o->progress(o->progress_user, c->done, c->total)) return uw_error_set(UW_ERR_IO, "cancelled");
    }
    char *hdr = build_header(c, 0);
    if (!hdr) return uw_error_set(UW_ERR_NOMEM, "out of memory building the header");
    uint64_t hl = strlen(hdr), n = c->data_start - 8;
    uint8_t *buf = malloc(c->data_start);
    if (!buf) { free(hdr); return uw_error_set(UW_ERR_NOMEM, "out of memory"); }
    uw_wr64(buf, n);
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, ' ', n - hl);
    free(hdr);
    s = uw_pwrite_all(c->fd, buf, c->data_start, 0, c->out);
    free(buf);
    return s;
}

uw_status uw_file_expect(const uw_file *f, uw_file_op op) {
    if (op == UW_OP_COMPRESS && f->compressed)
        return uw_error_set(UW_ERR_INVALID_ARG, "%s: already compressed by unweight (use decompress)", f->path);
    if (op == UW_OP_DECOMPRESS && !f->compressed)
        return uw_error_set(UW_ERR_INVALID_ARG, "%s: not an unweight-compressed file (nothing to decompress)", f->path);
    if (op == UW_OP_VERIFY && !f->compressed)
        return uw_error_set(UW_ERR_INVALID_ARG, "%s: not an unweight-compressed file", f->path);
    return UW_OK;
}

uint64_t uw_file_work(const uw_file *f) {
    uint64_t n = 0;
    for (size_t i = 0; i < f->n; i++) n += f->e[i].orig->end - f->e[i].orig->begin;
    return n;
}

uw_status uw_compress_write(const uw_file *f, int fd, const char *out, const uw_compress_options *o) {
    cctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.in = f;
    c.out = out;
    c.fd = fd;
    c.data = f->map + 8 + f->outer.header_len;
    uw_status s = compress_run(&c);
    free(c.jobs);
    return s;
}

uw_status uw_compress_file(const char *in, const char *out, const uw_compress_options *o) {
    uw_compress_options def;
    if (!o) { uw_compress_options_default(&def); o = &def; }
    UW_RETURN_ERROR_IF(!in || !out, UW_ERR_INVALID_ARG, "compress: NULL path");
    UW_RETURN_ERROR_IF(o->struct_size != sizeof *o, UW_ERR_INVALID_ARG, "compress: options.struct_size mismatch");
    UW_RETURN_ERROR_IF(uw_same_file(in, out), UW_ERR_INVALID_ARG, "%s: output would overwrite the input", out);
    uw_file *f;
    UW_FORWARD_IF_ERROR(uw_file_open(in, &f));
    uw_status s = uw_file_expect(f, UW_OP_COMPRESS);
    if (s != UW_OK) {
        uw_file_close(f);
        return s;
    }
    int fd;
    char *tmp;
    s = uw_atomic_begin(out, &fd, &tmp);
    if (s == UW_OK) {
        s = uw_compress_write(f, fd, out, o);
        uw_status e = uw_atomic_end_sync(fd, tmp, out, s == UW_OK, uw_fsync_wanted(1));
        if (s == UW_OK) s = e;
    }
    if (s != UW_OK && strncmp(uw_last_error(), in, strlen(in)) && strncmp(uw_last_error(), out, strlen(out)))
        uw_error_prefix("%s", in);
    uw_file_close(f);
    return s;
}

/* ---------------------------------------------------------------- decompress -------------- */

void uw_file_release_stored(const uw_file *f, size_t i) { uw_file_release_unit(f, i, i + 1); }

void uw_file_release_unit(const uw_file *f, size_t i, size_t z) {
    /* one call for a unit whose stored bytes are one run (the usual case: each call costs the other
     * threads' TLBs a shootdown), else tensor by tensor */
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
    for (size_t k = i; k < z; k++) {
        const st_tensor *t = f->e[k].stored;
        lo = t->begin < lo ? t->begin : lo;
        hi = t->end > hi ? t->end : hi;
        sum += t->end - t->begin;
    }
    if (z > i && hi - lo == sum) {
        uw_file_release(f, 8 + f->outer.header_len + lo, hi - lo);
        return;
    }
    for (size_t k = i; k < z; k++) {
        const st_tensor *t = f->e[k].stored;
        uw_file_release(f, 8 + f->outer.header_len + t->begin, t->end - t->begin);
    }
}

uw_status uw_decompress_write(const uw_file *f, int fd, const char *out, int threads, uw_progress_fn progress, void *user) {
    uint8_t hdr[8];
    uw_wr64(hdr, f->orig_json_len);
    uw_preallocate(fd, 8 + f->orig_json_len + f->orig.data_size);
    uw_status s = uw_pwrite_all(fd, hdr, 8, 0, out);
    if (s == UW_OK) s = uw_pwrite_all(fd, f->orig_json, f->orig_json_len, 8, out);
    uint64_t base = 8 + f->orig_json_len, done = 0, total = uw_file_work(f);
    /* units of tensors decoded and written on all threads (file_decode.c); each tensor's bytes go
     * straight to their place in the output; memory stays within a unit */
    uw_status *st = malloc(UW_FILE_UNIT_MAX * sizeof *st);
    char(*msg)[UW_FILE_MSG] = malloc(UW_FILE_UNIT_MAX * sizeof *msg);
    if (s == UW_OK && (!st || !msg)) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
    for (size_t i = 0, z; i < f->n && s == UW_OK; i = z) {
        z = uw_file_unit_end(f, i);
        s = uw_file_decode_unit(f, i, z, threads, fd, base, out, st, msg);
        for (size_t k = i; k < z && s == UW_OK; k++) {
            if (st[k - i] != UW_OK) s = uw_error_set(st[k - i], "%s", msg[k - i]);
            done += f->e[k].orig->end - f->e[k].orig->begin;
        }
        uw_file_release_unit(f, i, z);
        if (s == UW_OK && progress && progress(user, done, total)) s = uw_error_set(UW_ERR_IO, "cancelled");
    }
    free(st);
    free(msg);
    return s;
}

uw_status uw_decompress_file(const char *in, const char *out, int threads, uw_progress_fn progress, void *user) {
    UW_RETURN_ERROR_IF(!in || !out, UW_ERR_INVALID_ARG, "decompress: NULL path");
    UW_RETURN_ERROR_IF(uw_same_file(in, out), UW_ERR_INVALID_ARG, "%s: output would overwrite the input", out);
    uw_file *f;
    UW_FORWARD_IF_ERROR(uw_file_open(in, &f));
    uw_status s = uw_file_expect(f, UW_OP_DECOMPRESS);
    if (s != UW_OK) {
        uw_file_close(f);
        return s;
    }
    int fd;
    char *tmp;
    s = uw_atomic_begin(out, &fd, &tmp);
    if (s == UW_OK) {
        s = uw_decompress_write(f, fd, out, threads, progress, user);
        uw_status e = uw_atomic_end_sync(fd, tmp, out, s == UW_OK, uw_fsync_wanted(0));
        if (s == UW_OK) s = e;
    }
    uw_file_close(f);
    return s;
}
