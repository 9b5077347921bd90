/* codec_isa.c - which level of the codec's kernels runs (codec_isa.h): the environment variable
 * UW_CODEC_ISA, read once, or the best level the CPU (core/cpu_features.c) and build offer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec_isa.h"

static const char *const names[UW_CODEC_ISA_COUNT] = {"scalar", "avx2", "avx512"};

const char *uw_codec_isa_name(uw_codec_isa isa) { return (unsigned)isa < UW_CODEC_ISA_COUNT ? names[isa] : "unknown"; }

const uw_codec_kern *uw_codec_kern_level(uw_codec_isa isa) {
    unsigned f = uw_cpu_features();
    (void)f;
    switch (isa) {
    case UW_CODEC_ISA_SCALAR: return &uw_codec_kern_scalar;
#ifdef UW_CODEC_X86
    case UW_CODEC_ISA_AVX2: return f & UW_CPUF_AVX2 ? &uw_codec_kern_avx2 : NULL;
    case UW_CODEC_ISA_AVX512: return (f & UW_CPUF_AVX512VBMI) && (f & UW_CPUF_AVX2) ? &uw_codec_kern_avx512 : NULL;
#endif
    default: return NULL;
    }
}

static const uw_codec_kern *chosen;
static uw_status chosen_status;
static char chosen_msg[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void) {
    const char *e = getenv("UW_CODEC_ISA");
    if (!e || !*e) {
        for (int i = UW_CODEC_ISA_COUNT - 1; i >= 0 && !chosen; i--) chosen = uw_codec_kern_level((uw_codec_isa)i);
        return;
    }
    for (int i = 0; i < UW_CODEC_ISA_COUNT; i++)
        if (!strcmp(e, names[i])) {
            chosen = uw_codec_kern_level((uw_codec_isa)i);
            if (!chosen) {
                chosen_status = UW_ERR_UNSUPPORTED;
                snprintf(chosen_msg, sizeof chosen_msg, "UW_CODEC_ISA=%s: this CPU (or build) does not offer it", e);
            }
            return;
        }
    chosen_status = UW_ERR_INVALID_ARG;
    snprintf(chosen_msg, sizeof chosen_msg, "UW_CODEC_ISA=%.64s: expected scalar, avx2 or avx512", e);
}

uw_status uw_codec_kern_get(const uw_codec_kern **k) {
    pthread_once(&once, choose);
    *k = chosen;
    if (chosen_status != UW_OK) return uw_error_set(chosen_status, "%s", chosen_msg);
    return UW_OK;
}
