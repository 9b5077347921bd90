/* cpu_backend.c - the CPU backend's device interface: weights stay in host memory in the
 * requested resident forms (BF16 and the palette form as the kernels' panels, cpu_pack.c);
 * every pipeline feeds the same kernel of the device's ISA level (cpu_mm.c), so all of them are
 * bit-identical to plain BF16 (contract C2). Device spec: NULL or "threads=N"; the level is the
 * best the CPU has, or UW_CPU_ISA. The worker threads live as long as the device. */
#include <stdio.h>
#include <stdlib.h>

#include "../../codecs/decode.h"
#include "../../core/backend.h"
#include "cpu_mm.h"

/* fixed after open: one context serves several threads at once (the pool runs one call at a
 * time and a caller that finds it busy runs alone, cpu_pool.c) */
typedef struct cpu_ctx {
    int threads; /* as opened: upload and decode; matmul takes its own from the call */
    uw_cpu_isa isa;
    uw_pool *pool;
    char name[128];
    uw_param_desc params[3];
    int nparams;
} cpu_ctx;

typedef struct cpu_w {
    uint8_t *huff;    /* the Huffman blob (fused-huffman, decode+gemm, palette-transcode) */
    size_t huff_size;
    uw_blob blob;     /* huff parsed */
    uw_band_dec *dec; /* its decode tables, built once */
    uint8_t *plain;   /* BF16 as plain panels */
    uw_pal_store pal; /* palette panels */
    int has_pal;
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
    uw_status s = uw_cpu_isa_select(&c->isa);
    if (s == UW_OK) s = uw_pool_create(c->threads, &c->pool);
    if (s != UW_OK) {
        free(c);
        return s;
    }
    snprintf(c->name, sizeof c->name, "host, %d threads, %s%s", uw_threads_resolve(c->threads), uw_cpu_isa_name(c->isa),
             uw_cpu_isa_note(c->isa));
    /* per-call knobs, passed in each uw_call: threads (default as opened; one thread can win at
     * batch 1 on small matrices, where waking workers costs more than it saves) and panels per
     * kernel pass (speed only: the bits never change, cpu_mm.h) */
    int all = uw_threads_resolve(c->threads);
    c->params[0].name = "threads";
    c->params[0].nvalues = all > 1 ? 2 : 1;
    c->params[0].values[0] = all;
    c->params[0].values[1] = 1;
    c->params[1].name = "panels";
    c->params[1].nvalues = 4;
    c->params[1].values[0] = 0;
    c->params[1].values[1] = 1;
    c->params[1].values[2] = 2;
    c->params[1].values[3] = 4;
    c->nparams = 2;
    if (c->isa == UW_ISA_AMX) { /* the batch from which AMX tiles run (0: never): the same bits either way */
        static const int v[] = {UW_AMX_BATCH_DEFAULT, 1, 8, 32, 0};
        c->params[2].name = "amx_batch";
        c->params[2].nvalues = (int)(sizeof v / sizeof v[0]);
        memcpy(c->params[2].values, v, sizeof v);
        c->nparams = 3;
    }
    c->threads = all;
    *ctx = c;
    return UW_OK;
}

static void cpu_close(void *ctx) {
    uw_pool_destroy(((cpu_ctx *)ctx)->pool);
    free(ctx);
}
static const char *cpu_name(void *ctx) { return ((cpu_ctx *)ctx)->name; }

static void cpu_release(void *ctx, void *wh) {
    (void)ctx;
    cpu_w *w = wh;
    if (!w) return;
    uw_band_dec_free(w->dec);
    free(w->huff);
    free(w->plain);
    uw_pal_free(&w->pal);
    free(w);
}

static uw_status cpu_upload(void *ctx, const uw_blob *b, unsigned resident, void **wh) {
    cpu_ctx *c = ctx;
    cpu_w *w = calloc(1, sizeof *w);
    if (!w) return uw_error_set(UW_ERR_NOMEM, "out of memory");
    w->rows = b->rows;
    w->cols = b->cols;
    uw_status s = UW_OK;
    if (resident & UW_RESIDENT_HUFFMAN) {
        w->huff = malloc(b->total);
        if (!w->huff) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
        else {
            memcpy(w->huff, b->base, b->total);
            w->huff_size = b->total;
            s = uw_blob_parse(w->huff, w->huff_size, &w->blob);
            if (s == UW_OK) s = uw_band_dec_create(&w->blob, &w->dec);
        }
    }
    if (s == UW_OK && (resident & (UW_RESIDENT_PALETTE | UW_RESIDENT_BF16))) {
        uint16_t *full = malloc(b->n * 2); /* decoded once, then laid out for the kernels */
        if (!full) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
        else s = uw_codec_decode_blob(b, full, c->threads, 1);
        if (s == UW_OK && (resident & UW_RESIDENT_PALETTE)) {
            s = uw_pal_build(full, b->rows, b->cols, &w->pal);
            w->has_pal = s == UW_OK;
        }
        if (s == UW_OK && (resident & UW_RESIDENT_BF16)) {
            uint64_t pb = uw_kpad(b->cols) / UW_GROUP_K * UW_PLAIN_GROUP_BYTES;
            w->plain = uw_cpu_big_alloc(uw_npanels(b->rows) * pb);
            if (!w->plain) s = uw_error_set(UW_ERR_NOMEM, "out of memory");
            else uw_pack_plain(full, b->cols, b->rows, 0, b->cols, w->plain, pb);
        }
        free(full);
    }
    if (s != UW_OK) {
        cpu_release(ctx, w);
        return s;
    }
    *wh = w;
    return UW_OK;
}

static uw_status cpu_decode(void *ctx, void *wh, uint16_t *out) {
    cpu_ctx *c = ctx;
    cpu_w *w = wh;
    if (w->plain) {
        uw_unpack_plain(w->plain, w->rows, w->cols, out);
        return UW_OK;
    }
    if (w->huff) return uw_blob_decode(w->huff, w->huff_size, out, w->rows * w->cols, c->threads);
    uw_pal_unpack(&w->pal.p, w->rows, w->cols, out); /* palette panels only */
    return UW_OK;
}

/* the core has checked that the pipeline's resident form is here and that every parameter
 * value is one c->params offers */
static uw_status cpu_matmul(void *ctx, void *wh, const uw_call *call, const uint16_t *x, float *y, uint64_t batch) {
    const cpu_ctx *c = ctx;
    const cpu_w *w = wh;
    const int threads = uw_call_value(call, c->params, 0), panels = uw_call_value(call, c->params, 1);
    const int amx_batch = c->nparams > 2 ? uw_call_value(call, c->params, 2) : 0;
    uw_mm_src src = {UW_SRC_PLAIN, w->rows, w->cols, NULL, NULL, NULL, NULL, NULL};
    switch (call->pipeline) {
    case UW_PIPELINE_PLAIN_BF16:
        src.plain = w->plain;
        return uw_cpu_mm(&src, c->isa, x, y, batch, threads, panels, amx_batch, c->pool);
    case UW_PIPELINE_FUSED_HUFFMAN:
        src.kind = UW_SRC_BLOB, src.blob = &w->blob, src.dec = w->dec;
        return uw_cpu_mm(&src, c->isa, x, y, batch, threads, panels, amx_batch, c->pool);
    case UW_PIPELINE_PALETTE_DIRECT:
        src.kind = UW_SRC_PALETTE, src.pal = &w->pal.p;
        return uw_cpu_mm(&src, c->isa, x, y, batch, threads, panels, amx_batch, c->pool);
    case UW_PIPELINE_DECODE_GEMM:
    case UW_PIPELINE_PALETTE_TRANSCODE: {
        /* these two build their form in scratch on every call: that is what they are */
        uint16_t *scratch = malloc(w->rows * w->cols * 2);
        if (!scratch) return uw_error_set(UW_ERR_NOMEM, "out of memory for the decode scratch");
        uw_status s = uw_codec_decode_blob(&w->blob, scratch, threads, 1);
        uw_pal_store ps = {0};
        if (s == UW_OK && call->pipeline == UW_PIPELINE_DECODE_GEMM) {
            src.kind = UW_SRC_ROWMAJOR, src.rowmajor = scratch;
            s = uw_cpu_mm(&src, c->isa, x, y, batch, threads, panels, amx_batch, c->pool);
        } else if (s == UW_OK && (s = uw_pal_build(scratch, w->rows, w->cols, &ps)) == UW_OK) {
            free(scratch);
            scratch = NULL;
            src.kind = UW_SRC_PALETTE, src.pal = &ps.p;
            s = uw_cpu_mm(&src, c->isa, x, y, batch, threads, panels, amx_batch, c->pool);
        }
        uw_pal_free(&ps);
        free(scratch);
        return s;
    }
    default:
        return uw_error_set(UW_ERR_UNSUPPORTED, "the cpu backend does not offer pipeline %s", uw_pipeline_name(call->pipeline));
    }
}

static const uw_param_desc *cpu_params(void *ctx, int *count) {
    cpu_ctx *c = ctx;
    *count = c->nparams;
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
    .matmul_dev = NULL, /* host memory only */
    /* the Huffman pipelines decode as they multiply (~5 G weights/s per core) and are slower than
     * palette-direct at every batch here (bench/RESULTS.md, issue 12) */
    .default_palette = 1,
};
