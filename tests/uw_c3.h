/* uw_c3.h - contract C3's tolerance, shared by the conformance program and the CUDA benchmark:
 * |y - y64| <= uw_c3_gamma(backend, K) * sum_k |x_k w_k| + uw_c3_floor(K), y64 the float64 dot
 * product of the same BF16 inputs. The tensor-core derivation: docs/backends.md, CUDA, "C3: the
 * tensor-core bound". */
#ifndef UW_C3_H
#define UW_C3_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define UW_C3_MAX_SPLITS 64 /* the most k-splits a GPU backend runs (device spec splitk=, cuda_device.cu) */

/* The most fp32 partial sums of one output added with round to nearest: the k-splits, or the GEMV
 * family's units sharing a band (docs/CONFORMANCE.md section 4.3, the GEMV family), each of which
 * holds at least one 32-column step: at most ceil(K / 32). */
static inline uint64_t uw_c3_partials(uint64_t K) {
    const uint64_t steps = (K + 31) / 32;
    return steps > UW_C3_MAX_SPLITS ? steps : UW_C3_MAX_SPLITS;
}

/* Round-to-nearest fp32 accumulation of exact products (BF16 x BF16 is exact in fp32), any order,
 * split-k partial sums included: gamma_K = K u / (1 - K u), u = 2^-24. */
static inline double uw_c3_gamma_rn(uint64_t K) {
    const double u = ldexp(1.0, -24), m = (double)K * u;
    return m / (1 - m);
}

/* NVIDIA tensor cores (mma.sync, wgmma): each instruction adds a block of b <= 16 exact products
 * to the fp32 accumulator, aligning all b + 1 terms to the largest and truncating them to a
 * 24-bit window, then truncating the sum to fp32. A block errs by less than
 * 2^-23 ((b + 1) max|t| + |sum|) < 2^-23 (b + 3) S, S the running sum of |products| plus the
 * error so far; K products take ceil(K / b) blocks, and the partial sums' reduction (round to nearest, at most
 * uw_c3_partials(K) of them) adds at most that many u. Worst block size b in 1..16, so the bound holds whatever b the
 * chip uses. */
static inline double uw_c3_gamma_tc(uint64_t K) {
    const double d = ldexp(1.0, -23);
    double m = 0;
    for (uint64_t b = 1; b <= 16; b++) {
        double mb = (double)((K + b - 1) / b) * (double)(b + 3);
        if (mb > m) m = mb;
    }
    m += (double)uw_c3_partials(K) / 2; /* P u = P/2 d */
    return m * d / (1 - m * d);
}

/* which accumulation a backend's kernels use: tensor cores for "cuda", round to nearest elsewhere */
static inline double uw_c3_gamma(const char *backend, uint64_t K) {
    return !strcmp(backend, "cuda") ? uw_c3_gamma_tc(K) : uw_c3_gamma_rn(K);
}

/* C3's reference: the float64 dot product of K BF16 values x and w (every product exact), and in
 * *mag the sum of the products' magnitudes, which scales the bound */
static inline double uw_c3_dot(const uint16_t *x, const uint16_t *w, uint64_t K, double *mag) {
    double ref = 0, m = 0;
    for (uint64_t k = 0; k < K; k++) {
        uint32_t a = (uint32_t)x[k] << 16, b = (uint32_t)w[k] << 16;
        float fa, fb;
        memcpy(&fa, &a, 4);
        memcpy(&fb, &b, 4);
        double p = (double)fa * (double)fb;
        ref += p;
        m += fabs(p);
    }
    *mag = m;
    return ref;
}

/* absolute slack for results near the underflow threshold: a subnormal partial sum flushed to
 * zero (tensor cores, AVX-512 BF16) errs by less than 2^-126 per accumulation step */
static inline double uw_c3_floor(uint64_t K) { return (double)(K + uw_c3_partials(K)) * ldexp(1.0, -126); }

#endif
