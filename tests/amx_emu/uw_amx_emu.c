/* uw_amx_emu.c - test-only software model of the AMX tiles (uw_amx_emu.h): per-thread tile state
 * (palette 1: 8 tiles of up to 16 rows x 64 bytes), LDTILECFG/TILERELEASE, TILELOADD/TILESTORED/
 * TILEZERO, and TDPBF16PS per the Intel SDM's pseudocode. A shape the SDM calls #UD (or a tile
 * used without a configuration) aborts, as the instruction would fault. Other arithmetics can be
 * injected (UW_AMX_EMU_MODEL or uw_amxemu_set_model) to play a CPU whose AMX differs from the
 * pseudocode: the backend's self-test must then refuse AMX. Built with -ffp-contract=off. */
#include "uw_amx_emu.h"

#include <fenv.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bf16_ref.h"

enum { M_SDM, M_SEQUENTIAL, M_NODAZ, M_NOFTZ, M_ROUNDED, M_DST_FIRST, M_WIDE, M_RTZ, M_COUNT };
static const char *const model_names[M_COUNT] = {
    "sdm",        /* the SDM: even and odd partial sums from +0, FMA DAZ FTZ RNE, dst + (even + odd) */
    "sequential", /* the Intrinsics Guide's wording: dst, then each pair even element first, one sum */
    "nodaz",      /* subnormal inputs used as they are */
    "noftz",      /* subnormal results kept */
    "rounded",    /* each product rounded to fp32 (and flushed) before it is added */
    "dst-first",  /* (dst + even) + odd */
    "wide",       /* each partial sum in double, rounded once */
    "rtz",        /* round toward zero */
};

static atomic_int model = -1;

int uw_amxemu_set_model(const char *name) {
    for (int i = 0; i < M_COUNT; i++)
        if (!strcmp(name, model_names[i])) {
            atomic_store(&model, i);
            return 0;
        }
    return -1;
}

static int cur_model(void) {
    int m = atomic_load(&model);
    if (m >= 0) return m;
    const char *e = getenv("UW_AMX_EMU_MODEL");
    if (e && *e && uw_amxemu_set_model(e)) {
        fprintf(stderr, "UW_AMX_EMU_MODEL=%s: unknown model\n", e);
        abort();
    }
    int want = -1;
    atomic_compare_exchange_strong(&model, &want, M_SDM);
    return atomic_load(&model);
}

const char *uw_amxemu_model(void) { return model_names[cur_model()]; }

typedef struct tiles {
    int valid;
    uint8_t rows[8];
    uint16_t colsb[8];
    uint8_t t[8][16][64];
} tiles;
static _Thread_local tiles st;

static void fault(const char *what) {
    fprintf(stderr, "AMX emulation: %s (the instruction would fault)\n", what);
    abort();
}

void uw_amxemu_loadconfig(const void *cfg) {
    const uint8_t *c = cfg;
    memset(&st, 0, sizeof st);
    if (c[0] == 0) return; /* palette 0: tiles back to their initial state */
    if (c[0] != 1 || c[1] != 0) fault("ldtilecfg: palette other than 1, or start_row not 0");
    for (int i = 2; i < 64; i++) /* reserved bytes 2-15, and tiles 8-15 (palette 1 has 8), must be zero */
        if (c[i] && (i < 16 || (i >= 32 && i < 48) || i >= 56)) fault("ldtilecfg: reserved byte set");
    for (int t = 0; t < 8; t++) {
        uint16_t cb;
        memcpy(&cb, c + 16 + 2 * t, 2);
        uint8_t r = c[48 + t];
        if (cb > 64 || r > 16 || (!cb) != (!r)) fault("ldtilecfg: tile shape beyond palette 1 (16 rows x 64 bytes)");
        st.colsb[t] = cb, st.rows[t] = r;
    }
    st.valid = 1;
}

void uw_amxemu_release(void) { memset(&st, 0, sizeof st); }

static void need(int t) {
    if (!st.valid) fault("tile instruction without a tile configuration");
    if (t < 0 || t > 7 || !st.rows[t]) fault("tile not configured");
}

void uw_amxemu_loadd(int t, const void *base, long stride) {
    need(t);
    memset(st.t[t], 0, sizeof st.t[t]); /* rows and bytes past the shape are zero */
    for (int r = 0; r < st.rows[t]; r++) memcpy(st.t[t][r], (const uint8_t *)base + r * stride, st.colsb[t]);
}

void uw_amxemu_stored(int t, void *base, long stride) {
    need(t);
    for (int r = 0; r < st.rows[t]; r++) memcpy((uint8_t *)base + r * stride, st.t[t][r], st.colsb[t]);
}

void uw_amxemu_zero(int t) {
    need(t);
    memset(st.t[t], 0, sizeof st.t[t]);
}


/* s + x w, one FMA step of the model */
static float step(int m, float s, float x, float w) {
    if (m != M_NODAZ) x = t_ftz(x), w = t_ftz(w), s = t_ftz(s);
    float r;
    if (m == M_ROUNDED) {
        volatile float p = x * w;
        r = s + t_ftz(p);
    } else if (m == M_RTZ) {
        fesetround(FE_TOWARDZERO);
        r = fmaf(x, w, s);
        fesetround(FE_TONEAREST);
    } else {
        r = fmaf(x, w, s);
    }
    return m == M_NOFTZ ? r : t_ftz(r);
}

static float add(int m, float a, float b) {
    volatile float s = (m == M_NODAZ ? a : t_ftz(a)) + (m == M_NODAZ ? b : t_ftz(b));
    return m == M_NOFTZ ? s : t_ftz(s);
}

void uw_amxemu_dpbf16ps(int c, int a, int b) {
    need(c), need(a), need(b);
    if (st.colsb[a] / 4 != st.rows[b] || st.colsb[c] != st.colsb[b] || st.rows[c] != st.rows[a] || st.colsb[a] % 4 ||
        st.colsb[c] % 4)
        fault("tdpbf16ps: tile shapes do not match (#UD)");
    const int m = cur_model(), K = st.colsb[a] / 4, N = st.colsb[c] / 4, M = st.rows[c];
    uint8_t out[16][64];
    memset(out, 0, sizeof out);
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            float d;
            memcpy(&d, &st.t[c][i][4 * n], 4);
            uint16_t av[16][2], bv[16][2];
            for (int k = 0; k < K; k++) memcpy(av[k], &st.t[a][i][4 * k], 4), memcpy(bv[k], &st.t[b][k][4 * n], 4);
            float r;
            if (m == M_SEQUENTIAL) {
                r = d;
                for (int k = 0; k < K; k++) {
                    r = step(m, r, t_f32(av[k][0]), t_f32(bv[k][0]));
                    r = step(m, r, t_f32(av[k][1]), t_f32(bv[k][1]));
                }
            } else if (m == M_WIDE) {
                double e = 0, o = 0; /* a wider accumulator: double, rounded to fp32 once */
                for (int k = 0; k < K; k++) {
                    e += (double)t_ftz(t_f32(av[k][0])) * t_ftz(t_f32(bv[k][0]));
                    o += (double)t_ftz(t_f32(bv[k][1])) * t_ftz(t_f32(av[k][1]));
                }
                r = add(m, d, add(m, t_ftz((float)e), t_ftz((float)o)));
            } else {
                float e = 0.0f, o = 0.0f;
                for (int k = 0; k < K; k++) {
                    e = step(m, e, t_f32(av[k][0]), t_f32(bv[k][0]));
                    o = step(m, o, t_f32(av[k][1]), t_f32(bv[k][1]));
                }
                r = m == M_DST_FIRST ? add(m, add(m, d, e), o) : add(m, d, add(m, e, o));
            }
            memcpy(&out[i][4 * n], &r, 4);
        }
    memcpy(st.t[c], out, sizeof out);
}
