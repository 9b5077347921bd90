/* decode_ref.c - the reference decoder: one bit at a time, canonical-code walk, every rule of
 * docs/FORMAT.md section 7 checked where it applies. Slow on purpose: clarity over speed. */
#include "bitio.h"
#include "decode.h"
#include "decode_errors.h"

/* the stream broke rule `bits` of FORMAT.md section 7 (decode_steps.h); where: format + values */
#define BAD(bits, ...) return uw_derr_status((bits), __VA_ARGS__)

/* Canonical decoding: codes of each length are consecutive integers, first bit = MSB of the
 * canonical code (the stream stores codes bit-reversed, LSB-first). */
typedef struct canon {
    int count[16];
    int sorted[256];
} canon;

static void canon_init(const uw_blob *b, canon *c) {
    memset(c, 0, sizeof *c);
    for (uint32_t s = 0; s < b->alphabet; s++) c->count[b->len[s]]++;
    int k = 0;
    for (int l = 1; l <= 15; l++)
        for (uint32_t s = 0; s < b->alphabet; s++)
            if (b->len[s] == l) c->sorted[k++] = (int)s;
}

static int read_symbol(const uw_blob *b, const canon *c, uw_bitr *r) {
    if (b->single >= 0) return b->single;
    int code = 0, first = 0, index = 0;
    for (int l = 1; l <= b->maxlen; l++) {
        int bit = uw_bitr_bit(r);
        if (bit < 0) return -1;
        code |= bit;
        int cnt = c->count[l];
        if (code - first < cnt) return c->sorted[index + code - first];
        index += cnt;
        first = (first + cnt) << 1;
        code <<= 1;
    }
    return -1; /* cannot happen for a complete code */
}

/* exponent of palette symbol s, reading the raw escape byte when s is the escape symbol */
static int sym_exp(const uw_blob *b, uint32_t s, uw_bitr *r) {
    if (b->rare_mode == UW_RARE_ESCAPE && s == b->nsym - 1u) return uw_bitr_bits(r, 8);
    return b->palette[s];
}

static uw_status decode_palette_tile(const uw_blob *b, uint64_t t, uint16_t *dst, uint64_t ld) {
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    const uint8_t *nib = b->base + b->off_nibbles, *plane = b->base + b->off_plane;
    for (uint32_t r = 0; r < tr; r++)
        for (uint32_t c = 0; c < tc; c++) {
            uint64_t i = (r0 + r) * b->cols + c0 + c;
            uint32_t v = (nib[i / 2] >> ((i & 1) * 4)) & 0xF;
            if (v >= b->nregular) BAD(UW_DERR_PAL_INDEX, "blob: element %llu (index %u, %u regular entries)", (unsigned long long)i, v, b->nregular);
            dst[r * ld + c] = uw_bf16_join(plane[i], b->palette[v]);
        }
    uint64_t e0 = uw_rd64(b->base + b->off_excidx + 8 * t), e1 = uw_rd64(b->base + b->off_excidx + 8 * (t + 1));
    int64_t prev = -1;
    for (uint64_t k = e0; k < e1; k++) {
        uint32_t x = uw_rd32(b->base + b->off_exc + 4 * k);
        uint32_t pos = x >> 8, r = pos / tc, c = pos % tc;
        if ((int64_t)pos <= prev || pos >= (uint64_t)tr * tc) BAD(UW_DERR_EXC_ORDER, "blob: tile %llu exception %llu (position %u)", (unsigned long long)t, (unsigned long long)k, pos);
        prev = pos;
        uint64_t i = (r0 + r) * b->cols + c0 + c;
        if ((nib[i / 2] >> ((i & 1) * 4)) & 0xF) BAD(UW_DERR_EXC_NIBBLE, "blob: element %llu", (unsigned long long)i);
        dst[r * ld + c] = uw_bf16_join(plane[i], (uint8_t)x);
    }
    return UW_OK;
}

uw_status uw_codec_decode_tile_ref(const uw_blob *b, uint64_t t, uint16_t *dst, uint64_t ld) {
    if (b->codec == UW_CODEC_PALETTE) return decode_palette_tile(b, t, dst, ld);
    canon cn;
    canon_init(b, &cn);
    uint64_t r0, c0;
    uint32_t tr, tc;
    uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
    const uint8_t *plane = b->base + b->off_plane;
    uint32_t C = b->chunk ? b->chunk : tc;
    for (uint32_t j = 0; j < b->lanes; j++) {
        uw_bitr rd;
        rd.buf = b->base + b->off_stream;
        uw_lane_bits(b, t, j, &rd.pos, &rd.end);
        uint32_t ra = uw_lane_row_begin(tr, b->lanes, j), rz = uw_lane_row_begin(tr, b->lanes, j + 1);
        for (uint32_t r = ra; r < rz; r++) {
            uint64_t gi = (r0 + r) * b->cols + c0;
            for (uint32_t k0 = 0; k0 < tc; k0 += C) {
                uint32_t len = tc - k0 < C ? tc - k0 : C;
                if (b->rare_mode == UW_RARE_VERBATIM) {
                    int flag = uw_bitr_bit(&rd);
                    if (flag < 0) goto overrun;
                    if (flag) {
                        for (uint32_t k = k0; k < k0 + len; k++) {
                            int e = uw_bitr_bits(&rd, 8);
                            if (e < 0) goto overrun;
                            dst[r * ld + k] = uw_bf16_join(plane[gi + k], (uint8_t)e);
                        }
                        continue;
                    }
                }
                for (uint32_t k = k0; k < k0 + len; k += b->order) {
                    int s = read_symbol(b, &cn, &rd);
                    if (s < 0) goto overrun;
                    uint32_t a = b->order == 2 ? (uint32_t)s / b->nsym : (uint32_t)s;
                    int e = sym_exp(b, a, &rd);
                    if (e < 0) goto overrun;
                    dst[r * ld + k] = uw_bf16_join(plane[gi + k], (uint8_t)e);
                    if (b->order == 2) {
                        uint32_t c2 = (uint32_t)s % b->nsym;
                        if (k + 1 == k0 + len) {
                            if (c2 != 0) BAD(UW_DERR_PAD_SYM, "blob: tile %llu lane %u (padding symbol %u)", (unsigned long long)t, j, c2);
                        } else {
                            int e2 = sym_exp(b, c2, &rd);
                            if (e2 < 0) goto overrun;
                            dst[r * ld + k + 1] = uw_bf16_join(plane[gi + k + 1], (uint8_t)e2);
                        }
                    }
                }
            }
        }
        /* a lane must end exactly at the next lane; the last lane of a tile within its final
         * byte, the padding bits zero */
        if (j + 1 < b->lanes) {
            if (rd.pos != rd.end) BAD(UW_DERR_LANE_END, "blob: tile %llu lane %u (ends at bit %llu, the index says %llu)", (unsigned long long)t, j,
                       (unsigned long long)rd.pos, (unsigned long long)rd.end);
        } else {
            if (rd.end - rd.pos >= 8) BAD(UW_DERR_TILE_PAD, "blob: tile %llu (%llu unused bits after its last lane)", (unsigned long long)t, (unsigned long long)(rd.end - rd.pos));
            while (rd.pos < rd.end)
                if (uw_bitr_bit(&rd)) BAD(UW_DERR_TILE_PAD, "blob: tile %llu (nonzero padding bits)", (unsigned long long)t);
        }
        continue;
    overrun:
        BAD(UW_DERR_OVERRUN, "blob: tile %llu lane %u", (unsigned long long)t, j);
    }
    return UW_OK;
}
