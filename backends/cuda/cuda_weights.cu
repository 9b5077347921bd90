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

/* ---------------------------------------------------------------- the GEMV family --------- */

/* the GEMV family reads 64x256 tiles of 64 lanes (one row per lane) coded in order 2, with an
 * escape or no rare exponents (uw_gemv.cuh) */
static int gemv_geometry(const cu_weights *w) { return w->R == 64 && w->C == 256 && w->lanes == 64 && w->cols % 32 == 0; }
static int gemv_form(const uw_blob *b) {
    return b->order == 2 && b->chunk == 0 && (b->rare_mode == UW_RARE_NONE || b->rare_mode == UW_RARE_ESCAPE) &&
           b->maxlen <= UW_DT_MAX_BITS;
}
static uw_status gemv_encode(const uw_blob *b, const uint16_t *host16, uint8_t **blob, size_t *size) {
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

/* Every step of the GEMV kernel stages the stream of its lanes (uw_gemv.cuh): the rows of a row set
 * (64 from row 0, or 32 from a multiple of 32) in the 64 / n tiles of its step; 1 if each possible
 * one fits the stage, whatever the split of the rows over CTAs. */
static int gemv_streams_fit(const uw_blob *hb, const uint8_t *bytes) {
    const uint64_t *tb = (const uint64_t *)(bytes + hb->off_tilebase);
    const uint32_t *lo = (const uint32_t *)(bytes + hb->off_laneoff);
    const uint64_t tr_n = (hb->rows + 63) / 64, tc_n = (hb->cols + 255) / 256, T = tr_n * tc_n;
    for (uint64_t band = 0; band < tr_n; band++) {
        const uint32_t tr = (uint32_t)(hb->rows - band * 64 < 64 ? hb->rows - band * 64 : 64);
        for (uint32_t n = 64; n >= 32; n /= 2)
            for (uint32_t r0 = 0; r0 < tr; r0 += n)
                for (uint64_t kt = 0; kt < tc_n; kt += 64 / n) {
                    const uint32_t r1 = (r0 + n < tr ? r0 + n : tr) - 1;
                    uint32_t need = 0;
                    for (uint64_t u = kt; u < kt + 64 / n && u < tc_n; u++) {
                        const uint64_t t = band * tc_n + u, b = tb[t], e = t + 1 < T ? tb[t + 1] : hb->count;
                        const uint32_t *l = lo + t * 63;
                        auto lane_bit = [&](uint32_t j) -> uint64_t { return j == 0 ? 0 : j >= 64 ? (e - b) * 8 : l[j - 1]; };
                        need += uw_gv_seg_bytes(hb->off_stream, b, lane_bit(uw_gv_lane_of_row(r0, tr)),
                                                lane_bit(uw_gv_lane_of_row(r1, tr) + 1));
                    }
                    if (need > UW_GV_STREAM_CAP) return 0;
                }
    }
    return 1;
}

/* The patch list of a form: the elements whose exponent is not among palette[0..nregular), per
 * (tile, 32-column chunk) in row order: index (tiles * 8 + 1 entries) then entries
 * row << 16 | column << 8 | exponent (within the tile). One device buffer. */
static uw_status make_patch(cu_ctx *c, const cu_weights *w, const char *form, const uint8_t *palette, uint32_t nregular,
                            const uint16_t *host16, uint32_t **dev, uint64_t *idx_n, int *fits) {
    uint8_t in[256] = {0};
    for (uint32_t i = 0; i < nregular; i++) in[palette[i]] = 1;
    const uint64_t tr = (w->rows + 63) / 64, tc = (w->cols + 255) / 256, chunks = tc * 8;
    uint64_t count = 0;
    for (uint64_t i = 0; i < w->n; i++) count += !in[(host16[i] >> 7) & 0xFFu];
    UW_RETURN_ERROR_IF(count > 0xFFFFFFFFull, UW_ERR_LIMIT, UW_GPU_VENDOR ": too many rare exponents for the GEMV patch list");
    *idx_n = tr * chunks + 1;
    uint32_t *h = (uint32_t *)malloc((*idx_n + count) * 4);
    UW_RETURN_ERROR_IF(!h, UW_ERR_NOMEM, UW_GPU_VENDOR ": out of host memory for a patch list");
    uint32_t *ent = h + *idx_n, k = 0;
    for (uint64_t ti = 0; ti < tr; ti++)
        for (uint64_t tj = 0; tj < tc; tj++)
            for (uint32_t ch = 0; ch < 8; ch++) {
                h[(ti * tc + tj) * 8 + ch] = k;
                for (uint32_t r = 0; r < 64 && ti * 64 + r < w->rows; r++)
                    for (uint32_t cc = ch * 32; cc < ch * 32 + 32 && tj * 256 + cc < w->cols; cc++) {
                        const uint32_t e = (host16[(ti * 64 + r) * w->cols + tj * 256 + cc] >> 7) & 0xFFu;
                        if (!in[e]) ent[k++] = r << 16 | cc << 8 | e;
                    }
            }
    h[*idx_n - 1] = k;
    uw_cu_note(c, "upload %llux%llu: GEMV patch list of the %s form: %u rare exponents", (unsigned long long)w->rows,
               (unsigned long long)w->cols, form, k);
    /* a step reads one chunk of one tile (64-row set) or of two neighbouring tiles from an even
     * column (32-row set): at most UW_GV_PATCH_MAX entries in all */
    *fits = 1;
    for (uint64_t ti = 0; ti < tr; ti++)
        for (uint64_t tj = 0; tj < tc; tj++)
            for (uint32_t ch = 0; ch < 8; ch++) {
                const uint64_t i = (ti * tc + tj) * 8 + ch;
                const uint32_t n = h[i + 1] - h[i], n2 = tj % 2 == 0 && tj + 1 < tc ? h[i + 9] - h[i + 8] : 0;
                if (n + n2 > UW_GV_PATCH_MAX) *fits = 0;
            }
    uw_status s = upload_bytes(c, h, (*idx_n + count) * 4, 0, (void **)dev);
    if (s == UW_OK && uw_gpu_stream_sync(c->stream) != UW_GPU_SUCCESS) s = uw_cu_fail(uw_gpu_get_last_error(), "upload");
    free(h);
    return s;
}

void uw_cu_kp_patch(const uint32_t *patch, uint64_t idx_n, uw_kparams *k) {
    k->patch_idx = patch;
    k->patch = patch ? patch + idx_n : NULL;
}

static uw_status make_huffman(cu_ctx *c, cu_weights *w, const uw_blob *b, const uint16_t *host16, uint8_t **own,
                              const uint8_t **bytes, size_t *size) {
    if (gemv_geometry(w) && !(geometry_is(b, w) && gemv_form(b))) {
        /* the GEMV family's form (order 2, escapes): re-encoded, as a re-tiling is */
        UW_FORWARD_IF_ERROR(gemv_encode(b, host16, own, size));
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
    free(tab);
    UW_FORWARD_IF_ERROR(s);
    w->nexc = count_exceptions(&w->hb, host16);
    w->hb.base = NULL;
    w->gemv_streams = gemv_geometry(w) && gemv_form(&w->hb) && gemv_streams_fit(&w->hb, *bytes);
    if (gemv_geometry(w) && gemv_form(&w->hb))
        UW_FORWARD_IF_ERROR(make_patch(c, w, "Huffman", w->hb.palette, w->hb.nregular, host16, &w->patch_huff, &w->patch_huff_idx_n,
                                       &w->gemv_patch_huff));
    return UW_OK;
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
    if (s == UW_OK && gemv_geometry(w))
        s = make_patch(c, w, "palette", w->pb.palette, w->pb.nregular, host16, &w->patch_pal, &w->patch_pal_idx_n, &w->gemv_patch_pal);
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
    w->gemv = gemv_geometry(w) && gemv_fits && (!w->huff || (gemv_form(&w->hb) && w->gemv_streams && w->gemv_patch_huff)) &&
              (!w->pal || (w->patch_pal && w->gemv_patch_pal));
    if (s == UW_OK && gemv_geometry(w) && !w->gemv)
        uw_cu_note(c, "upload %llux%llu: batches <= 16 take another kernel family (%s)", (unsigned long long)w->rows,
                   (unsigned long long)w->cols,
                   !gemv_fits                         ? "the GEMV kernel needs more shared memory than the device has"
                   : w->huff && !w->gemv_streams ? "the GEMV kernel's stages hold too little of this stream"
                                                 : "the GEMV kernel's patch lists hold too few of its rare exponents");
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
