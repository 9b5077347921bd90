/* uw_internal.h - shared internals of the library: error reporting macros, small helpers,
 * the thread pool. Not installed. */
#ifndef UW_INTERNAL_H
#define UW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "unweight.h"

/* Record a formatted error detail for uw_last_error() and return the status. */
uw_status uw_error_set(uw_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current detail with "context: " (used to add file and tensor names). */
void uw_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uw_error_clear(void);

#define UW_RETURN_ERROR_IF(cond, st, ...)                                                      \
    do {                                                                                       \
        if (cond) return uw_error_set((st), __VA_ARGS__);                                      \
    } while (0)
#define UW_FORWARD_IF_ERROR(expr)                                                              \
    do {                                                                                       \
        uw_status uw_fwd_s_ = (expr);                                                          \
        if (uw_fwd_s_ != UW_OK) return uw_fwd_s_;                                              \
    } while (0)

static inline uint16_t uw_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t uw_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t uw_rd64(const uint8_t *p) {
    return (uint64_t)uw_rd32(p) | ((uint64_t)uw_rd32(p + 4) << 32);
}
static inline void uw_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void uw_wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void uw_wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t uw_align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Number of online cores (>= 1). */
int uw_cpu_count(void);
/* Resolve a user thread count: <= 0 means all cores. */
int uw_threads_resolve(int threads);

/* Run fn(ctx, i, worker) for i in [0, n) on up to `threads` threads (dynamic scheduling).
 * Returns the first non-OK status any call returned (others still finish). */
typedef uw_status (*uw_task_fn)(void *ctx, uint64_t i, int worker);
uw_status uw_parallel_for(uint64_t n, int threads, uw_task_fn fn, void *ctx);

/* XXH3-64 of a buffer (wrapper so callers need not include xxhash.h). */
uint64_t uw_hash64(const void *p, size_t n);

/* XXH3-64 of the bytes of a followed by those of b. */
uint64_t uw_hash64_2(const void *a, size_t na, const void *b, size_t nb);
/* XXH3-64 in pieces (libxxhash's run-time CPU dispatch where the installed library offers it):
 * uw_hash_state_new, uw_hash_update any number of times, uw_hash_digest (which frees). NULL
 * from new means out of memory. */
typedef struct uw_hash_state uw_hash_state;
uw_hash_state *uw_hash_state_new(void);
void uw_hash_update(uw_hash_state *h, const void *p, size_t n);
uint64_t uw_hash_digest(uw_hash_state *h);

/* Pieces of one checksum finished by several threads in any order, fed to the hash in order: the
 * thread that completes the piece the hash waits for hashes it and every later one already done
 * (while they are still in its cache); the others go on working. */
typedef void (*uw_piece_fn)(void *ctx, uint64_t i, const void **p, size_t *n);
typedef struct uw_ordered_hash {
    uw_hash_state *h;     /* NULL: nothing to hash */
    void *mu;             /* pthread_mutex_t */
    uint8_t *done;
    uint64_t next, n;
    int busy;
    uw_piece_fn piece;
    void *ctx;
} uw_ordered_hash;
/* n pieces; piece(ctx, i, &p, &len) says where piece i is. h NULL: every call is a no-op. */
uw_status uw_ordered_hash_init(uw_ordered_hash *o, uw_hash_state *h, uint64_t n, uw_piece_fn piece, void *ctx);
void uw_ordered_hash_done(uw_ordered_hash *o, uint64_t i);
void uw_ordered_hash_free(uw_ordered_hash *o);

/* SIMD instruction sets the CPU and the OS offer (core/cpu_features.c), detected once. */
#define UW_CPUF_AVX2 1u        /* AVX2, BMI2, FMA, YMM state saved */
#define UW_CPUF_AVX512 2u      /* AVX-512 F, DQ, BW, VL, BMI2, ZMM and opmask state saved */
#define UW_CPUF_AVX512VBMI 4u  /* and VBMI, VBMI2 */
#define UW_CPUF_AVX512BF16 8u  /* and BF16 */
unsigned uw_cpu_features(void);

#endif
