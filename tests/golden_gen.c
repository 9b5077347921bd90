/* golden_gen.c - regenerates tests/golden/: blobs of edge-case and real tensors plus
 * manifest.tsv with the FNV-1a-64 of each tensor's original bytes. Run by hand only when the
 * format version changes (old golden blobs must keep decoding): golden_gen OUTDIR SAMPLE. */
#include "test_util.h"

static FILE *manifest;

static void emit(const char *dir, const char *name, const uint16_t *w, uint64_t rows, uint64_t cols, const uw_encode_params *p,
                 const char *what) {
    uint8_t *blob;
    size_t bs;
    if (uw_tensor_encode(w, rows, cols, p, &blob, &bs) != UW_OK) {
        fprintf(stderr, "encode %s: %s\n", name, uw_last_error());
        exit(1);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.uwb", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(blob, 1, bs, f) != bs || fclose(f)) {
        fprintf(stderr, "write %s failed\n", path);
        exit(1);
    }
    fprintf(manifest, "%s.uwb\t%llu\t%llu\t%016llx\t%s\n", name, (unsigned long long)rows, (unsigned long long)cols,
            (unsigned long long)t_hash_fnv(w, rows * cols * 2), what);
    uw_free(blob);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: golden_gen OUTDIR SAMPLE.safetensors\n");
        return 1;
    }
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%s/manifest.tsv", argv[1]);
    manifest = fopen(mpath, "w");
    if (!manifest) return 1;
    fprintf(manifest, "# file\trows\tcols\tfnv1a64_of_original_bf16_le\tdescription\n");
    uw_encode_params p;
    const uint64_t R = 37, C = 129;
    uint16_t *w = malloc(64 * 1024 * 2);
    for (int c = 0; t_cases[c]; c++) {
        t_rng = 0x1234567ull + (uint64_t)c;
        t_fill(t_cases[c], w, R * C, C);
        uw_encode_params_default(&p);
        p.threads = 1;
        char what[128];
        snprintf(what, sizeof what, "synthetic %s, encoder defaults", t_cases[c]);
        emit(argv[1], t_cases[c], w, R, C, &p, what);
    }
    static const struct { const char *name; int codec, order, rare; uint32_t chunk, tr, tc, lanes; } v[] = {
        {"rare_order1_escape", UW_CODEC_HUFFMAN, 1, UW_RARE_ESCAPE, 0, 0, 0, 0},
        {"rare_order2_escape", UW_CODEC_HUFFMAN, 2, UW_RARE_ESCAPE, 0, 0, 0, 0},
        {"rare_order1_verbatim8", UW_CODEC_HUFFMAN, 1, UW_RARE_VERBATIM, 8, 0, 0, 0},
        {"rare_order2_verbatim16", UW_CODEC_HUFFMAN, 2, UW_RARE_VERBATIM, 16, 0, 0, 0},
        {"rare_tiles_5x7_3lanes", UW_CODEC_HUFFMAN, 2, UW_RARE_AUTO, 0, 5, 7, 3},
        {"rare_palette_ir", UW_CODEC_PALETTE, 0, UW_RARE_AUTO, 0, 8, 32, 0},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        t_rng = 0xABCDEFull + k;
        t_fill("rare_0p2pct", w, R * C, C);
        for (uint64_t i = 0; i < R * C; i += 97) w[i] = t_mk(1, 30 + (unsigned)(i % 7), 5); /* make rare exponents certain */
        uw_encode_params_default(&p);
        p.threads = 1;
        p.codec = v[k].codec;
        p.sym_order = v[k].order;
        p.rare_mode = v[k].rare;
        p.chunk_len = v[k].chunk;
        p.tile_rows = v[k].tr;
        p.tile_cols = v[k].tc;
        p.lanes = v[k].lanes;
        emit(argv[1], v[k].name, w, R, C, &p, "synthetic rare exponents, forced parameters");
    }
    /* real weights: leading rows of two tensors of the built-in sample */
    uw_file *f;
    if (uw_file_open(argv[2], &f) != UW_OK) {
        fprintf(stderr, "%s\n", uw_last_error());
        return 1;
    }
    static const char *const real[] = {"PP-DocLayoutV2.inference.pdiparams.0679", "encoder.layer.3.intermediate.dense.weight"};
    for (int k = 0; k < 2; k++) {
        size_t i;
        uw_tensor_info ti;
        if (uw_file_find(f, real[k], &i) || uw_file_tensor_info(f, i, &ti)) return 1;
        uint16_t *full = malloc(ti.orig_bytes);
        if (uw_file_decode(f, i, full, ti.orig_bytes, 1)) return 1;
        uint64_t rows = 64, cols = ti.shape[1];
        uw_encode_params_default(&p);
        p.threads = 1;
        char name[64], what[256];
        snprintf(name, sizeof name, "real_%d", k);
        snprintf(what, sizeof what, "first %llu rows of %s (tests/data/sample.safetensors)", (unsigned long long)rows, real[k]);
        emit(argv[1], name, full, rows, cols, &p, what);
        free(full);
    }
    uw_file_close(f);
    fclose(manifest);
    free(w);
    return 0;
}
