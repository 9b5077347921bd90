/* uw_gemv.cuh - the steps of the GEMV family (batch <= 16; docs/PERFORMANCE.md, design 1), written
 * once for its kernel (uw_gemv.cu, CUDA and HIP) and for the host tests that run them on the CPU
 * (tests/test_cuda_host_gemv.cu): the work decomposition, the branch-free order-2 lane decoder,
 * the palette lookup and the join of exponents and plane bytes into BF16.
 *
 * Work decomposition (the same for every pipeline, so C2 holds; independent of the batch size):
 *   - CTA c of G owns rows [32 floor(c g / G), 32 floor((c + 1) g / G)) of the g = ceil(rows / 32)
 *     32-row groups, and all of K: no partial sum leaves a CTA (32, not 16: a 16-row piece would
 *     fill half of a 32-row set's slots and cost a whole set's steps);
 *   - its rows are cut into row sets inside one 64-row tile row: a whole tile row (64), else 32
 *     rows (the matrix's last rows may fill fewer, the other slots masked);
 *   - a step is 64 lane slots x 32 columns: a 64-row set's slots are its 64 rows in one tile, a
 *     32-row set's slots are its 32 rows in two consecutive tiles (slot s = t * 32 + r), so every
 *     step has the same 2048 weights; the steps of a set go tile pair by tile pair, 8 chunks of 32
 *     columns each (tile width 256);
 *   - the CTA's steps, sets in row order, are split evenly over its groups (warps on NVIDIA,
 *     the wavefront on AMD); a group's accumulators for one set are added to y in group order.
 * The accumulation order of an output is therefore fixed by (rows, cols, G, groups per CTA). */
#ifndef UW_GEMV_CUH
#define UW_GEMV_CUH

#include "uw_kern_common.cuh"

UW_GPU_NS_BEGIN

#define UW_GV_SLOTS 64      /* lane slots per step */
#define UW_GV_CHUNK 32      /* columns per step */
#define UW_GV_TILE 256      /* tile columns of the resident form the family reads */
#define UW_GV_NB_MAX 16     /* batch rows of the largest instance */
#define UW_GV_LEN_SHIFT 27  /* GEMV table entry: bits consumed in bits 27-31 */
#define UW_GV_PATCH_MAX 96 /* patch entries of one step (its 1 or 2 tiles' 32-column chunk) the kernel handles (uploads check) */
#define UW_GV_STREAM_CAP 6656 /* bytes of a step's lanes' stream a group stages (3.25 bits/weight; uploads check) */

/* ---------------------------------------------------------------- decomposition ----------- */

struct uw_gv_cta {
    uint32_t r0, r1;      /* rows of the CTA */
    uint32_t nsets;       /* row sets */
    uint32_t steps;       /* steps of all its sets */
};
UW_HD uint32_t uw_gv_div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* the row sets of rows [r0, r1): a 64-row set is a whole tile row; elsewhere 32-row sets, of
 * which only the rows inside [r0, r1) and the tile are valid (fewer than 32 at the matrix's end) */
struct uw_gv_set {
    uint32_t row0;        /* first row (a multiple of 32) */
    uint32_t nrows;       /* 64 or 32: slots per tile = nrows, tiles per step = 64 / nrows */
    uint32_t valid;       /* rows row0 .. row0 + valid - 1 are the set's */
    uint32_t first_step;  /* index of its first step in the CTA */
};
UW_HD uint32_t uw_gv_set_steps(uint32_t nrows, uint32_t cols) {
    const uint32_t tiles = uw_gv_div_up(cols, UW_GV_TILE);
    return (nrows == 64 ? tiles : (tiles + 1) / 2) * (UW_GV_TILE / UW_GV_CHUNK);
}
/* log2 of a set's rows (64 or 32): slots are (tile << shift) | row */
UW_HD uint32_t uw_gv_shift(uint32_t nrows) { return nrows == 64 ? 6 : 5; }
/* the set starting at row r of a CTA ending at r1 */
UW_HD uw_gv_set uw_gv_set_from(uint32_t r, uint32_t r1) {
    uw_gv_set s;
    s.row0 = r;
    s.nrows = (r % 64 == 0 && r + 64 <= r1) ? 64 : 32;
    s.valid = s.nrows == 64 ? 64 : uw_minu(uw_minu(32, 64 - r % 64), r1 - r);
    s.first_step = 0;
    return s;
}
/* the CTA's set that holds step `step` (sets in row order) */
UW_HD uw_gv_set uw_gv_set_of_step(uint32_t r0, uint32_t r1, uint32_t cols, uint32_t step) {
    uint32_t first = 0;
    for (uint32_t r = r0;;) {
        uw_gv_set s = uw_gv_set_from(r, r1);
        const uint32_t n = uw_gv_set_steps(s.nrows, cols);
        if (step < first + n || r + s.valid >= r1) {
            s.first_step = first;
            return s;
        }
        first += n;
        r += s.valid;
    }
}
/* CTA c of G: its rows [r0, r1) (r1 clipped to the matrix) and how many steps its sets make */
UW_HD uw_gv_cta uw_gv_cta_of(uint32_t rows, uint32_t cols, uint32_t c, uint32_t G) {
    uw_gv_cta t;
    const uint32_t g = uw_gv_div_up(rows, 32);
    t.r0 = 32 * (uint32_t)(((uint64_t)c * g) / G);
    t.r1 = uw_minu(rows, 32 * (uint32_t)(((uint64_t)(c + 1) * g) / G));
    t.nsets = 0;
    t.steps = 0;
    for (uint32_t r = t.r0; r < t.r1;) {
        uw_gv_set s = uw_gv_set_from(r, t.r1);
        t.steps += uw_gv_set_steps(s.nrows, cols);
        t.nsets++;
        r += s.valid;
    }
    return t;
}
/* a walk over a CTA's steps: the set of the current step and the step's index in it */
struct uw_gv_cursor {
    uw_gv_set set;
    uint32_t j, n, r1, cols; /* n: steps of the set */
    __host__ __device__ __forceinline__ void start(uint32_t r0, uint32_t r1_, uint32_t cols_, uint32_t step) {
        r1 = r1_;
        cols = cols_;
        set = uw_gv_set_of_step(r0, r1, cols, step);
        j = step - set.first_step;
        n = uw_gv_set_steps(set.nrows, cols);
    }
    __host__ __device__ __forceinline__ void next() {
        if (++j == n) {
            const uint32_t first = set.first_step + j;
            set = uw_gv_set_from(set.row0 + set.valid, r1);
            set.first_step = first;
            j = 0;
            n = uw_gv_set_steps(set.nrows, cols);
        }
    }
};

/* group q of Q's steps [b, e) of the CTA's */
UW_HD void uw_gv_group_range(uint32_t steps, uint32_t q, uint32_t Q, uint32_t *b, uint32_t *e) {
    *b = (uint32_t)(((uint64_t)q * steps) / Q);
    *e = (uint32_t)(((uint64_t)(q + 1) * steps) / Q);
}
/* a step of a set: its first tile column (kt0; the step covers tiles kt0 .. kt0 + 64/nrows - 1)
 * and its chunk (0..7) */
UW_HD void uw_gv_step_pos(const uw_gv_set &s, uint32_t j, uint32_t *kt0, uint32_t *chunk) {
    *kt0 = (j / (UW_GV_TILE / UW_GV_CHUNK)) << (6 - uw_gv_shift(s.nrows)); /* 1 or 2 tiles per step */
    *chunk = j % (UW_GV_TILE / UW_GV_CHUNK);
}
/* slot sl of a set's step: row (relative to the set) and tile (relative to kt0) */
UW_HD void uw_gv_slot(const uw_gv_set &s, uint32_t sl, uint32_t *r, uint32_t *t) {
    *r = sl & (s.nrows - 1);
    *t = sl >> uw_gv_shift(s.nrows);
}

/* the lane holding row r of a tile of tr rows and 64 lanes (FORMAT.md: lane j covers rows
 * [j tr / 64, (j + 1) tr / 64), so in a tile of fewer than 64 rows most lanes are empty) */
UW_HD uint32_t uw_gv_lane_of_row(uint32_t r, uint32_t tr) { return ((r + 1) * UW_GV_SLOTS - 1) / tr; }

/* Staging a step's stream: for each of its tiles, the lanes of the set's rows are one contiguous
 * bit range [b0, b1) of the tile (whose bytes start at stream byte tb); it is copied as the
 * 16-byte-aligned bytes around it plus 8 bytes of look-ahead. Its size in the stage: */
UW_HD uint32_t uw_gv_seg_bytes(uint64_t off_stream, uint64_t tb, uint64_t b0, uint64_t b1) {
    const uint64_t g0 = (off_stream + tb + b0 / 8) & ~(uint64_t)15;
    const uint64_t g1 = (off_stream + tb + (b1 + 7) / 8 + 8 + 15) & ~(uint64_t)15;
    return (uint32_t)(g1 - g0);
}

/* ---------------------------------------------------------------- the decode table -------- */

/* The GEMV table entry of a decode-table entry (codecs/decode_steps.h, order 2): the exponents of
 * a and b in bytes 0 and 1 (0 where the index is the escape: the exponent comes from the patch
 * list), and in bits 27-31 every bit the code consumes, the escapes' raw bytes included (at most
 * 12 + 16). Built per CTA in shared memory from the resident table. */
UW_HD uint32_t uw_gv_entry(uint32_t e) {
    uint32_t bits = uw_dt_len(e) + 8u * (uw_dt_esc_a(e) + uw_dt_esc_b(e));
    return uw_dt_exp_a(e) | (uw_dt_exp_b(e) << 8) | (bits << UW_GV_LEN_SHIFT);
}

/* ---------------------------------------------------------------- bit twiddling ----------- */

/* (hi:lo) >> (n mod 32) */
UW_HD uint32_t uw_gv_funnel(uint32_t lo, uint32_t hi, uint32_t n) {
#if defined(__CUDA_ARCH__)
    return __funnelshift_r(lo, hi, n);
#else
    return (uint32_t)((((uint64_t)hi << 32) | lo) >> (n & 31));
#endif
}
/* byte permute with PTX prmt's default mode: selector nibble k picks byte (nib & 7) of (b:a) for
 * result byte k, and with nib & 8 replicates that byte's top bit instead */
UW_HD uint32_t uw_gv_prmt(uint32_t a, uint32_t b, uint32_t s) {
#if defined(__CUDA_ARCH__)
    uint32_t r;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(s));
    return r;
#else
    uint64_t v = ((uint64_t)b << 32) | a;
    uint32_t r = 0;
    for (int k = 0; k < 4; k++) {
        uint32_t n = (s >> (4 * k)) & 15u, byte = (uint32_t)(v >> (8 * (n & 7))) & 0xFFu;
        if (n & 8) byte = (byte & 0x80u) ? 0xFFu : 0u;
        r |= byte << (8 * k);
    }
    return r;
#endif
}

/* ---------------------------------------------------------------- lane decoder ------------ */

/* A lane's reader over the staged stream in shared memory: w0, w1 hold the 64 bits from word
 * `next` - 2 on, pos < 32 is the bit offset in w0. A code (at most 28 bits with its escape
 * bytes) is read from the 32-bit window at pos; when pos passes 32, w1 moves down and the next
 * word is loaded: no branch, one predicated load. Words and the decode table are addressed as
 * byte offsets: NVIDIA 32-bit shared-window addresses read with ld.shared (the whole step is one
 * PTX sequence, so that the refill stays four predicated instructions), elsewhere offsets from a
 * base pointer (AMD, the host in tests). */
#if defined(__CUDA_ARCH__)
typedef uint32_t uw_gv_sp;
static __device__ __forceinline__ uw_gv_sp uw_gv_sp_of(const void *sb, uint32_t off) {
    return (uint32_t)__cvta_generic_to_shared(sb) + off;
}
static __device__ __forceinline__ uint32_t uw_gv_ld32(uw_gv_sp a) {
    uint32_t v;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(a));
    return v;
}
#else
typedef const uint8_t *uw_gv_sp;
UW_HD uw_gv_sp uw_gv_sp_of(const void *sb, uint32_t off) { return (const uint8_t *)sb + off; }
UW_HD uint32_t uw_gv_ld32(uw_gv_sp a) { return *(const uint32_t *)a; }
#endif
struct uw_gv_lane {
    uint32_t w0, w1, pos;
    uw_gv_sp next;

    __host__ __device__ __forceinline__ void init(uw_gv_sp words, uint32_t bit) {
        const uw_gv_sp w = words + 4u * (bit >> 5);
        w0 = uw_gv_ld32(w);
        w1 = uw_gv_ld32(w + 4);
        next = w + 8;
        pos = bit & 31u;
    }
    /* one order-2 code: its GEMV table entry (exponents in bytes 0 and 1) */
    __host__ __device__ __forceinline__ uint32_t code(uw_gv_sp tab, uint32_t mask) {
        uint32_t e;
#if defined(__CUDA_ARCH__)
        asm volatile("{\n.reg .pred p;\n.reg .b32 t;\n"
                     "shf.r.wrap.b32 t, %1, %2, %3;\n"
                     "and.b32 t, t, %6;\n"
                     "mad.lo.u32 t, t, 4, %5;\n"
                     "ld.shared.u32 %0, [t];\n"
                     "shr.u32 t, %0, 27;\n"
                     "add.u32 %3, %3, t;\n"
                     "setp.ge.u32 p, %3, 32;\n"
                     "@p mov.b32 %1, %2;\n"
                     "@p ld.shared.u32 %2, [%4];\n"
                     "@p add.u32 %4, %4, 4;\n"
                     "@p sub.u32 %3, %3, 32;\n}"
                     : "=r"(e), "+r"(w0), "+r"(w1), "+r"(pos), "+r"(next)
                     : "r"(tab), "r"(mask));
#else
        e = uw_gv_ld32(tab + 4u * (uw_gv_funnel(w0, w1, pos) & mask));
        pos += e >> UW_GV_LEN_SHIFT;
        if (pos >= 32) {
            w0 = w1;
            w1 = uw_gv_ld32(next);
            next += 4;
            pos -= 32;
        }
#endif
        return e;
    }
    /* 32 exponents (one chunk of the lane's row): 16 codes, 4 exponents per word, element order */
    __host__ __device__ __forceinline__ void chunk(uw_gv_sp tab, uint32_t mask, uint32_t E[8]) {
        UW_GPU_UNROLL
        for (int i = 0; i < 8; i++) {
            const uint32_t a = code(tab, mask), b = code(tab, mask);
            E[i] = uw_gv_prmt(a, b, 0x5410);
        }
    }
};

/* ---------------------------------------------------------------- join -------------------- */

/* Four BF16 (two words, element order) from four exponents and four plane bytes (FORMAT.md
 * section 2: v = (P & 0x80) << 8 | E << 7 | (P & 0x7F)): per byte, the high half is the sign and
 * E >> 1, the low half E's last bit and the mantissa; then interleave. 6 instructions. */
UW_HD void uw_gv_join4(uint32_t E4, uint32_t P4, uint32_t *o01, uint32_t *o23) {
    const uint32_t hi = (P4 & 0x80808080u) | ((E4 >> 1) & 0x7F7F7F7Fu);
    const uint32_t lo = (P4 & 0x7F7F7F7Fu) | ((E4 << 7) & 0x80808080u);
    *o01 = uw_gv_prmt(lo, hi, 0x5140);
    *o23 = uw_gv_prmt(lo, hi, 0x7362);
}
/* The same for palette indices: the palette split into E >> 1 (HT, 16 bytes) and (E & 1) << 6
 * (LT), both below 0x80, so that two 8-entry prmt lookups (the second with the selector's top bits
 * flipped) OR into the 16-entry lookup: an index's wrong half gives a replicated top bit, 0. */
struct uw_gv_paltab {
    uint32_t ht[4], lt[4];
};
UW_HD uw_gv_paltab uw_gv_paltab_of(const uint8_t palette[16]) {
    uw_gv_paltab t;
    for (int w = 0; w < 4; w++) {
        t.ht[w] = t.lt[w] = 0;
        for (int k = 0; k < 4; k++) {
            t.ht[w] |= (uint32_t)(palette[4 * w + k] >> 1) << (8 * k);
            t.lt[w] |= (uint32_t)((palette[4 * w + k] & 1u) << 6) << (8 * k);
        }
    }
    return t;
}
/* four BF16 from four nibbles (the low 16 bits of n, element k in bits 4k..4k+3) and plane bytes */
UW_HD void uw_gv_pal4(const uw_gv_paltab &t, uint32_t n, uint32_t P4, uint32_t *o01, uint32_t *o23) {
    const uint32_t n2 = n ^ 0x8888u;
    const uint32_t h = uw_gv_prmt(t.ht[0], t.ht[1], n) | uw_gv_prmt(t.ht[2], t.ht[3], n2);
    const uint32_t l = uw_gv_prmt(t.lt[0], t.lt[1], n) | uw_gv_prmt(t.lt[2], t.lt[3], n2);
    const uint32_t hi = (P4 & 0x80808080u) | h;
    const uint32_t lo = (P4 & 0x7F7F7F7Fu) | ((l << 1) & 0x80808080u);
    *o01 = uw_gv_prmt(lo, hi, 0x5140);
    *o23 = uw_gv_prmt(lo, hi, 0x7362);
}

/* ---------------------------------------------------------------- patch list -------------- */

/* The exponents the stream does not carry (Huffman escapes; palette IR exceptions), in the order
 * the kernel meets them: per (tile, chunk of 32 columns) an index into entries of
 * row << 16 | column << 8 | exponent (row and column within the tile). Built on upload from the
 * validated tensor (cuda_weights.cu). */
UW_HD uint32_t uw_gv_patch_row(uint32_t x) { return x >> 16; }
UW_HD uint32_t uw_gv_patch_col(uint32_t x) { return (x >> 8) & 0xFFu; }
UW_HD uint32_t uw_gv_patch_exp(uint32_t x) { return x & 0xFFu; }

UW_GPU_NS_END
#endif
