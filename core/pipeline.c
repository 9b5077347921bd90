/* pipeline.c - the pipelines' names and what each needs (resident form, scratch): facts the
 * device layer, the tuning cache and the tuner share, with no state. */
#include "uw_internal.h"

const char *uw_pipeline_name(uw_pipeline p) {
    switch (p) {
    case UW_PIPELINE_AUTO: return "auto";
    case UW_PIPELINE_DECODE_GEMM: return "decode+gemm";
    case UW_PIPELINE_EXP_PREDECODE: return "exp-predecode";
    case UW_PIPELINE_PALETTE_TRANSCODE: return "palette-transcode";
    case UW_PIPELINE_PALETTE_DIRECT: return "palette-direct";
    case UW_PIPELINE_FUSED_HUFFMAN: return "fused-huffman";
    case UW_PIPELINE_PLAIN_BF16: return "plain-bf16";
    case UW_PIPELINE_BLAS_BF16: return "blas-bf16";
    }
    return "unknown";
}

uw_status uw_pipeline_needs(uw_pipeline p, uint64_t rows, uint64_t cols, unsigned *resident, uint64_t *scratch) {
    uint64_t n = rows * cols;
    unsigned r;
    uint64_t sc = 0;
    switch (p) {
    case UW_PIPELINE_DECODE_GEMM: r = UW_RESIDENT_HUFFMAN, sc = 2 * n; break;       /* BF16 W */
    case UW_PIPELINE_EXP_PREDECODE: r = UW_RESIDENT_HUFFMAN, sc = n; break;         /* exponent plane */
    case UW_PIPELINE_PALETTE_TRANSCODE: r = UW_RESIDENT_HUFFMAN, sc = n + (n + 1) / 2; break; /* palette IR */
    case UW_PIPELINE_PALETTE_DIRECT: r = UW_RESIDENT_PALETTE; break;
    case UW_PIPELINE_FUSED_HUFFMAN: r = UW_RESIDENT_HUFFMAN; break;
    case UW_PIPELINE_PLAIN_BF16:
    case UW_PIPELINE_BLAS_BF16: r = UW_RESIDENT_BF16; break;
    default: return uw_error_set(UW_ERR_INVALID_ARG, "pipeline %d has no requirements (AUTO or unknown)", (int)p);
    }
    if (resident) *resident = r;
    if (scratch) *scratch = sc;
    return UW_OK;
}
