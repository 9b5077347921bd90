/* encode_choose.c - how a Huffman blob codes its exponents, chosen by exact size. One statistics
 * pass over the 16 most frequent exponents and "any other" (pairs as the stream codes them, and
 * where the rare elements are) prices every candidate: no rare exponents; verbatim chunks of
 * 16..256; escapes; each for symbol order 1 and 2 with its optimal length-limited code. The
 * Shannon bound of a candidate's histogram (no prefix code beats it) prunes, exactly, the
 * candidates that cannot win, so most never run package-merge or the verbatim bookkeeping; the
 * survivors are compared in the original order, so the choice is the one the full search makes. */
#include <math.h>
#include <stdlib.h>

#include "encode_internal.h"

/* ---- the statistics pass ---- */

static uw_status push_rare(stats17 *st, uint64_t index) {
    if (st->nrare == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        uint64_t *nr = realloc(st->rare, st->cap * 8);
        if (!nr) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
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
    const uint8_t *S = e->s17;
    for (uint64_t r = r0; r < r1; r++)
        for (uint64_t tj = 0; tj < e->b.tiles_c; tj++) {
            uint64_t c0 = tj * e->b.tile_cols;
            uint32_t tc = (uint32_t)(e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols);
            const uint16_t *x = e->w + r * e->cols + c0;
            /* the pairs' symbol indices, 17-ary, and whether the row part holds a rare element */
            uint32_t any = e->k->pair_stats(x, tc, S, st->h2);
            if (any) /* rare elements are rare: find them again one by one */
                for (uint32_t k = 0; k < tc; k++)
                    if (S[uw_bf16_exp(x[k])] == 16) UW_FORWARD_IF_ERROR(push_rare(st, r * e->cols + c0 + k));
        }
    return UW_OK;
}

/* ---- candidates ---- */

typedef struct cand {
    int mode, order;
    uint32_t chunk;
    uint64_t bits, rare;
    uint8_t len[256];
    int maxlen, single;
} cand;

/* Shannon bound sum f log2(F / f) of a histogram, rounded down with room for rounding error: no
 * prefix code costs less. */
static uint64_t shannon_floor(const uint64_t *h, int a) {
    uint64_t tot = 0;
    for (int k = 0; k < a; k++) tot += h[k];
    double b = 0;
    for (int k = 0; k < a; k++)
        if (h[k]) b += (double)h[k] * log2((double)tot / (double)h[k]);
    b = b * (1 - 1e-9) - 1;
    return b > 0 ? (uint64_t)b : 0;
}

/* Exact size of coding histogram h (order 1: ns symbols; order 2: ns^2 pairs) with its optimal
 * code, fixed_bits added (raw bits that do not depend on the code, and the code length table). */
static uw_status price(const uint64_t *h, uint32_t ns, int order, uint64_t fixed_bits, cand *c) {
    int a = order == 2 ? (int)(ns * ns) : (int)ns;
    int used = 0, last = 0;
    memset(c->len, 0, sizeof c->len);
    c->maxlen = 0;
    c->single = -1;
    for (int k = 0; k < a; k++)
        if (h[k]) used++, last = k;
    if (used <= 1) {
        c->single = used ? last : 0; /* every chunk verbatim: any one symbol will do */
    } else {
        if (uw_huff_lengths(h, a, UW_HUFF_MAX_LEN, c->len)) return uw_error_set(UW_ERR_INVALID_ARG, "encoder: code construction failed");
        for (int k = 0; k < a; k++)
            if (c->len[k] > c->maxlen) c->maxlen = c->len[k];
    }
    c->bits = uw_huff_cost(h, c->len, a) + fixed_bits + (uint64_t)((a + 1) / 2) * 8;
    return UW_OK;
}

/* Verbatim chunks of C: the statistics without every chunk that holds a rare element (their
 * pairs counted by the statistics kernel, then taken away). */
static void verbatim_stats(const enc *e, const uint64_t *tot1, const uint64_t *tot2, uint32_t C, uint64_t *h1, uint64_t *h2) {
    uint64_t g2[NS17 * NS17] = {0}, odd = 0;
    uint64_t last = UINT64_MAX;
    for (uint64_t blk = 0; blk < ROW_BLOCKS(e); blk++)
        for (uint64_t q = 0; q < e->st[blk].nrare; q++) {
            uint64_t i = e->st[blk].rare[q], c = i % e->cols;
            uint64_t c0 = c / e->b.tile_cols * e->b.tile_cols, tc = e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols;
            uint64_t cs = c0 + (c - c0) / C * C, len = c0 + tc - cs < C ? c0 + tc - cs : C;
            uint64_t key = i - c + cs;
            if (key == last) continue;
            last = key;
            e->k->pair_stats(e->w + key, (uint32_t)len, e->s17, g2);
            odd += len & 1;
        }
    /* the elements of those chunks: both symbols of each pair, but the padding of an odd chunk's
     * last pair (symbol 0) is no element */
    uint64_t g1[NS17] = {0};
    for (int a = 0; a < NS17; a++)
        for (int c = 0; c < NS17; c++) g1[a] += g2[a * NS17 + c], g1[c] += g2[a * NS17 + c];
    g1[0] -= odd;
    for (int a = 0; a < 16; a++) {
        h1[a] = tot1[a] - g1[a];
        for (int c = 0; c < 16; c++) h2[a * 16 + c] = tot2[a * NS17 + c] - g2[a * NS17 + c];
    }
}

/* Chunks of C (all of them, and those holding a rare element) and the elements and pairs in the
 * latter: enough for a bound on the verbatim candidate without its statistics. */
static void verbatim_count(const enc *e, uint32_t C, uint64_t *chunks, uint64_t *vchunks, uint64_t *velems, uint64_t *vpairs) {
    *chunks = *vchunks = *velems = *vpairs = 0;
    for (uint64_t tj = 0; tj < e->b.tiles_c; tj++) {
        uint64_t c0 = tj * e->b.tile_cols, tc = e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols;
        *chunks += e->rows * ((tc + C - 1) / C);
    }
    uint64_t last = UINT64_MAX;
    for (uint64_t blk = 0; blk < ROW_BLOCKS(e); blk++)
        for (uint64_t q = 0; q < e->st[blk].nrare; q++) {
            uint64_t i = e->st[blk].rare[q], c = i % e->cols;
            uint64_t c0 = c / e->b.tile_cols * e->b.tile_cols, tc = e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols;
            uint64_t cs = c0 + (c - c0) / C * C, len = c0 + tc - cs < C ? c0 + tc - cs : C;
            uint64_t key = i - c + cs;
            if (key == last) continue;
            last = key;
            (*vchunks)++;
            *velems += len;
            *vpairs += (len + 1) / 2;
        }
}

typedef struct plan {
    int mode, order;
    uint32_t chunk;
    uint64_t lb;        /* no code of this candidate costs less */
    int exact_stats;    /* h1/h2 below hold its statistics */
    uint64_t fixed, rare;
    uint64_t h1[16], h2[256];
    uint32_t ns;
} plan;

#define MAX_PLANS 16

uw_status uw_enc_choose_code(enc *e, const uw_encode_params *p) {
    uw_blob *b = &e->b;
    int want = p->rare_mode;
    UW_RETURN_ERROR_IF(want == UW_RARE_NONE && e->distinct > 16, UW_ERR_INVALID_ARG,
                       "encoder: rare_mode NONE but the tensor has %d distinct exponents (> 16)", e->distinct);
    uint64_t rb = ROW_BLOCKS(e);
    e->st = calloc(rb, sizeof *e->st);
    if (!e->st) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    UW_FORWARD_IF_ERROR(uw_parallel_for(rb, e->threads, stat_task, e));
    uint64_t tot2[NS17 * NS17] = {0}, tot1[NS17] = {0};
    for (uint64_t k = 0; k < rb; k++)
        for (int a = 0; a < NS17 * NS17; a++) tot2[a] += e->st[k].h2[a];
    for (int k = 0; k < 256; k++) tot1[e->s17[k]] += e->hist[k];

    /* the candidates, in the order the search compares them (the first of equal sizes wins) */
    plan *pl = calloc(MAX_PLANS, sizeof *pl);
    if (!pl) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    int np = 0;
    int want_order = p->sym_order;
    if (e->distinct <= 16) {
        uint32_t ns = (uint32_t)e->distinct;
        for (int order = 1; order <= 2; order++) {
            if ((ns == 1 || want_order) && order != (ns == 1 ? 1 : want_order)) continue; /* one entry has no pairs */
            plan *q = &pl[np++];
            q->mode = UW_RARE_NONE, q->order = order, q->ns = ns, q->exact_stats = 1;
            for (uint32_t a = 0; a < ns; a++) {
                q->h1[a] = tot1[a];
                for (uint32_t c = 0; c < ns; c++) q->h2[a * ns + c] = tot2[a * NS17 + c];
            }
        }
        b->nsym = (uint8_t)ns;
    } else {
        if (want == UW_RARE_AUTO || want == UW_RARE_VERBATIM) {
            static const uint32_t chunks[] = {16, 32, 64, 128, 256};
            for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
                uint32_t C = p->chunk_len ? p->chunk_len : chunks[k];
                uint64_t ch, vch, vel, vpr;
                verbatim_count(e, C, &ch, &vch, &vel, &vpr);
                for (int order = 1; order <= 2; order++) {
                    if (want_order && order != want_order) continue;
                    plan *q = &pl[np++];
                    q->mode = UW_RARE_VERBATIM, q->order = order, q->chunk = C, q->ns = 16;
                    q->fixed = ch + 8 * vel, q->rare = vel;
                }
                if (p->chunk_len) break;
            }
        }
        if (want == UW_RARE_AUTO || want == UW_RARE_ESCAPE) {
            /* escape = symbol 15: the 16th exponent and all rarer ones */
            uint64_t nesc = tot1[15] + tot1[16];
            for (int order = 1; order <= 2; order++) {
                if (want_order && order != want_order) continue;
                plan *q = &pl[np++];
                q->mode = UW_RARE_ESCAPE, q->order = order, q->ns = 16, q->exact_stats = 1;
                q->fixed = 8 * nesc, q->rare = nesc;
                for (int a = 0; a < NS17; a++) {
                    int a2 = a > 15 ? 15 : a;
                    q->h1[a2] += tot1[a];
                    for (int c = 0; c < NS17; c++) q->h2[a2 * 16 + (c > 15 ? 15 : c)] += tot2[a * NS17 + c];
                }
            }
        }
        b->nsym = 16; /* escape mode reuses the top-16 symbols: the 16th folds into the escape */
    }
    /* Every candidate's statistics (verbatim: the chunks with rare elements taken out, both
     * orders at once) and its Shannon bound: no code of it costs less. */
    for (int i = 0; i < np; i++) {
        plan *q = &pl[i];
        if (!q->exact_stats) {
            verbatim_stats(e, tot1, tot2, q->chunk, q->h1, q->h2);
            for (int k = i + 1; k < np; k++)
                if (pl[k].mode == q->mode && pl[k].chunk == q->chunk) {
                    memcpy(pl[k].h1, q->h1, sizeof q->h1);
                    memcpy(pl[k].h2, q->h2, sizeof q->h2);
                    pl[k].exact_stats = 1;
                }
            q->exact_stats = 1;
        }
        int a = q->order == 2 ? (int)(q->ns * q->ns) : (int)q->ns;
        q->lb = shannon_floor(q->order == 2 ? q->h2 : q->h1, a) + q->fixed + (uint64_t)((a + 1) / 2) * 8;
    }
    /* An upper bound: the candidate of least bound, priced. Then, in the search's order, every
     * candidate that might cost less or as little (the first of equal sizes wins). */
    uw_status s = UW_OK;
    cand *best = calloc(3, sizeof *best), *c = best + 1, *firstc = best + 2;
    if (!best) s = uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    int first = 0;
    for (int i = 1; i < np; i++)
        if (pl[i].lb < pl[first].lb) first = i;
    uint64_t upper = UINT64_MAX;
    for (int i = -1; i < np && s == UW_OK; i++) {
        plan *q = &pl[i < 0 ? first : i];
        if (i >= 0 && q->lb > upper) continue; /* it cannot cost as little as the upper bound */
        if (i == first) {
            if (firstc->bits < best->bits) *best = *firstc;
            continue;
        }
        s = price(q->order == 2 ? q->h2 : q->h1, q->ns, q->order, q->fixed, c);
        if (s != UW_OK) break;
        c->mode = q->mode, c->order = q->order, c->chunk = q->chunk, c->rare = q->rare;
        if (i < 0) {
            upper = c->bits;
            *firstc = *c;
            best->bits = UINT64_MAX;
        } else if (c->bits < best->bits) {
            *best = *c;
        }
    }
    free(pl);
    if (s != UW_OK) {
        free(best);
        return s;
    }
    b->rare_mode = (uint8_t)best->mode;
    int nreg = b->rare_mode == UW_RARE_ESCAPE ? 15 : b->nsym;
    memcpy(b->palette, e->order_by_freq, (size_t)nreg);
    b->order = (uint8_t)best->order;
    e->rare = best->rare;
    b->chunk_log2 = 0;
    if (best->mode == UW_RARE_VERBATIM)
        while ((1u << b->chunk_log2) < best->chunk) b->chunk_log2++;
    uw_blob_layout(b);
    memcpy(b->len, best->len, 256);
    b->maxlen = (uint8_t)best->maxlen;
    b->single = best->single;
    free(best);
    uw_huff_codes(b->len, (int)b->alphabet, e->codes);
    return UW_OK;
}
