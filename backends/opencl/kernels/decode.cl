/* decode.cl - whole-tensor decode kernels: Huffman -> BF16 and Huffman -> exponent plane (a
 * work-group per tile, a work-item per lane), palette IR -> BF16. */

/* Arguments shared by the Huffman kernels: the blob and its section offsets, the code. */
#define UW_HUFF_ARGS                                                                            \
    __global const uchar *blob, ulong off_tilebase, ulong off_laneoff, ulong off_stream,        \
        ulong off_plane, ulong stream_bytes, ulong rows, ulong cols, uint tile_rows,            \
        uint tile_cols, ulong tiles_c, uint lanes, __global const ushort *gtab, uint bits,      \
        __global const uchar *meta, uint order, uint chunk, __local ushort *tab,      \
        __global volatile uint *err

/* tile t = group 0; lanes j = local ids (looping when there are more lanes than work-items) */
#define UW_TILE_SETUP                                                                           \
    ulong t = get_group_id(0), ntiles = ((rows + tile_rows - 1) / tile_rows) * tiles_c;         \
    ulong r0 = (t / tiles_c) * tile_rows, c0 = (t % tiles_c) * tile_cols;                       \
    uint tr = (uint)min((ulong)tile_rows, rows - r0), tc = (uint)min((ulong)tile_cols, cols - c0); \
    uchar pal[16];                                                                              \
    uw_load_code(gtab, bits, tab, meta, pal);                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                               \
    __global const uint *stream = (__global const uint *)(blob + off_stream);                   \
    ulong g0 = r0 * cols + c0

__kernel void uw_decode_huff(UW_HUFF_ARGS, __global ushort *out) {
    UW_TILE_SETUP;
    uint bad = 0, unused = 0;
    for (uint j = get_local_id(0); j < lanes; j += get_local_size(0)) {
        uw_lane l = uw_lane_at(blob, off_tilebase, off_laneoff, stream_bytes, ntiles, lanes, t, j, tr);
        bad |= uw_decode_lane(UW_EMIT_BF16, l, stream, tab, bits, pal, order, chunk, tc, 0, out, 0,
                              blob + off_plane, meta + 16, g0, cols, &unused);
    }
    uw_flag(err, bad);
}

/* counts[t * lanes + j]: exponents of lane j outside the palette (the palette IR's exceptions) */
__kernel void uw_exp_plane(UW_HUFF_ARGS, __global uchar *exps, __global uint *counts, uint want_counts) {
    UW_TILE_SETUP;
    uint bad = 0;
    for (uint j = get_local_id(0); j < lanes; j += get_local_size(0)) {
        uw_lane l = uw_lane_at(blob, off_tilebase, off_laneoff, stream_bytes, ntiles, lanes, t, j, tr);
        uint n = 0;
        bad |= uw_decode_lane(UW_EMIT_EXP, l, stream, tab, bits, pal, order, chunk, tc, 0, 0, exps,
                              blob + off_plane, meta + 16, g0, cols, &n);
        if (want_counts) counts[t * lanes + j] = n;
    }
    uw_flag(err, bad);
}

/* Palette IR, one work-item per element: palette[nibble] joined with the plane byte. */
__kernel void uw_decode_pal(UW_PAL_ARGS, __global const uchar *meta, uint nregular, ulong n, __global ushort *out,
                            __global volatile uint *err) {
    UW_PAL_SETUP;
    ulong i = get_global_id(0);
    if (i >= n) return;
    uint v = (nib[i >> 1] >> ((uint)(i & 1) * 4)) & 15u;
    if (v >= nregular) atomic_or(err, UW_DERR_PAL_INDEX);
    out[i] = uw_bf16_join(plane[i], meta[v]);
}

/* Palette IR exceptions, one work-item per tile, in order (the order is checked). */
__kernel void uw_decode_pal_exc(UW_PAL_ARGS, ulong rows, ulong cols, uint tile_rows, uint tile_cols, ulong tiles_c,
                                ulong ntiles, __global ushort *out, __global volatile uint *err) {
    UW_PAL_SETUP;
    ulong t = get_global_id(0);
    if (t >= ntiles) return;
    ulong r0 = (t / tiles_c) * tile_rows, c0 = (t % tiles_c) * tile_cols;
    uint tr = (uint)min((ulong)tile_rows, rows - r0), tc = (uint)min((ulong)tile_cols, cols - c0);
    long prev = -1;
    for (ulong q = idx[t]; q < idx[t + 1]; q++) {
        uint x = exc[q], p = x >> 8;
        if ((long)p <= prev || p >= tr * tc) {
            atomic_or(err, UW_DERR_EXC_ORDER);
            return;
        }
        prev = p;
        ulong gi = (r0 + p / tc) * cols + c0 + p % tc;
        if ((nib[gi >> 1] >> ((uint)(gi & 1) * 4)) & 15u) atomic_or(err, UW_DERR_EXC_NIBBLE);
        out[gi] = uw_bf16_join(plane[gi], (uchar)x);
    }
}
