/* bench_cuda_weights.h - the CUDA benchmark's weights (bench_cuda_weights.cu): synthetic
 * Llama-3.1-8B MLP shapes with the sample's exponent histogram plus the sample's own tensors,
 * encoded in the device's geometry; or the same set saved once (--save, no GPU needed) and loaded
 * pre-encoded (--load), so that a lent GPU's minutes are not spent encoding on its host. */
#ifndef BENCH_CUDA_WEIGHTS_H
#define BENCH_CUDA_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct weight {
    char name[160];
    uint64_t rows, cols;
    uint16_t *w;          /* the original BF16 (host) */
    uint8_t *blob;        /* GPU geometry */
    size_t blob_bytes, default_bytes;
    int real;
} weight;

typedef struct bench_set {
    weight *w;
    int n;                /* w[0], w[1]: the synthetic shapes; then the sample's tensors */
    uint64_t sample_weights;
    double entropy;       /* of the synthetic shapes' exponent histogram, bits (0 when loaded) */
    char hist_of[160];    /* the sample matrix that histogram is from ("" when loaded) */
} bench_set;

/* Synthesise (shapes divided by `scale` in each dimension; exponents from the histogram of the
 * sample's largest BF16 matrix, sign and mantissa uniformly random) and encode in R x C tiles of L lanes;
 * the sizes of the default encoding too (default_bytes). 0 on success, else a message on stderr. */
int bench_weights_make(const char *sample, uint64_t scale, uint32_t R, uint32_t C, uint32_t L, bench_set *set);
/* DIR/index.tsv and one .uwb per weight (the GPU-geometry blob); created if missing. */
int bench_weights_save(const bench_set *set, const char *dir);
/* The set saved by bench_weights_save; the originals decoded from the blobs (checksummed). */
int bench_weights_load(const char *dir, bench_set *set);
/* The benchmark's one pseudo-random stream (xorshift64*, fixed seed): weights and activations. */
uint64_t bench_rand(void);

#endif
