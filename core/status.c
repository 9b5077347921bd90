/* status.c - status names, the per-thread error detail behind uw_last_error(), the version
 * string and uw_free (the one deallocator for what the library hands out). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "uw_internal.h"

static _Thread_local char uw_err_buf[1024];

const char *uw_status_name(uw_status s) {
    switch (s) {
    case UW_OK: return "UW_OK";
    case UW_ERR_INVALID_ARG: return "UW_ERR_INVALID_ARG";
    case UW_ERR_CORRUPT: return "UW_ERR_CORRUPT";
    case UW_ERR_CHECKSUM: return "UW_ERR_CHECKSUM";
    case UW_ERR_UNSUPPORTED: return "UW_ERR_UNSUPPORTED";
    case UW_ERR_LIMIT: return "UW_ERR_LIMIT";
    case UW_ERR_IO: return "UW_ERR_IO";
    case UW_ERR_NOMEM: return "UW_ERR_NOMEM";
    case UW_ERR_NOT_FOUND: return "UW_ERR_NOT_FOUND";
    case UW_ERR_NO_DEVICE: return "UW_ERR_NO_DEVICE";
    case UW_ERR_BACKEND: return "UW_ERR_BACKEND";
    }
    return "UW_ERR_UNKNOWN";
}

const char *uw_last_error(void) { return uw_err_buf; }

void uw_error_clear(void) { uw_err_buf[0] = 0; }

uw_status uw_error_set(uw_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(uw_err_buf, sizeof uw_err_buf, fmt, ap);
    va_end(ap);
    return s;
}

void uw_error_prefix(const char *fmt, ...) {
    char pre[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre - 2, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof pre - 3) n = (int)sizeof pre - 3;
    pre[n++] = ':';
    pre[n++] = ' ';
    size_t old = strnlen(uw_err_buf, sizeof uw_err_buf - 1);
    if (old + (size_t)n > sizeof uw_err_buf - 1) old = sizeof uw_err_buf - 1 - (size_t)n;
    memmove(uw_err_buf + n, uw_err_buf, old);
    memcpy(uw_err_buf, pre, (size_t)n);
    uw_err_buf[n + old] = 0;
}

const char *uw_version(void) { return UW_VERSION_STRING; }

void uw_free(void *p) { free(p); }
