/* encode_internal.h - the encoder's working state, shared by encode.c (the passes and the blob),
 * encode_choose.c (statistics and the exact-size choice of rare mode, symbol order and code) and
 * encode_tiles.c (the tiles' bit streams, the palette IR's exceptions and nibbles). */
#ifndef UW_ENCODE_INTERNAL_H
#define UW_ENCODE_INTERNAL_H

#include "codec_isa.h"
#include "decode_steps.h"
#include "encode.h"
#include "huffman.h"

#define BLOCK_ELEMS 65536 /* elements per task of the element-wise passes */

/* Statistics over the 16 most frequent exponents (symbols 0..15) and "any other" (16), pairs
 * aligned as the stream codes them; and where the rare (16) elements are. One per row block. */
#define NS17 17
typedef struct rare_at {
    uint64_t i;        /* element index */
    uint32_t off, tc;  /* its column within its tile, and the tile's width */
} rare_at;
typedef struct stats17 {
    uint64_t h2[NS17 * NS17];
    rare_at *rare;     /* increasing */
    uint64_t nrare, cap;
} stats17;

#define MAX_VCHUNK 5 /* verbatim chunk lengths priced: 16, 32, 64, 128, 256 (or the one asked for) */

typedef struct enc {
    const uint16_t *w;
    uint64_t rows, cols, n;
    int threads;
    const uw_codec_kern *k;
    uint64_t hist[256];          /* exponent histogram */
    uint8_t order_by_freq[256];  /* exponents by descending count, ties by value */
    int distinct;
    uint8_t s17[256];            /* exponent -> its rank among the 16 most frequent, or 16 */
    uw_blob b;                   /* header being built */
    stats17 *st;                 /* nstat row blocks */
    uint64_t nstat;
    /* what the statistics pass also gathers for verbatim candidates, per chunk length vc[v]:
     * the pairs (and the odd-length chunks) inside chunks holding a rare element, summed per
     * worker (nvc = 0: no verbatim candidate) */
    uint32_t vc[MAX_VCHUNK];
    int nvc;
    uint64_t (*vg2)[MAX_VCHUNK][NS17 * NS17];
    uint64_t (*vodd)[MAX_VCHUNK];
    uint16_t codes[256];
    uint64_t rare;               /* elements coded outside the palette code (verbatim, escaped, exceptions) */
    /* the tiles' outputs */
    uint8_t **tbuf;              /* Huffman: tile bytes; palette IR: exception words */
    uint64_t *tlen;              /* Huffman: bytes; palette IR: exceptions */
    uint32_t *laneoff;           /* Huffman: (lanes - 1) bit offsets per tile */
    uint8_t *nibbles;            /* palette IR: its section inside the blob */
} enc;

/* Huffman: the statistics pass (encode_choose.c); then the rare mode, symbol order (and chunk)
 * of least exact size, setting the header fields (nsym, rare_mode, palette, order, chunk_log2,
 * code lengths), e->codes and e->rare. */
uw_status uw_enc_stats(enc *e, const uw_encode_params *p);
uw_status uw_enc_choose_code(enc *e, const uw_encode_params *p);

/* The blob's tiles: Huffman bit streams (tile t's bytes in e->tbuf[t], lane offsets) or the
 * palette IR's exceptions and nibbles (encode_tiles.c). */
uw_status uw_enc_tiles(enc *e);

#endif
