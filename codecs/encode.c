/* encode.c - the tensor encoder: exponent histogram and palette, then (the code chosen by
 * encode_choose.c) the tiled/laned Huffman stream or the palette IR, and the blob around them. */
#include <stdlib.h>

#include "encode_internal.h"

void uw_encode_params_default(uw_encode_params *p) {
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->codec = UW_CODEC_HUFFMAN;
    p->rare_mode = UW_RARE_AUTO;
}

/* ---- pass 1: exponent histogram and the sign/mantissa plane ---- */

static uw_status hist_task(void *ctx, uint64_t i, int worker) {
    enc *e = ctx;
    uint64_t nb = (e->n + 65535) / 65536, a = i * 65536, z = a + 65536 > e->n ? e->n : a + 65536;
    (void)nb;
    uint64_t *h = e->h1[worker];
    for (uint64_t k = a; k < z; k++) h[uw_bf16_exp(e->w[k])]++;
    return UW_OK;
}

static uw_status plane_task(void *ctx, uint64_t i, int worker) {
    enc *e = ctx;
    (void)worker;
    uint64_t a = i * 65536, z = a + 65536 > e->n ? e->n : a + 65536;
    for (uint64_t k = a; k < z; k++) e->plane[k] = uw_bf16_plane(e->w[k]);
    return UW_OK;
}

/* ---- tile encoding ---- */

static void put_chunk(enc *e, uw_bitw *w, const uint8_t *s, const uint16_t *x, uint32_t len) {
    const uw_blob *b = &e->b;
    uint32_t esc = b->rare_mode == UW_RARE_ESCAPE ? b->nsym - 1u : 0xFFFFu;
    if (b->rare_mode == UW_RARE_VERBATIM) {
        int verb = 0;
        for (uint32_t k = 0; k < len; k++) verb |= s[k] == RARE;
        uw_bitw_put(w, (uint32_t)verb, 1);
        if (verb) {
            for (uint32_t k = 0; k < len; k++) uw_bitw_put(w, uw_bf16_exp(x[k]), 8);
            return;
        }
    }
    if (b->order == 1) {
        for (uint32_t k = 0; k < len; k++) {
            uint32_t a = s[k] > esc ? esc : s[k];
            uw_bitw_put(w, e->codes[a], b->len[a]);
            if (a == esc) uw_bitw_put(w, uw_bf16_exp(x[k]), 8);
        }
    } else {
        for (uint32_t k = 0; k < len; k += 2) {
            uint32_t a = s[k] > esc ? esc : s[k], c = k + 1 < len ? (s[k + 1] > esc ? esc : s[k + 1]) : 0;
            uint32_t p = a * b->nsym + c;
            uw_bitw_put(w, e->codes[p], b->len[p]);
            if (a == esc) uw_bitw_put(w, uw_bf16_exp(x[k]), 8);
            if (k + 1 < len && c == esc) uw_bitw_put(w, uw_bf16_exp(x[k + 1]), 8);
        }
    }
}

static uw_status tile_task(void *ctx, uint64_t t, int worker) {
    enc *e = ctx;
    const uw_blob *b = &e->b;
    (void)worker;
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    uw_bitw *w = &e->tw[t];
    uw_bitw_init(w, (size_t)tr * tc / 2 + 64);
    uint32_t C = b->chunk ? b->chunk : tc;
    for (uint32_t j = 0; j < b->lanes; j++) {
        if (j) e->laneoff[t][j - 1] = (uint32_t)uw_bitw_pos(w);
        uint32_t ra = uw_lane_row_begin(tr, b->lanes, j), rz = uw_lane_row_begin(tr, b->lanes, j + 1);
        for (uint32_t r = ra; r < rz; r++) {
            uint64_t base = (r0 + r) * e->cols + c0;
            if (b->single >= 0 && b->rare_mode != UW_RARE_VERBATIM) continue; /* nothing coded */
            for (uint32_t k = 0; k < tc; k += C)
                put_chunk(e, w, e->sym + base + k, e->w + base + k, tc - k < C ? tc - k : C);
        }
    }
    uw_bitw_flush(w);
    if (w->oom) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory for tile %llu", (unsigned long long)t);
    return UW_OK;
}

static uw_status exc_task(void *ctx, uint64_t t, int worker) {
    enc *e = ctx;
    const uw_blob *b = &e->b;
    (void)worker;
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    uint64_t cnt = 0, cap = 0;
    uint32_t *list = NULL;
    for (uint32_t r = 0; r < tr; r++)
        for (uint32_t c = 0; c < tc; c++) {
            uint64_t i = (r0 + r) * e->cols + c0 + c;
            if (e->sym[i] != RARE) continue;
            if (cnt == cap) {
                cap = cap ? cap * 2 : 16;
                uint32_t *nl = realloc(list, cap * 4);
                if (!nl) { free(list); return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory"); }
                list = nl;
            }
            list[cnt++] = ((r * tc + c) << 8) | uw_bf16_exp(e->w[i]);
        }
    e->exc[t] = list;
    e->nexc[t] = cnt;
    return UW_OK;
}

static uw_status nibble_task(void *ctx, uint64_t i, int worker) {
    enc *e = ctx;
    (void)worker;
    uint64_t a = i * 65536, z = a + 65536 > e->n ? e->n : a + 65536;
    for (uint64_t k = a; k < z; k += 2) {
        uint8_t lo = e->sym[k] == RARE ? 0 : e->sym[k];
        uint8_t hi = k + 1 < z ? (e->sym[k + 1] == RARE ? 0 : e->sym[k + 1]) : 0;
        e->nibbles[k / 2] = (uint8_t)(lo | (hi << 4));
    }
    return UW_OK;
}

typedef struct sym_ctx { enc *e; uint8_t map[256]; } sym_ctx;
static uw_status sym_task(void *ctx, uint64_t i, int worker) {
    sym_ctx *sc = ctx;
    enc *e = sc->e;
    (void)worker;
    uint64_t a = i * 65536, z = a + 65536 > e->n ? e->n : a + 65536;
    for (uint64_t k = a; k < z; k++) e->sym[k] = sc->map[uw_bf16_exp(e->w[k])];
    return UW_OK;
}

uw_status uw_enc_build_sym(enc *e, int nreg, uint8_t other) {
    sym_ctx sc;
    sc.e = e;
    memset(sc.map, other, 256);
    for (int i = 0; i < nreg; i++) sc.map[e->order_by_freq[i]] = (uint8_t)i;
    return uw_parallel_for((e->n + 65535) / 65536, e->threads, sym_task, &sc);
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
     * decoder interleaves 4 lanes, GPU backends re-tile on upload */
    uint32_t lanes = p->lanes ? p->lanes : (tr < 8 ? tr : 8);
    if (p->codec == UW_CODEC_PALETTE) lanes = 1;
    UW_RETURN_ERROR_IF(tr < 1 || tc < 1 || tr > UW_MAX_TILE_DIM || tc > UW_MAX_TILE_DIM ||
                           (uint64_t)tr * tc > UW_MAX_TILE_ELEMS,
                       UW_ERR_INVALID_ARG, "encoder: tile %u x %u out of range (each side 1..65536, at most 2^24 elements)", tr, tc);
    UW_RETURN_ERROR_IF(lanes < 1 || lanes > UW_MAX_LANES || lanes > tr, UW_ERR_INVALID_ARG,
                       "encoder: %u lanes invalid for %u tile rows (1..min(1024, tile rows))", lanes, tr);
    b->tile_rows = tr;
    b->tile_cols = tc;
    b->lanes = lanes;
    return UW_OK;
}

static void enc_free(enc *e, uint64_t ntiles) {
    free(e->sym);
    free(e->h1);
    if (e->st)
        for (uint64_t k = 0; k < ROW_BLOCKS(e); k++) free(e->st[k].rare);
    free(e->st);
    if (e->tw) for (uint64_t t = 0; t < ntiles; t++) free(e->tw[t].buf);
    free(e->tw);
    if (e->laneoff) for (uint64_t t = 0; t < ntiles; t++) free(e->laneoff[t]);
    free(e->laneoff);
    if (e->exc) for (uint64_t t = 0; t < ntiles; t++) free(e->exc[t]);
    free(e->exc);
    free(e->nexc);
}

static uw_status encode_body(enc *e, const uw_encode_params *p, uint8_t **blob_out, size_t *size_out);

uw_status uw_tensor_encode(const uint16_t *bf16, uint64_t rows, uint64_t cols, const uw_encode_params *p,
                           uint8_t **blob, size_t *blob_size) {
    return uw_tensor_encode_ex(bf16, rows, cols, p, blob, blob_size, NULL);
}

uw_status uw_tensor_encode_ex(const uint16_t *bf16, uint64_t rows, uint64_t cols, const uw_encode_params *p,
                              uint8_t **blob, size_t *blob_size, uw_encode_stats *stats) {
    uw_encode_params def;
    if (!p) { uw_encode_params_default(&def); p = &def; }
    UW_RETURN_ERROR_IF(!bf16 || !blob || !blob_size, UW_ERR_INVALID_ARG, "encoder: NULL argument");
    UW_RETURN_ERROR_IF(p->struct_size != sizeof *p, UW_ERR_INVALID_ARG, "encoder: params.struct_size mismatch (use uw_encode_params_default)");
    UW_RETURN_ERROR_IF(rows < 1 || cols < 1 || rows > UW_MAX_ELEMS || cols > UW_MAX_ELEMS || rows > UW_MAX_ELEMS / cols,
                       UW_ERR_LIMIT, "encoder: shape %llu x %llu is empty or over 2^40 elements", (unsigned long long)rows, (unsigned long long)cols);
    UW_RETURN_ERROR_IF(p->codec != UW_CODEC_HUFFMAN && p->codec != UW_CODEC_PALETTE, UW_ERR_INVALID_ARG, "encoder: unknown codec %d", p->codec);
    UW_RETURN_ERROR_IF(p->sym_order < 0 || p->sym_order > 2, UW_ERR_INVALID_ARG, "encoder: sym_order %d not in 0..2", p->sym_order);
    UW_RETURN_ERROR_IF(p->rare_mode < UW_RARE_AUTO || p->rare_mode > UW_RARE_VERBATIM, UW_ERR_INVALID_ARG, "encoder: rare_mode %d unknown", p->rare_mode);
    UW_RETURN_ERROR_IF(p->chunk_len && (p->chunk_len < 8 || p->chunk_len > 4096 || (p->chunk_len & (p->chunk_len - 1))),
                       UW_ERR_INVALID_ARG, "encoder: chunk_len %u is not a power of two in 8..4096", p->chunk_len);
    enc e;
    memset(&e, 0, sizeof e);
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
    enc_free(&e, e.b.ntiles);
    return s;
}

static uw_status encode_body(enc *e, const uw_encode_params *p, uint8_t **blob_out, size_t *size_out) {
    uw_blob *b = &e->b;
    int nt = e->threads;
    uint64_t nblk = (e->n + 65535) / 65536;
    e->h1 = calloc((size_t)nt, sizeof *e->h1);
    e->sym = malloc(e->n);
    if (!e->h1 || !e->sym)
        return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory for a %llu-element tensor", (unsigned long long)e->n);

    UW_FORWARD_IF_ERROR(uw_parallel_for(nblk, nt, hist_task, e));
    for (int w = 0; w < nt; w++)
        for (int k = 0; k < 256; k++) e->hist[k] += e->h1[w][k];
    /* palette order: frequency descending, ties by exponent value */
    int idx[256];
    for (int k = 0; k < 256; k++) idx[k] = k;
    for (int i = 1; i < 256; i++) {
        int v = idx[i], j = i - 1;
        while (j >= 0 && (e->hist[idx[j]] < e->hist[v] || (e->hist[idx[j]] == e->hist[v] && idx[j] > v))) { idx[j + 1] = idx[j]; j--; }
        idx[j + 1] = v;
    }
    e->distinct = 0;
    for (int k = 0; k < 256; k++) {
        e->order_by_freq[k] = (uint8_t)idx[k];
        if (e->hist[k]) e->distinct++;
    }

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
        UW_FORWARD_IF_ERROR(uw_enc_build_sym(e, nreg, RARE));
    } else {
        UW_FORWARD_IF_ERROR(uw_enc_choose_code(e, p));
    }
    uw_blob_layout(b);

    /* tiles */
    uint64_t nt_tiles = b->ntiles;
    if (b->codec == UW_CODEC_HUFFMAN) {
        e->tw = calloc(nt_tiles, sizeof *e->tw);
        e->laneoff = calloc(nt_tiles, sizeof *e->laneoff);
        if (!e->tw || !e->laneoff) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        for (uint64_t t = 0; t < nt_tiles; t++) {
            e->laneoff[t] = calloc(b->lanes, 4);
            if (!e->laneoff[t]) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        }
        UW_FORWARD_IF_ERROR(uw_parallel_for(nt_tiles, nt, tile_task, e));
        /* the symbols are coded: free them before the blob is allocated (peak memory) */
        free(e->sym);
        e->sym = NULL;
        b->count = 0;
        for (uint64_t t = 0; t < nt_tiles; t++) b->count += e->tw[t].bytes;
    } else {
        e->exc = calloc(nt_tiles, sizeof *e->exc);
        e->nexc = calloc(nt_tiles, 8);
        if (!e->exc || !e->nexc) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        UW_FORWARD_IF_ERROR(uw_parallel_for(nt_tiles, nt, exc_task, e));
        b->count = 0;
        for (uint64_t t = 0; t < nt_tiles; t++) b->count += e->nexc[t];
        e->rare = b->count;
    }
    uw_blob_layout(b);
    uint8_t *out = calloc(1, b->total);
    if (!out) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory for a %llu-byte blob", (unsigned long long)b->total);

    if (b->codec == UW_CODEC_HUFFMAN) {
        uint8_t *L = out + b->off_lengths;
        for (uint32_t s = 0; s < b->alphabet; s++) {
            uint8_t v = 0;
            if (b->single >= 0) v = (int)s == b->single ? 1 : 0;
            else if (b->len[s]) v = (uint8_t)(b->len[s] + 1);
            L[s / 2] |= (uint8_t)(v << ((s & 1) * 4));
        }
        uint64_t pos = 0;
        for (uint64_t t = 0; t < nt_tiles; t++) {
            uw_wr64(out + b->off_tilebase + 8 * t, pos);
            for (uint32_t j = 1; j < b->lanes; j++)
                uw_wr32(out + b->off_laneoff + 4 * (t * (b->lanes - 1) + j - 1), e->laneoff[t][j - 1]);
            memcpy(out + b->off_stream + pos, e->tw[t].buf, e->tw[t].bytes);
            pos += e->tw[t].bytes;
            free(e->tw[t].buf);
            e->tw[t].buf = NULL;
        }
    } else {
        uint64_t pos = 0;
        for (uint64_t t = 0; t < nt_tiles; t++) {
            uw_wr64(out + b->off_excidx + 8 * t, pos);
            for (uint64_t k = 0; k < e->nexc[t]; k++) uw_wr32(out + b->off_exc + 4 * (pos + k), e->exc[t][k]);
            pos += e->nexc[t];
        }
        uw_wr64(out + b->off_excidx + 8 * nt_tiles, pos);
        e->nibbles = out + b->off_nibbles;
        UW_FORWARD_IF_ERROR(uw_parallel_for(nblk, nt, nibble_task, e));
    }
    e->plane = out + b->off_plane;
    UW_FORWARD_IF_ERROR(uw_parallel_for(nblk, nt, plane_task, e));
    b->tensor_hash = uw_hash64(e->w, e->n * 2);
    uw_blob_write_header(b, out);
    b->blob_hash = uw_blob_compute_hash(out, b->payload_end);
    uw_wr64(out + 120, b->blob_hash);
    *blob_out = out;
    *size_out = b->total;
    return UW_OK;
}
