/* backend.h - the backend interface: a const table of function pointers plus a probe. The
 * core never includes a vendor header and names no backend; each backend defines one uw_backend
 * and backends/registry.c lists those built. Optional members may be NULL and are checked by the
 * core. A backend context is immutable after open, or guards what it changes, so one device may
 * serve several threads at once (the contract in include/unweight.h). */
#ifndef UW_BACKEND_H
#define UW_BACKEND_H

#include "../codecs/blob.h"

/* per-call parameters a backend may offer (as many as a uw_choice holds); each has at most
 * UW_PARAM_MAX_VALUES candidate values (include/unweight.h) */
#define UW_PARAM_MAX UW_CHOICE_MAX_PARAMS

typedef struct uw_param_desc {
    const char *name;
    int nvalues;
    int values[UW_PARAM_MAX_VALUES]; /* values[0] is the default */
} uw_param_desc;

/* What one matmul call runs: a concrete pipeline (never AUTO; the core has checked that its
 * resident form is there) and the value of each of the backend's per-call parameters, in the
 * order of its params() list. Parameters at index nparams and above take their default
 * (values[0] of the descriptor); nparams 0 = every one at its default. Every value given is one
 * the descriptor offers (the core checks). */
typedef struct uw_call {
    uw_pipeline pipeline;
    int nparams;
    int values[UW_PARAM_MAX];
} uw_call;

/* the value of parameter i of a call (pd: the backend's params() list) */
static inline int uw_call_value(const uw_call *call, const uw_param_desc *pd, int i) {
    return i < call->nparams ? call->values[i] : pd[i].values[0];
}

typedef struct uw_backend {
    const char *name;
    /* UW_OK if a usable device exists now; UW_ERR_NO_DEVICE otherwise (never aborts) */
    uw_status (*probe)(void);
    /* open a device (spec may be NULL); *ctx is the backend's context */
    uw_status (*open)(const char *spec, void **ctx);
    void (*close)(void *ctx);
    const char *(*device_name)(void *ctx);
    /* make a parsed, checksum-verified blob resident (mask of UW_RESIDENT_*: every form asked
     * for is held afterwards, others may be); *wh = handle */
    uw_status (*upload)(void *ctx, const uw_blob *b, unsigned resident, void **wh);
    void (*release)(void *ctx, void *wh);
    /* decode resident weights to host BF16 */
    uw_status (*decode)(void *ctx, void *wh, uint16_t *host_out);
    /* y = x W^T with host x/y; UW_ERR_UNSUPPORTED for pipelines the backend does not offer.
     * May run on several threads at once with one ctx and one wh. */
    uw_status (*matmul)(void *ctx, void *wh, const uw_call *call, const uint16_t *x, float *y, uint64_t batch);
    /* optional (NULL = none): the tunable per-call parameters with their candidate values, fixed
     * at open (at most UW_PARAM_MAX); the autotuner (core/tuner.c) times them through uw_call */
    const uw_param_desc *(*params)(void *ctx, int *count);
    /* optional: driver/runtime version for the tuning-cache key */
    const char *(*driver)(void *ctx);
    /* optional (NULL = UW_ERR_UNSUPPORTED): y = x W^T with x/y in device memory, enqueued on the
     * caller's stream (`stream` is the vendor's stream handle, NULL = its default stream);
     * returns without synchronising. Keep the optional members last: the CUDA/HIP table is filled
     * in order (C++), naming every member, the C ones by designated initializers. */
    uw_status (*matmul_dev)(void *ctx, void *wh, const uw_call *call, const void *x_dev, void *y_dev, uint64_t batch, void *stream);
    /* optional (0 = no): with the Huffman and the palette forms both resident, the default for an
     * untuned shape is palette-direct, not fused-huffman (docs/TUNING.md) */
    int default_palette;
} uw_backend;

/* The backends built into this library, in the order `uw_backend_name` lists them (cpu first);
 * NULL past the end. Defined by backends/registry.c, the one file that knows which exist. */
const uw_backend *uw_backend_registry(size_t i);

/* The objects behind the public device API (core/device.c, core/dispatch.c). Nothing in them
 * changes after open/upload except `tuner` (uw_device_set_tuner, not concurrent with use). */
struct uw_device {
    const uw_backend *be;
    void *ctx;
    char name[256];
    uw_tuner *tuner; /* consulted by UW_PIPELINE_AUTO; may be NULL */
    const uw_param_desc *params; /* the backend's per-call parameters (fixed at open) */
    int nparams;
};

struct uw_weights {
    uw_device *dev;
    void *wh;
    uint64_t rows, cols;
    unsigned resident;
};

#endif
