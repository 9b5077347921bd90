/* huffman.h - length-limited canonical Huffman codes: optimal lengths by package-merge and
 * canonical LSB-first codes (docs/FORMAT.md section 5). The decode table built from them is
 * decode_table.h's. */
#ifndef UW_HUFFMAN_H
#define UW_HUFFMAN_H

#include <stddef.h>
#include <stdint.h>

#define UW_HUFF_MAX_SYMS 256 /* order-2 alphabet: 16 x 16 */
#define UW_HUFF_MAX_LEN 12   /* decode table of 4096 entries (decode_steps.h) */

/* Optimal code lengths with every length <= maxlen, by package-merge.
 * freq[n]: symbol frequencies; len_out[n]: 0 for unused symbols (freq 0).
 * A single used symbol gets length 0 (it is implied, no bits). Returns 0, or -1 when
 * more than 2^maxlen symbols are used or arguments are out of range. */
int uw_huff_lengths(const uint64_t *freq, int n, int maxlen, uint8_t *len_out);

/* Kraft check: 1 if the used lengths form a complete prefix code (sum 2^-len == 1) with
 * every length <= maxlen; a single symbol of length 0 is complete. */
int uw_huff_complete(const uint8_t *len, int n, int maxlen);

/* Canonical codes (symbols sorted by (length, index)), bit-reversed so that the first code
 * bit is the least significant bit, as the stream is written LSB-first. */
void uw_huff_codes(const uint8_t *len, int n, uint16_t *code_out);

/* Sort ascending (n <= 256 is fast; the codec's alphabets are that small). */
void uw_sort_u64(uint64_t *v, size_t n);

/* Total coded bits sum(freq * len) */
uint64_t uw_huff_cost(const uint64_t *freq, const uint8_t *len, int n);

#endif
