/* cpu_pal512.h - pieces the two AVX-512 kernels share (kern_avx512.c, kern_amx.c; both compiled
 * with the AVX-512 BF16/VBMI/VBMI2 flags): the palette group rebuilt in registers (cpu_pack.c has
 * the layout), its rare exceptions patched through memory, and the prefetch distance. */
#ifndef UW_CPU_PAL512_H
#define UW_CPU_PAL512_H

#include <immintrin.h>

#include "cpu_mm.h"

/* bytes prefetched ahead of the R panel streams of a kernel pass, all streams together (each
 * stream: this / R ahead). Measured at batch 1-8 from DRAM on the development machine (1 thread,
 * 4 KiB pages; bench/RESULTS.md): fewer streams prefetched further ahead read faster, best at
 * 8 KiB in all for plain panels and 12 KiB for palette panels (2 KiB per stream before). */
#ifndef UW_PF_PLAIN
#define UW_PF_PLAIN 8192
#endif
#ifndef UW_PF_PAL
#define UW_PF_PAL 12288
#endif
#define UW_PF_BYTES 2048 /* the AMX kernel's, per stream */
#ifndef UW_PF_HINT
#define UW_PF_HINT _MM_HINT_T0
#endif

static inline __attribute__((always_inline)) __m512i uw_rot1(__m512i v) { return _mm512_shrdi_epi16(v, v, 1); }

/* the 4 pair vectors of one palette group (192 bytes at p); t: the table in every 16-byte lane */
static inline __attribute__((always_inline)) void uw_pal_rebuild512(const uint8_t *p, __m512i t, __m512i *w) {
    __m512i n = _mm512_loadu_si512(p), pa = _mm512_loadu_si512(p + 64), pb = _mm512_loadu_si512(p + 128);
    __m512i ea = _mm512_permutexvar_epi8(n, t), eb = _mm512_permutexvar_epi8(_mm512_srli_epi16(n, 4), t);
    w[0] = uw_rot1(_mm512_unpacklo_epi8(pa, ea));
    w[1] = uw_rot1(_mm512_unpackhi_epi8(pa, ea));
    w[2] = uw_rot1(_mm512_unpacklo_epi8(pb, eb));
    w[3] = uw_rot1(_mm512_unpackhi_epi8(pb, eb));
}

static __attribute__((noinline, unused)) void uw_pal_patch512(__m512i *w, uint64_t g, const uint32_t **xg, const uint32_t **xv,
                                                             uint64_t *xl) {
    uint16_t buf[128];
    for (int m = 0; m < 4; m++) _mm512_storeu_si512(buf + 32 * m, w[m]);
    uw_pal_patch(buf, g, xg, xv, xl);
    for (int m = 0; m < 4; m++) w[m] = _mm512_loadu_si512(buf + 32 * m);
}

#endif
