/* test_cuda_host_decode.cu - the CUDA backend's tile reconstruction, run on the CPU. The steps the
 * kernels use to bring a 64 x C W tile on chip (uw_kern_common.cuh: band/tile geometry, the
 * LSB-first bit reader, the lane decoder, the shared-memory stage plan, the palette fill with its
 * exceptions, the exponent + plane join into the generic padded layout and into the Hopper
 * 128-byte-swizzled layout) are __host__ __device__, so this test runs the very same code on the
 * host, with the device decode table built as on upload, over the golden vectors and edge-case
 * tensors re-encoded in the backend's geometries, and checks every tile bit for bit against the
 * original weights. Needs no GPU (label cuda, built with UW_CUDA=ON). With --tmap-alignment it checks
 * instead where resident weights keep their tensor maps (below). */
#include <dirent.h>

#include "../backends/cuda/cuda_internal.h"
#include "test_util.h"

static uint16_t at(const uint16_t *w, uint64_t cols, uint64_t rows, uint64_t r, uint64_t c) {
    return r < rows && c < cols ? w[r * cols + c] : 0;
}

/* callbacks for the __host__ __device__ steps (functors, not host lambdas: nvcc wants the call
 * operator __host__ __device__ too; these only ever run on the host) */
struct stage_copy {
    uint8_t *stage;
    const uint8_t *bytes;
    int *staged;
    __host__ __device__ void operator()(uint32_t, uint32_t off, uint64_t src, uint32_t len) const {
#ifndef __CUDA_ARCH__
        memcpy(stage + off, bytes + src, len);
        (*staged)++;
#endif
    }
};
struct store_padded { /* generic kernel layout: [64][C + 8] BF16 */
    uint16_t *W;
    uint32_t ldW;
    __host__ __device__ void operator()(uint32_t r, uint32_t c, uint4 v) const { memcpy(W + r * ldW + c, &v, 16); }
};
struct store_swizzled { /* Hopper W slot */
    uint8_t *slot;
    __host__ __device__ void operator()(uint32_t r, uint32_t c, uint4 v) const { memcpy(slot + uw_wslot_off(r, c), &v, 16); }
};
struct no_barrier {
    __host__ __device__ void operator()() const {}
};

typedef struct form {
    uint8_t *bytes; /* blob + 64 zero bytes, as on the device */
    uw_blob b;
} form;

static int make_form(const uint8_t *blob, size_t size, form *f) {
    f->bytes = (uint8_t *)calloc(1, size + 64);
    memcpy(f->bytes, blob, size);
    return uw_blob_parse(f->bytes, size, &f->b) == UW_OK;
}

/* every band x k-step of a Huffman form: stage or not, generic and swizzled layouts */
static void check_huffman(const char *what, const uint16_t *w, uint64_t rows, uint64_t cols, const form *h, uint32_t stage_cap) {
    const uw_blob *b = &h->b;
    uint32_t *tab = (uint32_t *)malloc((size_t)UW_DT_BYTES << b->maxlen);
    uw_dtab_build(b, tab);
    uw_kparams p;
    memset(&p, 0, sizeof p);
    p.rows = (uint32_t)rows, p.cols = (uint32_t)cols, p.R = b->tile_rows, p.C = b->tile_cols, p.lanes = b->lanes;
    p.Q = UW_BAND / p.R, p.tiles_r = (uint32_t)b->tiles_r, p.tiles_c = (uint32_t)b->tiles_c;
    p.blob = h->bytes, p.off_tilebase = b->off_tilebase, p.off_laneoff = b->off_laneoff, p.off_stream = b->off_stream;
    p.stream_bytes = b->count, p.table = tab, p.tab_bits = b->maxlen, p.order = b->order, p.rare_mode = b->rare_mode;
    p.chunk = b->chunk, p.plane = h->bytes + b->off_plane;
    const uint32_t C = p.C, ldE = C + 4, ldP = C + 16, ldW = C + 8;
    uint8_t *E = (uint8_t *)malloc(UW_BAND * ldE), *P = (uint8_t *)malloc(UW_BAND * ldP);
    uint8_t *stage = (uint8_t *)malloc(stage_cap ? stage_cap : 16);
    uint16_t *W = (uint16_t *)malloc(UW_BAND * ldW * 2);
    uint8_t *slot = (uint8_t *)malloc(UW_BAND * C * 2);
    uint32_t bands = (uint32_t)((rows + UW_BAND - 1) / UW_BAND), kts = (uint32_t)b->tiles_c;
    int bad = 0, errs = 0, staged = 0, fallback = 0;
    for (uint32_t band = 0; band < bands && !bad; band++)
        for (uint32_t kt = 0; kt < kts && !bad; kt++) {
            uw_step s = uw_step_of(p, band, kt);
            for (uint32_t r = 0; r < s.valid; r++) memcpy(P + r * ldP, p.plane + (uint64_t)(s.r0 + r) * cols + s.c0, s.tc);
            for (int use_stage = 0; use_stage < 2 && !bad; use_stage++) {
                const uint8_t *st = NULL;
                if (use_stage) { /* what the producer copies: 16-byte-aligned ranges, or global fallback */
                    memset(stage, 0xA5, stage_cap);
                    uw_stage_plan(p, band, kt, stage_cap, stage_copy{stage, h->bytes, &staged});
                    for (uint32_t q = 0; q < p.Q; q++) fallback += uw_band_tile(p, band, q, kt).tr != 0;
                    st = stage;
                }
                memset(E, 0xEE, UW_BAND * ldE);
                uint32_t err = 0;
                for (uint32_t tid = 0; tid < UW_BAND; tid++) err |= uw_decode_band(p, tab, band, kt, tid, st, stage_cap, E, ldE);
                errs += err != 0;
                memset(W, 0xCD, UW_BAND * ldW * 2);
                uw_join_tile(s, C, E, ldE, P, ldP, 0, 1, store_padded{W, ldW});
                uw_join_tile(s, C, E, ldE, P, ldP, 0, 1, store_swizzled{slot});
                for (uint32_t r = 0; r < UW_BAND && !bad; r++)
                    for (uint32_t c = 0; c < C && !bad; c++) {
                        uint16_t want = at(w, cols, rows, s.r0 + r, (uint64_t)s.c0 + c), sw;
                        memcpy(&sw, slot + uw_wslot_off(r, c & ~7u) + 2 * (c & 7), 2);
                        if (W[r * ldW + c] != want || sw != want) {
                            bad = 1;
                            fprintf(stderr, "%s: band %u step %u (stage %d) element (%u,%u): got %04x/%04x want %04x\n", what, band, kt,
                                    use_stage, r, c, W[r * ldW + c], sw, want);
                        }
                    }
            }
        }
    CHECK(!bad && !errs, "%s: every W tile rebuilt bit for bit from the Huffman form (%d tiles staged of %d, %d error flags)", what,
          staged, fallback, errs);
    free(tab), free(E), free(P), free(stage), free(W), free(slot);
}

static void check_palette(const char *what, const uint16_t *w, uint64_t rows, uint64_t cols, const form *f) {
    const uw_blob *b = &f->b;
    uw_kparams p;
    memset(&p, 0, sizeof p);
    p.rows = (uint32_t)rows, p.cols = (uint32_t)cols, p.R = b->tile_rows, p.C = b->tile_cols, p.lanes = 1;
    p.Q = UW_BAND / p.R, p.tiles_r = (uint32_t)b->tiles_r, p.tiles_c = (uint32_t)b->tiles_c;
    p.nib = f->bytes + b->off_nibbles, p.plane = f->bytes + b->off_plane;
    p.excidx = (const uint64_t *)(f->bytes + b->off_excidx), p.exc = (const uint32_t *)(f->bytes + b->off_exc);
    p.nregular = b->nregular;
    memcpy(p.palette, b->palette, 16);
    const uint32_t C = p.C, ldE = C + 4, ldP = C + 16, ldn = C / 2 + 16, ldW = C + 8;
    uint8_t *E = (uint8_t *)malloc(UW_BAND * ldE), *P = (uint8_t *)malloc(UW_BAND * ldP), *N = (uint8_t *)malloc(UW_BAND * ldn);
    uint16_t *W = (uint16_t *)malloc(UW_BAND * ldW * 2);
    uint32_t bands = (uint32_t)((rows + UW_BAND - 1) / UW_BAND), kts = (uint32_t)b->tiles_c;
    int bad = 0, errs = 0;
    for (uint32_t band = 0; band < bands && !bad; band++)
        for (uint32_t kt = 0; kt < kts && !bad; kt++) {
            uw_step s = uw_step_of(p, band, kt);
            for (uint32_t r = 0; r < s.valid; r++) {
                uint64_t g0 = (uint64_t)(s.r0 + r) * cols + s.c0;
                memcpy(P + r * ldP, p.plane + g0, s.tc);
                if (cols % 2 == 0) memcpy(N + r * ldn, p.nib + g0 / 2, (s.tc + 1) / 2);
            }
            for (int staged = 0; staged < 1 + (cols % 2 == 0) && !bad; staged++) {
                memset(E, 0xEE, UW_BAND * ldE);
                uint32_t err = uw_palette_band(p, band, kt, 0, 1, staged ? N : NULL, ldn, E, ldE, no_barrier{});
                errs += err != 0;
                uw_join_tile(s, C, E, ldE, P, ldP, 0, 1, store_padded{W, ldW});
                for (uint32_t r = 0; r < UW_BAND && !bad; r++)
                    for (uint32_t c = 0; c < C && !bad; c++)
                        if (W[r * ldW + c] != at(w, cols, rows, s.r0 + r, (uint64_t)s.c0 + c)) {
                            bad = 1;
                            fprintf(stderr, "%s: palette band %u step %u (%u,%u) got %04x\n", what, band, kt, r, c, W[r * ldW + c]);
                        }
            }
        }
    CHECK(!bad && !errs, "%s: every W tile rebuilt bit for bit from the palette IR (%d error flags)", what, errs);
    free(E), free(P), free(N), free(W);
}

/* encode w in the backend's geometry R x C / lanes (with the given codec choices) and check */
static void check_geometry(const char *name, const uint16_t *w, uint64_t rows, uint64_t cols, uint32_t R, uint32_t C, uint32_t lanes,
                           int rare, int order, uint32_t chunk) {
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    ep.tile_rows = R, ep.tile_cols = C, ep.lanes = lanes, ep.rare_mode = rare, ep.sym_order = order, ep.chunk_len = chunk;
    uint8_t *blob;
    size_t bs;
    char what[256];
    snprintf(what, sizeof what, "%s %llux%llu tiles %ux%u/%u rare %d order %d chunk %u", name, (unsigned long long)rows,
             (unsigned long long)cols, R, C, lanes, rare, order, chunk);
    if (uw_tensor_encode(w, rows, cols, &ep, &blob, &bs) != UW_OK) {
        /* a forced mode may not apply to this tensor (e.g. escape with one exponent) */
        printf("skip %s: %s\n", what, uw_last_error());
        return;
    }
    form h;
    CHECK(make_form(blob, bs, &h), "%s: parse", what);
    uw_blob_info bi;
    uw_blob_inspect(blob, bs, &bi);
    /* a stage as large as the Hopper kernel's, and a tiny one (every tile from global memory) */
    check_huffman(what, w, rows, cols, &h, UW_BAND * C * 3 / 4 + 64);
    check_huffman(what, w, rows, cols, &h, 64);
    uint8_t *pal;
    size_t ps;
    CHECK_OK(uw_blob_to_palette(blob, bs, &pal, &ps), "%s: to palette", what);
    form pf;
    CHECK(make_form(pal, ps, &pf), "%s: parse palette", what);
    check_palette(what, w, rows, cols, &pf);
    free(h.bytes), free(pf.bytes);
    uw_free(pal);
    uw_free(blob);
}

/* --tmap-alignment: resident weights keep their tensor map (the TMA descriptor the Hopper kernel
 * reads) at the alignment cuTensorMapEncodeTiled requires, and the encoder wrapper refuses
 * misaligned storage before calling the encoder (calloc'd weights had 16-byte-aligned maps) */
static int encoder_called;
static int fake_encoder(void) { return encoder_called = 1; }
static void tmap_alignment(void) {
    cu_weights *w[32];
    for (int i = 0; i < 32; i++) {
        w[i] = uw_cu_weights_new();
        CHECK(w[i] && (uintptr_t)&w[i]->tmap_w % 64 == 0 && (uintptr_t)&w[i]->tmap_w % alignof(uw_gpu_tmap) == 0,
              "weights %d: tensor map at %p is %zu-byte aligned", i, w[i] ? (void *)&w[i]->tmap_w : NULL, alignof(uw_gpu_tmap));
        CHECK(w[i] && !w[i]->huff && !w[i]->has_tmap_w && !w[i]->n, "weights %d start zeroed", i);
    }
    for (int i = 0; i < 32; i++) uw_cu_weights_free(w[i]);
    cu_ctx *c = (cu_ctx *)calloc(1, sizeof(cu_ctx));
    c->tmap_encode = (void *)fake_encoder;
    uint8_t *buf = (uint8_t *)aligned_alloc(256, 512);
    uw_status s = uw_cu_tmap_2d(c, (uw_gpu_tmap *)(buf + 16), buf, 64, 64, 128, 64, 64);
    CHECK(s == UW_ERR_BACKEND && !encoder_called, "a 16-byte-aligned tensor map is refused before the encoder runs (status %d)", (int)s);
    free(buf);
    free(c);
    printf("tensor maps: resident storage aligned to %zu bytes; misaligned storage refused\n", alignof(uw_gpu_tmap));
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--tmap-alignment")) {
        tmap_alignment();
        T_DONE();
    }
    static const uint32_t geos[][3] = {{64, 256, 64}, {32, 128, 8}, {16, 64, 5}, {64, 64, 1}};
    /* the golden vectors (their decoded weights), re-encoded as the backend does on upload */
    int ngold = 0;
    if (argc > 1) {
        char path[2048], line[4096];
        snprintf(path, sizeof path, "%s/manifest.tsv", argv[1]);
        FILE *m = fopen(path, "r");
        CHECK(m != NULL, "manifest %s", path);
        while (m && fgets(line, sizeof line, m)) {
            char file[512];
            unsigned long long rows, cols, want;
            if (line[0] == '#' || sscanf(line, "%511s %llu %llu %llx", file, &rows, &cols, &want) != 4) continue;
            snprintf(path, sizeof path, "%s/%s", argv[1], file);
            FILE *f = fopen(path, "rb");
            if (!f) continue;
            fseek(f, 0, SEEK_END);
            long sz = ftell(f);
            fseek(f, 0, SEEK_SET);
            uint8_t *blob = (uint8_t *)malloc((size_t)sz);
            size_t got = fread(blob, 1, (size_t)sz, f);
            fclose(f);
            uint16_t *w = (uint16_t *)malloc(rows * cols * 2);
            uw_blob_info bi;
            if (got == (size_t)sz && uw_blob_decode(blob, got, w, rows * cols, 1) == UW_OK && uw_blob_inspect(blob, got, &bi) == UW_OK) {
                int keep_rare = bi.codec == UW_CODEC_HUFFMAN ? bi.rare_mode : UW_RARE_AUTO;
                int keep_order = bi.codec == UW_CODEC_HUFFMAN ? bi.sym_order : 0;
                for (size_t g = 0; g < sizeof geos / sizeof geos[0]; g++)
                    check_geometry(file, w, rows, cols, geos[g][0], geos[g][1], geos[g][2], keep_rare, keep_order, bi.chunk_len);
                ngold++;
            }
            free(w), free(blob);
        }
        if (m) fclose(m);
    }
    /* edge tensors x forced rare modes and orders (escape, verbatim chunks of 8/16, pairs) */
    static const uint64_t shapes[][2] = {{1, 1}, {1, 300}, {300, 1}, {70, 130}, {130, 257}};
    static const char *cases[] = {"gauss", "one_exponent", "all_verbatim", "rare_0p2pct", "specials", "all_exponents"};
    static const int modes[][3] = {{UW_RARE_AUTO, 0, 0}, {UW_RARE_ESCAPE, 1, 0}, {UW_RARE_ESCAPE, 2, 0},
                                   {UW_RARE_VERBATIM, 1, 8}, {UW_RARE_VERBATIM, 2, 16}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            uint64_t rows = shapes[s][0], cols = shapes[s][1];
            uint16_t *w = (uint16_t *)malloc(rows * cols * 2);
            t_fill(cases[c], w, rows * cols, cols);
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                size_t g = (c + s + m) % (sizeof geos / sizeof geos[0]);
                check_geometry(cases[c], w, rows, cols, geos[g][0], geos[g][1], geos[g][2], modes[m][0], modes[m][1], (uint32_t)modes[m][2]);
            }
            free(w);
        }
    printf("%d golden vectors and %zu edge tensors checked through the device reconstruction code on the host\n", ngold,
           sizeof cases / sizeof cases[0] * (sizeof shapes / sizeof shapes[0]));
    T_DONE();
}
