/* fuzz_util.h - shared helpers of the libFuzzer targets in tests/fuzz: a cursor that draws
 * bytes from the fuzz input (zeros once exhausted) and a loud failure that the fuzzer catches. */
#ifndef UW_FUZZ_UTIL_H
#define UW_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unweight.h"

typedef struct fz {
    const uint8_t *p;
    size_t n, i;
} fz;

static inline uint32_t fz_u8(fz *f) { return f->i < f->n ? f->p[f->i++] : 0; }
static inline uint32_t fz_u16(fz *f) { return fz_u8(f) | (fz_u8(f) << 8); }
static inline size_t fz_left(const fz *f) { return f->n - f->i; }

/* A property the code under test broke: print it and abort (libFuzzer records the input). */
#define FZ_REQUIRE(cond, ...)                                                                   \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "FUZZ PROPERTY FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, " [last error: %s]\n", uw_last_error());                            \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* Matmul outputs agree bit for bit, NaN payloads included (the CPU kernel writes every NaN output
 * as the canonical quiet NaN: docs/FUZZING.md, finding 6). */
static inline int fz_same_f32(const float *a, const float *b, uint64_t n) { return !memcmp(a, b, n * sizeof *a); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
