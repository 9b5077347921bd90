/* test_c3_bound.c - contract C3's tensor-core bound (tests/uw_c3.h, derived in docs/backends.md)
 * against a software model of truncating tensor-core accumulation: blocks of b exact BF16
 * products plus the fp32 accumulator, aligned to the largest term in a 24-bit window (lower bits
 * truncated), summed exactly, the sum truncated to fp32. For b in 1..16 and K up to 14336, on
 * random and on same-sign (worst drift) data, the model's error must stay within
 * uw_c3_gamma_tc(K) * sum|x w| (+ floor), and on products just under half an ulp of the running
 * sum it must exceed the round-to-nearest bound (why cuda needs its own); round-to-nearest fp32
 * sums within uw_c3_gamma_rn(K); and a layout fault (x_k paired with w_k') must exceed the bound on most outputs, or C3 could
 * not see one. Needs no GPU (label cpu). */
#include <fenv.h>

#include "test_util.h"
#include "uw_c3.h"


/* round toward zero to fp32 (v is a double sum of aligned terms, exact) */
static float to_f32_rz(double v) {
    float f = (float)v; /* round to nearest */
    if (fabs((double)f) > fabs(v)) f = nextafterf(f, 0.0f);
    return f;
}

/* one block: c + sum of n exact products, the model described above */
static float tc_block(float c, const double *p, int n) {
    double M = fabs((double)c);
    for (int i = 0; i < n; i++) M = fabs(p[i]) > M ? fabs(p[i]) : M;
    if (M == 0) return c;
    int e;
    frexp(M, &e);                        /* M in [2^(e-1), 2^e) */
    const double q = ldexp(1.0, e - 24); /* 24-bit window below M's leading bit */
    double s = trunc((double)c / q) * q;
    for (int i = 0; i < n; i++) s += trunc(p[i] / q) * q;
    return to_f32_rz(s);
}

static float tc_dot(const double *p, uint64_t K, int b) {
    float c = 0;
    for (uint64_t k = 0; k < K; k += (uint64_t)b) c = tc_block(c, p + k, (int)(K - k < (uint64_t)b ? K - k : (uint64_t)b));
    return c;
}

int main(void) {
    static const uint64_t Ks[] = {1, 16, 100, 256, 4096, 14336};
    static const int bs[] = {1, 2, 4, 8, 16};
    double worst_tc = 0, worst_rn = 0;
    int caught = 0, tried = 0;
    for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
        const uint64_t K = Ks[ki];
        uint16_t *x = malloc(K * 2), *w = malloc(K * 2);
        double *p = malloc(K * sizeof(double)), *pw = malloc(K * sizeof(double));
        for (int trial = 0; trial < 8; trial++) {
            const int same_sign = trial % 2; /* all products positive: truncation errors never cancel */
            for (uint64_t k = 0; k < K; k++) {
                double a = t_normal(), c = t_normal() * 0.02 * (trial >= 4 ? ldexp(1.0, (int)(t_rand() % 24) - 12) : 1.0);
                x[k] = t_bf16((float)(same_sign ? fabs(a) : a));
                w[k] = t_bf16((float)(same_sign ? fabs(c) : c));
            }
            double ref = 0, A = 0;
            for (uint64_t k = 0; k < K; k++) {
                p[k] = (double)t_f32(x[k]) * (double)t_f32(w[k]); /* exact */
                ref += p[k];
                A += fabs(p[k]);
            }
            const double tol_tc = uw_c3_gamma_tc(K) * A + uw_c3_floor(K), tol_rn = uw_c3_gamma_rn(K) * A + uw_c3_floor(K);
            for (size_t bi = 0; bi < sizeof bs / sizeof bs[0]; bi++) {
                double err = fabs((double)tc_dot(p, K, bs[bi]) - ref);
                CHECK(err <= tol_tc, "tensor-core model, K %llu, b %d, trial %d: error %.3g within the bound %.3g", (unsigned long long)K,
                      bs[bi], trial, err, tol_tc);
                if (err / tol_tc > worst_tc) worst_tc = err / tol_tc;
            }
            float r = 0;
            fesetround(FE_TONEAREST);
            for (uint64_t k = 0; k < K; k++) r = fmaf(t_f32(x[k]), t_f32(w[k]), r);
            double err = fabs((double)r - ref);
            CHECK(err <= tol_rn, "round-to-nearest fp32, K %llu, trial %d: error %.3g within gamma_K bound %.3g", (unsigned long long)K,
                  trial, err, tol_rn);
            if (err / tol_rn > worst_rn) worst_rn = err / tol_rn;
            /* a layout fault: x_k times w_(k+1 mod K) (random signs only; K > 1) */
            if (!same_sign && K > 1 && K <= 14336) {
                double wrong = 0;
                for (uint64_t k = 0; k < K; k++) pw[k] = (double)t_f32(x[k]) * (double)t_f32(w[(k + 1) % K]);
                wrong = (double)tc_dot(pw, K, 16);
                tried++;
                caught += fabs(wrong - ref) > tol_tc;
            }
        }
        free(x), free(w), free(p), free(pw);
    }
    /* why the round-to-nearest bound is not enough: 1 followed by K - 1 products just under half
     * an ulp of 1 (0.996 * 2^-23): truncation drops each one, losing (K - 1) * 0.996 * 2^-23 =
     * about 2 K u of sum|x w| ~ 1, twice gamma_K, still within the tensor-core bound */
    for (int bi = 0; bi < 5; bi++) {
        const uint64_t K = 4096;
        double *p = malloc(K * sizeof(double)), ref = 0, A = 0;
        for (uint64_t k = 0; k < K; k++) {
            p[k] = k ? (double)t_f32(t_mk(0, 127 - 24, 0x7F)) : 1.0; /* 1.9921875 * 2^-24, exact in BF16 */
            ref += p[k];
            A += fabs(p[k]);
        }
        double err = fabs((double)tc_dot(p, K, bs[bi]) - ref);
        CHECK(err > uw_c3_gamma_rn(K) * A, "sub-ulp products, b %d: truncation exceeds the round-to-nearest bound (%.3g vs %.3g)", bs[bi],
              err, uw_c3_gamma_rn(K) * A);
        CHECK(err <= uw_c3_gamma_tc(K) * A + uw_c3_floor(K), "sub-ulp products, b %d: within the tensor-core bound (%.3g vs %.3g)",
              bs[bi], err, uw_c3_gamma_tc(K) * A);
        if (bi == 4) printf("sub-ulp products, K 4096: truncation error %.3g = %.2f x gamma_K sum|xw|, %.2f of the tensor-core bound\n", err,
                            err / (uw_c3_gamma_rn(K) * A), err / (uw_c3_gamma_tc(K) * A));
        free(p);
    }
    printf("tensor-core model: worst error / bound %.3g; round to nearest: %.3g; a shifted pairing exceeds the bound in %d of %d "
           "outputs\n", worst_tc, worst_rn, caught, tried);
    CHECK(caught * 4 >= tried * 3, "a layout fault exceeds the tensor-core bound on most outputs (%d of %d)", caught, tried);
    T_DONE();
}
