/* test_cuda_host_gemv.cu - the GEMV family's building blocks (backends/cuda/uw_gemv.cuh), run on
 * the CPU: they are __host__ __device__, so the very code the kernel runs is checked here without
 * a GPU (label cuda). The kernel as a whole runs on HIP-CPU (ctest -L hip, the GEMV tests there).
 *   1. the work decomposition: the units split the steps in order and evenly (the two of a scheduler
 *      too), and the sums the kernel forms (a unit's band written whole, the CTAs' folds of their
 *      units' slots, the fixed-order sums of bands CTAs share) write every band once, in the order
 *      uw_gemv.cuh states, for the Llama MLP shapes and odd ones and any grid size;
 *   2. the branch-free order-2 lane reader, with the GEMV table built from the resident table,
 *      decodes every lane of Huffman forms re-encoded as uploads do (64x256 tiles, 64 lanes,
 *      order 2, escapes) to the original exponents, escapes to 0 (the patch list's), from a
 *      16-byte-aligned copy as the kernel stages it;
 *   3. the join of exponents and plane bytes and the palette lookup by prmt give uw_bf16_join's
 *      BF16 for every input tried (random words; every palette index with random palettes). */
#include "../backends/cuda/cuda_internal.h"
#include "../backends/cuda/uw_gemv.cuh"
#include "test_util.h"

#include <string>
#include <vector>

using namespace UW_GPU_NS;

/* ---------------------------------------------------------------- 1. decomposition -------- */

/* the sum the kernel forms for band b, as text: a unit's own sums "u7", the units of one CTA
 * "(u3+u4)", the CTAs' sums in order "[(u3+u4)|(u5)]" */
static void expect_sum(const uw_gv_grid &g, uint32_t b, std::string *out) {
    std::string s;
    uint32_t prev_c = ~0u, ctas = 0, units = 0;
    for (uint32_t u = 0; u < g.U; u++) {
        const uint32_t sb = uw_gv_unit_begin(g, u), se = uw_gv_unit_begin(g, u + 1);
        if (sb == se || se <= b * g.nbs || sb >= (b + 1) * g.nbs) continue;
        const uint32_t c = u / UW_GV_UNITS;
        if (c != prev_c) s += std::string(ctas ? ")|(" : "(");
        else s += "+";
        s += "u" + std::to_string(u);
        ctas += c != prev_c;
        units++;
        prev_c = c;
    }
    s += ")";
    *out = units == 1 ? s.substr(1, s.size() - 2) : ctas > 1 ? "[" + s + "]" : s;
}

static void check_decomposition(uint32_t rows, uint32_t cols, uint32_t G) {
    const uw_gv_grid g = uw_gv_grid_of(rows, cols, G);
    int bad = 0;
    /* units partition the steps, in order, within one step of each other; uw_gv_unit_of inverts them;
     * the two warps of a scheduler hold at most ceil(2S/U) steps */
    const uint32_t most = uw_gv_div_up(g.S, g.U), pair = (uint32_t)((2ull * g.S + g.U - 1) / g.U);
    for (uint32_t u = 0; u < g.U && !bad; u++) {
        const uint32_t sb = uw_gv_unit_begin(g, u), se = uw_gv_unit_begin(g, u + 1);
        if (se < sb || se - sb > most || se - sb + 1 < most) bad = 1;
        for (uint32_t s = sb; s < se && !bad; s++) bad = uw_gv_unit_of(g, s) != u;
        if (u % 2 == 0 && uw_gv_unit_begin(g, u + 2) - sb > pair) bad = 1;
    }
    if (uw_gv_unit_begin(g, 0) != 0 || uw_gv_unit_begin(g, g.U) != g.S) bad = 1;
    for (uint32_t w = 0; w < 8; w++) /* warps w and w + 4 share a scheduler and run units 2k, 2k + 1 */
        if (uw_gv_unit_of_warp(w) / 2 != w % 4 || uw_gv_unit_of_warp(w) % 2 != w / 4) bad = 1;
    CHECK(!bad, "%ux%u over %u CTAs: units split the %u steps in order, none more than one step above another, two per "
                "scheduler at most %u", rows, cols, G, g.S, pair);

    /* the sums as the kernel forms them (a unit's bands held whole; each CTA's folds; the CTAs' sums
     * of shared bands) against the order uw_gemv.cuh states */
    std::vector<std::string> got(g.bands);
    std::vector<int> writes(g.bands, 0);
    for (uint32_t u = 0; u < g.U; u++) {
        const uint32_t sb = uw_gv_unit_begin(g, u), se = uw_gv_unit_begin(g, u + 1);
        if (sb == se) continue;
        for (uint32_t b = sb / g.nbs; b <= (se - 1) / g.nbs; b++)
            if (b * g.nbs >= sb && (b + 1) * g.nbs <= se) got[b] = "u" + std::to_string(u), writes[b]++;
        /* a unit's shared bands: its first in slot 0, its last (another band) in slot 1 */
        const uint32_t fb = sb / g.nbs, lb = (se - 1) / g.nbs;
        if (uw_gv_unit_slot(g, u, fb) != 0 || (lb != fb && uw_gv_unit_slot(g, u, lb) != 1)) bad = 1;
    }
    std::vector<std::string> cta_sum(g.bands * (size_t)G);
    for (uint32_t c = 0; c < G; c++) {
        uint32_t prev = ~0u, cross = 0;
        const uint32_t bc = uw_gv_unit_begin(g, c * UW_GV_UNITS), ec = uw_gv_unit_begin(g, (c + 1) * UW_GV_UNITS);
        for (uint32_t k = 0; k <= UW_GV_UNITS; k++) {
            uw_gv_fold f;
            if (!uw_gv_fold_at(g, c, k, &f) || f.band == prev) continue;
            if (prev != ~0u && f.band < prev) bad = 1;
            prev = f.band;
            std::string s = "(";
            for (uint32_t u = f.u0; u <= f.u1; u++) {
                const uint32_t sb = uw_gv_unit_begin(g, u), se = uw_gv_unit_begin(g, u + 1);
                if (sb == se) continue;
                if (u / UW_GV_UNITS != c || se <= f.band * g.nbs || sb >= (f.band + 1) * g.nbs) bad = 1;
                const uint32_t sl = uw_gv_unit_slot(g, u, f.band); /* the band is that unit's first (0) or last (1) */
                if ((sl == 0 && sb / g.nbs != f.band) || (sl == 1 && (se - 1) / g.nbs != f.band)) bad = 1;
                s += (s.size() > 1 ? "+u" : "u") + std::to_string(u);
            }
            s += ")";
            if (!f.cross) {
                got[f.band] = s, writes[f.band]++;
            } else {
                cross++;
                /* the CTA's shared bands: its first in slot 0, its last in slot 1 */
                const uint32_t cs = uw_gv_cta_slot(g, c, f.band);
                if ((cs == 0) != (f.band == bc / g.nbs) || (cs == 1 && f.band != (ec - 1) / g.nbs)) bad = 1;
                cta_sum[(size_t)f.band * G + c] = s;
            }
        }
        if (cross > 2) bad = 1;
    }
    for (uint32_t b = 0; b < g.bands; b++) {
        uint32_t c0, c1;
        uw_gv_band_ctas(g, b, &c0, &c1);
        if (c0 == c1) continue;
        std::string s = "[";
        for (uint32_t c = c0; c <= c1; c++) {
            if (uw_gv_unit_begin(g, c * UW_GV_UNITS) == uw_gv_unit_begin(g, (c + 1) * UW_GV_UNITS)) continue;
            if (cta_sum[(size_t)b * G + c].empty()) bad = 1;
            s += (s.size() > 1 ? "|" : "") + cta_sum[(size_t)b * G + c];
        }
        got[b] = s + "]", writes[b]++;
    }
    for (uint32_t b = 0; b < g.bands && !bad; b++) {
        std::string want;
        expect_sum(g, b, &want);
        if (writes[b] != 1 || got[b] != want) {
            bad = 1;
            fprintf(stderr, "band %u: written %d times, summed %s, want %s\n", b, writes[b], got[b].c_str(), want.c_str());
        }
    }
    CHECK(!bad, "%ux%u over %u CTAs: every band written once, its units' sums added per CTA then over CTAs, in order", rows, cols, G);
}

/* ---------------------------------------------------------------- 2. lane reader ---------- */

static void check_lanes(const char *what, const uint16_t *w, uint32_t rows, uint32_t cols) {
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    ep.codec = UW_CODEC_HUFFMAN, ep.tile_rows = 64, ep.tile_cols = 256, ep.lanes = 64, ep.sym_order = 2;
    ep.rare_mode = UW_RARE_ESCAPE;
    uint8_t *blob = NULL;
    size_t size = 0;
    uw_blob b;
    if (uw_tensor_encode(w, rows, cols, &ep, &blob, &size) != UW_OK) {
        CHECK(0, "%s: encode", what);
        return;
    }
    uint8_t *bytes = (uint8_t *)calloc(1, size + 64); /* + zero look-ahead, as on the device */
    memcpy(bytes, blob, size);
    CHECK_OK(uw_blob_parse(bytes, size, &b), "%s: parse", what);
    CHECK(b.order == 2 && b.tile_cols == 256 && b.lanes == 64, "%s: the GEMV form (order %u)", what, b.order);
    uint32_t *tab = (uint32_t *)malloc((size_t)UW_DT_BYTES << b.maxlen), *gtab = (uint32_t *)malloc(4u << b.maxlen);
    uw_dtab_build(&b, tab);
    for (uint32_t i = 0; i < 1u << b.maxlen; i++) gtab[i] = uw_gv_entry(tab[i]);
    uint8_t regular[256] = {0};
    for (uint32_t i = 0; i < b.nregular; i++) regular[b.palette[i]] = 1;
    uint8_t *stage = (uint8_t *)malloc(UW_GV_STREAM_CAP + 64);
    const uint64_t *tb = (const uint64_t *)(bytes + b.off_tilebase);
    const uint32_t *lo = (const uint32_t *)(bytes + b.off_laneoff);
    const uint64_t T = b.tiles_r * b.tiles_c;
    int bad = 0;
    uint64_t escapes = 0;
    for (uint64_t t = 0; t < T && !bad; t++) {
        const uint32_t band = (uint32_t)(t / b.tiles_c), kt = (uint32_t)(t % b.tiles_c);
        const uint32_t tr = rows - band * 64 < 64 ? rows - band * 64 : 64;
        const uint64_t e_t = t + 1 < T ? tb[t + 1] : b.count;
        for (uint32_t r = 0; r < tr && !bad; r++) {
            const uint32_t j = uw_gv_lane_of_row(r, tr);
            const uint64_t lb = j ? lo[t * 63 + j - 1] : 0, le = j + 1 < 64 ? lo[t * 63 + j] : (e_t - tb[t]) * 8;
            /* the kernel's copy: the 16-byte-aligned bytes around the lane's bits, 8 bytes more */
            const uint32_t n = uw_gv_seg_bytes(b.off_stream, tb[t], lb, le);
            const uint64_t g0 = (b.off_stream + tb[t] + lb / 8) & ~(uint64_t)15;
            memset(stage, 0xA5, UW_GV_STREAM_CAP + 64);
            memcpy(stage, bytes + g0, n <= size + 64 - g0 ? n : size + 64 - g0);
            uint32_t E[8] = {0};
#ifndef __CUDA_ARCH__ /* (nvcc's device pass sees the shared-window address type) */
            uw_gv_lane lane;
            lane.init(stage, (uint32_t)((b.off_stream + tb[t]) * 8 + lb - g0 * 8));
#endif
            for (uint32_t ch = 0; ch < 8 && !bad; ch++) {
#ifndef __CUDA_ARCH__
                lane.chunk((const uint8_t *)gtab, (1u << b.maxlen) - 1, E);
#endif
                for (uint32_t k = 0; k < 32 && !bad; k++) {
                    const uint32_t c = kt * 256 + ch * 32 + k;
                    if (c >= cols) break;
                    const uint32_t want = (w[(uint64_t)(band * 64 + r) * cols + c] >> 7) & 0xFFu, got = (E[k / 4] >> (8 * (k % 4))) & 0xFFu;
                    escapes += !regular[want];
                    if (got != (regular[want] ? want : 0u)) {
                        bad = 1;
                        fprintf(stderr, "%s: tile %llu row %u column %u: exponent %u, want %u\n", what, (unsigned long long)t, r, c, got,
                                want);
                    }
                }
            }
        }
    }
    CHECK(!bad, "%s %ux%u: every lane read back to its exponents (%llu escapes read as 0)", what, rows, cols,
          (unsigned long long)escapes);
    free(tab), free(gtab), free(stage), free(bytes), free(blob);
}

/* ---------------------------------------------------------------- 3. join ----------------- */

static void check_join(void) {
    int bad = 0;
    for (int it = 0; it < 100000 && !bad; it++) {
        const uint32_t E4 = (uint32_t)t_rand(), P4 = (uint32_t)t_rand();
        uint32_t o[2];
        uw_gv_join4(E4, P4, &o[0], &o[1]);
        for (int k = 0; k < 4; k++)
            bad |= ((o[k / 2] >> (16 * (k % 2))) & 0xFFFFu) != uw_bf16_join((uint8_t)(P4 >> (8 * k)), (uint8_t)(E4 >> (8 * k)));
    }
    CHECK(!bad, "join4: four BF16 from four exponents and plane bytes, as uw_bf16_join");
    bad = 0;
    for (int it = 0; it < 2000 && !bad; it++) {
        uint8_t pal[16];
        for (int i = 0; i < 16; i++) pal[i] = (uint8_t)t_rand();
        const uw_gv_paltab pt = uw_gv_paltab_of(pal);
        for (uint32_t idx = 0; idx < 65536 && !bad; idx += 1 + (uint32_t)(t_rand() % 7)) {
            const uint32_t P4 = (uint32_t)t_rand();
            uint32_t o[2];
            uw_gv_pal4(pt, idx, P4, &o[0], &o[1]);
            for (int k = 0; k < 4; k++)
                bad |= ((o[k / 2] >> (16 * (k % 2))) & 0xFFFFu) != uw_bf16_join((uint8_t)(P4 >> (8 * k)), pal[(idx >> (4 * k)) & 15]);
        }
    }
    CHECK(!bad, "pal4: four BF16 from four palette indices (two 8-entry prmt lookups) and plane bytes, as uw_bf16_join");
}

int main(void) {
    static const uint32_t shapes[][2] = {{14336, 4096}, {4096, 14336}, {1000, 2048}, {80, 4096}, {2048, 512}, {200, 320}, {64, 32}, {33, 96}};
    static const uint32_t grids[] = {1, 3, 4, 7, 16, 132, 304};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) check_decomposition(shapes[s][0], shapes[s][1], grids[g]);
    static const uint32_t lshapes[][2] = {{64, 256}, {200, 320}, {130, 800}, {37, 64}};
    static const char *cases[] = {"gauss", "rare_0p2pct", "spread40", "all_exponents"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof lshapes / sizeof lshapes[0]; s++) {
            const uint32_t rows = lshapes[s][0], cols = lshapes[s][1];
            uint16_t *w = (uint16_t *)malloc((size_t)rows * cols * 2);
            t_fill(cases[c], w, (uint64_t)rows * cols, cols);
            check_lanes(cases[c], w, rows, cols);
            free(w);
        }
    check_join();
    T_DONE();
}
