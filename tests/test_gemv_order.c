/* test_gemv_order.c - the GEMV family adds in the order docs/backends.md states ("GEMV: the order of
 * the sums"), checked bit for bit where the arithmetic is fully specified: the vector-ALU product
 * (one fma per product) of the HIP backend, run on HIP-CPU (label hip).
 *   usage: test_gemv_order G ROWSxCOLS BATCH    (G: the device's CUs, UW_HIP_CPU_CUS)
 * The order, written here independently of the kernel from the documentation: the steps (64-row
 * band, 32 columns) in order band, tile, chunk; G x 8 units, unit u holding steps
 * [floor(u S / 8G), floor((u + 1) S / 8G)); a unit's sums of a band start at 0 and take each
 * product w x in column order with fmaf; a band's output is the sum, in CTA order, of each CTA's
 * sum of its units' sums in unit order (CTA = unit / 8). Every compressed pipeline must give the
 * same bits (C2), so each is compared with this reference. Exit 0 pass, 1 fail, 77 no device. */
#include "test_util.h"


/* y[b][r] as the documented order forms it */
static void reference(const uint16_t *w, const uint16_t *x, uint32_t rows, uint32_t cols, uint32_t batch, uint32_t G, float *y) {
    const uint64_t nbs = (cols + 255) / 256 * 8, bands = (rows + 63) / 64, S = bands * nbs, U = (uint64_t)G * 8;
    float *part = malloc((size_t)64 * batch * 4), *cta = malloc((size_t)64 * batch * 4), *tot = malloc((size_t)64 * batch * 4);
    for (uint64_t band = 0; band < bands; band++) {
        const uint64_t b0 = band * nbs, b1 = b0 + nbs;
        int64_t cur_cta = -1, ncta = 0;
        for (uint64_t u = 0; u < U; u++) {
            const uint64_t sb = u * S / U, se = (u + 1) * S / U, lo = sb > b0 ? sb : b0, hi = se < b1 ? se : b1;
            if (lo >= hi) continue;
            for (uint64_t i = 0; i < 64 * (uint64_t)batch; i++) part[i] = 0.0f;
            for (uint64_t s = lo; s < hi; s++) {
                const uint64_t col0 = (s - b0) * 32;
                if (col0 >= cols) continue;
                for (uint32_t r = 0; r < 64 && band * 64 + r < rows; r++)
                    for (uint64_t k = col0; k < col0 + 32; k++) {
                        const float wv = t_f32(w[(band * 64 + r) * cols + k]);
                        for (uint32_t n = 0; n < batch; n++) part[n * 64 + r] = fmaf(wv, t_f32(x[n * cols + k]), part[n * 64 + r]);
                    }
            }
            const int64_t c = (int64_t)(u / 8);
            if (c != cur_cta) { /* the previous CTA's sum joins the band's, in CTA order */
                if (cur_cta >= 0)
                    for (uint64_t i = 0; i < 64 * (uint64_t)batch; i++) tot[i] = ncta ? tot[i] + cta[i] : cta[i];
                ncta += cur_cta >= 0;
                memcpy(cta, part, (size_t)64 * batch * 4);
                cur_cta = c;
            } else {
                for (uint64_t i = 0; i < 64 * (uint64_t)batch; i++) cta[i] += part[i];
            }
        }
        for (uint64_t i = 0; i < 64 * (uint64_t)batch; i++) tot[i] = ncta ? tot[i] + cta[i] : cta[i];
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t r = 0; r < 64 && band * 64 + r < rows; r++) y[(uint64_t)n * rows + band * 64 + r] = tot[n * 64 + r];
    }
    free(part), free(cta), free(tot);
}

int main(int argc, char **argv) {
    unsigned G = 0, rows = 0, cols = 0, batch = 0;
    if (argc != 4 || sscanf(argv[1], "%u", &G) != 1 || !G || sscanf(argv[2], "%ux%u", &rows, &cols) != 2 || !rows || !cols ||
        cols % 32 || sscanf(argv[3], "%u", &batch) != 1 || !batch || batch > 16) {
        fprintf(stderr, "usage: test_gemv_order G ROWSxCOLS BATCH (cols a multiple of 32, batch 1..16)\n");
        return 2;
    }
    uw_device *dev;
    uw_status s = uw_device_open("hip", "kernel=gemv,tile=64x256,lanes=64", &dev);
    if (s == UW_ERR_NO_DEVICE) {
        printf("SKIP: no device (%s)\n", uw_last_error());
        return 77;
    }
    CHECK_OK(s, "open hip: %s", uw_last_error());
    if (s != UW_OK) T_DONE();
    const uint64_t n = (uint64_t)rows * cols;
    uint16_t *w = malloc(n * 2), *x = malloc((size_t)batch * cols * 2);
    float *y = malloc((size_t)batch * rows * 4), *ref = malloc((size_t)batch * rows * 4);
    t_fill("rare_0p2pct", w, n, cols); /* (rare exponents: the patch lists take part) */
    for (uint64_t i = 0; i < (uint64_t)batch * cols; i++) x[i] = t_bf16((float)t_normal());
    reference(w, x, rows, cols, batch, G, ref);
    uw_encode_params ep;
    uw_encode_params_default(&ep);
    ep.tile_rows = 64, ep.tile_cols = 256, ep.lanes = 64;
    uint8_t *blob = NULL;
    size_t bs = 0;
    uw_weights *wt = NULL;
    CHECK_OK(uw_tensor_encode(w, rows, cols, &ep, &blob, &bs), "encode");
    CHECK_OK(uw_weights_upload(dev, blob, bs, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt), "upload: %s",
             uw_last_error());
    static const uw_pipeline pipes[] = {UW_PIPELINE_PLAIN_BF16, UW_PIPELINE_FUSED_HUFFMAN, UW_PIPELINE_PALETTE_DIRECT,
                                        UW_PIPELINE_EXP_PREDECODE, UW_PIPELINE_PALETTE_TRANSCODE, UW_PIPELINE_DECODE_GEMM};
    for (size_t p = 0; wt && p < sizeof pipes / sizeof pipes[0]; p++) {
        memset(y, 0xFF, (size_t)batch * rows * 4);
        s = uw_weights_matmul(wt, pipes[p], x, y, batch);
        uint64_t bad = 0, first = 0;
        for (uint64_t i = 0; s == UW_OK && i < (uint64_t)batch * rows; i++)
            if (memcmp(&y[i], &ref[i], 4) && !bad++) first = i;
        CHECK(s == UW_OK && !bad, "%s %ux%u b%u over %u CUs: every output the documented order's bits (%llu differ; first batch row %llu, "
                                  "output row %llu: %.9g, want %.9g) %s",
              uw_pipeline_name(pipes[p]), rows, cols, batch, G, (unsigned long long)bad, (unsigned long long)(first / rows),
              (unsigned long long)(first % rows), bad ? y[first] : 0.0, bad ? ref[first] : 0.0, s == UW_OK ? "" : uw_last_error());
    }
    uw_weights_free(wt);
    uw_free(blob);
    uw_device_close(dev);
    free(w), free(x), free(y), free(ref);
    T_DONE();
}
