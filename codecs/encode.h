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

#endif
