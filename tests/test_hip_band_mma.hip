/* the portable band product on the host, compiled as HIP (label hip; see test_gpu_band_mma.cu) */
#include "test_gpu_band_mma.cu"
