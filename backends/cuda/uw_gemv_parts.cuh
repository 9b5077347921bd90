/* uw_gemv_parts.cuh - the pieces of the GEMV kernel (uw_gemv.cu) around its step loop: the
 * group shape per vendor, the shared-memory layout, a step's position, the cp.async staging of
 * its rows and of its lanes' stream, the x fragments and the accumulators with their write to y.
 * Included by uw_gemv.cu only (its namespace and uw_gemv.cuh's names). */
#ifndef UW_GEMV_PARTS_CUH
#define UW_GEMV_PARTS_CUH

#include "cuda_internal.h"
#include "uw_gemv.cuh"

UW_GPU_NS_BEGIN

#if UW_GPU_BAND_MMA_VALU
#define UW_GV_GROUP_THREADS UW_GV_SLOTS /* one slot per thread (AMD: a wave64 group) */
#define UW_GV_GROUPS 1
#else
#define UW_GV_GROUP_THREADS 32
#define UW_GV_GROUPS 8
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
#define UW_GV_PATCH_PER ((UW_GV_PATCH_MAX + UW_GV_GROUP_THREADS - 1) / UW_GV_GROUP_THREADS) /* patch entries per thread and step */
#define UW_GV_STAGES 3
#define UW_GV_WLD 40           /* W buffer row stride in BF16 (80 bytes: ldmatrix without bank conflicts) */

/* ---------------------------------------------------------------- shared memory ----------- */

struct uw_gvlayout {
    uint32_t tab, groups, group_bytes, pair, pair_bytes, pidx, stage, stage_bytes, plane, aux, w, xs, total;
};
/* Shared memory: the GEMV decode table (Huffman), then per group: two pair buffers (the stream
 * of the lanes of the current and the next tile pair, Huffman; the pair's patch index, Huffman
 * and palette), S stages (plane chunks and nibbles / exponents / BF16), the W
 * buffer the product reads (not BF16: its stage is that) */
static __host__ __device__ constexpr uw_gvlayout uw_gv_layout(int src, uint32_t tab_bits) {
    uw_gvlayout L = {};
    L.tab = 0;
    L.groups = src == UW_SRC_HUFF ? ((4u << tab_bits) + 15u) & ~15u : 0;
    const bool patched = src == UW_SRC_HUFF || src == UW_SRC_PAL;
    L.pair = 0;                                              /* within a group */
    L.pidx = src == UW_SRC_HUFF ? UW_GV_STREAM_CAP + 16 : 0; /* within a pair buffer: 17 index entries, 16-byte pieces */
    L.pair_bytes = patched ? L.pidx + 96 : 0;
    L.stage = 2 * L.pair_bytes;
    L.plane = 0; /* within a stage */
    L.aux = src == UW_SRC_BF16 ? 0 : UW_GV_SLOTS * UW_GV_CHUNK;
    const uint32_t aux_bytes = src == UW_SRC_PAL ? UW_GV_SLOTS * UW_GV_CHUNK / 2
                             : src == UW_SRC_EXP ? UW_GV_SLOTS * UW_GV_CHUNK
                             : src == UW_SRC_BF16 ? UW_GV_SLOTS * UW_GV_WLD * 2 : 0;
    L.stage_bytes = L.aux + aux_bytes;
    L.w = L.stage + UW_GV_STAGES * L.stage_bytes;
    L.xs = L.w + (src == UW_SRC_BF16 ? 0 : UW_GV_SLOTS * UW_GV_WLD * 2);
    L.group_bytes = L.xs + (UW_GPU_BAND_MMA_VALU ? 2 * UW_GV_CHUNK * UW_GV_NB_MAX * 4 : 0);
    L.total = L.groups + UW_GV_GROUPS * L.group_bytes;
    return L;
}

/* ---------------------------------------------------------------- a group's state --------- */

/* where a step's rows come from: the set, the tile pair and the chunk */
struct uw_gv_pos {
    uw_gv_set set;
    uint32_t j, kt0, chunk;  /* step within the set, its first tile column, its chunk */
};
static __device__ __forceinline__ uw_gv_pos uw_gv_pos_of(const uw_gv_cursor &c) {
    uw_gv_pos p;
    p.set = c.set;
    p.j = c.j;
    uw_gv_step_pos(p.set, p.j, &p.kt0, &p.chunk);
    return p;
}

/* issue the cp.async copies of one step's rows into a stage, zero-filled for slots outside the
 * set's valid rows or past K: the 32-byte plane chunks (two threads per slot, so that each
 * instruction reads 16 whole sectors), then the nibbles (16 bytes), exponents (32) or BF16 (64) */
template <int SRC>
static __device__ __forceinline__ void uw_gv_stage(const uw_kparams &p, const uw_gv_pos &ps, uint8_t *stage, const uw_gvlayout &L,
                                                   uint32_t gt) {
    const uint32_t col0 = ps.kt0 * UW_GV_TILE + ps.chunk * UW_GV_CHUNK, shift = uw_gv_shift(ps.set.nrows);
    /* slot sl: its global element offset and whether it is inside */
    auto at = [&](uint32_t sl, uint64_t *g) {
        const uint32_t r = sl & (ps.set.nrows - 1), col = col0 + ((sl >> shift) << 8);
        *g = (uint64_t)(ps.set.row0 + r) * p.cols + col;
        return r < ps.set.valid && col < p.cols;
    };
    constexpr uint32_t HALF = UW_GV_GROUP_THREADS / 2, PIECES = SRC == UW_SRC_BF16 ? 4 : 2; /* 16-byte pieces of a slot's row */
    UW_GPU_UNROLL
    for (uint32_t m = 0; m < UW_GV_SLOTS * PIECES / UW_GV_GROUP_THREADS; m++) {
        const uint32_t sl = (gt / PIECES) + m * (UW_GV_GROUP_THREADS / PIECES), piece = gt % PIECES;
        uint64_t g;
        const bool ok = at(sl, &g);
        if (SRC == UW_SRC_BF16)
            uw_gpu_cp_async16(stage + L.aux + sl * UW_GV_WLD * 2 + piece * 16, ok ? p.w16 + g + piece * 8 : p.w16, ok ? 16 : 0);
        else
            uw_gpu_cp_async16(stage + L.plane + sl * UW_GV_CHUNK + piece * 16, ok ? p.plane + g + piece * 16 : p.plane, ok ? 16 : 0);
    }
    (void)HALF;
    if (SRC == UW_SRC_PAL) {
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < UW_GV_SLOTS / UW_GV_GROUP_THREADS; m++) {
            const uint32_t sl = gt + m * UW_GV_GROUP_THREADS;
            uint64_t g;
            const bool ok = at(sl, &g);
            uw_gpu_cp_async16(stage + L.aux + sl * 16, ok ? p.nib + g / 2 : p.nib, ok ? 16 : 0);
        }
    }
    if (SRC == UW_SRC_EXP) {
        UW_GPU_UNROLL
        for (uint32_t m = 0; m < UW_GV_SLOTS * 2 / UW_GV_GROUP_THREADS; m++) {
            const uint32_t sl = gt / 2 + m * (UW_GV_GROUP_THREADS / 2), piece = gt % 2;
            uint64_t g;
            const bool ok = at(sl, &g);
            uw_gpu_cp_async16(stage + L.aux + sl * UW_GV_CHUNK + piece * 16, ok ? p.exps + g + piece * 16 : p.exps, ok ? 16 : 0);
        }
    }
}

/* ---------------------------------------------------------------- Huffman streams -------- */

/* The stream of a step's lanes (uw_gv_seg_bytes): for each of its tiles, f(t, offset in the
 * stage, global byte, bytes, bit of the tile's first bit counted from that byte). Uploads check
 * that every step's segments fit UW_GV_STREAM_CAP (cuda_weights.cu). */
template <class F>
static __device__ __forceinline__ void uw_gv_stream_plan(const uw_kparams &p, const uw_gv_pos &ps, F f) {
    const uint32_t per = UW_GV_SLOTS / ps.set.nrows, band = ps.set.row0 / 64, lr0 = ps.set.row0 % 64;
    const uint32_t tr = uw_minu(64, p.rows - band * 64);
    uint32_t used = 0;
    for (uint32_t t = 0; t < per && ps.kt0 + t < p.tiles_c; t++) {
        const uint64_t ti = (uint64_t)band * p.tiles_c + ps.kt0 + t;
        const uw_range by = uw_tile_bytes(p, ti);
        const uint64_t tile_bits = (by.e - by.b) * 8;
        const uint64_t b0 = uw_lane_range(p, ti, uw_gv_lane_of_row(lr0, tr), tile_bits).b;
        const uint64_t b1 = uw_lane_range(p, ti, uw_gv_lane_of_row(lr0 + ps.set.valid - 1, tr), tile_bits).e;
        const uint64_t g0 = (p.off_stream + by.b + b0 / 8) & ~(uint64_t)15;
        const uint32_t n = uw_gv_seg_bytes(p.off_stream, by.b, b0, b1);
        f(t, used, g0, n, (p.off_stream + by.b - g0) * 8);
        used += n;
    }
}

/* ---------------------------------------------------------------- launch arguments, x, y -- */

/* the arguments of one launch */
typedef struct uw_gvargs {
    const uint16_t *x;   /* [batch, cols] BF16, 4-byte aligned */
    float *y;            /* [batch, rows] fp32 */
    uint32_t batch, G;
} uw_gvargs;

#if !UW_GPU_BAND_MMA_VALU
/* the x fragments (B of m16n8k16, x rows as columns) of 16 columns from k0: b[j][h] holds
 * x[8j + lane/4][k0 + 2(lane%4) + 8h, +1]; xr[j]: the thread's x row of n-tile j from its first
 * column (NULL past the batch: zeros); columns past K are zero (the step's W is zero there too) */
template <int NB>
static __device__ __forceinline__ void uw_gv_xfrag(const uint16_t *const xr[NB / 8], uint32_t k0, bool in, uint32_t b[NB / 8][2]) {
    UW_GPU_UNROLL
    for (int j = 0; j < NB / 8; j++)
        UW_GPU_UNROLL
        for (int h = 0; h < 2; h++) b[j][h] = in && xr[j] ? uw_gpu_ldg((const uint32_t *)(xr[j] + k0 + 8 * h)) : 0u;
}
#endif

/* a group thread's partial sums of the current row set, and their write to y: a store by the set's
 * first contributor, else an add (the CTA orders the adds) */
template <int NB> struct uw_gv_acc {
#if UW_GPU_BAND_MMA_VALU
    float v[NB]; /* thread r: row r of the set, batch rows 0..NB-1 */
    __device__ __forceinline__ void zero() {
        UW_GPU_UNROLL
        for (int n = 0; n < NB; n++) v[n] = 0.0f;
    }
    __device__ __forceinline__ void flush(const uw_kparams &p, const uw_gvargs &a, const uw_gv_set &st, uint32_t gt, bool add) const {
        if (gt >= st.valid) return;
        UW_GPU_UNROLL
        for (int n = 0; n < NB; n++) {
            if ((uint32_t)n >= a.batch) continue;
            float *yp = a.y + (size_t)n * p.rows + st.row0 + gt;
            *yp = add ? *yp + v[n] : v[n];
        }
    }
#else
    float v[4][NB / 8][4]; /* m16n8 fragments of the 4 16-row blocks of a step */
    __device__ __forceinline__ void zero() {
        UW_GPU_UNROLL
        for (int b = 0; b < 4; b++)
            UW_GPU_UNROLL
            for (int j = 0; j < NB / 8; j++)
                UW_GPU_UNROLL
                for (int h = 0; h < 4; h++) v[b][j][h] = 0.0f;
    }
    /* fragment h of block b, n-tile j: row 16 b + gt / 4 + 8 (h / 2), batch row 8 j + 2 (gt % 4) + h % 2;
     * a 32-row set's blocks b and b + 2 are the same rows in its two tiles, added here */
    __device__ __forceinline__ void flush(const uw_kparams &p, const uw_gvargs &a, const uw_gv_set &st, uint32_t gt, bool add) const {
        UW_GPU_UNROLL
        for (int b = 0; b < 4; b++)
            UW_GPU_UNROLL
            for (int j = 0; j < NB / 8; j++)
                UW_GPU_UNROLL
                for (int h = 0; h < 4; h++) {
                    const bool pair = st.nrows == 32;
                    if (pair && b >= 2) continue;
                    const uint32_t m = 16 * b + gt / 4 + 8 * (h / 2), n = 8 * j + 2 * (gt % 4) + (h & 1);
                    const float val = pair ? v[b][j][h] + v[b < 2 ? b + 2 : b][j][h] : v[b][j][h];
                    if (m < st.valid && n < a.batch) {
                        float *yp = a.y + (size_t)n * p.rows + st.row0 + m;
                        *yp = add ? *yp + val : val;
                    }
                }
    }
#endif
};

UW_GPU_NS_END
#endif
