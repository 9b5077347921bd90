/* unweight.c - the `unweight` command-line tool: parses the command line and dispatches to the
 * command's file (fileio.c, info.c, bench.c, tune.c, backends.c; tools/README.md). Built on the
 * public API only. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: unweight <command> [arguments]\n"
    "\n"
    "Lossless compression of BF16 LLM weights in safetensors files.\n"
    "\n"
    "commands:\n"
    "  compress IN.safetensors OUT.safetensors [--select all|mlp] [--threads N]\n"
    "           [--codec huffman|palette] [-f|--force] [-q|--quiet]\n"
    "      Compress the selected BF16 tensors (default: all 2-D+ BF16 tensors of 4096+\n"
    "      elements). IN may be a sharded model's NAME.safetensors.index.json; OUT must then\n"
    "      end with .index.json: each shard is compressed into OUT's directory under its own\n"
    "      name and the index is copied unchanged. An existing OUT is replaced only with\n"
    "      --force. On a terminal: a progress bar, then a one-line summary (sizes, time,\n"
    "      speed) on stderr; --quiet: neither.\n"
    "  decompress IN OUT [--threads N] [-f|--force] [-q|--quiet]\n"
    "      Reproduce the original file byte for byte (index.json: every shard).\n"
    "  verify FILE [--threads N]\n"
    "      Decode every compressed tensor and check its checksums (index.json: every shard).\n"
    "  info FILE [--json]\n"
    "      Per-tensor codec, sizes, bits/weight, exponent entropy H and the order-0 bound 8+H;\n"
    "      totals and whole-file bits/weight including all metadata.\n"
    "  bench FILE [--backend NAME] [--json] [--threads N] [--repeat R] [--batch 1,16,64,256]\n"
    "      Encode/decode throughput (GB/s of BF16) with 1 and N threads (default N: all cores),\n"
    "      best of R (default 5) after one warm-up, against memcpy. FILE may be plain or\n"
    "      compressed. Device backends (and cpu when --batch is given) also report decode\n"
    "      GB/s on the device (copy to the host included) and matmul time per pipeline and\n"
    "      batch size (default 1,16,64,256).\n"
    "  tune FILE [--backend NAME] [--batch 1,8,64] [--cache PATH]\n"
    "      Autotune every weight shape of FILE for each batch bucket on the backend (default\n"
    "      cpu): time each pipeline and the backend's parameters, keep the fastest in the\n"
    "      tuning cache (default ${XDG_CACHE_HOME:-~/.cache}/unweight/tuning.tsv); shapes\n"
    "      already in the cache are not re-tuned. UW_PIPELINE_AUTO then uses the cache.\n"
    "  backends      list the compiled backends and whether each finds a device\n"
    "  help, --help  this text\n"
    "  --version     print the version\n"
    "\n"
    "options: --threads 0 means all cores. Options may also be written --name=value.\n"
    "\n"
    "exit status: 0 success, 1 usage error, 2 invalid or corrupt input (verify: a tensor\n"
    "failed), 3 I/O, memory or device error, 130 interrupted. Errors are one line on stderr.\n";

/* ---------------------------------------------------------------- options ----------------- */

static int parse_int(const char *s, long lo, long hi, long *v) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

int uw_cli_parse_opts(int argc, char **argv, int first, const char *cmd, int allowed, uw_cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->select = UW_SELECT_ALL;
    o->codec = UW_CODEC_HUFFMAN;
    o->repeat = 5;
    int only_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            if (o->npos == (int)(sizeof o->pos / sizeof o->pos[0])) return uw_cli_usage_error("%s: too many arguments", cmd);
            o->pos[o->npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return EX_OK;
        }
        if (!strcmp(a, "-f")) a = "--force";
        else if (!strcmp(a, "-q")) a = "--quiet";
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) return uw_cli_usage_error("%s: unknown option '%s'", cmd, a);
        memcpy(name, a, nl);
        name[nl] = 0;
        int bit = !strcmp(name, "--select") ? O_SELECT : !strcmp(name, "--threads") ? O_THREADS
                : !strcmp(name, "--codec") ? O_CODEC : !strcmp(name, "--json") ? O_JSON
                : !strcmp(name, "--repeat") ? O_REPEAT : !strcmp(name, "--backend") ? O_BACKEND
                : !strcmp(name, "--cache") ? O_CACHE : !strcmp(name, "--batch") ? O_BATCH
                : !strcmp(name, "--force") ? O_FORCE : !strcmp(name, "--quiet") ? O_QUIET : 0;
        if (!bit || !(allowed & bit)) return uw_cli_usage_error("%s: unknown option '%s'", cmd, name);
        if (bit == O_JSON || bit == O_FORCE || bit == O_QUIET) { /* flags */
            if (eq) return uw_cli_usage_error("%s: option %s takes no value", cmd, name);
            if (bit == O_JSON) o->json = 1;
            else if (bit == O_FORCE) o->force = 1;
            else o->quiet = 1;
            continue;
        }
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return uw_cli_usage_error("%s: option %s needs a value", cmd, name);
        long v;
        switch (bit) {
        case O_SELECT:
            if (!strcmp(val, "all")) o->select = UW_SELECT_ALL;
            else if (!strcmp(val, "mlp")) o->select = UW_SELECT_MLP;
            else return uw_cli_usage_error("%s: --select must be 'all' or 'mlp', not '%s'", cmd, val);
            break;
        case O_CODEC:
            if (!strcmp(val, "huffman")) o->codec = UW_CODEC_HUFFMAN;
            else if (!strcmp(val, "palette")) o->codec = UW_CODEC_PALETTE;
            else return uw_cli_usage_error("%s: --codec must be 'huffman' or 'palette', not '%s'", cmd, val);
            break;
        case O_THREADS:
            if (!parse_int(val, 0, 4096, &v)) return uw_cli_usage_error("%s: --threads needs an integer 0..4096, not '%s'", cmd, val);
            o->threads = (int)v;
            o->threads_set = 1;
            break;
        case O_REPEAT:
            if (!parse_int(val, 1, 1000000, &v)) return uw_cli_usage_error("%s: --repeat needs an integer >= 1, not '%s'", cmd, val);
            o->repeat = (int)v;
            break;
        case O_BACKEND:
            if (!*val) return uw_cli_usage_error("%s: --backend needs a name", cmd);
            o->backend = val;
            break;
        case O_CACHE:
            if (!*val) return uw_cli_usage_error("%s: --cache needs a path", cmd);
            o->cache = val;
            break;
        case O_BATCH: {
            o->nbatch = 0;
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", val);
            for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
                if (o->nbatch == 8 || !parse_int(tok, 1, 1 << 20, &v))
                    return uw_cli_usage_error("%s: --batch needs up to 8 comma-separated sizes 1..1048576, not '%s'", cmd, val);
                o->batch[o->nbatch++] = (uint64_t)v;
            }
            if (!o->nbatch) return uw_cli_usage_error("%s: --batch needs at least one size", cmd);
            break;
        }
        }
    }
    return -1;
}

int uw_cli_need_pos(const uw_cli_opts *o, int n, const char *cmd, const char *what) {
    if (o->npos < n) return uw_cli_usage_error("%s: missing operand (expected %s)", cmd, what);
    if (o->npos > n) return uw_cli_usage_error("%s: unexpected argument '%s' (expected %s)", cmd, o->pos[n], what);
    return -1;
}

static int finish(int rc) {
    if (fflush(stdout) || ferror(stdout)) {
        uw_cli_err("error writing to standard output: %s", strerror(errno));
        return rc ? rc : EX_IO;
    }
    return rc;
}

static int cmd_compress(int argc, char **argv) { return uw_cli_cmd_convert(argc, argv, 1); }
static int cmd_decompress(int argc, char **argv) { return uw_cli_cmd_convert(argc, argv, 0); }

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"compress", cmd_compress},       {"decompress", cmd_decompress}, {"verify", uw_cli_cmd_verify},
    {"info", uw_cli_cmd_info},        {"bench", uw_cli_cmd_bench},    {"tune", uw_cli_cmd_tune},
    {"backends", uw_cli_cmd_backends},
};

int main(int argc, char **argv) {
    if (argc < 2) return uw_cli_usage_error("missing command");
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        if (argc > 2 && strcmp(c, "help")) return uw_cli_usage_error("%s takes no arguments", c);
        fputs(usage_text, stdout);
        return finish(EX_OK);
    }
    if (!strcmp(c, "--version") || !strcmp(c, "-V") || !strcmp(c, "version")) {
        if (argc > 2) return uw_cli_usage_error("%s takes no arguments", c);
        printf("unweight %s (tensor format %d)\n", uw_version(), UW_FORMAT_VERSION);
        return finish(EX_OK);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(c, commands[i].name)) return finish(commands[i].run(argc, argv));
    return finish(c[0] == '-' ? uw_cli_usage_error("unknown option '%s'", c) : uw_cli_usage_error("unknown command '%s'", c));
}
