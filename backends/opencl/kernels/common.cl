/* common.cl - what every kernel of the OpenCL backend shares, chiefly the lane decoder of
 * docs/FORMAT.md section 6 with its rejections. */
/* The host compiles codecs/decode_steps.h ahead of this file: uw_bf16_join, uw_lane_row_begin
 * and uw_entry_len/sym come from there. */
#pragma OPENCL FP_CONTRACT OFF

/* error bits (ocl_buffers.c names them) */
#define UW_E_OVERRUN 1u
#define UW_E_LANE_END 2u
#define UW_E_PADSYM 4u
#define UW_E_TILE_PAD 8u
#define UW_E_PAL_INDEX 16u
#define UW_E_EXC_ORDER 32u
#define UW_E_EXC_NIBBLE 64u

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
 * `mode` sink. tab: 2^bits entries (symbol | length << 8, the symbol being a | b << 4 for the
 * pair (a, b)); pal: palette; esc: escape index or 16; chunk: verbatim chunk or 0. Returns error
 * bits (0 = the lane obeys FORMAT.md section 7 rules 8 and 9). `mode` is a literal at every call
 * site, so each kernel gets its own specialised copy. */
static inline uint uw_decode_lane(int mode, uw_lane l, __global const uint *stream, __local const ushort *tab, uint bits,
                                  const uchar *pal, uint esc, uint order, uint chunk, uint tc, __local ushort *tile,
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
                if (pos >= l.end) return UW_E_OVERRUN;
                uint flag = (uint)uw_peek(stream, pos) & 1u;
                pos++;
                if (flag) {
                    if (l.end - pos < 8ul * len) return UW_E_OVERRUN;
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
                ushort ent = tab[(uint)v & mask];
                uint used = uw_entry_len(ent), s = uw_entry_sym(ent), a = s & 15u, e;
                if (a == esc) {
                    e = (uint)(v >> used) & 0xFFu;
                    used += 8;
                    UW_RAW(e);
                } else {
                    e = pal[a];
                }
                UW_EMIT(r, k0 + k, e);
                if (order == 2) {
                    uint b = s >> 4;
                    if (k + 1 < len) {
                        if (b == esc) {
                            e = (uint)(v >> used) & 0xFFu;
                            used += 8;
                            UW_RAW(e);
                        } else {
                            e = pal[b];
                        }
                        UW_EMIT(r, k0 + k + 1, e);
                    } else if (b != 0) {
                        return UW_E_PADSYM;
                    }
                }
                pos += used;
                if (pos > l.end) return UW_E_OVERRUN;
            }
        }
    }
#undef UW_EMIT
#undef UW_RAW
    if (!l.last) return pos == l.end ? 0 : UW_E_LANE_END;
    if (l.end - pos >= 8) return UW_E_TILE_PAD;
    if (l.end > pos && ((uint)uw_peek(stream, pos) & ((1u << (uint)(l.end - pos)) - 1u))) return UW_E_TILE_PAD;
    return 0;
}

/* Copy the lookup table and palette into the work-group (table) and the work-item (palette). */
static inline void uw_load_code(__global const ushort *gtab, uint bits, __local ushort *tab, __global const uchar *meta,
                                uchar *pal) {
    for (uint i = get_local_id(0); i < (1u << bits); i += get_local_size(0)) tab[i] = gtab[i];
    for (uint i = 0; i < 16; i++) pal[i] = meta[i];
}

static inline void uw_flag(__global volatile uint *err, uint bits) {
    if (bits) atomic_or(err, bits);
}
