/* order1_probe.c - what decoding order-1 blobs (one code per exponent) with the code tables in
 * AVX-512 registers would buy (bench/RESULTS.md, issue 15, fourth round). The library's encoder
 * picks order-2 codes (pairs) on the real models because they are smaller; a pair code's table
 * (12-bit windows) does not fit in registers, an order-1 code's first level (6-bit windows) and
 * its long codes' second level do (vpermi2w), so 8 lanes advance per register with no gather.
 *
 *   build/order1_probe MODEL.safetensors [repeat]     (x86 builds with AVX-512 VBMI2)
 *
 * For each 2-D BF16 MLP tensor: encode it with the defaults (order 2) and with order 1; decode
 * both with the library (uw_blob_decode, 1 thread) and the order-1 blob with this probe, best of
 * `repeat` each, alternated; the probe's output is checked bit for bit against the original and
 * its XXH3 against the blob's tensor hash. The probe covers order-1 codes whose codes longer than
 * 6 bits share one 6-bit prefix (others are counted as not covered) and checks no stream rule
 * beyond a lane's end: it measures speed, it is not a decoder. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "unweight.h"
#include "../codecs/blob.h"
#include "../codecs/codec_isa.h"
#include "../codecs/decode_table.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The register tables. A word is exponent | length << 8: level 1 (t1) for the 6-bit window,
 * 0xFFFF where the window is the long codes' prefix; level 2 (t2) for the 6 bits after that
 * prefix (codes of 7-12 bits, so every t2 word is above every short t1 word; an escape's word has
 * length code + 8 and bit 15 set). A step looks up both for 8 lanes (one vpermi2w each, word 0
 * of each 64-bit lane) and keeps the smaller: the right entry either way, with no mask or
 * branch; the lane's 128-bit window (buf, nxt) then shifts by the length (mod 64: an escape's
 * flag is ignored, its raw bits skipped). */
typedef struct {
    uint16_t t1[64], t2[64];
    uint32_t d[4096]; /* the shared table, 12-bit windows (the probe's exact scalar steps) */
} tabs;

/* Fill T for an order-1 blob; 0 when the probe does not cover its code. */
static int build(const uw_blob *b, tabs *T) {
    if (b->codec != UW_CODEC_HUFFMAN || b->order != 1 || b->rare_mode == UW_RARE_VERBATIM || b->maxlen < 7) return 0;
    uw_dtab_build(b, T->d);
    for (uint32_t w = 1u << b->maxlen; w < 4096; w *= 2) memcpy(T->d + w, T->d, w * 4);
    int P = -1;
    for (int i = 0; i < 64; i++) {
        uint32_t e = T->d[i], l = uw_dt_len(e);
        if (l > 6) {
            if (P >= 0 && P != i) return 0; /* long codes under two 6-bit prefixes */
            P = i;
            T->t1[i] = 0xFFFF;
        } else {
            if (uw_dt_esc_a(e)) return 0; /* an escape code of 6 bits or fewer */
            T->t1[i] = (uint16_t)(uw_dt_exp_a(e) | l << 8);
        }
    }
    if (P < 0) return 0;
    for (int j = 0; j < 64; j++) {
        uint32_t e = T->d[P | j << 6], l = uw_dt_len(e);
        if (l <= 6) return 0;
        T->t2[j] = uw_dt_esc_a(e) ? (uint16_t)((l + 8) | 0x80) << 8 : (uint16_t)(uw_dt_exp_a(e) | l << 8);
    }
    return 1;
}

static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint8_t scalar_one(const tabs *T, const uint8_t *s, uint64_t *pos) {
    uint64_t v = ld64(s + (*pos >> 3)) >> (*pos & 7);
    uint32_t e = T->d[v & 4095], l = uw_dt_len(e), x = uw_dt_exp_a(e);
    if (uw_dt_esc_a(e)) x = (uint8_t)(v >> l), l += 8;
    *pos += l;
    return (uint8_t)x;
}

static double t_simd, n_simd; /* time in the lane loop, and lane steps taken (dummies included) */
static long n_redo, n_refill;
#define NG 3 /* groups of 8 lanes in flight */

typedef struct {
    uint64_t begin, end;
    uint8_t *o;   /* lane buffer */
    uint64_t n;   /* exponents */
} lane;

#define REFILL(g)                                                                                                  \
    {                                                                                                              \
        n_refill++;                                                                                                \
        __m512i p_ = _mm512_add_epi64(base[g], cons[g]), by_ = _mm512_srli_epi64(p_, 3);                           \
        __m512i sh_ = _mm512_and_si512(p_, _mm512_set1_epi64(7));                                                  \
        __m512i l_ = _mm512_i64gather_epi64(by_, (const long long *)s, 1);                                         \
        __m512i h_ = _mm512_i64gather_epi64(by_, (const long long *)(s + 8), 1);                                   \
        buf[g] = _mm512_shrdv_epi64(l_, h_, sh_);                                                                  \
        nxt[g] = _mm512_srlv_epi64(h_, sh_);                                                                       \
        base[g] = p_;                                                                                              \
        cons[g] = zero;                                                                                            \
    }

/* 8x8 qwords: rows r[b] (block b: lane j's 8 exps at qword j) -> lane j's 64 exps */
static inline void transpose_store(const __m512i *r, lane *L, uint64_t k0) {
    __m512i t0 = _mm512_unpacklo_epi64(r[0], r[1]), t1 = _mm512_unpackhi_epi64(r[0], r[1]);
    __m512i t2 = _mm512_unpacklo_epi64(r[2], r[3]), t3 = _mm512_unpackhi_epi64(r[2], r[3]);
    __m512i t4 = _mm512_unpacklo_epi64(r[4], r[5]), t5 = _mm512_unpackhi_epi64(r[4], r[5]);
    __m512i t6 = _mm512_unpacklo_epi64(r[6], r[7]), t7 = _mm512_unpackhi_epi64(r[6], r[7]);
    __m512i u0 = _mm512_shuffle_i64x2(t0, t2, 0x88), u1 = _mm512_shuffle_i64x2(t0, t2, 0xDD);
    __m512i u2 = _mm512_shuffle_i64x2(t1, t3, 0x88), u3 = _mm512_shuffle_i64x2(t1, t3, 0xDD);
    __m512i u4 = _mm512_shuffle_i64x2(t4, t6, 0x88), u5 = _mm512_shuffle_i64x2(t4, t6, 0xDD);
    __m512i u6 = _mm512_shuffle_i64x2(t5, t7, 0x88), u7 = _mm512_shuffle_i64x2(t5, t7, 0xDD);
    _mm512_storeu_si512(L[0].o + k0, _mm512_shuffle_i64x2(u0, u4, 0x88));
    _mm512_storeu_si512(L[4].o + k0, _mm512_shuffle_i64x2(u0, u4, 0xDD));
    _mm512_storeu_si512(L[2].o + k0, _mm512_shuffle_i64x2(u1, u5, 0x88));
    _mm512_storeu_si512(L[6].o + k0, _mm512_shuffle_i64x2(u1, u5, 0xDD));
    _mm512_storeu_si512(L[1].o + k0, _mm512_shuffle_i64x2(u2, u6, 0x88));
    _mm512_storeu_si512(L[5].o + k0, _mm512_shuffle_i64x2(u2, u6, 0xDD));
    _mm512_storeu_si512(L[3].o + k0, _mm512_shuffle_i64x2(u3, u7, 0x88));
    _mm512_storeu_si512(L[7].o + k0, _mm512_shuffle_i64x2(u3, u7, 0xDD));
}

/* decode lanes L[0..8*NG) for S steps each (S a multiple of 64), exps to L[k].o[0..S); the lanes'
 * positions after S in pos_out[] */
static void simd_lanes(const tabs *T, const uint8_t *s, lane *L, uint64_t S, uint64_t *pos_out) {
    const __m512i t1a = _mm512_loadu_si512(T->t1), t1b = _mm512_loadu_si512(T->t1 + 32);
    const __m512i t2a = _mm512_loadu_si512(T->t2), t2b = _mm512_loadu_si512(T->t2 + 32);
    const __m512i zero = _mm512_setzero_si512();
    const __mmask32 kw = 0x11111111u;
    __m512i buf[NG], nxt[NG], cons[NG];
    __m512i base[NG], cst[NG]; /* read only at refills and re-taken steps */
    __m512i stage_r[NG][8];
    for (int g = 0; g < NG; g++) {
        uint64_t b0[8];
        for (int j = 0; j < 8; j++) b0[j] = L[g * 8 + j].begin;
        base[g] = _mm512_loadu_si512(b0);
        cons[g] = zero;
        REFILL(g)
    }
    for (uint64_t k = 0; k < S; k += 8) {
#pragma GCC unroll 8
        for (int g = 0; g < NG; g++) {
            if (_mm512_cmpgt_epu64_mask(cons[g], _mm512_set1_epi64(56))) REFILL(g)
            cst[g] = cons[g];
        }
        __m512i acc[NG];
#pragma GCC unroll 8
        for (int g = 0; g < NG; g++) acc[g] = zero;
#pragma GCC unroll 8
        for (int st = 0; st < 8; st++) {
#pragma GCC unroll 8
            for (int g = 0; g < NG; g++) {
                __m512i e1 = _mm512_maskz_permutex2var_epi16(kw, t1a, buf[g], t1b);
                __m512i e2 = _mm512_maskz_permutex2var_epi16(kw, t2a, _mm512_srli_epi64(buf[g], 6), t2b);
                __m512i e = _mm512_min_epu16(e1, e2);
                __m512i len = _mm512_srli_epi64(e, 8);
                buf[g] = _mm512_shrdv_epi64(buf[g], nxt[g], len);
                nxt[g] = _mm512_shrdv_epi64(nxt[g], zero, len);
                acc[g] = _mm512_shrdi_epi64(acc[g], e, 8);
                cons[g] = _mm512_add_epi64(cons[g], len);
            }
        }
#pragma GCC unroll 8
        for (int g = 0; g < NG; g++) {
            /* an escape (its length carries 0x80) or a window overrun: those lanes' 8 steps again,
             * exactly; an escape lane's window stays valid (the shift took the raw bits, mod 64) */
            __mmask8 kx = _mm512_cmpgt_epu64_mask(cons[g], _mm512_set1_epi64(120));
            if (__builtin_expect(kx, 0)) {
                uint64_t pos[8] __attribute__((aligned(64))), ex[8] __attribute__((aligned(64))), bs[8] __attribute__((aligned(64)));
                _mm512_store_si512(pos, _mm512_add_epi64(base[g], cst[g]));
                _mm512_store_si512(bs, base[g]);
                _mm512_store_si512(ex, acc[g]);
                uint64_t cn[8] __attribute__((aligned(64)));
                _mm512_store_si512(cn, cons[g]);
                int over = 0;
                for (int j = 0; j < 8; j++) {
                    if (!(kx >> j & 1)) continue;
                    uint8_t q8[8];
                    for (int q = 0; q < 8; q++) q8[q] = scalar_one(T, s, &pos[j]);
                    memcpy(&ex[j], q8, 8);
                    cn[j] = pos[j] - bs[j];
                    if (cn[j] > 120) over = 1;
                }
                n_redo++;
                acc[g] = _mm512_load_si512(ex);
                cons[g] = _mm512_load_si512(cn);
                if (over) REFILL(g) /* the window ran out: reload it at the lanes' positions */
            }
            stage_r[g][(k / 8) & 7] = acc[g];
        }
        if (((k / 8) & 7) == 7)
            for (int g = 0; g < NG; g++) transpose_store(stage_r[g], L + 8 * g, k - 56);
    }
    for (int g = 0; g < NG; g++) _mm512_storeu_si512(pos_out + 8 * g, _mm512_add_epi64(base[g], cons[g]));
}

/* whole blob -> out (bf16), with the tensor hash; 0 on success */
static int probe_decode(const uw_blob *b, const tabs *T, const uw_codec_kern *K, uint16_t *out, uint8_t *lanebuf) {
    const uint8_t *s = b->base + b->off_stream, *plane = b->base + b->off_plane;
    uint64_t nl = b->ntiles * b->lanes;
    size_t cap = (size_t)((b->tile_rows + b->lanes - 1) / b->lanes) * b->tile_cols + 64;
    /* every lane: its bits, its buffer, its count */
    static lane A[1 << 16];
    static uint64_t pos[1 << 16], done_[1 << 16], ord[1 << 16];
    for (uint64_t i = 0; i < nl; i++) {
        uint64_t t = i / b->lanes, r0, c0;
        uint32_t j = (uint32_t)(i % b->lanes), tr, tc;
        uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
        uw_lane_bits(b, t, j, &A[i].begin, &A[i].end);
        A[i].n = (uint64_t)(uw_lane_row_begin(tr, b->lanes, j + 1) - uw_lane_row_begin(tr, b->lanes, j)) * tc;
        A[i].o = lanebuf + cap * i;
        pos[i] = A[i].begin;
        done_[i] = 0;
    }
    /* rounds: lanes with 64+ exponents left, longest first, in sets of 32 (dummies fill the last) */
    for (;;) {
        uint64_t m = 0;
        for (uint64_t i = 0; i < nl; i++)
            if (A[i].n - done_[i] >= 64) ord[m++] = (A[i].n - done_[i]) << 24 | i;
        if (!m) break;
        for (uint64_t i = 1; i < m; i++) { uint64_t x = ord[i], k = i; while (k > 0 && ord[k - 1] < x) { ord[k] = ord[k - 1]; k--; } ord[k] = x; }
        for (uint64_t l0 = 0; l0 < m; l0 += 8 * NG) {
            lane L[8 * NG];
            uint64_t cnt = m - l0 < 8 * NG ? m - l0 : 8 * NG, mn = ~(uint64_t)0, id[8 * NG], po[8 * NG];
            for (uint64_t i = 0; i < cnt; i++) {
                id[i] = ord[l0 + i] & 0xFFFFFF;
                L[i].begin = pos[id[i]];
                L[i].o = A[id[i]].o + done_[id[i]];
                uint64_t r = A[id[i]].n - done_[id[i]];
                if (r < mn) mn = r;
            }
            for (uint64_t i = cnt; i < 8 * NG; i++) { L[i] = L[0]; L[i].o = lanebuf + cap * (nl + 1); }
            uint64_t S = mn / 64 * 64;
            { double q0 = now(); simd_lanes(T, s, L, S, po); t_simd += now() - q0; n_simd += S * 8 * NG; }
            for (uint64_t i = 0; i < cnt; i++) pos[id[i]] = po[i], done_[id[i]] += S;
        }
    }
    for (uint64_t i = 0; i < nl; i++) {
        for (uint64_t q = done_[i]; q < A[i].n; q++) A[i].o[q] = scalar_one(T, s, &pos[i]);
        if (pos[i] > A[i].end) return 1;
        uint64_t t = i / b->lanes, r0, c0;
        uint32_t j = (uint32_t)(i % b->lanes), tr, tc;
        uw_tile_rect(b, t, &r0, &tr, &c0, &tc);
        uint32_t ra = uw_lane_row_begin(tr, b->lanes, j), rz = uw_lane_row_begin(tr, b->lanes, j + 1);
        for (uint32_t r = ra; r < rz; r++)
            K->merge(out + (r0 + r) * b->cols + c0, plane + (r0 + r) * b->cols + c0, A[i].o + (size_t)(r - ra) * tc, tc);
    }
    return XXH3_64bits(out, b->n * 2) != b->tensor_hash;
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: order1_probe MODEL.safetensors [repeat]\n"), 2;
    int R = argc > 2 ? atoi(argv[2]) : 5;
    uw_file *f;
    if (uw_file_open(argv[1], &f)) return fprintf(stderr, "order1_probe: %s: %s\n", argv[1], uw_last_error()), 1;
    const uw_codec_kern *K;
    if (uw_codec_kern_get(&K)) return fprintf(stderr, "order1_probe: %s\n", uw_last_error()), 1;
    double t2 = 0, t1 = 0, tp = 0, bytes = 0, all_bytes = 0, all1 = 0, all2 = 0;
    int nt = 0, nall = 0;
    uint16_t *out = malloc(64 << 20);
    uint8_t *lanebuf = aligned_alloc(64, 64 << 20);
    if (!out || !lanebuf) return fprintf(stderr, "order1_probe: out of memory\n"), 1;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info ti;
        const void *d;
        size_t sz;
        if (uw_file_tensor_info(f, i, &ti) || uw_file_tensor_data(f, i, &d, &sz)) return fprintf(stderr, "order1_probe: %s\n", uw_last_error()), 1;
        if (!strstr(ti.name, "mlp") || ti.ndim != 2 || strcmp(ti.dtype, "BF16") || ti.compressed || ti.orig_bytes > (32u << 20)) continue;
        const uint16_t *w = d;
        uint64_t rows = ti.shape[0], cols = ti.shape[1], n = rows * cols;
        uw_encode_params p;
        uw_encode_params_default(&p);
        p.threads = 1;
        uint8_t *o2, *o1;
        size_t s2, s1;
        if (uw_tensor_encode(w, rows, cols, &p, &o2, &s2)) return fprintf(stderr, "order1_probe: %s\n", uw_last_error()), 1;
        p.sym_order = 1;
        if (uw_tensor_encode(w, rows, cols, &p, &o1, &s1)) return fprintf(stderr, "order1_probe: %s\n", uw_last_error()), 1;
        all_bytes += n * 2.0, all1 += s1, all2 += s2, nall++;
        uint8_t *o1p = aligned_alloc(64, uw_align_up(s1 + 64, 64)); /* slack: the probe's 16-byte loads past the stream */
        if (!o1p) return fprintf(stderr, "order1_probe: out of memory\n"), 1;
        memcpy(o1p, o1, s1);
        memset(o1p + s1, 0, 64);
        uw_blob b;
        tabs T;
        if (uw_blob_parse(o1p, s1, &b)) return fprintf(stderr, "order1_probe: %s: %s\n", ti.name, uw_last_error()), 1;
        if (build(&b, &T) && b.ntiles * b.lanes < (1u << 16)) {
            double best2 = 1e9, best1 = 1e9, bestp = 1e9;
            for (int r = 0; r <= R; r++) { /* the three decoders alternated; the first round warms up */
                double a = now();
                if (uw_blob_decode(o2, s2, out, n, 1)) return fprintf(stderr, "order1_probe: %s\n", uw_last_error()), 1;
                double bb = now();
                if (uw_blob_decode(o1p, s1, out, n, 1)) return fprintf(stderr, "order1_probe: %s\n", uw_last_error()), 1;
                double c = now();
                memset(out, 0, n * 2);
                double c0 = now();
                build(&b, &T); /* timed: the library builds its tables per call too */
                if (probe_decode(&b, &T, K, out, lanebuf)) return fprintf(stderr, "order1_probe: %s: checksum mismatch\n", ti.name), 1;
                double e = now();
                if (memcmp(out, w, n * 2)) return fprintf(stderr, "order1_probe: %s: output differs\n", ti.name), 1;
                if (r) {
                    if (bb - a < best2) best2 = bb - a;
                    if (c - bb < best1) best1 = c - bb;
                    if (e - c0 < bestp) bestp = e - c0;
                }
            }
            t2 += best2, t1 += best1, tp += bestp, bytes += n * 2.0, nt++;
        }
        uw_free(o1);
        uw_free(o2);
        free(o1p);
    }
    printf("%d MLP tensors, %.1f MB of BF16: blob bits/weight order-2 (the default) %.4f, order-1 %.4f (%+.2f%%)\n", nall, all_bytes / 1e6,
           all2 * 8 / (all_bytes / 2), all1 * 8 / (all_bytes / 2), 100 * (all1 / all2 - 1));
    printf("%d of them covered by the probe (%.1f MB); decode, 1 thread, GB/s of BF16, best of %d, same run:\n", nt, bytes / 1e6, R);
    if (nt)
        printf("  library, order-2 blobs %.3f | library, order-1 blobs %.3f | probe (registers), order-1 blobs %.3f\n"
               "  probe's lane loop %.3f ns per exponent (steps re-taken exactly %ld, window refills %ld)\n",
               bytes / t2 / 1e9, bytes / t1 / 1e9, bytes / tp / 1e9, t_simd * 1e9 / n_simd, n_redo, n_refill);
    uw_file_close(f);
    free(out);
    free(lanebuf);
    return 0;
}
