/* uw_mbar.cuh - sm_90 shared-memory barriers (mbarrier) and the 1-D bulk copy completing on them,
 * for the Hopper kernel (uw_hopper.cu) and the GEMV family's tile streams (uw_gemv.cu). Waits are
 * bounded in debug builds and with UW_GPU_BOUNDED_WAITS (ci/device-check.sh; ci/check-ptx.sh checks
 * the PTX). Only for device code compiled for sm_90 or later. */
#ifndef UW_MBAR_CUH
#define UW_MBAR_CUH

#include "uw_gpu.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define UW_GPU_HAS_MBAR 1
UW_GPU_NS_BEGIN

static __device__ __forceinline__ void mbar_init(uint64_t *b, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(uw_gpu_smem_addr(b)), "r"(count) : "memory");
}
static __device__ __forceinline__ void mbar_arrive(uint64_t *b) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}" ::"r"(uw_gpu_smem_addr(b)) : "memory");
}
static __device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t *b, uint32_t bytes) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.expect_tx.shared::cta.b64 st, [%0], %1;\n}" ::"r"(uw_gpu_smem_addr(b)),
                 "r"(bytes)
                 : "memory");
}
/* Waits for the phase `parity` of barrier b. Debug builds (no NDEBUG) and builds with
 * UW_GPU_BOUNDED_WAITS (ci/device-check.sh) bound the wait: after UW_MBAR_TIMEOUT_NS (4 s) of
 * %globaltimer it prints the barrier (name[index]), the parity, block and thread, and traps, so a
 * protocol error fails the launch in seconds instead of hanging the GPU. */
#if !defined(NDEBUG) || defined(UW_GPU_BOUNDED_WAITS)
#define UW_MBAR_BOUNDED 1
#ifndef UW_MBAR_TIMEOUT_NS
#define UW_MBAR_TIMEOUT_NS 4000000000ull
#endif
#endif
static __device__ __forceinline__ void mbar_wait_(uint64_t *b, uint32_t parity, const char *name, uint32_t index) {
    uint32_t done = 0;
#ifdef UW_MBAR_BOUNDED
    uint64_t t0 = 0;
#endif
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}"
                     : "=r"(done)
                     : "r"(uw_gpu_smem_addr(b)), "r"(parity)
                     : "memory");
#ifdef UW_MBAR_BOUNDED
        if (!done) {
            uint64_t now;
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
            if (!t0) {
                t0 = now;
            } else if (now - t0 > UW_MBAR_TIMEOUT_NS) {
                printf("unweight cuda: mbarrier wait timed out: %s[%u] parity %u, block (%u,%u,%u) thread %u\n", name,
                       index, parity, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x);
                __trap();
            }
        }
#else
        (void)name;
        (void)index;
#endif
    } while (!done);
}
#define mbar_wait(bars, i, parity) mbar_wait_(&(bars)[i], (parity), #bars, (i))
static __device__ __forceinline__ void fence_barrier_init() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }
static __device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }
/* 1-D bulk copy global -> shared (16-byte aligned, multiple of 16 bytes) completing on bar */
static __device__ __forceinline__ void bulk_g2s(void *dst, const void *src, uint32_t bytes, uint64_t *bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                     uw_gpu_smem_addr(dst)),
                 "l"(src), "r"(bytes), "r"(uw_gpu_smem_addr(bar))
                 : "memory");
}

UW_GPU_NS_END
#else
#define UW_GPU_HAS_MBAR 0
#endif

#endif
