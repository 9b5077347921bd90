/* cpu_decode.h - CPU tile decoders: the reference (bit by bit, read it against FORMAT.md) and
 * the fast table-driven one. Each decodes tile t of a parsed blob into dst (element (r0,c0) of
 * the tile at dst[0], row stride ld elements) and rejects any stream that breaks the rules. */
#ifndef UW_CPU_DECODE_H
#define UW_CPU_DECODE_H

#include "blob.h"

uw_status uw_cpu_decode_tile_ref(const uw_blob *b, uint64_t t, uint16_t *dst, uint64_t ld);
/* Fast-decoder lookup table: one entry per maxlen-bit window, up to two exponents each. */
typedef struct uw_fast_tab {
    uint32_t e[1 << 12]; /* one code per lookup (escapes, chunk tails) */
    uint64_t m[1 << 12]; /* every whole code in a 12-bit window, up to 4 exponents */
} uw_fast_tab;
void uw_fast_tab_build(const uw_blob *b, uw_fast_tab *ft);
uw_status uw_cpu_decode_tile_fast(const uw_blob *b, const uw_fast_tab *ft, uint64_t t, uint16_t *dst,
                                  uint64_t ld);

/* Decode the tiles of tile rows [ti0, ti1) into out, which holds matrix rows
 * [ti0 * tile_rows, min(ti1 * tile_rows, rows)) row-major; no checksum. */
uw_status uw_cpu_decode_tile_rows(const uw_blob *b, uint64_t ti0, uint64_t ti1, uint16_t *out, int threads, int fast);

/* Decode a whole parsed blob with tile-parallel threads; fast=0 uses the reference. Checks
 * the tensor checksum. */
uw_status uw_cpu_decode_blob(const uw_blob *b, uint16_t *out, int threads, int fast);

/* Decode tile row ti (all column tiles) into band[tr x cols]. */
uw_status uw_cpu_decode_band(const uw_blob *b, uint64_t ti, uint16_t *band);

#endif
