/* kern_amx.c - AMX-BF16 kernel of the amx level (compiled with -mamx-tile -mamx-bf16 and the
 * AVX-512 flags; called only after enable() and the self-test said yes). The test library builds
 * this very file against a software model of the tile instructions (tests/amx_emu, force-included),
 * never the product.
 *
 * TDPBF16PS (Intel SDM): per output, two partial sums from +0 over the low and the high BF16 of
 * each of the tile's 16 pairs, FMA with DAZ, FTZ, RNE, then dst + (low + high). With h1's
 * sequence (k 1, 0, 3, 2, ..., 15, 14 of a 32-k block) in the low words and h2's (k 17, 16, ...,
 * 31, 30) in the high words, one instruction computes exactly the avx512bf16 kernel's block:
 * s + (h1 + h2) (docs/CONFORMANCE.md section 4.1.1). Tiles: C = 16 batch rows x 16 outputs (the
 * accumulators' own layout), A = activations (uw_pack_x_amx), B = one panel's block rebuilt from
 * the plain or palette panel (the avx512bf16 layout) into an L1 buffer, 16 k-pair rows a tile. */
#include <stdlib.h>

#include "cpu_pal512.h"

#if !defined(UW_AMX_EMULATED) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* gcc's tile intrinsics do not tell the compiler that they read or write memory: a barrier
 * before every tile load and after every tile store keeps the buffers' stores and loads in place */
#define MEMBAR() __asm__ volatile("" ::: "memory")
#define TLOAD(t, p) \
    do {                      \
        MEMBAR();             \
        _tile_loadd(t, p, 64); \
    } while (0)
#define TSTORE(t, p)           \
    do {                       \
        _tile_stored(t, p, 64); \
        MEMBAR();              \
    } while (0)

typedef struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* tmm0-3: C of (panel r, batch block i) = tmm(2r + i); tmm4-5: A of batch block i; tmm6-7: B of
 * panel r. Every tile 64 bytes wide; A and C have `rows` rows (the batch when it is under 16), B 16 */
static void config(int rows) {
    _Alignas(64) tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) c.colsb[t] = 64, c.rows[t] = (uint8_t)(t >= 6 ? 16 : rows);
    MEMBAR();
    _tile_loadconfig(&c);
    MEMBAR();
}

/* the 16 pair vectors of a block (v[j]: pair j, dword r = row r's (k 2j, 2j+1)) -> B tile rows:
 * row 2p = (low: k 2p+1, high: k 16+2p+1), row 2p+1 = (low: k 2p, high: k 16+2p) */
static inline __attribute__((always_inline)) void to_tile(const __m512i *v, uint8_t *dst) {
    const __m512i hm = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int p = 0; p < 8; p++) { /* 0xD8: bits of the third operand select the second, else the first */
        _mm512_store_si512(dst + 128 * p, _mm512_ternarylogic_epi32(_mm512_srli_epi32(v[p], 16), v[8 + p], hm, 0xD8));
        _mm512_store_si512(dst + 128 * p + 64, _mm512_ternarylogic_epi32(v[p], _mm512_slli_epi32(v[8 + p], 16), hm, 0xD8));
    }
}

typedef struct pal_cursor { /* one panel's exceptions from the next one on */
    const uint32_t *xg, *xv;
    uint64_t xl, next;
} pal_cursor;

/* B tile of panel r, block c of the call, into dst (1 KiB, 64-byte aligned) */
static inline __attribute__((always_inline)) void prep(const uw_kargs *a, int r, uint64_t c, int pal, __m512i tab, pal_cursor *pc,
                                                       uint8_t *dst) {
    const uint64_t gb = pal ? UW_PAL_GROUP_BYTES : UW_PLAIN_GROUP_BYTES;
    const uint8_t *src = a->w + (uint64_t)r * a->panel_bytes + c * UW_BLOCK_GROUPS * gb;
    for (uint64_t o = 0; o < UW_BLOCK_GROUPS * gb; o += 64) _mm_prefetch((const char *)src + UW_PF_BYTES + o, UW_PF_HINT);
    __m512i v[16];
    if (pal) {
        for (int q = 0; q < UW_BLOCK_GROUPS; q++) {
            uint64_t g = a->g0 + c * UW_BLOCK_GROUPS + (uint64_t)q;
            uw_pal_rebuild512(src + (uint64_t)q * gb, tab, v + 4 * q);
            if (__builtin_expect(g == pc->next, 0)) {
                uw_pal_patch512(v + 4 * q, g, &pc->xg, &pc->xv, &pc->xl);
                pc->next = pc->xl ? *pc->xg : UINT64_MAX;
            }
        }
    } else {
        for (int j = 0; j < 16; j++) v[j] = _mm512_loadu_si512(src + 64 * j);
    }
    to_tile(v, dst);
}

/* the C tile of (panel r, batch block i): the accumulators themselves when the block has `rows`
 * rows, else a copy padded to 16 rows (the last block of a batch that is not a multiple of 16) */
static float *c_in(const uw_kargs *a, int r, uint64_t bb, int rows, float (*tmp)[16]) {
    float *p = a->acc + ((uint64_t)r * a->nb + 16 * bb) * UW_PANEL;
    uint64_t have = a->nb - 16 * bb;
    if (have >= (uint64_t)rows) return p;
    memset(tmp, 0, 16 * 16 * sizeof(float));
    memcpy(tmp, p, have * 16 * sizeof(float));
    return &tmp[0][0];
}
static void c_out(const uw_kargs *a, int r, uint64_t bb, const float *t) {
    float *p = a->acc + ((uint64_t)r * a->nb + 16 * bb) * UW_PANEL;
    if (t != p) memcpy(p, t, (a->nb - 16 * bb) * 16 * sizeof(float));
}

static void kern(const uw_kargs *a, int pal) {
    const int R = a->R; /* 1 or 2 */
    const uint64_t nblk = a->ng / UW_BLOCK_GROUPS, c0 = a->g0 / UW_BLOCK_GROUPS, nbb = (a->nb + 15) / 16;
    const int rows = nbb == 1 ? (int)a->nb : 16, cached = nbb > 2;
    __m512i tab = _mm512_setzero_si512();
    if (pal) tab = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->table));
    pal_cursor pc[2];
    for (int r = 0; r < R; r++) {
        pc[r].xg = a->xgroup[r], pc[r].xv = a->xval[r], pc[r].xl = a->xleft[r];
        pc[r].next = pc[r].xl ? *pc[r].xg : UINT64_MAX;
    }
    _Alignas(64) uint8_t jit[2][1024];
    _Alignas(64) float ctmp[4][16][16];
    config(rows);
    if (cached) /* more than two batch blocks pass over each B tile: rebuild the K range once */
        for (uint64_t c = 0; c < nblk; c++)
            for (int r = 0; r < R; r++) prep(a, r, c, pal, tab, &pc[r], a->bt + (c * (uint64_t)R + (uint64_t)r) * 1024);
    for (uint64_t bb = 0; bb < nbb; bb += 2) {
        const int two = nbb - bb >= 2;
        float *cp[4] = {NULL, NULL, NULL, NULL};
        for (int r = 0; r < R; r++)
            for (int i = 0; i <= two; i++) cp[2 * r + i] = c_in(a, r, bb + (uint64_t)i, rows, ctmp[2 * r + i]);
        TLOAD(0, cp[0]);
        if (two) TLOAD(1, cp[1]);
        if (R > 1) TLOAD(2, cp[2]);
        if (R > 1 && two) TLOAD(3, cp[3]);
        for (uint64_t c = 0; c < nblk; c++) {
            TLOAD(4, a->x + bb * a->xblk + (c0 + c) * 512);
            if (two) TLOAD(5, a->x + (bb + 1) * a->xblk + (c0 + c) * 512);
            const uint8_t *b0 = cached ? a->bt + c * (uint64_t)R * 1024 : jit[0];
            if (!cached) prep(a, 0, c, pal, tab, &pc[0], jit[0]);
            TLOAD(6, b0);
            _tile_dpbf16ps(0, 4, 6);
            if (two) _tile_dpbf16ps(1, 5, 6);
            if (R > 1) {
                const uint8_t *b1 = cached ? b0 + 1024 : jit[1];
                if (!cached) prep(a, 1, c, pal, tab, &pc[1], jit[1]);
                TLOAD(7, b1);
                _tile_dpbf16ps(2, 4, 7);
                if (two) _tile_dpbf16ps(3, 5, 7);
            }
        }
        TSTORE(0, cp[0]);
        if (two) TSTORE(1, cp[1]);
        if (R > 1) TSTORE(2, cp[2]);
        if (R > 1 && two) TSTORE(3, cp[3]);
        for (int r = 0; r < R; r++)
            for (int i = 0; i <= two; i++) c_out(a, r, bb + (uint64_t)i, cp[2 * r + i]);
    }
    _tile_release(); /* the tiles back to their initial state: the OS need not save them */
    MEMBAR();
}

static void plain(const uw_kargs *a) { kern(a, 0); }
static void palette(const uw_kargs *a) { kern(a, 1); }

/* Is AMX-BF16 there and may this process use it? cpuid (AMX-TILE, AMX-BF16; palette 1 of 8 tiles
 * of 16 rows x 64 bytes; TMUL K 16, N 64), XCR0 (the OS manages tile state), and Linux's
 * permission for the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, kernel 5.16 on; once per process,
 * granted to every thread). */
static uw_status amx_enable(void) {
#if defined(UW_AMX_EMULATED)
    return UW_OK; /* the software model is always there */
#elif defined(__linux__)
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d); /* (leaf 7 is there: the avx512bf16 level was detected) */
    UW_RETURN_ERROR_IF(!((d >> 24) & 1) || !((d >> 22) & 1), UW_ERR_UNSUPPORTED, "the CPU has no AMX-TILE/AMX-BF16");
    UW_RETURN_ERROR_IF(__get_cpuid_max(0, NULL) < 0x1E, UW_ERR_UNSUPPORTED, "amx: cpuid has no tile information leaves");
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    UW_RETURN_ERROR_IF((lo & (3u << 17)) != (3u << 17), UW_ERR_UNSUPPORTED, "amx: the OS does not manage tile state (XCR0)");
    __cpuid_count(0x1D, 0, a, b, c, d);
    UW_RETURN_ERROR_IF(a < 1, UW_ERR_UNSUPPORTED, "amx: no tile palette 1");
    __cpuid_count(0x1D, 1, a, b, c, d);
    UW_RETURN_ERROR_IF((a >> 16) != 1024 || (b & 0xFFFF) != 64 || (b >> 16) < 8 || (c & 0xFFFF) < 16, UW_ERR_UNSUPPORTED,
                       "amx: tile palette 1 is not 8 tiles of 16 rows x 64 bytes");
    __cpuid_count(0x1E, 0, a, b, c, d);
    UW_RETURN_ERROR_IF((b & 0xFF) < 16 || ((b >> 8) & 0xFFFF) < 64, UW_ERR_UNSUPPORTED, "amx: TMUL smaller than K 16, N 64");
    const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    UW_RETURN_ERROR_IF(syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0, UW_ERR_UNSUPPORTED,
                       "amx: Linux refused the tile data permission (arch_prctl ARCH_REQ_XCOMP_PERM; kernel 5.16 or later)");
    return UW_OK;
#else
    return uw_error_set(UW_ERR_UNSUPPORTED, "amx: only on Linux (the tile permission is asked of the kernel)");
#endif
}

const uw_cpu_kern uw_cpu_kern_amx = {"amx", plain, palette, NULL, 2, 1, amx_enable};
