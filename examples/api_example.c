/* api_example.c - the README's API example: open a safetensors file, compress one BF16 matrix
 * in memory, decode it back bit for bit, and multiply with it. Build against an installed
 * unweight with find_package(unweight) or pkg-config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unweight.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: api_example FILE.safetensors\n");
        return 1;
    }
    uw_file *f;
    if (uw_file_open(argv[1], &f) != UW_OK) {
        fprintf(stderr, "%s\n", uw_last_error());
        return 2;
    }
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info ti;
        uw_file_tensor_info(f, i, &ti);
        if (strcmp(ti.dtype, "BF16") || ti.ndim != 2) continue;
        uint64_t rows = ti.shape[0], cols = ti.shape[1];
        uint16_t *w = malloc(ti.orig_bytes), *back = malloc(ti.orig_bytes);
        uw_file_decode(f, i, w, ti.orig_bytes, 0); /* original BF16 bytes */

        uw_encode_params p;
        uw_encode_params_default(&p);
        uint8_t *blob;
        size_t blob_size;
        uw_status s = uw_tensor_encode(w, rows, cols, &p, &blob, &blob_size);
        if (s == UW_OK) s = uw_blob_decode(blob, blob_size, back, rows * cols, 0);
        if (s != UW_OK) {
            fprintf(stderr, "%s: %s\n", uw_status_name(s), uw_last_error());
            return 2;
        }
        /* y = x W^T straight from the compressed blob, batch 1 */
        uint16_t *x = calloc(cols, 2);
        float *y = malloc(rows * sizeof *y);
        x[0] = 0x3F80; /* 1.0 in BF16: y[o] = W[o][0] */
        uw_matmul_blob(blob, blob_size, x, y, 1, 0);
        printf("%s: %llu x %llu, %.3f bits/weight, bit-exact %s, y[0] = %g\n", ti.name, (unsigned long long)rows,
               (unsigned long long)cols, blob_size * 8.0 / (double)(rows * cols), memcmp(w, back, ti.orig_bytes) ? "NO" : "yes",
               (double)y[0]);
        uw_free(blob);
        free(w), free(back), free(x), free(y);
        break;
    }
    uw_file_close(f);
    return 0;
}
