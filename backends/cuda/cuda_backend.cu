/* cuda_backend.cu - the CUDA (and, compiled as HIP, the HIP) backend's uw_backend table
 * (core/backend.h): named UW_GPU_VENDOR, C symbol UW_GPU_BACKEND (uw_gpu.h). Host-pointer entry
 * points run on the context's own stream and block (the public API's contract); matmul_dev
 * enqueues on the caller's stream and synchronises nothing. One operation per context at a time
 * (the cuBLAS handle, the error word and lazily made tensor maps are per context or weight): the
 * lock covers host-side work only. The runtime's current device is per host thread, so every
 * entry point selects the context's device first: a device opened on one thread may be used on
 * any other. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"

/* host code only: the table is host data, which clang's HIP device pass would otherwise emit,
 * host function pointers and all (UW_GPU_HOST_PASS, uw_gpu.h) */
#if UW_GPU_HOST_PASS
UW_GPU_NS_BEGIN

static uw_status be_probe(void) { return uw_cu_probe(); }

/* take the context for one operation, on this thread's side: the lock, then the device */
static uw_status enter(cu_ctx *c) {
    pthread_mutex_lock(&c->lock);
    uw_gpu_error e = uw_gpu_set_device(c->device);
    if (e == UW_GPU_SUCCESS) return UW_OK;
    pthread_mutex_unlock(&c->lock);
    return uw_cu_fail(e, "selecting the device");
}

static uw_status be_open(const char *spec, void **ctx) { return uw_cu_open(spec, (cu_ctx **)ctx); }

static void be_close(void *ctx) { uw_cu_close((cu_ctx *)ctx); }

static const char *be_name(void *ctx) { return ((cu_ctx *)ctx)->name; }

static const char *be_driver(void *ctx) { return ((cu_ctx *)ctx)->driver; }

static uw_status be_upload(void *ctx, const uw_blob *b, unsigned resident, void **wh) {
    cu_ctx *c = (cu_ctx *)ctx;
    UW_FORWARD_IF_ERROR(enter(c));
    uw_status s = uw_cu_upload(c, b, resident, (cu_weights **)wh);
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void be_release(void *ctx, void *wh) {
    cu_ctx *c = (cu_ctx *)ctx;
    pthread_mutex_lock(&c->lock);
    (void)uw_gpu_set_device(c->device); /* (freeing goes on even if this fails) */
    (void)uw_gpu_stream_sync(c->stream); /* nothing of ours may still read it */
    uw_cu_weights_free((cu_weights *)wh);
    pthread_mutex_unlock(&c->lock);
}

static uw_status be_decode(void *ctx, void *wh, uint16_t *out) {
    cu_ctx *c = (cu_ctx *)ctx;
    UW_FORWARD_IF_ERROR(enter(c));
    uw_status s = uw_cu_decode_host(c, (cu_weights *)wh, out);
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* (no per-call parameters: call->pipeline is all a call carries here) */
static uw_status be_matmul(void *ctx, void *wh, const uw_call *call, const uint16_t *x, float *y, uint64_t batch) {
    cu_ctx *c = (cu_ctx *)ctx;
    UW_FORWARD_IF_ERROR(enter(c));
    uw_status s = uw_cu_matmul_host(c, (cu_weights *)wh, call->pipeline, x, y, batch);
    pthread_mutex_unlock(&c->lock);
    return s;
}

static uw_status be_matmul_dev(void *ctx, void *wh, const uw_call *call, const void *x, void *y, uint64_t batch, void *stream) {
    cu_ctx *c = (cu_ctx *)ctx;
    UW_FORWARD_IF_ERROR(enter(c));
    uw_status s = uw_cu_matmul_dev(c, (cu_weights *)wh, call->pipeline, (const uint16_t *)x, (float *)y, batch, (uw_gpu_stream)stream);
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* No per-call parameters for the autotuner: the two knobs (k-split, kernel family) change the
 * fp32 accumulation order, i.e. the output bits of every pipeline; they stay device-spec options
 * (splitk=, kernel=), fixed per context. */

UW_GPU_NS_END

using namespace UW_GPU_NS;
extern "C" const uw_backend UW_GPU_BACKEND = {
    /* name */ UW_GPU_VENDOR,
    /* probe */ be_probe,
    /* open */ be_open,
    /* close */ be_close,
    /* device_name */ be_name,
    /* upload */ be_upload,
    /* release */ be_release,
    /* decode */ be_decode,
    /* matmul */ be_matmul,
    /* params */ NULL,
    /* driver */ be_driver,
    /* matmul_dev */ be_matmul_dev,
    /* default_palette: no; the model predicts fused-huffman the faster (docs/PERFORMANCE.md) */ 0,
};
#endif
