/* decode_fast.c - the fast CPU decoder. The lanes of a range of tiles run through a pool of
 * four slots: the hot loop advances all four lanes per iteration (independent dependency chains
 * the CPU overlaps), each lane taking up to 8 exponents from one 64-bit window read (two
 * multi-code table entries); a slot whose lane is done takes the next lane, of this tile or the
 * next, so no lane waits for a longer one. Escapes, chunk and run tails, verbatim chunks and lane
 * ends go through exact single-code steps with every check of FORMAT.md section 7, so it accepts
 * and rejects exactly what the reference decoder does. A finished lane's rows meet their plane
 * bytes through the SIMD merge of the selected level (codec_isa.h). Tables: once per blob. */
#include <stdlib.h>

#include "codec_isa.h"
#include "decode.h"
#include "decode_errors.h"
#include "decode_table.h"

/* Multi-code entry m[w] of a 12-bit window w (the hot loop's table):
 *   bits 0-5   bits consumed (every whole code in the window, up to 4 exponents; 0 at an escape)
 *   bits 8-39  the exponents, first in the low byte
 *   bit  40    the window starts with a code holding an escape (the entry yields nothing: an
 *              exact step takes it)
 *   bits 44-49 (inline-escape tables) code length of that first code; bits 50-51 which of its
 *              exponents are escaped (1: the first, 2: the second)
 *   bits 58-60 exponents it yields, 0..4
 * The shift count sits in the low bits with nothing above it up to bit 5, so `v >> (e & 63)`
 * is one instruction; and the sum of two or four entries holds, unmixed, the sum of their bit
 * counts in bits 0-5 and of their exponent counts from bit 58 (no field below carries that far):
 * one addition updates both cursors of a lane. */
#define M_BITS(e) ((uint32_t)(e)&63u)
#define M_ESC ((uint64_t)1 << 40)
#define M_CNT(e) ((uint32_t)((e) >> 58))

struct uw_fast_tab {
    uint64_t m[1 << UW_DT_MAX_BITS];
    uint32_t d[1 << UW_DT_MAX_BITS]; /* the shared decode table, replicated to 12-bit windows */
    int inline_esc;                  /* m resolves escapes in the hot loop (escape-heavy blobs) */
    uint32_t wmask;                  /* m covers windows of 12 bits, or 10 for small tensors */
    const uw_codec_kern *k;
};

/* Tensors under this many elements index m by 10-bit windows (a quarter of the table to build,
 * which costs as much as decoding a tensor of ~16K elements); a window whose first code is longer
 * is stepped exactly, like an escape. */
#define SMALL_ELEMS ((uint64_t)1 << 18)
#define SMALL_BITS 10

/* Blobs whose codes hold an escape this often (by the code's implied probability, 2^-length per
 * code) decode faster with escapes resolved in the hot loop than by leaving it at each. */
#define INLINE_ESC_RATE 0.01

static void tab_build(const uw_blob *b, uw_fast_tab *ft) {
    uint32_t ne = uw_dtab_entries(b), step = b->order == 2 ? 2 : 1;
    uw_dtab_build(b, ft->d);
    for (uint32_t w = ne; w < (1u << UW_DT_MAX_BITS); w *= 2) memcpy(ft->d + w, ft->d, w * sizeof *ft->d); /* windows wider than the code */
    ft->inline_esc = uw_dtab_escapes(b) >= INLINE_ESC_RATE * ne;
    uint32_t wbits = b->n < SMALL_ELEMS && !ft->inline_esc ? SMALL_BITS : UW_DT_MAX_BITS, nw = 1u << wbits;
    ft->wmask = nw - 1;
    /* one code per window first (s1), in the multi-code layout */
    uint64_t s1[1 << UW_DT_MAX_BITS];
    for (uint32_t i = 0; i < nw; i++) {
        uint32_t d = ft->d[i], l = uw_dt_len(d), ea = uw_dt_esc_a(d), eb = step == 2 && uw_dt_esc_b(d);
        uint64_t x = uw_dt_exp_a(d) | (uint64_t)(step == 2 ? uw_dt_exp_b(d) : 0) << 8;
        if (l > wbits) {
            s1[i] = M_ESC; /* a code longer than the window: an exact step takes it */
        } else if (!ea && !eb) {
            s1[i] = l | x << 8 | (uint64_t)step << 58;
        } else if (ft->inline_esc) { /* the code alone, its raw bytes counted in its bits */
            x &= (ea ? ~(uint64_t)0xFF : ~(uint64_t)0) & (eb ? ~(uint64_t)0xFF00 : ~(uint64_t)0);
            s1[i] = (l + 8 * (ea + eb)) | x << 8 | M_ESC | (uint64_t)l << 44 | (uint64_t)(ea | eb << 1) << 50 | (uint64_t)step << 58;
        } else {
            s1[i] = M_ESC; /* nothing: an exact step takes it */
        }
    }
    /* then every whole code that follows in the window, up to 4 exponents, stopping at an escape
     * (without branches: whether a code fits is data, and mispredicted branches cost more than
     * building the table otherwise does) */
    int more = step == 2 ? 1 : 3;
    for (uint32_t i = 0; i < nw; i++) {
        uint64_t e = s1[i], go = !(e & M_ESC);
        for (int k = 0; k < more; k++) {
            uint32_t pos = M_BITS(e), cnt = M_CNT(e);
            uint64_t f = s1[i >> pos];
            go &= !(f & M_ESC) & (pos + M_BITS(f) <= wbits);
            uint64_t g = (pos + M_BITS(f)) | ((e >> 8 & 0xFFFFFFFF) | (f >> 8 & 0xFFFF) << (8 * cnt)) << 8 | (uint64_t)(cnt + step) << 58;
            e = go ? g : e;
        }
        ft->m[i] = e;
    }
}

uw_status uw_fast_tab_new(const uw_blob *b, uw_fast_tab **out) {
    *out = NULL;
    if (b->codec != UW_CODEC_HUFFMAN) return UW_OK;
    const uw_codec_kern *k;
    UW_FORWARD_IF_ERROR(uw_codec_kern_get(&k));
    uw_fast_tab *ft = aligned_alloc(64, uw_align_up(sizeof *ft, 64)); /* C11: a multiple of the alignment */
    UW_RETURN_ERROR_IF(!ft, UW_ERR_NOMEM, "decoder: out of memory");
    tab_build(b, ft);
    ft->k = k;
    *out = ft;
    return UW_OK;
}

void uw_fast_tab_free(uw_fast_tab *ft) { free(ft); }

/* ---- the lane pool ---- */

#define G 4          /* slots: lanes in flight */
#define MAX_BLOCK 4096 /* hot-loop iterations between slot checks, at most */

typedef struct slot {
    uint64_t pos, end;          /* next bit; the lane's end bit */
    uint8_t *o;                 /* next exponent of the lane (the slot's buffer holds the lane's rows) */
    uint8_t *run_end, *lane_end, *buf;
    uint64_t t;                 /* tile and lane, for the merge and messages */
    uint32_t j, ra, rz, tc;
    int flat;                   /* the lane is one run: no verbatim flags, no padded pairs */
    uint64_t r0, c0;
} slot;

typedef struct pool {
    const uw_blob *b;
    const uw_fast_tab *ft;
    const uint8_t *s;           /* the exponent stream */
    uint64_t avail;             /* readable bytes from s to the end of the blob */
    uint64_t safe_bits;         /* an 8-byte load at any bit position up to this is inside the blob */
    const uint8_t *plane;
    uint16_t *out;              /* tile t's element (r0, c0) goes to out[(r0 - row0) * ld + c0 - col0] */
    uint64_t row0, col0, ld;
    uint64_t t, t_end;          /* the next lane to start: lane j of tile t */
    uint32_t j;
    uint32_t chunk;             /* verbatim chunk length (0: whole rows are the runs) */
    slot sl[G];
    int n;                      /* active slots sl[0..n) */
} pool;

static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* 64 stream bits from bit `pos` on (zeros past the blob) */
static inline uint64_t peek(const pool *P, uint64_t pos) {
    uint64_t byte = pos >> 3;
    if (byte + 8 <= P->avail) return ld64(P->s + byte) >> (pos & 7);
    uint64_t v = 0;
    for (uint64_t k = 0; k < 8 && byte + k < P->avail; k++) v |= (uint64_t)P->s[byte + k] << (8 * k);
    return v >> (pos & 7);
}

#define BAD_LANE(bits, sl) return uw_derr_status((bits), "blob: tile %llu lane %u", (unsigned long long)(sl)->t, (unsigned)(sl)->j)

/* One code exactly (escapes, the padded pair at an odd run's end); the run has room left. */
static inline uw_status exact_one(const pool *P, slot *x) {
    const uw_blob *b = P->b;
    uint64_t v = peek(P, x->pos);
    uint32_t d = P->ft->d[v & 0xFFF], l = uw_dt_len(d);
    uint32_t xa = uw_dt_exp_a(d);
    if (uw_dt_esc_a(d)) {
        xa = (uint8_t)(v >> l);
        l += 8;
    }
    *x->o++ = (uint8_t)xa;
    if (b->order == 2) {
        if (x->o < x->run_end) {
            uint32_t xb = uw_dt_exp_b(d);
            if (uw_dt_esc_b(d)) {
                xb = (uint8_t)(v >> l);
                l += 8;
            }
            *x->o++ = (uint8_t)xb;
        } else if (uw_dt_b(d) != 0) { /* the padding symbol (FORMAT.md 6, step 2): index 0 */
            if (x->pos + l > x->end) BAD_LANE(UW_DERR_OVERRUN, x); /* the reference reads past the end first */
            BAD_LANE(UW_DERR_PAD_SYM, x);
        }
    }
    x->pos += l;
    return UW_OK;
}

/* Exponents of the lane's rows meet their plane bytes. */
static void lane_merge(const pool *P, const slot *x) {
    const uw_blob *b = P->b;
    for (uint32_t r = x->ra; r < x->rz; r++)
        P->ft->k->merge(P->out + (x->r0 + r - P->row0) * P->ld + (x->c0 - P->col0), P->plane + (x->r0 + r) * b->cols + x->c0,
                        x->buf + (size_t)(r - x->ra) * x->tc, x->tc);
}

/* The lane ends where the index says (FORMAT.md 7, rule 8). */
static uw_status lane_done(const pool *P, slot *x) {
    if (x->j + 1 < P->b->lanes) {
        if (x->pos != x->end)
            return uw_derr_status(UW_DERR_LANE_END, "blob: tile %llu lane %u (ends at bit %llu, the index says %llu)",
                                  (unsigned long long)x->t, x->j, (unsigned long long)x->pos, (unsigned long long)x->end);
    } else {
        if (x->end - x->pos >= 8)
            return uw_derr_status(UW_DERR_TILE_PAD, "blob: tile %llu (%llu unused bits after its last lane)", (unsigned long long)x->t,
                                  (unsigned long long)(x->end - x->pos));
        if (x->end > x->pos && (peek(P, x->pos) & (((uint64_t)1 << (x->end - x->pos)) - 1)))
            return uw_derr_status(UW_DERR_TILE_PAD, "blob: tile %llu (nonzero padding bits)", (unsigned long long)x->t);
    }
    lane_merge(P, x);
    return UW_OK;
}

/* Bring a slot to where the hot loop may run it: a run with 8+ exponents left and loads inside
 * the blob. Finishes runs (exact steps), verbatim chunks and the lane itself on the way; *done
 * = 1 when the lane is complete (merged, checked). */
static uw_status settle(const pool *P, slot *x, int *done) {
    const uw_blob *b = P->b;
    *done = 0;
    for (;;) {
        if (x->o == x->run_end) {
            if (x->pos > x->end) BAD_LANE(UW_DERR_OVERRUN, x);
            if (x->o == x->lane_end) {
                *done = 1;
                return lane_done(P, x);
            }
            if (x->flat) {
                x->run_end = x->lane_end;
            } else {
                uint32_t k = (uint32_t)((size_t)(x->o - x->buf) % x->tc), len = x->tc - k;
                if (P->chunk && P->chunk < len) len = P->chunk;
                x->run_end = x->o + len;
                if (b->rare_mode == UW_RARE_VERBATIM && (peek(P, x->pos++) & 1)) {
                    for (; x->o < x->run_end; x->pos += 8) *x->o++ = (uint8_t)peek(P, x->pos);
                    continue;
                }
            }
        }
        if (x->run_end - x->o >= 8 && x->pos <= P->safe_bits) return UW_OK;
        /* a run's last codes, or a lane at the very end of the blob: exact steps to the run's end */
        while (x->o < x->run_end) UW_FORWARD_IF_ERROR(exact_one(P, x));
    }
}

/* Start the next lane of the queue in x; 0 when the queue is empty. */
static int next_lane(pool *P, slot *x, uint8_t *buf) {
    const uw_blob *b = P->b;
    if (P->t >= P->t_end) return 0;
    uint32_t tr;
    x->t = P->t;
    x->j = P->j;
    uw_tile_rect(b, x->t, &x->r0, &tr, &x->c0, &x->tc);
    uw_lane_bits(b, x->t, x->j, &x->pos, &x->end);
    x->ra = uw_lane_row_begin(tr, b->lanes, x->j);
    x->rz = uw_lane_row_begin(tr, b->lanes, x->j + 1);
    x->buf = x->o = x->run_end = buf;
    x->lane_end = buf + (size_t)(x->rz - x->ra) * x->tc;
    /* the plane rows its merge will read: fetched while the lane decodes */
    for (uint32_t r = x->ra; r < x->rz; r++) {
        const uint8_t *pr = P->plane + (x->r0 + r) * b->cols + x->c0;
        for (uint32_t c = 0; c < x->tc; c += 64) __builtin_prefetch(pr + c, 0, 2);
    }
    /* runs: chunks in verbatim mode; rows when an odd row ends in a padded pair; else the lane */
    x->flat = b->rare_mode != UW_RARE_VERBATIM && (b->order == 1 || x->tc % 2 == 0);
    if (++P->j == b->lanes) {
        P->j = 0;
        P->t++;
    }
    return 1;
}

/* Fill slot i from the queue until it holds a lane ready for the hot loop; when the queue runs
 * dry the slot is dropped (the last active slot moves into its place). */
static uw_status refill(pool *P, int i) {
    for (;;) {
        int done;
        UW_FORWARD_IF_ERROR(settle(P, &P->sl[i], &done));
        if (!done) return UW_OK;
        if (!next_lane(P, &P->sl[i], P->sl[i].buf)) {
            P->sl[i] = P->sl[--P->n]; /* its buffer goes with it */
            return UW_OK;
        }
    }
}

/* Exponents every slot has left in its run (capped), and window reads every slot can take with
 * its loads inside the blob (a read and its lookups span at most 48 bits: four codes of 12, or an
 * escape's 12 + 16 and a code). */
static inline void block_len(const pool *P, int n, uint64_t *rem, uint64_t *reads) {
    *rem = *reads = MAX_BLOCK;
    for (int i = 0; i < n; i++) {
        const slot *x = &P->sl[i];
        uint64_t a = (uint64_t)(x->run_end - x->o), c = (P->safe_bits - x->pos) / 48 + 1;
        if (a < *rem) *rem = a;
        if (c < *reads) *reads = c;
    }
}

/* One lane's step: a 64-bit window at p (57+ valid bits), two table entries, up to 8 exponents
 * stored (4 bytes each; the second store overwrites the first's unused bytes). An escape entry
 * yields nothing and consumes nothing: `esc` tells the caller to step it exactly. */
#define HOT2(p, o)                                                                                  \
    {                                                                                               \
        uint64_t v_ = ld64(s + (p >> 3)) >> (p & 7);                                                \
        uint64_t a_ = M[v_ & wm], c_ = M[(v_ >> M_BITS(a_)) & wm];                                  \
        esc |= a_;                                                                                  \
        uint32_t x_ = (uint32_t)(a_ >> 8), y_ = (uint32_t)(c_ >> 8);                                \
        memcpy(o, &x_, 4);                                                                          \
        memcpy(o + M_CNT(a_), &y_, 4);                                                              \
        uint64_t s_ = a_ + c_;                                                                      \
        p += M_BITS(s_);                                                                            \
        o += M_CNT(s_);                                                                             \
    }

/* Four entries from one window read (up to 36 bits consumed before the fourth lookup's 12): up to
 * 16 exponents. An escape stops the lane at it: every later lookup of the step sees the same
 * window, so the last entry is then the escape entry. */
#define HOT4(p, o)                                                                                  \
    {                                                                                               \
        uint64_t v_ = ld64(s + (p >> 3)) >> (p & 7);                                                \
        uint64_t a_ = M[v_ & wm];                                                                   \
        v_ >>= M_BITS(a_);                                                                          \
        uint64_t c_ = M[v_ & wm];                                                                   \
        v_ >>= M_BITS(c_);                                                                          \
        uint64_t e_ = M[v_ & wm];                                                                   \
        v_ >>= M_BITS(e_);                                                                          \
        uint64_t f_ = M[v_ & wm];                                                                   \
        esc |= f_;                                                                                  \
        uint64_t s1_ = a_ + c_, s2_ = s1_ + e_, s_ = s2_ + f_;                                     \
        uint32_t xa_ = (uint32_t)(a_ >> 8), xc_ = (uint32_t)(c_ >> 8), xe_ = (uint32_t)(e_ >> 8);  \
        uint32_t xf_ = (uint32_t)(f_ >> 8);                                                         \
        memcpy(o, &xa_, 4);                                                                         \
        memcpy(o + M_CNT(a_), &xc_, 4);                                                             \
        memcpy(o + M_CNT(s1_), &xe_, 4);                                                            \
        memcpy(o + M_CNT(s2_), &xf_, 4);                                                            \
        p += M_BITS(s_);                                                                            \
        o += M_CNT(s_);                                                                             \
    }

/* HOT2 with the escapes of the first entry resolved in place (escape-heavy blobs): its raw bytes
 * r follow its code (bits 44-49 hold the code's length, 50-51 which exponents are raw: ESC_PUT[w]
 * says which bits of r go where); a second entry that starts with an escape is dropped (the next
 * step takes it first). */
static const uint32_t ESC_PUT[4] = {0, 0xFF, 0xFF | 8u << 16, 0xFFFF}; /* mask of r | shift << 16 */
#define HOT2_ESC(p, o)                                                                              \
    {                                                                                               \
        uint64_t v_ = ld64(s + (p >> 3)) >> (p & 7);                                                \
        uint64_t a_ = M[v_ & wm], c_ = M[(v_ >> M_BITS(a_)) & wm];                                  \
        c_ = c_ & M_ESC ? 0 : c_;                                                                   \
        uint32_t r_ = (uint32_t)(v_ >> ((a_ >> 44) & 63)), e_ = ESC_PUT[(a_ >> 50) & 3];           \
        uint32_t x_ = (uint32_t)(a_ >> 8) | (r_ & e_ & 0xFFFF) << (e_ >> 16);                      \
        uint32_t y_ = (uint32_t)(c_ >> 8);                                                          \
        memcpy(o, &x_, 4);                                                                          \
        memcpy(o + M_CNT(a_), &y_, 4);                                                              \
        uint64_t s_ = a_ + c_;                                                                      \
        p += M_BITS(s_);                                                                            \
        o += M_CNT(s_);                                                                             \
    }

/* Run the pool until every lane of the queue is done. Blocks of steps that every slot can take
 * without a check (16 exponents per four-lookup step, 8 per two-lookup step, loads inside the
 * blob) alternate with the slots' upkeep: escapes stepped exactly, runs finished, lanes ended
 * and replaced. */
static uw_status pool_run(pool *P) {
    const uint64_t *M = P->ft->m;
    const uint8_t *s = P->s;
    const int inl = P->ft->inline_esc;
    const uint64_t wm = P->ft->wmask;
    while (P->n > 0) {
        int n = P->n;
        uint64_t rem, reads, esc = 0;
        block_len(P, n, &rem, &reads);
        if (n == G) {
            uint64_t p0 = P->sl[0].pos, p1 = P->sl[1].pos, p2 = P->sl[2].pos, p3 = P->sl[3].pos;
            uint8_t *o0 = P->sl[0].o, *o1 = P->sl[1].o, *o2 = P->sl[2].o, *o3 = P->sl[3].o;
            if (inl) {
                for (uint64_t i = rem / 8 < reads ? rem / 8 : reads; i > 0; i--) {
                    HOT2_ESC(p0, o0) HOT2_ESC(p1, o1) HOT2_ESC(p2, o2) HOT2_ESC(p3, o3)
                }
            } else if (rem >= 16) {
                for (uint64_t i = rem / 16 < reads ? rem / 16 : reads; i > 0; i--) {
                    HOT4(p0, o0) HOT4(p1, o1) HOT4(p2, o2) HOT4(p3, o3)
                    if (esc & M_ESC) break;
                }
            } else {
                HOT2(p0, o0) HOT2(p1, o1) HOT2(p2, o2) HOT2(p3, o3)
            }
            P->sl[0].pos = p0, P->sl[1].pos = p1, P->sl[2].pos = p2, P->sl[3].pos = p3;
            P->sl[0].o = o0, P->sl[1].o = o1, P->sl[2].o = o2, P->sl[3].o = o3;
        } else {
            for (int k = 0; k < n; k++) {
                uint64_t p0 = P->sl[k].pos;
                uint8_t *o0 = P->sl[k].o;
                esc = 0;
                if (inl) {
                    for (uint64_t i = rem / 8 < reads ? rem / 8 : reads; i > 0; i--) HOT2_ESC(p0, o0)
                } else if (rem >= 16) {
                    for (uint64_t i = rem / 16 < reads ? rem / 16 : reads; i > 0 && !(esc & M_ESC); i--) HOT4(p0, o0)
                } else {
                    HOT2(p0, o0)
                }
                P->sl[k].pos = p0, P->sl[k].o = o0;
            }
        }
        /* every slot: past an escape by one exact step, then ready again (or the next lane) */
        for (int k = P->n - 1; k >= 0; k--) {
            slot *x = &P->sl[k];
            /* a window that yields nothing (an escape, a code longer than the window) */
            if (x->o < x->run_end && !M_CNT(M[peek(P, x->pos) & wm])) UW_FORWARD_IF_ERROR(exact_one(P, x));
            UW_FORWARD_IF_ERROR(refill(P, k));
        }
    }
    return UW_OK;
}

/* Decode tiles [t0, t1) into out: tile t's element (r0, c0) at out[(r0 - row0) * ld + c0 - col0]. */
static uw_status decode_tiles(const uw_blob *b, const uw_fast_tab *ft, uint64_t t0, uint64_t t1, uint16_t *out, uint64_t row0,
                              uint64_t col0, uint64_t ld) {
    pool P;
    memset(&P, 0, sizeof P);
    P.b = b;
    P.ft = ft;
    P.s = b->base + b->off_stream;
    P.avail = b->total - b->off_stream;
    P.safe_bits = P.avail >= 8 ? (P.avail - 8) * 8 : 0;
    P.plane = b->base + b->off_plane;
    P.out = out;
    P.row0 = row0;
    P.col0 = col0;
    P.ld = ld;
    P.t = t0;
    P.t_end = t1;
    P.chunk = b->chunk;
    /* a slot's buffer holds one lane's exponents (the hot loop never writes past its run) */
    size_t cap = (size_t)((b->tile_rows + b->lanes - 1) / b->lanes) * b->tile_cols;
    uint8_t *scratch = malloc(cap * G);
    if (!scratch) return uw_error_set(UW_ERR_NOMEM, "decoder: out of memory");
    uw_status s = UW_OK;
    for (int i = 0; i < G && s == UW_OK; i++) {
        int k = P.n;
        if (!next_lane(&P, &P.sl[k], scratch + cap * (size_t)i)) break;
        P.n++;
        s = refill(&P, k);
    }
    if (s == UW_OK) s = pool_run(&P);
    free(scratch);
    return s;
}

uw_status uw_codec_decode_tile_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t, uint16_t *dst, uint64_t ld) {
    if (b->codec == UW_CODEC_PALETTE) return uw_codec_decode_tile_ref(b, t, dst, ld);
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    return decode_tiles(b, ft, t, t + 1, dst, r0, c0, ld);
}

uw_status uw_codec_decode_tiles_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t0, uint64_t t1, uint16_t *out, uint64_t row0,
                                     uint64_t ld) {
    if (b->codec == UW_CODEC_PALETTE) {
        for (uint64_t t = t0; t < t1; t++) {
            uint64_t r0, c0;
            uint32_t tr, tc;
            uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
            UW_FORWARD_IF_ERROR(uw_codec_decode_tile_ref(b, t, out + (r0 - row0) * ld + c0, ld));
        }
        return UW_OK;
    }
    return decode_tiles(b, ft, t0, t1, out, row0, 0, ld);
}
