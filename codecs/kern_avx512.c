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

/* byte 2k of the 128 bytes of two registers, k < 64: the low bytes of 64 words */
static inline __m512i even_bytes(__m512i a, __m512i b) {
    const __m512i idx = _mm512_set_epi8(126, 124, 122, 120, 118, 116, 114, 112, 110, 108, 106, 104, 102, 100, 98, 96, 94, 92, 90, 88, 86,
                                        84, 82, 80, 78, 76, 74, 72, 70, 68, 66, 64, 62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38,
                                        36, 34, 32, 30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_epi8(a, idx, b);
}

/* the exponents of 64 BF16 values as bytes */
static inline __m512i exps64(const uint16_t *w) {
    return even_bytes(_mm512_srli_epi16(_mm512_loadu_si512(w), 7), _mm512_srli_epi16(_mm512_loadu_si512(w + 32), 7));
}

/* a 256-entry byte table in four registers, looked up by 64 byte indices */
typedef struct lut8 {
    __m512i t[4];
} lut8;
static inline lut8 lut8_load(const uint8_t *t) {
    lut8 l;
    for (int i = 0; i < 4; i++) l.t[i] = _mm512_loadu_si512(t + 64 * i);
    return l;
}
static inline __m512i lut8_get(const lut8 *l, __m512i idx) {
    __m512i lo = _mm512_permutex2var_epi8(l->t[0], idx, l->t[1]), hi = _mm512_permutex2var_epi8(l->t[2], idx, l->t[3]);
    return _mm512_mask_mov_epi8(lo, _mm512_movepi8_mask(idx), hi);
}

/* a 256-entry word table in eight registers, looked up by 32 word indices < 256 */
typedef struct lut16 {
    __m512i t[8];
} lut16;
static inline __m512i lut16_get(const lut16 *l, __m512i idx) {
    __m512i r0 = _mm512_permutex2var_epi16(l->t[0], idx, l->t[1]), r1 = _mm512_permutex2var_epi16(l->t[2], idx, l->t[3]);
    __m512i r2 = _mm512_permutex2var_epi16(l->t[4], idx, l->t[5]), r3 = _mm512_permutex2var_epi16(l->t[6], idx, l->t[7]);
    __mmask32 b6 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(0x40)), b7 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(0x80));
    return _mm512_mask_mov_epi16(_mm512_mask_mov_epi16(r0, b6, r1), b7, _mm512_mask_mov_epi16(r2, b6, r3));
}

/* Histogram: the HOT values most frequent in the first elements are counted 64 at a time by
 * byte compares into byte counters (added up every 255 blocks); the others, rare, one by one. */
#define HOT 12
static void hist(const uint16_t *w, size_t n, uint64_t h[256]) {
    uint32_t c[256] = {0};
    size_t k = n < 2048 ? n : 2048;
    for (size_t i = 0; i < k; i++) c[uw_bf16_exp(w[i])]++;
    uint8_t hot[HOT], taken[256] = {0};
    for (int j = 0; j < HOT; j++) { /* the most counted so far, each once (any value when all are 0) */
        int best = -1;
        for (int x = 0; x < 256; x++)
            if (!taken[x] && (best < 0 || c[x] > c[best])) best = x;
        hot[j] = (uint8_t)best;
        taken[best] = 1;
    }
    __m512i v[HOT], acc[HOT];
    uint64_t tot[HOT] = {0};
    for (int j = 0; j < HOT; j++) v[j] = _mm512_set1_epi8((char)hot[j]), acc[j] = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi8(1), zero = _mm512_setzero_si512();
    uint8_t e[64] __attribute__((aligned(64)));
    int since = 0;
    for (; k + 64 <= n; k += 64) {
        __m512i x = exps64(w + k);
        __mmask64 any = 0;
        for (int j = 0; j < HOT; j++) {
            __mmask64 m = _mm512_cmpeq_epi8_mask(x, v[j]);
            acc[j] = _mm512_mask_add_epi8(acc[j], m, acc[j], one);
            any |= m;
        }
        if (~any) { /* values outside the hot set */
            _mm512_store_si512(e, x);
            for (uint64_t m = ~any; m; m &= m - 1) c[e[__builtin_ctzll(m)]]++;
        }
        if (++since == 255) { /* byte counters full: into the totals */
            for (int j = 0; j < HOT; j++) {
                tot[j] += (uint64_t)_mm512_reduce_add_epi64(_mm512_sad_epu8(acc[j], zero));
                acc[j] = zero;
            }
            since = 0;
        }
    }
    for (int j = 0; j < HOT; j++) tot[j] += (uint64_t)_mm512_reduce_add_epi64(_mm512_sad_epu8(acc[j], zero));
    for (; k < n; k++) c[uw_bf16_exp(w[k])]++;
    for (int x = 0; x < 256; x++) h[x] += c[x];
    for (int j = 0; j < HOT; j++) h[hot[j]] += tot[j];
}

static void plane(const uint16_t *w, size_t n, uint8_t *out) {
    size_t k = 0;
    const __m512i m = _mm512_set1_epi16(0x7F);
    for (; k + 64 <= n; k += 64) {
        __m512i a = _mm512_loadu_si512(w + k), b = _mm512_loadu_si512(w + k + 32);
        /* mantissa where m is set, else the sign (bit 15 shifted to bit 7) */
        a = _mm512_ternarylogic_epi32(a, _mm512_srli_epi16(a, 8), m, 0xE4);
        b = _mm512_ternarylogic_epi32(b, _mm512_srli_epi16(b, 8), m, 0xE4);
        _mm512_storeu_si512(out + k, even_bytes(a, b));
    }
    for (; k < n; k++) out[k] = uw_bf16_plane(w[k]);
}

/* A block's pair indices are stored, then counted one block later: counting right after the
 * store would wait for it (a 64-byte store does not forward to word loads). */
static uint32_t pair_stats(const uint16_t *x, uint32_t n, const uint8_t s[256], uint32_t h[4 * 289], uint32_t *rare, uint32_t cap) {
    uint32_t k = 0, nr = 0;
    uint16_t idx[2][32] __attribute__((aligned(64)));
    lut8 l = lut8_load(s);
    const __m512i w17 = _mm512_set1_epi16(0x0111), s16 = _mm512_set1_epi8(16);
    int pend = -1;
    for (; k + 64 <= n; k += 64) {
        __m512i sy = lut8_get(&l, exps64(x + k));
        for (uint64_t m = _mm512_cmpeq_epi8_mask(sy, s16); m; m &= m - 1) /* rare: where */
            if (nr++ < cap) rare[nr - 1] = k + (uint32_t)__builtin_ctzll(m);
        int cur = pend < 0 ? 0 : pend ^ 1;
        _mm512_store_si512(idx[cur], _mm512_maddubs_epi16(sy, w17)); /* a * 17 + b per pair */
        __asm__ volatile("" ::: "memory"); /* read back as words, not by 32 lane extracts */
        if (pend >= 0) {
            const uint16_t *q = idx[pend];
            for (int i = 0; i < 32; i += 4) h[q[i]]++, h[289 + q[i + 1]]++, h[578 + q[i + 2]]++, h[867 + q[i + 3]]++;
        }
        pend = cur;
    }
    if (pend >= 0) {
        const uint16_t *q = idx[pend];
        for (int i = 0; i < 32; i += 4) h[q[i]]++, h[289 + q[i + 1]]++, h[578 + q[i + 2]]++, h[867 + q[i + 3]]++;
    }
    uint32_t more = uw_kern_pair_stats_scalar(x + k, n - k, s, h, nr < cap ? rare + nr : rare, nr < cap ? cap - nr : 0);
    for (uint32_t i = nr; i < cap && i < nr + more; i++) rare[i] += k;
    return nr + more;
}

static void pair_index(const uint16_t *x, uint32_t n, const uint8_t s[256], uint16_t *out) {
    uint32_t k = 0;
    lut8 l = lut8_load(s);
    const __m512i w17 = _mm512_set1_epi16(0x0111);
    for (; k + 64 <= n; k += 64) _mm512_storeu_si512(out + k / 2, _mm512_maddubs_epi16(lut8_get(&l, exps64(x + k)), w17));
    uw_kern_pair_index_scalar(x + k, n - k, s, out + k / 2);
}

/* Codes of 64 elements, four to a 64-bit value (up to 48 bits: no escape among them), flushed. */
static inline void put8(const uint64_t *v, const uint64_t *l, uint8_t **pp, uint64_t *accp, uint32_t *nbp) {
    uint8_t *p = *pp;
    uint64_t acc = *accp;
    uint32_t nb = *nbp;
    for (int i = 0; i < 8; i++) {
        acc |= v[i] << nb;
        nb += (uint32_t)l[i];
        memcpy(p, &acc, 8);
        p += nb >> 3;
        acc >>= nb & 56;
        nb &= 7;
    }
    *pp = p, *accp = acc, *nbp = nb;
}

/* 32 code|length<<12 words (two to a 32-bit lane, first in the stream low) into 8 values of 4
 * codes each and their bit counts */
static inline void join4(__m512i cd, uint64_t *v, uint64_t *l) {
    const __m512i m12 = _mm512_set1_epi32(0xFFF), m4 = _mm512_set1_epi32(0xF), m32 = _mm512_set1_epi64(0xFFFFFFFF);
    __m512i lo = _mm512_and_si512(cd, m12), llo = _mm512_and_si512(_mm512_srli_epi32(cd, 12), m4);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi32(cd, 16), m12), lhi = _mm512_srli_epi32(cd, 28);
    __m512i v32 = _mm512_or_si512(lo, _mm512_sllv_epi32(hi, llo)), l32 = _mm512_add_epi32(llo, lhi);
    __m512i l64lo = _mm512_and_si512(l32, m32);
    __m512i v64 = _mm512_or_si512(_mm512_and_si512(v32, m32), _mm512_sllv_epi64(_mm512_srli_epi64(v32, 32), l64lo));
    _mm512_store_si512(v, v64);
    _mm512_store_si512(l, _mm512_add_epi64(l64lo, _mm512_srli_epi64(l32, 32)));
}

/* Each block's values are stored, then written out one block later (after the next block's
 * lookups), so the scalar writer does not wait for the store. */
static size_t row_code(const uw_row_coder *rc, const uint16_t *x, uint32_t n, uint8_t *p, uint64_t *accp, uint32_t *nbp) {
    uint8_t *p0 = p;
    uint64_t acc = *accp, v[2][2][8] __attribute__((aligned(64))), l[2][2][8] __attribute__((aligned(64)));
    uint32_t nb = *nbp, k = 0;
    int pend = -1, parts = rc->order == 2 ? 1 : 2; /* values per block: 8 (pairs) or 16 (singles) */
    lut8 sl = lut8_load(rc->sym);
    lut16 cl;
    for (int i = 0; i < 8; i++) cl.t[i] = _mm512_loadu_si512(rc->code16 + 32 * i);
    uint16_t t1[32] __attribute__((aligned(64))) = {0};
    for (int s = 0; s < 16; s++) t1[s] = rc->code16[s << 4];
    const __m512i c1 = _mm512_load_si512(t1), s15 = _mm512_set1_epi8(15), w16 = _mm512_set1_epi16(0x0110);
    for (; k + 64 <= n; k += 64) {
        __m512i sy = lut8_get(&sl, exps64(x + k));
        if (rc->esc && _mm512_cmpeq_epi8_mask(sy, s15)) { /* an escape: these 64 the scalar way */
            for (int q = 0; pend >= 0 && q < parts; q++) put8(v[pend][q], l[pend][q], &p, &acc, &nb);
            pend = -1;
            p += uw_row_code_scalar(rc, x + k, 64, p, &acc, &nb);
            continue;
        }
        int cur = pend < 0 ? 0 : pend ^ 1;
        if (parts == 1) {
            join4(lut16_get(&cl, _mm512_maddubs_epi16(sy, w16)), v[cur][0], l[cur][0]); /* pair a << 4 | b */
        } else {
            join4(_mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(sy)), c1), v[cur][0], l[cur][0]);
            join4(_mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(sy, 1)), c1), v[cur][1], l[cur][1]);
        }
        __asm__ volatile("" ::: "memory");
        for (int q = 0; pend >= 0 && q < parts; q++) put8(v[pend][q], l[pend][q], &p, &acc, &nb);
        pend = cur;
    }
    for (int q = 0; pend >= 0 && q < parts; q++) put8(v[pend][q], l[pend][q], &p, &acc, &nb);
    p += uw_row_code_scalar(rc, x + k, n - k, p, &acc, &nb);
    *accp = acc, *nbp = nb;
    return (size_t)(p - p0);
}

const uw_codec_kern uw_codec_kern_avx512 = {UW_CODEC_ISA_AVX512, "avx512", merge, hist, plane, pair_stats, pair_index, row_code};
