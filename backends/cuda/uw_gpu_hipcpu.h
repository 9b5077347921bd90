/* uw_gpu_hipcpu.h - the HIP branch of uw_gpu.h on HIP-CPU (-DUW_HIP_CPU=ON): the HIP backend's
 * kernels compiled by the host C++ compiler and executed on the CPU by the HIP CPU Runtime
 * (third-party, header-only; fibers for a block's threads, a 64-wide wavefront), so that CI runs
 * the GPU kernels' code. Included by uw_gpu.h instead of the ROCm <hip/hip_runtime.h>; this file
 * supplies what HIP-CPU lacks, and nothing here changes what a kernel computes:
 *   - __AMDGCN_WAVEFRONT_SIZE (64, HIP-CPU's warpSize), __align__, an integer min();
 *   - kernel launches: g++ cannot parse <<<...>>>, so UW_GPU_LAUNCH is hipLaunchKernelGGL;
 *   - dynamic shared memory: HIP-CPU makes __shared__ thread_local, so `extern __shared__ x[]` has
 *     no storage; UW_GPU_DYNAMIC_SMEM gives each OS thread a 128-byte-aligned buffer of the
 *     launch's size, filled with a poison byte by thread 0 at every block's start (HIP-CPU runs a
 *     block's threads one after another between barriers, thread 0 first), so that stale data of
 *     an earlier block cannot hide a missing barrier;
 *   - memory pools (uw_gpu_mempool): none in HIP-CPU, whose hipMallocAsync also sets the pointer
 *     only when the stream reaches it; scratch is hipMalloc'd at once and released in stream order
 *     (hipFreeAsync), which is what a pool gives the kernels;
 *   - device properties: the name says HIP-CPU; gcnArchName does not exist; the CU count and the
 *     LDS size (HIP-CPU reports the host's cores and L1) are pinned so that grids, k-splits and
 *     tile fallbacks are the same on every machine: 4 CUs and 64 KiB, overridable with
 *     UW_HIP_CPU_CUS and UW_HIP_CPU_LDS_KIB;
 *   - hipMalloc: HIP-CPU reports success when malloc fails; the shim reports out of memory.
 * Not offered: uw_gpu_syncwarp (__builtin_amdgcn_wave_barrier; only the Hopper kernels, which HIP
 * does not build, use it). Not covered by HIP-CPU: wave32 (gfx1030) paths, lock-step warp
 * assumptions, performance. */
#ifndef UW_GPU_HIPCPU_H
#define UW_GPU_HIPCPU_H

#include <hip/hip_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HIP-CPU's own attribute macros: no `simd` clones of every device function and kernel (GCC's
 * __attribute__((simd)) on __device__ and __global__; compile time and warnings about struct
 * arguments, no benefit here) and __forceinline__ inline in every build type (HIP-CPU leaves it
 * empty without NDEBUG, which turns unused static helpers into warnings) */
#undef __device__
#define __device__
#undef __global__
#define __global__ __attribute__((flatten))
#undef __forceinline__
#define __forceinline__ __attribute__((always_inline)) inline

#ifndef __AMDGCN_WAVEFRONT_SIZE
#define __AMDGCN_WAVEFRONT_SIZE 64
#endif
static_assert(warpSize == __AMDGCN_WAVEFRONT_SIZE, "HIP-CPU's wavefront is 64 lanes");
#ifndef __align__
#define __align__(n) alignas(n)
#endif
static_assert(sizeof(uint4) == 16 && sizeof(uint2) == 8, "HIP-CPU vector types are packed like the GPU's");

/* the integer min() of HIP/CUDA device code */
static inline uint32_t min(uint32_t a, uint32_t b) { return a < b ? a : b; }
static inline int32_t min(int32_t a, int32_t b) { return a < b ? a : b; }
static inline uint64_t min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline int64_t min(int64_t a, int64_t b) { return a < b ? a : b; }

#define UW_GPU_LAUNCH(kernel, grid, block, smem, stream, ...) hipLaunchKernelGGL(kernel, grid, block, smem, stream, __VA_ARGS__)

#define UW_HIPCPU_POISON 0xA5
/* this block's dynamic shared memory (HIP_DYNAMIC_SHARED's storage, aligned and poisoned) */
static inline uint8_t *uw_hipcpu_dynamic_smem(void) {
    struct buffer {
        void *p = nullptr;
        size_t cap = 0;
        ~buffer() { free(p); }
    };
    thread_local static buffer b;
    const size_t n = scratchpad_size(domain(::hip::detail::Tile::this_tile()));
    if (n > b.cap) {
        free(b.p);
        b.cap = (n + 127) & ~(size_t)127;
        b.p = aligned_alloc(128, b.cap);
        if (!b.p) { /* a kernel has no error path */
            fprintf(stderr, "unweight hip (HIP-CPU): no memory for %zu bytes of shared memory\n", n);
            abort();
        }
    }
    if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) memset(b.p, UW_HIPCPU_POISON, b.cap);
    return (uint8_t *)b.p;
}
#define UW_GPU_DYNAMIC_SMEM(name, align) uint8_t *name = uw_hipcpu_dynamic_smem()

/* memory: pools are stand-ins (see above) */
typedef struct uw_hipcpu_pool *uw_gpu_mempool;
static inline hipError_t uw_gpu_malloc(void **p, size_t n) {
    hipError_t e = hipMalloc(p, n);
    if (e == hipSuccess && n && !*p) return hipErrorOutOfMemory;
    return e;
}
static inline hipError_t uw_gpu_mempool_make(int device, uw_gpu_mempool *pool) {
    static char token;
    (void)device;
    *pool = (uw_gpu_mempool)(void *)&token;
    return hipSuccess;
}
static inline hipError_t uw_gpu_mempool_destroy(uw_gpu_mempool pool) {
    (void)pool;
    return hipSuccess;
}
static inline hipError_t uw_gpu_malloc_async_(void **p, size_t n, uw_gpu_mempool pool, hipStream_t s) {
    (void)pool;
    (void)s;
    return uw_gpu_malloc(p, n);
}
#define uw_gpu_malloc_async(p, n, pool, s) uw_gpu_malloc_async_((void **)(p), (n), (pool), (s))

/* device properties, pinned (see above) */
static inline int uw_hipcpu_env(const char *name, int dflt, int lo, int hi) {
    const char *v = getenv(name);
    int x = v && *v ? atoi(v) : dflt;
    return x < lo ? lo : x > hi ? hi : x;
}
static inline hipError_t uw_gpu_get_props(hipDeviceProp_t *p, int device) {
    hipError_t e = hipGetDeviceProperties(p, device);
    if (e != hipSuccess) return e;
    char cpu[sizeof p->name];
    memcpy(cpu, p->name, sizeof cpu);
    cpu[sizeof cpu - 1] = 0;
    snprintf(p->name, sizeof p->name, "HIP-CPU on %.200s", cpu);
    p->multiProcessorCount = uw_hipcpu_env("UW_HIP_CPU_CUS", 4, 1, 1024);
    p->sharedMemPerBlock = (size_t)uw_hipcpu_env("UW_HIP_CPU_LDS_KIB", 64, 16, 1024) * 1024;
    return hipSuccess;
}
static inline void uw_gpu_arch_name(const hipDeviceProp_t *p, char *buf, size_t n) {
    (void)p;
    snprintf(buf, n, "hip-cpu, wave%d", (int)warpSize);
}

#endif
