/* decode_errors.c - the wording of the decode error bits (decode_steps.h) and the status they
 * turn into; see decode_errors.h. */
#include <stdarg.h>
#include <stdio.h>

#include "decode_errors.h"

/* indexed by bit number: UW_DERR_OVERRUN = 1 << 0, ... */
static const char *const derr_text[UW_DERR_COUNT] = {
    "a lane runs past its end",
    "a lane does not end at the next lane's offset",
    "a padding symbol other than 0",
    "a tile's last lane leaves 8 or more unused bits or nonzero padding bits",
    "a palette index beyond the palette",
    "exceptions out of order or outside their tile",
    "an exception at a nonzero palette index",
    "a kernel ran on an architecture it was not built for",
};

const char *uw_derr_text(uint32_t bit) {
    for (unsigned i = 0; i < UW_DERR_COUNT; i++)
        if (bit == 1u << i) return derr_text[i];
    return NULL;
}

uw_status uw_derr_status(uint32_t bits, const char *where, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, where);
    int n = vsnprintf(msg, sizeof msg, where, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    const char *sep = ": ";
    for (unsigned i = 0; i < UW_DERR_COUNT; i++) {
        if (!(bits & (1u << i))) continue;
        int k = snprintf(msg + len, sizeof msg - len, "%s%s", sep, derr_text[i]);
        if (k > 0) len += (size_t)k < sizeof msg - len ? (size_t)k : sizeof msg - len - 1;
        sep = "; ";
    }
    if (bits >> UW_DERR_COUNT) snprintf(msg + len, sizeof msg - len, "%sunknown error bits 0x%x", sep, bits >> UW_DERR_COUNT << UW_DERR_COUNT);
    return uw_error_set(bits & UW_DERR_ARCH ? UW_ERR_BACKEND : UW_ERR_CORRUPT, "%s", msg);
}
