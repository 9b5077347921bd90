/* model.c - whole models: one .safetensors file, or a sharded model's NAME.safetensors.index.json
 * whose "weight_map" names shard files beside it (parsed with jansson). Sharded outputs are all
 * written to temporaries and renamed together once every shard succeeded, so a failure leaves
 * nothing behind; progress spans the whole model; every error names its file. Also verify. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* an index is parsed into a jansson tree like a safetensors header: the same cap */
#define UW_MAX_INDEX_BYTES UW_MAX_HEADER_BYTES

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int uw_model_is_index(const char *path) { return path && ends_with(path, ".safetensors.index.json"); }

void uw_model_options_default(uw_model_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->select = UW_SELECT_ALL;
    uw_encode_params_default(&o->params);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Make sure the current error detail names the file: "in: " first unless it mentions in or out. */
static void name_file(const char *in, const char *out) {
    const char *e = uw_last_error();
    if (!strstr(e, in) && !(out && strstr(e, out))) uw_error_prefix("%s", in);
}

/* ---------------------------------------------------------------- the files of a model ---- */

typedef struct model {
    char *index;          /* the index file's bytes, copied verbatim to the output */
    size_t index_len;
    size_t n;             /* shards, each once, in order of first mention */
    char **names;         /* as the index lists them */
    char **ins, **outs;   /* paths (outs NULL for verify) */
    char **tmps;          /* temporaries of outs while written; NULL once renamed */
    uint64_t *work;       /* uw_file_work of each input */
} model;

static void model_free(model *m) {
    for (size_t i = 0; i < m->n; i++) {
        if (m->tmps && m->tmps[i]) unlink(m->tmps[i]); /* an output never committed */
        if (m->tmps) free(m->tmps[i]);
        if (m->ins) free(m->ins[i]);
        if (m->outs) free(m->outs[i]);
        free(m->names[i]);
    }
    free(m->names);
    free(m->ins);
    free(m->outs);
    free(m->tmps);
    free(m->work);
    free(m->index);
    memset(m, 0, sizeof *m);
}

static uw_status read_index(const char *path, model *m) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return uw_error_set(UW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return uw_error_set(UW_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > UW_MAX_INDEX_BYTES) {
        close(fd);
        return uw_error_set(UW_ERR_LIMIT, "%s: index file of %lld bytes is too large (the limit is %llu)", path,
                            (long long)st.st_size, (unsigned long long)UW_MAX_INDEX_BYTES);
    }
    size_t n = (size_t)st.st_size, got = 0;
    m->index = malloc(n + 1);
    if (!m->index) {
        close(fd);
        return uw_error_set(UW_ERR_NOMEM, "%s: out of memory", path);
    }
    while (got < n) {
        ssize_t r = read(fd, m->index + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            uw_status s = uw_error_set(UW_ERR_IO, "%s: read failed: %s", path, r < 0 ? strerror(errno) : "file shrank while reading");
            close(fd);
            return s;
        }
        got += (size_t)r;
    }
    close(fd);
    m->index_len = n;
    return UW_OK;
}

/* A shard must be a plain .safetensors file name in the index's directory. */
static int plain_shard_name(const char *s) {
    return ends_with(s, ".safetensors") && !strchr(s, '/') && !strchr(s, '\\') && s[0] != '.';
}

/* Why the parsed index is not one (NULL if it is). */
static const char *index_problem(const json_t *root, const json_t *wm) {
    if (!json_is_object(root)) return "not a JSON object";
    if (!wm) return "no \"weight_map\" object";
    if (!json_is_object(wm)) return "weight_map is not an object";
    if (!json_object_size(wm)) return "\"weight_map\" is empty";
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)wm, key, v)
        if (!json_is_string(v)) return "a weight_map value is not a string";
    return NULL;
}

/* The distinct shard names of the index's weight_map, in order of first mention. */
static uw_status parse_index(const char *path, model *m) {
    const char *js = m->index;
    size_t len = m->index_len;
    if (len >= 3 && !memcmp(js, "\xEF\xBB\xBF", 3)) js += 3, len -= 3; /* a byte-order mark */
    json_error_t err;
    json_t *root = json_loadb(js, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return uw_error_set(UW_ERR_CORRUPT, "%s: not a valid safetensors index (%s, near line %d)", path, err.text, err.line);
    json_t *wm = json_object_get(root, "weight_map"), *seen = json_object(), *v;
    const char *why = index_problem(root, wm), *key;
    uw_status s = UW_OK;
    if (why) s = uw_error_set(UW_ERR_CORRUPT, "%s: not a valid safetensors index (%s)", path, why);
    else if (!seen || !(m->names = calloc(json_object_size(wm), sizeof *m->names))) s = uw_error_set(UW_ERR_NOMEM, "%s: out of memory", path);
    if (s == UW_OK) {
        json_object_foreach(wm, key, v) {
            const char *name = json_string_value(v);
            if (!plain_shard_name(name)) {
                s = uw_error_set(UW_ERR_CORRUPT, "%s: weight_map names '%s', not a plain .safetensors file name in the index's directory",
                                 path, name);
                break;
            }
            if (json_object_get(seen, name)) continue; /* a name set: shards may hold 10^5 tensors */
            if (json_object_set_new(seen, name, json_true()) || !(m->names[m->n] = strdup(name))) {
                s = uw_error_set(UW_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            m->n++;
        }
    }
    json_decref(seen);
    json_decref(root);
    return s;
}

static char *join_dir(const char *path_in_dir, const char *name) {
    size_t d = (size_t)(base_name(path_in_dir) - path_in_dir), n = strlen(name);
    char *p = malloc(d + n + 1);
    if (p) {
        memcpy(p, path_in_dir, d);
        memcpy(p + d, name, n + 1);
    }
    return p;
}

/* Read the index `in` and name every shard's input (and output in out's directory). */
static uw_status model_open(model *m, const char *in, const char *out, const char *what) {
    memset(m, 0, sizeof *m);
    uw_status s = read_index(in, m);
    if (s == UW_OK) s = parse_index(in, m);
    if (s != UW_OK) return s;
    m->ins = calloc(m->n, sizeof *m->ins);
    m->outs = out ? calloc(m->n, sizeof *m->outs) : NULL;
    m->tmps = calloc(m->n, sizeof *m->tmps);
    m->work = calloc(m->n, sizeof *m->work);
    if (!m->ins || (out && !m->outs) || !m->tmps || !m->work) return uw_error_set(UW_ERR_NOMEM, "%s: out of memory", in);
    for (size_t i = 0; i < m->n; i++) {
        m->ins[i] = join_dir(in, m->names[i]);
        if (out) m->outs[i] = join_dir(out, m->names[i]);
        if (!m->ins[i] || (out && !m->outs[i])) return uw_error_set(UW_ERR_NOMEM, "%s: out of memory", in);
        UW_RETURN_ERROR_IF(out && uw_same_file(m->ins[i], m->outs[i]), UW_ERR_INVALID_ARG,
                           "%s: output shard %s would overwrite its input %s (write to another directory)", what, m->outs[i], m->ins[i]);
    }
    return UW_OK;
}

/* Open every shard before anything is written: each must be what `op` takes; its work counts. */
static uw_status model_survey(model *m, uw_file_op op) {
    for (size_t i = 0; i < m->n; i++) {
        uw_file *f;
        UW_FORWARD_IF_ERROR(uw_file_open(m->ins[i], &f));
        uw_status s = uw_file_expect(f, op);
        m->work[i] = uw_file_work(f);
        uw_file_close(f);
        UW_FORWARD_IF_ERROR(s);
    }
    return UW_OK;
}

/* ---------------------------------------------------------------- progress ---------------- */

/* A file call's progress (done, total within the file) seen as the whole model's. */
typedef struct span {
    const uw_model_options *o;
    uw_model_progress p;
    uint64_t base;        /* work of the files before this one */
    int single;           /* one file: the model's total is the file's */
} span;

/* single: one file whose total the file call reports; else `total` covers the model */
static void span_start(span *sp, const uw_model_options *o, const char *name, size_t files, uint64_t total, int single) {
    memset(sp, 0, sizeof *sp);
    sp->o = o;
    sp->single = single;
    sp->p.files = files;
    sp->p.total = total;
    sp->p.name = name;
}

static void span_file(span *sp, size_t i, const char *name, uint64_t work) {
    sp->p.file = i;
    sp->p.name = name;
    sp->p.file_done = 0;
    sp->p.file_total = work;
}

static int span_cb(void *user, uint64_t done, uint64_t total) {
    span *sp = user;
    sp->p.file_done = done;
    sp->p.file_total = total;
    sp->p.done = sp->base + done;
    if (sp->single) sp->p.total = total;
    return sp->o->progress(sp->o->user, &sp->p);
}

/* ---------------------------------------------------------------- compress / decompress --- */

/* Shard i into its temporary (kept until model_commit). */
static uw_status convert_one(model *m, size_t i, uw_file_op op, const uw_compress_options *co, span *sp) {
    uw_file *f;
    UW_FORWARD_IF_ERROR(uw_file_open(m->ins[i], &f));
    uw_status s = uw_file_expect(f, op); /* again: the file may have changed since the survey */
    int fd = -1;
    if (s == UW_OK) s = uw_atomic_begin(m->outs[i], &fd, &m->tmps[i]);
    if (s == UW_OK) {
        span_file(sp, i, m->names[i], m->work[i]);
        uw_progress_fn pf = sp->o->progress ? span_cb : NULL;
        if (op == UW_OP_COMPRESS) {
            uw_compress_options c = *co;
            c.progress = pf;
            c.progress_user = sp;
            s = uw_compress_write(f, fd, m->outs[i], &c);
        } else {
            s = uw_decompress_write(f, fd, m->outs[i], sp->o->threads, pf, sp);
        }
        if (s == UW_OK) s = uw_atomic_close(fd, m->outs[i], uw_fsync_wanted(op == UW_OP_COMPRESS));
        else close(fd);
        sp->base += m->work[i];
    }
    uw_file_close(f);
    if (s != UW_OK) name_file(m->ins[i], m->outs[i]);
    return s;
}

static uw_status write_index(const char *out, const char *text, size_t len) {
    int fd;
    char *tmp;
    UW_FORWARD_IF_ERROR(uw_atomic_begin(out, &fd, &tmp));
    uw_status s = uw_pwrite_all(fd, text, len, 0, out);
    uw_status e = uw_atomic_end(fd, tmp, out, s == UW_OK);
    return s == UW_OK ? e : s;
}

/* Every shard is complete: rename them into place, then write the index. On failure the shards
 * already renamed are removed too, so no partial model is left. */
static uw_status model_commit(model *m, const char *out) {
    uw_status s = UW_OK;
    size_t i;
    for (i = 0; i < m->n && s == UW_OK; i++) {
        if (rename(m->tmps[i], m->outs[i])) {
            s = uw_error_set(UW_ERR_IO, "%s: rename failed: %s", m->outs[i], strerror(errno));
            break;
        }
        free(m->tmps[i]);
        m->tmps[i] = NULL;
    }
    if (s == UW_OK) s = write_index(out, m->index, m->index_len);
    if (s != UW_OK)
        for (size_t k = 0; k < i; k++) unlink(m->outs[k]);
    return s;
}

static uw_status convert(uw_file_op op, const char *in, const char *out, const uw_model_options *o) {
    const char *what = op == UW_OP_COMPRESS ? "compress" : "decompress";
    uw_model_options def;
    if (!o) {
        uw_model_options_default(&def);
        o = &def;
    }
    UW_RETURN_ERROR_IF(!in || !out, UW_ERR_INVALID_ARG, "%s: NULL path", what);
    UW_RETURN_ERROR_IF(o->struct_size != sizeof *o, UW_ERR_INVALID_ARG, "%s: options.struct_size mismatch", what);
    uw_compress_options co;
    uw_compress_options_default(&co);
    co.select = o->select;
    co.params = o->params;
    co.params.threads = o->threads;
    span sp;
    memset(&sp, 0, sizeof sp);
    uw_status s;
    if (!uw_model_is_index(in)) { /* one file: the file call, seen through the model's progress */
        span_start(&sp, o, base_name(in), 1, 0, 1);
        uw_progress_fn pf = o->progress ? span_cb : NULL;
        co.progress = pf;
        co.progress_user = &sp;
        s = op == UW_OP_COMPRESS ? uw_compress_file(in, out, &co) : uw_decompress_file(in, out, o->threads, pf, &sp);
        if (s != UW_OK) name_file(in, out);
        return s;
    }
    UW_RETURN_ERROR_IF(!ends_with(out, ".index.json"), UW_ERR_INVALID_ARG,
                       "%s: %s is a sharded index, so the output must end with .index.json (got '%s')", what, in, out);
    UW_RETURN_ERROR_IF(uw_same_file(in, out), UW_ERR_INVALID_ARG, "%s: output would overwrite the input", out);
    model m;
    s = model_open(&m, in, out, what);
    if (s == UW_OK) s = model_survey(&m, op);
    if (s == UW_OK) {
        uint64_t total = 0;
        for (size_t i = 0; i < m.n; i++) total += m.work[i];
        span_start(&sp, o, m.names[0], m.n, total, 0);
    }
    for (size_t i = 0; i < m.n && s == UW_OK; i++) s = convert_one(&m, i, op, &co, &sp);
    if (s == UW_OK) s = model_commit(&m, out);
    model_free(&m); /* removes the temporaries of a failed run */
    return s;
}

uw_status uw_compress_model(const char *in, const char *out, const uw_model_options *o) {
    return convert(UW_OP_COMPRESS, in, out, o);
}

uw_status uw_decompress_model(const char *in, const char *out, const uw_model_options *o) {
    return convert(UW_OP_DECOMPRESS, in, out, o);
}

/* ---------------------------------------------------------------- verify ------------------ */

typedef struct vrun {
    const uw_model_options *o;
    uw_verify_result *r;
    span sp;
    uw_status first;      /* the first failing tensor's status */
    char first_msg[1024]; /* and its detail, restored at the end */
} vrun;

/* Check every tensor of one file, going on past failing ones; returns what stops the run. */
static uw_status verify_one(vrun *v, const char *path) {
    uw_file *f;
    UW_FORWARD_IF_ERROR(uw_file_open(path, &f));
    uw_status s = uw_file_expect(f, UW_OP_VERIFY);
    uint64_t done = 0;
    if (s == UW_OK) {
        v->r->files++;
        v->sp.p.file_total = uw_file_work(f);
        if (v->sp.single) v->sp.p.total = v->sp.p.file_total;
    }
    /* units of tensors decoded on all threads (file_decode.c); verdicts reported in file order */
    uw_status *st = malloc(UW_FILE_UNIT_MAX * sizeof *st);
    char(*msg)[UW_FILE_MSG] = malloc(UW_FILE_UNIT_MAX * sizeof *msg);
    if (s == UW_OK && (!st || !msg)) s = uw_error_set(UW_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0, z; i < f->n && s == UW_OK; i = z) {
        z = uw_file_unit_end(f, i);
        s = uw_file_decode_unit(f, i, z, v->o->threads, -1, 0, NULL, st, msg);
        for (size_t k = i; k < z && s == UW_OK; k++) {
            uw_status t = st[k - i];
            v->r->tensors++;
            if (t == UW_ERR_NOMEM) {
                s = uw_error_set(t, "%s", msg[k - i]);
                break;
            }
            if (t != UW_OK) {
                v->r->failed++;
                if (v->first == UW_OK) {
                    v->first = t;
                    snprintf(v->first_msg, sizeof v->first_msg, "%s", msg[k - i]);
                }
                if (v->o->on_failure) {
                    uw_error_set(t, "%s", msg[k - i]); /* the callback may read uw_last_error() */
                    v->o->on_failure(v->o->user, path, f->e[k].orig->name, t, msg[k - i]);
                }
            }
            done += f->e[k].orig->end - f->e[k].orig->begin;
        }
        uw_file_release_unit(f, i, z);
        v->sp.p.file_done = done;
        v->sp.p.done = v->sp.base + done;
        if (s == UW_OK && v->o->progress && v->o->progress(v->o->user, &v->sp.p)) s = uw_error_set(UW_ERR_IO, "%s: cancelled", path);
    }
    free(st);
    free(msg);
    uw_file_close(f);
    return s;
}

static uw_status verify_end(vrun *v, uw_status s) {
    if (s != UW_OK) return s; /* stopped: its detail is current */
    v->r->complete = 1;
    if (v->first != UW_OK) uw_error_set(v->first, "%s", v->first_msg);
    return v->first;
}

static uw_status verify_start(vrun *v, const char *path, const uw_model_options *o, uw_verify_result *r) {
    memset(v, 0, sizeof *v);
    memset(r, 0, sizeof *r);
    v->o = o;
    v->r = r;
    UW_RETURN_ERROR_IF(!path, UW_ERR_INVALID_ARG, "verify: NULL path");
    UW_RETURN_ERROR_IF(o->struct_size != sizeof *o, UW_ERR_INVALID_ARG, "verify: options.struct_size mismatch");
    return UW_OK;
}

uw_status uw_verify_model(const char *path, const uw_model_options *o, uw_verify_result *result) {
    uw_model_options def;
    uw_verify_result local;
    if (!o) {
        uw_model_options_default(&def);
        o = &def;
    }
    vrun v;
    UW_FORWARD_IF_ERROR(verify_start(&v, path, o, result ? result : &local));
    if (!uw_model_is_index(path)) {
        span_start(&v.sp, o, base_name(path), 1, 0, 1);
        return verify_end(&v, verify_one(&v, path));
    }
    model m;
    uw_status s = model_open(&m, path, NULL, "verify");
    if (s == UW_OK) s = model_survey(&m, UW_OP_VERIFY);
    if (s == UW_OK) {
        uint64_t total = 0;
        for (size_t i = 0; i < m.n; i++) total += m.work[i];
        span_start(&v.sp, o, m.names[0], m.n, total, 0);
    }
    for (size_t i = 0; i < m.n && s == UW_OK; i++) {
        span_file(&v.sp, i, m.names[i], m.work[i]);
        s = verify_one(&v, m.ins[i]);
        v.sp.base += m.work[i];
    }
    model_free(&m);
    return verify_end(&v, s);
}

uw_status uw_verify_file(const char *path, int threads, size_t *bad) {
    uw_model_options o;
    uw_model_options_default(&o);
    o.threads = threads;
    uw_verify_result r;
    vrun v;
    if (bad) *bad = 0;
    UW_FORWARD_IF_ERROR(verify_start(&v, path, &o, &r));
    span_start(&v.sp, &o, base_name(path), 1, 0, 1);
    uw_status s = verify_end(&v, verify_one(&v, path));
    if (bad) *bad = r.failed;
    return s;
}
