/* decode_table.h - the one builder of the decode table whose entries decode_steps.h defines.
 * The CPU fast decoder derives its wider tables from it (decode_fast.c); the OpenCL and
 * CUDA/HIP uploads copy what it builds to the device. */
#ifndef UW_DECODE_TABLE_H
#define UW_DECODE_TABLE_H

#include "blob.h"
#include "decode_steps.h"

/* Entries of a parsed Huffman blob's table: 2^max_code_len (1 for a single-symbol code). */
static inline uint32_t uw_dtab_entries(const uw_blob *b) { return 1u << b->maxlen; }

/* Fill tab[0 .. uw_dtab_entries(b)) with the entries of a parsed Huffman blob's code (complete,
 * as uw_blob_parse guarantees: every entry is written). */
void uw_dtab_build(const uw_blob *b, uint32_t *tab);

/* How many of those entries hold an escape (as uw_dt_esc_a || uw_dt_esc_b would count them),
 * from the code lengths alone. */
uint32_t uw_dtab_escapes(const uw_blob *b);

/* The same table in its narrow form (uw_dt_narrow of each entry, decode_steps.h). */
void uw_dtab_build_narrow(const uw_blob *b, uint16_t *tab);

#endif
