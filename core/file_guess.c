/* file_guess.c - a compressed file's three JSON documents parsed on two threads. The outer
 * header holds the unweight metadata as one escaped string, which holds the original header as
 * another: parsed one after the other they are the serial part of opening a file of many small
 * tensors (jansson: ~10 ms for 1024 tensors, a fifth of a whole decompress). So while one thread
 * parses the outer header, another finds the metadata string in the raw bytes, unescapes it and
 * parses it and the original header inside it: a guess, taken only when the outer header's own
 * value of that string is byte for byte the text the guess parsed (file.c), else dropped and
 * everything parsed in order as before (every error message comes from that path). */
#include "file_guess.h"

#include <stdlib.h>

#define META_DEPTH 4 /* {"tensors":{name:{"shape":[...]}}}: as load_meta's pre-scan */

/* s[*i] is '"': *i past the string's closing quote; 0 when the text ends first */
static int skip_string(const char *s, uint64_t n, uint64_t *i) {
    for (uint64_t k = *i + 1; k < n; k++) {
        if (s[k] == '\\') k++;
        else if (s[k] == '"') {
            *i = k + 1;
            return 1;
        }
    }
    return 0;
}

static uint64_t skip_ws(const char *s, uint64_t n, uint64_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* Where the value of member `key` of the object starting at s[i] begins (its first character,
 * past blanks); 0 if the object has no such member. Only the object's own members are looked at:
 * nested values are passed over by their brackets and strings. Keys are compared as raw text (a
 * key written with escapes is not found: the guess is then not made). */
static int member(const char *s, uint64_t n, uint64_t i, const char *key, uint64_t *v) {
    size_t kl = strlen(key);
    int depth = 0, want_key = 1;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            uint64_t b = i;
            if (!skip_string(s, n, &i)) return 0;
            if (depth == 1 && want_key && i - b - 2 == kl && !memcmp(s + b + 1, key, kl)) {
                uint64_t k = skip_ws(s, n, i);
                if (k >= n || s[k] != ':') return 0;
                *v = skip_ws(s, n, k + 1);
                return *v < n;
            }
            i--; /* the loop steps past the closing quote */
        } else if (c == '{' || c == '[') {
            want_key = ++depth == 1;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0) return 0;
        } else if (depth == 1 && (c == ',' || c == ':')) {
            want_key = c == ',';
        }
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0) return 0;
        *v = *v << 4 | (uint32_t)h;
    }
    return 1;
}

/* JSON string text [b, e) unescaped into a new NUL-terminated buffer; NULL on anything odd (the
 * comparison with jansson's own value settles every case this gets wrong) */
static char *unescape(const char *s, uint64_t b, uint64_t e, uint64_t *len) {
    char *o = malloc(e - b + 1), *q = o;
    if (!o) return NULL;
    for (uint64_t i = b; i < e; i++) {
        char c = s[i];
        if (c != '\\') {
            *q++ = c;
            continue;
        }
        if (++i >= e) break;
        switch (s[i]) {
        case '"': *q++ = '"'; break;
        case '\\': *q++ = '\\'; break;
        case '/': *q++ = '/'; break;
        case 'b': *q++ = '\b'; break;
        case 'f': *q++ = '\f'; break;
        case 'n': *q++ = '\n'; break;
        case 'r': *q++ = '\r'; break;
        case 't': *q++ = '\t'; break;
        case 'u': {
            uint32_t u, lo;
            if (i + 4 >= e || !hex4(s + i + 1, &u)) goto bad;
            i += 4;
            if (u >= 0xD800 && u < 0xDC00) { /* a surrogate pair */
                if (i + 6 >= e || s[i + 1] != '\\' || s[i + 2] != 'u' || !hex4(s + i + 3, &lo) || lo < 0xDC00 || lo >= 0xE000) goto bad;
                i += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u < 0xE000) {
                goto bad;
            }
            if (!u) goto bad; /* jansson refuses NUL in strings */
            if (u < 0x80) *q++ = (char)u;
            else if (u < 0x800) *q++ = (char)(0xC0 | u >> 6), *q++ = (char)(0x80 | (u & 63));
            else if (u < 0x10000) *q++ = (char)(0xE0 | u >> 12), *q++ = (char)(0x80 | (u >> 6 & 63)), *q++ = (char)(0x80 | (u & 63));
            else
                *q++ = (char)(0xF0 | u >> 18), *q++ = (char)(0x80 | (u >> 12 & 63)), *q++ = (char)(0x80 | (u >> 6 & 63)),
                *q++ = (char)(0x80 | (u & 63));
            break;
        }
        default: goto bad;
        }
    }
    *q = 0;
    *len = (uint64_t)(q - o);
    return o;
bad:
    free(o);
    return NULL;
}

/* the guess: metadata text, its tree, the original header inside it parsed */
static void guess_run(const char *hdr, uint64_t n, uw_file_guess *g) {
    uint64_t md, v, e;
    if (!member(hdr, n, skip_ws(hdr, n, 0), "__metadata__", &md) || hdr[md] != '{' || !member(hdr, n, md, UW_META_KEY, &v) || hdr[v] != '"')
        return;
    e = v;
    if (!skip_string(hdr, n, &e)) return;
    g->text = unescape(hdr, v + 1, e - 1, &g->len);
    if (!g->text || uw_st_prescan(g->text, g->len, META_DEPTH) != UW_OK) return;
    json_error_t err;
    g->meta = json_loadb(g->text, g->len, JSON_REJECT_DUPLICATES, &err);
    json_t *oh = json_is_object(g->meta) ? json_object_get(g->meta, "original_header") : NULL;
    if (!json_is_string(oh)) return;
    g->orig_ok = uw_st_parse_json(json_string_value(oh), json_string_length(oh), UINT64_MAX, &g->orig) == UW_OK;
}

typedef struct parse2 {
    const uint8_t *map;
    uint64_t size;
    st_header *outer;
    uw_file_guess *g;
    uw_status outer_status;
    char outer_msg[1024];
} parse2;

static uw_status parse2_task(void *ctx, uint64_t i, int worker) {
    (void)worker;
    parse2 *p = ctx;
    if (i == 1) {
        /* the guess: only with a header length that uw_st_parse_file accepts */
        uint64_t n = uw_rd64(p->map);
        if (n <= UW_MAX_HEADER_BYTES && n <= p->size - 8) guess_run((const char *)p->map + 8, n, p->g);
        return UW_OK;
    }
    p->outer_status = uw_st_parse_file(p->map, p->size, p->outer);
    if (p->outer_status != UW_OK) snprintf(p->outer_msg, sizeof p->outer_msg, "%s", uw_last_error());
    return UW_OK;
}

int uw_file_guess_off;
_Atomic unsigned long uw_file_guesses_taken;

/* Headers this large are worth a second thread (below, starting it costs more than it saves). */
#define GUESS_MIN_HEADER (64u << 10)

uw_status uw_file_parse_outer(const uint8_t *map, uint64_t size, st_header *outer, uw_file_guess *g) {
    memset(g, 0, sizeof *g);
    if (uw_file_guess_off || size < 8 || uw_rd64(map) < GUESS_MIN_HEADER || uw_cpu_count() < 2) return uw_st_parse_file(map, size, outer);
    parse2 p = {map, size, outer, g, UW_OK, {0}};
    UW_FORWARD_IF_ERROR(uw_parallel_for(2, 2, parse2_task, &p));
    if (p.outer_status != UW_OK) {
        uw_file_guess_free(g);
        return uw_error_set(p.outer_status, "%s", p.outer_msg); /* the message, on this thread */
    }
    return UW_OK;
}

json_t *uw_file_guess_take_meta(uw_file_guess *g, const char *text, size_t len) {
    if (!json_is_object(g->meta) || g->len != len || memcmp(g->text, text, len)) return NULL; /* else the path in order */
    json_t *m = g->meta;
    g->meta = NULL;
    g->meta_taken = 1;
    uw_file_guesses_taken++;
    return m;
}

int uw_file_guess_take_orig(uw_file_guess *g, st_header *orig) {
    if (!g->orig_ok || !g->meta_taken) return 0; /* parsed from the taken tree's string only */
    *orig = g->orig;
    memset(&g->orig, 0, sizeof g->orig);
    g->orig_ok = 0;
    return 1;
}

void uw_file_guess_free(uw_file_guess *g) {
    if (g->meta) json_decref(g->meta);
    if (g->orig_ok) uw_st_free(&g->orig);
    free(g->text);
    memset(g, 0, sizeof *g);
}
