/* test_golden.c - golden vectors (label cpu): every committed blob in tests/golden decodes,
 * through the fast and the reference decoder, to bytes whose FNV-1a-64 matches the manifest,
 * which was computed from the original tensor, not from the decoder. Usage: test_golden DIR. */
#include "test_isa.h"
#include "test_util.h"

int main(int argc, char **argv) {
    t_isa_or_skip();
    if (argc != 2) return 2;
    char path[2048], line[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", argv[1]);
    FILE *m = fopen(path, "r");
    CHECK(m != NULL, "manifest %s opens", path);
    if (!m) T_DONE();
    int count = 0;
    while (fgets(line, sizeof line, m)) {
        if (line[0] == '#') continue;
        char file[512];
        unsigned long long rows, cols, want;
        if (sscanf(line, "%511s %llu %llu %llx", file, &rows, &cols, &want) != 4) continue;
        snprintf(path, sizeof path, "%s/%s", argv[1], file);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL, "%s opens", path);
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *blob = malloc((size_t)sz);
        CHECK(fread(blob, 1, (size_t)sz, f) == (size_t)sz, "read %s", path);
        fclose(f);
        uint64_t n = rows * cols;
        uint16_t *o = malloc(n * 2);
        uw_blob_info bi;
        CHECK_OK(uw_blob_inspect(blob, (size_t)sz, &bi), "%s parses", file);
        CHECK(bi.rows == rows && bi.cols == cols, "%s shape matches the manifest", file);
        CHECK_OK(uw_blob_check(blob, (size_t)sz), "%s checksum", file);
        CHECK_OK(uw_blob_decode(blob, (size_t)sz, o, n, 0), "%s fast decode", file);
        CHECK(t_hash_fnv(o, n * 2) == want, "%s: fast decode matches the golden hash", file);
        memset(o, 0, n * 2);
        CHECK_OK(uw_blob_decode_ref(blob, (size_t)sz, o, n), "%s reference decode", file);
        CHECK(t_hash_fnv(o, n * 2) == want, "%s: reference decode matches the golden hash", file);
        float *y0 = malloc(3 * rows * 4), *y1 = malloc(3 * rows * 4);
        uint16_t *x = malloc(3 * cols * 2);
        for (uint64_t i = 0; i < 3 * cols; i++) x[i] = t_bf16((float)t_normal());
        CHECK_OK(uw_matmul_bf16(x, o, y0, 3, rows, cols, 1), "plain matmul");
        CHECK_OK(uw_matmul_blob(blob, (size_t)sz, x, y1, 3, 1), "blob matmul");
        CHECK(!memcmp(y0, y1, 3 * rows * 4), "%s: C2 matmul bit-identical", file);
        free(x); free(y0); free(y1);
        free(o);
        free(blob);
        count++;
    }
    fclose(m);
    CHECK(count >= 10, "manifest lists the golden vectors (%d found)", count);
    printf("%d golden vectors decoded bit-exactly\n", count);
    T_DONE();
}
