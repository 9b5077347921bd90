/* cpu_amx_check.c - the AMX self-test, run once per process before the amx level may be used:
 * the AMX kernel and the avx512bf16 kernel on the same weights and activations, through the
 * matmul driver (plain and palette panels, batches that take every tile path), must agree bit for
 * bit. The operands are built to show a CPU whose TDPBF16PS differs from the SDM's pseudocode:
 * wide exponent ranges with cancellation (order, rounding), sums and products just under the
 * normal range (FTZ, exact products), subnormal inputs beside huge partners (DAZ), products past
 * the fp32 range (exact products in the FMA), and NaN/Inf/signed zeros. A few ms at most. */
#include <stdio.h>
#include <stdlib.h>

#include "cpu_mm.h"

#define NS 6                 /* operand families; weight panel i and activation block i are family i */
#define SK 96                /* k: three 32-k blocks */
#define SN (16 * NS)         /* output rows = batch rows */
static const char *const fam[NS] = {"normal", "wide", "tiny", "subnormal", "huge", "specials"};

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}
static uint16_t mk(uint64_t r, unsigned exp) { return (uint16_t)((r >> 8 & 1) << 15 | (exp & 0xFF) << 7 | (r & 0x7F)); }

/* one BF16 operand of family f at position k of a weight row (w 1) or activation row (w 0);
 * biased exponents */
static uint16_t value(int f, uint64_t k, int w, uint64_t *s) {
    uint64_t r = rnd(s), u = r >> 32;
    switch (f) {
    case 0: return mk(r, 120 + (unsigned)(u % 8));         /* |v| ~ 2^-7 .. 2^0: ordinary data */
    case 1: return mk(r, 103 + (unsigned)(u % 49));        /* 2^-24 .. 2^24: order and rounding show */
    case 2: return mk(r, 61 + (unsigned)(u % 7));          /* 2^-66 .. 2^-60: products near 2^-126 */
    case 3: /* products near 2^-30 (a subnormal times 2^100, or 2^-15 times 2^-15): DAZ decides */
        if (k % 2) return mk(r, 112 + (unsigned)(u % 2));
        return (k / 2 % 2) == (uint64_t)w ? (uint16_t)(mk(r, 0) | 1) : mk(r, 227);
    case 4: return mk(r, 187 + (unsigned)(u % 7));         /* 2^60 .. 2^66: products past 2^128 */
    default: {
        unsigned c = (unsigned)(u % 16); /* specials among ordinary values */
        return c == 0 ? mk(r, 255) & 0xFF80 : c == 1 ? mk(r, 255) | 1 : c == 2 ? (uint16_t)(r & 0x8000) : c == 3 ? mk(r, 0)
                                                                                                                  : mk(r, 118 + c);
    }
    }
}

static int compare(const float *ya, const float *yb, uint64_t B, const char *what, char *why, size_t n) {
    for (uint64_t b = 0; b < B; b++)
        for (uint64_t o = 0; o < SN; o++) {
            uint32_t ua, ub;
            memcpy(&ua, &ya[b * SN + o], 4);
            memcpy(&ub, &yb[b * SN + o], 4);
            if (ua == ub) continue;
            snprintf(why, n, "%s, batch %llu: output row %llu (%s weights) of batch row %llu (%s activations): amx 0x%08X, "
                     "avx512bf16 0x%08X", what, (unsigned long long)B, (unsigned long long)o, fam[o / 16],
                     (unsigned long long)b, fam[b / 16], (unsigned)ua, (unsigned)ub);
            return 1;
        }
    return 0;
}

uw_status uw_cpu_amx_selftest(char *why, size_t why_size) {
    uint16_t *w = malloc(SN * SK * 2), *x = malloc(SN * SK * 2);
    uint8_t *plain = malloc(uw_npanels(SN) * (SK / UW_GROUP_K) * UW_PLAIN_GROUP_BYTES);
    float *ya = malloc(SN * SN * 4), *yb = malloc(SN * SN * 4);
    uw_pal_store pal;
    memset(&pal, 0, sizeof pal);
    uw_status st = UW_ERR_NOMEM;
    snprintf(why, why_size, "out of memory");
    if (!w || !x || !plain || !ya || !yb) goto out;
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (uint64_t i = 0; i < SN * SK; i++) {
        int f = (int)(i / (16 * SK));
        w[i] = value(f, i % SK, 1, &s), x[i] = value(f, i % SK, 0, &s);
    }
    uw_pack_plain(w, SK, SN, 0, SK, plain, (SK / UW_GROUP_K) * UW_PLAIN_GROUP_BYTES);
    if ((st = uw_pal_build(w, SN, SK, &pal)) != UW_OK) goto out;
    /* batches: one partial tile (A and C configured to 5 rows), two tiles just in time (the second
     * partial), six tiles over B tiles rebuilt once */
    static const uint64_t batches[] = {5, 21, SN};
    for (int form = 0; form < 2; form++)
        for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
            uw_mm_src src = {form ? UW_SRC_PALETTE : UW_SRC_PLAIN, SN, SK, plain, &pal.p, NULL, NULL, NULL};
            uint64_t B = batches[i];
            if ((st = uw_cpu_mm(&src, UW_ISA_AMX, x, ya, B, 1, 0, 1, NULL)) != UW_OK ||
                (st = uw_cpu_mm(&src, UW_ISA_AVX512BF16, x, yb, B, 1, 0, 0, NULL)) != UW_OK) {
                snprintf(why, why_size, "%s", uw_last_error());
                goto out;
            }
            if (compare(ya, yb, B, form ? "palette panels" : "plain panels", why, why_size)) {
                st = UW_ERR_UNSUPPORTED;
                goto out;
            }
        }
    snprintf(why, why_size, "bit-identical");
    st = UW_OK;
out:
    uw_pal_free(&pal);
    free(w), free(x), free(plain), free(ya), free(yb);
    return st;
}
