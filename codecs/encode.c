/* encode.c - the tensor encoder: exponent histogram, palette, rare-exponent mode and symbol
 * order chosen by exact size, length-limited Huffman, tiled/laned stream, palette IR. */
#include <stdlib.h>

#include "bitio.h"
#include "decode_steps.h"
#include "huffman.h"
#include "encode.h"

#define RARE 0xFF /* symbol array marker: exponent not in the palette (verbatim mode) */

void uw_encode_params_default(uw_encode_params *p) {
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->codec = UW_CODEC_HUFFMAN;
    p->rare_mode = UW_RARE_AUTO;
}

typedef struct enc {
    const uint16_t *w;
    uint64_t rows, cols, n;
    int threads;
    uint8_t *sym;        /* per element symbol index (mode dependent) */
    uint64_t hist[256];  /* exponent histogram */
    uint8_t order_by_freq[256];
    int distinct;
    uw_blob b;           /* header being built */
    /* statistics scratch: per worker exponent histograms, per row block 17-symbol stats */
    uint64_t (*h1)[256];
    struct stats17 *st;  /* ROW_BLOCKS entries */
    uint16_t codes[256];
    uint8_t *plane;      /* destination plane inside the blob */
    /* tile outputs */
    uw_bitw *tw;
    uint32_t **laneoff;
    uint32_t **exc;      /* palette IR: per-tile exception lists */
    uint64_t *nexc;
    uint8_t *nibbles;
    uint64_t rare;       /* elements coded outside the palette (verbatim, escaped, exceptions) */
} enc;

/* ---- pass 1: exponent histogram and the sign/mantissa plane ---- */

#define ROW_BLOCKS(e) ((e)->rows < 256 ? (e)->rows : 256)

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

/* ---- candidate evaluation: one statistics pass, exact sizes for every candidate ---- */

/* Symbols 0..15 are the 16 most frequent exponents, 16 stands for any other ("rare"). One
 * pass gathers single and pair counts (pairs aligned as the stream codes them) and the
 * positions of rare elements; every candidate's exact size follows from these. */
#define NS17 17
typedef struct stats17 {
    uint64_t h1[NS17], h2[NS17 * NS17];
    uint64_t *rare; /* element indices, increasing */
    uint64_t nrare, cap;
    int oom;
} stats17;

static inline uint32_t s17(uint8_t v) { return v == RARE ? 16u : v; }

static uw_status push_rare(stats17 *st, uint64_t index) {
    if (st->nrare == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        uint64_t *nr = realloc(st->rare, st->cap * 8);
        if (!nr) {
            st->oom = 1;
            return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        }
        st->rare = nr;
    }
    st->rare[st->nrare++] = index;
    return UW_OK;
}

static uw_status stat_task(void *ctx, uint64_t i, int worker) {
    enc *e = ctx;
    (void)worker;
    stats17 *st = &e->st[i];
    uint64_t rb = ROW_BLOCKS(e), r0 = e->rows * i / rb, r1 = e->rows * (i + 1) / rb;
    for (uint64_t r = r0; r < r1; r++)
        for (uint64_t tj = 0; tj < e->b.tiles_c; tj++) {
            uint64_t c0 = tj * e->b.tile_cols;
            uint32_t tc = (uint32_t)(e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols);
            const uint8_t *sy = e->sym + r * e->cols + c0;
            uint32_t k = 0;
            for (; k + 1 < tc; k += 2) {
                uint32_t a = s17(sy[k]), c = s17(sy[k + 1]);
                st->h1[a]++;
                st->h1[c]++;
                st->h2[a * NS17 + c]++;
                if (a == 16 || c == 16)
                    for (uint32_t m = k; m < k + 2; m++)
                        if (sy[m] == RARE) UW_FORWARD_IF_ERROR(push_rare(st, r * e->cols + c0 + m));
            }
            if (k < tc) {
                uint32_t a = s17(sy[k]);
                st->h1[a]++;
                st->h2[a * NS17]++;
                if (a == 16) UW_FORWARD_IF_ERROR(push_rare(st, r * e->cols + c0 + k));
            }
        }
    return UW_OK;
}

typedef struct cand {
    int mode, order;
    uint32_t chunk;
    uint64_t bits, rare;
    uint8_t len[256];
    int maxlen, single;
} cand;

/* Size of coding with histograms h1 (nsym symbols) and h2 (nsym^2 pairs), for order 1 and 2;
 * keeps the smaller in *best. fixed_bits: raw bits that do not depend on the code. */
static uw_status consider(const uint64_t *h1, const uint64_t *h2, uint32_t ns, int mode, uint32_t C, uint64_t fixed_bits,
                          uint64_t rare, int want_order, cand *best) {
    if (ns == 1) want_order = 1; /* a one-entry palette has no pairs to code */
    for (int order = 1; order <= 2; order++) {
        if (want_order && order != want_order) continue;
        cand c;
        memset(&c, 0, sizeof c);
        c.mode = mode;
        c.order = order;
        c.chunk = C;
        c.rare = rare;
        c.single = -1;
        int A = order == 2 ? (int)(ns * ns) : (int)ns;
        uint64_t h[256];
        memcpy(h, order == 2 ? h2 : h1, sizeof(uint64_t) * (size_t)A);
        int used = 0, last = 0;
        for (int k = 0; k < A; k++)
            if (h[k]) { used++; last = k; }
        if (used <= 1) {
            c.single = used ? last : 0; /* every chunk verbatim: any one symbol will do */
        } else {
            if (uw_huff_lengths(h, A, UW_HUFF_MAX_LEN, c.len)) return uw_error_set(UW_ERR_INVALID_ARG, "encoder: code construction failed");
            for (int k = 0; k < A; k++)
                if (c.len[k] > c.maxlen) c.maxlen = c.len[k];
        }
        c.bits = uw_huff_cost(h, c.len, A) + fixed_bits + (uint64_t)((A + 1) / 2) * 8;
        if (c.bits < best->bits) *best = c;
    }
    return UW_OK;
}

/* Verbatim chunks of C: remove every chunk holding a rare element from the statistics. */
static void verbatim_stats(const enc *e, const stats17 *tot, uint32_t C, uint64_t *h1, uint64_t *h2, uint64_t *vchunks,
                           uint64_t *velems, uint64_t *chunks) {
    uint64_t x1[NS17], x2[NS17 * NS17];
    memcpy(x1, tot->h1, sizeof x1);
    memcpy(x2, tot->h2, sizeof x2);
    *vchunks = *velems = *chunks = 0;
    for (uint64_t tj = 0; tj < e->b.tiles_c; tj++) {
        uint64_t c0 = tj * e->b.tile_cols, tc = e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols;
        *chunks += e->rows * ((tc + C - 1) / C);
    }
    uint64_t last = UINT64_MAX;
    for (uint64_t blk = 0; blk < ROW_BLOCKS(e); blk++)
        for (uint64_t q = 0; q < e->st[blk].nrare; q++) {
            uint64_t i = e->st[blk].rare[q], r = i / e->cols, c = i % e->cols;
            uint64_t c0 = c / e->b.tile_cols * e->b.tile_cols, tc = e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols;
            uint64_t cs = c0 + (c - c0) / C * C, len = c0 + tc - cs < C ? c0 + tc - cs : C;
            uint64_t key = r * e->cols + cs;
            if (key == last) continue;
            last = key;
            (*vchunks)++;
            *velems += len;
            const uint8_t *sy = e->sym + key;
            uint64_t m = 0;
            for (; m + 1 < len; m += 2) {
                x1[s17(sy[m])]--;
                x1[s17(sy[m + 1])]--;
                x2[s17(sy[m]) * NS17 + s17(sy[m + 1])]--;
            }
            if (m < len) {
                x1[s17(sy[m])]--;
                x2[s17(sy[m]) * NS17]--;
            }
        }
    for (int a = 0; a < 16; a++) {
        h1[a] = x1[a];
        for (int c = 0; c < 16; c++) h2[a * 16 + c] = x2[a * NS17 + c];
    }
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

/* map exponent -> symbol for the first `nreg` palette entries; others -> other */
static uw_status build_sym(enc *e, int nreg, uint8_t other);

typedef struct sym_ctx { enc *e; uint8_t map[256]; } sym_ctx;
static uw_status sym_task(void *ctx, uint64_t i, int worker) {
    sym_ctx *sc = ctx;
    enc *e = sc->e;
    (void)worker;
    uint64_t a = i * 65536, z = a + 65536 > e->n ? e->n : a + 65536;
    for (uint64_t k = a; k < z; k++) e->sym[k] = sc->map[uw_bf16_exp(e->w[k])];
    return UW_OK;
}

static uw_status build_sym(enc *e, int nreg, uint8_t other) {
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
        UW_FORWARD_IF_ERROR(build_sym(e, nreg, RARE));
    } else {
        cand best;
        memset(&best, 0, sizeof best);
        best.bits = UINT64_MAX;
        int want = p->rare_mode;
        UW_RETURN_ERROR_IF(want == UW_RARE_NONE && e->distinct > 16, UW_ERR_INVALID_ARG,
                           "encoder: rare_mode NONE but the tensor has %d distinct exponents (> 16)", e->distinct);
        UW_FORWARD_IF_ERROR(build_sym(e, 16, RARE));
        uint64_t rb = ROW_BLOCKS(e);
        e->st = calloc(rb, sizeof *e->st);
        if (!e->st) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        UW_FORWARD_IF_ERROR(uw_parallel_for(rb, nt, stat_task, e));
        stats17 tot;
        memset(&tot, 0, sizeof tot);
        for (uint64_t k = 0; k < rb; k++) {
            for (int a = 0; a < NS17; a++) tot.h1[a] += e->st[k].h1[a];
            for (int a = 0; a < NS17 * NS17; a++) tot.h2[a] += e->st[k].h2[a];
        }
        uint64_t h1[16], h2[256];
        if (e->distinct <= 16) {
            uint32_t ns = (uint32_t)e->distinct;
            for (uint32_t a = 0; a < ns; a++) {
                h1[a] = tot.h1[a];
                for (uint32_t c = 0; c < ns; c++) h2[a * ns + c] = tot.h2[a * NS17 + c];
            }
            UW_FORWARD_IF_ERROR(consider(h1, h2, ns, UW_RARE_NONE, 0, 0, 0, p->sym_order, &best));
            b->nsym = (uint8_t)ns;
        } else {
            if (want == UW_RARE_AUTO || want == UW_RARE_VERBATIM) {
                static const uint32_t chunks[] = {16, 32, 64, 128, 256};
                for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
                    uint32_t C = p->chunk_len ? p->chunk_len : chunks[k];
                    uint64_t vch, vel, ch;
                    verbatim_stats(e, &tot, C, h1, h2, &vch, &vel, &ch);
                    UW_FORWARD_IF_ERROR(consider(h1, h2, 16, UW_RARE_VERBATIM, C, ch + 8 * vel, vel, p->sym_order, &best));
                    if (p->chunk_len) break;
                }
            }
            if (want == UW_RARE_AUTO || want == UW_RARE_ESCAPE) {
                /* escape = symbol 15: the 16th exponent and all rarer ones */
                memset(h1, 0, sizeof h1);
                memset(h2, 0, sizeof h2);
                for (int a = 0; a < NS17; a++) {
                    int a2 = a > 15 ? 15 : a;
                    h1[a2] += tot.h1[a];
                    for (int c = 0; c < NS17; c++) h2[a2 * 16 + (c > 15 ? 15 : c)] += tot.h2[a * NS17 + c];
                }
                uint64_t nesc = tot.h1[15] + tot.h1[16];
                UW_FORWARD_IF_ERROR(consider(h1, h2, 16, UW_RARE_ESCAPE, 0, 8 * nesc, nesc, p->sym_order, &best));
            }
            b->nsym = 16;
            /* escape mode reuses the top-16 symbols: put_chunk folds 15 and RARE into the escape */
        }
        b->rare_mode = (uint8_t)best.mode;
        int nreg = b->rare_mode == UW_RARE_ESCAPE ? 15 : b->nsym;
        memcpy(b->palette, e->order_by_freq, (size_t)nreg);
        b->order = (uint8_t)best.order;
        e->rare = best.rare;
        b->chunk_log2 = 0;
        if (best.mode == UW_RARE_VERBATIM)
            while ((1u << b->chunk_log2) < best.chunk) b->chunk_log2++;
        uw_blob_layout(b);
        memcpy(b->len, best.len, 256);
        b->maxlen = (uint8_t)best.maxlen;
        b->single = best.single;
        uw_huff_codes(b->len, (int)b->alphabet, e->codes);
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
