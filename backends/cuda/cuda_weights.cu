/* cuda_weights.cu - making a blob resident. Every upload decodes the blob once on the host
 * (uw_blob_decode: every rule of FORMAT.md section 7, the tensor checksum included), so the
 * device kernels run only on validated streams. Weights are kept in the backend's geometry
 * (R x C tiles, `lanes` lanes; device spec tile=/lanes=): a blob encoded that way is uploaded
 * as is, any other is re-encoded with the same codec choices (uw_blob_retile; FORMAT.md section
 * 4.2 lets a backend re-tile on load). Resident forms: the Huffman blob + its decode table
 * (uw_dtab_build), the palette IR (uploaded, or transcoded on the host from the Huffman blob),
 * and plain BF16. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"
#include "uw_gemv.cuh"

UW_GPU_NS_BEGIN

/* upload host bytes into a new device buffer with `pad` zero bytes after them */
static uw_status upload_bytes(cu_ctx *c, const void *host, size_t n, size_t pad, void **dev) {
    UW_FORWARD_IF_ERROR(uw_cu_alloc(dev, n + pad, "weights"));
    CU_TRY(uw_gpu_h2d_async(*dev, host, n, c->stream), "copying weights to the device");
    if (pad) CU_TRY(uw_gpu_memset_async((uint8_t *)*dev + n, 0, pad, c->stream), "padding weights");
    return UW_OK;
}

static int geometry_is(const uw_blob *b, const cu_weights *w) {
    return b->tile_rows == w->R && b->tile_cols == w->C && (b->codec == UW_CODEC_PALETTE || b->lanes == w->lanes);
}

static uint64_t count_exceptions(const uw_blob *b, const uint16_t *w) {
    uint8_t in[256] = {0};
    for (uint32_t i = 0; i < b->nregular; i++) in[b->palette[i]] = 1;
    uint64_t n = 0;
    for (uint64_t i = 0; i < b->n; i++) n += !in[(w[i] >> 7) & 0xFF];
    return n;
}

static uw_status make_huffman(cu_ctx *c, cu_weights *w, const uw_blob *b, const uint16_t *host16, uint8_t **own,
                              const uint8_t **bytes, size_t *size) {
    if (uw_cu_gemv_geometry(w) && !(geometry_is(b, w) && uw_cu_gemv_form(b))) {
        /* the GEMV family's form (order 2, escapes): re-encoded, as a re-tiling is */
        UW_FORWARD_IF_ERROR(uw_cu_gemv_encode(b, host16, own, size));
        UW_FORWARD_IF_ERROR(uw_blob_parse(*own, *size, &w->hb));
        *bytes = *own;
        snprintf(w->note, sizeof w->note, "re-encoded %ux%u/%u order %u -> 64x256/64 order 2 (%.3f -> %.3f bits/weight)", b->tile_rows,
                 b->tile_cols, b->lanes, b->order, 8.0 * (double)b->total / (double)b->n, 8.0 * (double)*size / (double)b->n);
    } else if (geometry_is(b, w)) {
        *bytes = b->base;
        *size = b->total;
        w->hb = *b;
        snprintf(w->note, sizeof w->note, "kept the blob's %ux%u/%u tiles", b->tile_rows, b->tile_cols, b->lanes);
    } else {
        UW_FORWARD_IF_ERROR(uw_blob_retile(b, host16, UW_CODEC_HUFFMAN, w->R, w->C, w->lanes, own, size));
        UW_FORWARD_IF_ERROR(uw_blob_parse(*own, *size, &w->hb));
        *bytes = *own;
        snprintf(w->note, sizeof w->note, "re-tiled %ux%u/%u -> %ux%u/%u (%.3f -> %.3f bits/weight)", b->tile_rows, b->tile_cols,
                 b->lanes, w->R, w->C, w->lanes, 8.0 * (double)b->total / (double)b->n, 8.0 * (double)*size / (double)b->n);
    }
    UW_FORWARD_IF_ERROR(upload_bytes(c, *bytes, *size, 64, (void **)&w->huff));
    /* the table's host copy must outlive the asynchronous copy: wait for it before freeing */
    uint32_t *tab = (uint32_t *)malloc((size_t)UW_DT_BYTES << w->hb.maxlen);
    UW_RETURN_ERROR_IF(!tab, UW_ERR_NOMEM, UW_GPU_VENDOR ": out of host memory for a decode table");
    uw_dtab_build(&w->hb, tab);
    uw_status s = upload_bytes(c, tab, (size_t)UW_DT_BYTES << w->hb.maxlen, 0, (void **)&w->table);
    if (s == UW_OK && uw_gpu_stream_sync(c->stream) != UW_GPU_SUCCESS) s = uw_cu_fail(uw_gpu_get_last_error(), "upload");
    w->nexc = count_exceptions(&w->hb, host16);
    w->hb.base = NULL;
    /* the GEMV family's: its stages must hold every tile's stream; the patch list and the lane starts */
    w->gemv_streams = uw_cu_gemv_geometry(w) && uw_cu_gemv_form(&w->hb) && uw_cu_gemv_streams_fit(&w->hb, *bytes);
    if (s == UW_OK && w->gemv_streams)
        s = uw_cu_gemv_patch(c, w, "Huffman", w->hb.palette, w->hb.nregular, host16, &w->patch_huff, &w->patch_huff_idx_n,
                             &w->gemv_patch_huff);
    if (s == UW_OK && w->gemv_streams) s = uw_cu_gemv_starts(c, w, *bytes, tab);
    free(tab);
    return s;
}

static uw_status make_palette(cu_ctx *c, cu_weights *w, const uw_blob *b, const uint16_t *host16, const uint8_t *huff_bytes,
                              size_t huff_size) {
    uint8_t *own = NULL;
    const uint8_t *bytes;
    size_t size;
    uw_status s = UW_OK;
    if (b->codec == UW_CODEC_PALETTE && geometry_is(b, w)) {
        bytes = b->base;
        size = b->total;
    } else if (huff_bytes) { /* same palette and tiles as the resident Huffman form */
        s = uw_blob_to_palette(huff_bytes, huff_size, &own, &size);
        bytes = own;
    } else {
        s = uw_blob_retile(b, host16, UW_CODEC_PALETTE, w->R, w->C, 1, &own, &size);
        bytes = own;
    }
    if (s == UW_OK) s = uw_blob_parse(bytes, size, &w->pb);
    if (s == UW_OK) s = upload_bytes(c, bytes, size, 64, (void **)&w->pal);
    w->pb.base = NULL;
    if (s == UW_OK && uw_cu_gemv_geometry(w))
        s = uw_cu_gemv_patch(c, w, "palette", w->pb.palette, w->pb.nregular, host16, &w->patch_pal, &w->patch_pal_idx_n,
                             &w->gemv_patch_pal);
    /* the upload is asynchronous: the host copy must live until the stream reaches it */
    if (s == UW_OK && own) s = uw_gpu_stream_sync(c->stream) == UW_GPU_SUCCESS ? UW_OK : uw_cu_fail(uw_gpu_get_last_error(), "upload");
    uw_free(own);
    return s;
}

uw_status uw_cu_upload(cu_ctx *c, const uw_blob *b, unsigned resident, cu_weights **out) {
    UW_RETURN_ERROR_IF(b->rows > 0xFFFFFFFFull || b->cols > 0xFFFFFFFFull || b->n > ((uint64_t)1 << 38), UW_ERR_LIMIT,
                       UW_GPU_VENDOR ": %llux%llu is over the backend's limits (2^32 rows or columns, 2^38 elements)",
                       (unsigned long long)b->rows, (unsigned long long)b->cols);
    cu_weights *w = uw_cu_weights_new();
    UW_RETURN_ERROR_IF(!w, UW_ERR_NOMEM, "out of memory");
    w->rows = b->rows;
    w->cols = b->cols;
    w->n = b->n;
    w->R = c->par.tile_rows;
    w->C = c->par.tile_cols;
    w->lanes = c->par.lanes;
    w->tensor_hash = b->tensor_hash;
    uint16_t *host16 = (uint16_t *)malloc(b->n * 2);
    uint8_t *huff_own = NULL;
    const uint8_t *huff_bytes = NULL;
    size_t huff_size = 0;
    uw_status s = host16 ? UW_OK : uw_error_set(UW_ERR_NOMEM, UW_GPU_VENDOR ": out of host memory to validate a weight");
    /* the host decode checks every rule of FORMAT.md section 7 and the tensor checksum */
    if (s == UW_OK) s = uw_blob_decode(b->base, b->total, host16, b->n, 0);
    int want_huff = (resident & UW_RESIDENT_HUFFMAN) != 0;
    if (s == UW_OK && want_huff) s = make_huffman(c, w, b, host16, &huff_own, &huff_bytes, &huff_size);
    if (s == UW_OK && (resident & UW_RESIDENT_PALETTE)) s = make_palette(c, w, b, host16, huff_bytes, huff_size);
    if (s == UW_OK && (resident & UW_RESIDENT_BF16)) {
        s = upload_bytes(c, host16, b->n * 2, 0, (void **)&w->w16);
        if (s == UW_OK && c->hopper && w->cols % 32 == 0) {
            s = uw_cu_tmap_2d(c, &w->tmap_w, w->w16, w->cols, w->rows, w->cols * 2, 64, 64);
            w->has_tmap_w = s == UW_OK;
        }
    }
    if (s == UW_OK) s = uw_gpu_stream_sync(c->stream) == UW_GPU_SUCCESS ? UW_OK : uw_cu_fail(uw_gpu_get_last_error(), "upload");
    /* the GEMV family for batch <= 16: the geometry, a Huffman form (if resident) it can read, and
     * the shared memory of its largest instance on this device (one family for every pipeline: C2) */
    size_t gemv_need = 0;
    for (int src = 0; src < UW_SRC_COUNT; src++) {
        size_t n = uw_cu_gemv_smem(src, UW_DT_MAX_BITS); /* (the kernel's layout is the largest table's) */
        gemv_need = n > gemv_need ? n : gemv_need;
    }
    const int gemv_fits = gemv_need <= c->smem_optin;
    w->gemv = uw_cu_gemv_geometry(w) && gemv_fits && (!w->huff || (w->gemv_streams && w->gemv_patch_huff)) &&
              (!w->pal || (w->patch_pal && w->gemv_patch_pal));
    if (s == UW_OK && uw_cu_gemv_geometry(w) && !w->gemv)
        uw_cu_note(c, "upload %llux%llu: batches <= 16 take another kernel family (%s)", (unsigned long long)w->rows,
                   (unsigned long long)w->cols,
                   !gemv_fits                    ? "the GEMV kernel needs more shared memory than the device has"
                   : w->huff && !w->gemv_streams ? "the GEMV kernel's tile buffers hold too little of this stream"
                                                 : "a step has more rare exponents than the GEMV kernel's patch lists take");
    free(host16);
    uw_free(huff_own);
    if (s != UW_OK) {
        (void)uw_gpu_stream_sync(c->stream);
        uw_cu_weights_free(w);
        return s;
    }
    if (!want_huff) snprintf(w->note, sizeof w->note, "%ux%u tiles", w->R, w->C);
    uw_cu_note(c, "upload %llux%llu: %s", (unsigned long long)w->rows, (unsigned long long)w->cols, w->note);
    *out = w;
    return UW_OK;
}

static_assert(alignof(uw_gpu_tmap) >= 64 && alignof(cu_weights) >= alignof(uw_gpu_tmap), "tensor maps need 64-byte alignment");

cu_weights *uw_cu_weights_new(void) {
    const size_t a = alignof(cu_weights) > 128 ? alignof(cu_weights) : 128, n = (sizeof(cu_weights) + a - 1) / a * a;
    cu_weights *w = (cu_weights *)aligned_alloc(a, n);
    if (w) memset((void *)w, 0, n);
    return w;
}

void uw_cu_weights_free(cu_weights *w) {
    if (!w) return;
    uw_cu_free(w->huff);
    uw_cu_free(w->table);
    uw_cu_free(w->pal);
    uw_cu_free(w->w16);
    uw_cu_free(w->patch_huff);
    uw_cu_free(w->patch_pal);
    uw_cu_free(w->gemv_starts);
    uw_cu_free(w->gemv_tiles);
    free(w);
}

uw_kparams uw_cu_kp_base(const cu_ctx *c, const cu_weights *w) {
    uw_kparams k;
    memset(&k, 0, sizeof k);
    k.rows = (uint32_t)w->rows;
    k.cols = (uint32_t)w->cols;
    k.R = w->R;
    k.C = w->C;
    k.lanes = w->lanes;
    k.Q = UW_BAND / w->R;
    k.tiles_r = (uint32_t)((w->rows + w->R - 1) / w->R);
    k.tiles_c = (uint32_t)((w->cols + w->C - 1) / w->C);
    k.w16 = w->w16;
    k.err = c->err;
    return k;
}

void uw_cu_kp_huff(const cu_weights *w, uw_kparams *k) {
    uw_cu_kp_patch(w->patch_huff, w->patch_huff_idx_n, k);
    k->gv_starts = w->gemv_starts;
    k->gv_tiles = (const uint4 *)w->gemv_tiles;
    const uw_blob *b = &w->hb;
    k->lanes = b->lanes;
    k->blob = w->huff;
    k->off_tilebase = b->off_tilebase;
    k->off_laneoff = b->off_laneoff;
    k->off_stream = b->off_stream;
    k->stream_bytes = b->count;
    k->table = w->table;
    k->tab_bits = b->maxlen;
    k->order = b->order;
    k->rare_mode = b->rare_mode;
    k->chunk = b->chunk;
    k->plane = w->huff + b->off_plane;
    k->nregular = b->nregular;
    memcpy(k->palette, b->palette, 16);
}

cu_palette uw_cu_resident_palette(const cu_weights *w) {
    cu_palette p;
    memset(&p, 0, sizeof p);
    if (!w->pal) return p;
    p.nib = w->pal + w->pb.off_nibbles;
    p.plane = w->pal + w->pb.off_plane;
    p.excidx = (const uint64_t *)(w->pal + w->pb.off_excidx);
    p.exc = (const uint32_t *)(w->pal + w->pb.off_exc);
    memcpy(p.palette, w->pb.palette, 16);
    p.nregular = w->pb.nregular;
    return p;
}

void uw_cu_kp_palette(const cu_weights *w, const cu_palette *pal, uw_kparams *k) {
    (void)w;
    k->nib = pal->nib;
    k->plane = pal->plane;
    k->excidx = pal->excidx;
    k->exc = pal->exc;
    k->nregular = pal->nregular;
    memcpy(k->palette, pal->palette, 16);
    const uw_gv_paltab t = uw_gv_paltab_of(pal->palette);
    memcpy(k->paltab, t.ht, 16);
    memcpy(k->paltab + 4, t.lt, 16);
}

UW_GPU_NS_END
