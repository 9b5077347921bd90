/* backend.h - the backend interface: a const table of function pointers plus a probe. The
 * core never includes a vendor header; each backend registers one uw_backend. Optional members
 * may be NULL and are checked by the core. */
#ifndef UW_BACKEND_H
#define UW_BACKEND_H

#include "blob.h"

typedef struct uw_backend {
    const char *name;
    /* UW_OK if a usable device exists now; UW_ERR_NO_DEVICE otherwise (never aborts) */
    uw_status (*probe)(void);
    /* decode a parsed blob to host BF16 (optional) */
    uw_status (*decode_host)(const uw_blob *b, uint16_t *out, int threads);
} uw_backend;

extern const uw_backend uw_backend_cpu;

#endif
