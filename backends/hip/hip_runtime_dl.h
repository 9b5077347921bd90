/* hip_runtime_dl.h - the HIP runtime (libamdhip64) reached through a table that
 * hip_runtime_dl.hip fills with dlopen when the backend is first probed or opened, so that a
 * host without ROCm loses the hip backend, not the program (docs/backends.md). Included by
 * backends/cuda/uw_gpu.h in builds that define UW_HIP_RUNTIME_DL (cmake/uw_hip.cmake); after it,
 * every hip* runtime call of the backend goes through uw_hip_rt. The library is never linked, so
 * a hip* function missing from the lists below fails the link instead of going unnoticed. */
#ifndef UW_HIP_RUNTIME_DL_H
#define UW_HIP_RUNTIME_DL_H

#include <hip/hip_runtime_api.h>

/* The runtime API the backend calls (every hip* name uw_gpu.h maps): X(name, return type,
 * parameter list). The types are checked against hip_runtime_api.h in hip_runtime_dl.hip. */
#define UW_HIP_RT_API(X)                                                                                    \
    X(hipDriverGetVersion, hipError_t, (int *))                                                             \
    X(hipRuntimeGetVersion, hipError_t, (int *))                                                            \
    X(hipGetDeviceCount, hipError_t, (int *))                                                               \
    X(hipSetDevice, hipError_t, (int))                                                                      \
    X(hipGetDeviceProperties, hipError_t, (hipDeviceProp_t *, int))                                         \
    X(hipGetErrorName, const char *, (hipError_t))                                                          \
    X(hipGetErrorString, const char *, (hipError_t))                                                        \
    X(hipGetLastError, hipError_t, (void))                                                                  \
    X(hipPeekAtLastError, hipError_t, (void))                                                               \
    X(hipMalloc, hipError_t, (void **, size_t))                                                             \
    X(hipFree, hipError_t, (void *))                                                                        \
    X(hipMemset, hipError_t, (void *, int, size_t))                                                         \
    X(hipMemsetAsync, hipError_t, (void *, int, size_t, hipStream_t))                                       \
    X(hipMemcpyAsync, hipError_t, (void *, const void *, size_t, hipMemcpyKind, hipStream_t))               \
    X(hipMallocFromPoolAsync, hipError_t, (void **, size_t, hipMemPool_t, hipStream_t))                     \
    X(hipFreeAsync, hipError_t, (void *, hipStream_t))                                                      \
    X(hipMemPoolCreate, hipError_t, (hipMemPool_t *, const hipMemPoolProps *))                              \
    X(hipMemPoolDestroy, hipError_t, (hipMemPool_t))                                                        \
    X(hipMemPoolSetAttribute, hipError_t, (hipMemPool_t, hipMemPoolAttr, void *))                           \
    X(hipStreamCreateWithFlags, hipError_t, (hipStream_t *, unsigned int))                                  \
    X(hipStreamDestroy, hipError_t, (hipStream_t))                                                          \
    X(hipStreamSynchronize, hipError_t, (hipStream_t))                                                      \
    X(hipStreamWaitEvent, hipError_t, (hipStream_t, hipEvent_t, unsigned int))                              \
    X(hipEventCreate, hipError_t, (hipEvent_t *))                                                           \
    X(hipEventDestroy, hipError_t, (hipEvent_t))                                                            \
    X(hipEventRecord, hipError_t, (hipEvent_t, hipStream_t))                                                \
    X(hipEventSynchronize, hipError_t, (hipEvent_t))                                                        \
    X(hipEventElapsedTime, hipError_t, (float *, hipEvent_t, hipEvent_t))

/* What the HIP compiler's generated code calls by name (module constructors register the code
 * objects and kernels; a <<<>>> launch pushes its configuration, the kernel's stub pops it and
 * calls hipLaunchKernel). hip_runtime_dl.hip defines these names: registrations are recorded
 * and replayed into the runtime once it is loaded, launches are forwarded. */
#define UW_HIP_RT_ABI(X)                                                                                    \
    X(__hipRegisterFatBinary, void **, (const void *))                                                      \
    X(__hipRegisterFunction, void, (void **, const void *, char *, const char *, unsigned int, uint3 *,     \
                                    uint3 *, dim3 *, dim3 *, int *))                                        \
    X(__hipRegisterVar, void, (void **, void *, char *, char *, int, size_t, int, int))                     \
    X(__hipUnregisterFatBinary, void, (void **))                                                            \
    X(__hipPushCallConfiguration, hipError_t, (dim3, dim3, size_t, hipStream_t))                            \
    X(__hipPopCallConfiguration, hipError_t, (dim3 *, dim3 *, size_t *, hipStream_t *))                     \
    X(hipLaunchKernel, hipError_t, (const void *, dim3, dim3, void **, size_t, hipStream_t))

typedef struct uw_hip_rt_table {
#define UW_HIP_RT_MEMBER(name, ret, params) ret(*fn_##name) params;
    UW_HIP_RT_API(UW_HIP_RT_MEMBER)
    UW_HIP_RT_ABI(UW_HIP_RT_MEMBER)
#undef UW_HIP_RT_MEMBER
} uw_hip_rt_table;

/* filled once by uw_hip_rt_load; read-only afterwards */
extern uw_hip_rt_table uw_hip_rt;

/* Load the runtime once (thread-safe; UW_HIP_LIBRARY names another file than the default
 * libamdhip64.so.<major of the HIP headers built against>), then replay the registrations made so
 * far. NULL when loaded; otherwise why not (not found, a missing entry point, another major
 * version), the same answer on every call. */
const char *uw_hip_rt_load(void);

#ifndef UW_HIP_RT_IMPL
/* the backend's hip* calls, through the table (hip_runtime_dl.hip is the one file without them);
 * newer ROCm versions make some names macros for versioned symbols: those are replaced too */
#ifdef hipGetDeviceProperties
#undef hipGetDeviceProperties
#endif
#define hipDriverGetVersion (uw_hip_rt.fn_hipDriverGetVersion)
#define hipRuntimeGetVersion (uw_hip_rt.fn_hipRuntimeGetVersion)
#define hipGetDeviceCount (uw_hip_rt.fn_hipGetDeviceCount)
#define hipSetDevice (uw_hip_rt.fn_hipSetDevice)
#define hipGetDeviceProperties (uw_hip_rt.fn_hipGetDeviceProperties)
#define hipGetErrorName (uw_hip_rt.fn_hipGetErrorName)
#define hipGetErrorString (uw_hip_rt.fn_hipGetErrorString)
#define hipGetLastError (uw_hip_rt.fn_hipGetLastError)
#define hipPeekAtLastError (uw_hip_rt.fn_hipPeekAtLastError)
#define hipMalloc (uw_hip_rt.fn_hipMalloc)
#define hipFree (uw_hip_rt.fn_hipFree)
#define hipMemset (uw_hip_rt.fn_hipMemset)
#define hipMemsetAsync (uw_hip_rt.fn_hipMemsetAsync)
#define hipMemcpyAsync (uw_hip_rt.fn_hipMemcpyAsync)
#define hipMallocFromPoolAsync (uw_hip_rt.fn_hipMallocFromPoolAsync)
#define hipFreeAsync (uw_hip_rt.fn_hipFreeAsync)
#define hipMemPoolCreate (uw_hip_rt.fn_hipMemPoolCreate)
#define hipMemPoolDestroy (uw_hip_rt.fn_hipMemPoolDestroy)
#define hipMemPoolSetAttribute (uw_hip_rt.fn_hipMemPoolSetAttribute)
#define hipStreamCreateWithFlags (uw_hip_rt.fn_hipStreamCreateWithFlags)
#define hipStreamDestroy (uw_hip_rt.fn_hipStreamDestroy)
#define hipStreamSynchronize (uw_hip_rt.fn_hipStreamSynchronize)
#define hipStreamWaitEvent (uw_hip_rt.fn_hipStreamWaitEvent)
#define hipEventCreate (uw_hip_rt.fn_hipEventCreate)
#define hipEventDestroy (uw_hip_rt.fn_hipEventDestroy)
#define hipEventRecord (uw_hip_rt.fn_hipEventRecord)
#define hipEventSynchronize (uw_hip_rt.fn_hipEventSynchronize)
#define hipEventElapsedTime (uw_hip_rt.fn_hipEventElapsedTime)
#endif

#endif
