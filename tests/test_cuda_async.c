/* test_cuda_async.c - uw_weights_matmul_async on the cuda backend (x and y in device memory, the
 * caller's stream), on shapes whose columns are a multiple of 32 so that the Hopper kernels run
 * where the device has them (several bands, a partial last band and k-step, every batch tile:
 * 16, 64, 128 and two tiles of 128):
 *   - every pipeline gives the same bytes as the host-pointer API (which copies x to an aligned
 *     scratch buffer); nothing is synchronised by the library (the test synchronises);
 *   - C2 among the pipelines, with x aligned and with x 2 bytes off a 16-byte boundary (the
 *     generic kernels): each equals plain-bf16 (decode+gemm equals blas-bf16);
 *   - C3 for plain-bf16 and blas-bf16: within the tensor-core bound (uw_c3.h) of a float64 reference.
 * The cpu backend answers UW_ERR_UNSUPPORTED. Exit 77 without a GPU. */
#include <cuda_runtime_api.h>

#include "test_util.h"
#include "uw_c3.h"

static const uw_pipeline pipes[] = {UW_PIPELINE_PLAIN_BF16,      UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PALETTE_DIRECT,
                                    UW_PIPELINE_PALETTE_TRANSCODE, UW_PIPELINE_EXP_PREDECODE, UW_PIPELINE_DECODE_GEMM,
                                    UW_PIPELINE_BLAS_BF16};
#define NP (sizeof pipes / sizeof pipes[0])

static int cu_ok(cudaError_t e, const char *what) {
    if (e != cudaSuccess) fprintf(stderr, "FAIL %s: %s\n", what, cudaGetErrorString(e));
    t_failures += e != cudaSuccess;
    return e == cudaSuccess;
}

/* C3: every output within the tensor-core bound (uw_c3.h) of the float64 dot product */
static int within_c3(const uint16_t *x, const uint16_t *w, const float *y, uint64_t B, uint64_t rows, uint64_t cols) {
    const double g = uw_c3_gamma("cuda", cols), fl = uw_c3_floor(cols);
    for (uint64_t b = 0; b < B; b++)
        for (uint64_t r = 0; r < rows; r++) {
            double mag, ref = uw_c3_dot(x + b * cols, w + r * cols, cols, &mag);
            if (!(fabs((double)y[b * rows + r] - ref) <= g * mag + fl)) return 0;
        }
    return 1;
}

static void check_shape(uw_device *dev, cudaStream_t st, uint64_t rows, uint64_t cols, const char *fill) {
    uint16_t *w = malloc(rows * cols * 2);
    t_fill(fill, w, rows * cols, cols);
    int finite = 1;
    for (uint64_t i = 0; i < rows * cols; i++) finite &= ((w[i] >> 7) & 0xFF) != 0xFF;
    uint8_t *blob;
    size_t bs;
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    CHECK_OK(uw_tensor_encode(w, rows, cols, &ep, &blob, &bs), "encode");
    uw_weights *wt = NULL;
    CHECK_OK(uw_weights_upload(dev, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt), "upload");
    static const uint64_t batches[] = {1, 17, 100, 200};
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0] && wt; bi++) {
        uint64_t B = batches[bi];
        size_t xb = B * cols * 2, yb = B * rows * 4;
        uint16_t *x = malloc(xb);
        for (uint64_t i = 0; i < B * cols; i++) x[i] = t_bf16((float)t_normal());
        float *yh = malloc(yb), *yal[NP], *ymis[NP];
        void *xdev = NULL, *ydev = NULL;
        cu_ok(cudaMalloc(&xdev, xb + 16), "cudaMalloc x");
        cu_ok(cudaMalloc(&ydev, yb), "cudaMalloc y");
        for (size_t p = 0; p < NP; p++) {
            yal[p] = malloc(yb);
            ymis[p] = malloc(yb);
            CHECK_OK(uw_weights_matmul(wt, pipes[p], x, yh, B), "%s host API batch %llu", uw_pipeline_name(pipes[p]), (unsigned long long)B);
            for (int mis = 0; mis < 2; mis++) { /* x aligned, then 2 bytes past a 16-byte boundary */
                uint8_t *xd = (uint8_t *)xdev + 2 * mis;
                float *out = mis ? ymis[p] : yal[p];
                cu_ok(cudaMemcpy(xd, x, xb, cudaMemcpyHostToDevice), "x to device");
                cu_ok(cudaMemset(ydev, 0x7F, yb), "poison y");
                CHECK_OK(uw_weights_matmul_async(wt, pipes[p], xd, ydev, B, st), "%s async", uw_pipeline_name(pipes[p]));
                cu_ok(cudaStreamSynchronize(st), "sync");
                cu_ok(cudaMemcpy(out, ydev, yb, cudaMemcpyDeviceToHost), "y to host");
            }
            CHECK(!memcmp(yh, yal[p], yb), "%llux%llu %s batch %llu: device pointers on the caller's stream give the host API's bytes",
                  (unsigned long long)rows, (unsigned long long)cols, uw_pipeline_name(pipes[p]), (unsigned long long)B);
        }
        for (int mis = 0; mis < 2; mis++) {
            float **y = mis ? ymis : yal;
            for (size_t p = 1; p < NP; p++) {
                size_t ref = pipes[p] == UW_PIPELINE_DECODE_GEMM ? NP - 1 : 0; /* decode+gemm vs blas-bf16 */
                if (pipes[p] == UW_PIPELINE_BLAS_BF16) continue;
                CHECK(!memcmp(y[ref], y[p], yb), "C2 %llux%llu %s x, batch %llu: %s matches %s", (unsigned long long)rows,
                      (unsigned long long)cols, mis ? "unaligned" : "aligned", (unsigned long long)B, uw_pipeline_name(pipes[p]),
                      uw_pipeline_name(pipes[ref]));
            }
            if (finite) {
                CHECK(within_c3(x, w, y[0], B, rows, cols), "C3 %llux%llu plain-bf16 (%s x) batch %llu", (unsigned long long)rows,
                      (unsigned long long)cols, mis ? "unaligned" : "aligned", (unsigned long long)B);
                CHECK(within_c3(x, w, y[NP - 1], B, rows, cols), "C3 %llux%llu blas-bf16 batch %llu", (unsigned long long)rows,
                      (unsigned long long)cols, (unsigned long long)B);
            }
        }
        for (size_t p = 0; p < NP; p++) free(yal[p]), free(ymis[p]);
        cudaFree(xdev);
        cudaFree(ydev);
        free(x), free(yh);
    }
    uw_weights_free(wt);
    uw_free(blob);
    free(w);
}

int main(void) {
    /* backends without device pointers say so */
    uw_device *cpu = NULL;
    CHECK_OK(uw_device_open("cpu", NULL, &cpu), "open cpu");
    uint64_t rows = 200, cols = 320; /* 4 bands (the last partial), 2 k-steps of 256 */
    uint16_t *w = malloc(rows * cols * 2);
    t_fill("rare_0p2pct", w, rows * cols, cols);
    uint8_t *blob;
    size_t bs;
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    CHECK_OK(uw_tensor_encode(w, rows, cols, &ep, &blob, &bs), "encode");
    uw_weights *wc = NULL;
    CHECK_OK(uw_weights_upload(cpu, blob, bs, 0, &wc), "cpu upload");
    int dummy[4];
    CHECK(uw_weights_matmul_async(wc, UW_PIPELINE_FUSED_HUFFMAN, dummy, dummy, 1, NULL) == UW_ERR_UNSUPPORTED,
          "cpu: matmul_async is unsupported");
    uw_weights_free(wc);
    uw_device_close(cpu);

    uw_device *dev = NULL;
    uw_status s = uw_device_open("cuda", NULL, &dev);
    uw_free(blob);
    free(w);
    if (s == UW_ERR_NO_DEVICE) {
        printf("cuda: no device (%s): NOT run\n", uw_last_error());
        return t_failures ? 1 : 77;
    }
    CHECK_OK(s, "open cuda");
    if (s != UW_OK) T_DONE();
    printf("device: %s\n", uw_device_name(dev));
    cudaStream_t st;
    cu_ok(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "stream");
    static const uint64_t shapes[][2] = {{200, 320}, {130, 512}, {64, 64}};
    static const char *fills[] = {"rare_0p2pct", "gauss", "specials"};
    for (size_t k = 0; k < 3; k++)
        check_shape(dev, st, shapes[k][0], shapes[k][1], fills[k]);
    cudaStreamDestroy(st);
    uw_device_close(dev);
    T_DONE();
}
