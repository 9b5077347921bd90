/* mlp_e2e.c - `unweight-mlp`: runs a real model's MLP blocks, down(act(gate(x)) * up(x)) with act
 * silu (Llama, Qwen) or gelu_tanh (Gemma), once
 * from the original BF16 file and once from the compressed file, on every available backend with
 * the tuner's choices, and compares the outputs bit for bit (contract C2 for a whole block).
 * Prints the weight bytes read per token and the time per block for both, timed over passes
 * through every block in turn (as a forward pass reads them), the median of three passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unweight.h"

typedef struct layer {
    char prefix[512];
    size_t orig[3], comp[3]; /* gate, up, down: tensor indices in each file */
} layer;

static const char *const proj[3] = {"gate_proj.weight", "up_proj.weight", "down_proj.weight"};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static uint16_t f32_to_bf16(float f) { /* round to nearest even; NaN stays NaN */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static int die(const char *what) {
    fprintf(stderr, "unweight-mlp: %s: %s\n", what, uw_last_error());
    return 2;
}

/* layers whose three projections are BF16 2-D in the original and compressed in the other file */
static size_t find_layers(uw_file *o, uw_file *c, layer *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < uw_file_tensor_count(o) && n < max; i++) {
        uw_tensor_info t;
        uw_file_tensor_info(o, i, &t);
        const char *hit = strstr(t.name, proj[0]);
        if (!hit || strcmp(hit, proj[0])) continue;
        layer L;
        snprintf(L.prefix, sizeof L.prefix, "%.*s", (int)(hit - t.name), t.name);
        int ok = 1;
        for (int k = 0; k < 3 && ok; k++) {
            char name[600];
            snprintf(name, sizeof name, "%s%s", L.prefix, proj[k]);
            uw_tensor_info a, b;
            ok = uw_file_find(o, name, &L.orig[k]) == UW_OK && uw_file_find(c, name, &L.comp[k]) == UW_OK;
            if (ok) {
                uw_file_tensor_info(o, L.orig[k], &a);
                uw_file_tensor_info(c, L.comp[k], &b);
                ok = !strcmp(a.dtype, "BF16") && a.ndim == 2 && b.compressed;
            }
        }
        if (ok) out[n++] = L;
    }
    return n;
}

typedef struct mats {
    uw_weights *plain[3], *comp[3];
    uint64_t rows[3], cols[3];
    uint64_t huff_bytes[3], pal_bytes[3];
} mats;

static uw_status load_layer(uw_device *d, uw_file *o, uw_file *c, const layer *L, mats *m) {
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 3; k++) {
        uw_tensor_info t;
        uw_file_tensor_info(o, L->orig[k], &t);
        m->rows[k] = t.shape[0];
        m->cols[k] = t.shape[1];
        uint16_t *w = malloc(t.orig_bytes);
        if (!w) return UW_ERR_NOMEM;
        uw_status s = uw_file_decode(o, L->orig[k], w, t.orig_bytes, 0); /* a copy: the original file is plain */
        if (s == UW_OK) s = uw_weights_upload_bf16(d, w, m->rows[k], m->cols[k], &m->plain[k]);
        free(w);
        if (s != UW_OK) return s;
        const void *blob;
        size_t bs;
        uw_file_tensor_data(c, L->comp[k], &blob, &bs);
        m->huff_bytes[k] = bs;
        uint8_t *pal;
        size_t ps;
        if ((s = uw_blob_to_palette(blob, bs, &pal, &ps)) != UW_OK) return s;
        m->pal_bytes[k] = ps;
        uw_free(pal);
        if ((s = uw_weights_upload(d, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE, &m->comp[k])) != UW_OK) return s;
    }
    return UW_OK;
}

static void free_layer(mats *m) {
    for (int k = 0; k < 3; k++) {
        uw_weights_free(m->plain[k]);
        uw_weights_free(m->comp[k]);
    }
}

static int g_gelu; /* --act gelu_tanh (Gemma) instead of silu (Llama, Qwen) */

/* one matmul: an explicit choice (pipeline and parameters) when given, else AUTO */
static uw_status mm(uw_weights *w, const uw_choice *c, const uint16_t *x, float *y, uint64_t B) {
    return c ? uw_weights_matmul_choice(w, c, x, y, B) : uw_weights_matmul(w, UW_PIPELINE_AUTO, x, y, B);
}

/* one block: g = x Wg^T, u = x Wu^T, h = bf16(act(g) * u), y = h Wd^T; c NULL = AUTO */
static uw_status block(uw_weights *const *w, const uw_choice *c, const mats *m, const uint16_t *x, uint64_t B, float *g,
                       float *u, uint16_t *h, float *y) {
    uw_status s = mm(w[0], c ? &c[0] : NULL, x, g, B);
    if (s == UW_OK) s = mm(w[1], c ? &c[1] : NULL, x, u, B);
    if (s != UW_OK) return s;
    for (uint64_t i = 0; i < B * m->rows[0]; i++) {
        float a = g[i];
        float act = g_gelu ? 0.5f * a * (1.0f + tanhf(0.7978845608f * (a + 0.044715f * a * a * a))) : a / (1.0f + expf(-a));
        h[i] = f32_to_bf16(act * u[i]);
    }
    return mm(w[2], c ? &c[2] : NULL, h, y, B);
}

int main(int argc, char **argv) {
    const char *orig = NULL, *comp = NULL, *backends[8], *cache = NULL;
    int nb = 0, max_layers = 1 << 20;
    uint64_t batches[8] = {1, 8, 64};
    int nbatch = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc && nb < 8) backends[nb++] = argv[++i];
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) max_layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(argv[i], "--act") && i + 1 < argc) {
            const char *a = argv[++i];
            if (!strcmp(a, "gelu_tanh")) g_gelu = 1;
            else if (strcmp(a, "silu")) { fprintf(stderr, "unweight-mlp: --act must be silu or gelu_tanh\n"); return 1; }
        }
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            nbatch = 0;
            for (char *t = strtok(argv[++i], ","); t && nbatch < 8; t = strtok(NULL, ",")) batches[nbatch++] = strtoull(t, NULL, 10);
        } else if (!orig && argv[i][0] != '-') orig = argv[i];
        else if (!comp && argv[i][0] != '-') comp = argv[i];
        else {
            fprintf(stderr, "usage: unweight-mlp ORIGINAL.safetensors COMPRESSED.safetensors [--backend NAME]... [--layers N]\n"
                            "                    [--batch 1,8,64] [--cache TUNING.tsv] [--act silu|gelu_tanh]\n");
            return 1;
        }
    }
    if (!orig || !comp || max_layers < 1 || !nbatch) {
        fprintf(stderr, "usage: unweight-mlp ORIGINAL.safetensors COMPRESSED.safetensors [options]\n");
        return 1;
    }
    uw_file *fo, *fc;
    if (uw_file_open(orig, &fo)) return die(orig);
    if (uw_file_open(comp, &fc)) return die(comp);
    if (uw_file_is_compressed(fo) || !uw_file_is_compressed(fc)) {
        fprintf(stderr, "unweight-mlp: give the original file first, then the compressed one\n");
        return 1;
    }
    static layer layers[4096];
    size_t nl = find_layers(fo, fc, layers, 4096);
    if (!nl) {
        fprintf(stderr, "unweight-mlp: no layer with BF16 gate_proj/up_proj/down_proj compressed in %s\n", comp);
        return 2;
    }
    if (nl > (size_t)max_layers) nl = (size_t)max_layers;
    if (!nb)
        for (size_t i = 0; i < uw_backend_count() && nb < 8; i++)
            if (uw_backend_probe(uw_backend_name(i)) == UW_OK) backends[nb++] = uw_backend_name(i);
    uw_tuner *tuner;
    if (uw_tuner_open(cache, &tuner)) return die("tuner");
    if (*uw_tuner_warning(tuner)) fprintf(stderr, "unweight-mlp: warning: %s\n", uw_tuner_warning(tuner));
    int mismatches = 0, ran = 0;
    for (int bi = 0; bi < nb; bi++) {
        uw_device *d;
        if (uw_device_open(backends[bi], NULL, &d)) {
            fprintf(stderr, "unweight-mlp: backend %s: %s (skipped)\n", backends[bi], uw_last_error());
            continue;
        }
        uw_device_set_tuner(d, tuner);
        printf("== %s, %zu MLP blocks of %s\n", uw_device_name(d), nl, orig);
        printf("%-36s %5s %-40s %11s %11s %9s %9s %s\n", "block", "batch", "pipelines (gate,up,down)", "B/token orig", "B/token comp",
               "ms orig", "ms comp", "bitwise");
        double tot_o[8] = {0}, tot_c[8] = {0}, bytes_o = 0, bytes_c[8] = {0};
        /* every layer resident at once, then passes over the whole stack as a forward pass makes:
         * a block's weights come back from memory, not from a cache that the same block warmed
         * (timing one block over and over measures its weights in the L2/L3, which a model larger
         * than the caches never sees) */
        mats *M = calloc(nl, sizeof *M);
        if (!M) return die("out of memory");
        for (size_t l = 0; l < nl; l++) {
            uw_status s = load_layer(d, fo, fc, &layers[l], &M[l]);
            if (s != UW_OK) return die(layers[l].prefix);
            for (int k = 0; k < 3; k++) bytes_o += (double)(M[l].rows[k] * M[l].cols[k] * 2);
        }
        uint64_t hid = 0, inter = 0, maxB = 0;
        for (size_t l = 0; l < nl; l++) {
            hid = M[l].cols[0] > hid ? M[l].cols[0] : hid;
            inter = M[l].rows[0] > inter ? M[l].rows[0] : inter;
        }
        for (int b = 0; b < nbatch; b++) maxB = batches[b] > maxB ? batches[b] : maxB;
        uint16_t *x = malloc(maxB * hid * 2), *h = malloc(maxB * inter * 2);
        float *g = malloc(maxB * inter * 4), *u = malloc(maxB * inter * 4), *y0 = malloc(maxB * hid * 4), *y1 = malloc(maxB * hid * 4);
        double (*to)[3] = malloc(nl * sizeof *to), (*tc)[3] = malloc(nl * sizeof *tc);
        if (!x || !h || !g || !u || !y0 || !y1 || !to || !tc) return die("out of memory");
        for (int b = 0; b < nbatch; b++) {
            uint64_t B = batches[b];
            /* the original runs plain-bf16 with the per-call parameters the tuner chose for the
             * compressed weight (threads, ...): the two differ only in the weights' form */
            static uw_choice pp[4096][3];
            static char names[4096][128];
            static double cbytes[4096];
            for (size_t l = 0; l < nl; l++) {
                mats *m = &M[l];
                int L = 0;
                cbytes[l] = 0;
                for (int k = 0; k < 3; k++) {
                    uw_status s = uw_tune(tuner, m->comp[k], B, 0);
                    if (s != UW_OK) return die("tune");
                    uw_choice c;
                    uw_weights_choice(m->comp[k], B, &c);
                    pp[l][k] = c;
                    pp[l][k].pipeline = UW_PIPELINE_PLAIN_BF16;
                    /* a backend whose decode+gemm runs the vendor BLAS (cuda) is held to that BLAS on
                     * the original weights (blas-bf16); elsewhere blas-bf16 is unsupported */
                    if (c.pipeline == UW_PIPELINE_DECODE_GEMM &&
                        uw_weights_matmul(m->plain[k], UW_PIPELINE_BLAS_BF16, k < 2 ? x : h, k < 2 ? g : y0, 1) == UW_OK)
                        pp[l][k].pipeline = UW_PIPELINE_BLAS_BF16;
                    L += snprintf(names[l] + L, sizeof names[l] - (size_t)L, "%s%s", k ? "," : "", uw_pipeline_name(c.pipeline));
                    cbytes[l] += (double)(c.pipeline == UW_PIPELINE_PALETTE_DIRECT ? m->pal_bytes[k] : m->huff_bytes[k]);
                }
                bytes_c[b] += cbytes[l];
            }
            /* a warm-up pass, then 3 timed passes; each block: original, then compressed */
            for (int rep = -1; rep < 3; rep++)
                for (size_t l = 0; l < nl; l++) {
                    mats *m = &M[l];
                    uint64_t r = 0x2545F4914F6CDD1Dull ^ (uint64_t)l;
                    for (uint64_t i = 0; i < B * m->cols[0]; i++) { /* fixed pseudo-random activations ~N(0,1) */
                        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                        double u1 = ((double)(r >> 11) + 1) / 9007199254740993.0;
                        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                        double u2 = (double)(r >> 11) / 9007199254740992.0;
                        x[i] = f32_to_bf16((float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)));
                    }
                    double t0 = now_ms();
                    if (block(m->plain, pp[l], m, x, B, g, u, h, y0) != UW_OK) return die("plain block");
                    double t1 = now_ms();
                    memset(y1, 0x7F, B * m->cols[0] * 4);
                    if (block(m->comp, NULL, m, x, B, g, u, h, y1) != UW_OK) return die("compressed block");
                    double t2 = now_ms();
                    if (rep >= 0) to[l][rep] = t1 - t0, tc[l][rep] = t2 - t1;
                    if (rep == 2) {
                        double mo = to[l][0] + to[l][1] + to[l][2] - fmax(to[l][0], fmax(to[l][1], to[l][2])) -
                                    fmin(to[l][0], fmin(to[l][1], to[l][2]));
                        double mc = tc[l][0] + tc[l][1] + tc[l][2] - fmax(tc[l][0], fmax(tc[l][1], tc[l][2])) -
                                    fmin(tc[l][0], fmin(tc[l][1], tc[l][2]));
                        tot_o[b] += mo;
                        tot_c[b] += mc;
                        int same = !memcmp(y0, y1, B * m->cols[0] * 4);
                        mismatches += !same;
                        ran++;
                        double bo = 0;
                        for (int k = 0; k < 3; k++) bo += (double)(m->rows[k] * m->cols[k] * 2);
                        printf("%-36.36s %5llu %-40s %11.0f %11.0f %9.3f %9.3f %s\n", layers[l].prefix, (unsigned long long)B, names[l],
                               bo / (double)B, cbytes[l] / (double)B, mo, mc, same ? "identical" : "DIFFERENT");
                        fflush(stdout);
                    }
                }
        }
        free(x), free(h), free(g), free(u), free(y0), free(y1), free(to), free(tc);
        for (size_t l = 0; l < nl; l++) free_layer(&M[l]);
        free(M);
        for (int b = 0; b < nbatch; b++)
            printf("total batch %-4llu weight bytes per token: original %.0f, compressed %.0f (%.1f%%); time per block: %.3f ms vs %.3f ms\n",
                   (unsigned long long)batches[b], bytes_o / (double)batches[b], bytes_c[b] / (double)batches[b], 100.0 * bytes_c[b] / bytes_o,
                   tot_o[b] / (double)nl, tot_c[b] / (double)nl);
        uw_device_close(d);
    }
    if (cache && uw_tuner_save(tuner)) return die(cache);
    uw_tuner_close(tuner);
    uw_file_close(fo);
    uw_file_close(fc);
    printf("%d block runs, %d bitwise mismatches\n", ran, mismatches);
    return mismatches ? 2 : (ran ? 0 : 2);
}
