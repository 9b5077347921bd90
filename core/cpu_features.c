/* cpu_features.c - which SIMD instruction sets this CPU and its OS offer (x86 cpuid and XCR0, the
 * registers the OS saves), detected once. One small leaf of the core base so that every part of
 * the library (the codec's kernels, the CPU backend's) asks the same question the same way. */
#include <pthread.h>

#include "uw_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static unsigned detect(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx || __get_cpuid_max(0, NULL) < 7) return 0;
    uint64_t x = xcr0();
    if ((x & 6) != 6) return 0; /* the OS does not save XMM and YMM state */
    __cpuid_count(7, 0, a, b, c, d);
    if (((b >> 5) & 1) && ((b >> 8) & 1) && fma) f |= UW_CPUF_AVX2; /* AVX2, BMI2, FMA */
    if ((x & 0xE0) == 0xE0 && ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1) && ((b >> 8) & 1))
        f |= UW_CPUF_AVX512; /* F, DQ, BW, VL, BMI2; the OS saves opmask and ZMM state */
    if ((f & UW_CPUF_AVX512) && ((c >> 1) & 1) && ((c >> 6) & 1)) f |= UW_CPUF_AVX512VBMI; /* VBMI, VBMI2 */
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    if ((f & UW_CPUF_AVX512) && ((a1 >> 5) & 1)) f |= UW_CPUF_AVX512BF16;
    return f;
}
#else
static unsigned detect(void) { return 0; }
#endif

static unsigned features;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init(void) { features = detect(); }

unsigned uw_cpu_features(void) {
    pthread_once(&once, init);
    return features;
}
