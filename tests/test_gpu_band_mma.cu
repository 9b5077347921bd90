/* test_gpu_band_mma.cu - the portable band product of backends/cuda/uw_gpu.h (the generic matmul's
 * only matrix operation on AMD GPUs: uw_gpu_band_mma_k16_valu and its accumulator map), run on the
 * CPU for every one of the 128 threads of a block, as the kernel calls it: for batch tiles 16 and
 * 64 and tile widths C = 64, 128, 256, the threads' accumulators must cover every output of the
 * 64 x BN block exactly once, each equal bit for bit to the sequential fp32 sum over k (one
 * rounding per product, k in order: the order this path promises), and within gamma_n sum |x w|
 * of a float64 reference (contract C3). The shared-memory layout is the kernel's: W [64][C + 8]
 * and X [BN][C + 8] BF16. Built as HIP (label hip: tests/test_hip_band_mma.hip); needs no GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/cuda/uw_gpu.h"

static int failures = 0;
#define EXPECT(cond, ...)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            failures++;                                                                        \
            if (failures < 20) {                                                               \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
                fprintf(stderr, __VA_ARGS__);                                                  \
                fputc('\n', stderr);                                                           \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint16_t rand_bf16(int wide) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t r = rng * 0x2545F4914F6CDD1Dull;
    /* sign, an exponent around 1 (or over 2^-60..2^60: products and sums stay finite and
     * normal), a random mantissa */
    uint32_t e = wide ? 67 + (uint32_t)((r >> 8) % 121) : 120 + (uint32_t)((r >> 8) % 12);
    return (uint16_t)(((r >> 63) << 15) | (e << 7) | (r & 0x7F));
}
static float f32(uint16_t v) { return uw_gpu_bf16_to_f32(v); }

template <int BN> static void check(uint32_t C, int wide) {
    const uint32_t ld = C + 8;
    uint16_t *W = (uint16_t *)calloc((size_t)64 * ld, 2), *X = (uint16_t *)calloc((size_t)BN * ld, 2);
    for (uint32_t r = 0; r < 64; r++)
        for (uint32_t k = 0; k < C; k++) W[r * ld + k] = rand_bf16(wide);
    for (uint32_t n = 0; n < BN; n++)
        for (uint32_t k = 0; k < C; k++) X[n * ld + k] = rand_bf16(wide);
    static float acc[UW_GPU_BAND_THREADS][UW_GPU_BAND_ACC(64)];
    memset(acc, 0, sizeof acc);
    for (uint32_t ks = 0; ks < C / 16; ks++) /* the kernel's k-loop, every thread */
        for (uint32_t t = 0; t < UW_GPU_BAND_THREADS; t++) uw_gpu_band_mma_k16_valu<BN>(acc[t], W, X, ld, ks * 16, t);
    int seen[64][BN];
    memset(seen, 0, sizeof seen);
    for (uint32_t t = 0; t < UW_GPU_BAND_THREADS; t++)
        for (uint32_t a = 0; a < UW_GPU_BAND_ACC(BN); a++) {
            uint32_t m, n;
            uw_gpu_band_acc_pos_valu<BN>(t, a, &m, &n);
            EXPECT(m < 64 && n < BN, "BN %d: thread %u accumulator %u maps outside the block (%u, %u)", BN, t, a, m, n);
            if (m >= 64 || n >= BN) continue;
            seen[m][n]++;
            float seq = 0.0f;
            double ref = 0, mag = 0;
            for (uint32_t k = 0; k < C; k++) {
                seq = fmaf(f32(W[m * ld + k]), f32(X[n * ld + k]), seq);
                double p = (double)f32(W[m * ld + k]) * (double)f32(X[n * ld + k]);
                ref += p;
                mag += fabs(p);
            }
            EXPECT(!memcmp(&seq, &acc[t][a], 4), "BN %d C %u: y(%u, %u) = %.9g, the sequential fp32 sum is %.9g", BN, C, m, n,
                   (double)acc[t][a], (double)seq);
            double u = ldexp(1.0, -24), g = C * u / (1 - C * u);
            EXPECT(fabs((double)acc[t][a] - ref) <= g * mag, "BN %d C %u: y(%u, %u) = %.9g is outside C3 of %.17g", BN, C, m, n,
                   (double)acc[t][a], ref);
        }
    for (uint32_t m = 0; m < 64; m++)
        for (uint32_t n = 0; n < BN; n++) EXPECT(seen[m][n] == 1, "BN %d: output (%u, %u) held %d times", BN, m, n, seen[m][n]);
    free(W);
    free(X);
}

int main(void) {
    static const uint32_t widths[] = {64, 128, 256};
    for (int wide = 0; wide < 2; wide++)
        for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
            check<16>(widths[i], wide);
            check<64>(widths[i], wide);
        }
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("band product (vector ALU): every output of 64 x 16 and 64 x 64 blocks, C = 64/128/256, held once and "
           "bit-identical to the sequential fp32 sum\n");
    return 0;
}
