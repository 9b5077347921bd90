/* encode_internal.h - the encoder's working state, shared by encode.c (passes, tiles, the blob)
 * and encode_choose.c (statistics, and the choice of rare mode, symbol order and code). */
#ifndef UW_ENCODE_INTERNAL_H
#define UW_ENCODE_INTERNAL_H

#include "bitio.h"
#include "decode_steps.h"
#include "encode.h"
#include "huffman.h"

#define RARE 0xFF /* symbol array marker: exponent not in the palette (verbatim mode) */
#define ROW_BLOCKS(e) ((e)->rows < 256 ? (e)->rows : 256)

/* Symbols 0..15 are the 16 most frequent exponents, 16 stands for any other ("rare"). One
 * pass gathers single and pair counts (pairs aligned as the stream codes them) and the
 * positions of rare elements; every candidate's exact size follows from these. */
#define NS17 17
typedef struct stats17 {
    uint64_t h1[NS17], h2[NS17 * NS17];
    uint64_t *rare; /* element indices, increasing */
    uint64_t nrare, cap;
    int oom;
} stats17;

typedef struct enc {
    const uint16_t *w;
    uint64_t rows, cols, n;
    int threads;
    uint8_t *sym;        /* per element symbol index (mode dependent) */
    uint64_t hist[256];  /* exponent histogram */
    uint8_t order_by_freq[256];
    int distinct;
    uw_blob b;           /* header being built */
    /* statistics scratch: per worker exponent histograms, per row block 17-symbol stats */
    uint64_t (*h1)[256];
    struct stats17 *st;  /* ROW_BLOCKS entries */
    uint16_t codes[256];
    uint8_t *plane;      /* destination plane inside the blob */
    /* tile outputs */
    uw_bitw *tw;
    uint32_t **laneoff;
    uint32_t **exc;      /* palette IR: per-tile exception lists */
    uint64_t *nexc;
    uint8_t *nibbles;
    uint64_t rare;       /* elements coded outside the palette (verbatim, escaped, exceptions) */
} enc;

/* e->sym[i] = palette index of element i's exponent among the first nreg entries of the
 * frequency order, `other` for any other exponent (encode.c). */
uw_status uw_enc_build_sym(enc *e, int nreg, uint8_t other);

/* Huffman: choose rare mode, symbol order (and chunk) by exact size and set the header fields
 * (nsym, rare_mode, palette, order, chunk_log2, code lengths), e->codes and e->rare
 * (encode_choose.c). */
uw_status uw_enc_choose_code(enc *e, const uw_encode_params *p);

#endif
