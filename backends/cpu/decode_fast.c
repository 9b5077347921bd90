/* decode_fast.c - table-driven CPU decoder: one 64-bit window per lookup, an entry yields two
 * exponents (a coded pair, or two short single codes), escapes and chunk tails take a side
 * path. Same acceptance rules as the reference decoder (checked at chunk and lane ends). */
#include "../../codecs/decode_steps.h"
#include "../../codecs/huffman.h"
#include "cpu_decode.h"

#define BAD(...) return uw_error_set(UW_ERR_CORRUPT, __VA_ARGS__)

/* entry layout */
#define F_EXP0(e) ((e) & 0xFF)
#define F_EXP1(e) (((e) >> 8) & 0xFF)
#define F_TOT(e) (((e) >> 16) & 0xF)
#define F_LEN1(e) (((e) >> 20) & 0xF)
#define F_CNT(e) (((e) >> 24) & 3)
#define F_ESC0 (1u << 26)
#define F_ESC1 (1u << 27)
#define F_PADOK (1u << 28) /* order 2: second symbol is index 0 */

void uw_fast_tab_build(const uw_blob *b, uw_fast_tab *ft) {
    uint16_t tab[1 << 12];
    uint32_t size = 1u << b->maxlen, esc = b->rare_mode == UW_RARE_ESCAPE ? b->nsym - 1u : 0xFFFFu;
    if (b->single >= 0) {
        tab[0] = (uint16_t)(b->single | 0x8000);
    } else {
        uw_huff_table(b->len, (int)b->alphabet, b->maxlen, tab);
    }
    for (uint32_t i = 0; i < size; i++) {
        uint32_t s = uw_entry_sym(tab[i]), l = uw_entry_len(tab[i]), e;
        if (b->order == 2) {
            uint32_t a = s / b->nsym, c = s % b->nsym;
            e = (uint32_t)b->palette[a] | ((uint32_t)b->palette[c] << 8) | (l << 16) | (l << 20) | (2u << 24);
            if (a == esc) e |= F_ESC0;
            if (c == esc) e |= F_ESC1;
            if (c == 0) e |= F_PADOK;
        } else {
            e = (uint32_t)b->palette[s] | (l << 16) | (l << 20) | (1u << 24);
            if (s == esc) {
                e |= F_ESC0;
            } else if (b->single < 0) {
                uint16_t t2 = tab[i >> l];
                uint32_t s2 = uw_entry_sym(t2), l2 = uw_entry_len(t2);
                if (l + l2 <= b->maxlen && s2 != esc)
                    e = (uint32_t)b->palette[s] | ((uint32_t)b->palette[s2] << 8) | ((l + l2) << 16) | (l << 20) | (2u << 24);
            }
        }
        ft->e[i] = e;
    }
}

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
static inline void merge_run(uint16_t *o, const uint8_t *pl, const uint8_t *eb, uint32_t n) {
    for (uint32_t k = 0; k < n; k++)
        o[k] = (uint16_t)((((uint16_t)pl[k] & 0x80) << 8) | ((uint16_t)eb[k] << 7) | (pl[k] & 0x7F));
}

static inline uint64_t load_fast(const uint8_t *p, uint64_t pos) {
    uint64_t v;
    memcpy(&v, p + (pos >> 3), 8);
    return v >> (pos & 7);
}

/* Decode one chunk's symbols into eb[0..len). Returns the new bit position, or UINT64_MAX for a
 * bad padding symbol. `safe`: every 8-byte load at or before `lim` bits is inside the blob. */
static inline uint64_t decode_run(const uw_blob *b, const uint32_t *T, uint64_t mask, const rd *R, int safe_all, uint64_t pos,
                                  uint8_t *eb, uint32_t len) {
    uint32_t k = 0;
    if (safe_all) {
        /* hot loop: no escapes, whole entries */
        while (k + 2 <= len) {
            uint64_t v = load_fast(R->p, pos);
            uint32_t e = T[v & mask];
            if (e & (F_ESC0 | F_ESC1)) goto side;
            eb[k] = (uint8_t)e;
            eb[k + 1] = (uint8_t)(e >> 8);
            pos += F_TOT(e);
            k += F_CNT(e);
        }
    }
    while (k < len) {
        uint64_t v;
        uint32_t e;
    side:
        v = peek(R, pos);
        e = T[v & mask];
        if (!(e & (F_ESC0 | F_ESC1)) && k + F_CNT(e) <= len) {
            eb[k] = (uint8_t)e;
            eb[k + 1] = (uint8_t)(e >> 8); /* eb has one byte of slack */
            pos += F_TOT(e);
            k += F_CNT(e);
            if (safe_all && k + 2 <= len && !(T[peek(R, pos) & mask] & (F_ESC0 | F_ESC1))) continue;
            continue;
        }
        if (b->order == 1) {
            uint32_t l = F_LEN1(e);
            eb[k] = (e & F_ESC0) ? (uint8_t)(v >> l) : (uint8_t)F_EXP0(e);
            pos += l + ((e & F_ESC0) ? 8 : 0);
            k++;
        } else {
            uint32_t l = F_TOT(e);
            uint8_t x0 = (uint8_t)F_EXP0(e), x1 = (uint8_t)F_EXP1(e);
            if (e & F_ESC0) { x0 = (uint8_t)(v >> l); l += 8; }
            if (k + 1 < len) {
                if (e & F_ESC1) { x1 = (uint8_t)(v >> l); l += 8; }
                eb[k + 1] = x1;
            } else if (!(e & F_PADOK)) {
                return UINT64_MAX;
            }
            eb[k] = x0;
            pos += l;
            k += 2;
        }
    }
    return pos;
}

uw_status uw_cpu_decode_tile_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t, uint16_t *dst, uint64_t ld) {
    if (b->codec == UW_CODEC_PALETTE) return uw_cpu_decode_tile_ref(b, t, dst, ld);
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    const uint8_t *plane = b->base + b->off_plane;
    rd R = {b->base + b->off_stream, b->total - b->off_stream};
    uint32_t C = b->chunk ? b->chunk : tc;
    uint64_t mask = ((uint64_t)1 << b->maxlen) - 1;
    const uint32_t *T = ft->e;
    uint8_t eb[UW_MAX_TILE_DIM + 8];
    for (uint32_t j = 0; j < b->lanes; j++) {
        uint64_t pos, end;
        uw_lane_bits(b, t, j, &pos, &end);
        /* a lane can overrun its end by at most one chunk before the check below catches it; if
         * even that stays 8 bytes inside the blob, the hot loop needs no bounds checks */
        uint64_t worst = end + (uint64_t)C * 28 + 64;
        int safe_all = worst / 8 + 8 <= R.avail;
        uint32_t ra = uw_lane_row_begin(tr, b->lanes, j), rz = uw_lane_row_begin(tr, b->lanes, j + 1);
        for (uint32_t r = ra; r < rz; r++) {
            const uint8_t *pl = plane + (r0 + r) * b->cols + c0;
            uint16_t *o = dst + r * ld;
            for (uint32_t k0 = 0; k0 < tc; k0 += C) {
                uint32_t len = tc - k0 < C ? tc - k0 : C;
                if (b->rare_mode == UW_RARE_VERBATIM) {
                    uint64_t v = peek(&R, pos);
                    pos++;
                    if (v & 1) {
                        for (uint32_t k = 0; k < len; k++, pos += 8) eb[k0 + k] = (uint8_t)peek(&R, pos);
                        if (pos > end) BAD("blob: tile %llu lane %u runs past its end", (unsigned long long)t, j);
                        continue;
                    }
                }
                pos = decode_run(b, T, mask, &R, safe_all, pos, eb + k0, len);
                if (pos == UINT64_MAX) BAD("blob: tile %llu lane %u: padding symbol of an odd chunk is not 0", (unsigned long long)t, j);
                if (pos > end) BAD("blob: tile %llu lane %u runs past its end", (unsigned long long)t, j);
            }
            merge_run(o, pl, eb, tc);
        }
        if (j + 1 < b->lanes) {
            if (pos != end) BAD("blob: tile %llu lane %u ends at bit %llu, index says %llu", (unsigned long long)t, j, (unsigned long long)pos, (unsigned long long)end);
        } else {
            if (end - pos >= 8) BAD("blob: tile %llu has %llu unused bits after its last lane", (unsigned long long)t, (unsigned long long)(end - pos));
            if (end > pos && (peek(&R, pos) & (((uint64_t)1 << (end - pos)) - 1)))
                BAD("blob: tile %llu has nonzero padding bits", (unsigned long long)t);
        }
    }
    return UW_OK;
}
