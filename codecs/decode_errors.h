/* decode_errors.h - the host side of the decode error bits (UW_DERR_*, decode_steps.h): their
 * wording, and the one call that turns a set of bits into a status with a message. The CPU
 * decoders and every backend's host code (reading its kernels' error word) report through it. */
#ifndef UW_DECODE_ERRORS_H
#define UW_DECODE_ERRORS_H

#include "../core/uw_internal.h"
#include "decode_steps.h"

/* What one bit means, e.g. "a lane runs past its end"; NULL for a bit outside the vocabulary. */
const char *uw_derr_text(uint32_t bit);

/* Record "<where>: <text of each set bit, joined by "; ">" (where: printf format) for
 * uw_last_error() and return UW_ERR_BACKEND when UW_DERR_ARCH is set, else UW_ERR_CORRUPT.
 * bits must not be 0. */
uw_status uw_derr_status(uint32_t bits, const char *where, ...) __attribute__((format(printf, 2, 3)));

#endif
