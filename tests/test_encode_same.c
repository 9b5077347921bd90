/* test_encode_same.c - the encoder's bytes depend on the tensor and the parameters only (label
 * cpu): every case gives the same blob with 1, 2 and 3 threads, and exactly the blob whose
 * FNV-1a-64 the manifest lists. The manifest was written by the encoder as it was before its
 * speed work (issue 15), so the fast encoder makes the same choices, bit for bit; CTest runs this
 * once per codec ISA level (UW_CODEC_ISA), so every level writes those bytes too.
 * usage: test_encode_same MANIFEST SAMPLE.safetensors [--write]   (--write: make the manifest) */
#include "test_isa.h"
#include "test_util.h"

static const pset psets[] = {
    {"auto", UW_CODEC_HUFFMAN, 0, UW_RARE_AUTO, 0, 0, 0, 0},
    {"order1", UW_CODEC_HUFFMAN, 1, UW_RARE_AUTO, 0, 0, 0, 0},
    {"order2-escape", UW_CODEC_HUFFMAN, 2, UW_RARE_ESCAPE, 0, 0, 0, 0},
    {"order1-escape", UW_CODEC_HUFFMAN, 1, UW_RARE_ESCAPE, 0, 0, 0, 0},
    {"verbatim-auto", UW_CODEC_HUFFMAN, 0, UW_RARE_VERBATIM, 0, 0, 0, 0},
    {"verbatim8", UW_CODEC_HUFFMAN, 0, UW_RARE_VERBATIM, 8, 0, 0, 0},
    {"verbatim256-order1", UW_CODEC_HUFFMAN, 1, UW_RARE_VERBATIM, 256, 0, 0, 0},
    {"none", UW_CODEC_HUFFMAN, 0, UW_RARE_NONE, 0, 0, 0, 0},
    {"tiny-tiles", UW_CODEC_HUFFMAN, 2, UW_RARE_AUTO, 0, 5, 7, 3},
    {"tall-tiles", UW_CODEC_HUFFMAN, 0, UW_RARE_AUTO, 0, 64, 16, 64},
    {"wide-tiles", UW_CODEC_HUFFMAN, 0, UW_RARE_AUTO, 0, 3, 2000, 2},
    {"palette", UW_CODEC_PALETTE, 0, UW_RARE_AUTO, 0, 0, 0, 0},
    {"palette-tiny", UW_CODEC_PALETTE, 0, UW_RARE_AUTO, 0, 5, 7, 0},
};

static const uint64_t shapes[][2] = {{1, 1}, {1, 5000}, {5000, 1}, {37, 129}, {2, 4096}, {300, 1100}, {1152, 768}};

static FILE *manifest_out;
static char **want_names;
static uint64_t *want_hash;
static size_t nwant, ncases, nmatched;

static void check_case(const char *name, const uint16_t *w, uint64_t rows, uint64_t cols, const uw_encode_params *p0) {
    uint8_t *blob[3] = {NULL, NULL, NULL};
    size_t bs[3] = {0, 0, 0};
    uw_status s[3];
    for (int t = 0; t < 3; t++) {
        uw_encode_params p = *p0;
        p.threads = t + 1;
        s[t] = uw_tensor_encode(w, rows, cols, &p, &blob[t], &bs[t]);
    }
    CHECK(s[1] == s[0] && s[2] == s[0], "%s: the same verdict with 1, 2 and 3 threads", name);
    if (s[0] == UW_OK && s[1] == UW_OK && s[2] == UW_OK) {
        CHECK(bs[1] == bs[0] && !memcmp(blob[1], blob[0], bs[0]), "%s: 2 threads write the bytes 1 thread writes", name);
        CHECK(bs[2] == bs[0] && !memcmp(blob[2], blob[0], bs[0]), "%s: 3 threads write the bytes 1 thread writes", name);
    }
    uint64_t h = s[0] == UW_OK ? t_hash_fnv(blob[0], bs[0]) : (uint64_t)s[0]; /* a refusal is part of the record */
    ncases++;
    if (manifest_out) {
        fprintf(manifest_out, "%s\t%016llx\n", name, (unsigned long long)h);
    } else {
        size_t i = 0;
        while (i < nwant && strcmp(want_names[i], name)) i++;
        CHECK(i < nwant, "%s: listed in the manifest", name);
        if (i < nwant) {
            CHECK(want_hash[i] == h, "%s: blob FNV %016llx, the manifest says %016llx", name, (unsigned long long)h,
                  (unsigned long long)want_hash[i]);
            nmatched += want_hash[i] == h;
        }
    }
    for (int t = 0; t < 3; t++) uw_free(blob[t]);
}

static void synthetic(void) {
    for (int c = 0; t_cases[c]; c++)
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            uint64_t rows = shapes[sh][0], cols = shapes[sh][1], n = rows * cols;
            uint16_t *w = malloc(n * 2);
            t_fill(t_cases[c], w, n, cols);
            for (size_t k = 0; k < sizeof psets / sizeof psets[0]; k++) {
                const pset *ps = &psets[k];
                uw_encode_params p;
                t_pset_params(ps, &p);
                char name[160];
                snprintf(name, sizeof name, "%s/%llux%llu/%s", t_cases[c], (unsigned long long)rows, (unsigned long long)cols, ps->name);
                check_case(name, w, rows, cols, &p);
            }
            free(w);
        }
}

/* every BF16 tensor of the sample file, as `compress` would code it, Huffman and palette IR */
static void sample(const char *path) {
    uw_file *f;
    CHECK_OK(uw_file_open(path, &f), "open %s", path);
    if (!f) return;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info ti;
        uw_file_tensor_info(f, i, &ti);
        if (strcmp(ti.dtype, "BF16") || ti.ndim < 2) continue;
        uint64_t rows, cols;
        uw_matrix_view(ti.ndim, ti.shape, &rows, &cols);
        uint16_t *w = malloc(ti.orig_bytes);
        CHECK_OK(uw_file_decode(f, i, w, ti.orig_bytes, 1), "read %s", ti.name);
        for (int codec = UW_CODEC_HUFFMAN; codec <= UW_CODEC_PALETTE; codec++) {
            uw_encode_params p;
            uw_encode_params_default(&p);
            p.codec = codec;
            char name[512];
            snprintf(name, sizeof name, "sample/%s/%s", ti.name, codec == UW_CODEC_HUFFMAN ? "huffman" : "palette");
            check_case(name, w, rows, cols, &p);
        }
        free(w);
    }
    uw_file_close(f);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_encode_same MANIFEST SAMPLE.safetensors [--write]\n");
        return 2;
    }
    t_isa_or_skip();
    if (argc > 3 && !strcmp(argv[3], "--write")) {
        manifest_out = fopen(argv[1], "w");
        if (!manifest_out) return 2;
        fprintf(manifest_out, "# case\tFNV-1a-64 of the blob (or the refusal's status); written by test_encode_same --write\n");
    } else {
        FILE *m = fopen(argv[1], "r");
        CHECK(m != NULL, "manifest %s opens", argv[1]);
        if (!m) T_DONE();
        char line[1024];
        while (fgets(line, sizeof line, m)) {
            char name[800];
            unsigned long long h;
            if (line[0] == '#' || sscanf(line, "%799[^\t]\t%llx", name, &h) != 2) continue;
            want_names = realloc(want_names, (nwant + 1) * sizeof *want_names);
            want_hash = realloc(want_hash, (nwant + 1) * sizeof *want_hash);
            want_names[nwant] = strdup(name);
            want_hash[nwant++] = h;
        }
        fclose(m);
    }
    synthetic();
    sample(argv[2]);
    if (manifest_out) {
        fclose(manifest_out);
        printf("wrote %zu cases to %s\n", ncases, argv[1]);
        return 0;
    }
    CHECK(ncases == nwant, "every manifest case was checked (%zu cases, %zu listed)", ncases, nwant);
    printf("%zu cases: the same bytes with 1, 2 and 3 threads; %zu match the manifest\n", ncases, nmatched);
    for (size_t i = 0; i < nwant; i++) free(want_names[i]);
    free(want_names);
    free(want_hash);
    T_DONE();
}
