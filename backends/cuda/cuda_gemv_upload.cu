/* cuda_gemv_upload.cu - what an upload makes for the GEMV family (uw_gemv.cu) besides the resident
 * forms: whether a weight can take it (geometry, the Huffman form it reads, re-encoded into that
 * form where needed, every tile's stream within a stage), the patch lists of the exponents the
 * Huffman and palette forms' streams do not carry, and the table of the bits where the grid's
 * units start reading the Huffman lanes. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"
#include "uw_gemv.cuh"

UW_GPU_NS_BEGIN

/* upload host bytes into a new device buffer (synchronised: the host copy may go after) */
static uw_status upload_sync(cu_ctx *c, const void *host, size_t n, void **dev, const char *what) {
    UW_FORWARD_IF_ERROR(uw_cu_alloc(dev, n, what));
    CU_TRY(uw_gpu_h2d_async(*dev, host, n, c->stream), "copying to the device");
    CU_TRY(uw_gpu_stream_sync(c->stream), "upload");
    return UW_OK;
}

/* the GEMV family reads 64x256 tiles of 64 lanes (one row per lane) coded in order 2, with an
 * escape or no rare exponents (uw_gemv.cuh) */
int uw_cu_gemv_geometry(const cu_weights *w) { return w->R == 64 && w->C == 256 && w->lanes == 64 && w->cols % 32 == 0; }
int uw_cu_gemv_form(const uw_blob *b) {
    return b->order == 2 && b->chunk == 0 && (b->rare_mode == UW_RARE_NONE || b->rare_mode == UW_RARE_ESCAPE) &&
           b->maxlen <= UW_DT_MAX_BITS;
}
uw_status uw_cu_gemv_encode(const uw_blob *b, const uint16_t *host16, uint8_t **blob, size_t *size) {
    uint8_t seen[256] = {0};
    uint32_t distinct = 0;
    for (uint64_t i = 0; i < b->n; i++) {
        uint32_t e = (host16[i] >> 7) & 0xFFu;
        distinct += !seen[e];
        seen[e] = 1;
    }
    uw_encode_params p;
    uw_encode_params_default(&p);
    p.codec = UW_CODEC_HUFFMAN;
    p.tile_rows = 64;
    p.tile_cols = 256;
    p.lanes = 64;
    p.sym_order = 2;
    p.rare_mode = distinct > 16 ? UW_RARE_ESCAPE : UW_RARE_NONE;
    return uw_tensor_encode(host16, b->rows, b->cols, &p, blob, size);
}

/* every tile's stream (its 64 lanes, uw_gv_seg_bytes) fits a tile buffer of the kernel */
int uw_cu_gemv_streams_fit(const uw_blob *hb, const uint8_t *bytes) {
    const uint64_t *tb = (const uint64_t *)(bytes + hb->off_tilebase);
    const uint64_t T = hb->tiles_r * hb->tiles_c;
    for (uint64_t t = 0; t < T; t++) {
        const uint64_t b = tb[t], e = t + 1 < T ? tb[t + 1] : hb->count;
        if (uw_gv_seg_bytes(hb->off_stream, b, 0, (e - b) * 8) > UW_GV_STREAM_CAP) return 0;
    }
    return 1;
}

/* The patch list of a form: the elements whose exponent is not among palette[0..nregular), step by
 * step (uw_gemv.cuh: band, tile, 32-column chunk), each step's in row order: the index (S + 1
 * entries), then the entries. One device buffer. fits: no step has more than the kernel takes. */
uw_status uw_cu_gemv_patch(cu_ctx *c, const cu_weights *w, const char *form, const uint8_t *palette, uint32_t nregular,
                           const uint16_t *host16, uint32_t **dev, uint64_t *idx_n, int *fits) {
    uint8_t in[256] = {0};
    for (uint32_t i = 0; i < nregular; i++) in[palette[i]] = 1;
    const uint64_t tr = (w->rows + 63) / 64, tc = (w->cols + 255) / 256;
    uint64_t count = 0;
    for (uint64_t i = 0; i < w->n; i++) count += !in[(host16[i] >> 7) & 0xFFu];
    UW_RETURN_ERROR_IF(count > 0xFFFFFFFFull, UW_ERR_LIMIT, UW_GPU_VENDOR ": too many rare exponents for the GEMV patch list");
    *idx_n = tr * tc * UW_GV_TSTEPS + 1;
    uint32_t *h = (uint32_t *)calloc(*idx_n + count + 8, 4); /* (+ 32 bytes: the kernel stages the index 32 bytes at a time) */
    UW_RETURN_ERROR_IF(!h, UW_ERR_NOMEM, UW_GPU_VENDOR ": out of host memory for a patch list");
    uint32_t *ent = h + *idx_n, k = 0;
    for (uint64_t ti = 0; ti < tr; ti++)
        for (uint64_t tj = 0; tj < tc; tj++)
            for (uint32_t ch = 0; ch < UW_GV_TSTEPS; ch++) {
                h[(ti * tc + tj) * UW_GV_TSTEPS + ch] = k;
                for (uint32_t r = 0; r < 64 && ti * 64 + r < w->rows; r++)
                    for (uint32_t cc = 0; cc < UW_GV_CHUNK && tj * 256 + ch * UW_GV_CHUNK + cc < w->cols; cc++) {
                        const uint32_t e = (host16[(ti * 64 + r) * w->cols + tj * 256 + ch * UW_GV_CHUNK + cc] >> 7) & 0xFFu;
                        if (!in[e]) ent[k++] = uw_gv_patch_entry(r, cc, e);
                    }
            }
    h[*idx_n - 1] = k;
    *fits = 1;
    for (uint64_t i = 0; i + 1 < *idx_n; i++)
        if (h[i + 1] - h[i] > UW_GV_PATCH_MAX) *fits = 0;
    uw_cu_note(c, "upload %llux%llu: GEMV patch list of the %s form: %u rare exponents", (unsigned long long)w->rows,
               (unsigned long long)w->cols, form, k);
    uw_status s = upload_sync(c, h, (*idx_n + count + 8) * 4, (void **)dev, "a GEMV patch list");
    free(h);
    return s;
}

void uw_cu_kp_patch(const uint32_t *patch, uint64_t idx_n, uw_kparams *k) {
    k->patch_idx = patch;
    k->patch = patch ? patch + idx_n : NULL;
}

/* The bit of each row's lane at the first step of each unit of this device's grid (uw_gemv.cuh:
 * units start anywhere in a tile, and a lane can only be read from its start): the lanes decoded
 * here with the kernel's own reader up to that step's chunk. 64 words per unit, 0 past the matrix
 * and for units without steps. Then the table of the tiles' streams the kernel copies. */
uw_status uw_cu_gemv_starts(cu_ctx *c, cu_weights *w, const uint8_t *bytes, const uint32_t *dtab) {
    const uw_blob *hb = &w->hb;
    const uw_gv_grid g = uw_gv_grid_of((uint32_t)w->rows, (uint32_t)w->cols, (uint32_t)c->props.multiProcessorCount);
    const uint64_t *tb = (const uint64_t *)(bytes + hb->off_tilebase);
    const uint32_t *lo = (const uint32_t *)(bytes + hb->off_laneoff);
    const uint64_t T = hb->tiles_r * hb->tiles_c;
    const uint32_t mask = (1u << hb->maxlen) - 1u;
    uint32_t *h = (uint32_t *)calloc((size_t)g.U * UW_GV_SLOTS, 4), *gtab = (uint32_t *)malloc(4u << hb->maxlen);
    uint32_t *seg = (uint32_t *)malloc(UW_GV_STREAM_CAP + 128); /* a tile's stream, then zeros (look-ahead) */
    uw_status s = h && gtab && seg ? UW_OK : uw_error_set(UW_ERR_NOMEM, UW_GPU_VENDOR ": out of host memory for the GEMV lane starts");
    if (s == UW_OK) {
        for (uint32_t i = 0; i <= mask; i++) gtab[i] = uw_gv_entry(dtab[i]);
        for (uint32_t u = 0; u < g.U; u++) {
            const uint32_t sb = uw_gv_unit_begin(g, u), chunk = sb % UW_GV_TSTEPS;
            if (sb == uw_gv_unit_begin(g, u + 1)) continue;
            const uint64_t t = sb / UW_GV_TSTEPS, b = tb[t], e = t + 1 < T ? tb[t + 1] : hb->count;
            const uint32_t tr = uw_gv_band_rows(g, sb / g.nbs);
            if (chunk) { /* (the tile fits a tile buffer: uploads check that first) */
                memset(seg, 0, UW_GV_STREAM_CAP + 128);
                memcpy(seg, bytes + hb->off_stream + b, (size_t)(e - b));
            }
            for (uint32_t r = 0; r < tr; r++) {
                const uint32_t j = uw_gv_lane_of_row(r, tr), lb = j ? lo[t * 63 + j - 1] : 0;
                uint32_t bit = lb;
#ifndef __CUDA_ARCH__ /* (nvcc's device pass sees the shared-window address type) */
                if (chunk) {
                    uw_gv_lane lane;
                    uint32_t E[8];
                    lane.init((const uint8_t *)seg, lb);
                    for (uint32_t k = 0; k < chunk; k++) lane.chunk((const uint8_t *)gtab, mask, E);
                    bit = (uint32_t)((lane.next - (const uint8_t *)seg) * 8 - 64 + lane.pos);
                }
#endif
                h[(size_t)u * UW_GV_SLOTS + r] = bit;
            }
        }
        s = upload_sync(c, h, (size_t)g.U * UW_GV_SLOTS * 4, (void **)&w->gemv_starts, "the GEMV lane starts");
    }
    free(h), free(gtab), free(seg);
    UW_FORWARD_IF_ERROR(s);
    /* per tile: the 16-byte-aligned bytes around its stream in the blob (offset, size; uw_gv_seg_bytes)
     * and the bit there where the stream starts: what the kernel's copy of a tile needs */
    uint32_t *tt = (uint32_t *)malloc((size_t)T * 16);
    UW_RETURN_ERROR_IF(!tt, UW_ERR_NOMEM, UW_GPU_VENDOR ": out of host memory for the GEMV tile table");
    for (uint64_t t = 0; t < T; t++) {
        const uint64_t b = tb[t], e = t + 1 < T ? tb[t + 1] : hb->count, g0 = (hb->off_stream + b) & ~(uint64_t)15;
        tt[4 * t] = (uint32_t)g0;
        tt[4 * t + 1] = (uint32_t)(g0 >> 32);
        tt[4 * t + 2] = uw_gv_seg_bytes(hb->off_stream, b, 0, (e - b) * 8);
        tt[4 * t + 3] = (uint32_t)(hb->off_stream + b - g0) * 8;
    }
    s = upload_sync(c, tt, (size_t)T * 16, (void **)&w->gemv_tiles, "the GEMV tile table");
    free(tt);
    return s;
}

UW_GPU_NS_END
