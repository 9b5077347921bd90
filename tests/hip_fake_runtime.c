/* hip_fake_runtime.c - a stand-in libamdhip64 for test_hip_runtime_dl (loaded through
 * UW_HIP_LIBRARY): no device, but it checks what a real runtime relies on. Every kernel is
 * registered with a handle it gave out; every code object is unregistered once, and before the
 * runtime's own exit-time teardown (an atexit handler registered when it is loaded, as a real
 * runtime's static destructors are). Launch configurations are kept for the test to read back.
 * A broken rule makes the process exit 1 from the library's destructor, whatever main returned. */
#include <hip/hip_version.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int hip_err;
typedef struct fake_dim3 {
    uint32_t x, y, z;
} fake_dim3;

#define FAKE_MAX_MODULES 256
#define FAKE_EXPORT __attribute__((visibility("default")))

static const void *wrappers[FAKE_MAX_MODULES]; /* a module's handle is &handles[i] */
static void *handles[FAKE_MAX_MODULES];
static int nmodules, unregistered[FAKE_MAX_MODULES], nfunctions, nvars, violations, torn_down;
static fake_dim3 pushed_grid, pushed_block;
static size_t pushed_shared;
static void *pushed_stream;
static struct {
    const void *fn;
    fake_dim3 grid, block;
    size_t shared;
    void *stream;
    int count;
} launch;

static void violation(const char *what) {
    fprintf(stderr, "hip_fake_runtime: %s\n", what);
    violations++;
}

static int module_of(void **h) {
    for (int i = 0; i < nmodules; i++)
        if (h == &handles[i]) return i;
    return -1;
}

static void teardown(void) { torn_down = 1; }

__attribute__((constructor)) static void fake_init(void) { atexit(teardown); }

__attribute__((destructor)) static void fake_fini(void) {
    for (int i = 0; i < nmodules; i++)
        if (unregistered[i] != 1) violation("a code object was not unregistered exactly once");
    if (violations) _exit(1);
}

/* ---- what the test reads ---- */
FAKE_EXPORT void fake_hip_counts(int *modules, int *functions, int *vars, int *bad) {
    *modules = nmodules;
    *functions = nfunctions;
    *vars = nvars;
    *bad = violations;
}
FAKE_EXPORT int fake_hip_last_launch(const void **fn, fake_dim3 *grid, fake_dim3 *block, size_t *shared, void **stream) {
    *fn = launch.fn;
    *grid = launch.grid;
    *block = launch.block;
    *shared = launch.shared;
    *stream = launch.stream;
    return launch.count;
}

/* ---- registration, as the compiler's module constructors call it ---- */
FAKE_EXPORT void **__hipRegisterFatBinary(const void *wrapper) {
    if (torn_down) violation("code object registered after teardown");
    if (nmodules == FAKE_MAX_MODULES) {
        violation("too many code objects");
        return NULL;
    }
    wrappers[nmodules] = wrapper;
    return &handles[nmodules++];
}
FAKE_EXPORT void __hipRegisterFunction(void **h, const void *host, char *dfn, const char *dname, unsigned limit, void *tid, void *bid,
                                       void *block, void *grid, int *wsize) {
    if (module_of(h) < 0) violation("kernel registered with a handle the runtime never gave out");
    if (!host || !dname) violation("kernel registered without stub or name");
    if (torn_down) violation("kernel registered after teardown");
    nfunctions++;
}
FAKE_EXPORT void __hipRegisterVar(void **h, void *var, char *hname, char *dname, int ext, size_t size, int constant, int global) {
    if (module_of(h) < 0) violation("variable registered with a handle the runtime never gave out");
    nvars++;
}
FAKE_EXPORT void __hipUnregisterFatBinary(void **h) {
    int i = module_of(h);
    if (i < 0) violation("unregistered a handle the runtime never gave out");
    else unregistered[i]++;
    if (torn_down) violation("code object unregistered after the runtime's teardown");
}

/* ---- launches ---- */
FAKE_EXPORT hip_err __hipPushCallConfiguration(fake_dim3 grid, fake_dim3 block, size_t shared, void *stream) {
    pushed_grid = grid;
    pushed_block = block;
    pushed_shared = shared;
    pushed_stream = stream;
    return 0;
}
FAKE_EXPORT hip_err __hipPopCallConfiguration(fake_dim3 *grid, fake_dim3 *block, size_t *shared, void **stream) {
    *grid = pushed_grid;
    *block = pushed_block;
    *shared = pushed_shared;
    *stream = pushed_stream;
    return 0;
}
FAKE_EXPORT hip_err hipLaunchKernel(const void *fn, fake_dim3 grid, fake_dim3 block, void **args, size_t shared, void *stream) {
    launch.fn = fn;
    launch.grid = grid;
    launch.block = block;
    launch.shared = shared;
    launch.stream = stream;
    launch.count++;
    return 0;
}

/* ---- the runtime API: a runtime of the headers' major version, without a device ---- */
FAKE_EXPORT hip_err hipRuntimeGetVersion(int *v) {
    *v = HIP_VERSION_MAJOR * 10000000 + HIP_VERSION_MINOR * 100000;
    return 0;
}
FAKE_EXPORT hip_err hipDriverGetVersion(int *v) { return hipRuntimeGetVersion(v); }
FAKE_EXPORT hip_err hipGetDeviceCount(int *n) {
    *n = 0;
    return 100; /* hipErrorNoDevice */
}
FAKE_EXPORT const char *hipGetErrorName(hip_err e) { return e == 100 ? "hipErrorNoDevice" : "hipErrorFake"; }
FAKE_EXPORT const char *hipGetErrorString(hip_err e) { return e == 100 ? "no device (fake runtime)" : "fake runtime"; }
FAKE_EXPORT hip_err hipGetLastError(void) { return 0; }
FAKE_EXPORT hip_err hipPeekAtLastError(void) { return 0; }
#define FAKE_NO_DEVICE(name, params)                                                                                             \
    FAKE_EXPORT hip_err name params { return 100; }
FAKE_NO_DEVICE(hipSetDevice, (int d))
FAKE_NO_DEVICE(hipGetDeviceProperties, (void *p, int d))
FAKE_NO_DEVICE(hipMalloc, (void **p, size_t n))
FAKE_NO_DEVICE(hipFree, (void *p))
FAKE_NO_DEVICE(hipMemset, (void *p, int v, size_t n))
FAKE_NO_DEVICE(hipMemsetAsync, (void *p, int v, size_t n, void *s))
FAKE_NO_DEVICE(hipMemcpyAsync, (void *d, const void *s, size_t n, int kind, void *st))
FAKE_NO_DEVICE(hipMallocFromPoolAsync, (void **p, size_t n, void *pool, void *s))
FAKE_NO_DEVICE(hipFreeAsync, (void *p, void *s))
FAKE_NO_DEVICE(hipMemPoolCreate, (void **pool, const void *props))
FAKE_NO_DEVICE(hipMemPoolDestroy, (void *pool))
FAKE_NO_DEVICE(hipMemPoolSetAttribute, (void *pool, int attr, void *v))
FAKE_NO_DEVICE(hipStreamCreateWithFlags, (void **s, unsigned f))
FAKE_NO_DEVICE(hipStreamDestroy, (void *s))
FAKE_NO_DEVICE(hipStreamSynchronize, (void *s))
FAKE_NO_DEVICE(hipStreamWaitEvent, (void *s, void *e, unsigned f))
FAKE_NO_DEVICE(hipEventCreate, (void **e))
FAKE_NO_DEVICE(hipEventDestroy, (void *e))
FAKE_NO_DEVICE(hipEventRecord, (void *e, void *s))
FAKE_NO_DEVICE(hipEventSynchronize, (void *e))
FAKE_NO_DEVICE(hipEventElapsedTime, (float *ms, void *a, void *b))
