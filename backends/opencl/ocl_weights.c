/* ocl_weights.c - makes a blob resident on the device (Huffman + lookup table, palette IR, BF16),
 * re-tiling it first when its tiles do not fit the local-memory budget. */
#include <stdio.h>
#include <stdlib.h>

#include "../../codecs/decode.h"
#include "ocl_internal.h"

static void geom_of(const uw_blob *b, ocl_geom *g) {
    g->rows = b->rows;
    g->cols = b->cols;
    g->n = b->n;
    g->tiles_r = b->tiles_r;
    g->tiles_c = b->tiles_c;
    g->ntiles = b->ntiles;
    g->tile_rows = b->tile_rows;
    g->tile_cols = b->tile_cols;
    g->lanes = b->lanes;
    g->band = (uint32_t)(b->rows < b->tile_rows ? b->rows : b->tile_rows);
    g->span = (uint32_t)(b->cols < b->tile_cols ? b->cols : b->tile_cols);
}

/* The most tile rows a matmul work-group can hold accumulators for, under every acc value the
 * autotuner may pick (the matmul grows the work-group when wg x acc is short of a band). */
static uint64_t band_max(const ocl_ctx *c) {
    uint64_t acc = c->par.nacc < 8 ? c->par.nacc : 8, wg = c->wg_cap < 1024 ? c->wg_cap : 1024;
    return acc * wg;
}

static int fits(const ocl_ctx *c, uint32_t band, uint32_t span, uint32_t tab_bits) {
    return uw_ocl_mm_local_bytes(band, span, tab_bits) <= c->lmem && band <= band_max(c);
}

static uint32_t clip(uint64_t v, uint64_t cap) { return (uint32_t)(v < cap ? v : cap); }

/* The geometry a re-tiled weight gets: the configured tile clipped to the matrix, halved (the
 * longer side first) until it fits the budget next to a lookup table of 2^bits entries. */
static uw_status pick_geometry(ocl_ctx *c, const uw_blob *b, uint32_t bits, uint32_t *tr, uint32_t *tc, uint32_t *lanes) {
    while (!fits(c, *tr, *tc, bits)) {
        if (*tc >= *tr && *tc > 1) *tc = (*tc + 1) / 2;
        else if (*tr > 1) *tr = (*tr + 1) / 2;
        else
            return uw_error_set(UW_ERR_BACKEND, "opencl: %llu bytes of local memory cannot hold a 1x1 tile and a %u-entry table",
                                (unsigned long long)c->lmem, 1u << bits);
    }
    if (*tr != clip(c->par.tile_rows, b->rows) || *tc != clip(c->par.tile_cols, b->cols))
        uw_ocl_note(c, "configured tile %ux%u does not fit %llu bytes of local memory (or %llu rows of accumulators): using %ux%u",
                    c->par.tile_rows, c->par.tile_cols, (unsigned long long)c->lmem, (unsigned long long)band_max(c), *tr, *tc);
    *lanes = c->par.lanes < *tr ? c->par.lanes : *tr;
    return UW_OK;
}

/* Decode on the host and encode again with the backend's geometry and the blob's own codec
 * choices (uw_blob_retile). The new code may be longer than the old (other tiles, other
 * statistics): then the tile shrinks again. */
static uw_status retile(ocl_ctx *c, const uw_blob *b, uint8_t **blob, size_t *size, uw_blob *nb, char *note, size_t nn) {
    uint32_t tr = clip(c->par.tile_rows, b->rows), tc = clip(c->par.tile_cols, b->cols), lanes = 0;
    uint32_t bits = b->codec == UW_CODEC_HUFFMAN ? b->maxlen : 0;
    uint16_t *w = malloc(b->n * 2);
    UW_RETURN_ERROR_IF(!w, UW_ERR_NOMEM, "opencl: out of memory to re-tile a weight");
    uw_status s = uw_codec_decode_blob(b, w, 0, 1);
    *blob = NULL;
    for (int tries = 0; s == UW_OK; tries++) {
        s = pick_geometry(c, b, bits, &tr, &tc, &lanes);
        if (s == UW_OK) s = uw_blob_retile(b, w, b->codec, tr, tc, lanes, blob, size);
        if (s == UW_OK) s = uw_blob_parse(*blob, *size, nb);
        if (s != UW_OK || fits(c, tr, tc, nb->codec == UW_CODEC_HUFFMAN ? nb->maxlen : 0)) break;
        bits = nb->maxlen;
        uw_free(*blob);
        *blob = NULL;
        if (tries == 8) s = uw_error_set(UW_ERR_BACKEND, "opencl: no tile geometry fits %llu bytes of local memory",
                                         (unsigned long long)c->lmem);
    }
    free(w);
    if (s == UW_OK)
        snprintf(note, nn, "re-tiled %ux%u/%u lanes -> %ux%u/%u lanes (local budget %llu bytes)", b->tile_rows, b->tile_cols,
                 b->lanes, nb->tile_rows, nb->tile_cols, nb->lanes, (unsigned long long)c->lmem);
    return s;
}

static uw_status upload_huffman(ocl_ctx *c, ocl_weights *w, const uw_blob *b) {
    /* padding: the decoder peeks two aligned 32-bit words past the last stream bit */
    uint8_t *copy = calloc(1, b->total + 16);
    UW_RETURN_ERROR_IF(!copy, UW_ERR_NOMEM, "opencl: out of memory");
    memcpy(copy, b->base, b->total);
    uw_status s = uw_ocl_buffer(c, CL_MEM_READ_ONLY, b->total + 16, copy, &w->huff);
    free(copy);
    UW_FORWARD_IF_ERROR(s);
    /* the narrow form: local memory holds the table next to a W tile (uw_ocl_mm_local_bytes) */
    uint16_t tab[1 << UW_DT_MAX_BITS];
    uw_dtab_build_narrow(b, tab);
    w->tab_bits = b->maxlen;
    return uw_ocl_buffer(c, CL_MEM_READ_ONLY, (size_t)UW_DT_NARROW_BYTES << b->maxlen, tab, &w->table);
}

static uw_status upload_palette_blob(ocl_ctx *c, ocl_weights *w, const uw_blob *b) {
    ocl_pal *p = &w->pal;
    UW_FORWARD_IF_ERROR(uw_ocl_buffer(c, CL_MEM_READ_ONLY, b->total, b->base, &p->own[0]));
    p->nib = p->plane = p->idx = p->exc = p->own[0];
    p->o_nib = b->off_nibbles;
    p->o_plane = b->off_plane;
    p->o_idx = b->off_excidx;
    p->o_exc = b->off_exc;
    p->nexc = b->count;
    w->has_pal = 1;
    return UW_OK;
}

/* The palette form outlives the Huffman buffer whose plane it borrowed: give it its own. */
static uw_status own_plane(ocl_ctx *c, ocl_weights *w) {
    ocl_pal *p = &w->pal;
    UW_FORWARD_IF_ERROR(uw_ocl_buffer(c, CL_MEM_READ_ONLY, w->g.n, NULL, &p->own[3]));
    OCL_TRY(clEnqueueCopyBuffer(c->queue, w->huff, p->own[3], p->o_plane, 0, w->g.n, 0, NULL, NULL), "clEnqueueCopyBuffer");
    p->plane = p->own[3];
    p->o_plane = 0;
    return UW_OK;
}

static uw_status make_bf16(ocl_ctx *c, ocl_weights *w) {
    size_t bytes = w->g.n * 2;
    UW_FORWARD_IF_ERROR(uw_ocl_buffer(c, CL_MEM_READ_WRITE, bytes, NULL, &w->bf16));
    uint16_t *host = malloc(bytes);
    UW_RETURN_ERROR_IF(!host, UW_ERR_NOMEM, "opencl: out of memory");
    uw_status s = uw_ocl_err_reset(c);
    if (s == UW_OK) s = w->huff ? uw_ocl_decode_huff(c, w, w->bf16) : uw_ocl_decode_pal(c, w, &w->pal, w->bf16);
    if (s == UW_OK) s = uw_ocl_read(c, w->bf16, 0, bytes, host);
    if (s == UW_OK) s = uw_ocl_err_check(c, "upload");
    /* the baseline is checked once here, so that plain-bf16 can be trusted as C2's reference */
    if (s == UW_OK && uw_hash64(host, bytes) != w->tensor_hash)
        s = uw_error_set(UW_ERR_CHECKSUM, "decoded tensor checksum mismatch (the compressed data is damaged)");
    free(host);
    return s;
}

uw_status uw_ocl_upload(ocl_ctx *c, const uw_blob *b0, unsigned resident, ocl_weights **out) {
    ocl_weights *w = calloc(1, sizeof *w);
    UW_RETURN_ERROR_IF(!w, UW_ERR_NOMEM, "out of memory");
    const uw_blob *b = b0;
    uw_blob rb;
    uint8_t *rblob = NULL;
    size_t rsize = 0;
    uw_status s = UW_OK;
    uint32_t bits = b0->codec == UW_CODEC_HUFFMAN ? b0->maxlen : 0;
    ocl_geom g0;
    geom_of(b0, &g0);
    int own_fits = fits(c, g0.band, g0.span, bits);
    int differs = g0.tile_rows != c->par.tile_rows || g0.tile_cols != c->par.tile_cols ||
                  (b0->codec == UW_CODEC_HUFFMAN && g0.lanes != c->par.lanes);
    if (!own_fits || (c->par.retile && differs)) {
        s = retile(c, b0, &rblob, &rsize, &rb, w->note, sizeof w->note);
        if (s == UW_OK) {
            b = &rb;
            uw_ocl_note(c, "%s (%s)", w->note, own_fits ? "retile=1" : "the blob's tile does not fit");
        }
    } else {
        snprintf(w->note, sizeof w->note, "kept the blob's %ux%u tiles", g0.tile_rows, g0.tile_cols);
    }
    if (s == UW_OK) {
        geom_of(b, &w->g);
        w->hb = *b;
        w->nregular = b->nregular;
        w->tensor_hash = b->tensor_hash;
        memcpy(w->palette, b->palette, 16);
        uint8_t meta[16 + 256];
        memcpy(meta, b->palette, 16);
        memset(meta + 16, 0xFF, 256);
        for (uint32_t i = 0; i < b->nregular; i++) meta[16 + b->palette[i]] = (uint8_t)i;
        s = uw_ocl_buffer(c, CL_MEM_READ_ONLY, sizeof meta, meta, &w->meta);
    }
    if (s == UW_OK) s = b->codec == UW_CODEC_HUFFMAN ? upload_huffman(c, w, b) : upload_palette_blob(c, w, b);
    if (s == UW_OK && (resident & UW_RESIDENT_PALETTE) && !w->has_pal) {
        s = uw_ocl_transcode(c, w, &w->pal);
        w->has_pal = s == UW_OK;
        if (s == UW_OK && !(resident & UW_RESIDENT_HUFFMAN)) s = own_plane(c, w);
    }
    if (s == UW_OK && (resident & UW_RESIDENT_BF16)) s = make_bf16(c, w);
    if (s == UW_OK && !(resident & UW_RESIDENT_HUFFMAN)) {
        uw_ocl_release(&w->huff);
        uw_ocl_release(&w->table);
    }
    if (s == UW_OK && !(resident & UW_RESIDENT_PALETTE) && w->has_pal) {
        uw_ocl_pal_release(&w->pal);
        w->has_pal = 0;
    }
    if (s == UW_OK) s = clFinish(c->queue) == CL_SUCCESS ? UW_OK : uw_error_set(UW_ERR_BACKEND, "clFinish failed after upload");
    w->hb.base = NULL; /* the host bytes are not ours to keep */
    uw_free(rblob);
    if (s != UW_OK) {
        uw_ocl_weights_free(w);
        return s;
    }
    *out = w;
    return UW_OK;
}

void uw_ocl_weights_free(ocl_weights *w) {
    if (!w) return;
    uw_ocl_release(&w->huff);
    uw_ocl_release(&w->table);
    uw_ocl_release(&w->bf16);
    uw_ocl_release(&w->meta);
    uw_ocl_pal_release(&w->pal);
    free(w);
}
