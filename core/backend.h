/* backend.h - the backend interface: a const table of function pointers plus a probe. The
 * core never includes a vendor header; each backend registers one uw_backend. Optional members
 * may be NULL and are checked by the core. */
#ifndef UW_BACKEND_H
#define UW_BACKEND_H

#include "blob.h"

#define UW_PARAM_MAX_VALUES 8
typedef struct uw_param_desc {
    const char *name;
    int nvalues;
    int values[UW_PARAM_MAX_VALUES]; /* values[0] is the default */
} uw_param_desc;

typedef struct uw_backend {
    const char *name;
    /* UW_OK if a usable device exists now; UW_ERR_NO_DEVICE otherwise (never aborts) */
    uw_status (*probe)(void);
    /* open a device (spec may be NULL); *ctx is the backend's context */
    uw_status (*open)(const char *spec, void **ctx);
    void (*close)(void *ctx);
    const char *(*device_name)(void *ctx);
    /* make a parsed, checksum-verified blob resident (mask of UW_RESIDENT_*); *wh = handle */
    uw_status (*upload)(void *ctx, const uw_blob *b, unsigned resident, void **wh);
    void (*release)(void *ctx, void *wh);
    /* decode resident weights to host BF16 */
    uw_status (*decode)(void *ctx, void *wh, uint16_t *host_out);
    /* y = x W^T with host x/y; UW_ERR_UNSUPPORTED for pipelines the backend does not offer */
    uw_status (*matmul)(void *ctx, void *wh, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch);
    /* optional (NULL = none): the tunable per-call parameters, with their candidate values; the
     * autotuner sets them with set_param before timing (core/tuner.c) */
    const uw_param_desc *(*params)(void *ctx, int *count);
    uw_status (*set_param)(void *ctx, const char *name, int value);
    /* optional: driver/runtime version for the tuning-cache key */
    const char *(*driver)(void *ctx);
    /* optional (NULL = UW_ERR_UNSUPPORTED): y = x W^T with x/y in device memory, enqueued on the
     * caller's stream (`stream` is the vendor's stream handle, NULL = its default stream);
     * returns without synchronising. Keep this member last: backends fill the table in order. */
    uw_status (*matmul_dev)(void *ctx, void *wh, uw_pipeline p, const void *x_dev, void *y_dev, uint64_t batch, void *stream);
} uw_backend;

/* The objects behind the public device API (core/backend.c, core/tuner.c). */
struct uw_device {
    const uw_backend *be;
    void *ctx;
    char name[256];
    uw_tuner *tuner; /* consulted by UW_PIPELINE_AUTO; may be NULL */
};

struct uw_weights {
    uw_device *dev;
    void *wh;
    uint64_t rows, cols;
    unsigned resident;
};

extern const uw_backend uw_backend_cpu;
#ifdef UW_WITH_OPENCL
extern const uw_backend uw_backend_opencl;
#endif
#ifdef UW_WITH_CUDA
extern const uw_backend uw_backend_cuda;
#endif
#ifdef UW_WITH_HIP
extern const uw_backend uw_backend_hip;
#endif

#endif
