/* uw_kern_common.cuh - device code every CUDA kernel shares: the kernel parameters describing a
 * resident weight, the LSB-first bit reader, the lane decoder of docs/FORMAT.md section 6, the
 * palette and exponent-plane fills, and the join of exponent + plane bytes into BF16
 * (FORMAT.md section 2). Everything here is written once and used by the decode kernels, the
 * generic matmul and the Hopper matmul, so that "bring a W tile on chip" is one piece of code
 * per resident form.
 *
 * Geometry of the resident forms (set on upload, cuda_weights.cu): blob tiles of R x C with
 * R in {16, 32, 64}, C in {64, 128, 256}. A matmul CTA owns a band of BAND = 64 output rows and
 * walks k in steps of C: one step covers Q = 64 / R blob tiles stacked vertically, whose lanes
 * (Q * lanes <= 64) decode in parallel. */
#ifndef UW_KERN_COMMON_CUH
#define UW_KERN_COMMON_CUH

#include "../../codecs/decode_steps.h"
#include "uw_gpu.h"

UW_GPU_NS_BEGIN

#define UW_BAND 64
/* decode, plan and join steps also compile for the host: tests/test_cuda_host_decode.cu runs the
 * very code the kernels run, on the CPU, against the golden vectors */
#define UW_HD static __host__ __device__ __forceinline__
static __host__ __device__ __forceinline__ uint32_t uw_minu(uint32_t a, uint32_t b) { return a < b ? a : b; }
/* The decode table's entries (uw_dt_*, built on upload by uw_dtab_build) and the error bits a
 * kernel ORs into the context's error word (UW_DERR_*) are codecs/decode_steps.h's, shared with
 * the CPU decoder and the OpenCL kernels. */

/* One resident weight as the kernels see it (passed by value). */
typedef struct uw_kparams {
    uint32_t rows, cols;          /* W is rows x cols, row-major; cols = the matmul's K */
    uint32_t R, C, lanes, Q;      /* tile rows, tile cols, lanes per tile, tiles per band */
    uint32_t tiles_r, tiles_c;
    /* Huffman form: the blob on the device (padded by 64 zero bytes) */
    const uint8_t *blob;
    uint64_t off_tilebase, off_laneoff, off_stream, stream_bytes;
    const uint32_t *table;        /* 2^tab_bits decode-table entries (codecs/decode_steps.h) */
    uint32_t tab_bits, order, rare_mode, chunk; /* chunk: verbatim chunk length or 0 */
    /* the sign/mantissa plane (the Huffman or the palette blob's) */
    const uint8_t *plane;
    /* palette IR */
    const uint8_t *nib;
    const uint64_t *excidx;       /* T + 1 entries */
    const uint32_t *exc;
    uint32_t nregular;
    uint8_t palette[16];
    uint32_t paltab[8];           /* the palette as the GEMV kernel's prmt tables (uw_gv_paltab_of) */
    /* the GEMV family's patch list of the form read (uw_gemv.cuh): per step an index into entries
     * of the exponents the stream does not carry; Huffman: per unit of the GEMV grid the bit of
     * each row's lane at the unit's first step (within its tile) */
    const uint32_t *patch_idx, *patch, *gv_starts;
    const uint4 *gv_tiles;        /* Huffman, GEMV: per tile its stream's 16-byte-aligned bytes (offset, size) and first bit */
    /* exponent plane (pipeline 2 scratch) and plain BF16 */
    const uint8_t *exps;
    const uint16_t *w16;
    uint32_t *err;                /* the context's error word */
} uw_kparams;

/* ---------------------------------------------------------------- geometry ---------------- */

/* The band of 64 rows and the k-step (blob tile column) kt: valid rows and columns. */
struct uw_step {
    uint32_t r0, valid;   /* first matrix row, rows of the band inside the matrix (1..64) */
    uint32_t c0, tc;      /* first column, columns of the step inside the matrix (1..C) */
};
UW_HD uw_step uw_step_of(const uw_kparams &p, uint32_t band, uint32_t kt) {
    uw_step s;
    s.r0 = band * UW_BAND;
    s.valid = uw_minu(UW_BAND, p.rows - s.r0);
    s.c0 = kt * p.C;
    s.tc = uw_minu(p.C, p.cols - s.c0);
    return s;
}

/* Tile index and rows of blob tile q (0..Q-1) of the band at step kt; tr = 0 past the matrix. */
struct uw_btile {
    uint64_t t;
    uint32_t tr;
};
UW_HD uw_btile uw_band_tile(const uw_kparams &p, uint32_t band, uint32_t q, uint32_t kt) {
    uw_btile r;
    uint32_t ti = band * p.Q + q;
    r.t = (uint64_t)ti * p.tiles_c + kt;
    r.tr = ti < p.tiles_r ? uw_minu(p.R, p.rows - ti * p.R) : 0;
    return r;
}

/* a [b, e) range of bytes or bits */
struct uw_range {
    uint64_t b, e;
};

/* Stream byte range [B_t, B_(t+1)) of tile t (FORMAT.md section 6). */
UW_HD uw_range uw_tile_bytes(const uw_kparams &p, uint64_t t) {
    const uint64_t *tb = (const uint64_t *)(p.blob + p.off_tilebase);
    uw_range r;
    r.b = tb[t];
    r.e = t + 1 < (uint64_t)p.tiles_r * p.tiles_c ? tb[t + 1] : p.stream_bytes;
    return r;
}

/* Bit range of lane j relative to the start of its tile's bits: [L_(t,j), L_(t,j+1)). */
UW_HD uw_range uw_lane_range(const uw_kparams &p, uint64_t t, uint32_t j, uint64_t tile_bits) {
    const uint32_t *lo = (const uint32_t *)(p.blob + p.off_laneoff) + t * (p.lanes - 1);
    uw_range r;
    r.b = j ? lo[j - 1] : 0;
    r.e = j + 1 < p.lanes ? lo[j] : tile_bits;
    return r;
}

/* ---------------------------------------------------------------- bit reader -------------- */

/* LSB-first reader over 32-bit little-endian words (FORMAT.md section 1). Reads are clamped to
 * two words past the lane's end, so a corrupt stream can never read outside the lane's
 * neighbourhood; the caller's buffer has that slack (64 zero bytes after a device blob, 16 bytes
 * after a shared-memory stage). Positions are bits from `words`. */
struct uw_bitreader {
    const uint32_t *words;
    uint32_t next, last;
    uint32_t nb;
    uint64_t buf;
    uint64_t pos;

    __host__ __device__ __forceinline__ void init(const uint32_t *w, uint64_t begin, uint64_t end) {
        words = w;
        uint32_t first = (uint32_t)(begin >> 5);
        last = (uint32_t)((end + 63) >> 5);
        buf = (uint64_t)(w[first] >> (begin & 31));
        nb = 32 - (uint32_t)(begin & 31);
        next = first + 1;
        pos = begin;
        refill();
    }
    /* afterwards at least 33 bits are buffered */
    __host__ __device__ __forceinline__ void refill() {
        if (nb <= 32) {
            buf |= (uint64_t)words[next < last ? next : last] << nb;
            next++;
            nb += 32;
        }
    }
    __host__ __device__ __forceinline__ uint32_t peek(uint32_t mask) const { return (uint32_t)buf & mask; }
    __host__ __device__ __forceinline__ void skip(uint32_t n) {
        buf >>= n;
        nb -= n;
        pos += n;
    }
    __host__ __device__ __forceinline__ uint32_t take8() {
        uint32_t v = (uint32_t)buf & 0xFF;
        skip(8);
        return v;
    }
};

/* ---------------------------------------------------------------- lane decoder ------------ */

/* Decode one lane (FORMAT.md section 6) into exponent bytes: the lane's `nrows` rows go to
 * E + r * ldE, columns 0..tc-1. The lane is bits [begin, end) of `words`; `last` says whether it
 * is its tile's last lane (which may end with up to 7 zero padding bits). Chunks: verbatim (flag
 * bit, then raw bytes), or codes of one (order 1) or two (order 2; an odd chunk's last pair pads
 * with index 0) palette indices, each escape index followed by its raw exponent byte.
 * tab: 2^tab_bits decode-table entries (shared memory). Returns UW_DERR_* bits. */
UW_HD uint32_t uw_decode_lane(uint32_t tab_bits, uint32_t order, uint32_t chunk,
                                                          const uint32_t *UW_GPU_RESTRICT tab, const uint32_t *words,
                                                          uint64_t begin, uint64_t end, bool last, uint32_t nrows,
                                                          uint32_t tc, uint8_t *E, uint32_t ldE) {
    uw_bitreader br;
    br.init(words, begin, end);
    const uint32_t mask = (1u << tab_bits) - 1u;
    const uint32_t C = chunk ? chunk : tc;
    const bool verbatim = chunk != 0, order2 = order == 2;
    uint32_t err = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        uint8_t *er = E + (size_t)r * ldE;
        for (uint32_t k0 = 0; k0 < tc; k0 += C) {
            const uint32_t kend = uw_minu(tc, k0 + C);
            if (verbatim) {
                br.refill();
                uint32_t flag = br.peek(1);
                br.skip(1);
                if (flag) { /* raw exponents, element order */
                    for (uint32_t k = k0; k < kend; k++) {
                        br.refill();
                        er[k] = (uint8_t)br.take8();
                    }
                    continue;
                }
            }
            for (uint32_t k = k0; k < kend; k += order) {
                br.refill();
                uint32_t e = tab[br.peek(mask)];
                br.skip(uw_dt_len(e));
                uint32_t x0 = uw_dt_exp_a(e);
                if (uw_dt_esc_a(e)) x0 = br.take8();
                er[k] = (uint8_t)x0;
                if (order2) {
                    if (k + 1 == kend) {
                        if (uw_dt_b(e) != 0) err |= UW_DERR_PAD_SYM;
                    } else {
                        uint32_t x1 = uw_dt_exp_b(e);
                        if (uw_dt_esc_b(e)) x1 = br.take8();
                        er[k + 1] = (uint8_t)x1;
                    }
                }
            }
        }
    }
    if (br.pos > end) {
        err |= UW_DERR_OVERRUN;
    } else if (!last) {
        if (br.pos != end) err |= UW_DERR_LANE_END;
    } else if (end - br.pos >= 8) {
        err |= UW_DERR_TILE_PAD;
    } else {
        br.refill();
        if (br.peek((1u << (uint32_t)(end - br.pos)) - 1u)) err |= UW_DERR_TILE_PAD;
    }
    return err;
}

/* Where the stream bytes of the band's tiles sit in a shared-memory stage: tile q's bytes,
 * copied from the 16-byte-aligned global range around them, go to stage offset `off`; a tile
 * whose bytes do not fit the stage's capacity (keeping 16 bytes of slack for the reader) is read
 * from global memory instead. The producer and the decoders both run this plan, so they agree
 * without talking. f(q, off, src, len) is called for each placed tile; returns the bytes placed. */
template <class F>
UW_HD uint32_t uw_stage_plan(const uw_kparams &p, uint32_t band, uint32_t kt, uint32_t cap,
                                                         F f) {
    uint32_t used = 0;
    for (uint32_t q = 0; q < p.Q; q++) {
        const uw_btile bt = uw_band_tile(p, band, q, kt);
        if (!bt.tr) break;
        const uw_range by = uw_tile_bytes(p, bt.t);
        uint64_t g0 = (p.off_stream + by.b) & ~(uint64_t)15, g1 = (p.off_stream + by.e + 15) & ~(uint64_t)15;
        uint64_t n = g1 - g0;
        if (used + n + 16 <= cap) {
            f(q, used, g0, (uint32_t)n);
            used += (uint32_t)n;
        }
    }
    return used;
}

/* Decode the lanes of the band's tiles at step kt into E (rows of the band): thread `tid`
 * decodes lane tid of the Q * lanes lanes (tid % lanes of tile tid / lanes). With a stage
 * (stage != NULL), tiles placed by uw_stage_plan are read from it. */
UW_HD uint32_t uw_decode_band(const uw_kparams &p, const uint32_t *tab, uint32_t band,
                                                          uint32_t kt, uint32_t tid, const uint8_t *stage, uint32_t cap,
                                                          uint8_t *E, uint32_t ldE) {
    const uint32_t q = tid / p.lanes, j = tid % p.lanes;
    if (q >= p.Q) return 0;
    const uw_btile bt = uw_band_tile(p, band, q, kt);
    if (!bt.tr) return 0;
    const uint32_t tr = bt.tr;
    const uw_step s = uw_step_of(p, band, kt);
    const uw_range by = uw_tile_bytes(p, bt.t);
    const uw_range lr = uw_lane_range(p, bt.t, j, (by.e - by.b) * 8);
    const uint32_t *words = (const uint32_t *)(p.blob + p.off_stream);
    uint64_t base = by.b * 8; /* bit position of the tile's first bit from `words` */
    if (stage) {
        uint32_t my_off = ~0u;
        uint64_t my_src = 0;
        uw_stage_plan(p, band, kt, cap, [&](uint32_t qq, uint32_t off, uint64_t src, uint32_t) {
            if (qq == q) {
                my_off = off;
                my_src = src;
            }
        });
        if (my_off != ~0u) {
            words = (const uint32_t *)(stage + my_off);
            base = (p.off_stream + by.b - my_src) * 8;
        }
    }
    uint32_t ra = (uint32_t)(((uint64_t)j * tr) / p.lanes), rz = (uint32_t)(((uint64_t)(j + 1) * tr) / p.lanes);
    return uw_decode_lane(p.tab_bits, p.order, p.chunk, tab, words, base + lr.b, base + lr.e, j + 1 == p.lanes, rz - ra,
                          s.tc, E + (size_t)(q * p.R + ra) * ldE, ldE);
}

/* Palette IR (FORMAT.md section 8): E = palette[nibble] for the band at step kt, then the
 * exceptions of the band's tiles. `bar` synchronises the `nthreads` threads between the two
 * passes (a CTA or a named barrier). nib_stage (may be NULL): the nibble rows staged in shared
 * memory, row stride ldn bytes, starting at the step's first element. */
template <class Bar>
UW_HD uint32_t uw_palette_band(const uw_kparams &p, uint32_t band, uint32_t kt, uint32_t tid,
                                                           uint32_t nthreads, const uint8_t *nib_stage, uint32_t ldn,
                                                           uint8_t *E, uint32_t ldE, Bar bar) {
    uw_step s = uw_step_of(p, band, kt);
    uint32_t err = 0;
    for (uint32_t r = 0; r < s.valid; r++) {
        uint64_t i0 = (uint64_t)(s.r0 + r) * p.cols + s.c0;
        for (uint32_t c = tid; c < s.tc; c += nthreads) {
            uint32_t v;
            if (nib_stage) v = (nib_stage[(size_t)r * ldn + (c >> 1)] >> ((c & 1) * 4)) & 15u; /* i0 is even */
            else {
                uint64_t i = i0 + c;
                v = (p.nib[i >> 1] >> ((uint32_t)(i & 1) * 4)) & 15u;
            }
            if (v >= p.nregular) err |= UW_DERR_PAL_INDEX;
            E[(size_t)r * ldE + c] = p.palette[v & 15];
        }
    }
    bar();
    for (uint32_t q = 0; q < p.Q; q++) {
        const uw_btile bt = uw_band_tile(p, band, q, kt);
        if (!bt.tr) break;
        uint64_t e0 = p.excidx[bt.t], e1 = p.excidx[bt.t + 1];
        uint32_t lim = bt.tr * s.tc;
        for (uint64_t k = e0 + tid; k < e1; k += nthreads) {
            uint32_t x = p.exc[k], pos = x >> 8;
            if (pos >= lim || (k > e0 && (p.exc[k - 1] >> 8) >= pos)) {
                err |= UW_DERR_EXC_ORDER;
                continue;
            }
            E[(size_t)(q * p.R + pos / s.tc) * ldE + pos % s.tc] = (uint8_t)x;
        }
    }
    return err;
}

/* ---------------------------------------------------------------- join -------------------- */

/* Two BF16 from bytes (sel 0x4140: bytes 0,1; 0x4342: bytes 2,3) of 4 plane and 4 exponent
 * bytes: v = (P & 0x80) << 8 | E << 7 | (P & 0x7F) (FORMAT.md section 2). */
UW_HD uint32_t uw_join2(uint32_t e4, uint32_t p4, uint32_t sel) {
    uint32_t pp = uw_gpu_byte_perm(p4, 0u, sel), ee = uw_gpu_byte_perm(e4, 0u, sel);
    return ((pp & 0x00800080u) << 8) | (ee << 7) | (pp & 0x007F007Fu);
}
/* Eight BF16 from 8 exponent and 8 plane bytes (as two little-endian u32 each). */
UW_HD uint4 uw_join8(uint32_t e_lo, uint32_t e_hi, uint32_t p_lo, uint32_t p_hi) {
    uint4 o;
    o.x = uw_join2(e_lo, p_lo, 0x4140);
    o.y = uw_join2(e_lo, p_lo, 0x4342);
    o.z = uw_join2(e_hi, p_hi, 0x4140);
    o.w = uw_join2(e_hi, p_hi, 0x4342);
    return o;
}
/* The W tile of a step from exponent rows E (stride ldE, 4-byte-aligned rows) and plane rows P
 * (stride ldP, 8-byte-aligned rows): for each 8-element chunk (r, c..c+7) of the 64 x C tile,
 * out(r, c, uint4) stores the BF16; rows >= valid and columns >= tc are zero. */
template <class Out>
UW_HD void uw_join_tile(const uw_step &s, uint32_t C, const uint8_t *E, uint32_t ldE,
                                                    const uint8_t *P, uint32_t ldP, uint32_t tid, uint32_t nthreads,
                                                    Out out) {
    const uint32_t per_row = C / 8;
    for (uint32_t i = tid; i < UW_BAND * per_row; i += nthreads) {
        uint32_t r = i / per_row, c = (i % per_row) * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (r < s.valid && c < s.tc) {
            const uint8_t *er = E + (size_t)r * ldE + c, *pr = P + (size_t)r * ldP + c;
            uint32_t e_lo = *(const uint32_t *)er, e_hi = *(const uint32_t *)(er + 4);
            uint2 pp = *(const uint2 *)pr;
            v = uw_join8(e_lo, e_hi, pp.x, pp.y);
            if (c + 8 > s.tc) { /* the matrix ends inside this chunk */
                uint32_t keep = s.tc - c; /* 1..7 elements */
                uint32_t w[4] = {v.x, v.y, v.z, v.w};
                for (uint32_t k = 0; k < 4; k++) {
                    if (2 * k >= keep) w[k] = 0;
                    else if (2 * k + 1 >= keep) w[k] &= 0xFFFFu;
                }
                v = make_uint4(w[0], w[1], w[2], w[3]);
            }
        }
        out(r, c, v);
    }
}

/* Byte offset of BF16 element (r, c) in a Hopper W slot: [c / 64][r][128 B] with the 16-byte
 * chunks XOR-swizzled by r % 8 (what TMA's 128-byte swizzle writes and wgmma reads). */
UW_HD uint32_t uw_wslot_off(uint32_t r, uint32_t c) {
    return (c >> 6) * (UW_BAND * 128) + r * 128 + ((((c & 63) >> 3) ^ (r & 7)) << 4);
}

/* Copy `nrows` rows of `nbytes` bytes from global (row r at src + r * lds) to shared memory
 * (dst + r * ldd) with `nthreads` threads. aligned16: every row start and nbytes are multiples
 * of 16 (then cp.async, to be waited for by the caller); else byte loads. */
static __device__ __forceinline__ void uw_copy_rows(uint8_t *dst, uint32_t ldd, const uint8_t *src, uint64_t lds,
                                                    uint32_t nrows, uint32_t nbytes, bool aligned16, uint32_t tid,
                                                    uint32_t nthreads) {
    if (aligned16) {
        uint32_t per_row = nbytes / 16;
        for (uint32_t i = tid; i < nrows * per_row; i += nthreads) {
            uint32_t r = i / per_row, c = (i % per_row) * 16;
            uw_gpu_cp_async16(dst + (size_t)r * ldd + c, src + r * lds + c, 16);
        }
    } else {
        for (uint32_t r = 0; r < nrows; r++)
            for (uint32_t c = tid; c < nbytes; c += nthreads) dst[(size_t)r * ldd + c] = uw_gpu_ldg(src + r * lds + c);
    }
}

UW_GPU_NS_END
#endif
