/* decode_fast.c - table-driven CPU decoder: one 64-bit window per lookup, an entry yields two
 * exponents (a coded pair, or two short single codes), escapes and chunk tails take a side
 * path. Same acceptance rules as the reference decoder (checked at chunk and lane ends). Its
 * tables are derived from the shared decode table (decode_table.h) once per blob. */
#include <stdlib.h>

#include "decode.h"
#include "decode_errors.h"
#include "decode_table.h"

/* Wide entries, derived from the decode table (decode_steps.h) by fast_tab_derive below; their
 * layout is private to this file. e[]: the shift count sits in the low bits so the hot loop uses
 * it without a mask dance; the two exponents are one 16-bit store. */
#define F_TOT(e) ((e) & 0xF)              /* bits consumed by the whole entry */
#define F_CNT(e) (((e) >> 4) & 3)         /* exponents it yields: 1 or 2 */
#define F_EXP0(e) (((e) >> 8) & 0xFF)
#define F_EXP1(e) (((e) >> 16) & 0xFF)
#define F_LEN1(e) (((e) >> 24) & 0xF)     /* bits of the first symbol alone (order 1) */
#define F_ESC0 (1u << 28)
#define F_ESC1 (1u << 29)
#define F_PADOK (1u << 30) /* order 2: second symbol is index 0 */

#define M_ESC ((uint64_t)1 << 40) /* multi entry: the first code is (or holds) an escape */

/* a lane broke rule `bits` of FORMAT.md section 7 */
#define BAD_LANE(bits, t, j) return uw_derr_status((bits), "blob: tile %llu lane %u", (unsigned long long)(t), (unsigned)(j))

static inline uint32_t mk_entry(uint32_t x0, uint32_t x1, uint32_t tot, uint32_t len1, uint32_t cnt) {
    return tot | (cnt << 4) | (x0 << 8) | (x1 << 16) | (len1 << 24);
}

/* e[] and m[] from the decode table dt (2^maxlen entries), reading it only through its
 * accessors: an entry yields two exponents (a coded pair, or two short single codes) where it
 * can; escapes and chunk tails take the single-code path. */
static void fast_tab_derive(const uw_blob *b, const uint32_t *dt, uw_fast_tab *ft) {
    uint32_t size = 1u << b->maxlen;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t d = dt[i], l = uw_dt_len(d), e;
        if (b->order == 2) {
            e = mk_entry(uw_dt_exp_a(d), uw_dt_exp_b(d), l, l, 2);
            if (uw_dt_esc_a(d)) e |= F_ESC0;
            if (uw_dt_esc_b(d)) e |= F_ESC1;
            if (uw_dt_b(d) == 0) e |= F_PADOK;
        } else {
            e = mk_entry(uw_dt_exp_a(d), 0, l, l, 1);
            if (uw_dt_esc_a(d)) {
                e |= F_ESC0;
            } else if (b->single < 0) {
                uint32_t d2 = dt[i >> l], l2 = uw_dt_len(d2);
                if (l + l2 <= b->maxlen && !uw_dt_esc_a(d2)) e = mk_entry(uw_dt_exp_a(d), uw_dt_exp_a(d2), l + l2, l, 2);
            }
        }
        ft->e[i] = e;
    }
    /* Multi-code entries over a fixed 12-bit window (shorter codes replicate), so the hot loop
     * masks with a constant: exponents in bits 8..39, bits consumed in 0..3, count in 4..6;
     * packing stops before an escape, and an entry that starts with one is flagged. */
    uint32_t lmask = size - 1;
    for (uint32_t i = 0; i < (1u << UW_DT_MAX_BITS); i++) {
        uint32_t pos = 0, cnt = 0, step = b->order == 2 ? 2 : 1;
        uint64_t x = 0, flag = 0;
        while (cnt + step <= 4) {
            uint32_t d = dt[b->single >= 0 ? 0 : (i >> pos) & lmask], l = uw_dt_len(d);
            if (pos + l > UW_DT_MAX_BITS) break;
            if (uw_dt_esc_a(d) || uw_dt_esc_b(d)) {
                if (!cnt) flag = M_ESC;
                break;
            }
            x |= (uint64_t)uw_dt_exp_a(d) << (8 * cnt);
            if (b->order == 2) x |= (uint64_t)uw_dt_exp_b(d) << (8 * (cnt + 1));
            cnt += step;
            pos += l;
        }
        ft->m[i] = pos | ((uint64_t)cnt << 4) | (x << 8) | flag;
    }
}

uw_status uw_fast_tab_new(const uw_blob *b, uw_fast_tab **out) {
    *out = NULL;
    if (b->codec != UW_CODEC_HUFFMAN) return UW_OK;
    uw_fast_tab *ft = malloc(sizeof *ft);
    UW_RETURN_ERROR_IF(!ft, UW_ERR_NOMEM, "decoder: out of memory");
    uint32_t dt[1 << UW_DT_MAX_BITS];
    uw_dtab_build(b, dt);
    fast_tab_derive(b, dt, ft);
    *out = ft;
    return UW_OK;
}

void uw_fast_tab_free(uw_fast_tab *ft) { free(ft); }

typedef struct rd {
    const uint8_t *p;   /* stream base */
    uint64_t avail;     /* readable bytes from p (to the end of the blob) */
} rd;

static inline uint64_t peek(const rd *r, uint64_t pos) {
    uint64_t byte = pos >> 3;
    uint64_t v;
    if (byte + 8 <= r->avail) {
        memcpy(&v, r->p + byte, 8);
    } else {
        v = 0;
        for (uint64_t k = 0; k < 8 && byte + k < r->avail; k++) v |= (uint64_t)r->p[byte + k] << (8 * k);
    }
    return v >> (pos & 7);
}

/* Merge a row run of decoded exponents with its plane bytes (vectorizes). */
__attribute__((noinline)) static void merge_run(uint16_t *o, const uint8_t *pl, const uint8_t *eb, uint32_t n) {
    for (uint32_t k = 0; k < n; k++)
        o[k] = (uint16_t)((((uint16_t)pl[k] & 0x80) << 8) | ((uint16_t)eb[k] << 7) | (pl[k] & 0x7F));
}

static inline uint64_t load_fast(const uint8_t *p, uint64_t pos) {
    uint64_t v;
    memcpy(&v, p + (pos >> 3), 8);
    return v >> (pos & 7);
}

/* Decode one table entry at *pos into eb[*k..] with escapes and the chunk tail handled;
 * returns 0, or -1 for a bad padding symbol. */
static inline int step_one(const uw_blob *b, const uint32_t *T, uint64_t mask, const rd *R, uint64_t *pos, uint8_t *eb,
                           uint32_t *kp, uint32_t len) {
    uint32_t k = *kp;
    uint64_t v = peek(R, *pos);
    uint32_t e = T[v & mask];
    if (!(e & (F_ESC0 | F_ESC1)) && k + F_CNT(e) <= len) {
        eb[k] = (uint8_t)F_EXP0(e);
        if (F_CNT(e) == 2) eb[k + 1] = (uint8_t)F_EXP1(e);
        *pos += F_TOT(e);
        *kp = k + F_CNT(e);
        return 0;
    }
    if (b->order == 1) {
        uint32_t l = F_LEN1(e);
        eb[k] = (e & F_ESC0) ? (uint8_t)(v >> l) : (uint8_t)F_EXP0(e);
        *pos += l + ((e & F_ESC0) ? 8 : 0);
        *kp = k + 1;
        return 0;
    }
    uint32_t l = F_TOT(e);
    uint8_t x0 = (uint8_t)F_EXP0(e), x1 = (uint8_t)F_EXP1(e);
    if (e & F_ESC0) { x0 = (uint8_t)(v >> l); l += 8; }
    if (k + 1 < len) {
        if (e & F_ESC1) { x1 = (uint8_t)(v >> l); l += 8; }
        eb[k + 1] = x1;
    } else if (!(e & F_PADOK)) {
        return -1;
    }
    eb[k] = x0;
    *pos += l;
    *kp = k + 2;
    return 0;
}

/* Decode one chunk's symbols into eb[0..len). Returns the new bit position, or UINT64_MAX for a
 * bad padding symbol. `safe`: every 8-byte load at or before `lim` bits is inside the blob. */
static inline uint64_t decode_run(const uw_blob *b, const uint32_t *T, uint64_t mask, const rd *R, int safe_all, uint64_t pos,
                                  uint8_t *eb, uint32_t len) {
    uint32_t k = 0;
    for (;;) {
        if (safe_all) {
            /* hot loop: no escapes, whole entries */
            while (k + 2 <= len) {
                uint32_t e = T[load_fast(R->p, pos) & mask];
                if (e & (F_ESC0 | F_ESC1)) break;
                uint16_t x2 = (uint16_t)(e >> 8);
                memcpy(eb + k, &x2, 2); /* eb has one byte of slack */
                pos += F_TOT(e);
                k += F_CNT(e);
            }
        }
        if (k >= len) return pos;
        if (step_one(b, T, mask, R, &pos, eb, &k, len)) return UINT64_MAX;
    }
}

/* One row of a lane: chunks (verbatim flag, then symbols) into eb[0..tc), then the merge. */
static inline uint64_t decode_row(const uw_blob *b, const uint32_t *T, uint64_t mask, const rd *R, int safe, uint64_t pos,
                                  uint64_t end, uint32_t tc, uint8_t *eb, uint16_t *o, const uint8_t *pl) {
    uint32_t C = b->chunk ? b->chunk : tc;
    for (uint32_t k0 = 0; k0 < tc; k0 += C) {
        uint32_t len = tc - k0 < C ? tc - k0 : C;
        if (b->rare_mode == UW_RARE_VERBATIM) {
            uint64_t v = peek(R, pos);
            pos++;
            if (v & 1) {
                for (uint32_t k = 0; k < len; k++, pos += 8) eb[k0 + k] = (uint8_t)peek(R, pos);
                if (pos > end) return UINT64_MAX - 1;
                continue;
            }
        }
        pos = decode_run(b, T, mask, R, safe, pos, eb + k0, len);
        if (pos == UINT64_MAX) return pos;
        if (pos > end) return UINT64_MAX - 1;
    }
    merge_run(o, pl, eb, tc);
    return pos;
}

#define G 4 /* lanes decoded in lock-step: independent dependency chains for the CPU to overlap */

/* The lock-step loop must stay in general registers: GCC's vectorizer packs the four bit
 * positions into SSE lanes and the round trips double the latency of each step. */
#if defined(__GNUC__) && !defined(__clang__)
#define UW_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#else
#define UW_NO_VECTORIZE
#endif

typedef struct tile_ctx {
    const uw_blob *b;
    const uint32_t *T;
    const uint64_t *M;
    uint64_t mask, t, r0, c0, ld;
    uint32_t tr, tc;
    rd R;
    const uint8_t *plane;
    uint16_t *dst;
} tile_ctx;

/* Decode rows [ra, rz) of one lane from *pos; returns a status. */
static uw_status lane_rows(const tile_ctx *x, uint32_t j, uint32_t ra, uint32_t rz, uint64_t *pos, uint64_t end, int safe, uint8_t *eb) {
    for (uint32_t r = ra; r < rz; r++) {
        uint64_t p = decode_row(x->b, x->T, x->mask, &x->R, safe, *pos, end, x->tc, eb, x->dst + r * x->ld,
                                x->plane + (x->r0 + r) * x->b->cols + x->c0);
        if (p == UINT64_MAX) BAD_LANE(UW_DERR_PAD_SYM, x->t, j);
        if (p == UINT64_MAX - 1) BAD_LANE(UW_DERR_OVERRUN, x->t, j);
        *pos = p;
    }
    return UW_OK;
}

/* G lanes, rows in lock-step; the hot loop advances all G bit positions per iteration and
 * leaves to the scalar path at escapes, chunk tails and verbatim chunks. */
/* G lanes, rows in lock-step. Each iteration reloads every lane's 64-bit window once and takes
 * two multi-code entries from it (up to 8 exponents); the only state per lane is its bit
 * position and output index, so four lanes fit in registers. Escapes and chunk tails step
 * through the single-code path. */
UW_NO_VECTORIZE static uw_status lane_group(const tile_ctx *x, uint32_t j0, uint64_t *pos, const uint64_t *end, const uint32_t *ra,
                                            const uint32_t *rz, uint8_t *ebuf, size_t estride) {
    const uw_blob *b = x->b;
    const uint32_t *T = x->T;
    const uint64_t *M = x->M;
    const uint64_t mask = x->mask;
    const uint8_t *sp = x->R.p;
    uint32_t common = rz[0] - ra[0];
    for (int l = 1; l < G; l++)
        if (rz[l] - ra[l] < common) common = rz[l] - ra[l];
    uint32_t tc = x->tc, C = b->chunk ? b->chunk : tc;
    for (uint32_t ri = 0; ri < common; ri++) {
        for (uint32_t k0 = 0; k0 < tc; k0 += C) {
            uint32_t len = tc - k0 < C ? tc - k0 : C;
            uint32_t kk[G];
            uint8_t *e0 = ebuf + k0;
            for (int l = 0; l < G; l++) {
                kk[l] = 0;
                if (b->rare_mode == UW_RARE_VERBATIM) {
                    uint64_t v = peek(&x->R, pos[l]);
                    pos[l]++;
                    if (v & 1) {
                        for (uint32_t k = 0; k < len; k++, pos[l] += 8) e0[l * estride + k] = (uint8_t)peek(&x->R, pos[l]);
                        kk[l] = len + 8; /* done: keeps the hot loop off */
                    }
                }
            }
            for (;;) {
                uint64_t p0 = pos[0], p1 = pos[1], p2 = pos[2], p3 = pos[3];
                uint32_t k_0 = kk[0], k_1 = kk[1], k_2 = kk[2], k_3 = kk[3];
#if defined(__clang__)
#pragma clang loop vectorize(disable)
#endif
                while (k_0 + 8 <= len && k_1 + 8 <= len && k_2 + 8 <= len && k_3 + 8 <= len) {
                    uint64_t v0 = load_fast(sp, p0), v1 = load_fast(sp, p1), v2 = load_fast(sp, p2), v3 = load_fast(sp, p3);
                    uint64_t a0 = M[v0 & 0xFFF], a1 = M[v1 & 0xFFF], a2 = M[v2 & 0xFFF], a3 = M[v3 & 0xFFF];
                    uint64_t c0 = M[(v0 >> (a0 & 15)) & 0xFFF], c1 = M[(v1 >> (a1 & 15)) & 0xFFF];
                    uint64_t c2 = M[(v2 >> (a2 & 15)) & 0xFFF], c3 = M[(v3 >> (a3 & 15)) & 0xFFF];
                    if ((a0 | a1 | a2 | a3 | c0 | c1 | c2 | c3) & M_ESC) break;
#define UW_EMIT(i)                                                                             \
    {                                                                                          \
        uint8_t *o_ = e0 + i * estride + k_##i;                                                \
        uint32_t x_ = (uint32_t)(a##i >> 8), y_ = (uint32_t)(c##i >> 8), n_ = (uint32_t)(a##i >> 4) & 7; \
        memcpy(o_, &x_, 4);                                                                    \
        memcpy(o_ + n_, &y_, 4);                                                               \
        p##i += (a##i & 15) + (c##i & 15);                                                     \
        k_##i += n_ + ((uint32_t)(c##i >> 4) & 7);                                             \
    }
                    UW_EMIT(0) UW_EMIT(1) UW_EMIT(2) UW_EMIT(3)
#undef UW_EMIT
                }
                pos[0] = p0; pos[1] = p1; pos[2] = p2; pos[3] = p3;
                kk[0] = k_0; kk[1] = k_1; kk[2] = k_2; kk[3] = k_3;
                /* near an escape: a few single-code steps carry every lane past it (an escape
                 * sits within the next 5 codes of a flagged window); at a tail, lanes finish alone */
                int tail = 0;
                for (int l = 0; l < G; l++) {
                    if (kk[l] + 8 > len) { tail = 1; continue; }
                    for (int st = 0; st < 5 && kk[l] < len; st++)
                        if (step_one(b, T, mask, &x->R, &pos[l], e0 + l * estride, &kk[l], len))
                            BAD_LANE(UW_DERR_PAD_SYM, x->t, j0 + l);
                    if (pos[l] > end[l]) BAD_LANE(UW_DERR_OVERRUN, x->t, j0 + l);
                }
                if (tail) break;
            }
            for (int l = 0; l < G; l++) {
                if (kk[l] < len) {
                    uint64_t p = decode_run(b, T, mask, &x->R, 1, pos[l], e0 + l * estride + kk[l], len - kk[l]);
                    if (p == UINT64_MAX) BAD_LANE(UW_DERR_PAD_SYM, x->t, j0 + l);
                    pos[l] = p;
                }
                if (pos[l] > end[l]) BAD_LANE(UW_DERR_OVERRUN, x->t, j0 + l);
            }
        }
        for (int l = 0; l < G; l++) {
            uint32_t r = ra[l] + ri;
            merge_run(x->dst + r * x->ld, x->plane + (x->r0 + r) * b->cols + x->c0, ebuf + l * estride, tc);
        }
    }
    for (int l = 0; l < G; l++)
        UW_FORWARD_IF_ERROR(lane_rows(x, j0 + l, ra[l] + common, rz[l], &pos[l], end[l], 1, ebuf));
    return UW_OK;
}

uw_status uw_codec_decode_tile_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t, uint16_t *dst, uint64_t ld) {
    if (b->codec == UW_CODEC_PALETTE) return uw_codec_decode_tile_ref(b, t, dst, ld);
    tile_ctx x;
    x.b = b;
    x.T = ft->e;
    x.M = ft->m;
    x.mask = ((uint64_t)1 << b->maxlen) - 1;
    x.t = t;
    x.ld = ld;
    x.dst = dst;
    x.plane = b->base + b->off_plane;
    x.R.p = b->base + b->off_stream;
    x.R.avail = b->total - b->off_stream;
    uw_tile_rect(b, t, &x.r0, &x.tr, &x.c0, &x.tc);
    uint32_t C = b->chunk ? b->chunk : x.tc;
    size_t estride = (size_t)x.tc + 16; /* the hot loop stores 4 bytes past its count */
    uint8_t *ebuf = malloc(estride * G);
    if (!ebuf) return uw_error_set(UW_ERR_NOMEM, "decoder: out of memory");
    uw_status s = UW_OK;
    uint64_t pos[G], end[G];
    uint32_t ra[G], rz[G];
    for (uint32_t j0 = 0; j0 < b->lanes && s == UW_OK; j0 += G) {
        uint32_t ng = b->lanes - j0 < G ? b->lanes - j0 : G;
        int safe = 1;
        for (uint32_t l = 0; l < ng; l++) {
            uw_lane_bits(b, t, j0 + l, &pos[l], &end[l]);
            ra[l] = uw_lane_row_begin(x.tr, b->lanes, j0 + l);
            rz[l] = uw_lane_row_begin(x.tr, b->lanes, j0 + l + 1);
            /* a lane overruns its end by at most one chunk before a check catches it; if even
             * that stays 8 bytes inside the blob, the hot loops need no bounds checks */
            uint64_t worst = end[l] + (uint64_t)C * 28 + 64;
            safe &= worst / 8 + 8 <= x.R.avail;
        }
        if (ng == G && safe && x.tc >= 2) {
            s = lane_group(&x, j0, pos, end, ra, rz, ebuf, estride);
        } else {
            for (uint32_t l = 0; l < ng && s == UW_OK; l++) s = lane_rows(&x, j0 + l, ra[l], rz[l], &pos[l], end[l], safe, ebuf);
        }
        for (uint32_t l = 0; l < ng && s == UW_OK; l++) {
            uint32_t j = j0 + l;
            if (j + 1 < b->lanes) {
                if (pos[l] != end[l])
                    s = uw_derr_status(UW_DERR_LANE_END, "blob: tile %llu lane %u (ends at bit %llu, the index says %llu)",
                                       (unsigned long long)t, j, (unsigned long long)pos[l], (unsigned long long)end[l]);
            } else {
                if (end[l] - pos[l] >= 8)
                    s = uw_derr_status(UW_DERR_TILE_PAD, "blob: tile %llu (%llu unused bits after its last lane)", (unsigned long long)t,
                                       (unsigned long long)(end[l] - pos[l]));
                else if (end[l] > pos[l] && (peek(&x.R, pos[l]) & (((uint64_t)1 << (end[l] - pos[l])) - 1)))
                    s = uw_derr_status(UW_DERR_TILE_PAD, "blob: tile %llu (nonzero padding bits)", (unsigned long long)t);
            }
        }
    }
    free(ebuf);
    return s;
}
