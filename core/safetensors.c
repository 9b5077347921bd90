/* safetensors.c - the safetensors container parser: size limits first, then jansson with
 * duplicate keys rejected, then per-tensor dtype/shape/offset rules and full coverage of the
 * data section (no holes, no overlaps), as the format requires. */
#include "safetensors.h"

#include <stdlib.h>

#define BAD(...) return uw_error_set(UW_ERR_CORRUPT, __VA_ARGS__)

int uw_dtype_size(const char *d) {
    static const struct { const char *n; int s; } tab[] = {
        {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
        {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},
        {"I64", 8}, {"U64", 8}, {"F64", 8}, {"C64", 8}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(tab[i].n, d)) return tab[i].s;
    return 0;
}

static int cmp_off(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static uw_status parse_tensor(const char *key, json_t *v, st_tensor *t) {
    if (strlen(key) > UW_MAX_NAME) BAD("tensor name of %zu bytes exceeds %d", strlen(key), UW_MAX_NAME);
    if (!json_is_object(v)) BAD("tensor '%s': entry is not an object", key);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *of = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) BAD("tensor '%s': missing or non-string dtype", key);
    if (!json_is_array(sh)) BAD("tensor '%s': missing or non-array shape", key);
    if (!json_is_array(of) || json_array_size(of) != 2) BAD("tensor '%s': data_offsets must be [begin, end]", key);
    if (json_object_size(v) != 3) BAD("tensor '%s': unexpected keys besides dtype, shape, data_offsets", key);
    const char *d = json_string_value(dt);
    int es = uw_dtype_size(d);
    if (!es) return uw_error_set(UW_ERR_UNSUPPORTED, "tensor '%s': dtype '%.15s' unknown", key, d);
    t->name = key;
    snprintf(t->dtype, sizeof t->dtype, "%s", d);
    size_t nd = json_array_size(sh);
    if (nd > UW_MAX_NDIM) return uw_error_set(UW_ERR_LIMIT, "tensor '%s': %zu dimensions (limit %d)", key, nd, UW_MAX_NDIM);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *x = json_array_get(sh, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0) BAD("tensor '%s': shape entry %zu is not a non-negative integer", key, i);
        uint64_t dv = (uint64_t)json_integer_value(x);
        t->shape[i] = dv;
        if (dv && numel > ((uint64_t)1 << 50) / dv) return uw_error_set(UW_ERR_LIMIT, "tensor '%s': more than 2^50 elements", key);
        numel *= dv;
    }
    t->numel = numel;
    json_t *b = json_array_get(of, 0), *e = json_array_get(of, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < json_integer_value(b))
        BAD("tensor '%s': data_offsets are not 0 <= begin <= end", key);
    t->begin = (uint64_t)json_integer_value(b);
    t->end = (uint64_t)json_integer_value(e);
    if (t->end - t->begin != numel * (uint64_t)es)
        BAD("tensor '%s': %llu bytes in data_offsets but shape x dtype needs %llu", key,
            (unsigned long long)(t->end - t->begin), (unsigned long long)(numel * es));
    return UW_OK;
}

/* Structure pre-scan, before jansson builds a tree: a safetensors header nests at most 3
 * containers deep (root object > tensor object > shape array), its arrays hold at most
 * UW_MAX_NDIM values and its objects at most UW_MAX_TENSORS + 1 members. Checking that first
 * bounds the memory the tree can take: hostile headers of 10^7 tiny values or deep nesting never
 * reach jansson. Only structure is tracked (strings skipped, escapes honoured); jansson and the
 * rules below judge everything else. */
uw_status uw_st_prescan(const char *s, uint64_t len, int maxdepth) {
    enum { MAXD = 8 };
    uint64_t commas[MAXD + 1] = {0};
    char kind[MAXD + 1] = {0};
    int depth = 0;
    if (maxdepth > MAXD) maxdepth = MAXD;
    for (uint64_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
        } else if (c == '{' || c == '[') {
            if (depth == maxdepth) BAD("header nests JSON containers more than %d deep (no safetensors field does)", maxdepth);
            depth++;
            kind[depth] = c;
            commas[depth] = 0;
        } else if (c == '}' || c == ']') {
            if (depth) depth--;
        } else if (c == ',' && depth) {
            commas[depth]++;
            if (kind[depth] == '[' && commas[depth] >= UW_MAX_NDIM)
                return uw_error_set(UW_ERR_LIMIT, "header holds an array of more than %d values (no safetensors field needs one)", UW_MAX_NDIM);
            if (kind[depth] == '{' && commas[depth] > UW_MAX_TENSORS)
                return uw_error_set(UW_ERR_LIMIT, "header holds an object of more than %u members (limit: %u tensors)", UW_MAX_TENSORS + 1, UW_MAX_TENSORS);
        }
    }
    return UW_OK;
}

uw_status uw_st_parse_json(const char *json, uint64_t len, uint64_t data_size, st_header *h) {
    memset(h, 0, sizeof *h);
    if (len > UW_MAX_HEADER_BYTES) return uw_error_set(UW_ERR_LIMIT, "header of %llu bytes exceeds the %llu-byte limit", (unsigned long long)len, (unsigned long long)UW_MAX_HEADER_BYTES);
    if (len < 2) BAD("header of %llu bytes is too short to be a JSON object", (unsigned long long)len);
    UW_FORWARD_IF_ERROR(uw_st_prescan(json, len, 3));
    json_error_t err;
    h->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!h->root) BAD("header is not valid JSON (line %d column %d: %s)", err.line, err.column, err.text);
    if (!json_is_object(h->root)) { uw_st_free(h); BAD("header is not a JSON object"); }
    size_t cnt = json_object_size(h->root);
    if (cnt > UW_MAX_TENSORS + 1) { uw_st_free(h); return uw_error_set(UW_ERR_LIMIT, "%zu tensors exceed the limit of %u", cnt, UW_MAX_TENSORS); }
    h->t = calloc(cnt ? cnt : 1, sizeof *h->t);
    if (!h->t) { uw_st_free(h); return uw_error_set(UW_ERR_NOMEM, "out of memory for %zu tensor entries", cnt); }
    const char *key;
    json_t *v;
    size_t ord = 0;
    json_object_foreach(h->root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(v)) { uw_st_free(h); BAD("__metadata__ is not an object"); }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) if (!json_is_string(mv)) {
                /* format the message before uw_st_free: mk belongs to the tree */
                uw_status s = uw_error_set(UW_ERR_CORRUPT, "__metadata__ value '%.256s' is not a string", mk);
                uw_st_free(h);
                return s;
            }
            h->metadata = v;
            ord++;
            continue;
        }
        uw_status s = parse_tensor(key, v, &h->t[h->n]);
        if (s == UW_OK && data_size != UINT64_MAX && h->t[h->n].end > data_size)
            s = uw_error_set(UW_ERR_CORRUPT, "tensor '%s': data_offsets [%llu, %llu] run past the end of the %llu-byte data section", key,
                             (unsigned long long)h->t[h->n].begin, (unsigned long long)h->t[h->n].end, (unsigned long long)data_size);
        if (s != UW_OK) { uw_st_free(h); return s; }
        h->t[h->n].key_order = ord++;
        h->n++;
    }
    /* coverage: sorted by offset, each tensor starts where the previous ended */
    st_tensor *sorted = malloc((h->n ? h->n : 1) * sizeof *sorted);
    if (!sorted) { uw_st_free(h); return uw_error_set(UW_ERR_NOMEM, "out of memory"); }
    memcpy(sorted, h->t, h->n * sizeof *sorted);
    qsort(sorted, h->n, sizeof *sorted, cmp_off);
    uint64_t at = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (sorted[i].begin != at) {
            uw_status s = uw_error_set(UW_ERR_CORRUPT, "tensor '%s' starts at data offset %llu, expected %llu (%s)", sorted[i].name,
                                       (unsigned long long)sorted[i].begin, (unsigned long long)at,
                                       sorted[i].begin < at ? "overlapping tensors" : "hole in the data section");
            free(sorted);
            uw_st_free(h);
            return s;
        }
        if (sorted[i].end > at) at = sorted[i].end;
    }
    free(sorted);
    if (data_size == UINT64_MAX) data_size = at;
    if (at != data_size) {
        uw_st_free(h);
        BAD("tensors cover %llu data bytes but the data section has %llu", (unsigned long long)at, (unsigned long long)data_size);
    }
    h->header_len = len;
    h->data_size = data_size;
    return UW_OK;
}

uw_status uw_st_parse_file(const uint8_t *buf, uint64_t size, st_header *h) {
    memset(h, 0, sizeof *h);
    if (size < 8) BAD("file of %llu bytes is too short for a safetensors header", (unsigned long long)size);
    uint64_t n = uw_rd64(buf);
    if (n > UW_MAX_HEADER_BYTES) return uw_error_set(UW_ERR_LIMIT, "header length %llu exceeds the %llu-byte limit", (unsigned long long)n, (unsigned long long)UW_MAX_HEADER_BYTES);
    if (n > size - 8) BAD("header length %llu runs past the end of the %llu-byte file", (unsigned long long)n, (unsigned long long)size);
    return uw_st_parse_json((const char *)buf + 8, n, size - 8 - n, h);
}

void uw_st_free(st_header *h) {
    if (h->root) json_decref(h->root);
    free(h->t);
    memset(h, 0, sizeof *h);
}
