/* codec_isa.h - the codec's SIMD kernels, one table per instruction-set level (scalar C, AVX2,
 * AVX-512), chosen once at run time: the best level this CPU and build offer, or the level the
 * environment variable UW_CODEC_ISA names (scalar, avx2, avx512) for tests and comparisons. Every
 * level gives bit-identical results; only speed differs. */
#ifndef UW_CODEC_ISA_H
#define UW_CODEC_ISA_H

#include "../core/uw_internal.h"

typedef enum uw_codec_isa { UW_CODEC_ISA_SCALAR, UW_CODEC_ISA_AVX2, UW_CODEC_ISA_AVX512, UW_CODEC_ISA_COUNT } uw_codec_isa;

typedef struct uw_codec_kern {
    uw_codec_isa isa;
    const char *name;
    /* o[k] = uw_bf16_join(plane[k], exps[k]) for k < n (decoder: the exponents meet the plane) */
    void (*merge)(uint16_t *o, const uint8_t *plane, const uint8_t *exps, size_t n);
} uw_codec_kern;

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
