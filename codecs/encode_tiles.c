/* encode_tiles.c - the blob's tiles, one task per tile on every thread: Huffman lanes as bit
 * streams (FORMAT.md section 6), or the palette IR's exceptions and nibbles (section 8). The bit
 * writer keeps 64 bits and stores 8 bytes after whole codes (a pair's code and its escape bytes
 * are one value from two table lookups), with no branch on the symbols; the rows of the common
 * case (no verbatim chunks) go through the selected level's row coder (codec_isa.h). */
#include <stdlib.h>

#include "encode_internal.h"

/* Exponent e's coding: bits 0-3 its symbol (the escape in escape mode, for every exponent outside
 * the 15 regular ones), 8-15 the raw byte an escape carries (else 0), 16-23 its bit count (8 or 0).
 * Pair (or single) symbol s's code: bits 0-15 the code (first bit lowest), 16-23 its length. */
static void coding_tables(const enc *e, uw_row_coder *rc) {
    const uw_blob *b = &e->b;
    int esc = b->rare_mode == UW_RARE_ESCAPE;
    for (int x = 0; x < 256; x++) {
        uint32_t s = e->s17[x];
        if (esc && s >= 15) rc->ex[x] = 15u | (uint32_t)x << 8 | 8u << 16;
        else rc->ex[x] = s & 15u; /* a rare exponent never reaches a code outside escape mode */
    }
    memset(rc->code, 0, sizeof rc->code);
    for (uint32_t a = 0; a < 16; a++)
        for (uint32_t c = 0; c < 16; c++) {
            uint32_t sym = b->order == 2 ? a * b->nsym + c : a;
            if (a >= b->nsym || (b->order == 2 && c >= b->nsym) || (b->order == 1 && c)) continue;
            rc->code[a << 4 | c] = e->codes[sym] | (uint32_t)b->len[sym] << 16;
        }
    rc->order = b->order;
    rc->esc = esc;
    for (int x = 0; x < 256; x++) rc->sym[x] = (uint8_t)(rc->ex[x] & 15);
    for (int k = 0; k < 256; k++) rc->code16[k] = (uint16_t)((rc->code[k] & 0xFFF) | (rc->code[k] >> 16) << 12);
}

/* ---- the scalar bit writer: whole values of up to 56 bits between stores ---- */

typedef struct bitw {
    uint8_t *p;   /* next byte; 8 bytes from here are writable */
    uint64_t acc; /* bits not yet past p */
    uint32_t nb;  /* of them valid, < 8 after a flush */
} bitw;

static inline void bw_put(bitw *w, uint64_t v, uint32_t n) {
    w->acc |= v << w->nb;
    w->nb += n;
}

static inline void bw_flush(bitw *w) {
    memcpy(w->p, &w->acc, 8);
    w->p += w->nb >> 3;
    w->acc >>= w->nb & ~7u;
    w->nb &= 7;
}

/* element x's code with its raw byte, as one value; *n its bits */
static inline uint64_t code1(const uw_row_coder *rc, uint16_t x, uint32_t *n) {
    uint32_t ex = rc->ex[uw_bf16_exp(x)], t = rc->code[(ex & 15) << 4];
    *n = (t >> 16) + (ex >> 16);
    return (t & 0xFFFF) | (uint64_t)((ex >> 8) & 0xFF) << (t >> 16);
}

/* pair (x, y)'s code with the raw bytes of its escapes; y = -1: the padded pair of an odd run */
static inline uint64_t code2(const uw_row_coder *rc, uint16_t x, int32_t y, uint32_t *n) {
    uint32_t ea = rc->ex[uw_bf16_exp(x)], eb = y < 0 ? 0 : rc->ex[uw_bf16_exp((uint16_t)y)];
    uint32_t t = rc->code[(ea & 15) << 4 | (eb & 15)], cl = t >> 16, la = ea >> 16;
    *n = cl + la + (eb >> 16);
    uint64_t raw = ((ea >> 8) & 0xFF) | (uint64_t)((eb >> 8) & 0xFF) << la;
    return (t & 0xFFFF) | raw << cl;
}

/* The symbols of one run of len elements (a row, or a chunk) into w. */
static void put_run(const uw_row_coder *rc, bitw *w, const uint16_t *x, uint32_t len) {
    uint32_t k = 0, n1, n2;
    if (rc->order == 1) {
        for (; k + 2 <= len; k += 2) { /* two codes of up to 20 bits per store */
            uint64_t v1 = code1(rc, x[k], &n1), v2 = code1(rc, x[k + 1], &n2);
            bw_put(w, v1 | v2 << n1, n1 + n2);
            bw_flush(w);
        }
        if (k < len) {
            uint64_t v1 = code1(rc, x[k], &n1);
            bw_put(w, v1, n1);
            bw_flush(w);
        }
        return;
    }
    for (; k + 4 <= len; k += 4) { /* two pairs of up to 28 bits per store */
        uint64_t v1 = code2(rc, x[k], x[k + 1], &n1), v2 = code2(rc, x[k + 2], x[k + 3], &n2);
        bw_put(w, v1 | v2 << n1, n1 + n2);
        bw_flush(w);
    }
    for (; k < len; k += 2) {
        uint64_t v1 = code2(rc, x[k], k + 1 < len ? x[k + 1] : -1, &n1);
        bw_put(w, v1, n1);
        bw_flush(w);
    }
}

size_t uw_row_code_scalar(const uw_row_coder *rc, const uint16_t *x, uint32_t len, uint8_t *p, uint64_t *acc, uint32_t *nb) {
    bitw w = {p, *acc, *nb};
    put_run(rc, &w, x, len);
    *acc = w.acc;
    *nb = w.nb;
    return (size_t)(w.p - p);
}

/* ---- Huffman tiles ---- */

typedef struct tiles_ctx {
    enc *e;
    uw_row_coder rc;
    uint8_t **scratch; /* per worker: a tile's worst case */
    size_t cap;
} tiles_ctx;

static uw_status huff_tile(void *ctx, uint64_t t, int worker) {
    tiles_ctx *c = ctx;
    enc *e = c->e;
    const uw_blob *b = &e->b;
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    if (!c->scratch[worker] && !(c->scratch[worker] = malloc(c->cap))) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    uint8_t *buf = c->scratch[worker];
    bitw w = {buf, 0, 0};
    uint32_t C = b->chunk ? b->chunk : tc;
    int verb = b->rare_mode == UW_RARE_VERBATIM;
    for (uint32_t j = 0; j < b->lanes; j++) {
        if (j) e->laneoff[t * (b->lanes - 1) + j - 1] = (uint32_t)((uint64_t)(w.p - buf) * 8 + w.nb);
        uint32_t ra = uw_lane_row_begin(tr, b->lanes, j), rz = uw_lane_row_begin(tr, b->lanes, j + 1);
        for (uint32_t r = ra; r < rz; r++) {
            const uint16_t *x = e->w + (r0 + r) * e->cols + c0;
            if (!verb) { /* the row is one run */
                w.p += e->k->row_code(&c->rc, x, tc, w.p, &w.acc, &w.nb);
                continue;
            }
            for (uint32_t k = 0; k < tc; k += C) {
                uint32_t len = tc - k < C ? tc - k : C, rare = 0;
                for (uint32_t m = 0; m < len; m++) rare |= e->s17[uw_bf16_exp(x[k + m])] == 16;
                bw_put(&w, rare, 1);
                bw_flush(&w);
                if (!rare) {
                    put_run(&c->rc, &w, x + k, len);
                    continue;
                }
                for (uint32_t m = 0; m < len; m++) { /* the chunk's exponents, raw */
                    bw_put(&w, uw_bf16_exp(x[k + m]), 8);
                    bw_flush(&w);
                }
            }
            bw_flush(&w);
        }
    }
    bw_flush(&w);
    size_t bytes = (size_t)(w.p - buf) + (w.nb ? 1 : 0); /* the last byte's unused bits are zero */
    uint8_t *own = malloc(bytes ? bytes : 1);
    if (!own) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory for tile %llu", (unsigned long long)t);
    memcpy(own, buf, bytes);
    e->tbuf[t] = own;
    e->tlen[t] = bytes;
    return UW_OK;
}

/* ---- palette IR ---- */

static uw_status exc_tile(void *ctx, uint64_t t, int worker) {
    enc *e = ctx;
    const uw_blob *b = &e->b;
    (void)worker;
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    uint64_t cnt = 0, cap = 0;
    uint8_t *list = NULL;
    for (uint32_t r = 0; r < tr; r++) {
        const uint16_t *x = e->w + (r0 + r) * e->cols + c0;
        for (uint32_t c = 0; c < tc; c++) {
            uint32_t x8 = uw_bf16_exp(x[c]);
            if (e->s17[x8] < b->nsym) continue;
            if (cnt == cap) {
                cap = cap ? cap * 2 : 16;
                uint8_t *nl = realloc(list, cap * 4);
                if (!nl) {
                    free(list);
                    return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
                }
                list = nl;
            }
            uw_wr32(list + 4 * cnt++, (r * tc + c) << 8 | x8);
        }
    }
    e->tbuf[t] = list;
    e->tlen[t] = cnt;
    return UW_OK;
}

static uw_status nibble_task(void *ctx, uint64_t i, int worker) {
    enc *e = ctx;
    (void)worker;
    uint64_t a = i * BLOCK_ELEMS, z = a + BLOCK_ELEMS > e->n ? e->n : a + BLOCK_ELEMS;
    for (uint64_t k = a; k < z; k += 2) {
        uint8_t lo = e->s17[uw_bf16_exp(e->w[k])], hi = k + 1 < z ? e->s17[uw_bf16_exp(e->w[k + 1])] : 0;
        lo = lo < e->b.nsym ? lo : 0;
        hi = hi < e->b.nsym ? hi : 0;
        e->nibbles[k / 2] = (uint8_t)(lo | hi << 4);
    }
    return UW_OK;
}

uw_status uw_enc_tiles(enc *e) {
    uw_blob *b = &e->b;
    uint64_t nt = b->ntiles;
    e->tbuf = calloc(nt, sizeof *e->tbuf);
    e->tlen = calloc(nt, sizeof *e->tlen);
    if (!e->tbuf || !e->tlen) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    if (b->codec == UW_CODEC_PALETTE) {
        e->nibbles = malloc((b->n + 1) / 2);
        if (!e->nibbles) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        UW_FORWARD_IF_ERROR(uw_parallel_for(nt, e->threads, exc_tile, e));
        UW_FORWARD_IF_ERROR(uw_parallel_for((b->n + BLOCK_ELEMS - 1) / BLOCK_ELEMS, e->threads, nibble_task, e));
        b->count = 0;
        for (uint64_t t = 0; t < nt; t++) b->count += e->tlen[t];
        e->rare = b->count;
        return UW_OK;
    }
    e->laneoff = calloc(nt * (b->lanes - 1) + 1, sizeof *e->laneoff);
    if (!e->laneoff) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    tiles_ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    coding_tables(e, &c.rc);
    /* worst case: 20 bits per element (order 1: a 12-bit code and an escape byte), a flag per
     * chunk, and the writer's 8-byte stores */
    uint64_t elems = (uint64_t)b->tile_rows * b->tile_cols;
    c.cap = (size_t)(elems * 20 / 8 + elems / 8 + 64);
    c.scratch = calloc((size_t)e->threads, sizeof *c.scratch);
    if (!c.scratch) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    uw_status s = uw_parallel_for(nt, e->threads, huff_tile, &c);
    for (int k = 0; k < e->threads; k++) free(c.scratch[k]);
    free(c.scratch);
    UW_FORWARD_IF_ERROR(s);
    b->count = 0;
    for (uint64_t t = 0; t < nt; t++) b->count += e->tlen[t];
    return UW_OK;
}
