/* uw_gemv.cuh - the steps of the GEMV family (batch <= 16; docs/PERFORMANCE.md, design 1), written
 * once for its kernel (uw_gemv.cu, CUDA and HIP) and for the host tests that run them on the CPU
 * (tests/test_cuda_host_gemv.cu): the work decomposition and the order of the sums, the
 * branch-free order-2 lane decoder, the palette lookup and the join of exponents and plane bytes.
 *
 * Work decomposition (the same for every pipeline of a weight, so C2 holds; independent of the
 * batch size):
 *   - a step is one 32-column chunk of one band (64 rows: a tile row of the 64x256 resident form),
 *     64 lane slots (the band's rows; slots past the matrix masked) x 32 columns. The steps in
 *     order: band by band, in a band tile by tile, in a tile chunk by chunk, so step
 *     s = (band * tiles_c + kt) * 8 + chunk of S = bands * tiles_c * 8 (a last tile narrower
 *     than 256 keeps its 8 steps: their columns past K are skipped);
 *   - G CTAs of Q = 8 units each; unit u of U = G Q owns the steps [floor(u S / U),
 *     floor((u + 1) S / U)): stream-K over the global step order, units differ by one step at
 *     most;
 *   - a unit adds the steps of a band in step (column) order into its partial sums w_u; a band
 *     wholly inside one unit is written to y from them; every other band is summed in a fixed
 *     order, first over the CTA's units, then over the CTAs that hold some of it:
 *         y[n][r] = sum over CTAs c = c_lo..c_hi of ( sum over units u of c of w_u[n][r] ),
 *     each sum left to right (units and CTAs without steps of the band skipped).
 * The accumulation order of an output is therefore fixed by (rows, cols, G); every pipeline of
 * the family shares it. docs/CONFORMANCE.md (section 4.3, the GEMV family) states it in full. */
#ifndef UW_GEMV_CUH
#define UW_GEMV_CUH

#include "uw_kern_common.cuh"

UW_GPU_NS_BEGIN

#define UW_GV_SLOTS 64      /* lane slots per step: the rows of a band */
#define UW_GV_CHUNK 32      /* columns per step */
#define UW_GV_TILE 256      /* tile columns of the resident form the family reads */
#define UW_GV_TSTEPS 8      /* steps per tile */
#define UW_GV_UNITS 8       /* units per CTA */
#define UW_GV_NB_MAX 16     /* batch rows of the largest instance */
#define UW_GV_LEN_SHIFT 27  /* GEMV table entry: bits consumed in bits 27-31 */
#define UW_GV_STREAM_CAP 6656 /* bytes of a tile's stream a group stages (3.25 bits/weight; uploads check) */
#define UW_GV_PATCH_MAX 64  /* patch entries of one step the kernel takes (uploads check) */

/* ---------------------------------------------------------------- decomposition ----------- */

UW_HD uint32_t uw_gv_div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* the step order of a rows x cols weight over G CTAs */
struct uw_gv_grid {
    uint32_t rows, cols, tiles_c, bands;
    uint32_t nbs;   /* steps per band */
    uint32_t S, G, U;
};
UW_HD uw_gv_grid uw_gv_grid_of(uint32_t rows, uint32_t cols, uint32_t G) {
    uw_gv_grid g;
    g.rows = rows;
    g.cols = cols;
    g.tiles_c = uw_gv_div_up(cols, UW_GV_TILE);
    g.bands = uw_gv_div_up(rows, UW_GV_SLOTS);
    g.nbs = g.tiles_c * UW_GV_TSTEPS;
    g.S = g.bands * g.nbs;
    g.G = G;
    g.U = G * UW_GV_UNITS;
    return g;
}
/* the first step of unit u (u = U: S) */
UW_HD uint32_t uw_gv_unit_begin(const uw_gv_grid &g, uint32_t u) { return (uint32_t)(((uint64_t)u * g.S) / g.U); }
/* the unit holding step s < S: the last one starting at or before s (a unit without steps holds none) */
UW_HD uint32_t uw_gv_unit_of(const uw_gv_grid &g, uint32_t s) { return (uint32_t)(((uint64_t)(s + 1) * g.U - 1) / g.S); }
/* rows of band b inside the matrix (1..64) */
UW_HD uint32_t uw_gv_band_rows(const uw_gv_grid &g, uint32_t b) { return uw_minu(UW_GV_SLOTS, g.rows - UW_GV_SLOTS * b); }
/* the slot (0: its first band; 1: its last) where unit u keeps its partial sums of band b */
UW_HD uint32_t uw_gv_unit_slot(const uw_gv_grid &g, uint32_t u, uint32_t b) { return uw_gv_unit_begin(g, u) / g.nbs == b ? 0 : 1; }
/* the same for CTA c, whose partial sums of a band it shares with other CTAs leave it */
UW_HD uint32_t uw_gv_cta_slot(const uw_gv_grid &g, uint32_t c, uint32_t b) { return uw_gv_unit_slot(g, c * UW_GV_UNITS, b); }

/* A band that CTA c sums over its units: one crossing a unit boundary inside the CTA or one of
 * its edges. Candidate k = 0..Q is the band around the start of unit cQ + k (k = Q: the CTA's
 * end); 0 when that boundary is not inside a band the CTA holds (neighbouring candidates may
 * name the same band). u0..u1: the CTA's units holding some of the band (those without steps
 * among them hold none); cross: other CTAs hold some too. */
struct uw_gv_fold {
    uint32_t band, u0, u1, cross;
};
UW_HD int uw_gv_fold_at(const uw_gv_grid &g, uint32_t c, uint32_t k, uw_gv_fold *f) {
    const uint32_t bc = uw_gv_unit_begin(g, c * UW_GV_UNITS), ec = uw_gv_unit_begin(g, (c + 1) * UW_GV_UNITS);
    const uint32_t t = uw_gv_unit_begin(g, c * UW_GV_UNITS + k);
    if (bc == ec || t == 0 || t >= g.S || t % g.nbs == 0) return 0;
    const uint32_t b = t / g.nbs, b0 = b * g.nbs, b1 = b0 + g.nbs;
    if (b1 <= bc || b0 >= ec) return 0;
    f->band = b;
    f->u0 = uw_gv_unit_of(g, b0 > bc ? b0 : bc);
    f->u1 = uw_gv_unit_of(g, (b1 < ec ? b1 : ec) - 1);
    f->cross = b0 < bc || b1 > ec;
    return 1;
}
/* the CTAs holding steps of band b: c0..c1 (those without steps among them hold none) */
UW_HD void uw_gv_band_ctas(const uw_gv_grid &g, uint32_t b, uint32_t *c0, uint32_t *c1) {
    *c0 = uw_gv_unit_of(g, b * g.nbs) / UW_GV_UNITS;
    *c1 = uw_gv_unit_of(g, b * g.nbs + g.nbs - 1) / UW_GV_UNITS;
}
/* NVIDIA: the unit of its CTA that warp w runs; the warps of a scheduler (w, w + 4) run
 * neighbouring units, whose steps add up to at most ceil(2 S / U) */
UW_HD uint32_t uw_gv_unit_of_warp(uint32_t w) { return ((w & 3u) << 1) | (w >> 2); }

/* the lane holding row r of a tile of tr rows and 64 lanes (FORMAT.md: lane j covers rows
 * [j tr / 64, (j + 1) tr / 64), so in a tile of fewer than 64 rows most lanes are empty) */
UW_HD uint32_t uw_gv_lane_of_row(uint32_t r, uint32_t tr) { return ((r + 1) * UW_GV_SLOTS - 1) / tr; }

/* Staging a tile's stream: its 64 lanes are the tile's bytes [tb, te) from stream byte off_stream;
 * they are copied as the 16-byte-aligned bytes around them plus 8 bytes of look-ahead. Its size: */
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
        (void)mask; /* (the table has every 12-bit index: the code's bits are the window's low 12, times 4) */
        asm volatile("{\n.reg .pred p;\n.reg .b32 t;\n"
                     "shf.r.wrap.b32 t, %1, %2, %3;\n"
                     "shl.b32 t, t, 20;\n"
                     "shr.u32 t, t, 18;\n"
                     "add.u32 t, t, %5;\n"
                     "ld.shared.u32 %0, [t];\n"
                     "shr.u32 t, %0, 27;\n"
                     "add.u32 %3, %3, t;\n"
                     "setp.ge.u32 p, %3, 32;\n"
                     "@p mov.b32 %1, %2;\n"
                     "@p ld.shared.u32 %2, [%4];\n"
                     "@p add.u32 %4, %4, 4;\n"
                     "@p sub.u32 %3, %3, 32;\n}"
                     : "=r"(e), "+r"(w0), "+r"(w1), "+r"(pos), "+r"(next)
                     : "r"(tab));
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

/* (a & m) | (c & ~m), m = 0x80808080 in every byte: one lop3 (the compiler splits the two masks) */
UW_HD uint32_t uw_gv_sel80(uint32_t a, uint32_t c) {
#if defined(__CUDA_ARCH__)
    uint32_t r;
    asm("lop3.b32 %0, %1, 0x80808080, %2, 0xE2;" : "=r"(r) : "r"(a), "r"(c));
    return r;
#else
    return (a & 0x80808080u) | (c & 0x7F7F7F7Fu);
#endif
}
/* Four BF16 (two words, element order) from four exponents and four plane bytes (FORMAT.md
 * section 2: v = (P & 0x80) << 8 | E << 7 | (P & 0x7F)): per byte, the high half is the sign and
 * E >> 1, the low half E's last bit and the mantissa; then interleave. 6 instructions (a shift,
 * a multiply, two lop3, two prmt). */
UW_HD void uw_gv_join4(uint32_t E4, uint32_t P4, uint32_t *o01, uint32_t *o23) {
    const uint32_t hi = uw_gv_sel80(P4, E4 >> 1);
    const uint32_t lo = uw_gv_sel80(E4 << 7, P4);
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
/* four BF16 from four nibbles (the low 16 bits of n, element k in bits 4k..4k+3; prmt reads no
 * other bits) and plane bytes */
UW_HD void uw_gv_pal4(const uw_gv_paltab &t, uint32_t n, uint32_t P4, uint32_t *o01, uint32_t *o23) {
    const uint32_t n2 = n ^ 0x8888u;
    const uint32_t h = uw_gv_prmt(t.ht[0], t.ht[1], n) | uw_gv_prmt(t.ht[2], t.ht[3], n2);
    const uint32_t l = uw_gv_prmt(t.lt[0], t.lt[1], n) | uw_gv_prmt(t.lt[2], t.lt[3], n2);
    const uint32_t hi = uw_gv_sel80(P4, h);
    const uint32_t lo = uw_gv_sel80(l << 1, P4);
    *o01 = uw_gv_prmt(lo, hi, 0x5140);
    *o23 = uw_gv_prmt(lo, hi, 0x7362);
}

/* ---------------------------------------------------------------- patch list -------------- */

/* The exponents the stream does not carry (Huffman escapes; palette IR exceptions), step by step:
 * an index per step (the global step order: S + 1 entries) into entries
 * (row << 5 | column) << 8 | exponent, row 0..63 within the band and column 0..31 within the
 * step's chunk; at most UW_GV_PATCH_MAX per step. Built on upload from the validated tensor
 * (cuda_gemv_upload.cu). */
UW_HD uint32_t uw_gv_patch_entry(uint32_t row, uint32_t col, uint32_t e) { return (row << 5 | col) << 8 | e; }
UW_HD uint32_t uw_gv_patch_row(uint32_t x) { return x >> 13; }
UW_HD uint32_t uw_gv_patch_col(uint32_t x) { return (x >> 8) & 31u; }
UW_HD uint32_t uw_gv_patch_exp(uint32_t x) { return x & 0xFFu; }
/* a joined BF16 with its exponent replaced */
UW_HD uint16_t uw_gv_patch_bf16(uint16_t v, uint32_t x) { return (uint16_t)((v & 0x807Fu) | (uw_gv_patch_exp(x) << 7)); }

UW_GPU_NS_END
#endif
