/* decode.h - the codec's CPU decoders: the reference (bit by bit, read it against FORMAT.md)
 * and the fast table-driven one, and the tile-row, band and whole-blob decodes built on them.
 * A tile decoder writes tile t of a parsed blob to dst (element (r0,c0) of the tile at dst[0],
 * row stride ld elements) and rejects any stream that breaks FORMAT.md section 7, reporting
 * through uw_derr_status (decode_errors.h). */
#ifndef UW_DECODE_H
#define UW_DECODE_H

#include "blob.h"
#include "decode_steps.h"

/* The fast decoder's tables of one Huffman blob, derived from its decode table
 * (decode_table.h) once per blob, with the codec kernels of the selected level (codec_isa.h);
 * their layout is decode_fast.c's. Read-only once built: threads may share one. */
typedef struct uw_fast_tab uw_fast_tab;

/* Build the tables of a parsed blob into a new allocation; *out = NULL for a palette-IR blob
 * (nothing to build). Free with uw_fast_tab_free (NULL is fine). Fails only for lack of memory
 * or a UW_CODEC_ISA this CPU does not offer. */
uw_status uw_fast_tab_new(const uw_blob *b, uw_fast_tab **out);
void uw_fast_tab_free(uw_fast_tab *ft);

uw_status uw_codec_decode_tile_ref(const uw_blob *b, uint64_t t, uint16_t *dst, uint64_t ld);
/* ft: uw_fast_tab_new's tables of b (ignored, may be NULL, for a palette-IR blob) */
uw_status uw_codec_decode_tile_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t, uint16_t *dst, uint64_t ld);
/* Tiles [t0, t1) with the fast decoder: tile t's element (r0, c0) goes to out[(r0 - row0) * ld +
 * c0]. The lanes of all of them share one pool of slots (decode_fast.c), so give it several. */
uw_status uw_codec_decode_tiles_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t0, uint64_t t1, uint16_t *out, uint64_t row0,
                                     uint64_t ld);

/* Decode tile row `tile_row` (matrix rows [tile_row * tile_rows, + the tile's rows), every
 * column) into band, row stride ld >= cols elements, with the fast decoder and tables ft built
 * once per blob (NULL for a palette-IR blob). No checksum: the caller decodes part of a tensor.
 * The CPU matmul's entry point into the codec; safe to call from several threads at once. */
uw_status uw_codec_decode_band(const uw_blob *b, const uw_fast_tab *ft, uint64_t tile_row, uint16_t *band, uint64_t ld);

/* Decode the tiles of tile rows [ti0, ti1) into out, which holds matrix rows
 * [ti0 * tile_rows, min(ti1 * tile_rows, rows)) row-major; tile-parallel on `threads` threads
 * (0 = all cores); fast = 0 uses the reference decoder. No checksum. */
uw_status uw_codec_decode_rows(const uw_blob *b, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads, int fast);

/* The same with the fast decoder and tables ft built once per blob by the caller (NULL for a
 * palette-IR blob); when h is not NULL, the decoded rows are fed to it in order while they are
 * still in cache (the checksum fused into the decode). */
uw_status uw_codec_decode_rows_with(const uw_blob *b, const uw_fast_tab *ft, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads,
                                    uw_hash_state *h);

/* Decode a whole parsed blob (as uw_codec_decode_rows) and check the tensor checksum. */
uw_status uw_codec_decode_blob(const uw_blob *b, uint16_t *out, int threads, int fast);

#endif
