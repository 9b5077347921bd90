/* file_decode.c - the tensors of an opened file decoded, checked and (decompress) written, on all
 * threads, for decompress and verify. A unit is one large tensor, or a run of small ones. Small
 * tensors go side by side, a task each: blob checksum, tables, decode with the tensor checksum
 * and the write, all while the tensor's bytes are in that core's cache. A large tensor goes in
 * bands of tile rows: its tasks decode, feed the tensor checksum in order and write their rows;
 * one more task per band feeds the blob checksum its next piece. So the whole file takes about
 * as long as the larger of decoding and writing, not their sum. */
#include <stdio.h>
#include <stdlib.h>

#include "../codecs/decode.h"
#include "file.h"

#define SMALL ((uint64_t)8 << 20)      /* decoded bytes of a tensor one task decodes alone */
#define UNIT_BYTES ((uint64_t)64 << 20) /* decoded bytes of a run of small tensors */
#define UNIT_TENSORS UW_FILE_UNIT_MAX
#define BAND ((uint64_t)4 << 20)        /* decoded bytes of a large tensor in memory at once: the band
                                          * buffer stays in cache from band to band */
#define TASK_ELEMS ((uint64_t)1 << 17)  /* elements a task of a large tensor decodes */

static uint64_t orig_bytes(const uw_file *f, size_t i) { return f->e[i].orig->end - f->e[i].orig->begin; }

size_t uw_file_unit_end(const uw_file *f, size_t i) {
    if (orig_bytes(f, i) > SMALL) return i + 1;
    uint64_t bytes = 0;
    size_t z = i;
    while (z < f->n && z - i < UNIT_TENSORS && orig_bytes(f, z) <= SMALL && bytes + orig_bytes(f, z) <= UNIT_BYTES) bytes += orig_bytes(f, z++);
    return z;
}

typedef struct unit {
    const uw_file *f;
    int fd;             /* < 0: verify only */
    uint64_t base;      /* output offset of the original data section */
    const char *out;
    size_t i0;
    uw_status *st;
    char (*msg)[UW_FILE_MSG];
} unit;

static void keep_error(unit *u, size_t k, uw_status s) {
    u->st[k] = s;
    snprintf(u->msg[k], UW_FILE_MSG, "%s", uw_last_error());
}

/* the name of the file and the tensor in front of the message, unless it has them */
static uw_status name_it(const uw_file *f, size_t i, uw_status s) {
    if (s != UW_OK && strncmp(uw_last_error(), f->path, strlen(f->path))) uw_error_prefix("%s: tensor '%s'", f->path, f->e[i].orig->name);
    return s;
}

static uw_status out_write(const unit *u, size_t i, const void *p, uint64_t off, uint64_t n) {
    if (u->fd < 0) return UW_OK;
    return uw_pwrite_all(u->fd, p, n, u->base + u->f->e[i].orig->begin + off, u->out);
}

/* ---- small tensors: a task decodes a group of them ---- */

#define GROUP_BYTES ((uint64_t)2 << 20) /* decoded bytes a task gathers before it writes */

typedef struct small_ctx {
    unit *u;
    size_t *first;      /* group g: tensors [first[g], first[g + 1]) of the unit */
    uint8_t **buf;      /* per worker, kept from group to group: fresh pages cost a fault and */
    uint64_t *cap;      /* a clear each, as much as decoding into them */
} small_ctx;

/* A group's tensors decoded into one buffer; each run of them whose original bytes are
 * consecutive in the file goes out in one write. */
static uw_status small_task(void *ctx, uint64_t g, int worker) {
    small_ctx *c = ctx;
    unit *u = c->u;
    const uw_file *f = u->f;
    size_t a = u->i0 + c->first[g], z = u->i0 + c->first[g + 1];
    uint64_t bytes = 0;
    for (size_t k = a; k < z; k++) bytes += orig_bytes(f, k);
    if (c->cap[worker] < bytes) {
        free(c->buf[worker]);
        c->cap[worker] = 0;
        if (!(c->buf[worker] = malloc(bytes))) return uw_error_set(UW_ERR_NOMEM, "out of memory for %llu decoded bytes", (unsigned long long)bytes);
        c->cap[worker] = bytes;
    }
    uint8_t *buf = c->buf[worker];
    uint64_t off = 0, run = 0, run_at = 0; /* the pending write: buf + run_at, run bytes */
    uw_status s = UW_OK;
    for (size_t k = a; k < z && s == UW_OK; k++) {
        uint64_t n = orig_bytes(f, k);
        uw_status t = uw_file_decode(f, k, buf + off, n, 1); /* checked; the message names file and tensor */
        if (t != UW_OK) {
            keep_error(u, k - u->i0, t); /* the others go on: verify reports every failing tensor */
        } else if (u->fd >= 0) {
            if (run && f->e[k].orig->begin != f->e[k - 1].orig->end) { /* not next to the pending run */
                s = uw_pwrite_all(u->fd, buf + run_at, run, u->base + f->e[k - 1].orig->end - run, u->out);
                run = 0;
            }
            if (!run) run_at = off;
            run += n;
        }
        if (t != UW_OK && run) { /* a failed tensor ends the run before it */
            s = uw_pwrite_all(u->fd, buf + run_at, run, u->base + f->e[k - 1].orig->end - run, u->out);
            run = 0;
        }
        off += n;
    }
    if (s == UW_OK && run) s = uw_pwrite_all(u->fd, buf + run_at, run, u->base + f->e[z - 1].orig->end - run, u->out);
    return s; /* a write error stops the unit */
}

/* ---- a large tensor: bands of tile rows ---- */

typedef struct band {
    const unit *u;
    size_t i;
    const uw_blob *b;
    const uw_fast_tab *ft;
    uint16_t *buf;
    uint64_t ti0, ti1, per, ntasks; /* tile rows of the band; per task */
    uw_ordered_hash oh;             /* the tensor checksum, in order */
    uw_hash_state *bh;              /* the blob checksum */
    const uint8_t *bh_p;            /* its piece for this band */
    uint64_t bh_n;
} band;

static void band_rows(const band *d, uint64_t k, uint64_t *ra, uint64_t *rz) {
    uint64_t ta = d->ti0 + k * d->per, tz = ta + d->per < d->ti1 ? ta + d->per : d->ti1;
    *ra = ta * d->b->tile_rows;
    *rz = tz * d->b->tile_rows < d->b->rows ? tz * d->b->tile_rows : d->b->rows;
}

static void band_piece(void *ctx, uint64_t k, const void **p, size_t *n) {
    const band *d = ctx;
    uint64_t ra, rz, r0 = d->ti0 * d->b->tile_rows;
    band_rows(d, k, &ra, &rz);
    *p = d->buf + (ra - r0) * d->b->cols;
    *n = (rz - ra) * d->b->cols * 2;
}

static uw_status band_task(void *ctx, uint64_t k, int worker) {
    band *d = ctx;
    const uw_blob *b = d->b;
    (void)worker;
    if (k == d->ntasks) { /* the blob checksum's piece */
        uw_hash_update(d->bh, d->bh_p, d->bh_n);
        return UW_OK;
    }
    uint64_t ra, rz, r0 = d->ti0 * b->tile_rows;
    band_rows(d, k, &ra, &rz);
    uint16_t *dst = d->buf + (ra - r0) * b->cols;
    UW_FORWARD_IF_ERROR(uw_codec_decode_tiles_fast(b, d->ft, ra / b->tile_rows * b->tiles_c, (rz + b->tile_rows - 1) / b->tile_rows * b->tiles_c, dst,
                                                   ra, b->cols));
    uw_ordered_hash_done(&d->oh, k);
    return out_write(d->u, d->i, dst, ra * b->cols * 2, (rz - ra) * b->cols * 2);
}

static uw_status big_one(const unit *u, size_t i, int threads) {
    const uw_file *f = u->f;
    const uw_entry *e = &f->e[i];
    const void *data;
    size_t size;
    UW_FORWARD_IF_ERROR(uw_file_tensor_data(f, i, &data, &size));
    if (!e->compressed) {
        UW_FORWARD_IF_ERROR(uw_file_check_passthrough(f, i, data, size));
        return out_write(u, i, data, 0, size);
    }
    uw_blob b;
    UW_FORWARD_IF_ERROR(uw_file_blob_open(f, i, &b, 0)); /* its checksum: piece by piece beside the decoding */
    uint64_t rowb = (uint64_t)b.tile_rows * b.cols * 2, per_band = rowb >= BAND ? 1 : BAND / rowb;
    if (per_band > b.tiles_r) per_band = b.tiles_r;
    uint64_t nbands = (b.tiles_r + per_band - 1) / per_band, cap = per_band * rowb < b.n * 2 ? per_band * rowb : b.n * 2;
    /* the blob checksum covers header bytes [0, 120) and [128, payload_end): a piece per band */
    uint64_t bh_total = b.payload_end - UW_BLOB_HEADER_BYTES, bh_per = (bh_total + nbands - 1) / nbands;
    band d;
    memset(&d, 0, sizeof d);
    d.u = u;
    d.i = i;
    d.b = &b;
    uw_fast_tab *ft = NULL;
    uw_hash_state *h = uw_hash_state_new();
    d.bh = uw_hash_state_new();
    d.buf = malloc(cap);
    uw_status s = h && d.bh && d.buf ? uw_fast_tab_new(&b, &ft) : uw_error_set(UW_ERR_NOMEM, "out of memory for a %llu-byte decode band", (unsigned long long)cap);
    d.ft = ft;
    if (d.bh) uw_hash_update(d.bh, data, 120);
    uint64_t bh_done = 0;
    uint64_t tb = (uint64_t)b.tile_rows * b.cols;
    d.per = tb >= TASK_ELEMS ? 1 : TASK_ELEMS / tb;
    for (uint64_t k = 0; k < nbands && s == UW_OK; k++) {
        d.ti0 = k * per_band;
        d.ti1 = d.ti0 + per_band < b.tiles_r ? d.ti0 + per_band : b.tiles_r;
        d.ntasks = (d.ti1 - d.ti0 + d.per - 1) / d.per;
        d.bh_p = (const uint8_t *)data + UW_BLOB_HEADER_BYTES + bh_done;
        d.bh_n = bh_total - bh_done < bh_per ? bh_total - bh_done : bh_per;
        s = uw_ordered_hash_init(&d.oh, h, d.ntasks, band_piece, &d);
        if (s == UW_OK) s = uw_parallel_for(d.ntasks + 1, threads, band_task, &d);
        uw_ordered_hash_free(&d.oh);
        if (s == UW_OK) bh_done += d.bh_n;
    }
    /* damaged bytes show first as a wrong blob checksum, as when it is checked before decoding */
    if (d.bh && bh_done < bh_total) uw_hash_update(d.bh, (const uint8_t *)data + UW_BLOB_HEADER_BYTES + bh_done, bh_total - bh_done);
    if (d.bh && uw_hash_digest(d.bh) != b.blob_hash && (s == UW_OK || s == UW_ERR_CORRUPT || s == UW_ERR_CHECKSUM))
        s = uw_error_set(UW_ERR_CHECKSUM, "blob checksum mismatch (the compressed bytes are damaged)");
    if (h && uw_hash_digest(h) != b.tensor_hash && s == UW_OK)
        s = uw_error_set(UW_ERR_CHECKSUM, "decoded tensor checksum mismatch (the compressed data is damaged)");
    uw_fast_tab_free(ft);
    free(d.buf);
    return s;
}

uw_status uw_file_decode_unit(const uw_file *f, size_t i, size_t z, int threads, int fd, uint64_t base, const char *out, uw_status *st,
                              char (*msg)[UW_FILE_MSG]) {
    unit u = {f, fd, base, out, i, st, msg};
    for (size_t k = i; k < z; k++) st[k - i] = UW_OK;
    if (z == i + 1 && orig_bytes(f, i) > SMALL) {
        uw_status s = name_it(f, i, big_one(&u, i, threads));
        if (s != UW_OK) keep_error(&u, 0, s);
        return UW_OK;
    }
    size_t *first = malloc((z - i + 1) * sizeof *first), ng = 0;
    UW_RETURN_ERROR_IF(!first, UW_ERR_NOMEM, "out of memory");
    for (size_t k = i; k < z;) { /* groups of about GROUP_BYTES, at least a tensor each */
        first[ng++] = k - i;
        uint64_t bytes = 0;
        do bytes += orig_bytes(f, k++);
        while (k < z && bytes + orig_bytes(f, k) <= GROUP_BYTES);
    }
    first[ng] = z - i;
    int nt = uw_threads_resolve(threads);
    small_ctx c = {&u, first, calloc((size_t)nt, sizeof(uint8_t *)), calloc((size_t)nt, sizeof(uint64_t))};
    uw_status s = c.buf && c.cap ? uw_parallel_for(ng, nt, small_task, &c) : uw_error_set(UW_ERR_NOMEM, "out of memory");
    for (int k = 0; c.buf && k < nt; k++) free(c.buf[k]);
    free(c.buf);
    free(c.cap);
    free(first);
    return s;
}
