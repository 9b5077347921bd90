/* fileio.c - the file commands of the `unweight` tool: compress, decompress and verify, of one
 * safetensors file or a sharded model's index, through the library's model calls
 * (uw_compress_model, uw_decompress_model, uw_verify_model), with a progress bar per file. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* ---------------------------------------------------------------- compress / decompress --- */

typedef struct convert_progress {
    int sharded;
    int started;      /* a bar was set up */
    size_t file;      /* the file it shows */
    uw_cli_bar bar;
} convert_progress;

/* One bar per file, labelled with the file's name ("[i/n] name" for a shard). A nonzero return
 * (after SIGINT/SIGTERM) cancels, and the library removes every temporary. */
static int on_progress(void *user, const uw_model_progress *p) {
    convert_progress *c = user;
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

int uw_cli_cmd_convert(int argc, char **argv, int compress) {
    const char *cmd = compress ? "compress" : "decompress";
    uw_cli_opts o;
    int rc = uw_cli_parse_opts(argc, argv, 2, cmd, compress ? (O_SELECT | O_THREADS | O_CODEC) : O_THREADS, &o);
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
    uw_cli_signals_install();
    convert_progress cp;
    memset(&cp, 0, sizeof cp);
    cp.sharded = sharded;
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
