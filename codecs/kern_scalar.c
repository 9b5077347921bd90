/* kern_scalar.c - the codec's kernels in portable C (codec_isa.h): every CPU has this level, and
 * the SIMD levels must give the same bytes. */
#include "codec_isa.h"
#include "decode_steps.h"

static void merge(uint16_t *o, const uint8_t *pl, const uint8_t *e, size_t n) {
    for (size_t k = 0; k < n; k++) o[k] = uw_bf16_join(pl[k], e[k]);
}

const uw_codec_kern uw_codec_kern_scalar = {UW_CODEC_ISA_SCALAR, "scalar", merge};
