/* tune.c - `unweight tune`: autotune every weight shape of a file for each batch bucket on one
 * backend and keep the fastest pipeline and parameters in the tuning cache (docs/TUNING.md). */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The tuning cache path: --cache, else ${XDG_CACHE_HOME:-$HOME/.cache}/unweight/tuning.tsv
 * (directories created). Returns 0 or an exit code. */
int uw_cli_tuning_cache_path(const uw_cli_opts *o, char *buf, size_t n) {
    if (o->cache) {
        snprintf(buf, n, "%s", o->cache);
        return 0;
    }
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    char dir[2048];
    if (x && *x) snprintf(dir, sizeof dir, "%s", x);
    else if (h && *h) snprintf(dir, sizeof dir, "%s/.cache", h);
    else return uw_cli_usage_error("tune: no HOME or XDG_CACHE_HOME; give --cache PATH");
    mkdir(dir, 0755);
    size_t L = strlen(dir);
    snprintf(dir + L, sizeof dir - L, "/unweight");
    mkdir(dir, 0755);
    snprintf(buf, n, "%s/tuning.tsv", dir);
    return 0;
}

int uw_cli_cmd_tune(int argc, char **argv) {
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, "tune", O_BACKEND | O_BATCH | O_CACHE | O_JSON, &o);
    if (rc >= 0) return rc;
    if ((rc = uw_cli_need_pos(&o, 1, "tune", "FILE")) >= 0) return rc;
    const char *path = o.pos[0], *bname = o.backend ? o.backend : "cpu";
    if (!o.nbatch) {
        o.batch[0] = 1, o.batch[1] = 8, o.batch[2] = 64;
        o.nbatch = 3;
    }
    char cpath[4096];
    if ((rc = uw_cli_tuning_cache_path(&o, cpath, sizeof cpath))) return rc;
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return uw_cli_report(s, path, NULL);
    uw_device *d;
    s = uw_device_open(bname, NULL, &d);
    if (s != UW_OK) {
        uw_file_close(f);
        if (s == UW_ERR_NOT_FOUND) return uw_cli_usage_error("tune: backend '%s' is not compiled into this build", bname);
        uw_cli_err("backend %s: %s", bname, uw_last_error());
        return uw_cli_status_exit(s);
    }
    uw_tuner *t;
    s = uw_tuner_open(cpath, &t);
    if (s != UW_OK) {
        uw_device_close(d);
        uw_file_close(f);
        return uw_cli_report(s, cpath, NULL);
    }
    if (*uw_tuner_warning(t)) fprintf(stderr, "unweight: warning: %s\n", uw_tuner_warning(t));
    uw_device_set_tuner(d, t);
    printf("device: %s\ncache: %s\n%-12s %6s  %-18s %-14s %10s\n", uw_device_name(d), cpath, "shape", "batch", "pipeline", "params", "time us");
    /* one weight per distinct shape: the tuning key is the shape, not the tensor */
    uint64_t done_r[4096], done_c[4096];
    size_t ndone = 0;
    for (size_t i = 0; i < uw_file_tensor_count(f) && s == UW_OK && !uw_cli_interrupted; i++) {
        uw_tensor_info ti;
        uw_file_tensor_info(f, i, &ti);
        uint8_t *blob = NULL;
        size_t bs = 0;
        const void *data;
        size_t dsz;
        if (ti.compressed) {
            uw_file_tensor_data(f, i, &data, &dsz);
        } else if (uw_select_tensor(UW_SELECT_ALL, ti.name, ti.dtype, ti.ndim, ti.shape)) {
            uint64_t rows, cols;
            uw_matrix_view(ti.ndim, ti.shape, &rows, &cols);
            uint16_t *w = malloc(ti.orig_bytes);
            if (!w) { s = UW_ERR_NOMEM; break; }
            s = uw_file_decode(f, i, w, ti.orig_bytes, 0);
            uw_encode_params p;
            uw_encode_params_default(&p);
            if (s == UW_OK) s = uw_tensor_encode(w, rows, cols, &p, &blob, &bs);
            free(w);
            if (s != UW_OK) break;
            data = blob, dsz = bs;
        } else {
            continue;
        }
        uw_blob_info bi;
        s = uw_blob_inspect(data, dsz, &bi);
        int seen = 0;
        for (size_t k = 0; k < ndone && s == UW_OK; k++) seen |= done_r[k] == bi.rows && done_c[k] == bi.cols;
        if (s != UW_OK || seen || ndone == 4096) { uw_free(blob); continue; }
        done_r[ndone] = bi.rows, done_c[ndone++] = bi.cols;
        uw_weights *w;
        s = uw_weights_upload(d, data, dsz, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE, &w);
        for (int b = 0; b < o.nbatch && s == UW_OK; b++) {
            s = uw_tune(t, w, o.batch[b], 0);
            uw_choice c;
            if (s == UW_OK) s = uw_weights_choice(w, o.batch[b], &c);
            if (s != UW_OK) break;
            char shp[64], prm[128] = "-";
            snprintf(shp, sizeof shp, "%llux%llu", (unsigned long long)bi.rows, (unsigned long long)bi.cols);
            for (int k = 0, L = 0; k < c.nparams; k++)
                L += snprintf(prm + L, sizeof prm - (size_t)L, "%s%s=%d", k ? "," : "", c.param_names[k], c.param_values[k]);
            printf("%-12s %6llu  %-18s %-14s %10.1f\n", shp, (unsigned long long)o.batch[b], uw_pipeline_name(c.pipeline), prm, c.time_us);
            fflush(stdout);
        }
        if (s == UW_OK) uw_weights_free(w);
        uw_free(blob);
    }
    if (s == UW_OK) s = uw_tuner_save(t);
    int code = s == UW_OK ? EX_OK : uw_cli_report(s, path, NULL);
    if (s == UW_OK) printf("%zu entries in %s\n", uw_tuner_entries(t), cpath);
    uw_tuner_close(t);
    uw_device_close(d);
    uw_file_close(f);
    return uw_cli_interrupted ? uw_cli_interrupted_exit() : code;
}
