/* encode.c - the tensor encoder: its passes and the blob around them. Pass 1 counts exponents
 * (the histogram the palette and every choice come from); the statistics pass follows
 * (encode_choose.c), then the code is chosen while another thread hashes the tensor, and the
 * tiles are coded (encode_tiles.c), each pass spread over all threads; the last pass copies the
 * tiles' bits into the blob and writes the plane, the blob checksum fed each piece in order. The
 * bytes do not depend on the thread count or the ISA level (test_encode_same). */
#include <stdlib.h>

#include "encode_internal.h"

void uw_encode_params_default(uw_encode_params *p) {
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->codec = UW_CODEC_HUFFMAN;
    p->rare_mode = UW_RARE_AUTO;
}

static uint64_t nblocks(const enc *e) { return (e->n + BLOCK_ELEMS - 1) / BLOCK_ELEMS; }
static uint64_t block_len(const enc *e, uint64_t i) { return e->n - i * BLOCK_ELEMS < BLOCK_ELEMS ? e->n - i * BLOCK_ELEMS : BLOCK_ELEMS; }

/* ---- pass 1: exponent histogram ---- */

typedef struct hist_ctx {
    enc *e;
    uint64_t (*h)[256]; /* per worker */
} hist_ctx;

static uw_status hist_task(void *ctx, uint64_t i, int worker) {
    hist_ctx *c = ctx;
    c->e->k->hist(c->e->w + i * BLOCK_ELEMS, block_len(c->e, i), c->h[worker]);
    return UW_OK;
}

static uw_status pass_histogram(enc *e) {
    int nt = e->threads;
    hist_ctx c;
    c.e = e;
    c.h = calloc((size_t)nt, sizeof *c.h);
    uw_status s = c.h ? uw_parallel_for(nblocks(e), nt, hist_task, &c) : uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    if (s == UW_OK)
        for (int w = 0; w < nt; w++)
            for (int k = 0; k < 256; k++) e->hist[k] += c.h[w][k];
    free(c.h);
    UW_FORWARD_IF_ERROR(s);
    /* palette order: frequency descending, ties by exponent value */
    int idx[256];
    for (int k = 0; k < 256; k++) idx[k] = k;
    for (int i = 1; i < 256; i++) {
        int v = idx[i], j = i - 1;
        while (j >= 0 && (e->hist[idx[j]] < e->hist[v] || (e->hist[idx[j]] == e->hist[v] && idx[j] > v))) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = v;
    }
    e->distinct = 0;
    memset(e->s17, 16, sizeof e->s17);
    for (int k = 0; k < 256; k++) {
        e->order_by_freq[k] = (uint8_t)idx[k];
        if (e->hist[k]) e->distinct++;
        if (k < 16) e->s17[idx[k]] = (uint8_t)k;
    }
    return UW_OK;
}

/* ---- the choice of code, and beside it the tensor checksum ---- */

typedef struct choose_ctx {
    enc *e;
    const uw_encode_params *p;
} choose_ctx;

/* task 0 prices the candidates (one thread: it is sequential), task 1 hashes the tensor */
static uw_status choose_task(void *ctx, uint64_t i, int worker) {
    choose_ctx *c = ctx;
    (void)worker;
    if (i == 1) {
        c->e->b.tensor_hash = uw_hash64(c->e->w, c->e->n * 2);
        return UW_OK;
    }
    return c->p->codec == UW_CODEC_PALETTE ? UW_OK : uw_enc_choose_code(c->e, c->p);
}

/* ---- last pass: the tiles' bits into the blob, the plane, the blob checksum ---- */

typedef struct out_ctx {
    enc *e;
    uint8_t *out;
    uint64_t pieces_stream; /* pieces [0, this) are Huffman tiles, the rest plane blocks */
    uw_ordered_hash oh;
} out_ctx;

static void out_piece(void *ctx, uint64_t i, const void **p, size_t *n) {
    const out_ctx *c = ctx;
    const enc *e = c->e;
    const uw_blob *b = &e->b;
    if (i < c->pieces_stream) { /* tiles in order: tile i starts where i - 1 ended; the last one's
                                  * piece runs on over the padding up to the plane */
        *p = c->out + b->off_stream + e->tlen[i];
        *n = (i + 1 < b->ntiles ? e->tlen[i + 1] : b->off_plane - b->off_stream) - e->tlen[i];
        return;
    }
    uint64_t k = i - c->pieces_stream;
    *p = c->out + b->off_plane + k * BLOCK_ELEMS;
    *n = block_len(e, k);
}

static uw_status out_task(void *ctx, uint64_t i, int worker) {
    out_ctx *c = ctx;
    enc *e = c->e;
    (void)worker;
    if (i < c->pieces_stream) {
        memcpy(c->out + e->b.off_stream + e->tlen[i], e->tbuf[i], (i + 1 < e->b.ntiles ? e->tlen[i + 1] : e->b.count) - e->tlen[i]);
        free(e->tbuf[i]);
        e->tbuf[i] = NULL;
    } else {
        uint64_t k = i - c->pieces_stream;
        e->k->plane(e->w + k * BLOCK_ELEMS, block_len(e, k), c->out + e->b.off_plane + k * BLOCK_ELEMS);
    }
    uw_ordered_hash_done(&c->oh, i);
    return UW_OK;
}

static uw_status assemble(enc *e, uint8_t **blob_out, size_t *size_out) {
    uw_blob *b = &e->b;
    uint8_t *out = malloc(b->total);
    if (!out) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory for a %llu-byte blob", (unsigned long long)b->total);
    /* zero what no pass writes: the small sections before the stream (Huffman; palette IR: before
     * the plane), the padding after the stream, after the payload (not the whole blob: calloc
     * clears reused memory byte by byte, as long as the plane) */
    uint64_t head = b->codec == UW_CODEC_HUFFMAN ? b->off_stream : b->off_plane;
    memset(out, 0, head);
    if (b->codec == UW_CODEC_HUFFMAN) memset(out + b->off_stream + b->count, 0, b->off_plane - b->off_stream - b->count);
    memset(out + b->payload_end, 0, b->total - b->payload_end);
    out_ctx c;
    c.e = e;
    c.out = out;
    c.pieces_stream = 0;
    if (b->codec == UW_CODEC_HUFFMAN) {
        uint8_t *L = out + b->off_lengths;
        for (uint32_t s = 0; s < b->alphabet; s++) {
            uint8_t v = 0;
            if (b->single >= 0) v = (int)s == b->single ? 1 : 0;
            else if (b->len[s]) v = (uint8_t)(b->len[s] + 1);
            L[s / 2] |= (uint8_t)(v << ((s & 1) * 4));
        }
        /* tile bases: e->tlen becomes each tile's start (its length is the next start minus it) */
        uint64_t pos = 0;
        for (uint64_t t = 0; t < b->ntiles; t++) {
            uint64_t len = e->tlen[t];
            e->tlen[t] = pos;
            uw_wr64(out + b->off_tilebase + 8 * t, pos);
            for (uint32_t j = 1; j < b->lanes; j++)
                uw_wr32(out + b->off_laneoff + 4 * (t * (b->lanes - 1) + j - 1), e->laneoff[t * (b->lanes - 1) + j - 1]);
            pos += len;
        }
        c.pieces_stream = b->ntiles;
    } else {
        uint64_t pos = 0;
        for (uint64_t t = 0; t < b->ntiles; t++) {
            uw_wr64(out + b->off_excidx + 8 * t, pos);
            if (e->tlen[t]) memcpy(out + b->off_exc + 4 * pos, e->tbuf[t], 4 * e->tlen[t]); /* u32 words, written LE */
            pos += e->tlen[t];
        }
        uw_wr64(out + b->off_excidx + 8 * b->ntiles, pos);
        memcpy(out + b->off_nibbles, e->nibbles, (b->n + 1) / 2);
    }
    uw_blob_write_header(b, out);
    /* the checksum: header and the sections before the stream now, then the pieces as they land */
    uw_hash_state *h = uw_hash_state_new();
    uw_status s = h ? UW_OK : uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    if (s == UW_OK) {
        uw_hash_update(h, out, 120);
        uint64_t first = b->codec == UW_CODEC_HUFFMAN ? b->off_stream : b->off_plane;
        uw_hash_update(h, out + UW_BLOB_HEADER_BYTES, first - UW_BLOB_HEADER_BYTES);
        s = uw_ordered_hash_init(&c.oh, h, c.pieces_stream + nblocks(e), out_piece, &c);
    }
    if (s == UW_OK) {
        s = uw_parallel_for(c.pieces_stream + nblocks(e), e->threads, out_task, &c);
        uw_ordered_hash_free(&c.oh);
    }
    if (h) b->blob_hash = uw_hash_digest(h);
    if (s != UW_OK) {
        free(out);
        return s;
    }
    uw_wr64(out + 120, b->blob_hash);
    *blob_out = out;
    *size_out = b->total;
    return UW_OK;
}

static uw_status choose_geometry(enc *e, const uw_encode_params *p) {
    uw_blob *b = &e->b;
    uint32_t tc = p->tile_cols ? p->tile_cols : (uint32_t)(e->cols < 1024 ? e->cols : 1024);
    uint32_t tr = p->tile_rows ? p->tile_rows : (uint32_t)(65536 / tc);
    if (!p->tile_rows) {
        if (tr < 1) tr = 1;
        if (tr > e->rows) tr = (uint32_t)e->rows;
    }
    /* 8 lanes of ~8K weights: 4-byte lane offsets cost 0.004 bit/weight (32 lanes: 0.016); the CPU
     * decoder keeps 4 lanes in flight from a pool over all tiles, GPU backends re-tile on upload */
    uint32_t lanes = p->lanes ? p->lanes : (tr < 8 ? tr : 8);
    if (p->codec == UW_CODEC_PALETTE) lanes = 1;
    UW_RETURN_ERROR_IF(tr < 1 || tc < 1 || tr > UW_MAX_TILE_DIM || tc > UW_MAX_TILE_DIM || (uint64_t)tr * tc > UW_MAX_TILE_ELEMS,
                       UW_ERR_INVALID_ARG, "encoder: tile %u x %u out of range (each side 1..65536, at most 2^24 elements)", tr, tc);
    UW_RETURN_ERROR_IF(lanes < 1 || lanes > UW_MAX_LANES || lanes > tr, UW_ERR_INVALID_ARG,
                       "encoder: %u lanes invalid for %u tile rows (1..min(1024, tile rows))", lanes, tr);
    b->tile_rows = tr;
    b->tile_cols = tc;
    b->lanes = lanes;
    return UW_OK;
}

static void enc_free(enc *e) {
    if (e->st)
        for (uint64_t k = 0; k < e->nstat; k++) free(e->st[k].rare);
    free(e->st);
    free(e->vg2);
    free(e->vodd);
    if (e->tbuf)
        for (uint64_t t = 0; t < e->b.ntiles; t++) free(e->tbuf[t]);
    free(e->tbuf);
    free(e->tlen);
    free(e->laneoff);
    free(e->nibbles);
}

static uw_status encode_body(enc *e, const uw_encode_params *p, uint8_t **blob_out, size_t *size_out) {
    uw_blob *b = &e->b;
    UW_FORWARD_IF_ERROR(pass_histogram(e));
    b->version = UW_FORMAT_VERSION;
    b->dtype = UW_DTYPE_BF16;
    b->codec = (uint8_t)p->codec;
    b->rows = e->rows;
    b->cols = e->cols;
    uw_blob_layout(b); /* tiles */
    if (p->codec == UW_CODEC_PALETTE) {
        int nreg = e->distinct < 16 ? e->distinct : 16;
        b->nsym = (uint8_t)nreg;
        b->rare_mode = 0;
        memcpy(b->palette, e->order_by_freq, (size_t)nreg);
    } else {
        UW_FORWARD_IF_ERROR(uw_enc_stats(e, p));
    }
    choose_ctx cc = {e, p};
    UW_FORWARD_IF_ERROR(uw_parallel_for(2, e->threads, choose_task, &cc));
    uw_blob_layout(b);
    UW_FORWARD_IF_ERROR(uw_enc_tiles(e));
    uw_blob_layout(b); /* the stream's length (Huffman) or the exception count (palette IR) is known */
    return assemble(e, blob_out, size_out);
}

uw_status uw_tensor_encode(const uint16_t *bf16, uint64_t rows, uint64_t cols, const uw_encode_params *p, uint8_t **blob,
                           size_t *blob_size) {
    return uw_tensor_encode_ex(bf16, rows, cols, p, blob, blob_size, NULL);
}

uw_status uw_tensor_encode_ex(const uint16_t *bf16, uint64_t rows, uint64_t cols, const uw_encode_params *p, uint8_t **blob,
                              size_t *blob_size, uw_encode_stats *stats) {
    uw_encode_params def;
    if (!p) {
        uw_encode_params_default(&def);
        p = &def;
    }
    UW_RETURN_ERROR_IF(!bf16 || !blob || !blob_size, UW_ERR_INVALID_ARG, "encoder: NULL argument");
    UW_RETURN_ERROR_IF(p->struct_size != sizeof *p, UW_ERR_INVALID_ARG, "encoder: params.struct_size mismatch (use uw_encode_params_default)");
    UW_RETURN_ERROR_IF(rows < 1 || cols < 1 || rows > UW_MAX_ELEMS || cols > UW_MAX_ELEMS || rows > UW_MAX_ELEMS / cols, UW_ERR_LIMIT,
                       "encoder: shape %llu x %llu is empty or over 2^40 elements", (unsigned long long)rows, (unsigned long long)cols);
    UW_RETURN_ERROR_IF(p->codec != UW_CODEC_HUFFMAN && p->codec != UW_CODEC_PALETTE, UW_ERR_INVALID_ARG, "encoder: unknown codec %d", p->codec);
    UW_RETURN_ERROR_IF(p->sym_order < 0 || p->sym_order > 2, UW_ERR_INVALID_ARG, "encoder: sym_order %d not in 0..2", p->sym_order);
    UW_RETURN_ERROR_IF(p->rare_mode < UW_RARE_AUTO || p->rare_mode > UW_RARE_VERBATIM, UW_ERR_INVALID_ARG, "encoder: rare_mode %d unknown",
                       p->rare_mode);
    UW_RETURN_ERROR_IF(p->chunk_len && (p->chunk_len < 8 || p->chunk_len > 4096 || (p->chunk_len & (p->chunk_len - 1))),
                       UW_ERR_INVALID_ARG, "encoder: chunk_len %u is not a power of two in 8..4096", p->chunk_len);
    enc e;
    memset(&e, 0, sizeof e);
    UW_FORWARD_IF_ERROR(uw_codec_kern_get(&e.k));
    e.w = bf16;
    e.rows = rows;
    e.cols = cols;
    e.n = rows * cols;
    e.threads = uw_threads_resolve(p->threads);
    uw_status s = choose_geometry(&e, p);
    if (s == UW_OK) s = encode_body(&e, p, blob, blob_size);
    if (s == UW_OK && stats) {
        memcpy(stats->hist, e.hist, sizeof e.hist);
        stats->rare = e.rare;
    }
    enc_free(&e);
    return s;
}
