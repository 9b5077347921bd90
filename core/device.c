/* device.c - devices and resident weights: thin dispatch over the backend table (core/backend.h)
 * for open, upload, decode and release, and the list of built backends. The matmul calls are in
 * dispatch.c. */
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"

static const uw_backend *find_backend(const char *name) {
    const uw_backend *be;
    for (size_t i = 0; (be = uw_backend_registry(i)) != NULL; i++)
        if (!strcmp(be->name, name)) return be;
    return NULL;
}

size_t uw_backend_count(void) {
    size_t n = 0;
    while (uw_backend_registry(n)) n++;
    return n;
}

const char *uw_backend_name(size_t i) {
    const uw_backend *be = uw_backend_registry(i);
    return be ? be->name : NULL;
}

uw_status uw_backend_probe(const char *name) {
    if (!name) return uw_error_set(UW_ERR_INVALID_ARG, "backend name is NULL");
    const uw_backend *be = find_backend(name);
    if (!be) return uw_error_set(UW_ERR_NOT_FOUND, "backend '%s' is not compiled into this build", name);
    return be->probe ? be->probe() : UW_OK;
}

uw_status uw_device_open(const char *backend, const char *device, uw_device **out) {
    UW_RETURN_ERROR_IF(!backend || !out, UW_ERR_INVALID_ARG, "uw_device_open: NULL argument");
    *out = NULL;
    const uw_backend *be = find_backend(backend);
    UW_RETURN_ERROR_IF(!be, UW_ERR_NOT_FOUND, "backend '%s' is not compiled into this build", backend);
    uw_device *d = calloc(1, sizeof *d);
    UW_RETURN_ERROR_IF(!d, UW_ERR_NOMEM, "out of memory");
    d->be = be;
    uw_status s = be->open(device, &d->ctx);
    if (s != UW_OK) {
        free(d);
        return s;
    }
    snprintf(d->name, sizeof d->name, "%s: %s", be->name, be->device_name ? be->device_name(d->ctx) : "default");
    int np = 0;
    d->params = be->params ? be->params(d->ctx, &np) : NULL;
    d->nparams = d->params ? (np < UW_PARAM_MAX ? np : UW_PARAM_MAX) : 0;
    *out = d;
    return UW_OK;
}

void uw_device_close(uw_device *d) {
    if (!d) return;
    if (d->be->close) d->be->close(d->ctx);
    free(d);
}

const char *uw_device_name(const uw_device *d) { return d ? d->name : ""; }
const char *uw_device_backend(const uw_device *d) { return d ? d->be->name : ""; }
const char *uw_device_driver(const uw_device *d) { return d && d->be->driver ? d->be->driver(d->ctx) : "-"; }

void uw_device_set_tuner(uw_device *d, uw_tuner *t) {
    if (d) d->tuner = t;
}

int uw_device_param_count(const uw_device *d) { return d ? d->nparams : 0; }

uw_status uw_device_param_info(const uw_device *d, int i, uw_param_info *info) {
    UW_RETURN_ERROR_IF(!d || !info, UW_ERR_INVALID_ARG, "uw_device_param_info: NULL argument");
    UW_RETURN_ERROR_IF(i < 0 || i >= d->nparams, UW_ERR_INVALID_ARG, "%s has %d per-call parameters, not %d", d->name, d->nparams,
                       i + 1);
    const uw_param_desc *pd = &d->params[i];
    memset(info, 0, sizeof *info);
    info->name = pd->name;
    info->nvalues = pd->nvalues < UW_PARAM_MAX_VALUES ? pd->nvalues : UW_PARAM_MAX_VALUES;
    memcpy(info->values, pd->values, (size_t)info->nvalues * sizeof info->values[0]);
    return UW_OK;
}

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

uw_device *uw_weights_device(const uw_weights *w) { return w ? w->dev : NULL; }

uw_status uw_weights_shape(const uw_weights *w, uint64_t *rows, uint64_t *cols) {
    UW_RETURN_ERROR_IF(!w, UW_ERR_INVALID_ARG, "uw_weights_shape: NULL weights");
    if (rows) *rows = w->rows;
    if (cols) *cols = w->cols;
    return UW_OK;
}

uw_status uw_weights_decode(uw_weights *w, uint16_t *host_out, uint64_t elems) {
    UW_RETURN_ERROR_IF(!w || !host_out, UW_ERR_INVALID_ARG, "uw_weights_decode: NULL argument");
    UW_RETURN_ERROR_IF(elems != w->rows * w->cols, UW_ERR_INVALID_ARG, "uw_weights_decode: %llu elements given, tensor has %llu",
                       (unsigned long long)elems, (unsigned long long)(w->rows * w->cols));
    return w->dev->be->decode(w->dev->ctx, w->wh, host_out);
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
