/* transcode.cl - Huffman -> palette IR (docs/FORMAT.md section 8) from the exponent plane that
 * uw_exp_plane decoded: each lane's exceptions, then the nibble plane. */
#pragma OPENCL FP_CONTRACT OFF

/* One work-item per (tile, lane): the lane's rows are consecutive in the tile, so lanes in order
 * give each tile's exceptions in increasing position, as the IR requires. */
__kernel void uw_tc_exc(__global const uchar *exps, __global const uchar *meta, __global const ulong *lane_off, ulong rows,
                        ulong cols, uint tile_rows, uint tile_cols, ulong tiles_c, uint lanes, ulong ntiles,
                        __global uint *exc) {
    ulong g = get_global_id(0);
    if (g >= ntiles * lanes) return;
    ulong t = g / lanes;
    uint j = (uint)(g % lanes);
    ulong r0 = (t / tiles_c) * tile_rows, c0 = (t % tiles_c) * tile_cols;
    uint tr = (uint)min((ulong)tile_rows, rows - r0), tc = (uint)min((ulong)tile_cols, cols - c0);
    ulong o = lane_off[g];
    for (uint r = uw_lane_row_begin(tr, lanes, j); r < uw_lane_row_begin(tr, lanes, j + 1); r++)
        for (uint c = 0; c < tc; c++) {
            uchar e = exps[(r0 + r) * cols + c0 + c];
            if (meta[16 + e] == 0xFF) exc[o++] = ((r * tc + c) << 8) | e;
        }
}

/* One work-item per nibble byte; an exception's nibble is 0. */
__kernel void uw_tc_nib(__global const uchar *exps, __global const uchar *meta, ulong n, __global uchar *nib) {
    ulong i = get_global_id(0);
    if (i >= (n + 1) / 2) return;
    uint lo = meta[16 + exps[2 * i]], hi = 2 * i + 1 < n ? meta[16 + exps[2 * i + 1]] : 0;
    lo = lo == 0xFF ? 0 : lo;
    hi = hi == 0xFF ? 0 : hi;
    nib[i] = (uchar)(lo | (hi << 4));
}
