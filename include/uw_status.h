/* uw_status.h - status codes shared by every unweight call (no vendor headers here). */
#ifndef UW_STATUS_H
#define UW_STATUS_H

/* UW_API marks the public API: the only symbols a shared libunweight exports (the library is
 * compiled with -fvisibility=hidden). */
#ifndef UW_API
#if defined(_WIN32) && defined(UW_BUILDING_SHARED)
#define UW_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define UW_API __attribute__((visibility("default")))
#else
#define UW_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible call returns one of these. UW_OK is zero; everything else is an error.
 * The detail of the last error on this thread is in uw_last_error(). */
typedef enum uw_status {
    UW_OK = 0,
    UW_ERR_INVALID_ARG = 1, /* the caller passed something impossible (NULL, bad size, bad option) */
    UW_ERR_CORRUPT = 2,     /* input bytes violate docs/FORMAT.md or the safetensors rules */
    UW_ERR_CHECKSUM = 3,    /* structure fine, but a checksum does not match */
    UW_ERR_UNSUPPORTED = 4, /* valid but not handled by this build (future version, dtype) */
    UW_ERR_LIMIT = 5,       /* input exceeds a documented limit (header size, tensor count...) */
    UW_ERR_IO = 6,          /* open/read/write/rename failed */
    UW_ERR_NOMEM = 7,       /* allocation failed */
    UW_ERR_NOT_FOUND = 8,   /* no such tensor / backend */
    UW_ERR_NO_DEVICE = 9,   /* backend compiled in but no usable device at run time */
    UW_ERR_BACKEND = 10     /* a backend call failed (message names the vendor error) */
} uw_status;

/* Stable upper-case name of a status, e.g. "UW_ERR_CORRUPT"; never NULL. */
UW_API const char *uw_status_name(uw_status s);

/* Human-readable detail of the most recent error raised on the calling thread
 * ("" when none). Valid until the next unweight call on this thread. */
UW_API const char *uw_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
