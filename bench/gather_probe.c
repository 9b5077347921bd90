/* gather_probe.c - why the codec's decoder does not advance its lanes with AVX-512 gathers
 * (bench/RESULTS.md, issue 15, third round): the cost of one 8 x u64 gather from a 32 KiB table
 * (the decoder's multi-code table) at random indices, independent and dependent (each index from
 * the last result, as a lane's next lookup depends on its last), against 8 scalar loads.
 *
 *   build/gather_probe        (built with the project where the compiler targets AVX-512)
 *
 * Prints nanoseconds per operation; the figures depend on the core (and on its microcode). */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t table[4096];
static uint64_t idx[1024][8];

__attribute__((target("avx512f"))) static void probe(long n) {
    __m512i acc = _mm512_setzero_si512(), a = _mm512_loadu_si512(idx[0]);
    const __m512i mask = _mm512_set1_epi64(4095);
    double t0 = now_s();
    for (long i = 0; i < n; i++) acc = _mm512_add_epi64(acc, _mm512_i64gather_epi64(_mm512_loadu_si512(idx[i & 1023]), table, 8));
    double t1 = now_s();
    for (long i = 0; i < n / 4; i++) a = _mm512_i64gather_epi64(_mm512_and_si512(a, mask), table, 8);
    double t2 = now_s();
    uint64_t s = 0;
    for (long i = 0; i < n; i++) {
        const uint64_t *ix = idx[i & 1023];
        for (int j = 0; j < 8; j++) s += table[ix[j]];
    }
    double t3 = now_s();
    uint64_t v[8];
    _mm512_storeu_si512(v, _mm512_add_epi64(acc, a));
    printf("independent gather, 8 x u64 at random indices in 32 KiB: %.2f ns\n", (t1 - t0) / (double)n * 1e9);
    printf("dependent gather (index from the last result):          %.2f ns\n", (t2 - t1) / (double)(n / 4) * 1e9);
    printf("8 scalar loads at the same indices:                     %.2f ns\n", (t3 - t2) / (double)n * 1e9);
    printf("(checksum %llu)\n", (unsigned long long)(v[0] + s));
}

int main(void) {
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "gather_probe: this CPU has no AVX-512\n");
        return 1;
    }
    srand(1);
    for (int i = 0; i < 4096; i++) table[i] = (uint64_t)rand() & 4095;
    for (int i = 0; i < 1024; i++)
        for (int j = 0; j < 8; j++) idx[i][j] = (uint64_t)rand() & 4095;
    probe(20000000);
    return 0;
}
