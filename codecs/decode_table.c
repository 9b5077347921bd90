/* decode_table.c - builds the decode table of decode_steps.h from a blob's canonical code: what
 * each max_code_len-bit window decodes to. See decode_table.h. */
#include "decode_table.h"

#include "huffman.h"

_Static_assert(UW_DT_MAX_BITS == UW_HUFF_MAX_LEN, "the decode table covers the longest code");

/* symbol s's indices (a, c) -> symbol s + 1's: a = s, c = 0 for order 1; s = a * nsym + c for 2 */
static inline void next_index(const uw_blob *b, uint32_t *a, uint32_t *c) {
    if (b->order != 2) (*a)++;
    else if (++*c == b->nsym) *c = 0, (*a)++;
}

void uw_dtab_build(const uw_blob *b, uint32_t *tab) {
    uint32_t esc = b->rare_mode == UW_RARE_ESCAPE ? b->nsym - 1u : 16u; /* 16: no escape index */
    uint16_t codes[UW_HUFF_MAX_SYMS];
    uw_huff_codes(b->len, (int)b->alphabet, codes);
    /* a pair symbol is a * nsym + c (FORMAT.md section 5): the entry holds both indices, so no
     * decoder divides by nsym (nor does this loop: a and c are counted along) */
    for (uint32_t s = 0, a = 0, c = 0; s < b->alphabet; s++, next_index(b, &a, &c)) {
        if (b->single >= 0 ? (int)s != b->single : !b->len[s]) continue; /* unused symbol */
        uint32_t len = b->len[s]; /* 0 for the single-symbol code: one entry, no bits */
        uint32_t ea = a < b->nregular ? b->palette[a] : 0, eb = c < b->nregular ? b->palette[c] : 0;
        uint32_t e = uw_dt_make(len, a, c, a == esc, b->order == 2 && c == esc, ea, eb);
        /* every window whose low len bits are s's code (bit-reversed, huffman.h) decodes to s;
         * the parsed code is complete, so every window gets an entry */
        for (uint32_t k = codes[s]; k < uw_dtab_entries(b); k += 1u << len) tab[k] = e;
    }
}

uint32_t uw_dtab_escapes(const uw_blob *b) {
    if (b->rare_mode != UW_RARE_ESCAPE) return 0;
    uint32_t esc = b->nsym - 1u, n = 0;
    for (uint32_t s = 0, a = 0, c = 0; s < b->alphabet; s++, next_index(b, &a, &c)) {
        if (b->single >= 0 ? (int)s != b->single : !b->len[s]) continue;
        if (a == esc || (b->order == 2 && c == esc)) n += 1u << (b->maxlen - b->len[s]);
    }
    return n;
}

void uw_dtab_build_narrow(const uw_blob *b, uint16_t *tab) {
    uint32_t wide[1 << UW_DT_MAX_BITS];
    uw_dtab_build(b, wide);
    for (uint32_t i = 0; i < uw_dtab_entries(b); i++) tab[i] = uw_dt_narrow(wide[i]);
}
