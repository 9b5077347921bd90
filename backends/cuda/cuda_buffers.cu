/* cuda_buffers.cu - device buffers: resident allocations (cudaMalloc), stream-ordered scratch
 * from the context's pool (no implicit synchronisation), and the error word the kernels set
 * when a stream breaks docs/FORMAT.md section 7 (UW_DERR_* bits, codecs/decode_steps.h). */
#include "cuda_internal.h"

UW_GPU_NS_BEGIN

uw_status uw_cu_alloc(void **p, size_t bytes, const char *what) {
    *p = NULL;
    uw_gpu_error e = uw_gpu_malloc(p, bytes ? bytes : 16);
    if (e != UW_GPU_SUCCESS) {
        *p = NULL;
        (void)uw_gpu_get_last_error();
        return uw_cu_fail(e, what);
    }
    return UW_OK;
}

void uw_cu_free(void *p) {
    if (p) (void)uw_gpu_free(p);
}

uw_status uw_cu_scratch(cu_ctx *c, uw_gpu_stream s, size_t bytes, void **p) {
    *p = NULL;
    uw_gpu_error e = uw_gpu_malloc_async(p, bytes ? bytes : 16, c->pool, s);
    if (e != UW_GPU_SUCCESS) {
        *p = NULL;
        (void)uw_gpu_get_last_error();
        return uw_cu_fail(e, "scratch allocation");
    }
    return UW_OK;
}

void uw_cu_scratch_free(uw_gpu_stream s, void *p) {
    if (p) (void)uw_gpu_free_async(p, s);
}

uw_status uw_cu_err_reset(cu_ctx *c, uw_gpu_stream s) {
    CU_TRY(uw_gpu_memset_async(c->err, 0, sizeof(uint32_t), s), "clearing the error word");
    return UW_OK;
}

uw_status uw_cu_err_check(cu_ctx *c, uw_gpu_stream s, const char *what) {
    uint32_t bits = 0;
    CU_TRY(uw_gpu_d2h_async(&bits, c->err, sizeof bits, s), "reading the error word");
    CU_TRY(uw_gpu_stream_sync(s), what);
    if (!bits) return UW_OK;
    CU_TRY(uw_gpu_memset_async(c->err, 0, sizeof(uint32_t), s), "clearing the error word");
    return uw_derr_status(bits, UW_GPU_VENDOR ": %s", what);
}

uw_status uw_cu_launch_check(const char *what) {
    uw_gpu_error e = uw_gpu_get_last_error();
    if (e != UW_GPU_SUCCESS) return uw_cu_fail(e, what);
    return UW_OK;
}

UW_GPU_NS_END
