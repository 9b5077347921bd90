/* ocl_decode.c - launches the decode kernels (Huffman -> BF16 or exponent plane, palette IR ->
 * BF16) and the decode behind uw_weights_decode (device decode, copy to the host, checksum). */
#include <stdlib.h>

#include "ocl_internal.h"

#define ELEM_GROUP 64 /* work-group size of the element-parallel kernels */

size_t uw_ocl_lane_group(const ocl_ctx *c, int kernel, uint32_t lanes) {
    size_t g = 1, cap = c->prog->kwg[kernel] < c->wg ? c->prog->kwg[kernel] : c->wg;
    while (g < lanes && g * 2 <= cap) g *= 2;
    return g;
}

static size_t elem_group(const ocl_ctx *c, int kernel) {
    size_t g = ELEM_GROUP;
    while (g > c->prog->kwg[kernel]) g /= 2;
    return g ? g : 1;
}

/* the 19 arguments every Huffman kernel starts with (kernels/decode.cl UW_HUFF_ARGS) */
#define HUFF_NARGS 19
static uw_status huff_args(ocl_ctx *c, cl_kernel k, ocl_weights *w) {
    const uw_blob *b = &w->hb;
    return uw_ocl_args(k, 0, "mUUUUUUUuuUumumuuLm", &w->huff, (cl_ulong)b->off_tilebase, (cl_ulong)b->off_laneoff,
                       (cl_ulong)b->off_stream, (cl_ulong)b->off_plane, (cl_ulong)b->count, (cl_ulong)w->g.rows,
                       (cl_ulong)w->g.cols, (cl_uint)w->g.tile_rows, (cl_uint)w->g.tile_cols, (cl_ulong)w->g.tiles_c,
                       (cl_uint)w->g.lanes, &w->table, (cl_uint)w->tab_bits, &w->meta, (cl_uint)b->order,
                       (cl_uint)b->chunk, (size_t)UW_DT_NARROW_BYTES << w->tab_bits, &c->err);
}

uw_status uw_ocl_decode_huff(ocl_ctx *c, ocl_weights *w, cl_mem out) {
    cl_kernel k = c->prog->k[K_DECODE_HUFF];
    UW_FORWARD_IF_ERROR(huff_args(c, k, w));
    UW_FORWARD_IF_ERROR(uw_ocl_args(k, HUFF_NARGS, "m", &out));
    size_t local = uw_ocl_lane_group(c, K_DECODE_HUFF, w->g.lanes), global = w->g.ntiles * local;
    return uw_ocl_run(c, k, 1, &global, &local, "uw_decode_huff");
}

uw_status uw_ocl_exp_plane(ocl_ctx *c, ocl_weights *w, cl_mem exps, cl_mem counts) {
    cl_kernel k = c->prog->k[K_EXP_PLANE];
    UW_FORWARD_IF_ERROR(huff_args(c, k, w));
    cl_mem cnt = counts ? counts : c->err; /* a valid argument the kernel will not touch */
    UW_FORWARD_IF_ERROR(uw_ocl_args(k, HUFF_NARGS, "mmu", &exps, &cnt, (cl_uint)(counts != NULL)));
    size_t local = uw_ocl_lane_group(c, K_EXP_PLANE, w->g.lanes), global = w->g.ntiles * local;
    return uw_ocl_run(c, k, 1, &global, &local, "uw_exp_plane");
}

static uw_status pal_args(cl_kernel k, const ocl_pal *p) {
    cl_mem nib = p->nib, plane = p->plane, idx = p->idx, exc = p->exc;
    return uw_ocl_args(k, 0, "mUmUmUmU", &nib, (cl_ulong)p->o_nib, &plane, (cl_ulong)p->o_plane, &idx, (cl_ulong)p->o_idx,
                       &exc, (cl_ulong)p->o_exc);
}

uw_status uw_ocl_decode_pal(ocl_ctx *c, ocl_weights *w, const ocl_pal *p, cl_mem out) {
    cl_kernel k = c->prog->k[K_DECODE_PAL];
    UW_FORWARD_IF_ERROR(pal_args(k, p));
    UW_FORWARD_IF_ERROR(uw_ocl_args(k, 8, "muUmm", &w->meta, (cl_uint)w->nregular, (cl_ulong)w->g.n, &out, &c->err));
    size_t local = elem_group(c, K_DECODE_PAL), global = uw_ocl_round_up(w->g.n, local);
    UW_FORWARD_IF_ERROR(uw_ocl_run(c, k, 1, &global, &local, "uw_decode_pal"));
    k = c->prog->k[K_DECODE_PAL_EXC];
    UW_FORWARD_IF_ERROR(pal_args(k, p));
    UW_FORWARD_IF_ERROR(uw_ocl_args(k, 8, "UUuuUUmm", (cl_ulong)w->g.rows, (cl_ulong)w->g.cols, (cl_uint)w->g.tile_rows,
                                    (cl_uint)w->g.tile_cols, (cl_ulong)w->g.tiles_c, (cl_ulong)w->g.ntiles, &out, &c->err));
    local = elem_group(c, K_DECODE_PAL_EXC);
    global = uw_ocl_round_up(w->g.ntiles, local);
    return uw_ocl_run(c, k, 1, &global, &local, "uw_decode_pal_exc");
}

uw_status uw_ocl_decode_host(ocl_ctx *c, ocl_weights *w, uint16_t *host) {
    size_t bytes = w->g.n * 2;
    if (!w->huff && !w->has_pal) return uw_ocl_read(c, w->bf16, 0, bytes, host); /* checked on upload */
    cl_mem out;
    UW_FORWARD_IF_ERROR(uw_ocl_buffer(c, CL_MEM_WRITE_ONLY, bytes, NULL, &out));
    uw_status s = uw_ocl_err_reset(c);
    if (s == UW_OK) s = w->huff ? uw_ocl_decode_huff(c, w, out) : uw_ocl_decode_pal(c, w, &w->pal, out);
    if (s == UW_OK) s = uw_ocl_read(c, out, 0, bytes, host);
    if (s == UW_OK) s = uw_ocl_err_check(c, "decode");
    uw_ocl_release(&out);
    if (s == UW_OK && uw_hash64(host, bytes) != w->tensor_hash)
        s = uw_error_set(UW_ERR_CHECKSUM, "decoded tensor checksum mismatch (the compressed data is damaged)");
    return s;
}
