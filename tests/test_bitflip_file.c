/* test_bitflip_file.c - every single-bit flip of a small compressed file's data section fails
 * uw_verify_file; every header flip is rejected or harmless. Usage: test_bitflip_file SAMPLE WORKDIR */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

/* plain safetensors with one [64,64] BF16 weight, a [64] BF16 norm and a [4] F32 tensor */
static int write_plain(const char *sample, const char *out) {
    uw_file *f;
    size_t i, j;
    if (uw_file_open(sample, &f) != UW_OK) return 0;
    if (uw_file_find(f, "encoder.layer.3.intermediate.dense.weight", &i) != UW_OK ||
        uw_file_find(f, "encoder.layer.3.output.LayerNorm.weight", &j) != UW_OK) { uw_file_close(f); return 0; }
    uw_tensor_info ti;
    uw_file_tensor_info(f, i, &ti);
    uint16_t *w = malloc(ti.orig_bytes), *ln = malloc(384 * 2);
    uw_file_decode(f, i, w, ti.orig_bytes, 1);
    uw_file_decode(f, j, ln, 384 * 2, 1);
    uw_file_close(f);
    uint16_t sl[64 * 64];
    for (int r = 0; r < 64; r++) memcpy(sl + r * 64, w + (size_t)r * ti.shape[1], 128);
    const float f32[4] = {1.0f, -2.0f, 0.5f, 3.25f};
    char js[512];
    int n = snprintf(js, sizeof js,
                     "{\"__metadata__\":{\"format\":\"pt\"},\"layers.0.mlp.up_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64],"
                     "\"data_offsets\":[0,8192]},\"layers.0.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[8192,8320]},"
                     "\"scale\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8320,8336]}}");
    while (n % 8) js[n++] = ' ';
    FILE *o = fopen(out, "wb");
    uint64_t hl = (uint64_t)n;
    fwrite(&hl, 8, 1, o);
    fwrite(js, 1, (size_t)n, o);
    fwrite(sl, 2, 64 * 64, o);
    fwrite(ln, 2, 64, o);
    fwrite(f32, 4, 4, o);
    fclose(o);
    free(w);
    free(ln);
    return 1;
}

static void flip_at(int fd, size_t bit, const uint8_t *orig) {
    uint8_t b = orig[bit / 8] ^ (uint8_t)(1u << (bit % 8));
    if (pwrite(fd, &b, 1, (off_t)(bit / 8)) != 1) abort();
}
static void restore_at(int fd, size_t bit, const uint8_t *orig) {
    if (pwrite(fd, &orig[bit / 8], 1, (off_t)(bit / 8)) != 1) abort();
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s SAMPLE WORKDIR\n", argv[0]); return 2; }
    char plain[1024], comp[1024], dec[1024];
    mkdir(argv[2], 0755);
    snprintf(plain, sizeof plain, "%s/plain.safetensors", argv[2]);
    snprintf(comp, sizeof comp, "%s/c.safetensors", argv[2]);
    snprintf(dec, sizeof dec, "%s/d.safetensors", argv[2]);
    CHECK(write_plain(argv[1], plain), "build the 64x64 test file from %s", argv[1]);
    uw_compress_options co;
    uw_compress_options_default(&co);
    co.params.threads = 1;
    unlink(comp);
    CHECK_OK(uw_compress_file(plain, comp, &co), "compress");
    CHECK_OK(uw_verify_file(comp, 1, NULL), "the undamaged file verifies");
    size_t pn, cn;
    uint8_t *pb = t_read_all(plain, &pn), *cb = t_read_all(comp, &cn);
    if (!pb || !cb || t_failures) T_DONE();
    uint64_t hl;
    memcpy(&hl, cb, 8);
    size_t data0 = 8 + (size_t)hl;
    int fd = open(comp, O_WRONLY);
    CHECK(fd >= 0, "open %s for writing", comp);

    /* 1. every bit of the data section (blob + passthrough tensors): verify must fail */
    size_t missed = 0, nbits = (cn - data0) * 8;
    for (size_t bit = data0 * 8; bit < cn * 8; bit++) {
        flip_at(fd, bit, cb);
        if (uw_verify_file(comp, 1, NULL) == UW_OK) {
            if (missed++ < 10) fprintf(stderr, "undetected flip of data bit %zu (byte %zu)\n", bit - data0 * 8, bit / 8 - data0);
        }
        restore_at(fd, bit, cb);
    }
    CHECK(missed == 0, "verify detects every one of %zu single-bit flips in the data section (%zu missed)", nbits, missed);
    printf("data section: %zu bytes, %zu single-bit flips, %zu detected by verify\n", cn - data0, nbits, nbits - missed);

    /* 2. every bit of the 8-byte length and the JSON header: rejected, or harmless */
    size_t at_open = 0, at_verify = 0, harmless = 0, wrong = 0;
    for (size_t bit = 0; bit < data0 * 8; bit++) {
        flip_at(fd, bit, cb);
        uw_file *f;
        if (uw_file_open(comp, &f) != UW_OK) {
            at_open++;
        } else {
            uw_file_close(f);
            if (uw_verify_file(comp, 1, NULL) != UW_OK) {
                at_verify++;
            } else {
                size_t dn = 0;
                uint8_t *db = NULL;
                unlink(dec);
                if (uw_decompress_file(comp, dec, 1, NULL, NULL) == UW_OK) db = t_read_all(dec, &dn);
                if (db && dn == pn && !memcmp(db, pb, pn)) harmless++;
                else if (wrong++ < 10) fprintf(stderr, "header bit %zu (byte %zu '%c'): accepted, decompressed file differs\n", bit, bit / 8,
                                               cb[bit / 8] >= 32 && cb[bit / 8] < 127 ? cb[bit / 8] : '?');
                free(db);
            }
        }
        restore_at(fd, bit, cb);
    }
    CHECK(wrong == 0, "no header bit flip is accepted with a different decompressed file (%zu were)", wrong);
    printf("header: %zu bytes, %zu flips: %zu rejected at open, %zu by verify, %zu harmless (decompressed file identical)\n", data0,
           data0 * 8, at_open, at_verify, harmless);
    close(fd);
    CHECK_OK(uw_verify_file(comp, 1, NULL), "the restored file verifies again");
    unlink(dec);
    free(pb);
    free(cb);
    T_DONE();
}
