/* registry.c - the backends compiled into this build, the one place that names them: CPU always
 * first, the others added by their CMake options (UW_OPENCL, UW_CUDA, UW_HIP). The core sees
 * only core/backend.h and reaches the backends through uw_backend_registry. */
#include "../core/backend.h"

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

const uw_backend *uw_backend_registry(size_t i) { return i < sizeof registry / sizeof registry[0] ? registry[i] : NULL; }
