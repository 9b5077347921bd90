/* backend.c - the registry of backends compiled into this build. CPU is always first; the
 * others are added by their CMake options (UW_OPENCL, UW_CUDA, UW_HIP) when their sources exist. */
#include "backend.h"

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
