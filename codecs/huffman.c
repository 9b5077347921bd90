/* huffman.c - package-merge for optimal length-limited prefix codes and canonical code
 * assignment. See huffman.h. */
#include "huffman.h"

#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t w; int leaf; } pm_item; /* leaf: symbol rank, or -1 for a package */

void uw_sort_u64(uint64_t *v, size_t n) {
    /* bottom-up merge sort through a scratch copy; n <= 256 here (and in encode_choose.c) */
    uint64_t tmp[256], *a = v, *b = tmp;
    if (n > 256) {
        for (size_t i = 1; i < n; i++) { /* never used beyond 256; keep it correct anyway */
            uint64_t x = v[i];
            size_t j = i;
            while (j > 0 && v[j - 1] > x) v[j] = v[j - 1], j--;
            v[j] = x;
        }
        return;
    }
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = a[j] < a[i] ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        uint64_t *t = a;
        a = b, b = t;
    }
    if (a != v) memcpy(v, a, n * sizeof *v);
}

int uw_huff_lengths(const uint64_t *freq, int n, int maxlen, uint8_t *len_out) {
    if (n < 1 || n > UW_HUFF_MAX_SYMS || maxlen < 1 || maxlen > 15) return -1;
    int sym[UW_HUFF_MAX_SYMS], m = 0;
    uint64_t key[UW_HUFF_MAX_SYMS];
    memset(len_out, 0, (size_t)n);
    for (int i = 0; i < n; i++)
        if (freq[i]) key[m++] = freq[i] << 8 | (uint64_t)i; /* ascending (freq, index): no two equal */
    if (m == 0) return 0;
    if (m == 1) return 0; /* implied symbol, length 0 */
    if (m > (1 << maxlen)) return -1;
    for (int i = 0; i < m; i++)
        if (key[i] >> 8 != freq[key[i] & 0xFF]) return -1; /* a count of 2^56 or more */
    uw_sort_u64(key, (size_t)m);
    for (int i = 0; i < m; i++) sym[i] = (int)(key[i] & 0xFF);

    /* Levels 1..maxlen, each a sorted merge of the leaves with the packages of the level
     * below; keep per level only the leaf/package pattern needed to count selections. */
    size_t cap = (size_t)2 * m;
    pm_item *lists = malloc(sizeof(pm_item) * cap * (size_t)maxlen);
    int *lens = malloc(sizeof(int) * (size_t)maxlen);
    if (!lists || !lens) { free(lists); free(lens); return -1; }
    pm_item *prev = NULL;
    int prev_n = 0;
    for (int lv = 0; lv < maxlen; lv++) {
        pm_item *cur = lists + cap * (size_t)lv;
        int np = prev ? prev_n / 2 : 0, li = 0, pi = 0, k = 0;
        while (li < m || pi < np) {
            uint64_t pw = pi < np ? prev[2 * pi].w + prev[2 * pi + 1].w : 0;
            if (li < m && (pi >= np || freq[sym[li]] <= pw)) {
                cur[k].w = freq[sym[li]]; cur[k].leaf = li; li++;
            } else {
                cur[k].w = pw; cur[k].leaf = -1; pi++;
            }
            k++;
        }
        lens[lv] = k;
        prev = cur;
        prev_n = k;
    }
    /* Select the 2m-2 cheapest items of the top level, then walk down: every selected
     * leaf adds one to its symbol's length; selected packages select two items below. */
    int take = 2 * m - 2;
    int depth[UW_HUFF_MAX_SYMS] = {0};
    for (int lv = maxlen - 1; lv >= 0 && take > 0; lv--) {
        pm_item *cur = lists + cap * (size_t)lv;
        int packages = 0;
        if (take > lens[lv]) take = lens[lv];
        for (int i = 0; i < take; i++) {
            if (cur[i].leaf >= 0) depth[cur[i].leaf]++;
            else packages++;
        }
        take = 2 * packages;
    }
    for (int i = 0; i < m; i++) len_out[sym[i]] = (uint8_t)depth[i];
    free(lists);
    free(lens);
    return 0;
}

int uw_huff_complete(const uint8_t *len, int n, int maxlen) {
    if (maxlen < 0 || maxlen > 15) return 0;
    int used = 0, zero = 0;
    uint64_t kraft = 0; /* in units of 2^-15 */
    for (int i = 0; i < n; i++) {
        if (!len[i]) continue;
        if (len[i] > maxlen) return 0;
        used++;
        kraft += (uint64_t)1 << (15 - len[i]);
    }
    (void)zero;
    if (used == 0) return 0;
    return kraft == ((uint64_t)1 << 15);
}

/* the low nbits of v, reversed (swaps of halves, bytes, nibbles, pairs, bits: no loop per bit,
 * which cost as much as the rest of a small tensor's table building) */
static uint16_t bitrev(uint16_t v, int nbits) {
    uint32_t r = v;
    r = (r >> 8 | r << 8) & 0xFFFF;
    r = (r >> 4 & 0x0F0F) | (r & 0x0F0F) << 4;
    r = (r >> 2 & 0x3333) | (r & 0x3333) << 2;
    r = (r >> 1 & 0x5555) | (r & 0x5555) << 1;
    return (uint16_t)(r >> (16 - nbits));
}

void uw_huff_codes(const uint8_t *len, int n, uint16_t *code_out) {
    int count[16] = {0};
    uint16_t next[16] = {0};
    for (int i = 0; i < n; i++) count[len[i]]++;
    count[0] = 0;
    uint16_t code = 0;
    for (int l = 1; l < 16; l++) {
        code = (uint16_t)((code + count[l - 1]) << 1);
        next[l] = code;
    }
    for (int i = 0; i < n; i++) {
        code_out[i] = 0;
        if (len[i]) code_out[i] = bitrev(next[len[i]]++, len[i]);
    }
}

uint64_t uw_huff_cost(const uint64_t *freq, const uint8_t *len, int n) {
    uint64_t c = 0;
    for (int i = 0; i < n; i++) c += freq[i] * len[i];
    return c;
}
