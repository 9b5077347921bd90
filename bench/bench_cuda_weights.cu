/* bench_cuda_weights.cu - the CUDA benchmark's weights: synthesis from the sample's exponent
 * histogram, encoding, and saving/loading the encoded set (bench_cuda_weights.h). Host code only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../include/unweight.h"
#include "bench_cuda_weights.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
uint64_t bench_rand(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

/* the sample's BF16 matrices (reals), and in hist the exponent histogram of the largest of them
 * (the first in file order on a tie): one real layer's statistics, as a Llama MLP matrix has; the
 * histogram pooled over all tensors mixes layers of different scales and has a higher entropy
 * (3.09 bits on tests/data/sample.safetensors, against 2.63 for its largest matrix and ~2.67 for
 * Llama-class MLP matrices, docs/PERFORMANCE.md section 2) */
static int sample_histogram(const char *path, uint64_t hist[256], weight **reals, int *nreal, int *src) {
    uw_file *f;
    if (uw_file_open(path, &f) != UW_OK) {
        fprintf(stderr, "bench_cuda: cannot open %s: %s\n", path, uw_last_error());
        return -1;
    }
    memset(hist, 0, 256 * sizeof hist[0]);
    *reals = (weight *)calloc(uw_file_tensor_count(f), sizeof(weight));
    *nreal = 0;
    *src = -1;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info ti;
        const void *data;
        size_t size;
        if (uw_file_tensor_info(f, i, &ti) != UW_OK || strcmp(ti.dtype, "BF16") || ti.ndim < 2) continue;
        if (uw_file_tensor_data(f, i, &data, &size) != UW_OK) continue;
        weight *r = &(*reals)[(*nreal)++];
        snprintf(r->name, sizeof r->name, "%s", ti.name);
        uint64_t n = size / 2, cols = ti.shape[ti.ndim - 1];
        for (int d = ti.ndim - 2; d >= 1 && cols < 64; d--) cols *= ti.shape[d]; /* FORMAT.md 9.2 matrix view */
        r->cols = cols;
        r->rows = n / cols;
        r->w = (uint16_t *)malloc(size);
        memcpy(r->w, data, size);
        r->real = 1;
        if (*src < 0 || n > (*reals)[*src].rows * (*reals)[*src].cols) *src = *nreal - 1;
    }
    uw_file_close(f);
    if (*src < 0) {
        fprintf(stderr, "bench_cuda: %s holds no BF16 matrix\n", path);
        return -1;
    }
    const weight *m = &(*reals)[*src];
    for (uint64_t k = 0; k < m->rows * m->cols; k++) hist[(m->w[k] >> 7) & 0xFF]++;
    return 0;
}

/* exponents from the histogram through a 2^22-entry inverse-CDF table; sign and mantissa random */
static void synth(weight *s, const uint64_t hist[256]) {
    const uint32_t TB = 1u << 22;
    uint8_t *tab = (uint8_t *)malloc(TB);
    uint64_t total = 0, acc = 0;
    for (int e = 0; e < 256; e++) total += hist[e];
    uint32_t k = 0;
    for (int e = 0; e < 256; e++) {
        acc += hist[e];
        uint32_t upto = (uint32_t)((double)acc / (double)total * TB + 0.5);
        while (k < upto && k < TB) tab[k++] = (uint8_t)e;
    }
    for (; k < TB; k++) tab[k] = k ? tab[k - 1] : 0; /* rounding left the last entries */
    uint64_t n = s->rows * s->cols;
    s->w = (uint16_t *)malloc(n * 2);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = bench_rand();
        uint32_t e = tab[r & (TB - 1)];
        s->w[i] = (uint16_t)(((r >> 32) & 0x8000) | (e << 7) | ((r >> 40) & 0x7F));
    }
    free(tab);
}

static int encode(weight *s, uint32_t R, uint32_t C, uint32_t L) {
    uw_encode_params p;
    uw_encode_params_default(&p);
    uint8_t *b;
    size_t bs;
    if (uw_tensor_encode(s->w, s->rows, s->cols, &p, &b, &bs) != UW_OK) return -1;
    s->default_bytes = bs;
    uw_free(b);
    p.tile_rows = R;
    p.tile_cols = C;
    p.lanes = L;
    if (uw_tensor_encode(s->w, s->rows, s->cols, &p, &s->blob, &s->blob_bytes) != UW_OK) return -1;
    return 0;
}

int bench_weights_make(const char *sample, uint64_t d, uint32_t R, uint32_t C, uint32_t L, bench_set *set) {
    uint64_t hist[256];
    weight *ws = NULL;
    int nreal = 0, src = -1;
    memset(set, 0, sizeof *set);
    if (sample_histogram(sample, hist, &ws, &nreal, &src)) return -1;
    snprintf(set->hist_of, sizeof set->hist_of, "%s", ws[src].name);
    weight *all = (weight *)calloc((size_t)nreal + 2, sizeof(weight));
    snprintf(all[0].name, sizeof all[0].name, "gate/up %llux%llu", (unsigned long long)(14336 / d), (unsigned long long)(4096 / d));
    all[0].rows = 14336 / d, all[0].cols = 4096 / d;
    snprintf(all[1].name, sizeof all[1].name, "down %llux%llu", (unsigned long long)(4096 / d), (unsigned long long)(14336 / d));
    all[1].rows = 4096 / d, all[1].cols = 14336 / d;
    memcpy(all + 2, ws, (size_t)nreal * sizeof(weight));
    free(ws);
    uint64_t nh = 0;
    for (int e = 0; e < 256; e++) nh += hist[e];
    for (int i = 0; i < nreal; i++) set->sample_weights += all[2 + i].rows * all[2 + i].cols;
    for (int e = 0; e < 256; e++)
        if (hist[e]) set->entropy -= (double)hist[e] / (double)nh * log2((double)hist[e] / (double)nh);
    set->w = all;
    set->n = nreal + 2;
    for (int i = 0; i < set->n; i++) {
        if (!all[i].real) synth(&all[i], hist);
        if (encode(&all[i], R, C, L)) {
            fprintf(stderr, "bench_cuda: encoding %s failed: %s\n", all[i].name, uw_last_error());
            return -1;
        }
    }
    return 0;
}

int bench_weights_save(const bench_set *set, const char *dir) {
    char path[4096];
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "bench_cuda: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    FILE *ix = fopen(path, "w");
    if (!ix) {
        fprintf(stderr, "bench_cuda: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(ix, "# file\trows\tcols\treal\tdefault_bytes\tname (bench_cuda --save)\n");
    for (int i = 0; i < set->n; i++) {
        const weight *w = &set->w[i];
        snprintf(path, sizeof path, "%s/w%02d.uwb", dir, i);
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(w->blob, 1, w->blob_bytes, f) == w->blob_bytes;
        if (f && fclose(f)) ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_cuda: cannot write %s\n", path);
            fclose(ix);
            return -1;
        }
        fprintf(ix, "w%02d.uwb\t%llu\t%llu\t%d\t%zu\t%s\n", i, (unsigned long long)w->rows, (unsigned long long)w->cols, w->real,
                w->default_bytes, w->name);
    }
    return fclose(ix) ? -1 : 0;
}

int bench_weights_load(const char *dir, bench_set *set) {
    char path[4096], line[512];
    memset(set, 0, sizeof *set);
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    FILE *ix = fopen(path, "r");
    if (!ix) {
        fprintf(stderr, "bench_cuda: cannot open %s (make it with bench_cuda SAMPLE --save %s): %s\n", path, dir, strerror(errno));
        return -1;
    }
    int cap = 16;
    set->w = (weight *)calloc((size_t)cap, sizeof(weight));
    while (fgets(line, sizeof line, ix)) {
        char file[64], name[200];
        unsigned long long rows, cols;
        int real;
        size_t defb;
        if (line[0] == '#' || sscanf(line, "%63s %llu %llu %d %zu %199[^\n]", file, &rows, &cols, &real, &defb, name) != 6) continue;
        if (set->n == cap) set->w = (weight *)realloc(set->w, (size_t)(cap *= 2) * sizeof(weight));
        weight *w = &set->w[set->n];
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%.150s", name);
        w->rows = rows, w->cols = cols, w->real = real, w->default_bytes = defb;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        FILE *f = fopen(path, "rb");
        long sz = -1;
        if (f && !fseek(f, 0, SEEK_END)) sz = ftell(f);
        if (sz > 0 && !fseek(f, 0, SEEK_SET)) {
            w->blob = (uint8_t *)malloc((size_t)sz);
            w->blob_bytes = fread(w->blob, 1, (size_t)sz, f);
        }
        if (f) fclose(f);
        w->w = (uint16_t *)malloc(rows * cols * 2);
        if (sz <= 0 || w->blob_bytes != (size_t)sz || uw_blob_decode(w->blob, w->blob_bytes, w->w, rows * cols, 0) != UW_OK) {
            fprintf(stderr, "bench_cuda: %s: %s\n", path, sz <= 0 ? "cannot read" : uw_last_error());
            fclose(ix);
            return -1;
        }
        if (w->real) set->sample_weights += rows * cols;
        set->n++;
    }
    fclose(ix);
    if (set->n < 2) {
        fprintf(stderr, "bench_cuda: %s lists no weights\n", path);
        return -1;
    }
    return 0;
}
