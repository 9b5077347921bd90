/* test_file_guess.c - a compressed file with a large header (the metadata string guessed and
 * parsed on a second thread while the outer header is parsed: core/file_guess.c) opens to exactly
 * what the in-order parse gives, names with escapes and non-ASCII characters included, and every
 * damage to its metadata is reported with the same status and message either way (label cpu).
 * Usage: test_file_guess WORKDIR */
#include <sys/stat.h>

#include "../core/file.h"
#include "../core/file_guess.h"
#include "test_util.h"

#define NT 1500 /* tensors: a header of ~100 KB, over the guess's threshold */

/* tensor i's name as JSON writes it (*json) and as it is (returned); a few need escapes, twice
 * over inside the metadata string */
static const char *name_of(int i, char *buf, size_t n, const char **json) {
    static char j[64];
    if (i == 7) snprintf(buf, n, "quote\"d.%d", i), snprintf(j, sizeof j, "quote\\\"d.%d", i);
    else if (i == 10) snprintf(buf, n, "tab\t.%d", i), snprintf(j, sizeof j, "tab\\t.%d", i);
    else if (i == 8) snprintf(buf, n, "caf\xc3\xa9.%d", i);          /* U+00E9 */
    else if (i == 9) snprintf(buf, n, "smile\xf0\x9f\x98\x80.%d", i); /* U+1F600: a surrogate pair when escaped */
    else snprintf(buf, n, "layer.%d.weight", i);
    if (json) *json = i == 7 || i == 10 ? j : buf;
    return buf;
}

/* every 15th tensor is 64 x 64 (compressed), the rest 4 x 8 (stored as they are) */
static uint64_t numel_of(int i) { return i % 15 ? 32 : 4096; }

/* a plain safetensors file of NT BF16 tensors; w holds their elements back to back */
static void write_plain(const char *path, const uint16_t *w, uint64_t total) {
    size_t cap = 200 * NT + 64, len = 0;
    char *h = malloc(cap), nm[64];
    const char *js;
    uint64_t at = 0;
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (int i = 0; i < NT; i++) {
        name_of(i, nm, sizeof nm, &js);
        uint64_t e = numel_of(i);
        len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[%d,%d],\"data_offsets\":[%llu,%llu]}",
                                i ? "," : "", js, e == 32 ? 4 : 64, e == 32 ? 8 : 64, (unsigned long long)at * 2,
                                (unsigned long long)(at + e) * 2);
        at += e;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    FILE *f = fopen(path, "wb");
    uint8_t n8[8];
    for (int k = 0; k < 8; k++) n8[k] = (uint8_t)((uint64_t)len >> (8 * k));
    fwrite(n8, 1, 8, f);
    fwrite(h, 1, len, f);
    fwrite(w, 2, total, f);
    fclose(f);
    free(h);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

/* open buf both ways: same status, same message; on success the same entries */
static void same_both_ways(const uint8_t *buf, size_t n, const char *what, int expect_ok) {
    uw_file *a = NULL, *b = NULL;
    unsigned long taken = uw_file_guesses_taken;
    uw_file_guess_off = 0;
    uw_status sa = uw_file_open_buffer(buf, n, "f.uw", &a);
    char ma[1024];
    snprintf(ma, sizeof ma, "%s", sa == UW_OK ? "" : uw_last_error());
    uw_file_guess_off = 1;
    uw_status sb = uw_file_open_buffer(buf, n, "f.uw", &b);
    char mb[1024];
    snprintf(mb, sizeof mb, "%s", sb == UW_OK ? "" : uw_last_error());
    uw_file_guess_off = 0;
    CHECK(sa == sb, "%s: the same status with and without the guess (%d, %d)", what, (int)sa, (int)sb);
    CHECK(!strcmp(ma, mb), "%s: the same message with and without the guess ('%s' / '%s')", what, ma, mb);
    CHECK((sa == UW_OK) == expect_ok, "%s: %s", what, expect_ok ? "opens" : "is rejected");
    if (expect_ok) CHECK(uw_file_guesses_taken == taken + 1, "%s: the guess was taken", what);
    if (sa == UW_OK && sb == UW_OK) {
        CHECK(a->n == b->n, "%s: as many tensors either way", what);
        for (size_t i = 0; i < a->n && i < b->n; i++) {
            const st_tensor *x = a->e[i].orig, *y = b->e[i].orig;
            CHECK(!strcmp(x->name, y->name) && x->begin == y->begin && x->end == y->end && x->numel == y->numel &&
                      a->e[i].compressed == b->e[i].compressed && a->e[i].stored->begin == b->e[i].stored->begin,
                  "%s: entry %zu the same either way", what, i);
        }
    }
    uw_file_close(a);
    uw_file_close(b);
}

/* replace the first `from` in buf's header by `to` (same length); 0 if absent */
static int patch(uint8_t *buf, size_t n, const char *from, const char *to) {
    size_t l = strlen(from), hl = 8 + (size_t)uw_rd64(buf);
    for (size_t i = 8; i + l <= hl && i + l <= n; i++)
        if (!memcmp(buf + i, from, l)) {
            memcpy(buf + i, to, l);
            return 1;
        }
    return 0;
}

/* a copy of buf whose header has its first `from` (nth occurrence, 0 = first) replaced by `to`
 * of any length (the header length updated; data offsets are relative to the data section) */
static uint8_t *rewrite(const uint8_t *buf, size_t n, const char *from, int nth, const char *to, size_t *out_n) {
    size_t l = strlen(from), tl = strlen(to), hl = (size_t)uw_rd64(buf);
    for (size_t i = 8; i + l <= 8 + hl; i++)
        if (!memcmp(buf + i, from, l) && nth-- == 0) {
            uint8_t *c = malloc(n - l + tl);
            memcpy(c, buf, i);
            memcpy(c + i, to, tl);
            memcpy(c + i + tl, buf + i + l, n - i - l);
            uw_wr64(c, hl - l + tl);
            *out_n = n - l + tl;
            return c;
        }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *dir = argv[1];
    mkdir(dir, 0755);
    char plain[4096], comp[4096];
    snprintf(plain, sizeof plain, "%s/plain.safetensors", dir);
    snprintf(comp, sizeof comp, "%s/comp.safetensors", dir);
    uint64_t total = 0;
    for (int i = 0; i < NT; i++) total += numel_of(i);
    uint16_t *w = malloc(total * 2), *o = malloc(4096 * 2);
    t_fill("gauss", w, total, 64);
    write_plain(plain, w, total);
    uw_compress_options co;
    uw_compress_options_default(&co);
    CHECK_OK(uw_compress_file(plain, comp, &co), "compress the file of %d tensors", NT);
    size_t n;
    uint8_t *buf = slurp(comp, &n);
    CHECK(n > 8 && uw_rd64(buf) > 64 * 1024, "its header is over 64 KB (%llu)", (unsigned long long)(n > 8 ? uw_rd64(buf) : 0));

    /* intact: guessed, the same entries, every tensor decodes to its bytes */
    same_both_ways(buf, n, "intact file", 1);
    uw_file *f;
    uw_file_guess_off = 0;
    CHECK_OK(uw_file_open_buffer(buf, n, "f.uw", &f), "open with the guess");
    char nm[64];
    uint64_t at = 0;
    for (int i = 0; i < NT; i++) {
        size_t k;
        uint64_t e = numel_of(i);
        CHECK_OK(uw_file_find(f, name_of(i, nm, sizeof nm, NULL), &k), "tensor %d found by name", i);
        CHECK_OK(uw_file_decode(f, k, o, e * 2, 1), "tensor %d decodes", i);
        CHECK(!memcmp(o, w + at, e * 2), "tensor %d is bit-exact", i);
        CHECK(f->e[k].compressed == (e == 4096), "tensor %d is %s", i, e == 4096 ? "compressed" : "stored as it is");
        at += e;
    }
    uw_file_close(f);

    /* escapes our writer never uses, in the outer header's text of the metadata string: the same
     * metadata after unescaping, so the guess is still taken */
    static const struct { const char *from; int nth; const char *to, *what; } esc[] = {
        {"layer.11.weight", 1, "layer\\u002e11.weight", "\\u escape"},
        {"smile\xf0\x9f\x98\x80", 1, "smile\\ud83d\\ude00", "surrogate pair"},
        {"smile\xf0\x9f\x98\x80", 0, "smile\\ud83d\\ude00", "surrogate pair in the original header"},
        {"\\\"format\\\"", 0, "\\\"form\\u0061t\\\"", "escape in a key"},
    };
    for (size_t k = 0; k < sizeof esc / sizeof esc[0]; k++) {
        size_t cn = 0;
        uint8_t *c = rewrite(buf, n, esc[k].from, esc[k].nth, esc[k].to, &cn);
        CHECK(c != NULL, "case '%s' found its text in the header", esc[k].what);
        if (c) same_both_ways(c, cn, esc[k].what, 1);
        free(c);
    }

    /* damaged metadata: each case rejected alike either way */
    static const struct { const char *from, *to, *what; } dmg[] = {
        {"\\\"version\\\":1", "\\\"version\\\":2", "container version 2"},
        {"\\\"format\\\":\\\"unweight\\\"", "\\\"format\\\":\\\"unweigxt\\\"", "wrong format name"},
        {"\\\"passthrough_xxh3\\\"", "\\\"passthrough_xxh4\\\"", "unknown metadata key"},
        {"\\\\\\\"dtype\\\\\\\":\\\\\\\"BF16", "\\\\\\\"dtype\\\\\\\":\\\\\\\"BF17", "original header changed (its checksum)"},
        {"\\\"rare_ppm\\\":", "\\\"rare_ppn\\\":", "tensor entry lacks rare_ppm"},
        {"\\\"tensors\\\":{", "\\\"tensors\\\":[", "tensor table not an object (invalid JSON)"},
    };
    for (size_t k = 0; k < sizeof dmg / sizeof dmg[0]; k++) {
        uint8_t *c = malloc(n);
        memcpy(c, buf, n);
        CHECK(patch(c, n, dmg[k].from, dmg[k].to), "case '%s' found its text in the header", dmg[k].what);
        same_both_ways(c, n, dmg[k].what, 0);
        free(c);
    }
    free(buf);
    free(w);
    free(o);
    T_DONE();
}
