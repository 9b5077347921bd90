/* matmul.cl - y = x W^T with W rebuilt tile by tile in local memory, one kernel body for every
 * pipeline. */
/* The kernels differ only in how a BF16 tile of W reaches local memory (copied, Huffman-decoded,
 * palette + exceptions, exponent plane + plane), so every pipeline rounds exactly alike
 * (contract C2): each output is one work-item's fp32 sum over k in increasing order. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef UW_NACC
#define UW_NACC 16
#endif

/* A work-group owns the outputs of one tile row-band (tr rows of W) for a chunk of nb batch
 * rows: pair p = (bi, r) with r = p mod tr; work-item lid holds pairs lid, lid + wg, ... */
#define UW_MM_ARGS                                                                              \
    __global const ushort *x, __global float *y, ulong batch, ulong rows, ulong cols,           \
        uint tile_rows, uint tile_cols, ulong tiles_c, uint bc, __local ushort *wt,             \
        __global volatile uint *err

#define UW_MM_SETUP                                                                             \
    ulong ti = get_group_id(0), b0 = (ulong)get_group_id(1) * bc, r0 = ti * tile_rows;          \
    uint tr = (uint)min((ulong)tile_rows, rows - r0), nb = (uint)min((ulong)bc, batch - b0);   \
    uint lid = get_local_id(0), wg = get_local_size(0);                                         \
    float acc[UW_NACC];                                                                         \
    for (uint a = 0; a < UW_NACC; a++) acc[a] = 0.0f

#define UW_MM_TILE_BEGIN                                                                        \
    for (ulong tj = 0; tj < tiles_c; tj++) {                                                    \
        ulong c0 = tj * tile_cols;                                                              \
        uint tc = (uint)min((ulong)tile_cols, cols - c0)

#define UW_MM_TILE_END                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                           \
        uw_mm_step(acc, wt, x, tr, tc, nb, b0, c0, cols);                                       \
        barrier(CLK_LOCAL_MEM_FENCE);                                                           \
    }                                                                                           \
    uw_mm_store(acc, y, tr, nb, b0, r0, rows)

/* The only arithmetic of every matmul kernel. */
static inline void uw_mm_step(float *acc, __local const ushort *wt, __global const ushort *x, uint tr, uint tc, uint nb,
                              ulong b0, ulong c0, ulong cols) {
    uint lid = get_local_id(0), wg = get_local_size(0), np = tr * nb;
    for (uint a = 0; a < UW_NACC; a++) {
        uint p = lid + a * wg;
        if (p >= np) break;
        uint r = p % tr, bi = p / tr;
        __global const ushort *xr = x + (b0 + bi) * cols + c0;
        __local const ushort *wr = wt + r * tc;
        float s = acc[a];
        for (uint k = 0; k < tc; k++) s = s + uw_bf(xr[k]) * uw_bf(wr[k]);
        acc[a] = s;
    }
}

static inline void uw_mm_store(const float *acc, __global float *y, uint tr, uint nb, ulong b0, ulong r0, ulong rows) {
    uint lid = get_local_id(0), wg = get_local_size(0), np = tr * nb;
    for (uint a = 0; a < UW_NACC; a++) {
        uint p = lid + a * wg;
        if (p >= np) break;
        y[(b0 + p / tr) * rows + r0 + p % tr] = acc[a];
    }
}

/* plain BF16 weights (the C2 reference) */
__kernel void uw_mm_plain(UW_MM_ARGS, __global const ushort *w) {
    UW_MM_SETUP;
    UW_MM_TILE_BEGIN;
    for (uint i = lid; i < tr * tc; i += wg) {
        uint r = i / tc, c = i - r * tc;
        wt[i] = w[(r0 + r) * cols + c0 + c];
    }
    UW_MM_TILE_END;
}

/* exponent plane (exp-predecode scratch) + sign/mantissa plane */
__kernel void uw_mm_exp(UW_MM_ARGS, __global const uchar *exps, __global const uchar *planeb, ulong o_plane) {
    UW_MM_SETUP;
    __global const uchar *plane = planeb + o_plane;
    UW_MM_TILE_BEGIN;
    for (uint i = lid; i < tr * tc; i += wg) {
        uint r = i / tc, c = i - r * tc;
        ulong gi = (r0 + r) * cols + c0 + c;
        wt[i] = uw_bf16_join(plane[gi], exps[gi]);
    }
    UW_MM_TILE_END;
}

/* palette IR: nibbles through the palette, then the tile's exceptions patched in */
__kernel void uw_mm_pal(UW_MM_ARGS, UW_PAL_ARGS, __global const uchar *meta, uint nregular) {
    UW_MM_SETUP;
    UW_PAL_SETUP;
    uchar pal[16];
    for (uint i = 0; i < 16; i++) pal[i] = meta[i];
    uint bad = 0;
    UW_MM_TILE_BEGIN;
    for (uint i = lid; i < tr * tc; i += wg) {
        uint r = i / tc, c = i - r * tc;
        ulong gi = (r0 + r) * cols + c0 + c;
        uint v = (nib[gi >> 1] >> ((uint)(gi & 1) * 4)) & 15u;
        if (v >= nregular) bad |= UW_DERR_PAL_INDEX;
        wt[i] = uw_bf16_join(plane[gi], pal[v]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    ulong t = ti * tiles_c + tj, q0 = idx[t], q1 = idx[t + 1];
    for (ulong q = q0 + lid; q < q1; q += wg) {
        uint xv = exc[q], p = xv >> 8;
        if (p >= tr * tc || (q > q0 && (exc[q - 1] >> 8) >= p)) {
            bad |= UW_DERR_EXC_ORDER;
            continue;
        }
        ulong gi = (r0 + p / tc) * cols + c0 + p % tc;
        if ((nib[gi >> 1] >> ((uint)(gi & 1) * 4)) & 15u) bad |= UW_DERR_EXC_NIBBLE;
        wt[p] = (ushort)((wt[p] & 0x807Fu) | ((xv & 0xFFu) << 7));
    }
    UW_MM_TILE_END;
    uw_flag(err, bad);
}

/* Huffman blob, decoded inside the matmul: each work-item decodes lanes of the tile into
 * exponents (E << 7), then all of them merge the plane bytes in */
__kernel void uw_mm_huff(UW_MM_ARGS, __global const uchar *blob, ulong off_tilebase, ulong off_laneoff, ulong off_stream,
                         ulong off_plane, ulong stream_bytes, uint lanes, __global const ushort *gtab, uint bits,
                         __global const uchar *meta, uint order, uint chunk, __local ushort *tab) {
    UW_MM_SETUP;
    uchar pal[16];
    uw_load_code(gtab, bits, tab, meta, pal);
    barrier(CLK_LOCAL_MEM_FENCE);
    __global const uint *stream = (__global const uint *)(blob + off_stream);
    __global const uchar *plane = blob + off_plane;
    ulong ntiles = ((rows + tile_rows - 1) / tile_rows) * tiles_c;
    uint bad = 0, unused = 0;
    UW_MM_TILE_BEGIN;
    ulong t = ti * tiles_c + tj;
    for (uint j = lid; j < lanes; j += wg) {
        uw_lane l = uw_lane_at(blob, off_tilebase, off_laneoff, stream_bytes, ntiles, lanes, t, j, tr);
        bad |= uw_decode_lane(UW_EMIT_TILE, l, stream, tab, bits, pal, order, chunk, tc, wt, 0, 0, plane, meta + 16,
                              0, cols, &unused);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = lid; i < tr * tc; i += wg) {
        uint r = i / tc, c = i - r * tc;
        uint pb = plane[(r0 + r) * cols + c0 + c];
        wt[i] = (ushort)(wt[i] | ((pb & 0x80u) << 8) | (pb & 0x7Fu));
    }
    UW_MM_TILE_END;
    uw_flag(err, bad);
}
