/* uw_gpu.h - the one vendor header of the GPU backends. The .cu files of backends/cuda are written against
 * the uw_gpu* names below; the CUDA branch maps them to the CUDA runtime and PTX, the HIP branch
 * (backends/hip: the same .cu files compiled as HIP) to the HIP runtime and AMD GPUs, and
 * nowhere else is the vendor tested. Kernel bodies never test the vendor: they call these names.
 *
 * Four groups:
 *   0. identity (and uw_gpu_runtime_load: the vendor runtime, where it is loaded at run time): the backend's name, table symbol, C++ namespace, environment variables, what the
 *      vendor offers (Hopper kernels, a vendor BLAS) and the default resident geometry;
 *   1. host runtime: streams, events, memory, errors, launches, device properties;
 *   2. device basics: warp size, shuffles, ballots, atomics, shared-memory limits, barriers;
 *   3. device matrix/copy primitives (NVIDIA inline PTX: cp.async, ldmatrix, mma.sync; AMD: plain
 *      copies and a vector-ALU band product), ending in the one matrix entry point the generic
 *      matmul calls: uw_gpu_band_mma_k16 and its accumulator map uw_gpu_band_acc_pos.
 *
 * Both vendors can be built into one library (UW_CUDA=ON and UW_HIP=ON): every non-static name of
 * the backend sources lives in namespace UW_GPU_NS (uw_cuda or uw_hip), and the backend table is
 * the C symbol UW_GPU_BACKEND (uw_backend_cuda or uw_backend_hip). */
#ifndef UW_GPU_H
#define UW_GPU_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* 1 in the host compilation pass, 0 in a device pass (for host-only data such as the backend
 * table, which clang's HIP device pass would otherwise emit, host function pointers and all) */
#if defined(__HIP_DEVICE_COMPILE__) || defined(__CUDA_ARCH__)
#define UW_GPU_HOST_PASS 0
#else
#define UW_GPU_HOST_PASS 1
#endif

#if defined(__HIPCC__) || defined(UW_GPU_HIP)
/* ---------------------------------------------------------------- HIP (AMD) -------------------
 * What differs from NVIDIA, and where it is handled:
 *   - wavefronts of 64 lanes on CDNA (gfx90a, gfx94x), 32 on RDNA (gfx10xx, gfx11xx, the
 *     compiler's default there): UW_GPU_WARP is the target's __AMDGCN_WAVEFRONT_SIZE, ballots
 *     are 64-bit masks (uw_gpu_lanemask), shuffles take no mask;
 *   - LDS: 64 KiB per work-group, no opt-in (uw_gpu_smem_optin = sharedMemPerBlock), hence the
 *     default 64x64 resident tiles (the generic matmul's 64 x C W tile, two x tiles and two
 *     exponent/plane row buffers must fit);
 *   - no cp.async, ldmatrix, mma.sync, wgmma or TMA: copies are plain 16-byte loads and stores
 *     (the kernels' cp.async waits become no-ops, their barriers stay), the band product is the
 *     vector-ALU uw_gpu_band_mma_k16_valu below, the Hopper family is not built;
 *   - no vendor BLAS in Debian's ROCm: UW_GPU_HAS_BLAS 0, decode+gemm runs our plain kernel on
 *     the decoded weights and blas-bf16 answers UW_ERR_UNSUPPORTED. */
#if defined(UW_GPU_HIP_CPU)
#include "uw_gpu_hipcpu.h" /* HIP-CPU: the kernels run on the host CPU (CI); supplies what it lacks */
static inline const char *uw_gpu_runtime_load(void) { return NULL; } /* header-only: nothing to load */
#else
#include <hip/hip_runtime.h>
#ifdef UW_HIP_RUNTIME_DL
/* the runtime is loaded with dlopen (backends/hip/hip_runtime_dl.h): the hip* calls below go
 * through its table, filled by uw_gpu_runtime_load; NULL = loaded, else why not */
#include "../hip/hip_runtime_dl.h"
#define uw_gpu_runtime_load uw_hip_rt_load
#else
static inline const char *uw_gpu_runtime_load(void) { return NULL; } /* a linked runtime */
#endif
#endif

/* 0. identity */
#define UW_GPU_VENDOR "hip"
#define UW_GPU_NS uw_hip
#define UW_GPU_BACKEND uw_backend_hip
#define UW_GPU_ENV_DEVICE "UW_HIP_DEVICE"
#define UW_GPU_ENV_DEBUG "UW_HIP_DEBUG"
#define UW_GPU_UNITS "CUs"
#define UW_GPU_HAS_HOPPER 0
#define UW_GPU_HAS_BLAS 0
#define UW_GPU_BAND_MMA_VALU 1
#define UW_GPU_DEFAULT_TILE_ROWS 64
#define UW_GPU_DEFAULT_TILE_COLS 64
#define UW_GPU_DEFAULT_LANES 16

/* 1. host runtime */
typedef hipStream_t uw_gpu_stream;
typedef hipEvent_t uw_gpu_event;
typedef hipError_t uw_gpu_error;
typedef hipDeviceProp_t uw_gpu_props;
#define UW_GPU_SUCCESS hipSuccess
#define uw_gpu_get_device_count hipGetDeviceCount
#define uw_gpu_set_device hipSetDevice
#define uw_gpu_error_string hipGetErrorString
#define uw_gpu_error_name hipGetErrorName
#define uw_gpu_get_last_error hipGetLastError
#define uw_gpu_peek_last_error hipPeekAtLastError
#define UW_GPU_ERROR_OOM hipErrorOutOfMemory
#define uw_gpu_memset hipMemset
#define uw_gpu_free hipFree
#define uw_gpu_memset_async hipMemsetAsync
#define uw_gpu_stream_create(s) hipStreamCreateWithFlags((s), hipStreamNonBlocking)
#define uw_gpu_stream_destroy hipStreamDestroy
#define uw_gpu_stream_sync hipStreamSynchronize
#define uw_gpu_event_create hipEventCreate
#define uw_gpu_event_destroy hipEventDestroy
#define uw_gpu_event_record hipEventRecord
#define uw_gpu_event_sync hipEventSynchronize
#define uw_gpu_event_elapsed hipEventElapsedTime
#define uw_gpu_stream_wait_event(s, e) hipStreamWaitEvent((s), (e), 0)
#define uw_gpu_free_async hipFreeAsync
/* dynamic LDS needs no opt-in on AMD: up to the per-work-group limit it just works (the callers
 * check uw_gpu_smem_optin first) */
static inline uw_gpu_error uw_gpu_func_set_max_smem_(const void *f, size_t bytes) {
    (void)f;
    (void)bytes;
    return hipSuccess;
}
#define uw_gpu_func_set_max_smem(f, bytes) uw_gpu_func_set_max_smem_((const void *)(f), (size_t)(bytes))
static inline size_t uw_gpu_smem_optin(const uw_gpu_props *p) { return p->sharedMemPerBlock; }
static inline void uw_gpu_versions(char *buf, size_t n) {
    int rt = 0, dv = 0;
    (void)hipRuntimeGetVersion(&rt);
    (void)hipDriverGetVersion(&dv);
    snprintf(buf, n, "hip runtime %d.%d.%d, driver %d.%d.%d", rt / 10000000, (rt / 100000) % 100, rt % 100000, dv / 10000000,
             (dv / 100000) % 100, dv % 100000);
}
static inline uw_gpu_error uw_gpu_h2d_async(void *d, const void *h, size_t n, uw_gpu_stream s) {
    return hipMemcpyAsync(d, h, n, hipMemcpyHostToDevice, s);
}
static inline uw_gpu_error uw_gpu_d2h_async(void *h, const void *d, size_t n, uw_gpu_stream s) {
    return hipMemcpyAsync(h, d, n, hipMemcpyDeviceToHost, s);
}
static inline uw_gpu_error uw_gpu_d2d_async(void *d, const void *src, size_t n, uw_gpu_stream s) {
    return hipMemcpyAsync(d, src, n, hipMemcpyDeviceToDevice, s);
}
#if !defined(UW_GPU_HIP_CPU) /* (uw_gpu_hipcpu.h has its own) */
#define uw_gpu_get_props hipGetDeviceProperties
#define uw_gpu_malloc hipMalloc
static inline void uw_gpu_arch_name(const uw_gpu_props *p, char *buf, size_t n) { snprintf(buf, n, "%s", p->gcnArchName); }
typedef hipMemPool_t uw_gpu_mempool;
#define uw_gpu_mempool_destroy hipMemPoolDestroy
#define uw_gpu_malloc_async(p, n, pool, s) hipMallocFromPoolAsync((void **)(p), (n), (pool), (s))
/* a pool of stream-ordered scratch that keeps its memory between calls */
static inline uw_gpu_error uw_gpu_mempool_make(int device, uw_gpu_mempool *pool) {
    hipMemPoolProps p;
    memset(&p, 0, sizeof p);
    p.allocType = hipMemAllocationTypePinned;
    p.location.type = hipMemLocationTypeDevice;
    p.location.id = device;
    uw_gpu_error e = hipMemPoolCreate(pool, &p);
    if (e != hipSuccess) return e;
    uint64_t keep = UINT64_MAX;
    return hipMemPoolSetAttribute(*pool, hipMemPoolAttrReleaseThreshold, &keep);
}
#endif
/* no driver entry points and no tensor maps (TMA) on AMD: the Hopper family is not built */
static inline void *uw_gpu_driver_entry(const char *symbol) {
    (void)symbol;
    return NULL;
}
typedef struct alignas(64) uw_gpu_tmap { /* (aligned like CUtensorMap, so the storage checks are the same) */
    uint64_t opaque[16];
} uw_gpu_tmap;
#define UW_GPU_TMAP_ENCODER "(no tensor maps on AMD)"
static inline int uw_gpu_tmap_bf16_2d(void *encode, uw_gpu_tmap *m, const void *base, uint64_t dim0, uint64_t dim1, uint64_t stride1_bytes,
                                      uint32_t box0, uint32_t box1) {
    return 0;
}

/* 2. device basics */
#define UW_GPU_WARP __AMDGCN_WAVEFRONT_SIZE /* per target in the device passes (64 in the host pass) */
typedef uint64_t uw_gpu_lanemask;       /* ballots are 64-bit (the high half is 0 on wave32) */
#define UW_GPU_SMEM_DEFAULT (64 * 1024) /* LDS per work-group */
#define uw_gpu_shfl_up(v, d) __shfl_up((v), (d))
#define uw_gpu_shfl(v, l) __shfl((v), (l))
#define uw_gpu_ballot(p) ((uw_gpu_lanemask)__ballot(p))
#define uw_gpu_popc(v) __popc(v)
#define uw_gpu_popc_mask(m) __popcll(m)
#define uw_gpu_lanemask_lt(lane) ((((uw_gpu_lanemask)1) << (lane)) - 1u)
#define uw_gpu_atomic_or(p, v) atomicOr((p), (v))
#define uw_gpu_atomic_add(p, v) atomicAdd((p), (v))
#define uw_gpu_syncthreads() __syncthreads()
#define uw_gpu_syncwarp() __builtin_amdgcn_wave_barrier()
#define UW_GPU_RESTRICT __restrict__
#define uw_gpu_ldg(p) __ldg(p)

/* byte permute (selector nibbles 0-7 only), the same on the device and the host */
static __host__ __device__ __forceinline__ uint32_t uw_gpu_byte_perm(uint32_t a, uint32_t b, uint32_t s) {
    uint64_t v = (uint64_t)b << 32 | a;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) r |= (uint32_t)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return r;
}

/* 3. copies: no asynchronous copy engine for the generic kernel, so a 16-byte copy is a plain
 * load and store (src_bytes < 16 zero-fills the rest) and commit/wait are no-ops; the kernels'
 * barriers after each wait still order the copies with their readers */
static __device__ __forceinline__ void uw_gpu_cp_async16(void *smem, const void *gmem, uint32_t src_bytes) {
    uint4 v = make_uint4(0, 0, 0, 0);
    if (src_bytes >= 16) {
        v = *(const uint4 *)gmem;
    } else {
        uint8_t b[16] = {0};
        uint32_t w[4];
        for (uint32_t i = 0; i < src_bytes; i++) b[i] = ((const uint8_t *)gmem)[i];
        memcpy(w, b, 16);
        v = make_uint4(w[0], w[1], w[2], w[3]);
    }
    *(uint4 *)smem = v;
}
/* 4-byte copy (src_bytes 0: zero) */
static __device__ __forceinline__ void uw_gpu_cp_async4(void *smem, const void *gmem, uint32_t src_bytes) {
    *(uint32_t *)smem = src_bytes ? *(const uint32_t *)gmem : 0u;
}
static __device__ __forceinline__ void uw_gpu_cp_async_commit(void) {}
template <int N> static __device__ __forceinline__ void uw_gpu_cp_async_wait(void) {}
#else
/* ---------------------------------------------------------------- CUDA --------------------------- */
#include <cuda_runtime.h>
#include <cublas_v2.h> /* types only: the library is loaded with dlopen (cuda_blas.cu) */
#include <cuda.h>      /* CUtensorMap and its enums only: no driver library is linked */

/* the static runtime is linked (it reaches the driver with dlopen itself): always there */
static inline const char *uw_gpu_runtime_load(void) { return NULL; }

/* 0. identity */
#define UW_GPU_VENDOR "cuda"
#define UW_GPU_NS uw_cuda
#define UW_GPU_BACKEND uw_backend_cuda
#define UW_GPU_ENV_DEVICE "UW_CUDA_DEVICE"
#define UW_GPU_ENV_DEBUG "UW_CUDA_DEBUG"
#define UW_GPU_UNITS "SMs"
#define UW_GPU_HAS_HOPPER 1
#define UW_GPU_HAS_BLAS 1
#ifdef UW_GPU_FORCE_VALU /* the portable band product on NVIDIA too (checking the AMD path on a lent GPU) */
#define UW_GPU_BAND_MMA_VALU 1
#else
#define UW_GPU_BAND_MMA_VALU 0
#endif
#define UW_GPU_DEFAULT_TILE_ROWS 64
#define UW_GPU_DEFAULT_TILE_COLS 256
#define UW_GPU_DEFAULT_LANES 64

/* 1. host runtime */
typedef cudaStream_t uw_gpu_stream;
typedef cudaEvent_t uw_gpu_event;
typedef cudaError_t uw_gpu_error;
typedef cudaDeviceProp uw_gpu_props;
typedef cudaMemPool_t uw_gpu_mempool;
#define UW_GPU_SUCCESS cudaSuccess
#define uw_gpu_get_device_count cudaGetDeviceCount
#define uw_gpu_set_device cudaSetDevice
#define uw_gpu_get_props cudaGetDeviceProperties
#define uw_gpu_error_string cudaGetErrorString
#define uw_gpu_error_name cudaGetErrorName
#define uw_gpu_get_last_error cudaGetLastError
#define uw_gpu_peek_last_error cudaPeekAtLastError
#define UW_GPU_ERROR_OOM cudaErrorMemoryAllocation
#define uw_gpu_memset cudaMemset
#define uw_gpu_malloc cudaMalloc
#define uw_gpu_free cudaFree
#define uw_gpu_memset_async cudaMemsetAsync
#define uw_gpu_stream_create(s) cudaStreamCreateWithFlags((s), cudaStreamNonBlocking)
#define uw_gpu_stream_destroy cudaStreamDestroy
#define uw_gpu_stream_sync cudaStreamSynchronize
#define uw_gpu_event_create cudaEventCreate
#define uw_gpu_event_destroy cudaEventDestroy
#define uw_gpu_event_record cudaEventRecord
#define uw_gpu_event_sync cudaEventSynchronize
#define uw_gpu_event_elapsed cudaEventElapsedTime
#define uw_gpu_stream_wait_event(s, e) cudaStreamWaitEvent((s), (e), 0)
#define uw_gpu_func_set_max_smem(f, bytes) \
    cudaFuncSetAttribute((const void *)(f), cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(bytes))
#define uw_gpu_mempool_create cudaMemPoolCreate
#define uw_gpu_mempool_destroy cudaMemPoolDestroy
#define uw_gpu_malloc_async(p, n, pool, s) cudaMallocFromPoolAsync((void **)(p), (n), (pool), (s))
#define uw_gpu_free_async cudaFreeAsync
static inline size_t uw_gpu_smem_optin(const uw_gpu_props *p) { return p->sharedMemPerBlockOptin; }
static inline void uw_gpu_arch_name(const uw_gpu_props *p, char *buf, size_t n) { snprintf(buf, n, "sm_%d%d", p->major, p->minor); }
static inline void uw_gpu_versions(char *buf, size_t n) {
    int rt = 0, dv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&dv);
    snprintf(buf, n, "cuda runtime %d.%d, driver %d.%d", rt / 1000, (rt % 1000) / 10, dv / 1000, (dv % 1000) / 10);
}
static inline uw_gpu_error uw_gpu_h2d_async(void *d, const void *h, size_t n, uw_gpu_stream s) {
    return cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s);
}
static inline uw_gpu_error uw_gpu_d2h_async(void *h, const void *d, size_t n, uw_gpu_stream s) {
    return cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, s);
}
static inline uw_gpu_error uw_gpu_d2d_async(void *d, const void *src, size_t n, uw_gpu_stream s) {
    return cudaMemcpyAsync(d, src, n, cudaMemcpyDeviceToDevice, s);
}
/* a pool of stream-ordered scratch that keeps its memory between calls */
static inline uw_gpu_error uw_gpu_mempool_make(int device, uw_gpu_mempool *pool) {
    cudaMemPoolProps p = {};
    p.allocType = cudaMemAllocationTypePinned;
    p.location.type = cudaMemLocationTypeDevice;
    p.location.id = device;
    uw_gpu_error e = cudaMemPoolCreate(pool, &p);
    if (e != cudaSuccess) return e;
    uint64_t keep = UINT64_MAX;
    return cudaMemPoolSetAttribute(*pool, cudaMemPoolAttrReleaseThreshold, &keep);
}

/* driver entry point by name through the runtime (no libcuda link); NULL if unavailable */
static inline void *uw_gpu_driver_entry(const char *symbol) {
    void *fn = NULL;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion(symbol, &fn, 12000, cudaEnableDefault, &q) != cudaSuccess || q != cudaDriverEntryPointSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return fn;
}
/* tensor maps for the copy engine (Hopper kernels): a 2-D BF16 map, dim0 innermost, 128-byte
 * swizzle, zero fill out of bounds, encoded by `encode` = uw_gpu_driver_entry(UW_GPU_TMAP_ENCODER) */
typedef CUtensorMap uw_gpu_tmap;
#define UW_GPU_TMAP_ENCODER "cuTensorMapEncodeTiled"
static inline int uw_gpu_tmap_bf16_2d(void *encode, uw_gpu_tmap *m, const void *base, uint64_t dim0, uint64_t dim1,
                                      uint64_t stride1_bytes, uint32_t box0, uint32_t box1) {
    typedef CUresult (*fn_t)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *, const cuuint64_t *,
                             const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave, CUtensorMapSwizzle,
                             CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
    cuuint64_t dims[2] = {dim0, dim1}, strides[1] = {stride1_bytes};
    cuuint32_t box[2] = {box0, box1}, estr[2] = {1, 1};
    return ((fn_t)encode)(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)base, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                          CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

/* vendor BLAS (cuBLAS), loaded at run time: library name, symbols and types */
#define UW_GPU_STR2_(x) #x
#define UW_GPU_STR_(x) UW_GPU_STR2_(x)
#define UW_BLAS_NAME "cuBLAS"
#define UW_BLAS_ENV "UW_CUBLAS_LIBRARY"
#define UW_BLAS_SONAME "libcublas.so." UW_GPU_STR_(CUBLAS_VER_MAJOR)
#define UW_BLAS_SONAME_ANY "libcublas.so"
typedef cublasHandle_t uw_blas_handle;
typedef cublasStatus_t uw_blas_status;
#define UW_BLAS_OK CUBLAS_STATUS_SUCCESS
typedef uw_blas_status (*uw_blas_create_fn)(uw_blas_handle *);
typedef uw_blas_status (*uw_blas_destroy_fn)(uw_blas_handle);
typedef uw_blas_status (*uw_blas_set_stream_fn)(uw_blas_handle, uw_gpu_stream);
/* y[batch][rows] = x[batch][cols] W[rows][cols]^T, BF16 in, fp32 compute and out (column-major:
 * op(A) = W^T of the cols x rows matrix W, B = x as cols x batch, C = y as rows x batch) */
typedef cublasStatus_t (*uw_blas_gemm_raw_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                                              const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
                                              cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
#define UW_BLAS_SYM_CREATE "cublasCreate_v2"
#define UW_BLAS_SYM_DESTROY "cublasDestroy_v2"
#define UW_BLAS_SYM_SET_STREAM "cublasSetStream_v2"
#define UW_BLAS_SYM_GEMM "cublasGemmEx"
static inline uw_blas_status uw_blas_gemm_bf16(void *gemm, uw_blas_handle h, const uint16_t *w, int rows, int cols, const uint16_t *x,
                                               float *y, int batch) {
    const float one = 1.0f, zero = 0.0f;
    return ((uw_blas_gemm_raw_fn)gemm)(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, batch, cols, &one, w, CUDA_R_16BF, cols, x, CUDA_R_16BF, cols,
                                       &zero, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

/* 2. device basics */
#define UW_GPU_WARP 32
typedef uint32_t uw_gpu_lanemask;
#define UW_GPU_FULL_MASK 0xFFFFFFFFu
#define UW_GPU_SMEM_DEFAULT (48 * 1024) /* dynamic shared memory without an opt-in */
#define uw_gpu_shfl_up(v, d) __shfl_up_sync(UW_GPU_FULL_MASK, (v), (d))
#define uw_gpu_shfl(v, l) __shfl_sync(UW_GPU_FULL_MASK, (v), (l))
#define uw_gpu_ballot(p) __ballot_sync(UW_GPU_FULL_MASK, (p))
#define uw_gpu_popc(v) __popc(v)
#define uw_gpu_popc_mask(m) __popc(m)
#define uw_gpu_lanemask_lt(lane) ((1u << (lane)) - 1u)
#define uw_gpu_atomic_or(p, v) atomicOr((p), (v))
#define uw_gpu_atomic_add(p, v) atomicAdd((p), (v))
#define uw_gpu_syncthreads() __syncthreads()
#define uw_gpu_syncwarp() __syncwarp()
#define UW_GPU_RESTRICT __restrict__
#define uw_gpu_ldg(p) __ldg(p)

#if defined(__CUDACC__)
/* byte permute (selector nibbles 0-7 only): the device instruction, or the same on the host */
static __host__ __device__ __forceinline__ uint32_t uw_gpu_byte_perm(uint32_t a, uint32_t b, uint32_t s) {
#if defined(__CUDA_ARCH__)
    return __byte_perm(a, b, s);
#else
    uint64_t v = (uint64_t)b << 32 | a;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) r |= (uint32_t)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return r;
#endif
}
/* a barrier among `count` threads of the block (ids 1..15; 0 is __syncthreads) */
static __device__ __forceinline__ void uw_gpu_named_barrier(unsigned id, unsigned count) {
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}
static __device__ __forceinline__ uint32_t uw_gpu_smem_addr(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 3. copy and matrix primitives (sm_80+) */
/* 16-byte asynchronous global -> shared copy; src_bytes < 16 zero-fills the rest */
static __device__ __forceinline__ void uw_gpu_cp_async16(void *smem, const void *gmem, uint32_t src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(uw_gpu_smem_addr(smem)), "l"(gmem), "r"(src_bytes)
                 : "memory");
}
/* 4-byte asynchronous global -> shared copy; src_bytes 0 writes zero */
static __device__ __forceinline__ void uw_gpu_cp_async4(void *smem, const void *gmem, uint32_t src_bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(uw_gpu_smem_addr(smem)), "l"(gmem), "r"(src_bytes) : "memory");
}
static __device__ __forceinline__ void uw_gpu_cp_async_commit(void) { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> static __device__ __forceinline__ void uw_gpu_cp_async_wait(void) {
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
/* four 8x8 b16 matrices; lane l gives the row address of matrix l/8, row l%8 */
static __device__ __forceinline__ void uw_gpu_ldmatrix_x4(uint32_t r[4], const void *smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(uw_gpu_smem_addr(smem_row)));
}
static __device__ __forceinline__ void uw_gpu_ldmatrix_x2(uint32_t r[2], const void *smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(uw_gpu_smem_addr(smem_row)));
}
/* D = A(16x16, row) * B(16x8, col) + D, BF16 inputs, fp32 accumulators (PTX fragment layout) */
static __device__ __forceinline__ void uw_gpu_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
/* the band product with tensor cores (see uw_gpu_band_mma_k16 below): warp w = tid / 32 owns rows
 * 16w..16w+15 and all BN columns, as BN/8 m16n8 accumulator tiles of 4 floats per lane */
template <int BN>
static __device__ __forceinline__ void uw_gpu_band_mma_k16_tc(float *acc, const uint16_t *W, const uint16_t *X, uint32_t ld, uint32_t k0,
                                                              uint32_t tid) {
    const uint32_t warp = tid / 32, lane = tid % 32;
    uint32_t af[4];
    uw_gpu_ldmatrix_x4(af, W + (size_t)(warp * 16 + lane % 16) * ld + k0 + (lane / 16) * 8);
#pragma unroll
    for (int j2 = 0; j2 < BN / 16; j2++) {
        uint32_t bf[4];
        uw_gpu_ldmatrix_x4(bf, X + (size_t)(j2 * 16 + lane % 8 + (lane / 16) * 8) * ld + k0 + ((lane / 8) % 2) * 8);
        uw_gpu_mma_bf16_16816(acc + 8 * j2, af, bf);
        uw_gpu_mma_bf16_16816(acc + 8 * j2 + 4, af, bf + 2);
    }
}
/* accumulator a = 4 j + h of the m16n8 tile j: row g / g + 8 (g = lane / 4), column 2 t + (h & 1) */
template <int BN> static __host__ __device__ __forceinline__ void uw_gpu_band_acc_pos_tc(uint32_t tid, uint32_t a, uint32_t *m, uint32_t *n) {
    const uint32_t warp = tid / 32, lane = tid % 32, j = a / 4, h = a % 4;
    *m = warp * 16 + lane / 4 + (h >= 2 ? 8 : 0);
    *n = 8 * j + 2 * (lane % 4) + (h & 1);
}
#endif /* __CUDACC__ */
#endif /* vendor */

/* Kernel launches and dynamic shared memory (one uint8_t array per kernel) in every kernel
 * source: the compilers' own syntax, unless a branch has its own (HIP-CPU: uw_gpu_hipcpu.h). */
#ifndef UW_GPU_LAUNCH
#define UW_GPU_LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#endif
#ifndef UW_GPU_DYNAMIC_SMEM
#define UW_GPU_DYNAMIC_SMEM(name, align) extern __shared__ __align__(align) uint8_t name[]
#endif

#if defined(__CUDACC__) || defined(__HIPCC__)
/* ---------------------------------------------------------------- the band product ---------
 * The generic matmul's only matrix operation: UW_GPU_BAND_THREADS threads own the 64 x BN block
 * y(m, n) += sum_k W[m][k] X[n][k] of a band and a batch tile, W (64 rows) and X (BN rows) BF16
 * in shared memory, row stride ld elements (16-byte aligned rows); one call adds k0..k0+15.
 * Each thread holds UW_GPU_BAND_ACC(BN) fp32 accumulators; uw_gpu_band_acc_pos<BN>(tid, a, &m, &n)
 * says which output accumulator a is. One instruction sequence per vendor and target, the same for
 * every W source, so contract C2 holds within a backend (the order is the vendor's: tensor-core
 * fragments on NVIDIA, k in order on AMD). */
#define UW_GPU_BAND_THREADS 128
#define UW_GPU_BAND_ACC(BN) ((BN) / 2)
/* "#pragma unroll" in __host__ __device__ code: only where the compiler knows it (not gcc) */
#if defined(__CUDA_ARCH__) || defined(__clang__)
#define UW_GPU_UNROLL _Pragma("unroll")
#else
#define UW_GPU_UNROLL
#endif

static __host__ __device__ __forceinline__ float uw_gpu_bf16_to_f32(uint32_t bits16) {
    union {
        uint32_t u;
        float f;
    } v;
    v.u = bits16 << 16;
    return v.f;
}
/* Vector-ALU version (AMD; NVIDIA with UW_GPU_FORCE_VALU; the host in tests): thread t owns rows
 * m = t % 16 + 16 i (i < 4) and batch columns n = t / 16 + 8 j (j < BN / 8), loads 8 k-values of
 * each as one 16-byte word, and adds the products in k order, one fma each (a product of two
 * BF16 is exact in fp32, so this is the sequential fp32 sum whatever the compiler contracts).
 * No cross-lane operation: correct for any wavefront size. */
template <int BN>
static __host__ __device__ __forceinline__ void uw_gpu_band_mma_k16_valu(float *acc, const uint16_t *W, const uint16_t *X, uint32_t ld,
                                                                         uint32_t k0, uint32_t tid) {
    const uint32_t rg = tid % 16, cg = tid / 16;
UW_GPU_UNROLL
    for (uint32_t h = 0; h < 16; h += 8) {
        uint4 w[4], x[BN / 8];
UW_GPU_UNROLL
        for (int i = 0; i < 4; i++) w[i] = *(const uint4 *)(W + (size_t)(rg + 16 * i) * ld + k0 + h);
UW_GPU_UNROLL
        for (int j = 0; j < BN / 8; j++) x[j] = *(const uint4 *)(X + (size_t)(cg + 8 * j) * ld + k0 + h);
UW_GPU_UNROLL
        for (int k = 0; k < 8; k++) {
UW_GPU_UNROLL
            for (int i = 0; i < 4; i++) {
                const uint32_t ww = k < 2 ? w[i].x : k < 4 ? w[i].y : k < 6 ? w[i].z : w[i].w;
                const float a = uw_gpu_bf16_to_f32((k & 1) ? ww >> 16 : ww & 0xFFFFu);
UW_GPU_UNROLL
                for (int j = 0; j < BN / 8; j++) {
                    const uint32_t xx = k < 2 ? x[j].x : k < 4 ? x[j].y : k < 6 ? x[j].z : x[j].w;
                    const float b = uw_gpu_bf16_to_f32((k & 1) ? xx >> 16 : xx & 0xFFFFu);
                    acc[i * (BN / 8) + j] = fmaf(a, b, acc[i * (BN / 8) + j]);
                }
            }
        }
    }
}
template <int BN> static __host__ __device__ __forceinline__ void uw_gpu_band_acc_pos_valu(uint32_t tid, uint32_t a, uint32_t *m, uint32_t *n) {
    *m = tid % 16 + 16 * (a / (BN / 8));
    *n = tid / 16 + 8 * (a % (BN / 8));
}

#if UW_GPU_BAND_MMA_VALU
#define UW_GPU_BAND_MMA_NAME "vector ALU"
template <int BN>
static __device__ __forceinline__ void uw_gpu_band_mma_k16(float *acc, const uint16_t *W, const uint16_t *X, uint32_t ld, uint32_t k0,
                                                           uint32_t tid) {
    uw_gpu_band_mma_k16_valu<BN>(acc, W, X, ld, k0, tid);
}
template <int BN> static __host__ __device__ __forceinline__ void uw_gpu_band_acc_pos(uint32_t tid, uint32_t a, uint32_t *m, uint32_t *n) {
    uw_gpu_band_acc_pos_valu<BN>(tid, a, m, n);
}
#else
#define UW_GPU_BAND_MMA_NAME "mma.sync"
template <int BN>
static __device__ __forceinline__ void uw_gpu_band_mma_k16(float *acc, const uint16_t *W, const uint16_t *X, uint32_t ld, uint32_t k0,
                                                           uint32_t tid) {
    uw_gpu_band_mma_k16_tc<BN>(acc, W, X, ld, k0, tid);
}
template <int BN> static __host__ __device__ __forceinline__ void uw_gpu_band_acc_pos(uint32_t tid, uint32_t a, uint32_t *m, uint32_t *n) {
    uw_gpu_band_acc_pos_tc<BN>(tid, a, m, n);
}
#endif
#endif /* __CUDACC__ || __HIPCC__ */

#define UW_GPU_NS_BEGIN namespace UW_GPU_NS {
#define UW_GPU_NS_END }
#endif
