/* cpu_pack.c - the CPU matmul's weight layouts: plain 16-row panels of BF16 pairs, the palette
 * form the AVX-512 kernel rebuilds in registers (and its scalar rebuild), packed activations,
 * and per-thread scratch. Layouts are internal to the CPU backend (docs/FORMAT.md is untouched).
 *
 * Palette group (192 bytes: 128 weights of one panel, k in [8g, 8g+8)): word q = 32m + w, m the
 * pair (k = 8g + 2m + (w & 1)), w the word of that pair's 64-byte vector (row w >> 1).
 *   N[64]  nibbles: byte j low nibble -> exponent of A[j], high nibble -> of B[j]
 *   PA[64], PB[64]  plane bytes P' = mantissa << 1 | sign
 * In registers: A = vpermb(N), B = vpermb(N >> 4); words of pair m = unpack{lo,hi}_epi8(P, E) of
 * (PA, A) for m = 0, 1 and (PB, B) for m = 2, 3; then a 16-bit rotate right by one turns
 * E << 8 | mantissa << 1 | sign into the BF16 sign | E << 7 | mantissa. unpacklo takes bytes 0-7
 * of each 16-byte lane, unpackhi bytes 8-15, hence byte j(m, w) below. */
#include <pthread.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cpu_mm.h"

static inline uint32_t pal_byte(uint32_t m, uint32_t w) { return 16 * (w >> 3) + ((m & 1) ? 8 : 0) + (w & 7); }

void uw_pal_rebuild_group(const uint8_t *src, const uint8_t table[16], uint16_t *out) {
    for (uint32_t m = 0; m < 4; m++)
        for (uint32_t w = 0; w < 32; w++) {
            uint32_t j = pal_byte(m, w);
            uint32_t nib = m < 2 ? src[j] & 15 : src[j] >> 4;
            uint32_t p = src[(m < 2 ? 64 : 128) + j];
            uint32_t word = (uint32_t)table[nib] << 8 | p;
            out[32 * m + w] = (uint16_t)((word >> 1) | ((word & 1) << 15));
        }
}

void uw_pal_patch(uint16_t *words, uint64_t g, const uint32_t **xgroup, const uint32_t **xval, uint64_t *xleft) {
    while (*xleft && **xgroup == g) {
        uint32_t v = **xval;
        words[v >> 16] = (uint16_t)v;
        (*xgroup)++, (*xval)++, (*xleft)--;
    }
}

void uw_pal_to_plain_generic(const uw_kargs *a, uint8_t *dst, uint64_t dpb) {
    for (int r = 0; r < a->R; r++) {
        const uint32_t *xg = a->xgroup[r], *xv = a->xval[r];
        uint64_t xl = a->xleft[r];
        for (uint64_t g = 0; g < a->ng; g++) {
            uint16_t words[128];
            uw_pal_rebuild_group(a->w + (uint64_t)r * a->panel_bytes + g * UW_PAL_GROUP_BYTES, a->table, words);
            uw_pal_patch(words, a->g0 + g, &xg, &xv, &xl);
            memcpy(dst + (uint64_t)r * dpb + g * UW_PLAIN_GROUP_BYTES, words, UW_PLAIN_GROUP_BYTES);
        }
    }
}

void uw_pack_plain(const uint16_t *w, uint64_t ld, uint64_t nr, uint64_t k0, uint64_t nk, uint8_t *dst, uint64_t panel_bytes) {
    uint64_t np = uw_npanels(nr), ng = uw_kpad(nk) / UW_GROUP_K, full = nk / UW_GROUP_K;
    for (uint64_t p = 0; p < np; p++) {
        uint8_t *pd = dst + p * panel_bytes;
        for (uint32_t r = 0; r < UW_PANEL; r++) {
            uint64_t row = p * UW_PANEL + r;
            const uint16_t *src = w + row * ld + k0;
            if (row >= nr) {
                for (uint64_t g = 0; g < ng; g++)
                    for (uint32_t m = 0; m < 4; m++) memset(pd + g * UW_PLAIN_GROUP_BYTES + m * 64 + r * 4, 0, 4);
                continue;
            }
            for (uint64_t g = 0; g < full; g++) {
                uint32_t pr[4];
                memcpy(pr, src + g * UW_GROUP_K, 16);
                uint8_t *gd = pd + g * UW_PLAIN_GROUP_BYTES + r * 4;
                memcpy(gd, &pr[0], 4);
                memcpy(gd + 64, &pr[1], 4);
                memcpy(gd + 128, &pr[2], 4);
                memcpy(gd + 192, &pr[3], 4);
            }
            for (uint64_t g = full; g < ng; g++) { /* the partial group and the block's padding: zero past nk */
                uint16_t tail[UW_GROUP_K] = {0};
                if (g == full) memcpy(tail, src + full * UW_GROUP_K, (nk - full * UW_GROUP_K) * 2);
                uint8_t *gd = pd + g * UW_PLAIN_GROUP_BYTES + r * 4;
                for (uint32_t m = 0; m < 4; m++) memcpy(gd + m * 64, tail + 2 * m, 4);
            }
        }
    }
}

void uw_unpack_plain(const uint8_t *src, uint64_t rows, uint64_t cols, uint16_t *w) {
    uint64_t ng = uw_kpad(cols) / UW_GROUP_K, pb = ng * UW_PLAIN_GROUP_BYTES;
    for (uint64_t row = 0; row < rows; row++) {
        const uint8_t *ps = src + (row / UW_PANEL) * pb + (row % UW_PANEL) * 4;
        for (uint64_t k = 0; k < cols; k++) {
            uint64_t g = k / UW_GROUP_K, m = (k % UW_GROUP_K) / 2;
            memcpy(w + row * cols + k, ps + g * UW_PLAIN_GROUP_BYTES + m * 64 + (k & 1) * 2, 2);
        }
    }
}

void uw_pack_x(const uint16_t *x, uint64_t B, uint64_t K, uint16_t *dst) {
    uint64_t np = uw_kpad(K) / 2, full = K / 2, bw = uw_xbw(B), nblk = (B + bw - 1) / bw;
    memset(dst, 0, uw_pack_x_size(B, K) * 2); /* padding pairs and padding rows */
    for (uint64_t b = 0; b < B; b++) {
        const uint16_t *xb = x + b * K;
        uint16_t *d = dst + (b / bw) * np * bw * 2 + (b % bw) * 2;
        for (uint64_t p = 0; p < full; p++) memcpy(d + p * bw * 2, xb + 2 * p, 4);
        if (full < np && 2 * full < K) d[full * bw * 2] = xb[2 * full];
    }
    (void)nblk;
}

void uw_pack_x_amx(const uint16_t *x, uint64_t B, uint64_t K, uint16_t *dst) {
    uint64_t nblk = uw_kpad(K) / UW_BLOCK_K;
    memset(dst, 0, uw_pack_x_amx_size(B, K) * 2); /* padding rows and k */
    for (uint64_t b = 0; b < B; b++)
        for (uint64_t c = 0; c < nblk; c++) {
            uint16_t *row = dst + ((b / 16 * nblk + c) * 16 + b % 16) * 32;
            for (uint32_t j = 0; j < 16; j++) {
                /* dword j: h1's element j in the low word, h2's in the high word; element j of a
                 * half is k = 2 (j / 2) + 1 - (j % 2) of it (odd element of each pair first) */
                uint64_t k1 = c * UW_BLOCK_K + 2 * (j / 2) + 1 - j % 2, k2 = k1 + 16;
                row[2 * j] = k1 < K ? x[b * K + k1] : 0;
                row[2 * j + 1] = k2 < K ? x[b * K + k2] : 0;
            }
        }
}

/* ---- palette form ---- */

static void pal_table(const uint16_t *w, uint64_t n, uint8_t table[16]) {
    uint64_t hist[256] = {0};
    for (uint64_t i = 0; i < n; i++) hist[(w[i] >> 7) & 0xFF]++;
    uint8_t used[256] = {0};
    for (int t = 0; t < 16; t++) { /* most frequent first; ties and unused slots: smallest exponent */
        int best = -1;
        for (int e = 0; e < 256; e++)
            if (!used[e] && (best < 0 || hist[e] > hist[best])) best = e;
        used[best] = 1;
        table[t] = (uint8_t)best;
    }
}

uw_status uw_pal_build(const uint16_t *w, uint64_t rows, uint64_t cols, uw_pal_store *s) {
    memset(s, 0, sizeof *s);
    uint64_t np = uw_npanels(rows), ng = uw_kpad(cols) / UW_GROUP_K;
    pal_table(w, rows * cols, s->p.table);
    int8_t inv[256];
    memset(inv, -1, sizeof inv);
    for (int t = 15; t >= 0; t--) inv[s->p.table[t]] = (int8_t)t;
    s->data = uw_cpu_big_alloc(np * ng * UW_PAL_GROUP_BYTES);
    s->xstart = malloc((np + 1) * sizeof *s->xstart);
    uint64_t cap = 1024, nx = 0;
    s->xgroup = malloc(cap * sizeof *s->xgroup);
    s->xval = malloc(cap * sizeof *s->xval);
    if (!s->data || !s->xstart || !s->xgroup || !s->xval) {
        uw_pal_free(s);
        return uw_error_set(UW_ERR_NOMEM, "palette panels: out of memory (%llu x %llu)", (unsigned long long)rows,
                            (unsigned long long)cols);
    }
    for (uint64_t p = 0; p < np; p++) {
        s->xstart[p] = nx;
        for (uint64_t g = 0; g < ng; g++) {
            uint8_t *d = s->data + (p * ng + g) * UW_PAL_GROUP_BYTES;
            uint16_t want[128];
            memset(d, 0, UW_PAL_GROUP_BYTES);
            for (uint32_t m = 0; m < 4; m++)
                for (uint32_t q = 0; q < 32; q++) {
                    uint64_t row = p * UW_PANEL + (q >> 1), k = g * UW_GROUP_K + 2 * m + (q & 1);
                    uint16_t v = row < rows && k < cols ? w[row * cols + k] : 0;
                    want[32 * m + q] = v;
                    int idx = inv[(v >> 7) & 0xFF];
                    uint32_t j = pal_byte(m, q);
                    d[j] |= (uint8_t)((idx < 0 ? 0 : idx) << (m < 2 ? 0 : 4));
                    d[(m < 2 ? 64 : 128) + j] = (uint8_t)(((v & 0x7F) << 1) | (v >> 15));
                }
            uint16_t got[128];
            uw_pal_rebuild_group(d, s->p.table, got);
            for (uint32_t q = 0; q < 128; q++) {
                if (got[q] == want[q] || p * UW_PANEL + ((q & 31) >> 1) >= rows) continue; /* rows past the end: unused */
                if (nx == cap) {
                    cap *= 2;
                    uint32_t *a = realloc(s->xgroup, cap * sizeof *a), *b = a ? realloc(s->xval, cap * sizeof *b) : NULL;
                    if (a) s->xgroup = a;
                    if (b) s->xval = b;
                    if (!a || !b) {
                        uw_pal_free(s);
                        return uw_error_set(UW_ERR_NOMEM, "palette panels: out of memory for exceptions");
                    }
                }
                s->xgroup[nx] = (uint32_t)g;
                s->xval[nx++] = q << 16 | want[q];
            }
        }
    }
    s->xstart[np] = nx;
    s->p.data = s->data;
    s->p.xstart = s->xstart;
    s->p.xgroup = s->xgroup;
    s->p.xval = s->xval;
    return UW_OK;
}

void uw_pal_free(uw_pal_store *s) {
    free(s->data);
    free(s->xstart);
    free(s->xgroup);
    free(s->xval);
    memset(s, 0, sizeof *s);
}

void uw_pal_unpack(const uw_pal_panels *p, uint64_t rows, uint64_t cols, uint16_t *w) {
    uint64_t ng = uw_kpad(cols) / UW_GROUP_K;
    for (uint64_t pan = 0; pan < uw_npanels(rows); pan++) {
        const uint32_t *xg = p->xgroup + p->xstart[pan], *xv = p->xval + p->xstart[pan];
        uint64_t xl = p->xstart[pan + 1] - p->xstart[pan];
        for (uint64_t g = 0; g < ng; g++) {
            uint16_t words[128];
            uw_pal_rebuild_group(p->data + (pan * ng + g) * UW_PAL_GROUP_BYTES, p->table, words);
            uw_pal_patch(words, g, &xg, &xv, &xl);
            for (uint32_t q = 0; q < 128; q++) {
                uint64_t row = pan * UW_PANEL + ((q & 31) >> 1), k = g * UW_GROUP_K + 2 * (q >> 5) + (q & 1);
                if (row < rows && k < cols) w[row * cols + k] = words[q];
            }
        }
    }
}

/* ---- resident panels ---- */

void *uw_cpu_big_alloc(uint64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uint64_t huge = (uint64_t)2 << 20;
    if (bytes >= 2 * huge) { /* 2 MiB pages where the kernel's THP setting allows (madvise, always) */
        void *p = NULL;
        uint64_t n = (bytes + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, n)) return NULL;
        (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: 4 KiB pages if refused */
        return p;
    }
#endif
    return malloc(bytes ? bytes : 1);
}

/* ---- per-thread scratch ---- */

typedef struct tls_scratch {
    void *p[5];
    uint64_t n[5];
} tls_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v) {
    tls_scratch *t = v;
    for (int i = 0; i < 5; i++) free(t->p[i]);
    free(t);
}
static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

void *uw_cpu_scratch(int slot, uint64_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    tls_scratch *t = pthread_getspecific(scratch_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || pthread_setspecific(scratch_key, t)) {
            free(t);
            return NULL;
        }
    }
    if (t->n[slot] < bytes) {
        free(t->p[slot]);
        uint64_t n = (bytes + 4095) & ~(uint64_t)4095;
        t->p[slot] = aligned_alloc(64, n);
        t->n[slot] = t->p[slot] ? n : 0;
    }
    return t->p[slot];
}
