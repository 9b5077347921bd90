/* encode.h - the encoder's internal entry points (the public one is uw_tensor_encode): the
 * encoder with its statistics, and re-encoding a parsed blob in another tile geometry. */
#ifndef UW_ENCODE_H
#define UW_ENCODE_H

#include "blob.h"

/* Encoder side facts for info/statistics. */
typedef struct uw_encode_stats {
    uint64_t hist[256]; /* exponent histogram */
    uint64_t rare;      /* elements stored outside the palette code (verbatim/escape/exception) */
} uw_encode_stats;

/* uw_tensor_encode, and when stats is not NULL the histogram and rare count it worked from. */
uw_status uw_tensor_encode_ex(const uint16_t *bf16, uint64_t rows, uint64_t cols, const uw_encode_params *p,
                              uint8_t **blob, size_t *blob_size, uw_encode_stats *stats);

/* Re-encode parsed blob b with `codec` in tiles of tile_rows x tile_cols and `lanes` lanes (a
 * Huffman target; ignored for the palette IR) into a new allocation (free with uw_free).
 * decoded: b's weights if the caller has them, or NULL to decode (and checksum) b here. Huffman
 * to Huffman keeps b's rare mode, symbol order and chunk length when the encoder accepts them
 * for the new tiles, and lets it choose otherwise. */
uw_status uw_blob_retile(const uw_blob *b, const uint16_t *decoded, int codec, uint32_t tile_rows, uint32_t tile_cols,
                         uint32_t lanes, uint8_t **out, size_t *out_size);

#endif
