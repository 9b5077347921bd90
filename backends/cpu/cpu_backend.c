/* cpu_backend.c - the CPU backend's device interface: weights stay in host memory in the
 * requested resident forms; every pipeline feeds the same matmul kernel (matmul.c), so all of
 * them are bit-identical to plain BF16 (contract C2). Device spec: NULL or "threads=N". */
#include <stdio.h>
#include <stdlib.h>

#include "../../core/backend.h"
#include "../../codecs/decode.h"

/* fixed after open: one context serves several threads at once */
typedef struct cpu_ctx {
    int threads; /* as opened: upload and decode; matmul takes its own from the call */
    char name[128];
    uw_param_desc params[1];
} cpu_ctx;

typedef struct cpu_w {
    uint8_t *huff, *pal;
    size_t huff_size, pal_size;
    uint16_t *bf16;
    uint64_t rows, cols;
} cpu_w;

static uw_status cpu_probe(void) { return UW_OK; }

static uw_status cpu_open(const char *spec, void **ctx) {
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    if (spec && *spec) {
        if (sscanf(spec, "threads=%d", &c->threads) != 1 || c->threads < 0) {
            free(c);
            return uw_error_set(UW_ERR_INVALID_ARG, "cpu device spec '%s': expected threads=N", spec);
        }
    }
    snprintf(c->name, sizeof c->name, "host, %d threads", uw_threads_resolve(c->threads));
    /* the one per-call knob: threads (default as opened; one thread can win at batch 1 on
     * small matrices, where waking workers costs more than it saves), passed in each uw_call */
    int all = uw_threads_resolve(c->threads);
    c->params[0].name = "threads";
    c->params[0].nvalues = all > 1 ? 2 : 1;
    c->params[0].values[0] = all;
    c->params[0].values[1] = 1;
    c->threads = all;
    *ctx = c;
    return UW_OK;
}

static void cpu_close(void *ctx) { free(ctx); }
static const char *cpu_name(void *ctx) { return ((cpu_ctx *)ctx)->name; }

static void cpu_release(void *ctx, void *wh) {
    (void)ctx;
    cpu_w *w = wh;
    if (!w) return;
    free(w->huff);
    free(w->pal);
    free(w->bf16);
    free(w);
}

static uw_status cpu_upload(void *ctx, const uw_blob *b, unsigned resident, void **wh) {
    cpu_ctx *c = ctx;
    cpu_w *w = calloc(1, sizeof *w);
    if (!w) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    w->rows = b->rows;
    w->cols = b->cols;
    uw_status s = UW_OK;
    uint8_t *copy = malloc(b->total);
    if (!copy) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
    else memcpy(copy, b->base, b->total);
    if (s == UW_OK) {
        if (b->codec == UW_CODEC_HUFFMAN) { w->huff = copy; w->huff_size = b->total; }
        else { w->pal = copy; w->pal_size = b->total; }
    }
    if (s == UW_OK && (resident & UW_RESIDENT_PALETTE) && !w->pal)
        s = uw_blob_to_palette(w->huff, w->huff_size, &w->pal, &w->pal_size);
    if (s == UW_OK && (resident & UW_RESIDENT_BF16)) {
        w->bf16 = malloc(b->n * 2);
        if (!w->bf16) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
        else s = uw_codec_decode_blob(b, w->bf16, c->threads, 1);
    }
    if (s == UW_OK && !(resident & UW_RESIDENT_HUFFMAN) && w->huff) { free(w->huff); w->huff = NULL; }
    if (s != UW_OK) { cpu_release(ctx, w); return s; }
    *wh = w;
    return UW_OK;
}

static uw_status cpu_decode(void *ctx, void *wh, uint16_t *out) {
    cpu_ctx *c = ctx;
    cpu_w *w = wh;
    if (w->bf16) { memcpy(out, w->bf16, w->rows * w->cols * 2); return UW_OK; }
    const uint8_t *blob = w->huff ? w->huff : w->pal;
    size_t size = w->huff ? w->huff_size : w->pal_size;
    return uw_blob_decode(blob, size, out, w->rows * w->cols, c->threads);
}

/* threads for this call: the call's value of the one parameter (the core passes only values
 * offered in c->params) */
static int call_threads(const cpu_ctx *c, const uw_call *call) { return uw_call_value(call, c->params, 0); }

/* the core has checked that the pipeline's resident form is here */
static uw_status cpu_matmul(void *ctx, void *wh, const uw_call *call, const uint16_t *x, float *y, uint64_t batch) {
    const cpu_ctx *c = ctx;
    const cpu_w *w = wh;
    const int threads = call_threads(c, call);
    switch (call->pipeline) {
    case UW_PIPELINE_PLAIN_BF16:
        return uw_matmul_bf16(x, w->bf16, y, batch, w->rows, w->cols, threads);
    case UW_PIPELINE_FUSED_HUFFMAN:
        return uw_matmul_blob(w->huff, w->huff_size, x, y, batch, threads);
    case UW_PIPELINE_PALETTE_DIRECT:
        return uw_matmul_blob(w->pal, w->pal_size, x, y, batch, threads);
    case UW_PIPELINE_DECODE_GEMM: {
        uint16_t *scratch = malloc(w->rows * w->cols * 2);
        if (!scratch) return uw_error_set(UW_ERR_NOMEM, "out of memory for the decode scratch");
        uw_status s = uw_blob_decode(w->huff, w->huff_size, scratch, w->rows * w->cols, threads);
        if (s == UW_OK) s = uw_matmul_bf16(x, scratch, y, batch, w->rows, w->cols, threads);
        free(scratch);
        return s;
    }
    case UW_PIPELINE_PALETTE_TRANSCODE: {
        uint8_t *pal;
        size_t ps;
        UW_FORWARD_IF_ERROR(uw_blob_to_palette(w->huff, w->huff_size, &pal, &ps));
        uw_status s = uw_matmul_blob(pal, ps, x, y, batch, threads);
        free(pal);
        return s;
    }
    default:
        return uw_error_set(UW_ERR_UNSUPPORTED, "the cpu backend does not offer pipeline %s", uw_pipeline_name(call->pipeline));
    }
}

static const uw_param_desc *cpu_params(void *ctx, int *count) {
    cpu_ctx *c = ctx;
    *count = 1;
    return c->params;
}

static const char *cpu_driver(void *ctx) {
    (void)ctx;
    return "unweight " UW_VERSION_STRING;
}

/* designated initializers: the table grows optional members at the end */
const uw_backend uw_backend_cpu = {
    .name = "cpu",
    .probe = cpu_probe,
    .open = cpu_open,
    .close = cpu_close,
    .device_name = cpu_name,
    .upload = cpu_upload,
    .release = cpu_release,
    .decode = cpu_decode,
    .matmul = cpu_matmul,
    .params = cpu_params,
    .driver = cpu_driver,
    /* matmul_dev: host memory only */
};
