/* backend.c - the registry of backends compiled into this build. CPU is always first; the
 * others are added by their CMake options (UW_OPENCL, UW_CUDA, UW_HIP) when their sources exist. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>

static const uw_backend *const registry[] = {
    &uw_backend_cpu,
#ifdef UW_WITH_OPENCL
    &uw_backend_opencl,
#endif
#ifdef UW_WITH_CUDA
    &uw_backend_cuda,
#endif
#ifdef UW_WITH_HIP
    &uw_backend_hip,
#endif
};

#define NREG (sizeof registry / sizeof registry[0])

size_t uw_backend_count(void) { return NREG; }

const char *uw_backend_name(size_t i) { return i < NREG ? registry[i]->name : NULL; }

uw_status uw_backend_probe(const char *name) {
    if (!name) return uw_error_set(UW_ERR_INVALID_ARG, "backend name is NULL");
    for (size_t i = 0; i < NREG; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i]->probe ? registry[i]->probe() : UW_OK;
    return uw_error_set(UW_ERR_NOT_FOUND, "backend '%s' is not compiled into this build", name);
}

/* ---- devices and resident weights: thin dispatch over the backend table ---- */


const char *uw_pipeline_name(uw_pipeline p) {
    switch (p) {
    case UW_PIPELINE_AUTO: return "auto";
    case UW_PIPELINE_DECODE_GEMM: return "decode+gemm";
    case UW_PIPELINE_EXP_PREDECODE: return "exp-predecode";
    case UW_PIPELINE_PALETTE_TRANSCODE: return "palette-transcode";
    case UW_PIPELINE_PALETTE_DIRECT: return "palette-direct";
    case UW_PIPELINE_FUSED_HUFFMAN: return "fused-huffman";
    case UW_PIPELINE_PLAIN_BF16: return "plain-bf16";
    case UW_PIPELINE_BLAS_BF16: return "blas-bf16";
    }
    return "unknown";
}

uw_status uw_pipeline_needs(uw_pipeline p, uint64_t rows, uint64_t cols, unsigned *resident, uint64_t *scratch) {
    uint64_t n = rows * cols;
    unsigned r;
    uint64_t sc = 0;
    switch (p) {
    case UW_PIPELINE_DECODE_GEMM: r = UW_RESIDENT_HUFFMAN, sc = 2 * n; break;       /* BF16 W */
    case UW_PIPELINE_EXP_PREDECODE: r = UW_RESIDENT_HUFFMAN, sc = n; break;         /* exponent plane */
    case UW_PIPELINE_PALETTE_TRANSCODE: r = UW_RESIDENT_HUFFMAN, sc = n + (n + 1) / 2; break; /* palette IR */
    case UW_PIPELINE_PALETTE_DIRECT: r = UW_RESIDENT_PALETTE; break;
    case UW_PIPELINE_FUSED_HUFFMAN: r = UW_RESIDENT_HUFFMAN; break;
    case UW_PIPELINE_PLAIN_BF16:
    case UW_PIPELINE_BLAS_BF16: r = UW_RESIDENT_BF16; break;
    default: return uw_error_set(UW_ERR_INVALID_ARG, "pipeline %d has no requirements (AUTO or unknown)", (int)p);
    }
    if (resident) *resident = r;
    if (scratch) *scratch = sc;
    return UW_OK;
}

uw_status uw_device_open(const char *backend, const char *device, uw_device **out) {
    UW_RETURN_ERROR_IF(!backend || !out, UW_ERR_INVALID_ARG, "uw_device_open: NULL argument");
    *out = NULL;
    const uw_backend *be = NULL;
    for (size_t i = 0; i < NREG; i++)
        if (!strcmp(registry[i]->name, backend)) be = registry[i];
    UW_RETURN_ERROR_IF(!be, UW_ERR_NOT_FOUND, "backend '%s' is not compiled into this build", backend);
    uw_device *d = calloc(1, sizeof *d);
    UW_RETURN_ERROR_IF(!d, UW_ERR_NOMEM, "out of memory");
    d->be = be;
    d->tuner = NULL;
    uw_status s = be->open(device, &d->ctx);
    if (s != UW_OK) {
        free(d);
        return s;
    }
    snprintf(d->name, sizeof d->name, "%s: %s", be->name, be->device_name ? be->device_name(d->ctx) : "default");
    *out = d;
    return UW_OK;
}

void uw_device_close(uw_device *d) {
    if (!d) return;
    if (d->be->close) d->be->close(d->ctx);
    free(d);
}

const char *uw_device_name(const uw_device *d) { return d ? d->name : ""; }

uw_status uw_weights_upload(uw_device *d, const void *blob, size_t size, unsigned resident, uw_weights **out) {
    UW_RETURN_ERROR_IF(!d || !blob || !out, UW_ERR_INVALID_ARG, "uw_weights_upload: NULL argument");
    *out = NULL;
    if (!resident) resident = UW_RESIDENT_HUFFMAN;
    UW_RETURN_ERROR_IF(resident & ~7u, UW_ERR_INVALID_ARG, "uw_weights_upload: unknown resident flags 0x%x", resident);
    uw_blob b;
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    if (uw_blob_compute_hash(blob, b.payload_end) != b.blob_hash)
        return uw_error_set(UW_ERR_CHECKSUM, "blob checksum mismatch (the compressed bytes are damaged)");
    UW_RETURN_ERROR_IF(b.codec == UW_CODEC_PALETTE && (resident & UW_RESIDENT_HUFFMAN), UW_ERR_INVALID_ARG,
                       "a palette-IR blob cannot be made resident as Huffman");
    uw_weights *w = calloc(1, sizeof *w);
    UW_RETURN_ERROR_IF(!w, UW_ERR_NOMEM, "out of memory");
    w->dev = d;
    w->rows = b.rows;
    w->cols = b.cols;
    w->resident = resident;
    uw_status s = d->be->upload(d->ctx, &b, resident, &w->wh);
    if (s != UW_OK) {
        free(w);
        return s;
    }
    *out = w;
    return UW_OK;
}

void uw_weights_free(uw_weights *w) {
    if (!w) return;
    w->dev->be->release(w->dev->ctx, w->wh);
    free(w);
}

uw_status uw_weights_decode(uw_weights *w, uint16_t *host_out, uint64_t elems) {
    UW_RETURN_ERROR_IF(!w || !host_out, UW_ERR_INVALID_ARG, "uw_weights_decode: NULL argument");
    UW_RETURN_ERROR_IF(elems != w->rows * w->cols, UW_ERR_INVALID_ARG, "uw_weights_decode: %llu elements given, tensor has %llu",
                       (unsigned long long)elems, (unsigned long long)(w->rows * w->cols));
    return w->dev->be->decode(w->dev->ctx, w->wh, host_out);
}

uw_status uw_weights_matmul(uw_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch) {
    UW_RETURN_ERROR_IF(!w || !x || !y || !batch, UW_ERR_INVALID_ARG, "uw_weights_matmul: NULL or empty argument");
    if (p == UW_PIPELINE_AUTO) {
        /* one look-up per call: the tuner's recorded choice, or the documented default */
        uw_choice c;
        UW_FORWARD_IF_ERROR(uw_weights_choice(w, batch, &c));
        for (int i = 0; i < c.nparams; i++) UW_FORWARD_IF_ERROR(w->dev->be->set_param(w->dev->ctx, c.param_names[i], c.param_values[i]));
        p = c.pipeline;
    }
    return w->dev->be->matmul(w->dev->ctx, w->wh, p, x, y, batch);
}

uw_status uw_weights_matmul_async(uw_weights *w, uw_pipeline p, const void *x_dev, void *y_dev, uint64_t batch, void *stream) {
    UW_RETURN_ERROR_IF(!w || !x_dev || !y_dev || !batch, UW_ERR_INVALID_ARG, "uw_weights_matmul_async: NULL or empty argument");
    UW_RETURN_ERROR_IF(!w->dev->be->matmul_dev, UW_ERR_UNSUPPORTED, "the %s backend takes no device pointers", w->dev->be->name);
    if (p == UW_PIPELINE_AUTO) { /* as uw_weights_matmul */
        uw_choice c;
        UW_FORWARD_IF_ERROR(uw_weights_choice(w, batch, &c));
        for (int i = 0; i < c.nparams; i++) UW_FORWARD_IF_ERROR(w->dev->be->set_param(w->dev->ctx, c.param_names[i], c.param_values[i]));
        p = c.pipeline;
    }
    return w->dev->be->matmul_dev(w->dev->ctx, w->wh, p, x_dev, y_dev, batch, stream);
}

uw_status uw_weights_upload_bf16(uw_device *d, const uint16_t *w, uint64_t rows, uint64_t cols, uw_weights **out) {
    UW_RETURN_ERROR_IF(!d || !w || !out, UW_ERR_INVALID_ARG, "uw_weights_upload_bf16: NULL argument");
    uw_encode_params p;
    uw_encode_params_default(&p);
    uint8_t *blob;
    size_t size;
    UW_FORWARD_IF_ERROR(uw_tensor_encode(w, rows, cols, &p, &blob, &size));
    uw_status s = uw_weights_upload(d, blob, size, UW_RESIDENT_BF16, out);
    free(blob);
    return s;
}

uw_status uw_weights_upload_budget(uw_device *d, const void *blob, size_t size, uint64_t budget, uw_weights **out) {
    uw_blob b;
    UW_RETURN_ERROR_IF(!d || !blob || !out, UW_ERR_INVALID_ARG, "uw_weights_upload_budget: NULL argument");
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    UW_RETURN_ERROR_IF(b.codec != UW_CODEC_HUFFMAN, UW_ERR_INVALID_ARG, "uw_weights_upload_budget: needs a Huffman blob");
    UW_RETURN_ERROR_IF(b.total > budget, UW_ERR_LIMIT, "the %llu-byte blob does not fit the %llu-byte budget",
                       (unsigned long long)b.total, (unsigned long long)budget);
    /* palette IR: nibbles + plane + exception index, ~1.5 bytes per weight */
    uint64_t palette = b.n + (b.n + 1) / 2 + 8 * (b.ntiles + 1) + 4096;
    unsigned res = UW_RESIDENT_HUFFMAN | (b.total + palette <= budget ? UW_RESIDENT_PALETTE : 0);
    return uw_weights_upload(d, blob, size, res, out);
}
