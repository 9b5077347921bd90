/* test_model.c - the model calls (uw_compress_model, uw_decompress_model, uw_verify_model) on a
 * sharded model built here: byte-for-byte round trip with whole-model progress, no output at all
 * after an error in the second shard, clear errors naming a corrupt index; plus the public
 * helpers the CLI uses (uw_matrix_view, uw_same_file). Usage: test_model WORKDIR */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char g_work[1024];

static const char *at(const char *rel) { /* WORKDIR/rel, valid for the next 7 calls */
    static char buf[8][1200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_work, rel);
    return buf[k];
}

static void write_all(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) abort();
    fclose(f);
}

static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    uint8_t *x = t_read_all(a, &na), *y = t_read_all(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* entries of a directory other than . and .. */
static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void fresh_dir(const char *dir) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd)) abort();
}

/* A plain shard: a BF16 weight [rows, cols] (Gaussian, compressible) named `w`, and a 4-element
 * F32 tensor named `b` (passed through). Returns its data bytes. */
static uint64_t write_shard(const char *path, const char *w, uint64_t rows, uint64_t cols, const char *b) {
    uint64_t n = rows * cols;
    uint16_t *x = malloc(n * 2);
    for (uint64_t i = 0; i < n; i++) x[i] = t_bf16((float)(t_normal() * 0.02));
    const float f32[4] = {1.0f, -2.0f, 0.5f, 3.25f};
    char js[1024];
    int len = snprintf(js, sizeof js,
                       "{\"__metadata__\":{\"format\":\"pt\"},\"%s\":{\"dtype\":\"BF16\",\"shape\":[%llu,%llu],\"data_offsets\":[0,%llu]},"
                       "\"%s\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[%llu,%llu]}}",
                       w, (unsigned long long)rows, (unsigned long long)cols, (unsigned long long)(n * 2), b,
                       (unsigned long long)(n * 2), (unsigned long long)(n * 2 + 16));
    while (len % 8) js[len++] = ' ';
    FILE *o = fopen(path, "wb");
    uint64_t hl = (uint64_t)len;
    fwrite(&hl, 8, 1, o);
    fwrite(js, 1, (size_t)len, o);
    fwrite(x, 2, n, o);
    fwrite(f32, 4, 4, o);
    fclose(o);
    free(x);
    return n * 2 + 16;
}

#define IDX "model.safetensors.index.json"
#define S1 "model-00001-of-00002.safetensors"
#define S2 "model-00002-of-00002.safetensors"

/* in/: two shards and an index that mentions S1 twice, S2 between (shards are listed once). */
static uint64_t make_model(void) {
    fresh_dir(at("in"));
    uint64_t total = write_shard(at("in/" S1), "layers.0.mlp.up_proj.weight", 96, 128, "layers.0.scale");
    total += write_shard(at("in/" S2), "layers.1.mlp.down_proj.weight", 128, 96, "layers.1.scale");
    const char *idx = "{\n  \"metadata\": {\"total_size\": 49184, \"note\": \"braces } and \\\"quotes\\\"\"},\n"
                      "  \"weight_map\": {\n    \"layers.0.mlp.up_proj.weight\": \"" S1 "\",\n"
                      "    \"layers.1.mlp.down_proj.weight\": \"" S2 "\",\n    \"layers.0.scale\": \"" S1 "\",\n"
                      "    \"layers.1.scale\": \"" S2 "\"\n  }\n}\n";
    write_all(at("in/" IDX), idx, strlen(idx));
    return total;
}

/* Progress as the caller sees it. */
typedef struct seen {
    int calls, bad, cancel_in_file; /* cancel_in_file: return 1 once file == this (-1 never) */
    uint64_t last_done, total;
    size_t max_file, files;
    char names[2][128];
} seen;

static int on_progress(void *user, const uw_model_progress *p) {
    seen *s = user;
    if (s->calls++ == 0) s->total = p->total;
    if (p->done < s->last_done || p->total != s->total || p->file_done > p->file_total || p->done > p->total ||
        p->file < s->max_file || p->file >= p->files)
        s->bad++;
    s->last_done = p->done;
    s->max_file = p->file;
    s->files = p->files;
    if (p->file < 2) snprintf(s->names[p->file], sizeof s->names[0], "%s", p->name);
    return s->cancel_in_file >= 0 && p->file == (size_t)s->cancel_in_file;
}

static void test_roundtrip(void) {
    uint64_t total = make_model();
    fresh_dir(at("c"));
    fresh_dir(at("d"));
    uw_model_options o;
    uw_model_options_default(&o);
    o.threads = 2;
    seen sc = {0, 0, -1, 0, 0, 0, 0, {"", ""}};
    o.progress = on_progress;
    o.user = &sc;
    CHECK_OK(uw_compress_model(at("in/" IDX), at("c/" IDX), &o), "a sharded model compresses");
    CHECK(sc.bad == 0 && sc.calls > 0, "progress is monotone over the whole model (%d bad of %d)", sc.bad, sc.calls);
    CHECK(sc.total == total && sc.last_done == total, "progress total %llu, last %llu, model data %llu", (unsigned long long)sc.total,
          (unsigned long long)sc.last_done, (unsigned long long)total);
    CHECK(sc.files == 2 && sc.max_file == 1, "progress names 2 files (%zu, last %zu)", sc.files, sc.max_file);
    CHECK(!strcmp(sc.names[0], S1) && !strcmp(sc.names[1], S2), "progress names the shards: '%s' '%s'", sc.names[0], sc.names[1]);
    CHECK(same_bytes(at("in/" IDX), at("c/" IDX)), "the index is copied byte for byte");
    CHECK(dir_entries(at("c")) == 3, "exactly the index and two shards are written (%d entries)", dir_entries(at("c")));
    uw_file *f;
    CHECK_OK(uw_file_open(at("c/" S2), &f), "the second compressed shard opens");
    if (f) {
        CHECK(uw_file_is_compressed(f), "the shard is unweight-compressed");
        uw_file_close(f);
    }

    uw_verify_result r;
    CHECK_OK(uw_verify_model(at("c/" IDX), NULL, &r), "the compressed model verifies");
    CHECK(r.complete && r.files == 2 && r.tensors == 4 && r.failed == 0, "verify checked 2 files, 4 tensors (%zu, %zu, %zu failed)", r.files,
          r.tensors, r.failed);

    seen sd = {0, 0, -1, 0, 0, 0, 0, {"", ""}};
    o.user = &sd;
    CHECK_OK(uw_decompress_model(at("c/" IDX), at("d/" IDX), &o), "the model decompresses");
    CHECK(sd.bad == 0 && sd.total == total && sd.last_done == total, "decompress progress spans the model");
    const char *files[] = {IDX, S1, S2};
    for (int i = 0; i < 3; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "in/%s", files[i]);
        snprintf(b, sizeof b, "d/%s", files[i]);
        CHECK(same_bytes(at(a), at(b)), "%s round-trips byte for byte", files[i]);
    }
    CHECK(dir_entries(at("d")) == 3, "no temporary is left (%d entries)", dir_entries(at("d")));

    /* one file through the same calls */
    seen s1 = {0, 0, -1, 0, 0, 0, 0, {"", ""}};
    o.user = &s1;
    CHECK_OK(uw_compress_model(at("in/" S1), at("c/one.safetensors"), &o), "a single file compresses through the model call");
    CHECK(s1.files == 1 && !strcmp(s1.names[0], S1) && s1.last_done == s1.total && s1.total > 0, "single-file progress: 1 file named '%s'",
          s1.names[0]);
    CHECK_OK(uw_decompress_model(at("c/one.safetensors"), at("d/one.safetensors"), NULL), "and decompresses");
    CHECK(same_bytes(at("in/" S1), at("d/one.safetensors")), "the single file round-trips byte for byte");
}

/* Flip one byte in the middle of shard `path`'s largest blob payload (found through the API). */
static void damage_blob(const char *path) {
    uw_file *f;
    if (uw_file_open(path, &f) != UW_OK) abort();
    const uint8_t *lo = NULL, *big = NULL;
    size_t bigsz = 0;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        const void *d;
        size_t sz;
        uw_tensor_info t;
        uw_file_tensor_data(f, i, &d, &sz);
        uw_file_tensor_info(f, i, &t);
        if (!lo || (const uint8_t *)d < lo) lo = d;
        if (t.compressed && sz > bigsz) big = d, bigsz = sz;
    }
    uint64_t off = (uint64_t)(big - lo) + bigsz / 2; /* within the data section */
    uw_file_close(f);
    size_t n;
    uint8_t *b = t_read_all(path, &n);
    uint64_t hl;
    memcpy(&hl, b, 8);
    b[8 + hl + off] ^= 0x10;
    write_all(path, b, n);
    free(b);
}

static void test_error_in_second_shard(void) {
    make_model();
    fresh_dir(at("c"));
    CHECK_OK(uw_compress_model(at("in/" IDX), at("c/" IDX), NULL), "compress the model");

    /* cancelled while the second shard is written: no output at all */
    fresh_dir(at("out"));
    uw_model_options o;
    uw_model_options_default(&o);
    seen s = {0, 0, 1, 0, 0, 0, 0, {"", ""}};
    o.progress = on_progress;
    o.user = &s;
    uw_status st = uw_compress_model(at("in/" IDX), at("out/" IDX), &o);
    CHECK(st == UW_ERR_IO && strstr(uw_last_error(), "cancelled"), "a cancel in shard 2 stops compress (%s)", uw_status_name(st));
    CHECK(strstr(uw_last_error(), S2) != NULL, "the cancel names shard 2");
    CHECK(dir_entries(at("out")) == 0, "nothing is left after a cancel in shard 2 (%d entries)", dir_entries(at("out")));

    /* a damaged blob in shard 2 fails decompress mid-way: no output, existing files unchanged */
    damage_blob(at("c/" S2));
    fresh_dir(at("out"));
    write_all(at("out/" S1), "old", 3);
    st = uw_decompress_model(at("c/" IDX), at("out/" IDX), NULL);
    CHECK(st == UW_ERR_CHECKSUM, "a damaged blob in shard 2 fails decompress (%s)", uw_status_name(st));
    CHECK(strstr(uw_last_error(), at("c/" S2)) != NULL, "the error names shard 2: %s", uw_last_error());
    CHECK(dir_entries(at("out")) == 1, "no shard, index or temporary is left (%d entries)", dir_entries(at("out")));
    size_t n;
    uint8_t *old = t_read_all(at("out/" S1), &n);
    CHECK(old && n == 3 && !memcmp(old, "old", 3), "an existing output keeps its content after a failure");
    free(old);

    /* verify goes on past the failing tensor and names it */
    uw_verify_result r;
    st = uw_verify_model(at("c/" IDX), NULL, &r);
    CHECK(st == UW_ERR_CHECKSUM && r.complete && r.files == 2 && r.tensors == 4 && r.failed == 1,
          "verify finds 1 failing tensor of 4 (%s, complete %d, %zu failed)", uw_status_name(st), r.complete, r.failed);
    CHECK(strstr(uw_last_error(), S2) && strstr(uw_last_error(), "layers.1.mlp.down_proj.weight"), "the failure names shard and tensor: %s",
          uw_last_error());

    /* a missing second shard is found before anything is written */
    unlink(at("in/" S2));
    fresh_dir(at("out"));
    st = uw_compress_model(at("in/" IDX), at("out/" IDX), NULL);
    CHECK(st == UW_ERR_IO && strstr(uw_last_error(), at("in/" S2)), "a missing shard 2 is an I/O error naming it: %s", uw_last_error());
    CHECK(dir_entries(at("out")) == 0, "nothing is written when shard 2 is missing");
}

static void test_corrupt_index(void) {
    make_model();
    static const struct {
        const char *json, *says;
    } cases[] = {
        {"this is not JSON", "not a valid safetensors index"},
        {"[\"" S1 "\"]", "not a JSON object"},
        {"{\"metadata\": {}}", "weight_map"},
        {"{\"weight_map\": []}", "weight_map is not an object"},
        {"{\"weight_map\": {}}", "is empty"},
        {"{\"weight_map\": {\"a\": 3}}", "not a string"},
        {"{\"weight_map\": {\"a\": \"../evil.safetensors\"}}", "../evil.safetensors"},
        {"{\"weight_map\": {\"a\": \"model.bin\"}}", "model.bin"},
        {"{\"weight_map\": {\"a\": \"" S1 "\", \"a\": \"" S2 "\"}}", "duplicate"},
        {"{\"weight_map\": {\"a\": \"" S1 "\"}} trailing", "not a valid safetensors index"},
    };
    char idx[1200];
    snprintf(idx, sizeof idx, "%s", at("in/broken.safetensors.index.json"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_all(idx, cases[i].json, strlen(cases[i].json));
        fresh_dir(at("out"));
        uw_status st = uw_compress_model(idx, at("out/" IDX), NULL);
        CHECK(st == UW_ERR_CORRUPT, "index %zu is corrupt input (%s)", i, uw_status_name(st));
        CHECK(strstr(uw_last_error(), idx) && strstr(uw_last_error(), cases[i].says), "index %zu: the error names the file and says '%s': %s", i,
              cases[i].says, uw_last_error());
        CHECK(dir_entries(at("out")) == 0, "index %zu: nothing written", i);
        uw_verify_result r;
        st = uw_verify_model(idx, NULL, &r);
        CHECK(st == UW_ERR_CORRUPT && !r.complete && strstr(uw_last_error(), idx), "index %zu: verify names the file too", i);
    }
    uw_status st = uw_verify_model(at("in/missing.safetensors.index.json"), NULL, NULL);
    CHECK(st == UW_ERR_IO && strstr(uw_last_error(), "missing.safetensors.index.json"), "a missing index is an I/O error naming it");
}

static void test_arguments(void) {
    make_model();
    fresh_dir(at("out"));
    uw_status st = uw_compress_model(at("in/" IDX), at("out/model.safetensors"), NULL);
    CHECK(st == UW_ERR_INVALID_ARG && strstr(uw_last_error(), ".index.json"), "an index's output must end with .index.json");
    st = uw_compress_model(at("in/" IDX), at("in/other.safetensors.index.json"), NULL);
    CHECK(st == UW_ERR_INVALID_ARG && strstr(uw_last_error(), "would overwrite its input"), "an output shard may not overwrite its input");
    CHECK(dir_entries(at("in")) == 3 && dir_entries(at("out")) == 0, "refused calls write nothing");
    uw_verify_result r;
    st = uw_verify_model(at("in/" IDX), NULL, &r);
    CHECK(st == UW_ERR_INVALID_ARG && !r.complete && strstr(uw_last_error(), at("in/" S1)) && strstr(uw_last_error(), "not an unweight-compressed"),
          "verify of a plain model stops at its first shard: %s", uw_last_error());
    st = uw_decompress_model(at("in/" IDX), at("out/" IDX), NULL);
    CHECK(st == UW_ERR_INVALID_ARG && strstr(uw_last_error(), at("in/" S1)), "decompress of a plain model is refused naming the shard");
    uw_model_options o;
    uw_model_options_default(&o);
    o.struct_size--;
    CHECK(uw_compress_model(at("in/" IDX), at("out/" IDX), &o) == UW_ERR_INVALID_ARG, "a wrong struct_size is refused");
    CHECK(uw_model_is_index("a/m.safetensors.index.json") && !uw_model_is_index("m.safetensors") && !uw_model_is_index("m.index.json"),
          "an index is named *.safetensors.index.json");
}

static void test_helpers(void) {
    static const struct {
        int ndim;
        uint64_t shape[4], rows, cols;
    } v[] = {
        {2, {4096, 11008}, 4096, 11008}, {4, {256, 512, 1, 1}, 256, 512}, {3, {8, 64, 128}, 512, 128}, {3, {8, 64, 32}, 8, 2048},
        {3, {2, 3, 4}, 2, 12},           {1, {100}, 1, 100},                {0, {0}, 1, 1},
        {3, {4, 0, 8}, 0, 1},            {4, {5, 7, 3, 3}, 5, 63},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint64_t r, c;
        uw_matrix_view(v[i].ndim, v[i].shape, &r, &c);
        CHECK(r == v[i].rows && c == v[i].cols, "matrix view %zu (FORMAT.md 9.2): %llux%llu, expected %llux%llu", i, (unsigned long long)r,
              (unsigned long long)c, (unsigned long long)v[i].rows, (unsigned long long)v[i].cols);
    }
    make_model();
    CHECK(uw_same_file(at("in/" S1), at("in/./" S1)), "same file through another spelling");
    CHECK(!uw_same_file(at("in/" S1), at("in/" S2)), "two files differ");
    CHECK(uw_same_file(at("none"), at("none")) && !uw_same_file(at("none"), at("none2")), "equal paths are the same file even if missing");
    unlink(at("in/link"));
    if (link(at("in/" S1), at("in/link")) == 0) CHECK(uw_same_file(at("in/" S1), at("in/link")), "a hard link is the same file");
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s WORKDIR\n", argv[0]); return 2; }
    snprintf(g_work, sizeof g_work, "%s", argv[1]);
    mkdir(g_work, 0755);
    test_roundtrip();
    test_error_in_second_shard();
    test_corrupt_index();
    test_arguments();
    test_helpers();
    if (t_failures) { fprintf(stderr, "%d failure(s)\n", t_failures); return 1; }
    printf("test_model: all passed\n");
    return 0;
}
