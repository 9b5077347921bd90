/* ocl_matmul.c - y = x W^T per pipeline, each ending in a kernels/matmul.cl kernel with the
 * same launch shape, hence bit-identical to plain-bf16 by construction (contract C2). */
#include <stdlib.h>

#include "ocl_internal.h"

uint64_t uw_ocl_mm_local_bytes(uint32_t band, uint32_t span, uint32_t tab_bits) {
    return (uint64_t)band * span * 2 + ((uint64_t)UW_DT_NARROW_BYTES << tab_bits);
}

typedef struct mm_launch {
    const ocl_prog *prog; /* the matmul kernels of this call */
    cl_mem x, y;
    cl_uint bc;
    size_t global[2], local[2];
} mm_launch;

/* the 11 arguments every matmul kernel starts with (kernels/matmul.cl UW_MM_ARGS) */
static uw_status mm_args(ocl_ctx *c, cl_kernel k, const ocl_weights *w, mm_launch *L, uint64_t batch) {
    return uw_ocl_args(k, 0, "mmUUUuuUuLm", &L->x, &L->y, (cl_ulong)batch, (cl_ulong)w->g.rows, (cl_ulong)w->g.cols,
                       (cl_uint)w->g.tile_rows, (cl_uint)w->g.tile_cols, (cl_ulong)w->g.tiles_c, L->bc,
                       (size_t)w->g.band * w->g.span * 2, &c->err);
}

static uw_status mm_pal(ocl_ctx *c, ocl_weights *w, const ocl_pal *p, mm_launch *L, uint64_t batch) {
    cl_kernel k = L->prog->k[K_MM_PAL];
    cl_mem nib = p->nib, plane = p->plane, idx = p->idx, exc = p->exc;
    UW_FORWARD_IF_ERROR(mm_args(c, k, w, L, batch));
    UW_FORWARD_IF_ERROR(uw_ocl_args(k, 11, "mUmUmUmUmu", &nib, (cl_ulong)p->o_nib, &plane, (cl_ulong)p->o_plane, &idx,
                                    (cl_ulong)p->o_idx, &exc, (cl_ulong)p->o_exc, &w->meta, (cl_uint)w->nregular));
    return uw_ocl_run(c, k, 2, L->global, L->local, "uw_mm_pal");
}

static uw_status mm_plain(ocl_ctx *c, ocl_weights *w, cl_mem wbuf, mm_launch *L, uint64_t batch) {
    cl_kernel k = L->prog->k[K_MM_PLAIN];
    UW_FORWARD_IF_ERROR(mm_args(c, k, w, L, batch));
    UW_FORWARD_IF_ERROR(uw_ocl_args(k, 11, "m", &wbuf));
    return uw_ocl_run(c, k, 2, L->global, L->local, "uw_mm_plain");
}

/* the core has checked that p's resident form is here; decode and transcode steps run with the
 * context's default program and work-group size, the matmul kernel with the call's */
static uw_status run_pipeline(ocl_ctx *c, ocl_weights *w, uw_pipeline p, mm_launch *L, uint64_t batch) {
    const uw_blob *b = &w->hb;
    uw_status s;
    switch (p) {
    case UW_PIPELINE_PLAIN_BF16:
        return mm_plain(c, w, w->bf16, L, batch);
    case UW_PIPELINE_PALETTE_DIRECT:
        return mm_pal(c, w, &w->pal, L, batch);
    case UW_PIPELINE_DECODE_GEMM: {
        cl_mem scratch;
        UW_FORWARD_IF_ERROR(uw_ocl_buffer(c, CL_MEM_READ_WRITE, w->g.n * 2, NULL, &scratch));
        s = uw_ocl_decode_huff(c, w, scratch);
        if (s == UW_OK) s = mm_plain(c, w, scratch, L, batch);
        uw_ocl_release(&scratch); /* freed once the queued kernels are done with it */
        return s;
    }
    case UW_PIPELINE_EXP_PREDECODE: {
        cl_mem exps;
        UW_FORWARD_IF_ERROR(uw_ocl_buffer(c, CL_MEM_READ_WRITE, w->g.n, NULL, &exps));
        s = uw_ocl_exp_plane(c, w, exps, NULL);
        if (s == UW_OK) {
            cl_kernel k = L->prog->k[K_MM_EXP];
            s = mm_args(c, k, w, L, batch);
            if (s == UW_OK) s = uw_ocl_args(k, 11, "mmU", &exps, &w->huff, (cl_ulong)b->off_plane);
            if (s == UW_OK) s = uw_ocl_run(c, k, 2, L->global, L->local, "uw_mm_exp");
        }
        uw_ocl_release(&exps);
        return s;
    }
    case UW_PIPELINE_PALETTE_TRANSCODE: {
        ocl_pal tp;
        UW_FORWARD_IF_ERROR(uw_ocl_transcode(c, w, &tp));
        s = mm_pal(c, w, &tp, L, batch);
        uw_ocl_pal_release(&tp);
        return s;
    }
    case UW_PIPELINE_FUSED_HUFFMAN: {
        cl_kernel k = L->prog->k[K_MM_HUFF];
        UW_FORWARD_IF_ERROR(mm_args(c, k, w, L, batch));
        UW_FORWARD_IF_ERROR(uw_ocl_args(k, 11, "mUUUUUumumuuL", &w->huff, (cl_ulong)b->off_tilebase, (cl_ulong)b->off_laneoff,
                                        (cl_ulong)b->off_stream, (cl_ulong)b->off_plane, (cl_ulong)b->count,
                                        (cl_uint)w->g.lanes, &w->table, (cl_uint)w->tab_bits, &w->meta, (cl_uint)b->order,
                                        (cl_uint)b->chunk, (size_t)UW_DT_NARROW_BYTES << w->tab_bits));
        return uw_ocl_run(c, k, 2, L->global, L->local, "uw_mm_huff");
    }
    default:
        return uw_error_set(UW_ERR_UNSUPPORTED, "the opencl backend does not offer pipeline %s", uw_pipeline_name(p));
    }
}

uw_status uw_ocl_matmul(ocl_ctx *c, ocl_weights *w, const ocl_run *r, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch) {
    mm_launch L;
    memset(&L, 0, sizeof L);
    L.prog = r->prog;
    /* a band's rows must fit the work-group's accumulators; upload made sure of it for the
     * default parameters, and a call's smaller wg x acc grows the work-group here */
    uint64_t nacc = r->prog->nacc, wg = r->wg;
    if (wg * nacc < w->g.band) wg = (w->g.band + nacc - 1) / nacc;
    if (wg > r->wg_cap)
        return uw_error_set(UW_ERR_BACKEND, "opencl: %u-row tiles need %llu work-items of %llu accumulators, the kernels allow %zu",
                            w->g.band, (unsigned long long)wg, (unsigned long long)nacc, r->wg_cap);
    /* batch chunk: as many batch rows as the work-group's accumulators cover for a full band */
    uint64_t per = nacc * wg / w->g.band;
    L.bc = (cl_uint)(per < 1 ? 1 : per > batch ? batch : per);
    L.local[0] = wg;
    L.local[1] = 1;
    L.global[0] = w->g.tiles_r * wg;
    L.global[1] = (batch + L.bc - 1) / L.bc;
    size_t xb = batch * w->g.cols * 2, yb = batch * w->g.rows * 4;
    uw_status s = uw_ocl_buffer(c, CL_MEM_READ_ONLY, xb, x, &L.x);
    if (s == UW_OK) s = uw_ocl_buffer(c, CL_MEM_WRITE_ONLY, yb, NULL, &L.y);
    if (s == UW_OK) s = uw_ocl_err_reset(c);
    if (s == UW_OK) s = run_pipeline(c, w, p, &L, batch);
    if (s == UW_OK) s = uw_ocl_read(c, L.y, 0, yb, y);
    if (s == UW_OK) s = uw_ocl_err_check(c, uw_pipeline_name(p));
    uw_ocl_release(&L.x);
    uw_ocl_release(&L.y);
    return s;
}
