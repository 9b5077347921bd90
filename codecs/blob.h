/* blob.h - the tensor blob of docs/FORMAT.md: header fields, derived section layout, and the
 * validation every decoder runs before touching a section. */
#ifndef UW_BLOB_H
#define UW_BLOB_H

#include "../core/uw_internal.h"

#define UW_BLOB_MAGIC "UWTB"
#define UW_BLOB_HEADER_BYTES 128
#define UW_BLOB_ALIGN 64      /* blob length is a multiple of this */
#define UW_SECTION_ALIGN 16   /* every section starts at a multiple of this */
#define UW_DTYPE_BF16 1
#define UW_MAX_ELEMS ((uint64_t)1 << 40)
#define UW_MAX_TILE_ELEMS ((uint64_t)1 << 24)
#define UW_MAX_LANES 1024
#define UW_MAX_TILE_DIM 65536

typedef struct uw_blob {
    /* header fields */
    uint16_t version;
    uint8_t dtype, codec, rare_mode, nsym, order, maxlen, chunk_log2;
    uint64_t rows, cols;
    uint32_t tile_rows, tile_cols, lanes;
    uint8_t palette[16];
    uint64_t count; /* Huffman: stream bytes; palette IR: exception count */
    uint64_t tensor_hash, blob_hash;
    /* derived */
    uint64_t n, tiles_r, tiles_c, ntiles;
    uint32_t alphabet;   /* nsym^order (Huffman) */
    uint32_t nregular;   /* palette entries that are exponents (escape excluded) */
    uint32_t chunk;      /* verbatim chunk length, or 0 */
    uint64_t off_lengths, off_tilebase, off_laneoff, off_stream;         /* Huffman */
    uint64_t off_excidx, off_exc, off_nibbles;                           /* palette IR */
    uint64_t off_plane, payload_end, total;
    /* code lengths (Huffman), 0 = unused; single-symbol code: single >= 0 */
    uint8_t len[256];
    int single;
    const uint8_t *base; /* the blob bytes */
} uw_blob;

/* Compute the derived layout from header fields (used by the encoder and the parser). */
uw_status uw_blob_layout(uw_blob *b);

/* Parse and validate header, code lengths, and (Huffman) the tile/lane index against the
 * blob length. After UW_OK every section read within the layout is in bounds. */
uw_status uw_blob_parse(const void *data, size_t size, uw_blob *b);

/* Write the 128-byte header of b into out (hashes as set in b). */
void uw_blob_write_header(const uw_blob *b, uint8_t *out);

/* XXH3-64 over header bytes [0,120) and payload [128, payload_end). */
uint64_t uw_blob_compute_hash(const uint8_t *blob, uint64_t payload_end);

/* Tile geometry helpers. */
static inline void uw_tile_rect(const uw_blob *b, uint64_t t, uint64_t *r0, uint32_t *tr,
                                uint64_t *c0, uint32_t *tc) {
    uint64_t ti = t / b->tiles_c, tj = t % b->tiles_c;
    *r0 = ti * b->tile_rows;
    *c0 = tj * b->tile_cols;
    uint64_t rr = b->rows - *r0, cc = b->cols - *c0;
    *tr = (uint32_t)(rr < b->tile_rows ? rr : b->tile_rows);
    *tc = (uint32_t)(cc < b->tile_cols ? cc : b->tile_cols);
}

/* Bit range [begin, end) of lane j of tile t in the stream (valid after uw_blob_parse). */
void uw_lane_bits(const uw_blob *b, uint64_t t, uint32_t j, uint64_t *begin, uint64_t *end);

#endif
