/* cli_output.c - what every command of the `unweight` tool prints with: one-line errors and exit
 * codes, the progress bar and the signals that cancel it, tensor shapes and JSON values. */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- errors ------------------ */

static int g_bar_open; /* a progress bar line is on the terminal */

void uw_cli_bar_close(void) {
    if (g_bar_open) {
        fputc('\n', stderr);
        g_bar_open = 0;
    }
}

/* One line on stderr: "unweight: <message>" (newlines in the message become spaces). */
void uw_cli_err(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    uw_cli_bar_close();
    fprintf(stderr, "unweight: %s\n", buf);
}

int uw_cli_usage_error(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    uw_cli_err("%s (see 'unweight --help')", buf);
    return EX_USAGE;
}

int uw_cli_status_exit(uw_status s) {
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
int uw_cli_report(uw_status s, const char *path, const char *other) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", *uw_last_error() ? uw_last_error() : uw_status_name(s));
    if ((path && strstr(msg, path)) || (other && strstr(msg, other)) || !path)
        uw_cli_err("%s", msg);
    else
        uw_cli_err("%s: %s", path, msg);
    return uw_cli_status_exit(s);
}

/* ---------------------------------------------------------------- progress / signals ------ */

volatile sig_atomic_t uw_cli_interrupted;
static int g_tty; /* stderr is a terminal: progress bars are drawn */

static void on_signal(int sig) {
    (void)sig;
    uw_cli_interrupted = 1;
}

void uw_cli_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int uw_cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }

void uw_cli_bar_init(uw_cli_bar *p, const char *label) {
    g_tty = uw_cli_stderr_is_tty();
    snprintf(p->label, sizeof p->label, "%s", label);
    p->last = -1;
}

/* Called after each unit of work; a bar is drawn only on a terminal. A nonzero return (after
 * SIGINT/SIGTERM) cancels, and the library removes its temporaries. */
int uw_cli_bar_update(uw_cli_bar *p, uint64_t done, uint64_t total) {
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
    return uw_cli_interrupted != 0;
}

int uw_cli_interrupted_exit(void) {
    uw_cli_err("interrupted");
    return EX_INTR;
}

/* ---------------------------------------------------------------- output formatting ------- */

uint64_t uw_cli_numel(const uw_tensor_info *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

void uw_cli_shape_str(const uw_tensor_info *t, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = 0;
    if (t->ndim == 0) { snprintf(buf, n, "scalar"); return; }
    for (int d = 0; d < t->ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, "%s%" PRIu64, d ? "x" : "", t->shape[d]);
}

/* JSON string with escaping; invalid UTF-8 bytes become U+FFFD so the output stays valid. */
void uw_cli_json_str(FILE *o, const char *s) {
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
void uw_cli_json_num(FILE *o, double v, int ok) {
    if (ok && v == v && v - v == 0) fprintf(o, "%.6f", v);
    else fputs("null", o);
}
