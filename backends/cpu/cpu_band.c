/* cpu_band.c - the CPU matmul's one call into the codec: tiles of a blob decoded with the fast
 * decoder's tables built once per weight (the fused-huffman pipeline decodes each tile of a
 * band into per-thread scratch through it). */
#include <stdlib.h>

#include "../../codecs/decode.h"
#include "cpu_mm.h"

struct uw_band_dec {
    const uw_blob *b;
    uw_fast_tab *tab; /* NULL for a palette-IR blob */
};

uw_status uw_band_dec_create(const uw_blob *b, uw_band_dec **out) {
    uw_band_dec *d = calloc(1, sizeof *d);
    UW_RETURN_ERROR_IF(!d, UW_ERR_NOMEM, "band decoder: out of memory");
    d->b = b;
    uw_status s = uw_fast_tab_new(b, &d->tab);
    if (s != UW_OK) {
        free(d);
        return s;
    }
    *out = d;
    return UW_OK;
}

void uw_band_dec_free(uw_band_dec *d) {
    if (!d) return;
    uw_fast_tab_free(d->tab);
    free(d);
}

uw_status uw_band_dec_tile(const uw_band_dec *d, uint64_t t, uint16_t *dst, uint64_t ld) {
    return uw_codec_decode_tile_fast(d->b, d->tab, t, dst, ld);
}
