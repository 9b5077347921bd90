/* cpu_mm.h - the CPU matmul engine: weight layouts (16-row panels of BF16 pairs, and the
 * palette form rebuilt in registers), the per-ISA kernels that consume them, and the driver that
 * splits y = x W^T over output rows. Every source of weights reaches the same kernel of a level,
 * so all pipelines of a level are bit-identical (contract C2); docs/CONFORMANCE.md section 4.1. */
#ifndef UW_CPU_MM_H
#define UW_CPU_MM_H

#include "../../codecs/blob.h"

/* ---- layouts ----
 * Panel: 16 consecutive output rows. K is padded to Kp = a multiple of 32 (a "block", the K of one
 * AMX tile product) with zero weights; storage goes by "groups" of 8 k = 4 pairs, 4 groups a
 * block. Plain panel: for group g, pair m (0..3), row r: the two BF16 words W[r][8g+2m],
 * W[r][8g+2m+1] at byte g*256 + m*64 + r*4 (the VNNI pair order vdpbf16ps reads).
 * Palette panel: 192 bytes per group, rebuilt in registers; see cpu_pack.c.
 * The accumulation order of every level (docs/CONFORMANCE.md section 4.1.1): per block, two
 * half sums h1 (k 0-15) and h2 (k 16-31) from +0, pairs in increasing order, odd element first;
 * then s = s + (h1 + h2). Kernel calls therefore start and end on block boundaries. */
#define UW_PANEL 16
#define UW_GROUP_K 8
#define UW_BLOCK_K 32
#define UW_BLOCK_GROUPS 4
#define UW_PLAIN_GROUP_BYTES 256
#define UW_PAL_GROUP_BYTES 192

typedef enum uw_cpu_isa {
    UW_ISA_SCALAR = 0,
    UW_ISA_AVX2 = 1,       /* AVX2 + FMA: BF16 widened to fp32, separate multiply and add */
    UW_ISA_AVX512BF16 = 2, /* AVX-512 F/BW/VL/BF16/VBMI/VBMI2: vdpbf16ps, vpermb rebuild */
    UW_ISA_AMX = 3         /* avx512bf16, and AMX-BF16 tiles from a batch size on: the same bits */
} uw_cpu_isa;
#define UW_ISA_COUNT 4

/* Palette panels of one weight: exceptions are the (group, position) words the register rebuild
 * gets wrong (exponent outside the 16-entry table, or K padding that must be +0). */
typedef struct uw_pal_panels {
    uint8_t table[16];   /* nibble -> exponent byte */
    const uint8_t *data; /* npanels * ngroups * 192 bytes */
    const uint64_t *xstart; /* npanels + 1: exception range of each panel */
    const uint32_t *xgroup; /* group index of each exception, ascending within a panel */
    const uint32_t *xval;   /* (position in the group's 128 words) << 16 | BF16 value */
} uw_pal_panels;

/* One call of a kernel: R panels (consecutive in memory, panel_bytes apart) x groups
 * [g0, g0+ng) (g0 and ng multiples of UW_BLOCK_GROUPS) x all nb batch rows. acc[r][b][16] is loaded, continued and stored back (fp32 is
 * stored exactly, so cutting K into blocks never changes a bit). x: packed activations in blocks
 * of xbw = min(8, nb) batch rows: pair p (k = 2p, 2p+1) of row b at
 * x + (b / xbw) * xblk + (p * xbw + b % xbw) * 2 (uw_xpair), zero in the padding. A pass over
 * up to 8 rows reads one contiguous stream (L1-sized per K block), its broadcasts of one pair
 * are consecutive dwords, and a 16-row pass reads two blocks xblk apart. */
typedef struct uw_kargs {
    const uint8_t *w; /* group g0 of the first panel */
    uint64_t panel_bytes;
    int R;
    uint64_t g0, ng;
    const uint16_t *x;
    uint64_t xbw, xblk; /* rows per x block, uint16 per x block */
    uint64_t nb;
    float *acc;
    /* palette only: table and each panel's exceptions from the first one with group >= g0 */
    const uint8_t *table;
    const uint32_t *xgroup[4], *xval[4];
    uint64_t xleft[4];
    /* AMX only: room for the call's B tiles, R x ng/4 KiB (driver scratch; used when more than two
     * 16-row batch blocks pass over them) */
    uint8_t *bt;
} uw_kargs;

typedef struct uw_cpu_kern {
    const char *name;
    void (*plain)(const uw_kargs *a);
    void (*palette)(const uw_kargs *a);
    /* the palette panels of a (exceptions patched) rebuilt as plain panels at dst (panel
     * stride dst_panel_bytes): large batches rebuild a K block once, then run plain over it */
    void (*pal_to_plain)(const uw_kargs *a, uint8_t *dst, uint64_t dst_panel_bytes);
    int max_r; /* panels per call the kernel takes (1..4) */
    /* AMX tiles: activations packed by uw_pack_x_amx, palette panels taken directly at any batch
     * (pal_to_plain NULL), kargs.bt filled; enable() asks the CPU and the OS for the tiles */
    int amx;
    uw_status (*enable)(void);
} uw_cpu_kern;

/* ISA levels: detected once (cpuid, XCR0; for amx also the OS's permission and the self-test
 * below); UW_CPU_ISA=amx|avx512bf16|avx2|scalar forces a level, never a silent fallback: a level
 * this CPU lacks (or whose AMX failed the self-test) is UW_ERR_NO_DEVICE (the device does not
 * exist here: conformance programs skip), an unknown name UW_ERR_INVALID_ARG. */
uw_status uw_cpu_isa_select(uw_cpu_isa *out);
int uw_cpu_isa_supported(uw_cpu_isa isa);
const char *uw_cpu_isa_name(uw_cpu_isa isa);
/* what the device name adds after the level: " (amx not bit-compatible)" when the CPU has AMX
 * but the self-test refused it and the level is avx512bf16, else "" */
const char *uw_cpu_isa_note(uw_cpu_isa isa);
const uw_cpu_kern *uw_cpu_kern_get(uw_cpu_isa isa);
/* AMX self-test (cpu_amx_check.c): the AMX kernel against the avx512bf16 kernel on operands chosen
 * to expose a different order, rounding, DAZ, FTZ or product rounding; UW_OK only if every bit
 * matches (why: the first difference, for the error of UW_CPU_ISA=amx) */
uw_status uw_cpu_amx_selftest(char *why, size_t why_size);
#define UW_AMX_BATCH_DEFAULT 16 /* the batch from which the amx level runs tiles (param amx_batch) */

/* per-level kernels (NULL tables where the build lacks the ISA) */
extern const uw_cpu_kern uw_cpu_kern_scalar;
#ifdef UW_CPU_X86_KERNELS
extern const uw_cpu_kern uw_cpu_kern_avx2;
extern const uw_cpu_kern uw_cpu_kern_avx512;
#endif
#ifdef UW_CPU_AMX_KERNEL
extern const uw_cpu_kern uw_cpu_kern_amx;
#endif

/* shared by the kernels: the palette patch (rare) and the NaN rule of the output */
void uw_pal_patch(uint16_t *words128, uint64_t g, const uint32_t **xgroup, const uint32_t **xval, uint64_t *xleft);
void uw_pal_rebuild_group(const uint8_t *src, const uint8_t table[16], uint16_t *plain_group);
void uw_pal_to_plain_generic(const uw_kargs *a, uint8_t *dst, uint64_t dst_panel_bytes);

/* ---- packing (cpu_pack.c) ---- */
static inline uint64_t uw_kpad(uint64_t k) { return (k + UW_BLOCK_K - 1) / UW_BLOCK_K * UW_BLOCK_K; }
static inline uint64_t uw_npanels(uint64_t rows) { return (rows + UW_PANEL - 1) / UW_PANEL; }
/* rows [0, nr) of a row-major BF16 matrix (row stride ld), columns [k0, k0 + nk) (k0 a
 * multiple of 8), into ceil(nr/16) plain panels of uw_kpad(nk)/8 groups at dst (panel stride
 * panel_bytes); rows past nr and columns past k0 + nk are zero. */
void uw_pack_plain(const uint16_t *w, uint64_t ld, uint64_t nr, uint64_t k0, uint64_t nk, uint8_t *dst,
                   uint64_t panel_bytes);
/* the inverse for decode(): panels -> row-major rows x cols */
void uw_unpack_plain(const uint8_t *src, uint64_t rows, uint64_t cols, uint16_t *w);
/* palette panels of a row-major matrix: picks the 16 most frequent exponents; allocates */
typedef struct uw_pal_store {
    uw_pal_panels p;
    uint8_t *data;
    uint64_t *xstart;
    uint32_t *xgroup, *xval;
} uw_pal_store;
uw_status uw_pal_build(const uint16_t *w, uint64_t rows, uint64_t cols, uw_pal_store *out);
void uw_pal_free(uw_pal_store *s);
/* palette panels -> row-major rows x cols (decode of a weight resident only as palette) */
void uw_pal_unpack(const uw_pal_panels *p, uint64_t rows, uint64_t cols, uint16_t *w);
/* x [B][K] -> blocks of min(8, B) rows of pairs (uw_kargs.x) with zero padding; the packed
 * size is uw_pack_x_size(B, K) uint16 */
static inline uint64_t uw_xbw(uint64_t B) { return B < 8 ? B : 8; }
static inline uint64_t uw_pack_x_size(uint64_t B, uint64_t K) {
    return (B + uw_xbw(B) - 1) / uw_xbw(B) * uw_xbw(B) * uw_kpad(K);
}
void uw_pack_x(const uint16_t *x, uint64_t B, uint64_t K, uint16_t *dst);
/* x [B][K] -> AMX A tiles: per 16-row batch block and 32-k block, 16 rows of 16 dwords, dword j =
 * (low word: element j of h1's sequence, high word: element j of h2's), h1 = k 1, 0, 3, 2, ...,
 * 15, 14 and h2 = k 17, 16, ..., 31, 30 (the documented order); zero rows and k in the padding */
static inline uint64_t uw_pack_x_amx_size(uint64_t B, uint64_t K) { return (B + 15) / 16 * 16 * uw_kpad(K); }
void uw_pack_x_amx(const uint16_t *x, uint64_t B, uint64_t K, uint16_t *dst);
static inline const uint16_t *uw_xpair(const uw_kargs *a, uint64_t pair, uint64_t b) {
    return a->x + (b / a->xbw) * a->xblk + (pair * a->xbw + b % a->xbw) * 2;
}

/* Memory for a resident form's panels (free with free()): 2 MiB-aligned and advised to use 2 MiB
 * pages when large (Linux): a panel stream then crosses no 4 KiB page boundary, where the page
 * walks slowed the palette stream by ~10% (bench/RESULTS.md). */
void *uw_cpu_big_alloc(uint64_t bytes);

/* Per-thread scratch that grows and is kept for the thread's life (freed when it exits):
 * steady-state calls allocate nothing. slot 0..4. NULL on out of memory. */
void *uw_cpu_scratch(int slot, uint64_t bytes);

/* ---- band decoder wrapper (cpu_band.c): the one place that calls the codec ---- */
typedef struct uw_band_dec uw_band_dec;
uw_status uw_band_dec_create(const uw_blob *b, uw_band_dec **out);
void uw_band_dec_free(uw_band_dec *d);
/* decode tile t into dst (row stride ld elements) */
uw_status uw_band_dec_tile(const uw_band_dec *d, uint64_t t, uint16_t *dst, uint64_t ld);

/* ---- persistent worker pool (cpu_pool.c) ---- */
typedef struct uw_pool uw_pool;
uw_status uw_pool_create(int threads, uw_pool **out);
void uw_pool_destroy(uw_pool *p);
int uw_pool_threads(const uw_pool *p);
/* fn(ctx, i, worker) for i in [0, n) on up to `threads` threads of the pool (the caller is one);
 * if another thread is using the pool, the call runs on the caller alone (same results: each
 * output is computed by one thread in a fixed order). pool NULL: the caller alone. */
uw_status uw_pool_run(uw_pool *p, int threads, uint64_t n, uw_task_fn fn, void *ctx);

/* ---- the driver (cpu_mm.c) ---- */
typedef enum uw_src_kind {
    UW_SRC_PLAIN,   /* resident plain panels */
    UW_SRC_PALETTE, /* resident palette panels */
    UW_SRC_ROWMAJOR,/* row-major BF16 (decode+gemm scratch, uw_matmul_bf16) packed per task */
    UW_SRC_BLOB     /* Huffman/palette-IR blob decoded band by band per task (fused) */
} uw_src_kind;

typedef struct uw_mm_src {
    uw_src_kind kind;
    uint64_t rows, cols;
    const uint8_t *plain;          /* UW_SRC_PLAIN */
    const uw_pal_panels *pal;      /* UW_SRC_PALETTE */
    const uint16_t *rowmajor;      /* UW_SRC_ROWMAJOR */
    const uw_blob *blob;           /* UW_SRC_BLOB */
    const uw_band_dec *dec;
} uw_mm_src;

/* y[B][rows] = x[B][cols] W^T with the kernel of `isa`, on `threads` threads of pool (NULL:
 * one-shot threads through uw_parallel_for). panels: 16-row panels per kernel pass (1, 2, 4;
 * 0 = by batch size); amx_batch (level amx): AMX tiles when B >= amx_batch > 0, else the
 * avx512bf16 kernel. Both change speed only, never a bit (every lane is one output row, and the
 * AMX kernel computes the avx512bf16 kernel's order). */
uw_status uw_cpu_mm(const uw_mm_src *s, uw_cpu_isa isa, const uint16_t *x, float *y, uint64_t B, int threads, int panels,
                    int amx_batch, uw_pool *pool);

#endif
