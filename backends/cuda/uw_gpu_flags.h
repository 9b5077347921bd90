/* uw_gpu_flags.h - flags between the CTAs of one launch (the GEMV family's fixed-order sums of the
 * bands CTAs share, uw_gemv_end.cuh): a publication (the writer's earlier stores, then the flag),
 * an observation (the flag, then the reader's later loads) and loads of data another CTA wrote,
 * from the coherent level (L2), per vendor. With a full fence after a publication, of two CTAs that
 * publish and then read each other's flag at least one sees the other's (the fences are
 * sequentially consistent: CUDA __threadfence, HIP __threadfence, HIP-CPU seq_cst). */
#ifndef UW_GPU_FLAGS_H
#define UW_GPU_FLAGS_H

#include "uw_gpu.h"

#if defined(UW_GPU_HIP_CPU)
/* host threads: C++ atomics on the words (aligned 64-bit words on the host) */
static __device__ __forceinline__ void uw_gpu_flag_publish(uint64_t *f, uint64_t v) { __atomic_store_n(f, v, __ATOMIC_SEQ_CST); }
static __device__ __forceinline__ uint64_t uw_gpu_flag_observe(const uint64_t *f) { return __atomic_load_n(f, __ATOMIC_SEQ_CST); }
static __device__ __forceinline__ uint64_t uw_gpu_flag_peek(const uint64_t *f) { return __atomic_load_n(f, __ATOMIC_SEQ_CST); }
static __device__ __forceinline__ void uw_gpu_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static __device__ __forceinline__ float uw_gpu_ld_coherent(const float *p) { return *p; } /* (after an observation: ordered) */
static __device__ __forceinline__ uint32_t uw_gpu_arrive(uint32_t *p) { return __atomic_fetch_add(p, 1u, __ATOMIC_SEQ_CST); }
static __device__ __forceinline__ void uw_gpu_arrive_reset(uint32_t *p) { __atomic_store_n(p, 0u, __ATOMIC_SEQ_CST); }
#else
/* GPUs: volatile accesses reach L2 (NVIDIA ld/st.volatile; AMD glc), ordered by the fences */
static __device__ __forceinline__ void uw_gpu_flag_publish(uint64_t *f, uint64_t v) {
    __threadfence();
    *(volatile uint64_t *)f = v;
}
static __device__ __forceinline__ uint64_t uw_gpu_flag_observe(const uint64_t *f) {
    const uint64_t v = *(const volatile uint64_t *)f;
    __threadfence();
    return v;
}
/* a flag without the fence: several read back to back, then one uw_gpu_fence() before the data */
static __device__ __forceinline__ uint64_t uw_gpu_flag_peek(const uint64_t *f) { return *(const volatile uint64_t *)f; }
static __device__ __forceinline__ void uw_gpu_fence(void) { __threadfence(); }
static __device__ __forceinline__ float uw_gpu_ld_coherent(const float *p) { return *(const volatile float *)p; }
static __device__ __forceinline__ uint32_t uw_gpu_arrive(uint32_t *p) { return atomicAdd(p, 1u); }
static __device__ __forceinline__ void uw_gpu_arrive_reset(uint32_t *p) { (void)atomicExch(p, 0u); }
#endif

#endif
