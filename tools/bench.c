/* bench.c - `unweight bench`: encode and decode throughput of a file's tensors on the host (1 and
 * N threads, against memcpy), then each device backend's section (bench_device.c). */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double uw_cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *(*volatile g_memcpy)(void *, const void *, size_t) = memcpy; /* not elided */

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "model name", 10)) continue;
        char *c = strchr(line, ':');
        if (!c) continue;
        c++;
        while (*c == ' ' || *c == '\t') c++;
        c[strcspn(c, "\n")] = 0;
        snprintf(buf, n, "%s", c);
        break;
    }
    fclose(fp);
}

enum { B_ENC1, B_ENCN, B_DEC1, B_DECN, B_MEMCPY, B_COLS };
static const char *const bcol_json[B_COLS] = {"encode_1t", "encode_nt", "decode_1t", "decode_nt", "memcpy"};

typedef struct brow {
    const char *name;
    char shape[96];
    const char *codec;
    uint64_t numel, bytes, blob_bytes;
    double t[B_COLS]; /* best seconds */
} brow;

/* Benchmark one tensor; returns -1 on success, else an exit code (error printed). */
static int bench_tensor(const char *path, const uw_file *f, size_t i, const uw_tensor_info *t, int nthreads, int repeat,
                        brow *r) {
    uint64_t ne = uw_cli_numel(t);
    uint64_t rows, cols;
    uw_matrix_view(t->ndim, t->shape, &rows, &cols);
    uint16_t *src = malloc(t->orig_bytes), *dst = malloc(t->orig_bytes);
    uint8_t *own_blob = NULL;
    const void *blob = NULL;
    size_t blob_size = 0;
    int rc = -1;
    uw_status s;
    uw_encode_params p;
    uw_encode_params_default(&p);
    if (t->compressed) p.codec = t->codec;
    if (!src || !dst) { uw_cli_err("%s: tensor '%s': out of memory", path, t->name); rc = EX_IO; goto out; }
    if ((s = uw_file_decode(f, i, src, t->orig_bytes, 0)) != UW_OK) { rc = uw_cli_report(s, path, NULL); goto out; }
    if (t->compressed) {
        uw_blob_info bi;
        if ((s = uw_file_tensor_data(f, i, &blob, &blob_size)) != UW_OK || (s = uw_blob_inspect(blob, blob_size, &bi)) != UW_OK) {
            char pre[1100];
            snprintf(pre, sizeof pre, "%s: tensor '%s'", path, t->name);
            rc = uw_cli_report(s, pre, NULL);
            goto out;
        }
        if (bi.rows * bi.cols == ne) { /* encode as the file did */
            rows = bi.rows;
            cols = bi.cols;
        }
    } else {
        if ((s = uw_tensor_encode(src, rows, cols, &p, &own_blob, &blob_size)) != UW_OK) {
            char pre[1100];
            snprintf(pre, sizeof pre, "%s: tensor '%s'", path, t->name);
            rc = uw_cli_report(s, pre, NULL);
            goto out;
        }
        blob = own_blob;
    }
    r->name = t->name;
    uw_cli_shape_str(t, r->shape, sizeof r->shape);
    r->codec = p.codec == UW_CODEC_PALETTE ? "palette" : "huffman";
    r->numel = ne;
    r->bytes = t->orig_bytes;
    r->blob_bytes = blob_size;
    for (int c = 0; c < B_COLS; c++) {
        double best = 1e300;
        for (int k = 0; k <= repeat; k++) { /* k == 0: warm-up */
            if (uw_cli_interrupted) { rc = uw_cli_interrupted_exit(); goto out; }
            uint8_t *eb = NULL;
            size_t es = 0;
            double t0 = uw_cli_now();
            switch (c) {
            case B_ENC1:
            case B_ENCN:
                p.threads = c == B_ENC1 ? 1 : nthreads;
                s = uw_tensor_encode(src, rows, cols, &p, &eb, &es);
                break;
            case B_DEC1:
            case B_DECN:
                s = uw_blob_decode(blob, blob_size, dst, ne, c == B_DEC1 ? 1 : nthreads);
                break;
            default:
                g_memcpy(dst, src, t->orig_bytes);
                s = UW_OK;
            }
            double dt = uw_cli_now() - t0;
            uw_free(eb);
            if (s != UW_OK) {
                char pre[1100];
                snprintf(pre, sizeof pre, "%s: tensor '%s'", path, t->name);
                rc = uw_cli_report(s, pre, NULL);
                goto out;
            }
            if ((c == B_DEC1 || c == B_DECN) && k == 0 && memcmp(dst, src, t->orig_bytes)) {
                uw_cli_err("%s: tensor '%s': decoded bytes differ from the original", path, t->name);
                rc = EX_INPUT;
                goto out;
            }
            if (k > 0 && dt < best) best = dt;
        }
        r->t[c] = best;
    }
out:
    uw_free(own_blob);
    free(src);
    free(dst);
    return rc;
}

double uw_cli_gbps(uint64_t bytes, double s) { return s > 0 ? (double)bytes / s / 1e9 : 0; }

static int bench_backend(const char *path, const uw_file *f, const char *bname, const uw_cli_opts *o, int nthreads, int first) {
    size_t nt = uw_file_tensor_count(f);
    brow *rows = calloc(nt ? nt : 1, sizeof *rows);
    if (!rows) { uw_cli_err("%s: out of memory", path); return EX_IO; }
    size_t nr = 0;
    int rc = EX_OK;
    if (!o->json) {
        printf("%sbackend %s: best of %d after 1 warm-up, threads 1 and %d, GB/s of BF16\n", first ? "" : "\n", bname, o->repeat,
               nthreads);
        printf("%-46s %-14s %8s %7s %8s %8s %8s %8s %8s\n", "tensor", "shape", "MB", "bits/w", "enc 1t", "enc Nt", "dec 1t",
               "dec Nt", "memcpy");
        fflush(stdout);
    }
    for (size_t i = 0; i < nt; i++) {
        uw_tensor_info t;
        uw_status s = uw_file_tensor_info(f, i, &t);
        if (s != UW_OK) { rc = uw_cli_report(s, path, NULL); break; }
        if (!t.compressed && !uw_select_tensor(UW_SELECT_ALL, t.name, t.dtype, t.ndim, t.shape)) continue;
        if (uw_cli_numel(&t) == 0) continue;
        int r = bench_tensor(path, f, i, &t, nthreads, o->repeat, &rows[nr]);
        if (r >= 0) { rc = r; break; }
        brow *b = &rows[nr++];
        if (!o->json) {
            printf("%-46.46s %-14.14s %8.2f %7.3f %8.2f %8.2f %8.2f %8.2f %8.2f\n", b->name, b->shape, (double)b->bytes / 1e6,
                   (double)b->blob_bytes * 8.0 / (double)b->numel, uw_cli_gbps(b->bytes, b->t[B_ENC1]), uw_cli_gbps(b->bytes, b->t[B_ENCN]),
                   uw_cli_gbps(b->bytes, b->t[B_DEC1]), uw_cli_gbps(b->bytes, b->t[B_DECN]), uw_cli_gbps(b->bytes, b->t[B_MEMCPY]));
            fflush(stdout);
        }
    }
    if (rc != EX_OK) { free(rows); return rc; }
    uint64_t tb = 0, tblob = 0, tn = 0;
    double tt[B_COLS] = {0};
    for (size_t k = 0; k < nr; k++) {
        tb += rows[k].bytes;
        tblob += rows[k].blob_bytes;
        tn += rows[k].numel;
        for (int c = 0; c < B_COLS; c++) tt[c] += rows[k].t[c];
    }
    if (o->json) {
        printf("%s{\"name\":", first ? "" : ",");
        uw_cli_json_str(stdout, bname);
        printf(",\"tensors\":[");
        for (size_t k = 0; k < nr; k++) {
            const brow *b = &rows[k];
            printf("%s\n{\"name\":", k ? "," : "");
            uw_cli_json_str(stdout, b->name);
            printf(",\"shape\":\"%s\",\"codec\":\"%s\",\"numel\":%" PRIu64 ",\"bf16_bytes\":%" PRIu64 ",\"blob_bytes\":%" PRIu64
                   ",\"bits_per_weight\":",
                   b->shape, b->codec, b->numel, b->bytes, b->blob_bytes);
            uw_cli_json_num(stdout, (double)b->blob_bytes * 8.0 / (double)b->numel, 1);
            for (int c = 0; c < B_COLS; c++) {
                printf(",\"%s_s\":", bcol_json[c]);
                uw_cli_json_num(stdout, b->t[c], 1);
                printf(",\"%s_gbps\":", bcol_json[c]);
                uw_cli_json_num(stdout, uw_cli_gbps(b->bytes, b->t[c]), 1);
            }
            printf("}");
        }
        printf("\n],\"total\":{\"tensors\":%zu,\"numel\":%" PRIu64 ",\"bf16_bytes\":%" PRIu64 ",\"blob_bytes\":%" PRIu64
               ",\"bits_per_weight\":",
               nr, tn, tb, tblob);
        uw_cli_json_num(stdout, tn ? (double)tblob * 8.0 / (double)tn : 0, tn > 0);
        for (int c = 0; c < B_COLS; c++) {
            printf(",\"%s_s\":", bcol_json[c]);
            uw_cli_json_num(stdout, tt[c], 1);
            printf(",\"%s_gbps\":", bcol_json[c]);
            uw_cli_json_num(stdout, uw_cli_gbps(tb, tt[c]), nr > 0);
        }
        printf("}}");
    } else if (nr == 0) {
        printf("(no tensor is or would be compressed)\n");
    } else {
        printf("%-46s %-14s %8.2f %7.3f %8.2f %8.2f %8.2f %8.2f %8.2f\n", "total", "", (double)tb / 1e6, (double)tblob * 8.0 / (double)tn,
               uw_cli_gbps(tb, tt[B_ENC1]), uw_cli_gbps(tb, tt[B_ENCN]), uw_cli_gbps(tb, tt[B_DEC1]), uw_cli_gbps(tb, tt[B_DECN]), uw_cli_gbps(tb, tt[B_MEMCPY]));
    }
    free(rows);
    return EX_OK;
}

int uw_cli_cmd_bench(int argc, char **argv) {
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, "bench", O_CACHE | O_BACKEND | O_JSON | O_THREADS | O_REPEAT | O_BATCH, &o);
    if (rc >= 0) return rc;
    if ((rc = uw_cli_need_pos(&o, 1, "bench", "FILE")) >= 0) return rc;
    const char *path = o.pos[0];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    int nthreads = o.threads_set && o.threads > 0 ? o.threads : (int)cores;

    /* which backends */
    const char *names[16];
    size_t nb = 0;
    if (o.backend) {
        int known = 0;
        char list[256] = "";
        for (size_t i = 0; i < uw_backend_count(); i++) {
            known |= !strcmp(uw_backend_name(i), o.backend);
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", uw_backend_name(i));
        }
        if (!known) return uw_cli_usage_error("bench: backend '%s' is not compiled in (available: %s)", o.backend, list);
        uw_status s = uw_backend_probe(o.backend);
        if (s != UW_OK) return uw_cli_report(s, NULL, NULL);
        names[nb++] = o.backend;
    } else {
        for (size_t i = 0; i < uw_backend_count() && nb < 16; i++)
            if (uw_backend_probe(uw_backend_name(i)) == UW_OK) names[nb++] = uw_backend_name(i);
    }
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return uw_cli_report(s, path, NULL);
    uw_cli_signals_install();
    char model[256];
    cpu_model(model, sizeof model);
    if (o.json) {
        printf("{\"file\":");
        uw_cli_json_str(stdout, path);
        printf(",\"machine\":{\"cpu\":");
        uw_cli_json_str(stdout, model);
        printf(",\"cores\":%ld},\"threads\":%d,\"repeat\":%d,\"unit\":\"GB/s of BF16 (1e9 bytes/s)\",\"backends\":[", cores,
               nthreads, o.repeat);
    } else {
        printf("machine: %s, %ld cores\nfile: %s (%s)\n", model, cores, path,
               uw_file_is_compressed(f) ? "compressed: decoding its blobs" : "plain: encoding its tensors first");
    }
    rc = EX_OK;
    int first = 1;
    for (size_t b = 0; b < nb && rc == EX_OK; b++) {
        if (strcmp(names[b], "cpu")) {
            /* the codec runs on the host: a device backend's figures are in its device section */
            if (o.json) {
                printf("%s{\"name\":", first ? "" : ",");
                uw_cli_json_str(stdout, names[b]);
                printf(",\"skipped\":\"the codec runs on the host; see devices\"}");
            }
            first = 0;
            continue;
        }
        rc = bench_backend(path, f, names[b], &o, nthreads, first);
        first = 0;
    }
    /* device sections: every device backend, and cpu when --batch asks for it */
    if (o.json && rc == EX_OK) printf("],\"devices\":[");
    first = 1;
    for (size_t b = 0; b < nb && rc == EX_OK; b++) {
        if (!strcmp(names[b], "cpu") && !o.nbatch) continue;
        rc = uw_cli_bench_device(path, f, names[b], &o, first);
        first = 0;
    }
    if (o.json && rc == EX_OK) printf("]}\n");
    uw_file_close(f);
    return rc;
}
