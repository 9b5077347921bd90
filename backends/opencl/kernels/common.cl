/* common.cl - what every kernel of the OpenCL backend shares, chiefly the lane decoder of
 * docs/FORMAT.md section 6 with its rejections. */
/* The host compiles codecs/decode_steps.h ahead of this file: uw_bf16_join, uw_lane_row_begin,
 * the decode-table entry accessors (uw_dt_*) and the error bits (UW_DERR_*) come from there. */
#pragma OPENCL FP_CONTRACT OFF

/* where a lane decoder puts each exponent E */
#define UW_EMIT_TILE 0 /* local W tile, as E << 7: the plane bits are merged in afterwards */
#define UW_EMIT_BF16 1 /* global BF16 tensor, joined with its plane byte */
#define UW_EMIT_EXP 2  /* global exponent plane; raw exponents outside the palette are counted */

/* 33+ valid stream bits from bit `pos`. The stream section starts at a multiple of 16 bytes of
 * the blob and the host pads the buffer, so both aligned words are always inside it. */
static inline ulong uw_peek(__global const uint *s, ulong pos) {
    ulong w = pos >> 5;
    ulong v = (ulong)s[w] | ((ulong)s[w + 1] << 32);
    return v >> (pos & 31);
}

/* The palette IR's four sections, each a buffer and a byte offset (an uploaded palette blob is
 * one buffer holding all four). */
#define UW_PAL_ARGS                                                                             \
    __global const uchar *nibb, ulong o_nib, __global const uchar *planeb, ulong o_plane,       \
        __global const uchar *idxb, ulong o_idx, __global const uchar *excb, ulong o_exc
#define UW_PAL_SETUP                                                                            \
    __global const uchar *nib = nibb + o_nib, *plane = planeb + o_plane;                        \
    __global const ulong *idx = (__global const ulong *)(idxb + o_idx);                         \
    __global const uint *exc = (__global const uint *)(excb + o_exc)

static inline float uw_bf(ushort v) { return as_float((uint)v << 16); }

/* Geometry and code of one Huffman lane, read from the blob's index sections. */
typedef struct uw_lane {
    ulong pos, end;
    uint ra, rz; /* tile rows [ra, rz) */
    int last;    /* the tile's last lane: ends within its final byte, zero padding */
} uw_lane;

static inline uw_lane uw_lane_at(__global const uchar *blob, ulong off_tilebase, ulong off_laneoff, ulong stream_bytes,
                                 ulong ntiles, uint lanes, ulong t, uint j, uint tr) {
    __global const ulong *tb = (__global const ulong *)(blob + off_tilebase);
    __global const uint *lo = (__global const uint *)(blob + off_laneoff) + t * (lanes - 1);
    ulong tbase = tb[t] * 8, tend = (t + 1 < ntiles ? tb[t + 1] : stream_bytes) * 8;
    uw_lane l;
    l.pos = tbase + (j ? lo[j - 1] : 0);
    l.end = j + 1 < lanes ? tbase + lo[j] : tend;
    l.ra = uw_lane_row_begin(tr, lanes, j);
    l.rz = uw_lane_row_begin(tr, lanes, j + 1);
    l.last = j + 1 == lanes;
    return l;
}

/* Decode one lane (rows l.ra..l.rz of a tile with tc columns) and hand each exponent to the
 * `mode` sink. tab: 2^bits decode-table entries in their narrow form (decode_steps.h: length,
 * palette indices, escape flags), exponents from pal, the palette; chunk: verbatim chunk or 0.
 * Returns UW_DERR_* bits (0 = the lane obeys FORMAT.md section 7 rules 8 and 9). `mode` is a
 * literal at every call site, so each kernel gets its own specialised copy. */
static inline uint uw_decode_lane(int mode, uw_lane l, __global const uint *stream, __local const ushort *tab, uint bits,
                                  const uchar *pal, uint order, uint chunk, uint tc, __local ushort *tile,
                                  __global ushort *out16, __global uchar *out8, __global const uchar *plane,
                                  __global const uchar *emap, ulong g0, ulong cols, uint *nexc) {
    uint mask = (1u << bits) - 1u, C = chunk ? chunk : tc;
    ulong pos = l.pos;
#define UW_EMIT(r_, c_, e_)                                                                     \
    do {                                                                                        \
        if (mode == UW_EMIT_TILE) {                                                             \
            tile[(r_) * tc + (c_)] = (ushort)((uint)(e_) << 7);                                 \
        } else {                                                                                \
            ulong gi_ = g0 + (ulong)(r_) * cols + (c_);                                         \
            if (mode == UW_EMIT_BF16) out16[gi_] = uw_bf16_join(plane[gi_], (uchar)(e_));       \
            else out8[gi_] = (uchar)(e_);                                                       \
        }                                                                                       \
    } while (0)
#define UW_RAW(e_) \
    do { if (mode == UW_EMIT_EXP && emap[e_] == 0xFF) (*nexc)++; } while (0)
    for (uint r = l.ra; r < l.rz; r++) {
        for (uint k0 = 0; k0 < tc; k0 += C) {
            uint len = min(C, tc - k0);
            if (chunk) { /* rare_mode 2: a flag bit, then either raw exponents or codes */
                if (pos >= l.end) return UW_DERR_OVERRUN;
                uint flag = (uint)uw_peek(stream, pos) & 1u;
                pos++;
                if (flag) {
                    if (l.end - pos < 8ul * len) return UW_DERR_OVERRUN;
                    for (uint k = 0; k < len; k++, pos += 8) {
                        uint e = (uint)uw_peek(stream, pos) & 0xFFu;
                        UW_RAW(e);
                        UW_EMIT(r, k0 + k, e);
                    }
                    continue;
                }
            }
            for (uint k = 0; k < len; k += order) {
                ulong v = uw_peek(stream, pos);
                uint ent = tab[(uint)v & mask], used = uw_dt_len(ent), e;
                if (uw_dt_esc_a(ent)) {
                    e = (uint)(v >> used) & 0xFFu;
                    used += 8;
                    UW_RAW(e);
                } else {
                    e = pal[uw_dt_a(ent)];
                }
                UW_EMIT(r, k0 + k, e);
                if (order == 2) {
                    if (k + 1 < len) {
                        if (uw_dt_esc_b(ent)) {
                            e = (uint)(v >> used) & 0xFFu;
                            used += 8;
                            UW_RAW(e);
                        } else {
                            e = pal[uw_dt_b(ent)];
                        }
                        UW_EMIT(r, k0 + k + 1, e);
                    } else if (uw_dt_b(ent) != 0) {
                        return UW_DERR_PAD_SYM;
                    }
                }
                pos += used;
                if (pos > l.end) return UW_DERR_OVERRUN;
            }
        }
    }
#undef UW_EMIT
#undef UW_RAW
    if (!l.last) return pos == l.end ? 0 : UW_DERR_LANE_END;
    if (l.end - pos >= 8) return UW_DERR_TILE_PAD;
    if (l.end > pos && ((uint)uw_peek(stream, pos) & ((1u << (uint)(l.end - pos)) - 1u))) return UW_DERR_TILE_PAD;
    return 0;
}

/* Copy the decode table (narrow form) and palette into the work-group (table) and the
 * work-item (palette). */
static inline void uw_load_code(__global const ushort *gtab, uint bits, __local ushort *tab, __global const uchar *meta,
                                uchar *pal) {
    for (uint i = get_local_id(0); i < (1u << bits); i += get_local_size(0)) tab[i] = gtab[i];
    for (uint i = 0; i < 16; i++) pal[i] = meta[i];
}

static inline void uw_flag(__global volatile uint *err, uint bits) {
    if (bits) atomic_or(err, bits);
}
