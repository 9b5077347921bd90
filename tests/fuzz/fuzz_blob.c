/* fuzz_blob.c - libFuzzer target: the blob header/index parser on arbitrary bytes; accepted blobs
 * go through both decoders (same verdict, same bytes) and the compressed matmul (C2). */
#include "../../codecs/decode.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uw_blob_info bi;
    uw_status si = uw_blob_inspect(data, size, &bi);
    uw_blob b;
    uw_status sp = uw_blob_parse(data, size, &b);
    FZ_REQUIRE(si == sp, "inspect and parse agree");
    if (sp != UW_OK) return 0;
    FZ_REQUIRE(b.total == size && b.n <= size, "a parsed blob describes exactly its bytes");
    (void)uw_blob_check(data, size);
    uint16_t *o1 = malloc(b.n * 2), *o2 = malloc(b.n * 2);
    if (!o1 || !o2) { free(o1); free(o2); return 0; }
    memset(o1, 0xA5, b.n * 2);
    memset(o2, 0x5A, b.n * 2);
    uw_status s1 = uw_codec_decode_blob(&b, o1, 1, 1), s2 = uw_codec_decode_blob(&b, o2, 1, 0);
    /* CHECKSUM = the stream was accepted and decoded, only the tensor hash differs */
    FZ_REQUIRE((s1 == UW_ERR_CORRUPT) == (s2 == UW_ERR_CORRUPT), "fast (%s) and reference (%s) decoders accept the same streams",
               uw_status_name(s1), uw_status_name(s2));
    if (s1 != UW_ERR_CORRUPT && s2 != UW_ERR_CORRUPT) {
        FZ_REQUIRE(!memcmp(o1, o2, b.n * 2), "fast and reference decoders agree bit for bit");
        if (b.n <= 65536) {
            uint16_t x[64];
            for (int k = 0; k < 64; k++) x[k] = (uint16_t)(0x3F80 + 3 * k);
            uint64_t batch = 1;
            uint16_t *xb = malloc(b.cols * 2);
            float *y1 = malloc(b.rows * 4), *y2 = malloc(b.rows * 4);
            if (xb && y1 && y2) {
                for (uint64_t k = 0; k < b.cols; k++) xb[k] = x[k % 64];
                uw_status m1 = uw_matmul_blob(data, size, xb, y1, batch, 1);
                uw_status m2 = uw_matmul_bf16(xb, o2, y2, batch, b.rows, b.cols, 1);
                FZ_REQUIRE(m1 == UW_OK && m2 == UW_OK, "matmul on an accepted blob runs");
                FZ_REQUIRE(fz_same_f32(y1, y2, b.rows), "compressed matmul is bit-identical to plain (C2)");
            }
            free(xb);
            free(y1);
            free(y2);
        }
    }
    free(o1);
    free(o2);
    return 0;
}
