/* ocl_backend.c - the OpenCL backend's uw_backend table (core/backend.h): open, the autotuner's
 * per-call parameters, and one operation at a time per device. */
/* Operations are serialised because kernel arguments live in shared cl_kernel objects (setting
 * them is not thread-safe in OpenCL) and the error buffer is per context; the lock makes one
 * device safe to use from several threads. The context's defaults do not change after open: a
 * call's wg and acc come with the call (uw_call). Device
 * spec: "[P:D | name][,tile=RxC][,lanes=N][,wg=N][,acc=N][,lmem=BYTES][,retile=0|1]", or
 * UW_OPENCL_DEVICE when the spec is empty (docs/backends.md). */
#include <stdio.h>
#include <stdlib.h>

#include "../../core/backend.h"
#include "ocl_internal.h"

static void ocl_close(void *ctx) {
    ocl_ctx *c = ctx;
    if (!c) return;
    uw_ocl_release(&c->err);
    uw_ocl_programs_release(c);
    uw_ocl_device_close(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* the largest work-group every tile kernel of program p can launch with on this device */
static size_t mm_wg_cap(const ocl_ctx *c, const ocl_prog *p) {
    static const int tiled[] = {K_MM_PLAIN, K_MM_HUFF, K_MM_PAL, K_MM_EXP};
    size_t cap = c->max_wg;
    for (size_t i = 0; i < sizeof tiled / sizeof tiled[0]; i++)
        if (p->kwg[tiled[i]] < cap) cap = p->kwg[tiled[i]];
    return cap;
}

/* wg if the kernels allow it, else the largest power of two they do */
static uint32_t fit_wg(uint32_t wg, size_t cap) {
    if (wg <= cap) return wg;
    uint32_t g = 1;
    while (g * 2 <= cap) g *= 2;
    return g;
}

/* the defaults in effect (set once, at open) */
static void settle_wg(ocl_ctx *c) {
    c->wg_cap = mm_wg_cap(c, c->prog);
    c->wg = fit_wg(c->par.wg, c->wg_cap);
    if (c->wg != c->par.wg)
        uw_ocl_note(c, "work-group size %u is over what the matmul kernels allow here (%zu): using %u", c->par.wg, c->wg_cap, c->wg);
}

/* What the autotuner may vary per call (results do not depend on them: every output is one
 * work-item's sum in k order whatever the launch shape). The first value is the default. */
static void offer_params(ocl_ctx *c) {
    static const uint32_t wgs[] = {64, 32, 128, 256}, accs[] = {16, 8, 32};
    uw_param_desc *p = &c->params[0];
    p->name = "wg";
    p->values[p->nvalues++] = (int)c->wg;
    for (size_t i = 0; i < sizeof wgs / sizeof wgs[0]; i++)
        if (wgs[i] != c->wg && wgs[i] <= c->wg_cap && p->nvalues < UW_PARAM_MAX_VALUES) p->values[p->nvalues++] = (int)wgs[i];
    p = &c->params[1];
    p->name = "acc";
    p->values[p->nvalues++] = (int)c->par.nacc;
    for (size_t i = 0; i < sizeof accs / sizeof accs[0]; i++)
        if (accs[i] != c->par.nacc) p->values[p->nvalues++] = (int)accs[i];
}

static uw_status ocl_open(const char *spec, void **out) {
    ocl_ctx *c = calloc(1, sizeof *c);
    UW_RETURN_ERROR_IF(!c, UW_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    const char *dbg = getenv("UW_OPENCL_DEBUG");
    c->debug = dbg && *dbg && strcmp(dbg, "0");
    uw_status s = uw_ocl_parse_spec(spec, &c->par);
    if (s == UW_OK) s = uw_ocl_device_open(c);
    if (s == UW_OK) s = uw_ocl_program_get(c, c->par.nacc, &c->prog);
    if (s == UW_OK) {
        settle_wg(c);
        s = uw_ocl_buffer(c, CL_MEM_READ_WRITE, sizeof(cl_uint), NULL, &c->err);
    }
    if (s != UW_OK) {
        ocl_close(c);
        return s;
    }
    offer_params(c);
    char drv[64] = "", ver[64] = "";
    clGetDeviceInfo(c->device, CL_DRIVER_VERSION, sizeof drv - 1, drv, NULL);
    clGetDeviceInfo(c->device, CL_DEVICE_VERSION, sizeof ver - 1, ver, NULL);
    snprintf(c->driver, sizeof c->driver, "%s; driver %s", ver, drv);
    char full[sizeof c->name];
    snprintf(full, sizeof full, "%.150s; wg %u, acc %u, local %llu KiB, tile %ux%u/%u lanes when re-tiling", c->name, c->wg,
             c->prog->nacc, (unsigned long long)(c->lmem / 1024), c->par.tile_rows, c->par.tile_cols, c->par.lanes);
    memcpy(c->name, full, sizeof full);
    uw_ocl_note(c, "opened %s", c->name);
    *out = c;
    return UW_OK;
}

static const char *ocl_name(void *ctx) { return ((ocl_ctx *)ctx)->name; }

static uw_status ocl_upload(void *ctx, const uw_blob *b, unsigned resident, void **wh) {
    ocl_ctx *c = ctx;
    pthread_mutex_lock(&c->lock);
    uw_status s = uw_ocl_upload(c, b, resident, (ocl_weights **)wh);
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void ocl_release_w(void *ctx, void *wh) {
    ocl_ctx *c = ctx;
    pthread_mutex_lock(&c->lock);
    uw_ocl_weights_free(wh);
    pthread_mutex_unlock(&c->lock);
}

static uw_status ocl_decode(void *ctx, void *wh, uint16_t *out) {
    ocl_ctx *c = ctx;
    pthread_mutex_lock(&c->lock);
    uw_status s = uw_ocl_decode_host(c, wh, out);
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* The launch of one call: the program built for its `acc` (built on first use, then cached;
 * under the lock) and its `wg` fitted to that program's kernels. */
static uw_status call_run(ocl_ctx *c, const uw_call *call, ocl_run *r) {
    uint32_t wg = (uint32_t)uw_call_value(call, c->params, 0), acc = (uint32_t)uw_call_value(call, c->params, 1);
    r->prog = c->prog;
    if (acc != c->prog->nacc) UW_FORWARD_IF_ERROR(uw_ocl_program_get(c, acc, &r->prog));
    r->wg_cap = mm_wg_cap(c, r->prog);
    r->wg = fit_wg(wg, r->wg_cap);
    return UW_OK;
}

/* the core has checked that the pipeline's resident form is here */
static uw_status ocl_matmul(void *ctx, void *wh, const uw_call *call, const uint16_t *x, float *y, uint64_t batch) {
    ocl_ctx *c = ctx;
    ocl_run r;
    pthread_mutex_lock(&c->lock);
    uw_status s = call_run(c, call, &r);
    if (s == UW_OK) s = uw_ocl_matmul(c, wh, &r, call->pipeline, x, y, batch);
    pthread_mutex_unlock(&c->lock);
    return s;
}

static const uw_param_desc *ocl_param_list(void *ctx, int *count) {
    *count = 2;
    return ((ocl_ctx *)ctx)->params;
}

static const char *ocl_driver(void *ctx) { return ((ocl_ctx *)ctx)->driver; }

const uw_backend uw_backend_opencl = {
    .name = "opencl",
    .probe = uw_ocl_probe,
    .open = ocl_open,
    .close = ocl_close,
    .device_name = ocl_name,
    .upload = ocl_upload,
    .release = ocl_release_w,
    .decode = ocl_decode,
    .matmul = ocl_matmul,
    .params = ocl_param_list,
    .driver = ocl_driver,
};
