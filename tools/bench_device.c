/* bench_device.c - the device section of `unweight bench`: per backend, each tensor decoded on the
 * device and y = x W^T timed per pipeline and batch size (uw_weights_*), every pipeline checked
 * bit-identical to plain-bf16 (contract C2); the "auto" row runs the tuning cache's choice. */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const uw_pipeline dev_pipes[] = {UW_PIPELINE_PLAIN_BF16,        UW_PIPELINE_DECODE_GEMM,    UW_PIPELINE_EXP_PREDECODE,
                                        UW_PIPELINE_PALETTE_TRANSCODE, UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_FUSED_HUFFMAN,
                                        UW_PIPELINE_AUTO /* the tuner's pick, from the tuning cache */};
#define DEV_NPIPES (sizeof dev_pipes / sizeof dev_pipes[0])

typedef struct dev_tot {
    uint64_t bytes, tensors;
    double dec_s;                   /* summed best decode seconds */
    double mm_s[DEV_NPIPES][8];     /* summed best matmul seconds per pipeline and batch */
    int offered[DEV_NPIPES];
} dev_tot;

/* One tensor on an opened device: the blob uploaded as Huffman only (decode: what the device
 * decodes, copied back to the host) and with every resident form (matmul). Every pipeline's y
 * is checked bit-identical to plain-bf16 (contract C2) on its warm-up run. Returns -1 or an
 * exit code. */
static int bench_device_tensor(const char *path, const uw_file *f, size_t i, const uw_tensor_info *t, uw_device *d, const uw_cli_opts *o,
                               const uint64_t *batches, int nbatch, dev_tot *tot, double *dec_best) {
    uint64_t ne = uw_cli_numel(t), rows, cols, bmax = 1;
    uw_matrix_view(t->ndim, t->shape, &rows, &cols);
    for (int k = 0; k < nbatch; k++) bmax = batches[k] > bmax ? batches[k] : bmax;
    uint16_t *src = malloc(t->orig_bytes), *dst = malloc(t->orig_bytes), *x = NULL;
    float *y0 = NULL, *y1 = NULL, *yb = NULL;
    uint8_t *own_blob = NULL;
    const void *blob = NULL;
    size_t blob_size = 0;
    uw_weights *wd = NULL, *wa = NULL;
    int rc = -1;
    char pre[1100];
    snprintf(pre, sizeof pre, "%s: tensor '%s' on %s", path, t->name, uw_device_name(d));
    uw_status s;
    if (!src || !dst) { uw_cli_err("%s: out of memory", pre); rc = EX_IO; goto out; }
    if ((s = uw_file_decode(f, i, src, t->orig_bytes, 0)) != UW_OK) { rc = uw_cli_report(s, pre, NULL); goto out; }
    if (t->compressed) {
        uw_blob_info bi;
        if ((s = uw_file_tensor_data(f, i, &blob, &blob_size)) != UW_OK || (s = uw_blob_inspect(blob, blob_size, &bi)) != UW_OK) {
            rc = uw_cli_report(s, pre, NULL);
            goto out;
        }
        rows = bi.rows;
        cols = bi.cols;
    } else {
        uw_encode_params p;
        uw_encode_params_default(&p);
        if ((s = uw_tensor_encode(src, rows, cols, &p, &own_blob, &blob_size)) != UW_OK) { rc = uw_cli_report(s, pre, NULL); goto out; }
        blob = own_blob;
    }
    uw_blob_info bi;
    uw_blob_inspect(blob, blob_size, &bi);
    unsigned all = UW_RESIDENT_PALETTE | UW_RESIDENT_BF16 | (bi.codec == UW_CODEC_HUFFMAN ? UW_RESIDENT_HUFFMAN : 0);
    if ((s = uw_weights_upload(d, blob, blob_size, bi.codec == UW_CODEC_HUFFMAN ? UW_RESIDENT_HUFFMAN : UW_RESIDENT_PALETTE, &wd)) != UW_OK ||
        (s = uw_weights_upload(d, blob, blob_size, all, &wa)) != UW_OK) {
        rc = uw_cli_report(s, pre, NULL);
        goto out;
    }
    double best = 1e300;
    for (int k = 0; k <= o->repeat; k++) { /* k == 0: warm-up, checked against the original */
        if (uw_cli_interrupted) { rc = uw_cli_interrupted_exit(); goto out; }
        double t0 = uw_cli_now();
        s = uw_weights_decode(wd, dst, ne);
        double dt = uw_cli_now() - t0;
        if (s != UW_OK) { rc = uw_cli_report(s, pre, NULL); goto out; }
        if (k == 0 && memcmp(dst, src, t->orig_bytes)) { uw_cli_err("%s: device decode differs from the original", pre); rc = EX_INPUT; goto out; }
        if (k > 0 && dt < best) best = dt;
    }
    *dec_best = best;
    tot->dec_s += best;
    tot->bytes += t->orig_bytes;
    tot->tensors++;
    x = malloc(bmax * cols * 2);
    y0 = malloc(bmax * rows * 4);
    y1 = malloc(bmax * rows * 4);
    yb = malloc(bmax * rows * 4);
    if (!x || !y0 || !y1 || !yb) { uw_cli_err("%s: out of memory", pre); rc = EX_IO; goto out; }
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (uint64_t e = 0; e < bmax * cols; e++) { /* random finite BF16 activations in [-2, 2) */
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[e] = (uint16_t)(((r >> 20) & 0x807F) | (uint16_t)((120 + (r >> 40) % 8) << 7));
    }
    for (int bk = 0; bk < nbatch; bk++) {
        uint64_t B = batches[bk];
        for (size_t p = 0; p < DEV_NPIPES; p++) {
            float *y = p == 0 ? y0 : y1; /* dev_pipes[0] is plain-bf16, the reference */
            double bt = 1e300;
            for (int k = 0; k <= o->repeat; k++) {
                if (uw_cli_interrupted) { rc = uw_cli_interrupted_exit(); goto out; }
                double t0 = uw_cli_now();
                s = uw_weights_matmul(wa, dev_pipes[p], x, y, B);
                double dt = uw_cli_now() - t0;
                if (s == UW_ERR_UNSUPPORTED) break;
                if (s != UW_OK) { rc = uw_cli_report(s, pre, NULL); goto out; }
                /* a backend whose decode+gemm runs the vendor BLAS (cuda) is held to that BLAS on the
                 * plain weights (blas-bf16), the others to plain-bf16 */
                const float *yr = y0;
                if (k == 0 && dev_pipes[p] == UW_PIPELINE_DECODE_GEMM && uw_weights_matmul(wa, UW_PIPELINE_BLAS_BF16, x, yb, B) == UW_OK)
                    yr = yb;
                if (k == 0 && p > 0 && memcmp(yr, y1, B * rows * 4)) {
                    uw_cli_err("%s: %s differs from %s at batch %llu (contract C2)", pre, uw_pipeline_name(dev_pipes[p]),
                             yr == yb ? "blas-bf16" : "plain-bf16", (unsigned long long)B);
                    rc = EX_IO;
                    goto out;
                }
                if (k > 0 && dt < bt) bt = dt;
            }
            if (s == UW_ERR_UNSUPPORTED) continue;
            tot->offered[p] = 1;
            tot->mm_s[p][bk] += bt;
        }
    }
out:
    uw_weights_free(wd);
    uw_weights_free(wa);
    uw_free(own_blob);
    free(src);
    free(dst);
    free(x);
    free(y0);
    free(y1);
    free(yb);
    return rc;
}

/* The device section of one backend: per-tensor decode GB/s, then the matmul time of every
 * pipeline per batch size, summed over the tensors. */
int uw_cli_bench_device(const char *path, const uw_file *f, const char *bname, const uw_cli_opts *o, int first) {
    static const uint64_t def_batches[] = {1, 16, 64, 256};
    const uint64_t *batches = o->nbatch ? o->batch : def_batches;
    int nbatch = o->nbatch ? o->nbatch : 4;
    uw_device *d;
    uw_status s = uw_device_open(bname, NULL, &d);
    if (s != UW_OK) return uw_cli_report(s, NULL, NULL);
    /* the "auto" row runs what the tuning cache recorded (or the documented default) */
    char cpath[4096];
    uw_tuner *tuner = NULL;
    if (uw_cli_tuning_cache_path(o, cpath, sizeof cpath) == 0 && uw_tuner_open(cpath, &tuner) == UW_OK) {
        if (*uw_tuner_warning(tuner)) fprintf(stderr, "unweight: warning: %s\n", uw_tuner_warning(tuner));
        uw_device_set_tuner(d, tuner);
    }
    dev_tot tot;
    memset(&tot, 0, sizeof tot);
    if (o->json) {
        printf("%s{\"backend\":", first ? "" : ",");
        uw_cli_json_str(stdout, bname);
        printf(",\"device\":");
        uw_cli_json_str(stdout, uw_device_name(d));
        printf(",\"decode_note\":\"device decode of the Huffman form plus the copy to host memory and the checksum\",\"tensors\":[");
    } else {
        printf("\ndevice %s\nbest of %d after 1 warm-up; decode: the Huffman form decoded on the device, copied to host memory\n"
               "and checksummed (GB/s of BF16); matmul: y = x W^T with host x and y, each pipeline checked equal to plain-bf16\n",
               uw_device_name(d), o->repeat);
        printf("%-46s %-14s %8s %10s\n", "tensor", "shape", "MB", "dec GB/s");
        fflush(stdout);
    }
    int rc = EX_OK, nt = 0;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info t;
        if ((s = uw_file_tensor_info(f, i, &t)) != UW_OK) { rc = uw_cli_report(s, path, NULL); break; }
        if (!t.compressed && !uw_select_tensor(UW_SELECT_ALL, t.name, t.dtype, t.ndim, t.shape)) continue;
        if (uw_cli_numel(&t) == 0) continue;
        double dec = 0;
        int r = bench_device_tensor(path, f, i, &t, d, o, batches, nbatch, &tot, &dec);
        if (r >= 0) { rc = r; break; }
        char shape[96];
        uw_cli_shape_str(&t, shape, sizeof shape);
        if (o->json) {
            printf("%s\n{\"name\":", nt ? "," : "");
            uw_cli_json_str(stdout, t.name);
            printf(",\"shape\":\"%s\",\"bf16_bytes\":%" PRIu64 ",\"decode_s\":", shape, t.orig_bytes);
            uw_cli_json_num(stdout, dec, 1);
            printf(",\"decode_gbps\":");
            uw_cli_json_num(stdout, uw_cli_gbps(t.orig_bytes, dec), 1);
            printf("}");
        } else {
            printf("%-46.46s %-14.14s %8.2f %10.2f\n", t.name, shape, (double)t.orig_bytes / 1e6, uw_cli_gbps(t.orig_bytes, dec));
            fflush(stdout);
        }
        nt++;
    }
    uw_device_close(d);
    uw_tuner_close(tuner);
    if (rc != EX_OK) return rc;
    if (o->json) {
        printf("\n],\"decode_gbps\":");
        uw_cli_json_num(stdout, uw_cli_gbps(tot.bytes, tot.dec_s), tot.tensors > 0);
        printf(",\"matmul\":[");
        int k = 0;
        for (size_t p = 0; p < DEV_NPIPES; p++)
            for (int b = 0; b < nbatch && tot.offered[p]; b++) {
                printf("%s{\"pipeline\":\"%s\",\"batch\":%" PRIu64 ",\"s\":", k++ ? "," : "", uw_pipeline_name(dev_pipes[p]), batches[b]);
                uw_cli_json_num(stdout, tot.mm_s[p][b], 1);
                printf("}");
            }
        printf("]}");
    } else {
        printf("%-46s %-14s %8.2f %10.2f\n", "total", "", (double)tot.bytes / 1e6, uw_cli_gbps(tot.bytes, tot.dec_s));
        printf("matmul, ms summed over the %llu tensors\n%-18s", (unsigned long long)tot.tensors, "pipeline");
        for (int b = 0; b < nbatch; b++) {
            char h[32];
            snprintf(h, sizeof h, "batch %" PRIu64, batches[b]);
            printf(" %13s", h);
        }
        printf("\n");
        for (size_t p = 0; p < DEV_NPIPES; p++) {
            if (!tot.offered[p]) continue;
            printf("%-18s", uw_pipeline_name(dev_pipes[p]));
            for (int b = 0; b < nbatch; b++) printf(" %13.2f", tot.mm_s[p][b] * 1e3);
            printf("\n");
        }
    }
    return EX_OK;
}
