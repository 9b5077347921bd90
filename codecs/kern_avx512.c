/* kern_avx512.c - the codec's kernels with AVX-512 (F, BW, VL, DQ, VBMI; codec_isa.h); this file
 * alone is compiled with those flags, and runs only where cpuid says so. */
#include <immintrin.h>

#include "codec_isa.h"
#include "decode_steps.h"

static void merge(uint16_t *o, const uint8_t *pl, const uint8_t *e, size_t n) {
    size_t k = 0;
    const __m512i m7f = _mm512_set1_epi16(0x7F), m8000 = _mm512_set1_epi16((short)0x8000);
    for (; k + 32 <= n; k += 32) {
        __m512i p = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(pl + k)));
        __m512i x = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(e + k)));
        __m512i r = _mm512_or_si512(_mm512_and_si512(_mm512_slli_epi16(p, 8), m8000), _mm512_slli_epi16(x, 7));
        _mm512_storeu_si512(o + k, _mm512_ternarylogic_epi64(r, p, m7f, 0xF8)); /* r | (p & 0x7F) */
    }
    if (k < n) { /* the tail under a mask: no scalar loop */
        __mmask32 m = (__mmask32)((1ull << (n - k)) - 1);
        __m512i p = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, pl + k));
        __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, e + k));
        __m512i r = _mm512_or_si512(_mm512_and_si512(_mm512_slli_epi16(p, 8), m8000), _mm512_slli_epi16(x, 7));
        _mm512_mask_storeu_epi16(o + k, m, _mm512_ternarylogic_epi64(r, p, m7f, 0xF8));
    }
}

const uw_codec_kern uw_codec_kern_avx512 = {UW_CODEC_ISA_AVX512, "avx512", merge, uw_kern_hist_scalar, uw_kern_plane_scalar,
                                            uw_kern_pair_stats_scalar, uw_row_code_scalar};
