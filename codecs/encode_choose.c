/* encode_choose.c - how a Huffman blob codes its exponents, chosen by exact size: one
 * statistics pass over the 16 most frequent exponents and "any other", then the exact size of
 * every candidate (no rare exponents; verbatim chunks of 16..256; escapes) for symbol order 1
 * and 2, each with its optimal length-limited code. */
#include <stdlib.h>

#include "encode_internal.h"

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

uw_status uw_enc_choose_code(enc *e, const uw_encode_params *p) {
    uw_blob *b = &e->b;
    int nt = e->threads;
    cand best;
    memset(&best, 0, sizeof best);
    best.bits = UINT64_MAX;
    int want = p->rare_mode;
    UW_RETURN_ERROR_IF(want == UW_RARE_NONE && e->distinct > 16, UW_ERR_INVALID_ARG,
                       "encoder: rare_mode NONE but the tensor has %d distinct exponents (> 16)", e->distinct);
    UW_FORWARD_IF_ERROR(uw_enc_build_sym(e, 16, RARE));
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
    return UW_OK;
}
