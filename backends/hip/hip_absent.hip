/* hip_absent.hip - what the HIP backend does not build from backends/cuda, and answers instead:
 *   - uw_hopper.cu (the sm_90a wgmma/TMA family): no AMD GPU runs it, so every device takes the
 *     generic family (uw_gpu_band_mma_k16 of uw_gpu.h);
 *   - cuda_blas.cu (cuBLAS through dlopen): Debian's ROCm has no hipBLAS, so blas-bf16 answers
 *     UW_ERR_UNSUPPORTED and decode+gemm runs our plain kernel (UW_GPU_HAS_BLAS 0). */
#include "../cuda/cuda_internal.h"

UW_GPU_NS_BEGIN

int uw_cu_hopper_usable(const cu_ctx *c) {
    (void)c;
    return 0;
}

size_t uw_cu_hopper_smem(int src, uint32_t bn, uint32_t C, uint32_t tab_bits) { return 0; }

uw_status uw_cu_hopper_matmul(const cu_ctx *c, int src, const uw_kparams *k, const uw_mmargs *a, const uw_plan *pl,
                              const uw_gpu_tmap *tmap_w, uw_gpu_stream s) {
    return uw_error_set(UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": no Hopper (wgmma/TMA) kernels on this vendor");
}

uw_status uw_cu_blas_gemm(cu_ctx *c, const uint16_t *wdev, uint64_t rows, uint64_t cols, const uint16_t *x, float *y,
                          uint64_t batch, uw_gpu_stream s) {
    return uw_error_set(UW_ERR_UNSUPPORTED, UW_GPU_VENDOR ": no vendor BLAS in this build (blas-bf16 is not offered; "
                                            "decode+gemm runs the backend's own kernel)");
}

void uw_cu_blas_close(cu_ctx *c) { c->blas = NULL; }

UW_GPU_NS_END
