/* matmul.c - the public host matmul entry points (no device): row-major BF16 weights packed per
 * task, or a blob decoded band by band, through the CPU kernel of the selected ISA level
 * (cpu_mm.c). Both reach the same kernel, hence bit-identical results (contract C2). */
#include "cpu_mm.h"

uw_status uw_matmul_bf16(const uint16_t *x, const uint16_t *w, float *y, uint64_t batch, uint64_t out, uint64_t in,
                         int threads) {
    UW_RETURN_ERROR_IF(!x || !w || !y || !batch || !out || !in, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    uw_cpu_isa isa;
    UW_FORWARD_IF_ERROR(uw_cpu_isa_select(&isa));
    uw_mm_src s = {UW_SRC_ROWMAJOR, out, in, NULL, NULL, w, NULL, NULL};
    return uw_cpu_mm(&s, isa, x, y, batch, uw_threads_resolve(threads), 0, UW_AMX_BATCH_DEFAULT, NULL);
}

uw_status uw_matmul_blob(const void *blob, size_t size, const uint16_t *x, float *y, uint64_t batch, int threads) {
    uw_blob b;
    UW_RETURN_ERROR_IF(!x || !y || !batch, UW_ERR_INVALID_ARG, "matmul: NULL or empty argument");
    UW_FORWARD_IF_ERROR(uw_blob_parse(blob, size, &b));
    uw_cpu_isa isa;
    UW_FORWARD_IF_ERROR(uw_cpu_isa_select(&isa));
    uw_band_dec *d;
    UW_FORWARD_IF_ERROR(uw_band_dec_create(&b, &d));
    uw_mm_src s = {UW_SRC_BLOB, b.rows, b.cols, NULL, NULL, NULL, &b, d};
    uw_status st = uw_cpu_mm(&s, isa, x, y, batch, uw_threads_resolve(threads), 0, UW_AMX_BATCH_DEFAULT, NULL);
    uw_band_dec_free(d);
    return st;
}
