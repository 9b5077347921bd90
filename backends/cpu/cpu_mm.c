/* cpu_mm.c - the CPU matmul driver: output rows split into tasks of whole 16-row panels (each
 * thread streams its own weights), K cut into blocks that stay in L2 while every batch block
 * passes over them, and the weights of each task brought to the kernel from whichever form is
 * resident: plain or palette panels directly, row-major BF16 or a blob's bands packed into
 * per-thread scratch first. The accumulation order depends only on the ISA level. */
#include <stdlib.h>

#include "cpu_mm.h"

#define KBLOCK 256 /* groups (2048 k) per K block when several batch blocks pass over it */

typedef struct mm_job {
    const uw_mm_src *s;
    const uw_cpu_kern *k;
    const uint16_t *xp; /* packed activations (uw_pack_x) */
    float *y;
    uint64_t B, kp, ng, npan, chunk, kblock;
    int R;
} mm_job;

/* NaN outputs are written as the one canonical quiet NaN: which NaN an add of two NaNs returns
 * depends on operand order, which the contract does not fix (fuzz finding 6). */
static void store_y(const mm_job *j, const float *acc, uint64_t row0, uint64_t rows) {
    const uint32_t qnan = 0x7FC00000u;
    for (uint64_t p = 0; p < uw_npanels(rows); p++) {
        uint64_t o0 = row0 + p * UW_PANEL, nr = row0 + rows - o0 < UW_PANEL ? row0 + rows - o0 : UW_PANEL;
        for (uint64_t b = 0; b < j->B; b++) {
            const float *a = acc + (p * j->B + b) * UW_PANEL;
            float *yo = j->y + b * j->s->rows + o0;
            for (uint64_t r = 0; r < nr; r++) {
                if (a[r] == a[r]) yo[r] = a[r];
                else memcpy(&yo[r], &qnan, 4);
            }
        }
    }
}

static uw_status base_args(const mm_job *j, float *acc, int R, uw_kargs *a) {
    memset(a, 0, sizeof *a);
    a->x = j->xp;
    a->xbw = j->k->amx ? 16 : uw_xbw(j->B); /* rows per x block (uw_pack_x_amx: 16) */
    a->xblk = j->kp / 2 * a->xbw * 2;
    a->nb = j->B;
    a->acc = acc;
    a->R = R;
    if (j->k->amx && j->B > 32) { /* room for the B tiles of a K block */
        a->bt = uw_cpu_scratch(4, (uint64_t)R * j->kblock / UW_BLOCK_GROUPS * 1024);
        UW_RETURN_ERROR_IF(!a->bt, UW_ERR_NOMEM, "matmul: out of memory for the AMX B tiles");
    }
    return UW_OK;
}

/* R panels of a resident form, all K blocks */
static uw_status run_resident(const mm_job *j, uint64_t pan, int R, float *acc) {
    const uw_mm_src *s = j->s;
    int pal = s->kind == UW_SRC_PALETTE;
    uint64_t gb = pal ? UW_PAL_GROUP_BYTES : UW_PLAIN_GROUP_BYTES, pb = j->ng * gb;
    const uint8_t *base = (pal ? s->pal->data : s->plain) + pan * pb;
    uint64_t xi[4] = {0}, xe[4] = {0};
    if (pal)
        for (int r = 0; r < R; r++) xi[r] = s->pal->xstart[pan + r], xe[r] = s->pal->xstart[pan + r + 1];
    uw_kargs a;
    UW_FORWARD_IF_ERROR(base_args(j, acc, R, &a));
    a.panel_bytes = pb;
    if (pal) a.table = s->pal->table;
    for (uint64_t g0 = 0; g0 < j->ng; g0 += j->kblock) {
        a.g0 = g0;
        a.ng = j->ng - g0 < j->kblock ? j->ng - g0 : j->kblock;
        a.w = base + g0 * gb;
        if (pal) {
            for (int r = 0; r < R; r++) {
                a.xgroup[r] = s->pal->xgroup + xi[r];
                a.xval[r] = s->pal->xval + xi[r];
                a.xleft[r] = xe[r] - xi[r];
            }
            if (j->kblock < j->ng && j->k->pal_to_plain) { /* several batch blocks: rebuild the K block once, all read it */
                uint8_t *buf = uw_cpu_scratch(1, (uint64_t)R * a.ng * UW_PLAIN_GROUP_BYTES);
                if (!buf) return uw_error_set(UW_ERR_NOMEM, "matmul: out of memory for a rebuilt weight block");
                j->k->pal_to_plain(&a, buf, a.ng * UW_PLAIN_GROUP_BYTES);
                uw_kargs c = a;
                c.w = buf;
                c.panel_bytes = a.ng * UW_PLAIN_GROUP_BYTES;
                j->k->plain(&c);
            } else {
                j->k->palette(&a);
            }
            for (int r = 0; r < R; r++)
                while (xi[r] < xe[r] && s->pal->xgroup[xi[r]] < g0 + a.ng) xi[r]++;
        } else {
            j->k->plain(&a);
        }
    }
    return UW_OK;
}

/* nr (<= 16 R) rows of a row-major matrix, columns [c0, c0 + nc) (c0 a multiple of 32): packed a
 * K block at a time into scratch, then the plain kernel */
static uw_status run_rows(const mm_job *j, const uint16_t *w, uint64_t ld, uint64_t nr, uint64_t c0, uint64_t nc, int R,
                          float *acc) {
    uint64_t ngc = uw_kpad(nc) / UW_GROUP_K, kb = j->kblock < ngc ? j->kblock : ngc;
    uint8_t *buf = uw_cpu_scratch(1, (uint64_t)R * kb * UW_PLAIN_GROUP_BYTES);
    UW_RETURN_ERROR_IF(!buf, UW_ERR_NOMEM, "matmul: out of memory for a packed weight block");
    uw_kargs a;
    UW_FORWARD_IF_ERROR(base_args(j, acc, R, &a));
    a.panel_bytes = kb * UW_PLAIN_GROUP_BYTES;
    a.w = buf;
    for (uint64_t g = 0; g < ngc; g += kb) {
        uint64_t k0 = g * UW_GROUP_K, nk = nc - k0 < kb * UW_GROUP_K ? nc - k0 : kb * UW_GROUP_K;
        uw_pack_plain(w + k0, ld, nr, 0, nk, buf, a.panel_bytes);
        for (uint64_t p = uw_npanels(nr); p < (uint64_t)R; p++) memset(buf + p * a.panel_bytes, 0, a.panel_bytes);
        a.g0 = c0 / UW_GROUP_K + g;
        a.ng = uw_kpad(nk) / UW_GROUP_K;
        j->k->plain(&a);
    }
    return UW_OK;
}

/* one task: panels [t * chunk, ...) of a resident or row-major source */
static uw_status panel_task(void *ctx, uint64_t t, int worker) {
    const mm_job *j = ctx;
    (void)worker;
    uint64_t p0 = t * j->chunk, p1 = p0 + j->chunk < j->npan ? p0 + j->chunk : j->npan;
    float *acc = uw_cpu_scratch(0, (uint64_t)j->R * j->B * UW_PANEL * sizeof(float));
    UW_RETURN_ERROR_IF(!acc, UW_ERR_NOMEM, "matmul: out of memory for accumulators");
    for (uint64_t p = p0; p < p1; p += (uint64_t)j->R) {
        int R = p1 - p < (uint64_t)j->R ? (int)(p1 - p) : j->R;
        memset(acc, 0, (uint64_t)R * j->B * UW_PANEL * sizeof(float));
        if (j->s->kind == UW_SRC_ROWMAJOR) {
            uint64_t r0 = p * UW_PANEL, nr = j->s->rows - r0 < (uint64_t)R * UW_PANEL ? j->s->rows - r0 : (uint64_t)R * UW_PANEL;
            UW_FORWARD_IF_ERROR(run_rows(j, j->s->rowmajor + r0 * j->s->cols, j->s->cols, nr, 0, j->s->cols, R, acc));
        } else {
            UW_FORWARD_IF_ERROR(run_resident(j, p, R, acc));
        }
        uint64_t r0 = p * UW_PANEL;
        store_y(j, acc, r0, j->s->rows - r0 < (uint64_t)R * UW_PANEL ? j->s->rows - r0 : (uint64_t)R * UW_PANEL);
    }
    return UW_OK;
}

/* one task: tile row ti of a blob, decoded tile by tile (whole band when a tile's width is not
 * a multiple of 32, so that no block of 32 k, the unit of the accumulation order, straddles two
 * decodes) */
static uw_status band_task(void *ctx, uint64_t ti, int worker) {
    const mm_job *j = ctx;
    const uw_blob *b = j->s->blob;
    (void)worker;
    uint64_t r0 = ti * b->tile_rows, tr = b->rows - r0 < b->tile_rows ? b->rows - r0 : b->tile_rows, np = uw_npanels(tr);
    int whole = b->tile_cols % UW_BLOCK_K != 0;
    uint64_t wc = whole ? b->cols : b->tile_cols;
    float *acc = uw_cpu_scratch(0, np * j->B * UW_PANEL * sizeof(float));
    uint16_t *band = uw_cpu_scratch(2, tr * wc * 2);
    UW_RETURN_ERROR_IF(!acc || !band, UW_ERR_NOMEM, "matmul: out of memory for a decoded band");
    memset(acc, 0, np * j->B * UW_PANEL * sizeof(float));
    for (uint64_t tj = 0; tj < b->tiles_c; tj++) {
        uint64_t c0 = tj * b->tile_cols, tc = b->cols - c0 < b->tile_cols ? b->cols - c0 : b->tile_cols;
        UW_FORWARD_IF_ERROR(uw_band_dec_tile(j->s->dec, ti * b->tiles_c + tj, band + (whole ? c0 : 0), wc));
        if (whole && tj + 1 < b->tiles_c) continue;
        uint64_t k0 = whole ? 0 : c0, nk = whole ? b->cols : tc;
        for (uint64_t p = 0; p < np; p += (uint64_t)j->R) {
            int R = np - p < (uint64_t)j->R ? (int)(np - p) : j->R;
            uint64_t nr = tr - p * UW_PANEL < (uint64_t)R * UW_PANEL ? tr - p * UW_PANEL : (uint64_t)R * UW_PANEL;
            UW_FORWARD_IF_ERROR(run_rows(j, band + p * UW_PANEL * wc, wc, nr, k0, nk, R, acc + p * j->B * UW_PANEL));
        }
    }
    store_y(j, acc, r0, tr);
    return UW_OK;
}

uw_status uw_cpu_mm(const uw_mm_src *s, uw_cpu_isa isa, const uint16_t *x, float *y, uint64_t B, int threads, int panels,
                    int amx_batch, uw_pool *pool) {
    UW_RETURN_ERROR_IF(!s || !x || !y || !B || !s->rows || !s->cols, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    mm_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    /* the amx level runs tiles from amx_batch on, vdpbf16ps below: the same bits either way */
    if (isa == UW_ISA_AMX && !(amx_batch > 0 && B >= (uint64_t)amx_batch)) isa = UW_ISA_AVX512BF16;
    j.k = uw_cpu_kern_get(isa);
    j.y = y;
    j.B = B;
    j.kp = uw_kpad(s->cols);
    j.ng = j.kp / UW_GROUP_K;
    j.npan = uw_npanels(s->rows);
    /* panels per kernel call (streams read at once, and independent accumulators): palette
     * panels read fastest as one stream prefetched far ahead up to 4 batch rows, plain panels as
     * four at 1-2 rows; two where the kernels are compute-bound (measured, bench/RESULTS.md) */
    j.R = panels > 0 ? panels : s->kind == UW_SRC_PALETTE && B <= 4 ? 1 : B <= 2 ? 4 : 2;
    if (j.R > j.k->max_r) j.R = j.k->max_r;
    /* one pass over K when the whole batch fits the registers (R x 16 lanes x its rows) or, with
     * AMX, two 16-row tiles of it; else K blocks that stay in L2 while every batch block passes
     * (palette K blocks rebuilt once into plain panels, which all passes read) */
    const uint64_t pass = j.k->amx ? 32u : j.R >= 4 ? 2u : j.R >= 2 ? 8u : 16u; /* batch rows a pass takes */
    /* palette panels rebuilt in registers once more (two passes) beat rebuilding into plain panels */
    j.kblock = B <= (s->kind == UW_SRC_PALETTE && !j.k->amx ? 2 * pass : pass) ? j.ng : KBLOCK;
    uint64_t xsize = j.k->amx ? uw_pack_x_amx_size(B, s->cols) : uw_pack_x_size(B, s->cols);
    uint16_t *xp = uw_cpu_scratch(3, xsize * 2);
    UW_RETURN_ERROR_IF(!xp, UW_ERR_NOMEM, "matmul: out of memory for the packed activations");
    if (j.k->amx) uw_pack_x_amx(x, B, s->cols, xp);
    else uw_pack_x(x, B, s->cols, xp);
    j.xp = xp;
    int T = threads < 1 ? 1 : threads;
    if (s->kind == UW_SRC_BLOB) {
        return pool ? uw_pool_run(pool, T, s->blob->tiles_r, band_task, &j) : uw_parallel_for(s->blob->tiles_r, T, band_task, &j);
    }
    /* tasks of whole R-panel groups, ~8 per thread so a slowed thread is caught up */
    uint64_t per = (j.npan + 8 * (uint64_t)T - 1) / (8 * (uint64_t)T);
    j.chunk = (per + (uint64_t)j.R - 1) / (uint64_t)j.R * (uint64_t)j.R;
    uint64_t ntask = (j.npan + j.chunk - 1) / j.chunk;
    return pool ? uw_pool_run(pool, T, ntask, panel_task, &j) : uw_parallel_for(ntask, T, panel_task, &j);
}
