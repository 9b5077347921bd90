/* kern_avx2.c - the codec's kernels with AVX2 (codec_isa.h); this file alone is compiled with
 * -mavx2 -mbmi2 -mfma, and runs only where cpuid says so. */
#include <immintrin.h>

#include "codec_isa.h"
#include "decode_steps.h"

static void merge(uint16_t *o, const uint8_t *pl, const uint8_t *e, size_t n) {
    size_t k = 0;
    const __m256i m7f = _mm256_set1_epi16(0x7F), m8000 = _mm256_set1_epi16((short)0x8000);
    for (; k + 16 <= n; k += 16) {
        __m256i p = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(pl + k)));
        __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(e + k)));
        __m256i r = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(p, 8), m8000), _mm256_slli_epi16(x, 7));
        _mm256_storeu_si256((__m256i *)(o + k), _mm256_or_si256(r, _mm256_and_si256(p, m7f)));
    }
    for (; k < n; k++) o[k] = uw_bf16_join(pl[k], e[k]);
}

const uw_codec_kern uw_codec_kern_avx2 = {UW_CODEC_ISA_AVX2, "avx2", merge, uw_kern_hist_scalar, uw_kern_plane_scalar,
                                          uw_kern_pair_stats_scalar, uw_kern_pair_index_scalar, uw_row_code_scalar};
