/* fileio.c - the file commands of the `unweight` tool: compress, decompress and verify, of one
 * safetensors file or a sharded model's index, through the library's model calls
 * (uw_compress_model, uw_decompress_model, uw_verify_model), with a progress bar per file. */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* ---------------------------------------------------------------- compress / decompress --- */

typedef struct convert_progress {
    int sharded;
    int quiet;        /* --quiet: no bar (the callback still lets a signal cancel) */
    int started;      /* a bar was set up */
    size_t file;      /* the file it shows */
    size_t files;     /* how many files the model has (1: a single file) */
    uint64_t total;   /* original tensor bytes of the whole model */
    uw_cli_bar bar;
} convert_progress;

/* One bar per file, labelled with the file's name ("[i/n] name" for a shard). A nonzero return
 * (after SIGINT/SIGTERM) cancels, and the library removes every temporary. */
static int on_progress(void *user, const uw_model_progress *p) {
    convert_progress *c = user;
    c->files = p->files;
    c->total = p->total;
    if (c->quiet) return uw_cli_interrupted != 0;
    if (!c->started || p->file != c->file) {
        uw_cli_bar_close();
        char label[96];
        if (c->sharded) snprintf(label, sizeof label, "[%zu/%zu] %s", p->file + 1, p->files, p->name);
        else snprintf(label, sizeof label, "%s", p->name);
        uw_cli_bar_init(&c->bar, label);
        c->file = p->file;
        c->started = 1;
    }
    return uw_cli_bar_update(&c->bar, p->file_done, p->file_total);
}

static double file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size : -1;
}

/* The summary on stderr when it is a terminal (as zstd: nothing when it is a file or a pipe):
 * "compress: IN -> OUT: 605.8 MB -> 403.5 MB (66.61%), 1.23 s, 492.5 MB/s" (MB/s of the larger
 * side, the original); a sharded model's line counts its files and
 * the original tensor bytes (the shards' sizes are not summed). */
static void summary(const char *cmd, const char *in, const char *out, const convert_progress *c, double secs) {
    if (c->sharded) {
        fprintf(stderr, "%s: %s -> %s: %zu files, %.1f MB of tensors, %.2f s, %.1f MB/s\n", cmd, in, out, c->files,
                (double)c->total / 1e6, secs, secs > 0 ? (double)c->total / 1e6 / secs : 0.0);
        return;
    }
    double a = file_bytes(in), b = file_bytes(out), big = a > b ? a : b;
    char pct[32] = "";
    if (!strcmp(cmd, "compress") && a > 0) snprintf(pct, sizeof pct, " (%.2f%%)", 100.0 * b / a);
    fprintf(stderr, "%s: %s -> %s: %.1f MB -> %.1f MB%s, %.2f s, %.1f MB/s\n", cmd, in, out, a / 1e6, b / 1e6, pct, secs,
            secs > 0 ? big / 1e6 / secs : 0.0);
}

int uw_cli_cmd_convert(int argc, char **argv, int compress) {
    const char *cmd = compress ? "compress" : "decompress";
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, cmd, 
                              (compress ? (O_SELECT | O_THREADS | O_CODEC) : O_THREADS) | O_FORCE | O_QUIET, &o);
    if (rc >= 0) return rc;
    if ((rc = uw_cli_need_pos(&o, 2, cmd, "IN OUT")) >= 0) return rc;
    const char *in = o.pos[0], *out = o.pos[1];
    if (uw_same_file(in, out)) {
        uw_cli_err("%s: output %s would overwrite the input", cmd, out);
        return EX_USAGE;
    }
    int sharded = uw_model_is_index(in);
    size_t ol = strlen(out);
    if (sharded && (ol < 11 || strcmp(out + ol - 11, ".index.json")))
        return uw_cli_usage_error("%s: %s is a sharded index, so the output must end with .index.json (got '%s')", cmd, in, out);
    /* no clobbering without --force (for a sharded model: its index, written last) */
    struct stat st;
    if (!o.force && stat(out, &st) == 0) {
        uw_cli_err("%s: %s already exists; not overwritten (use --force to replace it)", cmd, out);
        return EX_USAGE;
    }
    double t0 = uw_cli_now();
    uw_cli_signals_install();
    convert_progress cp;
    memset(&cp, 0, sizeof cp);
    cp.sharded = sharded;
    cp.quiet = o.quiet;
    uw_model_options mo;
    uw_model_options_default(&mo);
    mo.threads = o.threads;
    mo.select = o.select;
    mo.params.codec = o.codec;
    mo.progress = on_progress;
    mo.user = &cp;
    uw_status s = compress ? uw_compress_model(in, out, &mo) : uw_decompress_model(in, out, &mo);
    if (s != UW_OK) return uw_cli_interrupted ? uw_cli_interrupted_exit() : uw_cli_report(s, NULL, NULL);
    uw_cli_bar_close();
    if (!o.quiet && uw_cli_stderr_is_tty()) summary(cmd, in, out, &cp, uw_cli_now() - t0);
    return EX_OK;
}

/* ---------------------------------------------------------------- verify ------------------ */

/* A failing tensor: one line on stdout, "FILE: tensor 'NAME': what failed". */
static void on_failure(void *user, const char *path, const char *tensor, uw_status s, const char *message) {
    (void)user;
    char pre[1200];
    snprintf(pre, sizeof pre, "%s: tensor '%s': ", path, tensor);
    const char *m = message;
    if (!strncmp(m, pre, strlen(pre))) m += strlen(pre);
    if (!*m) m = uw_status_name(s);
    printf("%s%s\n", pre, m);
}

int uw_cli_cmd_verify(int argc, char **argv) {
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, "verify", O_THREADS, &o);
    if (rc >= 0) return rc;
    if ((rc = uw_cli_need_pos(&o, 1, "verify", "FILE")) >= 0) return rc;
    uw_model_options mo;
    uw_model_options_default(&mo);
    mo.threads = o.threads;
    mo.on_failure = on_failure;
    uw_verify_result r;
    uw_status s = uw_verify_model(o.pos[0], &mo, &r);
    if (!r.complete) {
        uw_cli_report(s, NULL, NULL);
        /* verify of a file that is not compressed: the input is wrong, not the command line */
        return s == UW_ERR_INVALID_ARG ? EX_INPUT : uw_cli_status_exit(s);
    }
    printf("verified %zu tensors, %zu failed\n", r.tensors, r.failed);
    return r.failed ? EX_INPUT : EX_OK;
}
