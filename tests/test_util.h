/* test_util.h - tiny assertion helpers and deterministic test tensors shared by the C tests. */
#ifndef UW_TEST_UTIL_H
#define UW_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_ref.h"
#include "unweight.h"

static int t_failures = 0;
#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            t_failures++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                     \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, " [%s]\n", uw_last_error());                                        \
        }                                                                                       \
    } while (0)
#define CHECK_OK(expr, ...) CHECK((expr) == UW_OK, __VA_ARGS__)

/* xorshift64* */
static uint64_t t_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t t_rand(void) {
    t_rng ^= t_rng >> 12;
    t_rng ^= t_rng << 25;
    t_rng ^= t_rng >> 27;
    return t_rng * 0x2545F4914F6CDD1Dull;
}
static inline double t_unif(void) { return (double)(t_rand() >> 11) / 9007199254740992.0; }
static inline double t_normal(void) {
    double u = t_unif(), v = t_unif();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}
/* float -> bf16 round to nearest even (NaN kept quiet) */
static inline uint16_t t_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
static inline uint16_t t_mk(unsigned sign, unsigned exp, unsigned man) {
    return (uint16_t)((sign & 1) << 15 | (exp & 0xFF) << 7 | (man & 0x7F));
}

/* Edge-case tensors by name; fills w[n]. Returns 0 if the name is unknown. */
static const char *const t_cases[] = {"gauss", "signed_zeros", "subnormals", "specials", "one_exponent",
                                      "spread40", "all_exponents", "all_verbatim", "rare_0p2pct", NULL};

static int t_fill(const char *name, uint16_t *w, uint64_t n, uint64_t cols) {
    for (uint64_t i = 0; i < n; i++) {
        uint16_t g = t_bf16((float)(t_normal() * 0.02));
        uint64_t c = i % cols;
        if (!strcmp(name, "gauss")) w[i] = g;
        else if (!strcmp(name, "signed_zeros")) w[i] = t_rand() & 1 ? t_mk((unsigned)t_rand(), 0, 0) : g;
        else if (!strcmp(name, "subnormals")) w[i] = t_rand() % 3 ? t_mk((unsigned)t_rand(), 0, (unsigned)t_rand()) : g;
        else if (!strcmp(name, "specials")) {
            unsigned k = (unsigned)(t_rand() % 8);
            w[i] = k == 0 ? t_mk((unsigned)t_rand(), 255, 0)                        /* +-inf */
                 : k == 1 ? t_mk((unsigned)t_rand(), 255, 1 + (unsigned)(t_rand() % 127)) /* NaN payloads */
                 : g;
        } else if (!strcmp(name, "one_exponent")) w[i] = t_mk((unsigned)t_rand(), 121, (unsigned)t_rand());
        else if (!strcmp(name, "spread40")) w[i] = t_mk((unsigned)t_rand(), 100 + (unsigned)(t_rand() % 40), (unsigned)t_rand());
        else if (!strcmp(name, "all_exponents")) w[i] = t_mk((unsigned)t_rand(), (unsigned)(i % 256), (unsigned)t_rand());
        else if (!strcmp(name, "all_verbatim")) /* a rare exponent in every run of 8 along each row */
            w[i] = c % 8 == 3 ? t_mk((unsigned)t_rand(), 200 + (unsigned)(t_rand() % 40), (unsigned)t_rand()) : g;
        else if (!strcmp(name, "rare_0p2pct")) w[i] = t_unif() < 0.002 ? t_mk((unsigned)t_rand(), 90 + (unsigned)(t_rand() % 20), (unsigned)t_rand()) : g;
        else return 0;
    }
    return 1;
}

static inline uint64_t t_hash_fnv(const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p; /* (cast: also compiled as C++ by test_cuda_host_decode.cu) */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#define T_DONE()                                                                                \
    do {                                                                                        \
        if (t_failures) {                                                                       \
            fprintf(stderr, "%d check(s) failed\n", t_failures);                                \
            return 1;                                                                           \
        }                                                                                       \
        printf("all checks passed\n");                                                          \
        return 0;                                                                               \
    } while (0)

/* A named set of encoder parameters (0 = the encoder's automatic choice), and the parameters it
 * gives: lanes capped at the tile's rows. */
typedef struct pset {
    const char *name;
    int codec, order, rare;
    uint32_t chunk, tr, tc, lanes;
} pset;
static inline void t_pset_params(const pset *ps, uw_encode_params *p) {
    uw_encode_params_default(p);
    p->codec = ps->codec, p->sym_order = ps->order, p->rare_mode = ps->rare, p->chunk_len = ps->chunk;
    p->tile_rows = ps->tr, p->tile_cols = ps->tc, p->lanes = ps->lanes;
    if (p->tile_rows && p->lanes > p->tile_rows) p->lanes = p->tile_rows;
}

/* A whole file into a fresh buffer (free() it); NULL if it cannot be read. */
static inline uint8_t *t_read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = (uint8_t *)malloc(sz > 0 ? (size_t)sz : 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* Open a backend's device, or end the test as CTest's "skipped" (77) when the backend finds no
 * device here; any other failure is a failed check (and T_DONE ends the test). */
#define T_OPEN_DEVICE_OR_SKIP(backend, dptr)                                                    \
    do {                                                                                        \
        uw_status s_ = uw_device_open((backend), NULL, (dptr));                                 \
        if (s_ == UW_ERR_NO_DEVICE) {                                                           \
            printf("%s: no device: NOT run\n", (backend));                                      \
            return 77;                                                                          \
        }                                                                                       \
        CHECK_OK(s_, "open %s", (backend));                                                     \
        if (s_) T_DONE();                                                                       \
    } while (0)

#endif
