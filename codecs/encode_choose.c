/* encode_choose.c - how a Huffman blob codes its exponents, chosen by exact size. One statistics
 * pass over the 16 most frequent exponents and "any other" (pairs as the stream codes them, and
 * where the rare elements are, and the pairs of the chunks holding them) prices every candidate:
 * no rare exponents; verbatim chunks of 16..256; escapes; each for symbol order 1 and 2 with its
 * optimal length-limited code. The pass runs on all threads; the choice, after it, is sequential.
 * The Shannon bound of a candidate's histogram (no prefix code beats it) prunes, exactly, the
 * candidates that cannot win, so most never run package-merge; the survivors are compared in the
 * original order, so the choice is the one the full search makes. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "encode_internal.h"

/* ---- the statistics pass ---- */

static uw_status push_rare(stats17 *st, uint64_t index, uint32_t off, uint32_t tc) {
    if (st->nrare == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        rare_at *nr = realloc(st->rare, st->cap * sizeof *nr);
        if (!nr) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
        st->rare = nr;
    }
    st->rare[st->nrare++] = (rare_at){index, off, tc};
    return UW_OK;
}

/* four striped u32 copies of the pair counts (codec_isa.h) added into 64-bit ones */
static void fold(uint32_t *h, uint64_t *h2) {
    for (int a = 0; a < NS17 * NS17; a++) h2[a] += (uint64_t)h[a] + h[289 + a] + h[578 + a] + h[867 + a];
    memset(h, 0, 4 * 289 * sizeof *h);
}

/* Block st's rare elements: for each verbatim chunk length e->vc[v] (ascending, nested: powers of
 * two from the same column), the pairs of every chunk holding one, added to worker w's sums. Each
 * largest chunk holding one has its pairs' symbols looked up once. Chunks lie within a row, so
 * blocks of rows add up to the whole. */
static void verbatim_walk(enc *e, const stats17 *st, int w) {
    int nc = e->nvc;
    const uint32_t *C = e->vc;
    uint64_t(*g2)[NS17 * NS17] = e->vg2[w], *odd = e->vodd[w], last[MAX_VCHUNK], last_big = UINT64_MAX;
    uint16_t pairs[2048];
    for (int v = 0; v < nc; v++) last[v] = UINT64_MAX;
    uint32_t Cmax = C[nc - 1];
    for (uint64_t q = 0; q < st->nrare; q++) {
        const rare_at *ra = &st->rare[q];
        /* chunk starts, as element indices: the element's own index less its offset in the chunk */
        uint64_t bo = ra->off & ~(uint64_t)(Cmax - 1), bs = ra->i - ra->off + bo, blen = ra->tc - bo < Cmax ? ra->tc - bo : Cmax;
        if (bs != last_big) { /* the pairs of the largest chunk, once */
            last_big = bs;
            e->k->pair_index(e->w + last_big, (uint32_t)blen, e->s17, pairs);
        }
        for (int v = 0; v < nc; v++) {
            uint64_t co = ra->off & ~(uint64_t)(C[v] - 1), cs = ra->i - ra->off + co, len = ra->tc - co < C[v] ? ra->tc - co : C[v];
            if (cs == last[v]) continue;
            last[v] = cs;
            for (uint64_t m = (cs - bs) / 2; m < (cs - bs + len + 1) / 2; m++) g2[v][pairs[m]]++;
            odd[v] += len & 1;
        }
    }
}

static uw_status stat_task(void *ctx, uint64_t i, int worker) {
    enc *e = ctx;
    stats17 *st = &e->st[i];
    uint64_t nb = e->nstat, r0 = e->rows * i / nb, r1 = e->rows * (i + 1) / nb, since = 0;
    uint32_t h[4 * 289], rare[64];
    memset(h, 0, sizeof h);
    for (uint64_t r = r0; r < r1; r++)
        for (uint64_t tj = 0; tj < e->b.tiles_c; tj++) {
            uint64_t c0 = tj * e->b.tile_cols;
            uint32_t tc = (uint32_t)(e->cols - c0 < e->b.tile_cols ? e->cols - c0 : e->b.tile_cols);
            const uint16_t *x = e->w + r * e->cols + c0;
            uint32_t nr = e->k->pair_stats(x, tc, e->s17, h, rare, 64);
            if (nr > 64) { /* more than the kernel kept: find them all again */
                for (uint32_t k = 0; k < tc; k++)
                    if (e->s17[uw_bf16_exp(x[k])] == 16) UW_FORWARD_IF_ERROR(push_rare(st, r * e->cols + c0 + k, k, tc));
            } else {
                for (uint32_t q = 0; q < nr; q++) UW_FORWARD_IF_ERROR(push_rare(st, r * e->cols + c0 + rare[q], rare[q], tc));
            }
            if ((since += tc) >= ((uint64_t)1 << 31)) fold(h, st->h2), since = 0; /* before a u32 can overflow */
        }
    fold(h, st->h2);
    if (e->nvc && st->nrare) verbatim_walk(e, st, worker);
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
/* log2 for the bounds, without a libm call per count (there are thousands per tensor): x =
 * 2^e * (1 + i/256) * r, the middle factor from a table, log2 r from three terms of its series
 * (r - 1 < 1/256: error under 1e-12). */
static double log2_tab[257];
static pthread_once_t log2_once = PTHREAD_ONCE_INIT;
static void log2_init(void) {
    for (int i = 0; i <= 256; i++) log2_tab[i] = log2(1.0 + i / 256.0);
}
static inline double fast_log2(uint64_t x) { /* x >= 1 */
    int e = 63 - __builtin_clzll(x);
    double m = (double)x / (double)((uint64_t)1 << e); /* [1, 2) */
    int i = (int)((m - 1.0) * 256.0);
    double u = m / (1.0 + i / 256.0) - 1.0;
    return e + log2_tab[i] + (u - u * u / 2 + u * u * u / 3) * 1.4426950408889634;
}

static uint64_t shannon_floor(const uint64_t *h, int a) {
    pthread_once(&log2_once, log2_init);
    uint64_t tot = 0;
    for (int k = 0; k < a; k++) tot += h[k];
    if (!tot) return 0;
    /* sum h log2(tot / h) = tot log2 tot - sum h log2 h */
    double b = (double)tot * fast_log2(tot);
    for (int k = 0; k < a; k++)
        if (h[k] > 1) b -= (double)h[k] * fast_log2(h[k]);
    /* room for the rounding of the doubles and of the logarithms (1e-12 each, times tot) */
    b = b - b * 1e-9 - (double)tot * 1e-9 - 2;
    return b > 0 ? (uint64_t)b : 0;
}

/* The least Shannon bound of any histogram below h (a entries, sorted ascending) with `remove`
 * counts fewer: the one without h's smallest counts (it majorizes every other, and the bound is
 * Schur-concave). A verbatim candidate's clean pairs are the clean statistics less the `remove`
 * clean pairs its verbatim chunks hold, so this bounds its code without reading those chunks. */
static uint64_t shannon_floor_less(const uint64_t *sorted, int a, uint64_t remove) {
    uint64_t v[256];
    memcpy(v, sorted, (size_t)a * sizeof *v);
    for (int k = 0; k < a && remove; k++) {
        uint64_t t = v[k] < remove ? v[k] : remove;
        v[k] -= t, remove -= t;
    }
    return shannon_floor(v, a);
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

/* Verbatim chunks of each length C[v] (one of e->vc): the statistics without every chunk that
 * holds a rare element, from the statistics pass's per-worker sums of those chunks' pairs. */
static void verbatim_stats(const enc *e, const uint64_t *tot1, const uint64_t *tot2, const uint32_t *C, int nc, uint64_t (*h1)[16],
                           uint64_t (*h2)[256]) {
    for (int v = 0; v < nc; v++) {
        int j = 0;
        while (j < e->nvc - 1 && e->vc[j] != C[v]) j++;
        uint64_t g2[NS17 * NS17] = {0}, odd = 0;
        for (int w = 0; w < e->threads; w++) {
            for (int a = 0; a < NS17 * NS17; a++) g2[a] += e->vg2[w][j][a];
            odd += e->vodd[w][j];
        }
        /* the elements of those chunks: both symbols of each pair, but the padding of an odd
         * chunk's last pair (symbol 0) is no element */
        uint64_t g1[NS17] = {0};
        for (int a = 0; a < NS17; a++)
            for (int b = 0; b < NS17; b++) g1[a] += g2[a * NS17 + b], g1[b] += g2[a * NS17 + b];
        g1[0] -= odd;
        for (int a = 0; a < 16; a++) {
            h1[v][a] = tot1[a] - g1[a];
            for (int b = 0; b < 16; b++) h2[v][a * 16 + b] = tot2[a * NS17 + b] - g2[a * NS17 + b];
        }
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
    for (uint64_t blk = 0; blk < e->nstat; blk++)
        for (uint64_t q = 0; q < e->st[blk].nrare; q++) {
            const rare_at *ra = &e->st[blk].rare[q];
            uint64_t co = ra->off & ~(uint64_t)(C - 1), key = ra->i - ra->off + co, len = ra->tc - co < C ? ra->tc - co : C;
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
    uint64_t collateral; /* verbatim: clean symbols (pairs or singles) inside its verbatim chunks */
    uint64_t h1[16], h2[256];
    uint32_t ns;
} plan;

#define MAX_PLANS 16

/* The exact statistics of every verbatim candidate whose bound is not above `upper` (from the
 * statistics pass's sums), and their exact Shannon bounds. */
static uw_status verbatim_all(const enc *e, plan *pl, int np, const uint64_t *tot1, const uint64_t *tot2, uint64_t upper) {
    uint32_t vc[8];
    int nv = 0;
    for (int i = 0; i < np; i++)
        if (pl[i].mode == UW_RARE_VERBATIM && pl[i].lb <= upper && (!nv || vc[nv - 1] != pl[i].chunk)) vc[nv++] = pl[i].chunk;
    if (!nv) return UW_OK;
    uint64_t(*v1)[16] = calloc((size_t)nv, sizeof *v1);
    uint64_t(*v2)[256] = calloc((size_t)nv, sizeof *v2);
    uw_status s = UW_OK;
    if (v1 && v2) verbatim_stats(e, tot1, tot2, vc, nv, v1, v2);
    else s = uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    for (int i = 0; i < np && s == UW_OK; i++)
        for (int v = 0; v < nv; v++)
            if (pl[i].mode == UW_RARE_VERBATIM && pl[i].chunk == vc[v]) {
                plan *q = &pl[i];
                memcpy(q->h1, v1[v], sizeof q->h1);
                memcpy(q->h2, v2[v], sizeof q->h2);
                q->exact_stats = 1;
                int a = q->order == 2 ? 256 : 16;
                q->lb = shannon_floor(q->order == 2 ? q->h2 : q->h1, a) + q->fixed + (uint64_t)((a + 1) / 2) * 8;
            }
    free(v1);
    free(v2);
    return s;
}

uw_status uw_enc_stats(enc *e, const uw_encode_params *p) {
    UW_RETURN_ERROR_IF(p->rare_mode == UW_RARE_NONE && e->distinct > 16, UW_ERR_INVALID_ARG,
                       "encoder: rare_mode NONE but the tensor has %d distinct exponents (> 16)", e->distinct);
    /* row blocks of about 64K elements (the rare positions come out in order either way) */
    e->nstat = e->n / 65536 < e->rows ? e->n / 65536 : e->rows;
    if (e->nstat < 1) e->nstat = 1;
    e->st = calloc(e->nstat, sizeof *e->st);
    if (!e->st) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    /* verbatim candidates' chunk statistics are gathered here, on all threads, rather than in
     * the choice of code, which is sequential */
    e->nvc = 0;
    if (e->distinct > 16 && (p->rare_mode == UW_RARE_AUTO || p->rare_mode == UW_RARE_VERBATIM)) {
        static const uint32_t chunks[MAX_VCHUNK] = {16, 32, 64, 128, 256};
        if (p->chunk_len) e->vc[e->nvc++] = p->chunk_len;
        else
            for (int v = 0; v < MAX_VCHUNK; v++) e->vc[e->nvc++] = chunks[v];
        e->vg2 = calloc((size_t)e->threads, sizeof *e->vg2);
        e->vodd = calloc((size_t)e->threads, sizeof *e->vodd);
        if (!e->vg2 || !e->vodd) return uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    }
    return uw_parallel_for(e->nstat, e->threads, stat_task, e);
}

uw_status uw_enc_choose_code(enc *e, const uw_encode_params *p) {
    uw_blob *b = &e->b;
    int want = p->rare_mode;
    uint64_t rb = e->nstat;
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
        uint64_t rare2 = 0; /* pairs holding symbol 16 */
        for (int a = 0; a < NS17; a++) rare2 += tot2[a * NS17 + 16] + (a < 16 ? tot2[16 * NS17 + a] : 0);
        if (want == UW_RARE_AUTO || want == UW_RARE_VERBATIM) {
            for (int k = 0; k < e->nvc; k++) { /* the chunk lengths uw_enc_stats gathered for */
                uint32_t C = e->vc[k];
                uint64_t ch, vch, vel, vpr;
                verbatim_count(e, C, &ch, &vch, &vel, &vpr);
                for (int order = 1; order <= 2; order++) {
                    if (want_order && order != want_order) continue;
                    plan *q = &pl[np++];
                    q->mode = UW_RARE_VERBATIM, q->order = order, q->chunk = C, q->ns = 16;
                    q->fixed = ch + 8 * vel, q->rare = vel;
                    /* every pair (element) holding a rare symbol is in a verbatim chunk */
                    q->collateral = order == 2 ? vpr - rare2 : vel - tot1[16];
                }
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
    /* Bounds: exact statistics' Shannon bound, or for verbatim candidates (statistics not read
     * yet) the bound of the clean statistics less their collateral. */
    uint64_t clean1[16], clean2[256];
    for (int a = 0; a < 16; a++) {
        clean1[a] = tot1[a];
        for (int c2 = 0; c2 < 16; c2++) clean2[a * 16 + c2] = tot2[a * NS17 + c2];
    }
    uw_sort_u64(clean1, 16); /* (the bounds want them sorted) */
    uw_sort_u64(clean2, 256);
    int first = -1;
    for (int i = 0; i < np; i++) {
        plan *q = &pl[i];
        int a = q->order == 2 ? (int)(q->ns * q->ns) : (int)q->ns;
        uint64_t table = (uint64_t)((a + 1) / 2) * 8;
        if (q->exact_stats) q->lb = shannon_floor(q->order == 2 ? q->h2 : q->h1, a) + q->fixed + table;
        else q->lb = shannon_floor_less(q->order == 2 ? clean2 : clean1, a, q->collateral) + q->fixed + table;
        if (q->exact_stats && (first < 0 || q->lb < pl[first].lb)) first = i;
    }
    /* An upper bound: the exact-statistics candidate of least bound, priced (without one: every
     * verbatim candidate's statistics, then the least bound). Then, in the search's order, every
     * candidate that might cost less or as little (the first of equal sizes wins); a verbatim
     * one's exact statistics are summed only if its bound lets it through. */
    uw_status s = UW_OK;
    cand *best = calloc(3, sizeof *best), *c = best + 1, *firstc = best + 2;
    if (!best) s = uw_error_set(UW_ERR_NOMEM, "encoder: out of memory");
    else best->bits = UINT64_MAX;
    uint64_t upper = UINT64_MAX;
    int stats_done = 0;
    for (int i = -1; i < np && s == UW_OK; i++) {
        if (i < 0 && first < 0) continue;
        plan *q = &pl[i < 0 ? first : i];
        if (i >= 0 && q->lb > upper) continue; /* it cannot cost as little as the upper bound */
        if (i >= 0 && i == first) {
            if (firstc->bits < best->bits) *best = *firstc;
            continue;
        }
        if (!q->exact_stats) {
            if (!stats_done) s = verbatim_all(e, pl, np, tot1, tot2, upper);
            stats_done = 1;
            if (s != UW_OK) break;
            if (q->lb > upper) continue;
        }
        s = price(q->order == 2 ? q->h2 : q->h1, q->ns, q->order, q->fixed, c);
        if (s != UW_OK) break;
        c->mode = q->mode, c->order = q->order, c->chunk = q->chunk, c->rare = q->rare;
        if (i < 0) {
            upper = c->bits;
            *firstc = *c;
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
