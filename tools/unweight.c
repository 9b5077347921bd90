/* unweight.c - the `unweight` command-line tool: compress / decompress / verify / inspect /
 * benchmark safetensors files (sharded models included), built on the public API only. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unweight.h"

/* exit codes */
enum { EX_OK = 0, EX_USAGE = 1, EX_INPUT = 2, EX_IO = 3, EX_INTR = 130 };

static const char usage_text[] =
    "usage: unweight <command> [arguments]\n"
    "\n"
    "Lossless compression of BF16 LLM weights in safetensors files.\n"
    "\n"
    "commands:\n"
    "  compress IN.safetensors OUT.safetensors [--select all|mlp] [--threads N]\n"
    "           [--codec huffman|palette]\n"
    "      Compress the selected BF16 tensors (default: all 2-D+ BF16 tensors of 4096+\n"
    "      elements). IN may be a sharded model's NAME.safetensors.index.json; OUT must then\n"
    "      end with .index.json: each shard is compressed into OUT's directory under its own\n"
    "      name and the index is copied unchanged.\n"
    "  decompress IN OUT [--threads N]\n"
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

/* ---------------------------------------------------------------- errors ------------------ */

static int g_bar_open; /* a progress bar line is on the terminal */

static void bar_close(void) {
    if (g_bar_open) {
        fputc('\n', stderr);
        g_bar_open = 0;
    }
}

/* One line on stderr: "unweight: <message>" (newlines in the message become spaces). */
static void err_line(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    bar_close();
    fprintf(stderr, "unweight: %s\n", buf);
}

static int usage_error(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    err_line("%s (see 'unweight --help')", buf);
    return EX_USAGE;
}

static int status_exit(uw_status s) {
    switch (s) {
    case UW_OK: return EX_OK;
    case UW_ERR_INVALID_ARG: return EX_USAGE;
    case UW_ERR_CORRUPT:
    case UW_ERR_CHECKSUM:
    case UW_ERR_UNSUPPORTED:
    case UW_ERR_LIMIT:
    case UW_ERR_NOT_FOUND: return EX_INPUT;
    case UW_ERR_IO:
    case UW_ERR_NOMEM:
    default: return EX_IO; /* also UW_ERR_NO_DEVICE, UW_ERR_BACKEND */
    }
}

/* Report a library failure: the message names the file (prefixed with `path` unless it
 * already mentions `path` or `other`). Returns the exit code. */
static int report(uw_status s, const char *path, const char *other) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", *uw_last_error() ? uw_last_error() : uw_status_name(s));
    if ((path && strstr(msg, path)) || (other && strstr(msg, other)) || !path)
        err_line("%s", msg);
    else
        err_line("%s: %s", path, msg);
    return status_exit(s);
}

/* ---------------------------------------------------------------- options ----------------- */

enum { O_SELECT = 1, O_THREADS = 2, O_CODEC = 4, O_JSON = 8, O_REPEAT = 16, O_BACKEND = 32, O_CACHE = 64, O_BATCH = 128 };

typedef struct opts {
    const char *pos[8];
    int npos;
    int select, threads, codec, json, repeat;
    int threads_set;
    const char *backend;
    const char *cache;    /* --cache PATH (tune, bench) */
    uint64_t batch[8];    /* --batch 1,8,64 (tune) */
    int nbatch;
} opts;

static int parse_int(const char *s, long lo, long hi, long *v) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

/* Parse argv[first..] for command `cmd`; `allowed` is a mask of O_*. Returns -1 on success,
 * else the exit code (usage printed, or 0 after --help). */
static int parse_opts(int argc, char **argv, int first, const char *cmd, int allowed, opts *o) {
    memset(o, 0, sizeof *o);
    o->select = UW_SELECT_ALL;
    o->codec = UW_CODEC_HUFFMAN;
    o->repeat = 5;
    int only_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            if (o->npos == (int)(sizeof o->pos / sizeof o->pos[0])) return usage_error("%s: too many arguments", cmd);
            o->pos[o->npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return EX_OK;
        }
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) return usage_error("%s: unknown option '%s'", cmd, a);
        memcpy(name, a, nl);
        name[nl] = 0;
        int bit = !strcmp(name, "--select") ? O_SELECT : !strcmp(name, "--threads") ? O_THREADS
                : !strcmp(name, "--codec") ? O_CODEC : !strcmp(name, "--json") ? O_JSON
                : !strcmp(name, "--repeat") ? O_REPEAT : !strcmp(name, "--backend") ? O_BACKEND
                : !strcmp(name, "--cache") ? O_CACHE : !strcmp(name, "--batch") ? O_BATCH : 0;
        if (!bit || !(allowed & bit)) return usage_error("%s: unknown option '%s'", cmd, name);
        if (bit == O_JSON) {
            if (eq) return usage_error("%s: option --json takes no value", cmd);
            o->json = 1;
            continue;
        }
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return usage_error("%s: option %s needs a value", cmd, name);
        long v;
        switch (bit) {
        case O_SELECT:
            if (!strcmp(val, "all")) o->select = UW_SELECT_ALL;
            else if (!strcmp(val, "mlp")) o->select = UW_SELECT_MLP;
            else return usage_error("%s: --select must be 'all' or 'mlp', not '%s'", cmd, val);
            break;
        case O_CODEC:
            if (!strcmp(val, "huffman")) o->codec = UW_CODEC_HUFFMAN;
            else if (!strcmp(val, "palette")) o->codec = UW_CODEC_PALETTE;
            else return usage_error("%s: --codec must be 'huffman' or 'palette', not '%s'", cmd, val);
            break;
        case O_THREADS:
            if (!parse_int(val, 0, 4096, &v)) return usage_error("%s: --threads needs an integer 0..4096, not '%s'", cmd, val);
            o->threads = (int)v;
            o->threads_set = 1;
            break;
        case O_REPEAT:
            if (!parse_int(val, 1, 1000000, &v)) return usage_error("%s: --repeat needs an integer >= 1, not '%s'", cmd, val);
            o->repeat = (int)v;
            break;
        case O_BACKEND:
            if (!*val) return usage_error("%s: --backend needs a name", cmd);
            o->backend = val;
            break;
        case O_CACHE:
            if (!*val) return usage_error("%s: --cache needs a path", cmd);
            o->cache = val;
            break;
        case O_BATCH: {
            o->nbatch = 0;
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", val);
            for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
                if (o->nbatch == 8 || !parse_int(tok, 1, 1 << 20, &v))
                    return usage_error("%s: --batch needs up to 8 comma-separated sizes 1..1048576, not '%s'", cmd, val);
                o->batch[o->nbatch++] = (uint64_t)v;
            }
            if (!o->nbatch) return usage_error("%s: --batch needs at least one size", cmd);
            break;
        }
        }
    }
    return -1;
}

static int need_pos(const opts *o, int n, const char *cmd, const char *what) {
    if (o->npos < n) return usage_error("%s: missing operand (expected %s)", cmd, what);
    if (o->npos > n) return usage_error("%s: unexpected argument '%s' (expected %s)", cmd, o->pos[n], what);
    return -1;
}

/* ---------------------------------------------------------------- progress / signals ------ */

static volatile sig_atomic_t g_interrupted;
static int g_tty;

static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

typedef struct prog {
    char label[96];
    int last;
} prog;

static void prog_init(prog *p, const char *label) {
    snprintf(p->label, sizeof p->label, "%s", label);
    p->last = -1;
}

/* The library calls this after each unit of work; a bar is drawn only on a terminal. A
 * nonzero return (after SIGINT/SIGTERM) cancels, and the library removes its temporary. */
static int progress_cb(void *user, uint64_t done, uint64_t total) {
    prog *p = user;
    if (g_tty) {
        int pct = total ? (int)(done * 100 / total) : 100;
        if (pct > 100) pct = 100;
        if (pct != p->last) {
            char bar[41];
            int k = pct * 40 / 100;
            for (int i = 0; i < 40; i++) bar[i] = i < k ? '#' : '.';
            bar[40] = 0;
            fprintf(stderr, "\r%-32.32s [%s] %3d%%", p->label, bar, pct);
            fflush(stderr);
            g_bar_open = 1;
            p->last = pct;
        }
    }
    return g_interrupted != 0;
}

/* ---------------------------------------------------------------- small helpers ----------- */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int same_file(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    struct stat x, y;
    if (stat(a, &x) || stat(b, &y)) return 0;
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* directory part of path including the trailing '/', or "" */
static char *dir_of(const char *path) {
    const char *s = strrchr(path, '/');
    size_t n = s ? (size_t)(s - path) + 1 : 0;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    memcpy(p + a, name, b + 1);
    return p;
}

static uint64_t numel_of(const uw_tensor_info *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* docs/FORMAT.md section 9 "Matrix view": trailing dims fold into the columns until there are
 * 64 of them, so [out, in, 1, 1] is out x in (what `compress` does; used for plain tensors) */
static void matrix_view(const uw_tensor_info *t, uint64_t *rows, uint64_t *cols) {
    uint64_t n = numel_of(t), c = 1;
    for (int d = t->ndim - 1; d >= 1; d--) {
        c *= t->shape[d];
        if (c >= 64) break;
    }
    if (t->ndim <= 1) c = n;
    *cols = c ? c : 1;
    *rows = c ? n / c : 0;
}

static const char *codec_name(const uw_tensor_info *t) {
    if (!t->compressed) return "raw";
    return t->codec == UW_CODEC_PALETTE ? "palette" : "huffman";
}

static void shape_str(const uw_tensor_info *t, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = 0;
    if (t->ndim == 0) { snprintf(buf, n, "scalar"); return; }
    for (int d = 0; d < t->ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, "%s%" PRIu64, d ? "x" : "", t->shape[d]);
}

/* JSON string with escaping; invalid UTF-8 bytes become U+FFFD so the output stays valid. */
static void json_str(FILE *o, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', o);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') { fputc('\\', o); fputc((int)c, o); p++; continue; }
        if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", o); break;
            case '\r': fputs("\\r", o); break;
            case '\t': fputs("\\t", o); break;
            case '\b': fputs("\\b", o); break;
            case '\f': fputs("\\f", o); break;
            default: fprintf(o, "\\u%04x", c);
            }
            p++;
            continue;
        }
        if (c < 0x80) { fputc((int)c, o); p++; continue; }
        /* validate one UTF-8 sequence */
        int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        int ok = len > 0;
        uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (int k = 1; ok && k < len; k++) {
            if ((p[k] & 0xC0) != 0x80) ok = 0;
            else cp = (cp << 6) | (p[k] & 0x3F);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = 0;
        if (ok) {
            fwrite(p, 1, (size_t)len, o);
            p += len;
        } else {
            fputs("\\ufffd", o);
            p++;
        }
    }
    fputc('"', o);
}

/* a finite double, or null */
static void json_num(FILE *o, double v, int ok) {
    if (ok && v == v && v - v == 0) fprintf(o, "%.6f", v);
    else fputs("null", o);
}

/* ---------------------------------------------------------------- sharded models ---------- */

/* A minimal JSON walker: enough to find the string values of the top-level "weight_map"
 * object of a safetensors index and to reject malformed input. */
typedef struct jscan {
    const char *p, *end;
    const char *err;
    char **names;
    size_t n, cap;
} jscan;

static void jws(jscan *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int jfail(jscan *j, const char *msg) {
    if (!j->err) j->err = msg;
    return 0;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d > 15) return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

/* parse a string at j->p; *out (if out) gets a malloc'd unescaped copy */
static int jstring(jscan *j, char **out) {
    if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a string");
    j->p++;
    size_t cap = 64, n = 0;
    char *s = out ? malloc(cap) : NULL;
    if (out && !s) return jfail(j, "out of memory");
    for (;;) {
        if (j->p >= j->end) { free(s); return jfail(j, "unterminated string"); }
        unsigned char c = (unsigned char)*j->p++;
        char tmp[4];
        size_t tn = 1;
        if (c == '"') break;
        if (c < 0x20) { free(s); return jfail(j, "control character in a string"); }
        tmp[0] = (char)c;
        if (c == '\\') {
            if (j->p >= j->end) { free(s); return jfail(j, "unterminated string"); }
            char e = *j->p++;
            switch (e) {
            case '"': case '\\': case '/': tmp[0] = e; break;
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                unsigned u, lo;
                if (j->end - j->p < 4 || !hex4(j->p, &u)) { free(s); return jfail(j, "bad \\u escape"); }
                j->p += 4;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        free(s);
                        return jfail(j, "bad surrogate pair");
                    }
                    j->p += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    free(s);
                    return jfail(j, "bad surrogate pair");
                }
                if (u == 0) { free(s); return jfail(j, "NUL character in a string"); }
                if (u < 0x80) { tmp[0] = (char)u; }
                else if (u < 0x800) { tmp[0] = (char)(0xC0 | (u >> 6)); tmp[1] = (char)(0x80 | (u & 0x3F)); tn = 2; }
                else if (u < 0x10000) {
                    tmp[0] = (char)(0xE0 | (u >> 12)); tmp[1] = (char)(0x80 | ((u >> 6) & 0x3F)); tmp[2] = (char)(0x80 | (u & 0x3F)); tn = 3;
                } else {
                    tmp[0] = (char)(0xF0 | (u >> 18)); tmp[1] = (char)(0x80 | ((u >> 12) & 0x3F));
                    tmp[2] = (char)(0x80 | ((u >> 6) & 0x3F)); tmp[3] = (char)(0x80 | (u & 0x3F)); tn = 4;
                }
                break;
            }
            default: free(s); return jfail(j, "bad escape in a string");
            }
        }
        if (s) {
            if (n + tn + 1 > cap) {
                cap *= 2;
                char *ns = realloc(s, cap);
                if (!ns) { free(s); return jfail(j, "out of memory"); }
                s = ns;
            }
            memcpy(s + n, tmp, tn);
            n += tn;
        }
    }
    if (s) { s[n] = 0; *out = s; }
    return 1;
}

static int jvalue(jscan *j, int depth);

static int jliteral(jscan *j) {
    const char *start = j->p;
    while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') || (*j->p >= 'a' && *j->p <= 'z'))) j->p++;
    size_t n = (size_t)(j->p - start);
    if (n == 0) return jfail(j, "unexpected character");
    if ((n == 4 && !memcmp(start, "true", 4)) || (n == 5 && !memcmp(start, "false", 5)) || (n == 4 && !memcmp(start, "null", 4)))
        return 1;
    if (*start == '-' || (*start >= '0' && *start <= '9')) {
        for (size_t i = 0; i < n; i++)
            if (start[i] >= 'a' && start[i] <= 'z' && start[i] != 'e') return jfail(j, "bad number");
        return 1;
    }
    return jfail(j, "unexpected token");
}

static int add_name(jscan *j, char *s) {
    for (size_t i = j->n; i-- > 0;)
        if (!strcmp(j->names[i], s)) { free(s); return 1; }
    if (j->n == j->cap) {
        size_t nc = j->cap ? j->cap * 2 : 16;
        char **nn = realloc(j->names, nc * sizeof *nn);
        if (!nn) { free(s); return jfail(j, "out of memory"); }
        j->names = nn;
        j->cap = nc;
    }
    j->names[j->n++] = s;
    return 1;
}

/* an object; weight_map=1 collects its string values (which must all be strings) */
static int jobject(jscan *j, int depth, int top, int weight_map) {
    j->p++; /* '{' */
    jws(j);
    if (j->p < j->end && *j->p == '}') { j->p++; return 1; }
    for (;;) {
        jws(j);
        char *key = NULL;
        if (!jstring(j, top ? &key : NULL)) return 0;
        jws(j);
        if (j->p >= j->end || *j->p != ':') { free(key); return jfail(j, "expected ':'"); }
        j->p++;
        jws(j);
        int ok;
        if (weight_map) {
            char *v = NULL;
            if (j->p >= j->end || *j->p != '"') return jfail(j, "a weight_map value is not a string");
            ok = jstring(j, &v) && add_name(j, v);
        } else if (top && !strcmp(key, "weight_map")) {
            if (j->p >= j->end || *j->p != '{') { free(key); return jfail(j, "weight_map is not an object"); }
            if (j->names) { free(key); return jfail(j, "weight_map appears twice"); }
            j->names = malloc(sizeof *j->names);
            j->cap = j->names ? 1 : 0;
            ok = j->names && jobject(j, depth + 1, 0, 1);
        } else {
            ok = jvalue(j, depth + 1);
        }
        free(key);
        if (!ok) return 0;
        jws(j);
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == '}') { j->p++; return 1; }
        return jfail(j, "expected ',' or '}'");
    }
}

static int jvalue(jscan *j, int depth) {
    if (depth > 64) return jfail(j, "nesting too deep");
    jws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    if (*j->p == '{') return jobject(j, depth, 0, 0);
    if (*j->p == '"') return jstring(j, NULL);
    if (*j->p == '[') {
        j->p++;
        jws(j);
        if (j->p < j->end && *j->p == ']') { j->p++; return 1; }
        for (;;) {
            if (!jvalue(j, depth + 1)) return 0;
            jws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == ']') { j->p++; return 1; }
            return jfail(j, "expected ',' or ']'");
        }
    }
    return jliteral(j);
}

typedef struct shard_list {
    char *text; /* the index file's bytes */
    size_t len;
    char **names;
    size_t n;
} shard_list;

static void shards_free(shard_list *s) {
    for (size_t i = 0; i < s->n; i++) free(s->names[i]);
    free(s->names);
    free(s->text);
    memset(s, 0, sizeof *s);
}

/* Read and parse an index file. Returns -1 or an exit code (error printed). */
static int read_index(const char *path, shard_list *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { err_line("%s: cannot open: %s", path, strerror(errno)); return EX_IO; }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) { close(fd); err_line("%s: not a regular file", path); return EX_IO; }
    if (st.st_size > (off_t)1 << 30) { close(fd); err_line("%s: index file of %lld bytes is too large", path, (long long)st.st_size); return EX_INPUT; }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) { close(fd); err_line("%s: out of memory", path); return EX_IO; }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            err_line("%s: read failed: %s", path, r < 0 ? strerror(e) : "file shrank while reading");
            return EX_IO;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    jscan j;
    memset(&j, 0, sizeof j);
    j.p = buf;
    j.end = buf + n;
    if (n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) j.p += 3; /* BOM */
    jws(&j);
    int ok = j.p < j.end && *j.p == '{' ? jobject(&j, 0, 1, 0) : jfail(&j, "not a JSON object");
    if (ok) {
        jws(&j);
        if (j.p != j.end) ok = jfail(&j, "trailing data after the JSON object");
    }
    if (ok && !j.names) ok = jfail(&j, "no \"weight_map\" object");
    if (ok && j.n == 0) ok = jfail(&j, "\"weight_map\" is empty");
    for (size_t i = 0; ok && i < j.n; i++) {
        const char *s = j.names[i];
        if (!ends_with(s, ".safetensors") || strchr(s, '/') || strchr(s, '\\') || s[0] == '.') {
            err_line("%s: weight_map names '%s', not a plain .safetensors file name in the index's directory", path, s);
            for (size_t k = 0; k < j.n; k++) free(j.names[k]);
            free(j.names);
            free(buf);
            return EX_INPUT;
        }
    }
    if (!ok) {
        size_t line = 1;
        for (const char *q = buf; q < j.p && q < j.end; q++) line += *q == '\n';
        err_line("%s: not a valid safetensors index (%s, near line %zu)", path, j.err ? j.err : "parse error", line);
        for (size_t k = 0; k < j.n; k++) free(j.names[k]);
        free(j.names);
        free(buf);
        return EX_INPUT;
    }
    out->text = buf;
    out->len = n;
    out->names = j.names;
    out->n = j.n;
    return -1;
}

/* Write bytes to path atomically (temporary beside it, fsync, rename). Returns exit code. */
static int write_atomic(const char *path, const void *data, size_t n) {
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (!tmp) { err_line("%s: out of memory", path); return EX_IO; }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        err_line("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return EX_IO;
    }
    fchmod(fd, 0644);
    const char *p = data;
    size_t left = n;
    const char *fail = NULL;
    int e = 0;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) { fail = "write failed"; e = errno; break; }
        p += w;
        left -= (size_t)w;
    }
    if (!fail && fsync(fd)) { fail = "fsync failed"; e = errno; }
    if (close(fd) && !fail) { fail = "close failed"; e = errno; }
    if (!fail && rename(tmp, path)) { fail = "rename failed"; e = errno; }
    if (fail) {
        unlink(tmp);
        err_line("%s: %s: %s", path, fail, strerror(e));
    }
    free(tmp);
    return fail ? EX_IO : EX_OK;
}

typedef int (*file_op)(const char *in, const char *out, const opts *o, const char *label);

/* Run op on every shard of the index `in` into the directory of `out`, then copy the index.
 * On failure the shards written by this run are removed again. */
static int run_sharded(const char *cmd, const char *in, const char *out, const opts *o, file_op op) {
    if (!ends_with(out, ".index.json"))
        return usage_error("%s: %s is a sharded index, so the output must end with .index.json (got '%s')", cmd, in, out);
    if (same_file(in, out)) {
        err_line("%s: output %s would overwrite the input", cmd, out);
        return EX_USAGE;
    }
    shard_list sl;
    int rc = read_index(in, &sl);
    if (rc >= 0) return rc;
    char *din = dir_of(in), *dout = dir_of(out);
    char **ins = calloc(sl.n, sizeof *ins), **outs = calloc(sl.n, sizeof *outs);
    rc = -1;
    if (!din || !dout || !ins || !outs) { err_line("%s: out of memory", in); rc = EX_IO; }
    for (size_t i = 0; rc < 0 && i < sl.n; i++) {
        ins[i] = join(din, sl.names[i]);
        outs[i] = join(dout, sl.names[i]);
        if (!ins[i] || !outs[i]) { err_line("%s: out of memory", in); rc = EX_IO; }
        else if (same_file(ins[i], outs[i])) {
            err_line("%s: output shard %s would overwrite its input %s (write to another directory)", cmd, outs[i], ins[i]);
            rc = EX_USAGE;
        }
    }
    size_t done = 0;
    for (size_t i = 0; rc < 0 && i < sl.n; i++) {
        char label[96];
        snprintf(label, sizeof label, "[%zu/%zu] %s", i + 1, sl.n, sl.names[i]);
        int r = op(ins[i], outs[i], o, label);
        if (r) rc = r;
        else done++;
    }
    if (rc < 0) {
        rc = write_atomic(out, sl.text, sl.len);
    }
    if (rc != EX_OK)
        for (size_t i = 0; i < done; i++) unlink(outs[i]);
    for (size_t i = 0; i < sl.n; i++) {
        if (ins) free(ins[i]);
        if (outs) free(outs[i]);
    }
    free(ins);
    free(outs);
    free(din);
    free(dout);
    shards_free(&sl);
    return rc;
}

/* ---------------------------------------------------------------- compress / decompress --- */

static int interrupted_exit(void) {
    err_line("interrupted");
    return EX_INTR;
}

static int op_compress(const char *in, const char *out, const opts *o, const char *label) {
    uw_compress_options co;
    uw_compress_options_default(&co);
    co.select = o->select;
    co.params.codec = o->codec;
    co.params.threads = o->threads;
    prog p;
    prog_init(&p, label);
    co.progress = progress_cb;
    co.progress_user = &p;
    uw_status s = uw_compress_file(in, out, &co);
    if (s != UW_OK) return g_interrupted ? interrupted_exit() : report(s, in, out);
    bar_close();
    return EX_OK;
}

static int op_decompress(const char *in, const char *out, const opts *o, const char *label) {
    prog p;
    prog_init(&p, label);
    uw_status s = uw_decompress_file(in, out, o->threads, progress_cb, &p);
    if (s != UW_OK) return g_interrupted ? interrupted_exit() : report(s, in, out);
    bar_close();
    return EX_OK;
}

static int cmd_convert(int argc, char **argv, int compress) {
    const char *cmd = compress ? "compress" : "decompress";
    opts o;
    int rc = parse_opts(argc, argv, 2, cmd, compress ? (O_SELECT | O_THREADS | O_CODEC) : O_THREADS, &o);
    if (rc >= 0) return rc;
    if ((rc = need_pos(&o, 2, cmd, "IN OUT")) >= 0) return rc;
    const char *in = o.pos[0], *out = o.pos[1];
    if (same_file(in, out)) {
        err_line("%s: output %s would overwrite the input", cmd, out);
        return EX_USAGE;
    }
    g_tty = isatty(STDERR_FILENO);
    install_signals();
    file_op op = compress ? op_compress : op_decompress;
    if (ends_with(in, ".safetensors.index.json")) return run_sharded(cmd, in, out, &o, op);
    const char *base = strrchr(in, '/');
    return op(in, out, &o, base ? base + 1 : in);
}

/* ---------------------------------------------------------------- verify ------------------ */

static int verify_one(const char *path, int threads, size_t *n, size_t *failed) {
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return report(s, path, NULL);
    if (!uw_file_is_compressed(f)) {
        uw_file_close(f);
        err_line("%s: not an unweight-compressed file", path);
        return EX_INPUT;
    }
    int rc = EX_OK;
    for (size_t i = 0; i < uw_file_tensor_count(f); i++) {
        uw_tensor_info t;
        if ((s = uw_file_tensor_info(f, i, &t)) != UW_OK) { rc = report(s, path, NULL); break; }
        /* every tensor: blobs decoded in bands and checked, passthrough tensors against their
         * checksum (FORMAT.md 9.2); no buffer of the tensor's size */
        (*n)++;
        s = uw_file_verify_tensor(f, i, threads);
        if (s != UW_OK) {
            if (s == UW_ERR_NOMEM) { rc = report(s, path, NULL); break; }
            (*failed)++;
            char pre[1200];
            snprintf(pre, sizeof pre, "%s: tensor '%s': ", path, t.name);
            const char *m = uw_last_error();
            if (!strncmp(m, pre, strlen(pre))) m += strlen(pre);
            if (!*m) m = uw_status_name(s);
            printf("%s%s\n", pre, m);
        }
    }
    uw_file_close(f);
    return rc;
}

static int cmd_verify(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, 2, "verify", O_THREADS, &o);
    if (rc >= 0) return rc;
    if ((rc = need_pos(&o, 1, "verify", "FILE")) >= 0) return rc;
    const char *path = o.pos[0];
    size_t n = 0, failed = 0;
    if (ends_with(path, ".safetensors.index.json")) {
        shard_list sl;
        if ((rc = read_index(path, &sl)) >= 0) return rc;
        char *dir = dir_of(path);
        rc = EX_OK;
        for (size_t i = 0; rc == EX_OK && i < sl.n; i++) {
            char *p = dir ? join(dir, sl.names[i]) : NULL;
            if (!p) { err_line("%s: out of memory", path); rc = EX_IO; break; }
            rc = verify_one(p, o.threads, &n, &failed);
            free(p);
        }
        free(dir);
        shards_free(&sl);
    } else {
        rc = verify_one(path, o.threads, &n, &failed);
    }
    if (rc != EX_OK) return rc;
    printf("verified %zu tensors, %zu failed\n", n, failed);
    return failed ? EX_INPUT : EX_OK;
}

/* ---------------------------------------------------------------- info -------------------- */

static int cmd_info(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, 2, "info", O_JSON, &o);
    if (rc >= 0) return rc;
    if ((rc = need_pos(&o, 1, "info", "FILE")) >= 0) return rc;
    const char *path = o.pos[0];
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return report(s, path, NULL);
    struct stat st;
    uint64_t fsize = stat(path, &st) ? 0 : (uint64_t)st.st_size;
    size_t nt = uw_file_tensor_count(f);
    uw_tensor_info *ti = calloc(nt ? nt : 1, sizeof *ti);
    if (!ti) { uw_file_close(f); err_line("%s: out of memory", path); return EX_IO; }
    uint64_t c_numel = 0, c_stored = 0, c_n = 0, orig_total = 0, pass_stored = 0;
    double bound_sum = 0;
    size_t namew = 6;
    for (size_t i = 0; i < nt; i++) {
        if ((s = uw_file_tensor_info(f, i, &ti[i])) != UW_OK) {
            free(ti);
            rc = report(s, path, NULL);
            uw_file_close(f);
            return rc;
        }
        const uw_tensor_info *t = &ti[i];
        orig_total += t->orig_bytes;
        if (strlen(t->name) > namew) namew = strlen(t->name);
        if (t->compressed) {
            uint64_t ne = numel_of(t);
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
        json_str(stdout, path);
        printf(",\"compressed\":%s,\"tensors\":[", uw_file_is_compressed(f) ? "true" : "false");
        for (size_t i = 0; i < nt; i++) {
            const uw_tensor_info *t = &ti[i];
            uint64_t ne = numel_of(t);
            int c = t->compressed && ne > 0;
            printf("%s\n{\"name\":", i ? "," : "");
            json_str(stdout, t->name);
            printf(",\"dtype\":");
            json_str(stdout, t->dtype);
            printf(",\"codec\":\"%s\",\"shape\":[", codec_name(t));
            for (int d = 0; d < t->ndim; d++) printf("%s%" PRIu64, d ? "," : "", t->shape[d]);
            printf("],\"numel\":%" PRIu64 ",\"orig_bytes\":%" PRIu64 ",\"stored_bytes\":%" PRIu64 ",\"bits_per_weight\":", ne,
                   t->orig_bytes, t->stored_bytes);
            json_num(stdout, ne ? (double)t->stored_bytes * 8.0 / (double)ne : 0, ne > 0);
            printf(",\"exp_entropy\":");
            json_num(stdout, t->exp_entropy, c);
            printf(",\"bound_bits_per_weight\":");
            json_num(stdout, 8.0 + t->exp_entropy, c);
            printf(",\"rare_frac\":");
            json_num(stdout, t->verbatim_frac, c);
            printf("}");
        }
        printf("\n],\"totals\":{\"tensors\":%zu,\"compressed_tensors\":%" PRIu64 ",\"compressed_numel\":%" PRIu64
               ",\"compressed_stored_bytes\":%" PRIu64 ",\"bits_per_weight\":",
               nt, c_n, c_numel, c_stored);
        json_num(stdout, bpw, have);
        printf(",\"bound_bits_per_weight\":");
        json_num(stdout, bound, have);
        printf(",\"gap_bits_per_weight\":");
        json_num(stdout, bpw - bound, have);
        printf(",\"file_size\":%" PRIu64 ",\"orig_tensor_bytes\":%" PRIu64 ",\"passthrough_bytes\":%" PRIu64
               ",\"file_bits_per_weight\":",
               fsize, orig_total, pass_stored);
        json_num(stdout, fbpw, have);
        printf("}}\n");
    } else {
        printf("%s: %s, %zu tensors, %" PRIu64 " compressed\n", path,
               uw_file_is_compressed(f) ? "unweight-compressed" : "plain safetensors (not compressed)", nt, c_n);
        printf("%-*s %-7s %-12s %12s %12s %7s %7s %7s %9s\n", (int)namew, "tensor", "codec", "shape", "orig B", "stored B",
               "bits/w", "H", "8+H", "rare");
        for (size_t i = 0; i < nt; i++) {
            const uw_tensor_info *t = &ti[i];
            uint64_t ne = numel_of(t);
            char sh[96];
            shape_str(t, sh, sizeof sh);
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

/* ---------------------------------------------------------------- bench ------------------- */

static double now_s(void) {
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
    uint64_t ne = numel_of(t);
    uint64_t rows, cols;
    matrix_view(t, &rows, &cols);
    uint16_t *src = malloc(t->orig_bytes), *dst = malloc(t->orig_bytes);
    uint8_t *own_blob = NULL;
    const void *blob = NULL;
    size_t blob_size = 0;
    int rc = -1;
    uw_status s;
    uw_encode_params p;
    uw_encode_params_default(&p);
    if (t->compressed) p.codec = t->codec;
    if (!src || !dst) { err_line("%s: tensor '%s': out of memory", path, t->name); rc = EX_IO; goto out; }
    if ((s = uw_file_decode(f, i, src, t->orig_bytes, 0)) != UW_OK) { rc = report(s, path, NULL); goto out; }
    if (t->compressed) {
        uw_blob_info bi;
        if ((s = uw_file_tensor_data(f, i, &blob, &blob_size)) != UW_OK || (s = uw_blob_inspect(blob, blob_size, &bi)) != UW_OK) {
            char pre[1100];
            snprintf(pre, sizeof pre, "%s: tensor '%s'", path, t->name);
            rc = report(s, pre, NULL);
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
            rc = report(s, pre, NULL);
            goto out;
        }
        blob = own_blob;
    }
    r->name = t->name;
    shape_str(t, r->shape, sizeof r->shape);
    r->codec = p.codec == UW_CODEC_PALETTE ? "palette" : "huffman";
    r->numel = ne;
    r->bytes = t->orig_bytes;
    r->blob_bytes = blob_size;
    for (int c = 0; c < B_COLS; c++) {
        double best = 1e300;
        for (int k = 0; k <= repeat; k++) { /* k == 0: warm-up */
            if (g_interrupted) { rc = interrupted_exit(); goto out; }
            uint8_t *eb = NULL;
            size_t es = 0;
            double t0 = now_s();
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
            double dt = now_s() - t0;
            uw_free(eb);
            if (s != UW_OK) {
                char pre[1100];
                snprintf(pre, sizeof pre, "%s: tensor '%s'", path, t->name);
                rc = report(s, pre, NULL);
                goto out;
            }
            if ((c == B_DEC1 || c == B_DECN) && k == 0 && memcmp(dst, src, t->orig_bytes)) {
                err_line("%s: tensor '%s': decoded bytes differ from the original", path, t->name);
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

static double gbps(uint64_t bytes, double s) { return s > 0 ? (double)bytes / s / 1e9 : 0; }

static int bench_backend(const char *path, const uw_file *f, const char *bname, const opts *o, int nthreads, int first) {
    size_t nt = uw_file_tensor_count(f);
    brow *rows = calloc(nt ? nt : 1, sizeof *rows);
    if (!rows) { err_line("%s: out of memory", path); return EX_IO; }
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
        if (s != UW_OK) { rc = report(s, path, NULL); break; }
        if (!t.compressed && !uw_select_tensor(UW_SELECT_ALL, t.name, t.dtype, t.ndim, t.shape)) continue;
        if (numel_of(&t) == 0) continue;
        int r = bench_tensor(path, f, i, &t, nthreads, o->repeat, &rows[nr]);
        if (r >= 0) { rc = r; break; }
        brow *b = &rows[nr++];
        if (!o->json) {
            printf("%-46.46s %-14.14s %8.2f %7.3f %8.2f %8.2f %8.2f %8.2f %8.2f\n", b->name, b->shape, (double)b->bytes / 1e6,
                   (double)b->blob_bytes * 8.0 / (double)b->numel, gbps(b->bytes, b->t[B_ENC1]), gbps(b->bytes, b->t[B_ENCN]),
                   gbps(b->bytes, b->t[B_DEC1]), gbps(b->bytes, b->t[B_DECN]), gbps(b->bytes, b->t[B_MEMCPY]));
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
        json_str(stdout, bname);
        printf(",\"tensors\":[");
        for (size_t k = 0; k < nr; k++) {
            const brow *b = &rows[k];
            printf("%s\n{\"name\":", k ? "," : "");
            json_str(stdout, b->name);
            printf(",\"shape\":\"%s\",\"codec\":\"%s\",\"numel\":%" PRIu64 ",\"bf16_bytes\":%" PRIu64 ",\"blob_bytes\":%" PRIu64
                   ",\"bits_per_weight\":",
                   b->shape, b->codec, b->numel, b->bytes, b->blob_bytes);
            json_num(stdout, (double)b->blob_bytes * 8.0 / (double)b->numel, 1);
            for (int c = 0; c < B_COLS; c++) {
                printf(",\"%s_s\":", bcol_json[c]);
                json_num(stdout, b->t[c], 1);
                printf(",\"%s_gbps\":", bcol_json[c]);
                json_num(stdout, gbps(b->bytes, b->t[c]), 1);
            }
            printf("}");
        }
        printf("\n],\"total\":{\"tensors\":%zu,\"numel\":%" PRIu64 ",\"bf16_bytes\":%" PRIu64 ",\"blob_bytes\":%" PRIu64
               ",\"bits_per_weight\":",
               nr, tn, tb, tblob);
        json_num(stdout, tn ? (double)tblob * 8.0 / (double)tn : 0, tn > 0);
        for (int c = 0; c < B_COLS; c++) {
            printf(",\"%s_s\":", bcol_json[c]);
            json_num(stdout, tt[c], 1);
            printf(",\"%s_gbps\":", bcol_json[c]);
            json_num(stdout, gbps(tb, tt[c]), nr > 0);
        }
        printf("}}");
    } else if (nr == 0) {
        printf("(no tensor is or would be compressed)\n");
    } else {
        printf("%-46s %-14s %8.2f %7.3f %8.2f %8.2f %8.2f %8.2f %8.2f\n", "total", "", (double)tb / 1e6, (double)tblob * 8.0 / (double)tn,
               gbps(tb, tt[B_ENC1]), gbps(tb, tt[B_ENCN]), gbps(tb, tt[B_DEC1]), gbps(tb, tt[B_DECN]), gbps(tb, tt[B_MEMCPY]));
    }
    free(rows);
    return EX_OK;
}

/* ---- device section: decode on the device and y = x W^T per pipeline (uw_weights_*) ---- */

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
static int bench_device_tensor(const char *path, const uw_file *f, size_t i, const uw_tensor_info *t, uw_device *d, const opts *o,
                               const uint64_t *batches, int nbatch, dev_tot *tot, double *dec_best) {
    uint64_t ne = numel_of(t), rows, cols, bmax = 1;
    matrix_view(t, &rows, &cols);
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
    if (!src || !dst) { err_line("%s: out of memory", pre); rc = EX_IO; goto out; }
    if ((s = uw_file_decode(f, i, src, t->orig_bytes, 0)) != UW_OK) { rc = report(s, pre, NULL); goto out; }
    if (t->compressed) {
        uw_blob_info bi;
        if ((s = uw_file_tensor_data(f, i, &blob, &blob_size)) != UW_OK || (s = uw_blob_inspect(blob, blob_size, &bi)) != UW_OK) {
            rc = report(s, pre, NULL);
            goto out;
        }
        rows = bi.rows;
        cols = bi.cols;
    } else {
        uw_encode_params p;
        uw_encode_params_default(&p);
        if ((s = uw_tensor_encode(src, rows, cols, &p, &own_blob, &blob_size)) != UW_OK) { rc = report(s, pre, NULL); goto out; }
        blob = own_blob;
    }
    uw_blob_info bi;
    uw_blob_inspect(blob, blob_size, &bi);
    unsigned all = UW_RESIDENT_PALETTE | UW_RESIDENT_BF16 | (bi.codec == UW_CODEC_HUFFMAN ? UW_RESIDENT_HUFFMAN : 0);
    if ((s = uw_weights_upload(d, blob, blob_size, bi.codec == UW_CODEC_HUFFMAN ? UW_RESIDENT_HUFFMAN : UW_RESIDENT_PALETTE, &wd)) != UW_OK ||
        (s = uw_weights_upload(d, blob, blob_size, all, &wa)) != UW_OK) {
        rc = report(s, pre, NULL);
        goto out;
    }
    double best = 1e300;
    for (int k = 0; k <= o->repeat; k++) { /* k == 0: warm-up, checked against the original */
        if (g_interrupted) { rc = interrupted_exit(); goto out; }
        double t0 = now_s();
        s = uw_weights_decode(wd, dst, ne);
        double dt = now_s() - t0;
        if (s != UW_OK) { rc = report(s, pre, NULL); goto out; }
        if (k == 0 && memcmp(dst, src, t->orig_bytes)) { err_line("%s: device decode differs from the original", pre); rc = EX_INPUT; goto out; }
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
    if (!x || !y0 || !y1 || !yb) { err_line("%s: out of memory", pre); rc = EX_IO; goto out; }
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
                if (g_interrupted) { rc = interrupted_exit(); goto out; }
                double t0 = now_s();
                s = uw_weights_matmul(wa, dev_pipes[p], x, y, B);
                double dt = now_s() - t0;
                if (s == UW_ERR_UNSUPPORTED) break;
                if (s != UW_OK) { rc = report(s, pre, NULL); goto out; }
                /* a backend whose decode+gemm runs the vendor BLAS (cuda) is held to that BLAS on the
                 * plain weights (blas-bf16), the others to plain-bf16 */
                const float *yr = y0;
                if (k == 0 && dev_pipes[p] == UW_PIPELINE_DECODE_GEMM && uw_weights_matmul(wa, UW_PIPELINE_BLAS_BF16, x, yb, B) == UW_OK)
                    yr = yb;
                if (k == 0 && p > 0 && memcmp(yr, y1, B * rows * 4)) {
                    err_line("%s: %s differs from %s at batch %llu (contract C2)", pre, uw_pipeline_name(dev_pipes[p]),
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
static int tuning_cache_path(const opts *o, char *buf, size_t n);

static int bench_device(const char *path, const uw_file *f, const char *bname, const opts *o, int first) {
    static const uint64_t def_batches[] = {1, 16, 64, 256};
    const uint64_t *batches = o->nbatch ? o->batch : def_batches;
    int nbatch = o->nbatch ? o->nbatch : 4;
    uw_device *d;
    uw_status s = uw_device_open(bname, NULL, &d);
    if (s != UW_OK) return report(s, NULL, NULL);
    /* the "auto" row runs what the tuning cache recorded (or the documented default) */
    char cpath[4096];
    uw_tuner *tuner = NULL;
    if (tuning_cache_path(o, cpath, sizeof cpath) == 0 && uw_tuner_open(cpath, &tuner) == UW_OK) {
        if (*uw_tuner_warning(tuner)) fprintf(stderr, "unweight: warning: %s\n", uw_tuner_warning(tuner));
        uw_device_set_tuner(d, tuner);
    }
    dev_tot tot;
    memset(&tot, 0, sizeof tot);
    if (o->json) {
        printf("%s{\"backend\":", first ? "" : ",");
        json_str(stdout, bname);
        printf(",\"device\":");
        json_str(stdout, uw_device_name(d));
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
        if ((s = uw_file_tensor_info(f, i, &t)) != UW_OK) { rc = report(s, path, NULL); break; }
        if (!t.compressed && !uw_select_tensor(UW_SELECT_ALL, t.name, t.dtype, t.ndim, t.shape)) continue;
        if (numel_of(&t) == 0) continue;
        double dec = 0;
        int r = bench_device_tensor(path, f, i, &t, d, o, batches, nbatch, &tot, &dec);
        if (r >= 0) { rc = r; break; }
        char shape[96];
        shape_str(&t, shape, sizeof shape);
        if (o->json) {
            printf("%s\n{\"name\":", nt ? "," : "");
            json_str(stdout, t.name);
            printf(",\"shape\":\"%s\",\"bf16_bytes\":%" PRIu64 ",\"decode_s\":", shape, t.orig_bytes);
            json_num(stdout, dec, 1);
            printf(",\"decode_gbps\":");
            json_num(stdout, gbps(t.orig_bytes, dec), 1);
            printf("}");
        } else {
            printf("%-46.46s %-14.14s %8.2f %10.2f\n", t.name, shape, (double)t.orig_bytes / 1e6, gbps(t.orig_bytes, dec));
            fflush(stdout);
        }
        nt++;
    }
    uw_device_close(d);
    uw_tuner_close(tuner);
    if (rc != EX_OK) return rc;
    if (o->json) {
        printf("\n],\"decode_gbps\":");
        json_num(stdout, gbps(tot.bytes, tot.dec_s), tot.tensors > 0);
        printf(",\"matmul\":[");
        int k = 0;
        for (size_t p = 0; p < DEV_NPIPES; p++)
            for (int b = 0; b < nbatch && tot.offered[p]; b++) {
                printf("%s{\"pipeline\":\"%s\",\"batch\":%" PRIu64 ",\"s\":", k++ ? "," : "", uw_pipeline_name(dev_pipes[p]), batches[b]);
                json_num(stdout, tot.mm_s[p][b], 1);
                printf("}");
            }
        printf("]}");
    } else {
        printf("%-46s %-14s %8.2f %10.2f\n", "total", "", (double)tot.bytes / 1e6, gbps(tot.bytes, tot.dec_s));
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

static int cmd_bench(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, 2, "bench", O_CACHE | O_BACKEND | O_JSON | O_THREADS | O_REPEAT | O_BATCH, &o);
    if (rc >= 0) return rc;
    if ((rc = need_pos(&o, 1, "bench", "FILE")) >= 0) return rc;
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
        if (!known) return usage_error("bench: backend '%s' is not compiled in (available: %s)", o.backend, list);
        uw_status s = uw_backend_probe(o.backend);
        if (s != UW_OK) return report(s, NULL, NULL);
        names[nb++] = o.backend;
    } else {
        for (size_t i = 0; i < uw_backend_count() && nb < 16; i++)
            if (uw_backend_probe(uw_backend_name(i)) == UW_OK) names[nb++] = uw_backend_name(i);
    }
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return report(s, path, NULL);
    install_signals();
    char model[256];
    cpu_model(model, sizeof model);
    if (o.json) {
        printf("{\"file\":");
        json_str(stdout, path);
        printf(",\"machine\":{\"cpu\":");
        json_str(stdout, model);
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
                json_str(stdout, names[b]);
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
        rc = bench_device(path, f, names[b], &o, first);
        first = 0;
    }
    if (o.json && rc == EX_OK) printf("]}\n");
    uw_file_close(f);
    return rc;
}

/* ---------------------------------------------------------------- tune -------------------- */

/* The tuning cache path: --cache, else ${XDG_CACHE_HOME:-$HOME/.cache}/unweight/tuning.tsv
 * (directories created). Returns 0 or an exit code. */
static int tuning_cache_path(const opts *o, char *buf, size_t n) {
    if (o->cache) {
        snprintf(buf, n, "%s", o->cache);
        return 0;
    }
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    char dir[2048];
    if (x && *x) snprintf(dir, sizeof dir, "%s", x);
    else if (h && *h) snprintf(dir, sizeof dir, "%s/.cache", h);
    else return usage_error("tune: no HOME or XDG_CACHE_HOME; give --cache PATH");
    mkdir(dir, 0755);
    size_t L = strlen(dir);
    snprintf(dir + L, sizeof dir - L, "/unweight");
    mkdir(dir, 0755);
    snprintf(buf, n, "%s/tuning.tsv", dir);
    return 0;
}

static int cmd_tune(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, 2, "tune", O_BACKEND | O_BATCH | O_CACHE | O_JSON, &o);
    if (rc >= 0) return rc;
    if ((rc = need_pos(&o, 1, "tune", "FILE")) >= 0) return rc;
    const char *path = o.pos[0], *bname = o.backend ? o.backend : "cpu";
    if (!o.nbatch) {
        o.batch[0] = 1, o.batch[1] = 8, o.batch[2] = 64;
        o.nbatch = 3;
    }
    char cpath[4096];
    if ((rc = tuning_cache_path(&o, cpath, sizeof cpath))) return rc;
    uw_file *f;
    uw_status s = uw_file_open(path, &f);
    if (s != UW_OK) return report(s, path, NULL);
    uw_device *d;
    s = uw_device_open(bname, NULL, &d);
    if (s != UW_OK) {
        uw_file_close(f);
        if (s == UW_ERR_NOT_FOUND) return usage_error("tune: backend '%s' is not compiled into this build", bname);
        err_line("backend %s: %s", bname, uw_last_error());
        return status_exit(s);
    }
    uw_tuner *t;
    s = uw_tuner_open(cpath, &t);
    if (s != UW_OK) {
        uw_device_close(d);
        uw_file_close(f);
        return report(s, cpath, NULL);
    }
    if (*uw_tuner_warning(t)) fprintf(stderr, "unweight: warning: %s\n", uw_tuner_warning(t));
    uw_device_set_tuner(d, t);
    printf("device: %s\ncache: %s\n%-12s %6s  %-18s %-14s %10s\n", uw_device_name(d), cpath, "shape", "batch", "pipeline", "params", "time us");
    /* one weight per distinct shape: the tuning key is the shape, not the tensor */
    uint64_t done_r[4096], done_c[4096];
    size_t ndone = 0;
    for (size_t i = 0; i < uw_file_tensor_count(f) && s == UW_OK && !g_interrupted; i++) {
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
            matrix_view(&ti, &rows, &cols);
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
    int code = s == UW_OK ? EX_OK : report(s, path, NULL);
    if (s == UW_OK) printf("%zu entries in %s\n", uw_tuner_entries(t), cpath);
    uw_tuner_close(t);
    uw_device_close(d);
    uw_file_close(f);
    return g_interrupted ? interrupted_exit() : code;
}

/* ---------------------------------------------------------------- backends / main --------- */

static int cmd_backends(int argc, char **argv) {
    opts o;
    int rc = parse_opts(argc, argv, 2, "backends", 0, &o);
    if (rc >= 0) return rc;
    if ((rc = need_pos(&o, 0, "backends", "no arguments")) >= 0) return rc;
    /* what this binary was built with, then what each of those finds on this machine now */
    printf("built:");
    for (size_t i = 0; i < uw_backend_count(); i++) printf(" %s", uw_backend_name(i));
    printf("\nfound:\n");
    for (size_t i = 0; i < uw_backend_count(); i++) {
        const char *n = uw_backend_name(i);
        uw_status s = uw_backend_probe(n);
        if (s == UW_OK) printf("%-8s ok\n", n);
        else printf("%-8s unavailable (%s%s%s)\n", n, uw_status_name(s), *uw_last_error() ? ": " : "", uw_last_error());
    }
    return EX_OK;
}

static int finish(int rc) {
    if (fflush(stdout) || ferror(stdout)) {
        err_line("error writing to standard output: %s", strerror(errno));
        return rc ? rc : EX_IO;
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage_error("missing command");
    const char *c = argv[1];
    int rc;
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        if (argc > 2 && strcmp(c, "help")) return usage_error("%s takes no arguments", c);
        fputs(usage_text, stdout);
        rc = EX_OK;
    } else if (!strcmp(c, "--version") || !strcmp(c, "-V") || !strcmp(c, "version")) {
        if (argc > 2) return usage_error("%s takes no arguments", c);
        printf("unweight %s (tensor format %d)\n", uw_version(), UW_FORMAT_VERSION);
        rc = EX_OK;
    } else if (!strcmp(c, "compress")) rc = cmd_convert(argc, argv, 1);
    else if (!strcmp(c, "decompress")) rc = cmd_convert(argc, argv, 0);
    else if (!strcmp(c, "verify")) rc = cmd_verify(argc, argv);
    else if (!strcmp(c, "info")) rc = cmd_info(argc, argv);
    else if (!strcmp(c, "bench")) rc = cmd_bench(argc, argv);
    else if (!strcmp(c, "tune")) rc = cmd_tune(argc, argv);
    else if (!strcmp(c, "backends")) rc = cmd_backends(argc, argv);
    else if (c[0] == '-') rc = usage_error("unknown option '%s'", c);
    else rc = usage_error("unknown command '%s'", c);
    return finish(rc);
}
