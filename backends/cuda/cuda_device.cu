/* cuda_device.cu - finding a device, the device spec, and the context: the stream the
 * host-pointer API runs on, a stream-ordered scratch pool, the error word and the tensor-map
 * encoder (cuTensorMapEncodeTiled, fetched through the runtime so that no driver library is
 * linked); cuBLAS is loaded on first use (cuda_blas.cu). With no GPU or no driver every entry
 * point reports UW_ERR_NO_DEVICE and never aborts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"

UW_GPU_NS_BEGIN

uw_status uw_cu_fail(uw_gpu_error e, const char *what) {
    if (e == UW_GPU_ERROR_OOM) return uw_error_set(UW_ERR_NOMEM, UW_GPU_VENDOR ": %s: out of device memory", what);
    return uw_error_set(UW_ERR_BACKEND, UW_GPU_VENDOR ": %s: %s (%s)", what, uw_gpu_error_name(e), uw_gpu_error_string(e));
}

void uw_cu_note(const cu_ctx *c, const char *fmt, ...) {
    if (!c || !c->debug) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "unweight " UW_GPU_VENDOR ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Number of devices; 0 (never an abort) when there is no GPU, no driver, or a driver too old. */
static int device_count(uw_gpu_error *why) {
    int n = 0; /* left untouched by the runtime on failure */
    *why = uw_gpu_get_device_count(&n);
    if (*why != UW_GPU_SUCCESS) {
        (void)uw_gpu_get_last_error(); /* clear the sticky-free error state */
        return 0;
    }
    return n;
}

/* The vendor runtime, where it is loaded at run time (HIP): without it, no device. */
static uw_status runtime_ready(void) {
    const char *why = uw_gpu_runtime_load();
    return why ? uw_error_set(UW_ERR_NO_DEVICE, UW_GPU_VENDOR ": %s", why) : UW_OK;
}

uw_status uw_cu_probe(void) {
    UW_FORWARD_IF_ERROR(runtime_ready());
    uw_gpu_error why;
    if (device_count(&why) > 0) return UW_OK;
    return uw_error_set(UW_ERR_NO_DEVICE, UW_GPU_VENDOR ": no usable GPU (%s)",
                        why == UW_GPU_SUCCESS ? "no " UW_GPU_VENDOR " device present" : uw_gpu_error_string(why));
}

static int is_pow2_in(uint32_t v, uint32_t lo, uint32_t hi) { return v >= lo && v <= hi && !(v & (v - 1)); }

/* "[N][,tile=RxC][,lanes=L][,kernel=auto|generic|hopper|gemv][,splitk=S]" (any order). */
uw_status uw_cu_parse_spec(const char *spec, cu_params *p) {
    memset(p, 0, sizeof *p);
    p->tile_rows = UW_GPU_DEFAULT_TILE_ROWS;
    p->tile_cols = UW_GPU_DEFAULT_TILE_COLS;
    p->lanes = UW_GPU_DEFAULT_LANES;
    if (!spec || !*spec) spec = getenv(UW_GPU_ENV_DEVICE);
    if (!spec) return UW_OK;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned a, b;
        int v;
        char word[16];
        if (sscanf(tok, "tile=%ux%u", &a, &b) == 2) {
            p->tile_rows = a;
            p->tile_cols = b;
        } else if (sscanf(tok, "lanes=%u", &a) == 1) {
            p->lanes = a;
        } else if (sscanf(tok, "splitk=%d", &v) == 1 && v >= 0 && v <= 64) {
            p->splitk = v;
        } else if (sscanf(tok, "kernel=%15s", word) == 1) {
            if (!strcmp(word, "auto")) p->kernel = 0;
            else if (!strcmp(word, "generic")) p->kernel = UW_FAM_GENERIC;
            else if (!strcmp(word, "hopper")) p->kernel = UW_FAM_HOPPER;
            else if (!strcmp(word, "gemv")) p->kernel = UW_FAM_GEMV;
            else return uw_error_set(UW_ERR_INVALID_ARG, UW_GPU_VENDOR " device spec: kernel=%s (auto, generic, hopper or gemv)", word);
        } else if (sscanf(tok, "%d", &v) == 1 && v >= 0 && strspn(tok, "0123456789") == strlen(tok)) {
            p->device = v;
        } else {
            return uw_error_set(UW_ERR_INVALID_ARG,
                                UW_GPU_VENDOR " device spec '%s': unknown item '%s' (N, tile=RxC, lanes=L, kernel=, splitk=)", spec, tok);
        }
    }
    if (!is_pow2_in(p->tile_rows, 16, 64) || !is_pow2_in(p->tile_cols, 64, 256))
        return uw_error_set(UW_ERR_INVALID_ARG, UW_GPU_VENDOR " device spec: tile=%ux%u (rows 16, 32 or 64; columns 64, 128 or 256)",
                            p->tile_rows, p->tile_cols);
    if (p->lanes < 1 || p->lanes > p->tile_rows)
        return uw_error_set(UW_ERR_INVALID_ARG, UW_GPU_VENDOR " device spec: lanes=%u (1..tile rows %u)", p->lanes, p->tile_rows);
    return UW_OK;
}

uw_status uw_cu_tmap_2d(const cu_ctx *c, uw_gpu_tmap *m, const void *base, uint64_t dim0, uint64_t dim1, uint64_t stride1_bytes,
                        uint32_t box0, uint32_t box1) {
    UW_RETURN_ERROR_IF((uintptr_t)m % alignof(uw_gpu_tmap), UW_ERR_BACKEND,
                       UW_GPU_VENDOR ": tensor map storage at %p is not %zu-byte aligned (cuTensorMapEncodeTiled needs 64)", (void *)m,
                       alignof(uw_gpu_tmap));
    UW_RETURN_ERROR_IF(!c->tmap_encode, UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": no tensor-map encoder (driver too old)");
    UW_RETURN_ERROR_IF(!uw_gpu_tmap_bf16_2d(c->tmap_encode, m, base, dim0, dim1, stride1_bytes, box0, box1), UW_ERR_BACKEND,
                       UW_GPU_VENDOR ": %s failed for a %llux%llu map", UW_GPU_TMAP_ENCODER, (unsigned long long)dim0, (unsigned long long)dim1);
    return UW_OK;
}

void uw_cu_close(cu_ctx *c) {
    if (!c) return;
    (void)uw_gpu_set_device(c->device); /* closed on whichever thread: this device's objects */
    if (c->stream) (void)uw_gpu_stream_sync(c->stream);
    uw_cu_blas_close(c);
    uw_cu_free(c->err);
    uw_cu_free(c->gemv_ws);
    if (c->gemv_done) (void)uw_gpu_event_destroy(c->gemv_done);
    if (c->pool) (void)uw_gpu_mempool_destroy(c->pool);
    if (c->stream) (void)uw_gpu_stream_destroy(c->stream);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

uw_status uw_cu_open(const char *spec, cu_ctx **out) {
    *out = NULL;
    cu_params par;
    UW_FORWARD_IF_ERROR(uw_cu_parse_spec(spec, &par));
    UW_FORWARD_IF_ERROR(runtime_ready());
    uw_gpu_error why;
    int n = device_count(&why);
    if (n == 0) return uw_cu_probe();
    UW_RETURN_ERROR_IF(par.device >= n, UW_ERR_NO_DEVICE, UW_GPU_VENDOR ": device %d asked for, %d present", par.device, n);
    cu_ctx *c = (cu_ctx *)calloc(1, sizeof *c);
    UW_RETURN_ERROR_IF(!c, UW_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->par = par;
    c->device = par.device;
    const char *dbg = getenv(UW_GPU_ENV_DEBUG);
    c->debug = dbg && *dbg && strcmp(dbg, "0");
    uw_status s = UW_OK;
#define OPEN_TRY(call, what)                                                                   \
    do {                                                                                       \
        uw_gpu_error e_ = (call);                                                              \
        if (s == UW_OK && e_ != UW_GPU_SUCCESS) s = uw_cu_fail(e_, (what));                    \
    } while (0)
    OPEN_TRY(uw_gpu_set_device(c->device), "selecting the device");
    OPEN_TRY(uw_gpu_get_props(&c->props, c->device), "reading device properties");
    if (s == UW_OK) OPEN_TRY(uw_gpu_stream_create(&c->stream), "creating a stream");
    if (s == UW_OK) OPEN_TRY(uw_gpu_mempool_make(c->device, &c->pool), "creating the scratch pool");
    if (s == UW_OK) s = uw_cu_alloc((void **)&c->err, sizeof(uint32_t), "error word");
    if (s == UW_OK) OPEN_TRY(uw_gpu_memset(c->err, 0, sizeof(uint32_t)), "clearing the error word");
#undef OPEN_TRY
    if (s != UW_OK) {
        uw_cu_close(c);
        return s;
    }
    c->smem_optin = uw_gpu_smem_optin(&c->props);
    c->tmap_encode = uw_gpu_driver_entry(UW_GPU_TMAP_ENCODER);
    c->hopper = uw_cu_hopper_usable(c);
    if (par.kernel == UW_FAM_HOPPER && !c->hopper) {
        s = uw_error_set(UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": kernel=hopper asked for, but %s (compute %d.%d) cannot run the sm_90a kernels%s",
                         c->props.name, c->props.major, c->props.minor,
                         UW_GPU_HAS_HOPPER && c->props.major == 9 ? " (build with CMAKE_CUDA_ARCHITECTURES containing 90a)" : "");
        uw_cu_close(c);
        return s;
    }
    if (par.kernel == UW_FAM_GENERIC) c->hopper = 0;
    uw_gpu_versions(c->driver, sizeof c->driver);
    char arch[64];
    uw_gpu_arch_name(&c->props, arch, sizeof arch);
    snprintf(c->name, sizeof c->name, "%.100s (%.40s, %d " UW_GPU_UNITS ", %zu KiB smem/block); %s kernels; tile %ux%u/%u lanes", c->props.name,
             arch, c->props.multiProcessorCount, c->smem_optin / 1024,
             c->hopper ? "hopper (wgmma+TMA) and generic" : "generic (" UW_GPU_BAND_MMA_NAME ")", par.tile_rows, par.tile_cols, par.lanes);
    uw_cu_note(c, "opened %s; %s", c->name, c->driver);
    *out = c;
    return UW_OK;
}

UW_GPU_NS_END
