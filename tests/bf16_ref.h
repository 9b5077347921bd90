/* bf16_ref.h - the BF16 helpers of the tests' reference arithmetic, written once: test_util.h
 * (every C test) and the AMX software model (amx_emu/) include it. */
#ifndef UW_BF16_REF_H
#define UW_BF16_REF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* bf16 -> float, exactly */
static inline float t_f32(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* a subnormal flushed to zero, its sign kept (DAZ/FTZ as vdpbf16ps and tdpbf16ps do) */
static inline float t_ftz(float v) { return fpclassify(v) == FP_SUBNORMAL ? copysignf(0.0f, v) : v; }

#endif
