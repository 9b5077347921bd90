/* codec_isa.h - the codec's SIMD kernels, one table per instruction-set level (scalar C, AVX2,
 * AVX-512), chosen once at run time: the best level this CPU and build offer, or the level the
 * environment variable UW_CODEC_ISA names (scalar, avx2, avx512) for tests and comparisons. Every
 * level gives bit-identical results; only speed differs. */
#ifndef UW_CODEC_ISA_H
#define UW_CODEC_ISA_H

#include "../core/uw_internal.h"

typedef enum uw_codec_isa { UW_CODEC_ISA_SCALAR, UW_CODEC_ISA_AVX2, UW_CODEC_ISA_AVX512, UW_CODEC_ISA_COUNT } uw_codec_isa;

/* What the encoder's row coder needs (encode_tiles.c fills it): per exponent, bits 0-3 its
 * symbol, 8-15 the raw byte it carries as an escape, 16-23 that byte's bit count (8 or 0); per
 * symbol pair a << 4 | b (order 1: a << 4), bits 0-15 its code, first bit lowest, 16-23 its
 * length. */
typedef struct uw_row_coder {
    uint32_t ex[256];
    uint32_t code[256];
    int order;
    int esc;             /* escape mode: symbol 15 is the escape (its raw byte follows its code) */
    uint8_t sym[256];    /* the same in narrower forms for SIMD lookups: exponent -> symbol, */
    uint16_t code16[256]; /* pair or single symbol -> code | length << 12 */
} uw_row_coder;

typedef struct uw_codec_kern {
    uw_codec_isa isa;
    const char *name;
    /* o[k] = uw_bf16_join(plane[k], exps[k]) for k < n (decoder: the exponents meet the plane) */
    void (*merge)(uint16_t *o, const uint8_t *plane, const uint8_t *exps, size_t n);
    /* h[exponent of w[k]] += 1 for k < n (n <= 2^32) */
    void (*hist)(const uint16_t *w, size_t n, uint64_t h[256]);
    /* out[k] = uw_bf16_plane(w[k]) for k < n */
    void (*plane)(const uint16_t *w, size_t n, uint8_t *out);
    /* pairs (x[k], x[k+1]) for even k, the last alone with symbol 0 when n is odd: count pair
     * s[a] * 17 + s[b] of the exponents' symbols s (0..16) in h[(k/2 & 3) * 289 + pair] (four
     * copies: a frequent pair's increments do not wait on one another); returns how many elements
     * have symbol 16 and puts the first `cap` of their positions k, increasing, in rare */
    uint32_t (*pair_stats)(const uint16_t *x, uint32_t n, const uint8_t s[256], uint32_t h[4 * 289], uint32_t *rare, uint32_t cap);
    /* the same pairs' indices s[a] * 17 + s[b] into out[0 .. (n + 1) / 2) */
    void (*pair_index)(const uint16_t *x, uint32_t n, const uint8_t s[256], uint16_t *out);
    /* the codes of a run of n elements (FORMAT.md 6, steps 2-3) appended to the bit writer
     * (*acc: *nb < 8 pending bits; p: where they go, with room for the run's worst case and 8
     * bytes); returns the bytes p advanced by, *acc and *nb what is left pending */
    size_t (*row_code)(const uw_row_coder *rc, const uint16_t *x, uint32_t n, uint8_t *p, uint64_t *acc, uint32_t *nb);
} uw_codec_kern;

/* the portable kernels, which the SIMD levels also use where they have nothing faster */
void uw_kern_hist_scalar(const uint16_t *w, size_t n, uint64_t h[256]);
void uw_kern_plane_scalar(const uint16_t *w, size_t n, uint8_t *out);
uint32_t uw_kern_pair_stats_scalar(const uint16_t *x, uint32_t n, const uint8_t s[256], uint32_t h[4 * 289], uint32_t *rare,
                                   uint32_t cap);
void uw_kern_pair_index_scalar(const uint16_t *x, uint32_t n, const uint8_t s[256], uint16_t *out);
size_t uw_row_code_scalar(const uw_row_coder *rc, const uint16_t *x, uint32_t n, uint8_t *p, uint64_t *acc, uint32_t *nb);

/* The selected level's kernels (UW_CODEC_ISA, else the best offered). UW_ERR_INVALID_ARG for an
 * unknown name, UW_ERR_UNSUPPORTED for a level this CPU or build lacks: never a silent fallback. */
uw_status uw_codec_kern_get(const uw_codec_kern **k);
/* A level's kernels, or NULL when this CPU or build lacks it. */
const uw_codec_kern *uw_codec_kern_level(uw_codec_isa isa);
const char *uw_codec_isa_name(uw_codec_isa isa);

/* per-level tables (codecs/kern_*.c) */
extern const uw_codec_kern uw_codec_kern_scalar;
#ifdef UW_CODEC_X86
extern const uw_codec_kern uw_codec_kern_avx2;
extern const uw_codec_kern uw_codec_kern_avx512;
#endif

#endif
