/* blob.c - tensor blob header layout and validation (docs/FORMAT.md sections 3-6). Every
 * rule a compliant decoder must enforce before decoding is checked here, in FORMAT.md order. */
#include "blob.h"

#include "huffman.h"

uw_status uw_blob_layout(uw_blob *b) {
    b->n = b->rows * b->cols;
    b->tiles_r = (b->rows + b->tile_rows - 1) / b->tile_rows;
    b->tiles_c = (b->cols + b->tile_cols - 1) / b->tile_cols;
    b->ntiles = b->tiles_r * b->tiles_c;
    b->nregular = b->rare_mode == UW_RARE_ESCAPE ? b->nsym - 1u : b->nsym;
    b->chunk = b->rare_mode == UW_RARE_VERBATIM ? 1u << b->chunk_log2 : 0;
    uint64_t o = UW_BLOB_HEADER_BYTES;
    if (b->codec == UW_CODEC_HUFFMAN) {
        b->alphabet = b->order == 2 ? (uint32_t)b->nsym * b->nsym : b->nsym;
        b->off_lengths = o;
        o = uw_align_up(o + (b->alphabet + 1) / 2, UW_SECTION_ALIGN);
        b->off_tilebase = o;
        o = uw_align_up(o + 8 * b->ntiles, UW_SECTION_ALIGN);
        b->off_laneoff = o;
        o = uw_align_up(o + 4 * b->ntiles * (b->lanes - 1), UW_SECTION_ALIGN);
        b->off_stream = o;
        o = uw_align_up(o + b->count, UW_SECTION_ALIGN);
    } else {
        b->alphabet = 0;
        b->off_excidx = o;
        o = uw_align_up(o + 8 * (b->ntiles + 1), UW_SECTION_ALIGN);
        b->off_exc = o;
        o = uw_align_up(o + 4 * b->count, UW_SECTION_ALIGN);
        b->off_nibbles = o;
        o = uw_align_up(o + (b->n + 1) / 2, UW_SECTION_ALIGN);
    }
    b->off_plane = o;
    b->payload_end = o + b->n;
    b->total = uw_align_up(b->payload_end, UW_BLOB_ALIGN);
    return UW_OK;
}

void uw_blob_write_header(const uw_blob *b, uint8_t *h) {
    memset(h, 0, UW_BLOB_HEADER_BYTES);
    memcpy(h, UW_BLOB_MAGIC, 4);
    uw_wr16(h + 4, b->version);
    uw_wr16(h + 6, UW_BLOB_HEADER_BYTES);
    h[8] = b->dtype;
    h[9] = b->codec;
    h[10] = b->rare_mode;
    h[11] = b->nsym;
    h[12] = b->order;
    h[13] = b->maxlen;
    h[14] = b->chunk_log2;
    uw_wr64(h + 16, b->rows);
    uw_wr64(h + 24, b->cols);
    uw_wr32(h + 32, b->tile_rows);
    uw_wr32(h + 36, b->tile_cols);
    uw_wr32(h + 40, b->lanes);
    memcpy(h + 48, b->palette, 16);
    uw_wr64(h + 64, b->count);
    uw_wr64(h + 112, b->tensor_hash);
    uw_wr64(h + 120, b->blob_hash);
}

uint64_t uw_blob_compute_hash(const uint8_t *blob, uint64_t payload_end) {
    return uw_hash64_2(blob, 120, blob + UW_BLOB_HEADER_BYTES, payload_end - UW_BLOB_HEADER_BYTES);
}

static int all_zero(const uint8_t *p, uint64_t a, uint64_t e) {
    for (uint64_t i = a; i < e; i++)
        if (p[i]) return 0;
    return 1;
}

#define BAD(...) return uw_error_set(UW_ERR_CORRUPT, __VA_ARGS__)

static uw_status parse_lengths(uw_blob *b, const uint8_t *p) {
    int used = 0, zero_len = 0, maxl = 0;
    b->single = -1;
    for (uint32_t s = 0; s < b->alphabet; s++) {
        uint8_t v = (p[s / 2] >> ((s & 1) * 4)) & 0xF;
        if (v > UW_HUFF_MAX_LEN + 1) BAD("blob: code length nibble %u of symbol %u out of range", v, s);
        b->len[s] = v ? (uint8_t)(v - 1) : 0;
        if (v) {
            used++;
            if (v == 1) { zero_len++; b->single = (int)s; }
            if (v - 1 > maxl) maxl = v - 1;
        }
    }
    if ((b->alphabet & 1) && (p[b->alphabet / 2] >> 4)) BAD("blob: nonzero padding nibble in code lengths");
    if (used == 0) BAD("blob: code has no symbols");
    if (zero_len && used != 1) BAD("blob: length-0 code mixed with other symbols");
    if (maxl != b->maxlen) BAD("blob: max_code_len %u differs from the longest code %d", b->maxlen, maxl);
    if (b->single < 0) {
        if (!uw_huff_complete(b->len, (int)b->alphabet, b->maxlen)) BAD("blob: code lengths do not form a complete prefix code");
    }
    return UW_OK;
}

uw_status uw_blob_parse(const void *data, size_t size, uw_blob *b) {
    const uint8_t *h = data;
    memset(b, 0, sizeof *b);
    b->single = -1;
    if (!data || size < UW_BLOB_HEADER_BYTES) BAD("blob: %zu bytes, shorter than the 128-byte header", size);
    if (memcmp(h, UW_BLOB_MAGIC, 4)) BAD("blob: bad magic (not an unweight tensor blob)");
    b->version = uw_rd16(h + 4);
    if (b->version != UW_FORMAT_VERSION)
        return uw_error_set(UW_ERR_UNSUPPORTED, "blob: format version %u not supported (this build reads %d)", b->version, UW_FORMAT_VERSION);
    if (uw_rd16(h + 6) != UW_BLOB_HEADER_BYTES) BAD("blob: header size %u, expected 128", uw_rd16(h + 6));
    b->dtype = h[8];
    if (b->dtype != UW_DTYPE_BF16) return uw_error_set(UW_ERR_UNSUPPORTED, "blob: dtype code %u not supported", b->dtype);
    b->codec = h[9];
    b->rare_mode = h[10];
    b->nsym = h[11];
    b->order = h[12];
    b->maxlen = h[13];
    b->chunk_log2 = h[14];
    if (h[15] || uw_rd32(h + 44) || !all_zero(h, 72, 112)) BAD("blob: reserved header bytes are not zero");
    b->rows = uw_rd64(h + 16);
    b->cols = uw_rd64(h + 24);
    b->tile_rows = uw_rd32(h + 32);
    b->tile_cols = uw_rd32(h + 36);
    b->lanes = uw_rd32(h + 40);
    memcpy(b->palette, h + 48, 16);
    b->count = uw_rd64(h + 64);
    b->tensor_hash = uw_rd64(h + 112);
    b->blob_hash = uw_rd64(h + 120);
    b->base = h;

    if (b->rows < 1 || b->cols < 1 || b->rows > UW_MAX_ELEMS || b->cols > UW_MAX_ELEMS ||
        b->rows > UW_MAX_ELEMS / b->cols)
        BAD("blob: shape %llu x %llu is empty or over the 2^40-element limit", (unsigned long long)b->rows, (unsigned long long)b->cols);
    if (b->tile_rows < 1 || b->tile_cols < 1 || b->tile_rows > UW_MAX_TILE_DIM || b->tile_cols > UW_MAX_TILE_DIM ||
        (uint64_t)b->tile_rows * b->tile_cols > UW_MAX_TILE_ELEMS)
        BAD("blob: tile %u x %u out of range", b->tile_rows, b->tile_cols);
    if (b->nsym < 1 || b->nsym > 16) BAD("blob: palette size %u out of range 1..16", b->nsym);
    if (b->codec == UW_CODEC_HUFFMAN) {
        if (b->lanes < 1 || b->lanes > UW_MAX_LANES || b->lanes > b->tile_rows) BAD("blob: %u lanes for %u tile rows", b->lanes, b->tile_rows);
        if (b->order != 1 && b->order != 2) BAD("blob: symbol order %u, expected 1 or 2", b->order);
        if (b->maxlen > UW_HUFF_MAX_LEN) BAD("blob: max code length %u over %d", b->maxlen, UW_HUFF_MAX_LEN);
        if (b->rare_mode > UW_RARE_VERBATIM) BAD("blob: rare mode %u unknown", b->rare_mode);
        if (b->rare_mode == UW_RARE_ESCAPE && b->nsym < 2) BAD("blob: escape mode needs 2+ palette entries");
        if (b->rare_mode == UW_RARE_VERBATIM ? (b->chunk_log2 < 3 || b->chunk_log2 > 12) : b->chunk_log2 != 0)
            BAD("blob: chunk_log2 %u invalid for rare mode %u", b->chunk_log2, b->rare_mode);
    } else if (b->codec == UW_CODEC_PALETTE) {
        if (b->lanes != 1 || b->order || b->maxlen || b->rare_mode || b->chunk_log2)
            BAD("blob: palette-IR blob with Huffman-only fields set");
    } else {
        BAD("blob: codec %u unknown", b->codec);
    }
    uw_blob_layout(b);
    for (uint32_t i = 0; i < 16; i++) {
        if (i >= b->nregular && b->palette[i]) BAD("blob: palette entry %u must be zero", i);
        for (uint32_t j = 0; j < i && i < b->nregular; j++)
            if (b->palette[i] == b->palette[j]) BAD("blob: palette entries %u and %u repeat exponent %u", j, i, b->palette[i]);
    }
    /* count bounds before the layout sums are trusted */
    if (b->count > size) BAD("blob: section count %llu exceeds blob length %zu", (unsigned long long)b->count, size);
    if (b->total != size)
        BAD("blob: length %zu, but its header describes %llu bytes", size, (unsigned long long)b->total);
    if (!all_zero(h, b->payload_end, b->total)) BAD("blob: nonzero padding after the payload");
    {
        uint64_t gaps[4][2];
        int ng = 0;
        if (b->codec == UW_CODEC_HUFFMAN) {
            gaps[ng][0] = b->off_lengths + (b->alphabet + 1) / 2; gaps[ng++][1] = b->off_tilebase;
            gaps[ng][0] = b->off_tilebase + 8 * b->ntiles; gaps[ng++][1] = b->off_laneoff;
            gaps[ng][0] = b->off_laneoff + 4 * b->ntiles * (b->lanes - 1); gaps[ng++][1] = b->off_stream;
            gaps[ng][0] = b->off_stream + b->count; gaps[ng++][1] = b->off_plane;
        } else {
            gaps[ng][0] = b->off_excidx + 8 * (b->ntiles + 1); gaps[ng++][1] = b->off_exc;
            gaps[ng][0] = b->off_exc + 4 * b->count; gaps[ng++][1] = b->off_nibbles;
            gaps[ng][0] = b->off_nibbles + (b->n + 1) / 2; gaps[ng++][1] = b->off_plane;
        }
        for (int g = 0; g < ng; g++)
            if (!all_zero(h, gaps[g][0], gaps[g][1])) BAD("blob: nonzero bytes between sections");
        if ((b->n & 1) && (h[b->off_nibbles + b->n / 2] >> 4) && b->codec == UW_CODEC_PALETTE) BAD("blob: nonzero unused nibble");
    }

    if (b->codec == UW_CODEC_HUFFMAN) {
        UW_FORWARD_IF_ERROR(parse_lengths(b, h + b->off_lengths));
        const uint8_t *tb = h + b->off_tilebase;
        uint64_t prev = 0;
        for (uint64_t t = 0; t < b->ntiles; t++) {
            uint64_t v = uw_rd64(tb + 8 * t);
            if ((t == 0 && v != 0) || v < prev || v > b->count)
                BAD("blob: tile %llu starts at byte %llu (previous %llu, stream %llu bytes)", (unsigned long long)t,
                    (unsigned long long)v, (unsigned long long)prev, (unsigned long long)b->count);
            prev = v;
        }
        for (uint64_t t = 0; t < b->ntiles; t++) {
            uint64_t tbase = uw_rd64(tb + 8 * t) * 8;
            uint64_t tend = (t + 1 < b->ntiles ? uw_rd64(tb + 8 * (t + 1)) : b->count) * 8;
            uint64_t lp = 0;
            const uint8_t *lo = h + b->off_laneoff + 4 * t * (b->lanes - 1);
            for (uint32_t j = 1; j < b->lanes; j++) {
                uint64_t v = uw_rd32(lo + 4 * (j - 1));
                if (v < lp || tbase + v > tend) BAD("blob: lane %u of tile %llu has offset %llu outside the tile", j, (unsigned long long)t, (unsigned long long)v);
                lp = v;
            }
        }
    } else {
        const uint8_t *ei = h + b->off_excidx;
        uint64_t prev = 0;
        for (uint64_t t = 0; t <= b->ntiles; t++) {
            uint64_t v = uw_rd64(ei + 8 * t);
            if ((t == 0 && v != 0) || v < prev || v > b->count || (t == b->ntiles && v != b->count))
                BAD("blob: exception index entry %llu = %llu invalid", (unsigned long long)t, (unsigned long long)v);
            prev = v;
        }
    }
    return UW_OK;
}

void uw_lane_bits(const uw_blob *b, uint64_t t, uint32_t j, uint64_t *begin, uint64_t *end) {
    const uint8_t *tb = b->base + b->off_tilebase;
    const uint8_t *lo = b->base + b->off_laneoff + 4 * t * (b->lanes - 1);
    uint64_t tbase = uw_rd64(tb + 8 * t) * 8;
    uint64_t tend = (t + 1 < b->ntiles ? uw_rd64(tb + 8 * (t + 1)) : b->count) * 8;
    *begin = tbase + (j ? uw_rd32(lo + 4 * (j - 1)) : 0);
    *end = j + 1 < b->lanes ? tbase + uw_rd32(lo + 4 * j) : tend;
}

uw_status uw_blob_inspect(const void *blob, size_t size, uw_blob_info *info) {
    uw_blob b;
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    if (info) {
        memset(info, 0, sizeof *info);
        info->rows = b.rows;
        info->cols = b.cols;
        info->codec = b.codec;
        info->rare_mode = b.rare_mode;
        info->sym_order = b.order;
        info->nsym = b.nsym;
        info->max_code_len = b.maxlen;
        info->chunk_len = b.chunk;
        info->tile_rows = b.tile_rows;
        info->tile_cols = b.tile_cols;
        info->lanes = b.lanes;
        info->tiles = b.ntiles;
        info->blob_bytes = b.total;
        info->tensor_hash = b.tensor_hash;
        memcpy(info->palette, b.palette, 16);
    }
    return UW_OK;
}

uw_status uw_blob_check(const void *blob, size_t size) {
    uw_blob b;
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    if (uw_blob_compute_hash(blob, b.payload_end) != b.blob_hash)
        return uw_error_set(UW_ERR_CHECKSUM, "blob: checksum mismatch (the compressed bytes are damaged)");
    return UW_OK;
}
