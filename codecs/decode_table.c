/* decode_table.c - builds the decode table of decode_steps.h from a blob's canonical code: what
 * each max_code_len-bit window decodes to. See decode_table.h. */
#include "decode_table.h"

#include "huffman.h"

_Static_assert(UW_DT_MAX_BITS == UW_HUFF_MAX_LEN, "the decode table covers the longest code");

void uw_dtab_build(const uw_blob *b, uint32_t *tab) {
    uint16_t canon[1 << UW_HUFF_MAX_LEN]; /* huffman.h's entries: symbol | length << 8 */
    uint32_t size = uw_dtab_entries(b);
    if (b->single >= 0) canon[0] = (uint16_t)b->single; /* length 0: implied, no bits */
    else uw_huff_table(b->len, (int)b->alphabet, b->maxlen, canon);
    uint32_t esc = b->rare_mode == UW_RARE_ESCAPE ? b->nsym - 1u : 16u; /* 16: no escape index */
    for (uint32_t i = 0; i < size; i++) {
        uint32_t s = canon[i] & 0xFFu, len = (canon[i] >> 8) & 0xFu;
        /* a pair symbol is a * nsym + b (FORMAT.md section 5); kernels never divide by nsym */
        uint32_t a = b->order == 2 ? s / b->nsym : s, c = b->order == 2 ? s % b->nsym : 0;
        uint32_t ea = a < b->nregular ? b->palette[a] : 0, eb = c < b->nregular ? b->palette[c] : 0;
        tab[i] = uw_dt_make(len, a, c, a == esc, b->order == 2 && c == esc, ea, eb);
    }
}

void uw_dtab_build_narrow(const uw_blob *b, uint16_t *tab) {
    uint32_t wide[1 << UW_DT_MAX_BITS];
    uw_dtab_build(b, wide);
    for (uint32_t i = 0; i < uw_dtab_entries(b); i++) tab[i] = uw_dt_narrow(wide[i]);
}
