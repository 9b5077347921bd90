/* fuzz_container.c - libFuzzer target: the safetensors container parser on arbitrary bytes
 * (plain and unweight-compressed files, opened from memory), then every tensor decoded. */
#include "../../core/file.h"
#include "fuzz_util.h"

typedef struct cmp_sink {
    const uint8_t *want;
    uint64_t size, done;
    int same;
} cmp_sink;

static uw_status cmp_sink_fn(void *user, const void *p, uint64_t off, uint64_t n) {
    cmp_sink *c = user;
    FZ_REQUIRE(off == c->done && off + n <= c->size, "bands arrive in order and inside the tensor");
    if (memcmp(c->want + off, p, n)) c->same = 0;
    c->done += n;
    return UW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uw_file *f;
    if (uw_file_open_buffer(data, size, "fuzz", &f) != UW_OK) return 0;
    size_t nt = uw_file_tensor_count(f);
    for (size_t i = 0; i < nt; i++) {
        uw_tensor_info t;
        FZ_REQUIRE(uw_file_tensor_info(f, i, &t) == UW_OK, "tensor_info of tensor %zu", i);
        size_t idx = (size_t)-1;
        FZ_REQUIRE(uw_file_find(f, t.name, &idx) == UW_OK && idx == i, "find '%s'", t.name);
        const void *d;
        size_t ds;
        FZ_REQUIRE(uw_file_tensor_data(f, i, &d, &ds) == UW_OK, "tensor_data");
        FZ_REQUIRE((const uint8_t *)d >= data && (const uint8_t *)d + ds <= data + size, "stored bytes inside the file");
        /* nothing may make us allocate what the file cannot back: decoded bytes <= 2 x stored */
        FZ_REQUIRE(t.orig_bytes <= 2 * (uint64_t)ds + (t.compressed ? 0 : ds), "tensor '%s' declares %llu bytes from %zu stored",
                   t.name, (unsigned long long)t.orig_bytes, ds);
        if (t.compressed) {
            uw_blob_info bi;
            if (uw_blob_inspect(d, ds, &bi) == UW_OK) (void)uw_blob_check(d, ds);
        }
        void *buf = malloc(t.orig_bytes ? t.orig_bytes : 1);
        if (!buf) continue;
        uw_status s = uw_file_decode(f, i, buf, t.orig_bytes, 1);
        /* the streaming decoder (decompress, verify) agrees: same verdict, same bytes */
        cmp_sink cs = {buf, t.orig_bytes, 0, 1};
        uw_status s2 = uw_file_decode_stream(f, i, 1, cmp_sink_fn, &cs);
        FZ_REQUIRE((s == UW_OK) == (s2 == UW_OK), "uw_file_decode (%s) and the streaming decode (%s) agree", uw_status_name(s),
                   uw_status_name(s2));
        if (s2 == UW_OK) FZ_REQUIRE(cs.same && cs.done == t.orig_bytes, "streamed bytes equal the decoded tensor");
        FZ_REQUIRE((uw_file_verify_tensor(f, i, 1) == UW_OK) == (s == UW_OK), "uw_file_verify_tensor agrees");
        /* a passthrough tensor is its stored bytes, or (checksum in the metadata) rejected */
        if (!t.compressed) FZ_REQUIRE(s == UW_ERR_CHECKSUM || (s == UW_OK && !memcmp(buf, d, ds)), "passthrough tensor '%s' copies", t.name);
        if (s == UW_OK && t.compressed) FZ_REQUIRE(uw_blob_check(d, ds) == UW_OK, "a decoded blob passes its checksum");
        free(buf);
    }
    uw_file_close(f);
    return 0;
}
