/* ocl_transcode.c - Huffman -> palette IR on the device, for the palette-transcode pipeline and
 * the resident palette form. */
#include <stdlib.h>

#include "ocl_internal.h"

void uw_ocl_pal_release(ocl_pal *p) {
    for (int i = 0; i < 4; i++) uw_ocl_release(&p->own[i]);
    memset(p, 0, sizeof *p);
}

/* counts -> per-lane exception offsets and the per-tile index Q (T + 1 entries) */
static uw_status prefix(const ocl_geom *g, const cl_uint *counts, cl_ulong *lane_off, cl_ulong *idx, uint64_t *total) {
    uint64_t s = 0;
    for (uint64_t t = 0; t < g->ntiles; t++) {
        idx[t] = s;
        for (uint32_t j = 0; j < g->lanes; j++) {
            lane_off[t * g->lanes + j] = s;
            s += counts[t * g->lanes + j];
        }
    }
    idx[g->ntiles] = s;
    *total = s;
    if (s > g->n) return uw_error_set(UW_ERR_CORRUPT, "blob: more exceptions than elements");
    return UW_OK;
}

uw_status uw_ocl_transcode(ocl_ctx *c, ocl_weights *w, ocl_pal *p) {
    memset(p, 0, sizeof *p);
    const ocl_geom *g = &w->g;
    uint64_t nl = g->ntiles * g->lanes;
    cl_mem exps = NULL, counts = NULL, lane_off = NULL;
    cl_uint *hc = malloc(nl * sizeof *hc);
    cl_ulong *hl = malloc(nl * sizeof *hl), *hi = malloc((g->ntiles + 1) * sizeof *hi);
    uw_status s = hc && hl && hi ? UW_OK : uw_error_set(UW_ERR_NOMEM, "transcode: out of memory");
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_READ_WRITE, g->n, NULL, &exps);
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_READ_WRITE, nl * sizeof *hc, NULL, &counts);
    if (s == UW_OK) s = uw_ocl_err_reset(c);
    if (s == UW_OK) s = uw_ocl_exp_plane(c, w, exps, counts);
    if (s == UW_OK) s = uw_ocl_read(c, counts, 0, nl * sizeof *hc, hc);
    if (s == UW_OK) s = uw_ocl_err_check(c, "transcode");
    if (s == UW_OK) s = prefix(g, hc, hl, hi, &p->nexc);
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_READ_ONLY, nl * sizeof *hl, hl, &lane_off);
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_READ_ONLY, (g->ntiles + 1) * sizeof *hi, hi, &p->own[0]);
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_READ_WRITE, p->nexc * 4, NULL, &p->own[1]);
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_READ_WRITE, (g->n + 1) / 2, NULL, &p->own[2]);
    if (s == UW_OK) {
        cl_kernel k = c->prog->k[K_TC_EXC];
        size_t local = uw_ocl_lane_group(c, K_TC_EXC, 64), global = uw_ocl_round_up(nl, local);
        s = uw_ocl_args(k, 0, "mmmUUuuUuUm", &exps, &w->meta, &lane_off, (cl_ulong)g->rows, (cl_ulong)g->cols,
                        (cl_uint)g->tile_rows, (cl_uint)g->tile_cols, (cl_ulong)g->tiles_c, (cl_uint)g->lanes,
                        (cl_ulong)g->ntiles, &p->own[1]);
        if (s == UW_OK) s = uw_ocl_run(c, k, 1, &global, &local, "uw_tc_exc");
    }
    if (s == UW_OK) {
        cl_kernel k = c->prog->k[K_TC_NIB];
        size_t local = uw_ocl_lane_group(c, K_TC_NIB, 64), global = uw_ocl_round_up((g->n + 1) / 2, local);
        s = uw_ocl_args(k, 0, "mmUm", &exps, &w->meta, (cl_ulong)g->n, &p->own[2]);
        if (s == UW_OK) s = uw_ocl_run(c, k, 1, &global, &local, "uw_tc_nib");
    }
    /* the kernels are queued in order: the scratch buffers may be released now, OpenCL keeps
     * them alive until the commands that use them have run */
    uw_ocl_release(&exps);
    uw_ocl_release(&counts);
    uw_ocl_release(&lane_off);
    free(hc);
    free(hl);
    free(hi);
    if (s != UW_OK) {
        uw_ocl_pal_release(p);
        return s;
    }
    p->idx = p->own[0];
    p->exc = p->own[1];
    p->nib = p->own[2];
    p->plane = w->huff;
    p->o_plane = w->hb.off_plane;
    return UW_OK;
}
