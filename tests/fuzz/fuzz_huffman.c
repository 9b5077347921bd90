/* fuzz_huffman.c - libFuzzer target driving the Huffman stream decoders deep: geometry, a complete
 * code, then raw stream bytes or a symbol sequence encoded here (+ bit flips); see tests/fuzz/README.md. */
#include "../../codecs/decode.h"
#include "../../codecs/bitio.h"
#include "../../codecs/decode_steps.h"
#include "../../codecs/huffman.h"
#include "../../core/uw_internal.h"
#include "fuzz_util.h"

#define MAXDIM 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz in = {data, size, 0};
    uw_blob b;
    memset(&b, 0, sizeof b);
    b.version = UW_FORMAT_VERSION;
    b.dtype = 1;
    b.codec = UW_CODEC_HUFFMAN;
    uint32_t mode = fz_u8(&in); /* bit 0: raw stream; bits 1-2: bit flips (symbol mode) */
    b.nsym = (uint8_t)(1 + fz_u8(&in) % 16);
    uint32_t x = fz_u8(&in);
    b.order = (uint8_t)(b.nsym >= 2 ? 1 + (x & 1) : 1);
    b.rare_mode = (uint8_t)((x >> 1) % 3);
    if (b.rare_mode == UW_RARE_ESCAPE && b.nsym < 2) b.rare_mode = UW_RARE_NONE;
    b.chunk_log2 = (uint8_t)(b.rare_mode == UW_RARE_VERBATIM ? 3 + (x >> 3) % 4 : 0);
    b.rows = 1 + fz_u8(&in) % MAXDIM;
    b.cols = 1 + fz_u8(&in) % MAXDIM;
    b.tile_rows = (uint32_t)(1 + fz_u8(&in) % b.rows);
    b.tile_cols = (uint32_t)(1 + fz_u8(&in) % b.cols);
    b.lanes = 1 + fz_u8(&in) % (b.tile_rows < 8 ? b.tile_rows : 8);
    int maxlen_lim = (int)(1 + fz_u8(&in) % UW_HUFF_MAX_LEN);
    uw_blob_layout(&b);
    /* palette: distinct exponents */
    for (uint32_t i = 0; i < b.nregular; i++) {
        uint8_t e = (uint8_t)fz_u8(&in);
        for (int again = 1; again;) {
            again = 0;
            for (uint32_t j = 0; j < i; j++)
                if (b.palette[j] == e) { e++; again = 1; }
        }
        b.palette[i] = e;
    }
    /* code: lengths from fuzz frequencies by package-merge (any complete code it can make) */
    uint64_t freq[256] = {0};
    int used = 0;
    for (uint32_t s = 0; s < b.alphabet; s++) used += (freq[s] = fz_u8(&in)) != 0;
    if (!used) freq[0] = 1, used = 1;
    if (used > (1 << maxlen_lim)) maxlen_lim = UW_HUFF_MAX_LEN;
    if (uw_huff_lengths(freq, (int)b.alphabet, maxlen_lim, b.len)) return 0;
    b.single = -1;
    b.maxlen = 0;
    int usym[256], nu = 0, usym0[256], nu0 = 0;
    for (uint32_t s = 0; s < b.alphabet; s++) {
        if (!freq[s]) continue;
        if (used == 1) b.single = (int)s;
        if (b.len[s] > b.maxlen) b.maxlen = b.len[s];
        usym[nu++] = (int)s;
        if (b.order == 2 && s % b.nsym == 0) usym0[nu0++] = (int)s;
    }
    uint16_t codes[256];
    uw_huff_codes(b.len, (int)b.alphabet, codes);
    uint32_t esc = b.rare_mode == UW_RARE_ESCAPE ? b.nsym - 1u : 0xFFFFu;
    uint32_t C = b.chunk ? b.chunk : 0;

    uint64_t n = b.n;
    uint16_t *want = calloc(n, 2);
    uint8_t *plane = malloc(n);
    uint64_t *tbase = calloc(b.ntiles + 1, 8);
    uint32_t *loff = calloc(b.ntiles * b.lanes, 4);
    uw_bitw w;
    uw_bitw_init(&w, 256);
    int valid = 1;
    if (!want || !plane || !tbase || !loff || w.oom) goto out;
    for (uint64_t i = 0; i < n; i++) plane[i] = (uint8_t)fz_u8(&in);
    if (mode & 1) {
        /* raw: tile sizes and lane offsets from the input, then stream bytes */
        uint64_t at = 0;
        for (uint64_t t = 0; t < b.ntiles; t++) {
            tbase[t] = at;
            at += fz_u8(&in);
            uint32_t lo = 0;
            for (uint32_t j = 1; j < b.lanes; j++) {
                lo += fz_u16(&in) % 64;
                loff[t * b.lanes + j] = lo;
            }
        }
        while (uw_bitw_pos(&w) < at * 8) uw_bitw_put(&w, fz_u8(&in), 8);
        uw_bitw_flush(&w);
        valid = 0;
    } else {
        for (uint64_t t = 0; t < b.ntiles; t++) {
            uint64_t r0, c0;
            uint32_t tr, tc;
            uw_tile_rect(&b, t, &r0, &tr, &c0, &tc);
            tbase[t] = w.bytes;
            uint64_t tstart = uw_bitw_pos(&w);
            uint32_t CC = C ? C : tc;
            for (uint32_t j = 0; j < b.lanes; j++) {
                loff[t * b.lanes + j] = (uint32_t)(uw_bitw_pos(&w) - tstart);
                for (uint32_t r = uw_lane_row_begin(tr, b.lanes, j); r < uw_lane_row_begin(tr, b.lanes, j + 1); r++) {
                    uint16_t *row = want + (r0 + r) * b.cols + c0;
                    const uint8_t *pl = plane + (r0 + r) * b.cols + c0;
                    for (uint32_t k0 = 0; k0 < tc; k0 += CC) {
                        uint32_t len = tc - k0 < CC ? tc - k0 : CC;
                        if (b.rare_mode == UW_RARE_VERBATIM) {
                            uint32_t v = fz_u8(&in) & 1;
                            uw_bitw_put(&w, v, 1);
                            if (v) {
                                for (uint32_t k = k0; k < k0 + len; k++) {
                                    uint8_t e = (uint8_t)fz_u8(&in);
                                    uw_bitw_put(&w, e, 8);
                                    row[k] = (uint16_t)(((pl[k] & 0x80) << 8) | (e << 7) | (pl[k] & 0x7F));
                                }
                                continue;
                            }
                        }
                        for (uint32_t k = k0; k < k0 + len; k += b.order) {
                            int tail = b.order == 2 && k + 1 == k0 + len;
                            int s = tail && nu0 ? usym0[fz_u8(&in) % nu0] : usym[fz_u8(&in) % nu];
                            if (tail && !nu0) valid = 0; /* no pair ends in index 0: must be rejected */
                            if (b.single < 0) uw_bitw_put(&w, codes[s], b.len[s]);
                            uint32_t a = b.order == 2 ? (uint32_t)s / b.nsym : (uint32_t)s, c = (uint32_t)s % b.nsym;
                            uint8_t e = b.palette[a < 16 ? a : 0];
                            if (a == esc) { e = (uint8_t)fz_u8(&in); uw_bitw_put(&w, e, 8); }
                            row[k] = (uint16_t)(((pl[k] & 0x80) << 8) | (e << 7) | (pl[k] & 0x7F));
                            if (b.order == 2 && !tail) {
                                e = b.palette[c];
                                if (c == esc) { e = (uint8_t)fz_u8(&in); uw_bitw_put(&w, e, 8); }
                                row[k + 1] = (uint16_t)(((pl[k + 1] & 0x80) << 8) | (e << 7) | (pl[k + 1] & 0x7F));
                            }
                        }
                    }
                }
            }
            uw_bitw_flush(&w);
        }
        if (w.bytes > UINT32_MAX / 8) valid = 0;
    }
    if (w.oom) goto out;
    b.count = w.bytes;
    uw_blob_layout(&b);
    uint8_t *blob = calloc(1, b.total);
    if (!blob) goto out;
    for (uint32_t s = 0; s < b.alphabet; s++) {
        uint8_t v = b.single >= 0 ? (int)s == b.single : b.len[s] ? (uint8_t)(b.len[s] + 1) : 0;
        blob[b.off_lengths + s / 2] |= (uint8_t)(v << ((s & 1) * 4));
    }
    for (uint64_t t = 0; t < b.ntiles; t++) {
        uw_wr64(blob + b.off_tilebase + 8 * t, tbase[t] < b.count ? tbase[t] : b.count);
        for (uint32_t j = 1; j < b.lanes; j++) uw_wr32(blob + b.off_laneoff + 4 * (t * (b.lanes - 1) + j - 1), loff[t * b.lanes + j]);
    }
    memcpy(blob + b.off_stream, w.buf, w.bytes);
    memcpy(blob + b.off_plane, plane, n);
    /* bit flips in the index and the stream (symbol mode) */
    uint32_t flips = (mode >> 1) & 3;
    if (mode & 1) flips = 0;
    uint64_t span = (b.off_plane - b.off_tilebase) * 8;
    for (uint32_t k = 0; k < flips && span; k++) {
        uint64_t bit = b.off_tilebase * 8 + (fz_u16(&in) | ((uint64_t)fz_u8(&in) << 16)) % span;
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    if (flips) valid = 0;
    b.tensor_hash = uw_hash64(want, n * 2);
    uw_blob_write_header(&b, blob);
    uw_wr64(blob + 120, uw_blob_compute_hash(blob, b.payload_end));
    if (valid) {
        uint16_t *o = malloc(n * 2);
        if (o) {
            FZ_REQUIRE(uw_blob_check(blob, b.total) == UW_OK, "a blob built to the format passes its checksum");
            FZ_REQUIRE(uw_blob_decode(blob, b.total, o, n, 1) == UW_OK, "fast decoder accepts a valid stream");
            FZ_REQUIRE(!memcmp(o, want, n * 2), "fast decoder reproduces the tensor");
            memset(o, 0, n * 2);
            FZ_REQUIRE(uw_blob_decode_ref(blob, b.total, o, n) == UW_OK, "reference decoder accepts a valid stream");
            FZ_REQUIRE(!memcmp(o, want, n * 2), "reference decoder reproduces the tensor");
            free(o);
        }
    } else {
        uw_blob pb;
        if (uw_blob_parse(blob, b.total, &pb) == UW_OK) {
            uint16_t *o1 = malloc(n * 2), *o2 = malloc(n * 2);
            if (o1 && o2) {
                uw_status s1 = uw_codec_decode_blob(&pb, o1, 1, 1), s2 = uw_codec_decode_blob(&pb, o2, 1, 0);
                FZ_REQUIRE((s1 == UW_ERR_CORRUPT) == (s2 == UW_ERR_CORRUPT),
                           "fast (%s) and reference (%s) decoders accept the same streams", uw_status_name(s1), uw_status_name(s2));
                if (s1 != UW_ERR_CORRUPT) FZ_REQUIRE(!memcmp(o1, o2, n * 2), "fast and reference decoders agree bit for bit");
                if (s1 == UW_OK) FZ_REQUIRE(!memcmp(o1, want, n * 2), "an accepted stream with a matching checksum is the tensor");
            }
            free(o1);
            free(o2);
        }
    }
    free(blob);
out:
    free(want);
    free(plane);
    free(tbase);
    free(loff);
    free(w.buf);
    return 0;
}
