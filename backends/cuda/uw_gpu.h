/* uw_gpu.h - the one vendor header of the GPU backends. The .cu files of backends/cuda are written against
 * the uw_gpu* names below; the CUDA branch maps them to the CUDA runtime and PTX, and the HIP
 * backend (issue: HIP) compiles the same sources with a HIP branch added here, and nowhere else.
 * Kernel bodies never test the vendor: they call these names.
 *
 * Three groups:
 *   1. host runtime: streams, events, memory, errors, launches, device properties;
 *   2. device basics: warp size, shuffles, ballots, atomics, shared-memory limits, barriers;
 *   3. device matrix/copy primitives (NVIDIA inline PTX: cp.async, ldmatrix, mma.sync). A HIP
 *      branch supplies the same functions with the same fragment semantics (MFMA or scalar). */
#ifndef UW_GPU_H
#define UW_GPU_H

#include <stdint.h>

#if defined(__HIPCC__) || defined(UW_GPU_HIP)
/* ---------------------------------------------------------------- HIP (issue: HIP backend) ----
 * The HIP backend adds its mapping here: hipStream_t, hipMalloc, __shfl_sync -> __shfl, 64-wide
 * wavefronts (UW_GPU_WARP 64, ballots of 64 bits), and the matrix primitives of group 3 with the
 * same per-lane fragment layout. Until then, compiling as HIP stops here. */
#error "uw_gpu.h: the HIP branch is not written yet (see the HIP issue); build backends/cuda with CUDA"
#else
/* ---------------------------------------------------------------- CUDA --------------------------- */
#include <cuda_runtime.h>
#include <cublas_v2.h> /* types only: the library is loaded with dlopen (cuda_blas.cu) */
#include <cuda.h>      /* CUtensorMap and its enums only: no driver library is linked */

/* 1. host runtime */
typedef cudaStream_t uw_gpu_stream;
typedef cudaEvent_t uw_gpu_event;
typedef cudaError_t uw_gpu_error;
typedef cudaDeviceProp uw_gpu_props;
typedef cudaMemPool_t uw_gpu_mempool;
#define UW_GPU_SUCCESS cudaSuccess
#define UW_GPU_VENDOR "cuda"
#define uw_gpu_get_device_count cudaGetDeviceCount
#define uw_gpu_set_device cudaSetDevice
#define uw_gpu_get_props cudaGetDeviceProperties
#define uw_gpu_runtime_version cudaRuntimeGetVersion
#define uw_gpu_driver_version cudaDriverGetVersion
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
#define uw_gpu_func_set_max_smem(f, bytes) \
    cudaFuncSetAttribute((const void *)(f), cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(bytes))
#define uw_gpu_mempool_create cudaMemPoolCreate
#define uw_gpu_mempool_destroy cudaMemPoolDestroy
#define uw_gpu_malloc_async(p, n, pool, s) cudaMallocFromPoolAsync((void **)(p), (n), (pool), (s))
#define uw_gpu_free_async cudaFreeAsync
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
        cudaGetLastError();
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
#define UW_GPU_FULL_MASK 0xFFFFFFFFu
#define UW_GPU_SMEM_DEFAULT (48 * 1024) /* dynamic shared memory without an opt-in */
#define uw_gpu_shfl_up(v, d) __shfl_up_sync(UW_GPU_FULL_MASK, (v), (d))
#define uw_gpu_shfl(v, l) __shfl_sync(UW_GPU_FULL_MASK, (v), (l))
#define uw_gpu_ballot(p) __ballot_sync(UW_GPU_FULL_MASK, (p))
#define uw_gpu_popc(v) __popc(v)
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
#endif /* __CUDACC__ */
#endif /* vendor */
#endif
