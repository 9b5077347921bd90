/* cli.h - what the files of the `unweight` tool share: exit codes, the parsed options, the
 * printing helpers (cli_output.c) and one entry point per command. The tool is built on the
 * public API (include/) only. */
#ifndef UW_CLI_H
#define UW_CLI_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "unweight.h"

/* exit codes */
enum { EX_OK = 0, EX_USAGE = 1, EX_INPUT = 2, EX_IO = 3, EX_INTR = 130 };

/* ---------------------------------------------------------------- options (unweight.c) ---- */

/* the options a command accepts: a mask of these */
enum { O_SELECT = 1, O_THREADS = 2, O_CODEC = 4, O_JSON = 8, O_REPEAT = 16, O_BACKEND = 32, O_CACHE = 64, O_BATCH = 128,
       O_FORCE = 256, O_QUIET = 512 };

typedef struct uw_cli_opts {
    const char *pos[8];
    int npos;
    int select, threads, codec, json, repeat;
    int force, quiet;     /* --force/-f: overwrite an existing OUT; --quiet/-q: no summary line */
    int threads_set;
    const char *backend;
    const char *cache;    /* --cache PATH (tune, bench) */
    uint64_t batch[8];    /* --batch 1,8,64 (tune) */
    int nbatch;
} uw_cli_opts;

/* Parse argv[first..] for command `cmd`; `allowed` is a mask of O_*. Returns -1 on success,
 * else the exit code (usage printed, or 0 after --help). */
int uw_cli_parse_opts(int argc, char **argv, int first, const char *cmd, int allowed, uw_cli_opts *o);
/* Exactly n operands, else a usage error (its exit code); -1 when fine. */
int uw_cli_need_pos(const uw_cli_opts *o, int n, const char *cmd, const char *what);

/* ---------------------------------------------------------------- output (cli_output.c) --- */

/* One line on stderr: "unweight: <message>" (newlines in the message become spaces). */
void uw_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with " (see 'unweight --help')"; returns EX_USAGE. */
int uw_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit code of a library status. */
int uw_cli_status_exit(uw_status s);
/* Report a library failure: the message names the file (prefixed with `path` unless it
 * already mentions `path` or `other`; path NULL: as the library wrote it). Returns the exit code. */
int uw_cli_report(uw_status s, const char *path, const char *other);
/* "interrupted"; returns EX_INTR. */
int uw_cli_interrupted_exit(void);

/* Set by SIGINT, SIGTERM and SIGHUP once uw_cli_signals_install ran (a second signal kills). */
extern volatile sig_atomic_t uw_cli_interrupted;
void uw_cli_signals_install(void);

/* A progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct uw_cli_bar {
    char label[96];
    int last; /* percent drawn last, -1 none */
} uw_cli_bar;
void uw_cli_bar_init(uw_cli_bar *b, const char *label);
/* Draw done/total; returns nonzero once interrupted (the library then cancels). */
int uw_cli_bar_update(uw_cli_bar *b, uint64_t done, uint64_t total);
/* Whether stderr is a terminal (bars and summaries are drawn only there, as zstd does). */
int uw_cli_stderr_is_tty(void);
/* End the bar's line, if one is drawn. */
void uw_cli_bar_close(void);

uint64_t uw_cli_numel(const uw_tensor_info *t);
/* "64x128", or "scalar" */
void uw_cli_shape_str(const uw_tensor_info *t, char *buf, size_t n);
/* A JSON string (escaped; invalid UTF-8 becomes U+FFFD) and a finite number or null. */
void uw_cli_json_str(FILE *o, const char *s);
void uw_cli_json_num(FILE *o, double v, int ok);

/* ---------------------------------------------------------------- commands ---------------- */

int uw_cli_cmd_convert(int argc, char **argv, int compress); /* fileio.c: compress, decompress */
int uw_cli_cmd_verify(int argc, char **argv);                /* fileio.c */
int uw_cli_cmd_info(int argc, char **argv);                  /* info.c */
int uw_cli_cmd_bench(int argc, char **argv);                 /* bench.c */
int uw_cli_cmd_tune(int argc, char **argv);                  /* tune.c */
int uw_cli_cmd_backends(int argc, char **argv);              /* backends.c */

/* bench.c, shared with bench_device.c */
double uw_cli_now(void);
double uw_cli_gbps(uint64_t bytes, double s);
/* bench_device.c: the device section of one backend (bench --batch, device backends) */
int uw_cli_bench_device(const char *path, const uw_file *f, const char *bname, const uw_cli_opts *o, int first);
/* tune.c: the tuning cache path (--cache, else the user's cache directory, created). Returns 0
 * or an exit code. */
int uw_cli_tuning_cache_path(const uw_cli_opts *o, char *buf, size_t n);

#endif
