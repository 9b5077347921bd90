/* uw_gemv_parts.cuh - the pieces of the GEMV kernel (uw_gemv.cu) around its step loop: the group
 * shape per vendor, the shared-memory and workspace layouts, the cp.async staging of a step's rows
 * and of a tile's stream, the x fragments and the accumulators with their way out (to y, or to
 * the slot the end of the kernel sums, uw_gemv_end.cuh). Included by uw_gemv.cu only. */
#ifndef UW_GEMV_PARTS_CUH
#define UW_GEMV_PARTS_CUH

#include "cuda_internal.h"
#include "uw_gemv.cuh"
#include "uw_mbar.cuh"

UW_GPU_NS_BEGIN

#if UW_GPU_BAND_MMA_VALU
#define UW_GV_GROUP_THREADS UW_GV_SLOTS /* one slot per thread (AMD: a wave64 group) */
#define UW_GV_GROUPS 1                  /* which runs the CTA's units one after another */
#else
#define UW_GV_GROUP_THREADS 32
#define UW_GV_GROUPS 8                  /* a warp per unit */
#endif
#define UW_GV_THREADS (UW_GV_GROUP_THREADS * UW_GV_GROUPS)
/* a group's barrier: its warp (NVIDIA); the CTA, which is the one group (AMD, and HIP-CPU, which
 * runs a block's threads one after another between barriers) */
#if UW_GPU_BAND_MMA_VALU
#define uw_gv_group_sync() uw_gpu_syncthreads()
#else
#define uw_gv_group_sync() __syncwarp()
#endif
#define UW_GV_SPT (UW_GV_SLOTS / UW_GV_GROUP_THREADS) /* slots per thread */
#define UW_GV_STAGES 3
#define UW_GV_WLD 40  /* W buffer row stride in BF16 (80 bytes: ldmatrix without bank conflicts) */
#define UW_GV_SLD 68  /* a slot's row stride in floats ([batch row][band row]: fragment stores without conflicts) */
#define UW_GV_SLOT_FLOATS (UW_GV_NB_MAX * UW_GV_SLD)
#define UW_GV_PATCH_PER (UW_GV_PATCH_MAX / UW_GV_GROUP_THREADS) /* patch entries per thread and step */

/* ---------------------------------------------------------------- shared memory ----------- */

struct uw_gvlayout {
    uint32_t tab, tag, groups, group_bytes, tiles, tile_bytes, stage, stage_bytes, plane, aux, pidx, w, xs, tbar, tmeta, total;
};
/* Shared memory: the GEMV decode table (Huffman), the launch's tag, then per group: two tile
 * buffers (the stream of the current and the next tile, Huffman), S stages (plane chunks and
 * nibbles / exponents / BF16; the patch index of the step after) and the W buffer the product reads (not BF16: its stage is that);
 * AMD: the step's x as float; the tile buffers' barriers (sm_90: their streams come by bulk copy). At the end of the kernel a group's area holds its unit's two slots
 * (NVIDIA). */
static __host__ __device__ constexpr uw_gvlayout uw_gv_layout(int src, uint32_t tab_bits) {
    uw_gvlayout L = {};
    L.tab = 0;
    L.tag = src == UW_SRC_HUFF ? ((4u << tab_bits) + 15u) & ~15u : 0;
    L.groups = L.tag + 16;
    L.tiles = 0; /* within a group */
    L.tile_bytes = src == UW_SRC_HUFF ? UW_GV_STREAM_CAP + 16 : 0;
    L.stage = 2 * L.tile_bytes;
    L.plane = 0; /* within a stage */
    L.aux = src == UW_SRC_BF16 ? 0 : UW_GV_SLOTS * UW_GV_CHUNK;
    const uint32_t aux_bytes = src == UW_SRC_PAL ? UW_GV_SLOTS * UW_GV_CHUNK / 2
                             : src == UW_SRC_EXP ? UW_GV_SLOTS * UW_GV_CHUNK
                             : src == UW_SRC_BF16 ? UW_GV_SLOTS * UW_GV_WLD * 2 : 0;
    L.pidx = L.aux + aux_bytes; /* patched sources: 32 bytes of the patch index */
    L.stage_bytes = L.pidx + (src == UW_SRC_HUFF || src == UW_SRC_PAL ? 32 : 0);
    L.w = L.stage + UW_GV_STAGES * L.stage_bytes;
    L.xs = L.w + (src == UW_SRC_BF16 ? 0 : UW_GV_SLOTS * UW_GV_WLD * 2);
    L.tbar = L.xs + (UW_GPU_BAND_MMA_VALU ? UW_GV_CHUNK * UW_GV_NB_MAX * 4 : 0); /* the tile buffers' mbarriers (sm_90) */
    L.tmeta = L.tbar + 16; /* Huffman: the next tile's stream (16 bytes) and its rows' lanes' first bits */
    L.group_bytes = L.tmeta + (src == UW_SRC_HUFF ? 16 + 4 * UW_GV_SLOTS : 0);
    L.total = L.groups + UW_GV_GROUPS * L.group_bytes;
    return L;
}
static_assert(UW_GPU_BAND_MMA_VALU || uw_gv_layout(UW_SRC_PAL, 12).group_bytes >= 2 * UW_GV_SLOT_FLOATS * 4,
              "a warp's area holds its two slots at the end");

/* ---------------------------------------------------------------- the workspace ----------- */

/* Device memory of a context shared by its GEMV launches (uw_cu_gemv_matmul orders launches on
 * different streams): the launch counter that gives each launch its tag, per CTA two flags and two
 * partial-sum slots of the bands it shares with other CTAs, and (AMD, whose one group runs the
 * CTA's units in turn) the units' slots. Zeroed once when allocated; every launch leaves the
 * counter's arrivals at 0 and the flags older than the next tag. */
struct uw_gvws_layout {
    uint64_t flags, partial, uslots, total; /* byte offsets; the launch counter (epoch u64, arrivals u32) at 0 */
};
static __host__ __device__ inline uw_gvws_layout uw_gvws_layout_of(uint32_t G) {
    uw_gvws_layout w;
    w.flags = 16;
    w.partial = w.flags + (uint64_t)G * 2 * 8;
    w.uslots = w.partial + (uint64_t)G * 2 * UW_GV_NB_MAX * UW_GV_SLOTS * 4;
    w.total = w.uslots + (UW_GPU_BAND_MMA_VALU ? (uint64_t)G * UW_GV_UNITS * 2 * UW_GV_SLOT_FLOATS * 4 : 0);
    return w;
}

/* ---------------------------------------------------------------- staging ----------------- */

/* The cp.async copies of a step's rows into a stage: the 32-byte plane chunks (two threads per
 * slot, so that each instruction reads 16 whole sectors), then the nibbles (16 bytes), exponents
 * (32) or BF16 (64). Rows past the matrix read its last row and steps past K (a last tile narrower
 * than 256) its last 32 columns: in bounds, and never in an output (a row's products go to that
 * row only; those steps' products are skipped). The steps in order from a unit's first: the
 * thread's pieces' row offsets are set when the band changes. */
template <int SRC> struct uw_gv_stager {
    static constexpr uint32_t PIECES = SRC == UW_SRC_BF16 ? 4 : 2; /* 16-byte pieces of a slot's row */
    static constexpr uint32_t N = UW_GV_SLOTS * PIECES / UW_GV_GROUP_THREADS, NN = UW_GV_SLOTS / UW_GV_GROUP_THREADS;
    uint32_t band, ch; /* the next step to stage */
    uint64_t off[N], noff[NN]; /* the pieces' elements (plane, exponent, BF16) or nibble bytes from the matrix's first */
    __device__ __forceinline__ void rows(const uw_kparams &p, uint32_t gt) {
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < N; m++) {
            const uint32_t sl = gt / PIECES + m * (UW_GV_GROUP_THREADS / PIECES);
            off[m] = (uint64_t)uw_minu(band * UW_GV_SLOTS + sl, p.rows - 1) * p.cols + (gt % PIECES) * (SRC == UW_SRC_BF16 ? 8 : 16);
        }
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < NN; m++)
            noff[m] = (uint64_t)uw_minu(band * UW_GV_SLOTS + gt + m * UW_GV_GROUP_THREADS, p.rows - 1) * p.cols / 2;
    }
    __device__ __forceinline__ void start(const uw_kparams &p, const uw_gv_grid &g, uint32_t s, uint32_t gt) {
        band = s / g.nbs;
        ch = s % g.nbs;
        rows(p, gt);
    }
    /* stage the next step, then on to the one after */
    __device__ __forceinline__ void issue(const uw_kparams &p, const uw_gv_grid &g, uint8_t *stage, const uw_gvlayout &L, uint32_t gt) {
        const uint32_t col = uw_minu(ch * UW_GV_CHUNK, p.cols - UW_GV_CHUNK);
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < N; m++) {
            const uint32_t sl = gt / PIECES + m * (UW_GV_GROUP_THREADS / PIECES), piece = gt % PIECES;
            if (SRC == UW_SRC_BF16) {
                uw_gpu_cp_async16(stage + L.aux + sl * UW_GV_WLD * 2 + piece * 16, p.w16 + off[m] + col, 16);
            } else {
                uw_gpu_cp_async16(stage + L.plane + sl * UW_GV_CHUNK + piece * 16, p.plane + off[m] + col, 16);
                if (SRC == UW_SRC_EXP) uw_gpu_cp_async16(stage + L.aux + sl * UW_GV_CHUNK + piece * 16, p.exps + off[m] + col, 16);
            }
        }
        if (SRC == UW_SRC_PAL) {
            UW_GPU_UNROLL
            for (uint32_t m = 0; m < NN; m++)
                uw_gpu_cp_async16(stage + L.aux + (gt + m * UW_GV_GROUP_THREADS) * 16, p.nib + noff[m] + col / 2, 16);
        }
        if (++ch == g.nbs) {
            ch = 0;
            band++;
            rows(p, gt);
        }
    }
};
/* the patch index words of steps s and s + 1 (s < S) in a stage: its 32 bytes from word s & ~3
 * (the buffer has 32 bytes of slack after the index and entries) */
static __device__ __forceinline__ void uw_gv_stage_pidx(const uw_kparams &p, uint32_t s, uint8_t *stage, const uw_gvlayout &L, uint32_t gt) {
    if (gt < 2) uw_gpu_cp_async16(stage + L.pidx + 16 * gt, p.patch_idx + (s & ~3u) + 4 * gt, 16);
}
static __device__ __forceinline__ const uint32_t *uw_gv_pidx(const uint8_t *stage, const uw_gvlayout &L, uint32_t s) {
    return (const uint32_t *)(stage + L.pidx) + (s & 3u);
}

/* Huffman: what issuing a tile's stream needs, copied into the group's tile meta a tile ahead (so
 * that no register waits for a load where the tile is issued): from the upload's tile table, the
 * 16-byte-aligned bytes around its stream (uw_gv_seg_bytes: offset in the blob, size) and the bit
 * there where it starts; and the first bit of the lane of each slot. The tiles in step order: t,
 * its column and band kept as they go (no division); lrow: the slots' lanes in the last band when
 * it has fewer than 64 rows. */
struct uw_gv_tilewalk {
    uint32_t t, kt, band, lrow[UW_GV_SPT];
    __device__ __forceinline__ void start(const uw_kparams &p, uint32_t t0, uint32_t gt) {
        t = t0;
        kt = t0 % p.tiles_c;
        band = t0 / p.tiles_c;
        const uint32_t tr = p.rows - (p.tiles_r - 1) * UW_GV_SLOTS;
        UW_GPU_UNROLL
        for (int k = 0; k < UW_GV_SPT; k++) {
            const uint32_t sl = gt + k * UW_GV_GROUP_THREADS;
            lrow[k] = sl < tr ? uw_gv_lane_of_row(sl, tr) : 0;
        }
    }
    /* the current tile's meta into meta (cp.async, in the current group), then on to the next tile */
    __device__ __forceinline__ void fetch(const uw_kparams &p, uint32_t gt, uint8_t *meta) {
        if (t < p.tiles_r * p.tiles_c) {
            const uint32_t *lo = (const uint32_t *)(p.blob + p.off_laneoff) + (uint64_t)t * (UW_GV_SLOTS - 1);
            if (gt == 0) uw_gpu_cp_async16(meta, p.gv_tiles + t, 16);
            UW_GPU_UNROLL
            for (int k = 0; k < UW_GV_SPT; k++) {
                const uint32_t sl = gt + k * UW_GV_GROUP_THREADS, j = band + 1 == p.tiles_r ? lrow[k] : sl;
                uw_gpu_cp_async4(meta + 16 + 4 * sl, j ? lo + j - 1 : lo, j ? 4 : 0);
            }
        }
        t++;
        if (++kt == p.tiles_c) kt = 0, band++;
    }
};
/* issue the copy of the stream of the tile whose meta is in `meta` into the tile buffer at byte
 * `buf` of the group's tile area; bits: the slots' lanes' first bits there. Uploads check that
 * every tile's stream fits UW_GV_STREAM_CAP (cuda_gemv_upload.cu). sm_90: one bulk copy by lane 0
 * completing on the buffer's barrier (uw_gv_tile_wait before reading); elsewhere 16-byte cp.async
 * copies by every thread, in the current group. */
static __device__ __forceinline__ void uw_gv_tile_issue(const uw_kparams &p, const uint8_t *meta, uint8_t *tiles, uint32_t buf,
                                                        uint64_t *bar, uint32_t gt, uint32_t bits[UW_GV_SPT]) {
    const uint4 seg = *(const uint4 *)meta;
    const uint64_t g0 = (uint64_t)seg.y << 32 | seg.x;
    const uint32_t n = seg.z;
    UW_GPU_UNROLL
    for (int k = 0; k < UW_GV_SPT; k++) bits[k] = buf * 8 + seg.w + ((const uint32_t *)(meta + 16))[gt + k * UW_GV_GROUP_THREADS];
#if UW_GPU_HAS_MBAR && !UW_GPU_BAND_MMA_VALU
    if (gt == 0) {
        fence_proxy_async(); /* (the buffer's last reads, generic proxy, before the copy's writes) */
        mbar_arrive_expect_tx(bar, n);
        bulk_g2s(tiles + buf, p.blob + g0, n, bar);
    }
#else
    (void)bar;
    for (uint32_t o = gt * 16; o < n; o += UW_GV_GROUP_THREADS * 16) uw_gpu_cp_async16(tiles + buf + o, p.blob + g0 + o, 16);
#endif
}
/* sm_90: wait for the stream of the tile in buffer b (its barrier's phase: tph bit b, flipped) */
static __device__ __forceinline__ void uw_gv_tile_wait(uint64_t *bars, uint32_t b, uint32_t &tph) {
#if UW_GPU_HAS_MBAR && !UW_GPU_BAND_MMA_VALU
    mbar_wait(bars, b, (tph >> b) & 1u);
    tph ^= 1u << b;
#else
    (void)bars, (void)b, (void)tph;
#endif
}

/* ---------------------------------------------------------------- launch arguments, x ------ */

/* the arguments of one launch */
typedef struct uw_gvargs {
    const uint16_t *x;   /* [batch, cols] BF16, 4-byte aligned */
    float *y;            /* [batch, rows] fp32 */
    uint8_t *ws;         /* the context's GEMV workspace (uw_gvws_layout_of(G)) */
    uint32_t batch, G;
} uw_gvargs;

#if !UW_GPU_BAND_MMA_VALU
/* the x fragments (B of m16n8k16, x rows as columns) of the 32 columns from k0: b[kk][j][h] holds
 * x[8j + lane/4][k0 + 16kk + 8h + 2(lane%4), +1]. xr[j]: the thread's x row of n-tile j from its
 * first column; rows past the batch read the last row (their products go to outputs never
 * written); k0 is clamped to the last chunk for steps past K (whose products are skipped). */
template <int NB>
static __device__ __forceinline__ void uw_gv_xfrag(const uint16_t *const xr[NB / 8], uint32_t k0, uint32_t b[2][NB / 8][2]) {
    UW_GPU_UNROLL
    for (int j = 0; j < NB / 8; j++) {
        const uint32_t *xp = (const uint32_t *)(xr[j] + k0);
        UW_GPU_UNROLL
        for (int kk = 0; kk < 2; kk++)
            UW_GPU_UNROLL
            for (int h = 0; h < 2; h++) b[kk][j][h] = uw_gpu_ldg(xp + 8 * kk + 4 * h);
    }
}
#endif

/* ---------------------------------------------------------------- accumulators ------------ */

/* a group thread's partial sums of the band of its unit it is in: written to y when the unit owns
 * the band whole, else kept in a slot (uw_gemv_end.cuh sums the slots) */
template <int NB> struct uw_gv_acc {
#if UW_GPU_BAND_MMA_VALU
    float v[NB]; /* thread r: row r of the band, batch rows 0..NB-1 */
    __device__ __forceinline__ void zero() {
        UW_GPU_UNROLL
        for (int n = 0; n < NB; n++) v[n] = 0.0f;
    }
    template <class F> __device__ __forceinline__ void each(uint32_t gt, F f) const {
        UW_GPU_UNROLL
        for (int n = 0; n < NB; n++) f(gt, (uint32_t)n, v[n]);
    }
#else
    float v[4][NB / 8][4]; /* m16n8 fragments of the 4 16-row blocks of a band */
    __device__ __forceinline__ void zero() {
        UW_GPU_UNROLL
        for (int b = 0; b < 4; b++)
            UW_GPU_UNROLL
            for (int j = 0; j < NB / 8; j++)
                UW_GPU_UNROLL
                for (int h = 0; h < 4; h++) v[b][j][h] = 0.0f;
    }
    /* f(row, batch row, value) for every value the thread holds: fragment h of block b, n-tile j is
     * row 16 b + gt / 4 + 8 (h / 2), batch row 8 j + 2 (gt % 4) + h % 2 */
    template <class F> __device__ __forceinline__ void each(uint32_t gt, F f) const {
        UW_GPU_UNROLL
        for (int b = 0; b < 4; b++)
            UW_GPU_UNROLL
            for (int j = 0; j < NB / 8; j++)
                UW_GPU_UNROLL
                for (int h = 0; h < 4; h++) f(16 * b + gt / 4 + 8 * (h / 2), 8 * j + 2 * (gt % 4) + (h & 1), v[b][j][h]);
    }
#endif
    /* band `band` whole: to y */
    __device__ __forceinline__ void flush(const uw_kparams &p, const uw_gvargs &a, uint32_t band, uint32_t gt) const {
        const uint32_t r0 = band * UW_GV_SLOTS, valid = uw_minu(UW_GV_SLOTS, p.rows - r0);
        each(gt, [&](uint32_t m, uint32_t n, float val) {
            if (m < valid && n < a.batch) a.y[(size_t)n * p.rows + r0 + m] = val;
        });
    }
    /* into a slot ([batch row][band row], row stride UW_GV_SLD) */
    __device__ __forceinline__ void dump(float *slot, uint32_t gt) const {
        each(gt, [&](uint32_t m, uint32_t n, float val) { slot[n * UW_GV_SLD + m] = val; });
    }
};

UW_GPU_NS_END
#endif
