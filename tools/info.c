/* info.c - `unweight info`: what a file holds, per tensor (codec, shape, sizes, bits per weight,
 * exponent entropy H and the order-0 bound 8+H) and in total, as text or JSON. */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char *codec_name(const uw_tensor_info *t) {
    if (!t->compressed) return "raw";
    return t->codec == UW_CODEC_PALETTE ? "palette" : "huffman";
}

int uw_cli_cmd_info(int argc, char **argv) {
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, "info", O_JSON, &o);
    if (rc >= 0) return rc;
    if ((rc = uw_cli_need_pos(&o, 1, "info", "FILE")) >= 0) return rc;
    const char *path = o.pos[0];
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return uw_cli_report(s, path, NULL);
    struct stat st;
    uint64_t fsize = stat(path, &st) ? 0 : (uint64_t)st.st_size;
    size_t nt = uw_file_tensor_count(f);
    uw_tensor_info *ti = calloc(nt ? nt : 1, sizeof *ti);
    if (!ti) { uw_file_close(f); uw_cli_err("%s: out of memory", path); return EX_IO; }
    uint64_t c_numel = 0, c_stored = 0, c_n = 0, orig_total = 0, pass_stored = 0;
    double bound_sum = 0;
    size_t namew = 6;
    for (size_t i = 0; i < nt; i++) {
        if ((s = uw_file_tensor_info(f, i, &ti[i])) != UW_OK) {
            free(ti);
            rc = uw_cli_report(s, path, NULL);
            uw_file_close(f);
            return rc;
        }
        const uw_tensor_info *t = &ti[i];
        orig_total += t->orig_bytes;
        if (strlen(t->name) > namew) namew = strlen(t->name);
        if (t->compressed) {
            uint64_t ne = uw_cli_numel(t);
            c_n++;
            c_numel += ne;
            c_stored += t->stored_bytes;
            bound_sum += (double)ne * (8.0 + t->exp_entropy);
        } else {
            pass_stored += t->stored_bytes;
        }
    }
    if (namew > 60) namew = 60;
    int have = c_numel > 0;
    double bpw = have ? (double)c_stored * 8.0 / (double)c_numel : 0;
    double bound = have ? bound_sum / (double)c_numel : 0;
    double fbpw = have ? (double)(fsize - pass_stored) * 8.0 / (double)c_numel : 0;
    if (o.json) {
        printf("{\"file\":");
        uw_cli_json_str(stdout, path);
        printf(",\"compressed\":%s,\"tensors\":[", uw_file_is_compressed(f) ? "true" : "false");
        for (size_t i = 0; i < nt; i++) {
            const uw_tensor_info *t = &ti[i];
            uint64_t ne = uw_cli_numel(t);
            int c = t->compressed && ne > 0;
            printf("%s\n{\"name\":", i ? "," : "");
            uw_cli_json_str(stdout, t->name);
            printf(",\"dtype\":");
            uw_cli_json_str(stdout, t->dtype);
            printf(",\"codec\":\"%s\",\"shape\":[", codec_name(t));
            for (int d = 0; d < t->ndim; d++) printf("%s%" PRIu64, d ? "," : "", t->shape[d]);
            printf("],\"numel\":%" PRIu64 ",\"orig_bytes\":%" PRIu64 ",\"stored_bytes\":%" PRIu64 ",\"bits_per_weight\":", ne,
                   t->orig_bytes, t->stored_bytes);
            uw_cli_json_num(stdout, ne ? (double)t->stored_bytes * 8.0 / (double)ne : 0, ne > 0);
            printf(",\"exp_entropy\":");
            uw_cli_json_num(stdout, t->exp_entropy, c);
            printf(",\"bound_bits_per_weight\":");
            uw_cli_json_num(stdout, 8.0 + t->exp_entropy, c);
            printf(",\"rare_frac\":");
            uw_cli_json_num(stdout, t->verbatim_frac, c);
            printf("}");
        }
        printf("\n],\"totals\":{\"tensors\":%zu,\"compressed_tensors\":%" PRIu64 ",\"compressed_numel\":%" PRIu64
               ",\"compressed_stored_bytes\":%" PRIu64 ",\"bits_per_weight\":",
               nt, c_n, c_numel, c_stored);
        uw_cli_json_num(stdout, bpw, have);
        printf(",\"bound_bits_per_weight\":");
        uw_cli_json_num(stdout, bound, have);
        printf(",\"gap_bits_per_weight\":");
        uw_cli_json_num(stdout, bpw - bound, have);
        printf(",\"file_size\":%" PRIu64 ",\"orig_tensor_bytes\":%" PRIu64 ",\"passthrough_bytes\":%" PRIu64
               ",\"file_bits_per_weight\":",
               fsize, orig_total, pass_stored);
        uw_cli_json_num(stdout, fbpw, have);
        printf("}}\n");
    } else {
        printf("%s: %s, %zu tensors, %" PRIu64 " compressed\n", path,
               uw_file_is_compressed(f) ? "unweight-compressed" : "plain safetensors (not compressed)", nt, c_n);
        printf("%-*s %-7s %-12s %12s %12s %7s %7s %7s %9s\n", (int)namew, "tensor", "codec", "shape", "orig B", "stored B",
               "bits/w", "H", "8+H", "rare");
        for (size_t i = 0; i < nt; i++) {
            const uw_tensor_info *t = &ti[i];
            uint64_t ne = uw_cli_numel(t);
            char sh[96];
            uw_cli_shape_str(t, sh, sizeof sh);
            printf("%-*s %-7s %-12s %12" PRIu64 " %12" PRIu64, (int)namew, t->name, codec_name(t), sh, t->orig_bytes,
                   t->stored_bytes);
            if (t->compressed && ne)
                printf(" %7.3f %7.4f %7.4f %9.6f\n", (double)t->stored_bytes * 8.0 / (double)ne, t->exp_entropy,
                       8.0 + t->exp_entropy, t->verbatim_frac);
            else
                printf(" %7s %7s %7s %9s\n", "-", "-", "-", "-");
        }
        if (have) {
            printf("compressed: %" PRIu64 " tensors, %" PRIu64 " weights, %" PRIu64 " bytes stored, %.4f bits/weight\n", c_n,
                   c_numel, c_stored, bpw);
            printf("order-0 bound (8+H, numel-weighted): %.4f bits/weight, gap %+.4f bits/weight\n", bound, bpw - bound);
            printf("file: %" PRIu64 " bytes (original tensor bytes %" PRIu64 ", %.2f%%); file bits/weight incl. all metadata: %.4f\n",
                   fsize, orig_total, orig_total ? 100.0 * (double)fsize / (double)orig_total : 0.0, fbpw);
        } else {
            printf("compressed: none\n");
            printf("file: %" PRIu64 " bytes (original tensor bytes %" PRIu64 ")\n", fsize, orig_total);
        }
    }
    free(ti);
    uw_file_close(f);
    return EX_OK;
}
