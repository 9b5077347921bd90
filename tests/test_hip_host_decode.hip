/* the GPU kernels' tile reconstruction on the host, compiled as HIP: the CUDA backend's host test
 * (test_cuda_host_decode.cu) over the same golden vectors, through the HIP branch of uw_gpu.h
 * (label hip; needs no GPU) */
#include "test_cuda_host_decode.cu"
