/* cuda_blas.cu - the vendor BLAS (cuBLAS; its names come from uw_gpu.h), loaded on first use with
 * dlopen: programs that link libunweight but never open a GPU device (the CLI, CPU users) do not
 * load or initialise the 100+ MB library, and a machine without it still runs every other
 * pipeline (decode+gemm and blas-bf16 then answer UW_ERR_UNSUPPORTED). Search order:
 * $UW_CUBLAS_LIBRARY, the versioned soname on the loader path, the toolkit's library directory
 * known at build time (UW_CUDA_LIBDIR), the unversioned name. decode+gemm and blas-bf16 call the
 * same GEMM with the same shapes, types, handle and stream-default workspace (setting the stream
 * resets the library to its default workspace pool, and one shared workspace would race between
 * callers' streams), so the library picks the same algorithm for both: decode+gemm is compared
 * bit for bit with blas-bf16. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"

UW_GPU_NS_BEGIN

struct cu_blas {
    void *lib;
    uw_blas_handle h;
    uw_blas_create_fn create;
    uw_blas_destroy_fn destroy;
    uw_blas_set_stream_fn set_stream;
    void *gemm;
    char why[160];
};

static void *open_lib(char *why, size_t n) {
    const char *env = getenv(UW_BLAS_ENV);
    const char *names[] = {env && *env ? env : NULL, UW_BLAS_SONAME,
#ifdef UW_CUDA_LIBDIR
                           UW_CUDA_LIBDIR "/" UW_BLAS_SONAME,
#endif
                           UW_BLAS_SONAME_ANY};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!names[i]) continue;
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
    }
    const char *e = dlerror();
    snprintf(why, n, "%s not found (%s)", UW_BLAS_NAME, e ? e : "dlopen failed");
    return NULL;
}

/* Load and create the handle once per context; UW_ERR_UNSUPPORTED if the library is missing. */
static uw_status blas_get(cu_ctx *c, cu_blas **out) {
    if (!c->blas) {
        cu_blas *b = (cu_blas *)calloc(1, sizeof *b);
        UW_RETURN_ERROR_IF(!b, UW_ERR_NOMEM, "out of memory");
        c->blas = b;
        b->lib = open_lib(b->why, sizeof b->why);
        if (b->lib) {
            b->create = (uw_blas_create_fn)dlsym(b->lib, UW_BLAS_SYM_CREATE);
            b->destroy = (uw_blas_destroy_fn)dlsym(b->lib, UW_BLAS_SYM_DESTROY);
            b->set_stream = (uw_blas_set_stream_fn)dlsym(b->lib, UW_BLAS_SYM_SET_STREAM);
            b->gemm = dlsym(b->lib, UW_BLAS_SYM_GEMM);
            if (!b->create || !b->destroy || !b->set_stream || !b->gemm)
                snprintf(b->why, sizeof b->why, "%s lacks an entry point this build needs", UW_BLAS_NAME);
            else if (b->create(&b->h) != UW_BLAS_OK)
                snprintf(b->why, sizeof b->why, "creating a %s handle failed", UW_BLAS_NAME);
        }
    }
    cu_blas *b = (cu_blas *)c->blas;
    UW_RETURN_ERROR_IF(b->why[0], UW_ERR_UNSUPPORTED, "cuda: %s", b->why);
    *out = b;
    return UW_OK;
}

void uw_cu_blas_close(cu_ctx *c) {
    cu_blas *b = (cu_blas *)c->blas;
    if (!b) return;
    if (b->h) b->destroy(b->h);
    if (b->lib) dlclose(b->lib);
    free(b);
    c->blas = NULL;
}

uw_status uw_cu_blas_gemm(cu_ctx *c, const uint16_t *wdev, uint64_t rows, uint64_t cols, const uint16_t *x, float *y,
                          uint64_t batch, uw_gpu_stream s) {
    UW_RETURN_ERROR_IF(rows > 0x7FFFFFFF || cols > 0x7FFFFFFF || batch > 0x7FFFFFFF, UW_ERR_LIMIT, "cuda: shape over the BLAS's int range");
    cu_blas *b = NULL;
    UW_FORWARD_IF_ERROR(blas_get(c, &b));
    UW_RETURN_ERROR_IF(b->set_stream(b->h, s) != UW_BLAS_OK, UW_ERR_BACKEND, "cuda: setting the %s stream failed", UW_BLAS_NAME);
    uw_blas_status r = uw_blas_gemm_bf16(b->gemm, b->h, wdev, (int)rows, (int)cols, x, y, (int)batch);
    UW_RETURN_ERROR_IF(r != UW_BLAS_OK, UW_ERR_BACKEND, "cuda: %s GEMM failed (%d)", UW_BLAS_NAME, (int)r);
    return UW_OK;
}

UW_GPU_NS_END
