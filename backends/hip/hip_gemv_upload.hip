/* The HIP backend is the CUDA backend's source compiled as HIP (uw_gpu.h maps the vendor names). */
#include "../cuda/cuda_gemv_upload.cu"
