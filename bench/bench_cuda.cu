/* bench_cuda.cu - the CUDA backend's benchmark (ci/device-check.sh runs it on a lent GPU).
 *
 * usage: bench_cuda SAMPLE.safetensors [--log FILE] [--reps N] [--batches 1,4,16,64,256] [--scale D | --small]
 *                   [--save DIR]
 *        bench_cuda --load DIR [--log FILE] [--reps N] [--batches ...]
 *        bench_cuda --kernel-info   (no GPU needed: threads and dynamic shared memory of every
 *                                    matmul kernel instance, read by ci/kernel-budget.py)
 *
 * Weights (bench_cuda_weights.cu): Llama-3.1-8B MLP shapes, gate/up 14336x4096 and down
 * 4096x14336, synthetic: each exponent drawn from the exponent histogram of SAMPLE's largest BF16
 * matrix (one layer's statistics, Llama-class: 2.63 bits on the built-in sample), sign and
 * mantissa uniformly random; and SAMPLE's own 2-D BF16 tensors (the "real" rows add them up). --scale D divides the synthetic shapes by D in each dimension
 * (--small: 8). --save DIR writes the encoded set and exits (no GPU needed); --load DIR runs on
 * that set instead of making one: no encoding on the host while a GPU is held.
 *
 * For each weight and batch size, every pipeline and cuBLAS BF16 (blas-bf16, on the same
 * resident weights) run in the same process on the same stream through the public
 * uw_weights_matmul_async: 3 warm-up calls, then N timed calls (CUDA events around each), x
 * rotating over 4 device buffers, and before each timed call a read of 4x the L2's size, so that
 * every call starts with none of its operands in L2 (as in a forward pass, where a layer's
 * weights were last read a whole pass ago; the Llama shapes' compressed forms (79-89 MB) are only 1.6-1.8x an
 * H100's L2, and repeated calls would otherwise find part of them there, more of the smaller
 * forms); the median is reported. That read, timed alone, is the run's HBM read bandwidth, the
 * ceiling a GEMV streams against (docs/PERFORMANCE.md section 1: the model's 0.90 of peak). Each pipeline's output is compared bit
 * for bit with its C2 reference (plain-bf16; decode+gemm with blas-bf16), and plain-bf16 with
 * cuBLAS by relative L2 error. C3: plain-bf16 (and any pipeline that differs from it) against a
 * float64 reference on the host, on the first and last 64 output rows and 64 rows spread between,
 * every batch row, within the tensor-core bound of tests/uw_c3.h: a failing check (exit 1), like
 * C2, since a wrong wgmma descriptor or fragment map corrupts every pipeline alike and only C3
 * sees it; cuBLAS's worst error over the same bound is printed for comparison. Decode: the tile-parallel Huffman decode to device memory vs a
 * device-to-device copy of the same number of output bytes (GB/s of BF16 written, median), L2
 * flushed the same way; a decode that differs from the original is a failing check (C1).
 * Size: bits per weight of the Huffman blob (GPU tiles) and of the default encoding, and of the
 * resident forms the matmuls read (Huffman after any re-encoding on upload, palette IR, its
 * exceptions), beside the model's 10.80 and 12.07 (docs/PERFORMANCE.md section 2).
 *
 * The CPU-only parts (histogram, synthetic weights, encoding, sizes) run without a GPU; then it
 * prints "no device" and exits 77. A full log goes to --log; a short table ends stdout. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backends/cuda/cuda_internal.h"
#include "../tests/uw_c3.h"
#include "bench_cuda_weights.h"
#include "perf_model.h"

#define NROT 4
#define NPIPE 7
static const uw_pipeline pipes[NPIPE] = {UW_PIPELINE_BLAS_BF16,         UW_PIPELINE_PLAIN_BF16,    UW_PIPELINE_FUSED_HUFFMAN,
                                         UW_PIPELINE_PALETTE_DIRECT,    UW_PIPELINE_EXP_PREDECODE, UW_PIPELINE_PALETTE_TRANSCODE,
                                         UW_PIPELINE_DECODE_GEMM};
static const char *short_name[NPIPE] = {"cublas", "plain", "fused", "pal-dir", "exp-pre", "pal-tr", "dec+gemm"};

static FILE *logf_;
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (logf_) {
        va_start(ap, fmt);
        vfprintf(logf_, fmt, ap);
        va_end(ap);
        fflush(logf_);
    }
    fflush(stdout);
}
static void logonly(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logonly(const char *fmt, ...) {
    if (!logf_) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(logf_, fmt, ap);
    va_end(ap);
    fflush(logf_);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}


/* ---------------------------------------------------------------- GPU part ---------------- */

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    double us[NPIPE];     /* median, -1 = failed/unsupported */
    int c2_bad[NPIPE];    /* 1: output differs from its C2 reference */
    int c3_bad[NPIPE];    /* 1: output outside the C3 bound of float64 */
    double c3_worst[NPIPE]; /* largest error / bound over the checked outputs (-1: not checked) */
    double rel_plain;     /* ||plain - cublas|| / ||cublas|| */
} result;

static float f32_of(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* C3 of y[batch][rows] (x: host BF16 [batch][cols]) on rows 0-63, the last 64 and 64 spread
 * between; returns the worst error / bound, reports the first output over it */
static double c3_sampled(const weight *s, const uint16_t *x, const float *y, uint64_t batch, const char *what, int *bad) {
    const uint64_t R = s->rows, K = s->cols;
    const double g = uw_c3_gamma("cuda", K), fl = uw_c3_floor(K);
    double worst = 0, *xd = (double *)malloc(K * sizeof(double));
    *bad = 0;
    for (uint64_t b = 0; b < batch; b++) {
        for (uint64_t k = 0; k < K; k++) xd[k] = f32_of(x[b * K + k]);
        for (uint64_t i = 0; i < 192; i++) {
            uint64_t r = i < 64 ? i : i < 128 ? (R > 64 ? R - 128 + i : i - 64) : (i - 128) * R / 64;
            if (r >= R) continue;
            double ref = 0, mag = 0;
            for (uint64_t k = 0; k < K; k++) {
                double a = xd[k] * (double)f32_of(s->w[r * K + k]);
                ref += a;
                mag += fabs(a);
            }
            double err = fabs((double)y[b * R + r] - ref), tol = g * mag + fl, q = err / tol;
            if (!(err <= tol)) {
                if (!*bad) say("C3 FAILED: %s %s batch %llu: first bad output (batch row %llu, output row %llu): %.6g vs float64 %.6g, "
                               "error %.3g > bound %.3g\n", s->name, what, (unsigned long long)batch, (unsigned long long)b,
                               (unsigned long long)r, (double)y[b * R + r], ref, err, tol);
                *bad = 1;
                q = q == q ? q : 1e300; /* NaN */
            }
            if (q > worst) worst = q;
        }
    }
    free(xd);
    return worst;
}

#define CU(call)                                                                                 \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "bench_cuda: %s: %s\n", #call, cudaGetErrorString(e_));             \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

/* ---- the L2 between timed calls: a read (not a write: no dirty line is written back during the
 * timed call) of a buffer of 4x the L2's size, 16 bytes per thread, four loads in flight each */
static uint4 *flush_buf;
static size_t flush_n; /* uint4 elements */
static unsigned *flush_sink;
static int flush_grid;

__global__ void k_flush_read(const uint4 *__restrict__ p, size_t n, unsigned *sink) {
    unsigned acc = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 a = p[i], b = p[i + stride], c = p[i + 2 * stride], d = p[i + 3 * stride];
        acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) {
        uint4 a = p[i];
        acc ^= a.x ^ a.y ^ a.z ^ a.w;
    }
    if (acc == 0x9E3779B9u) *sink = acc; /* data-dependent: the loads stay */
}

static void flush_setup(void) {
    int dev;
    cudaDeviceProp pr;
    CU(cudaGetDevice(&dev));
    CU(cudaGetDeviceProperties(&pr, dev));
    size_t bytes = 4 * (size_t)(pr.l2CacheSize > 0 ? pr.l2CacheSize : 64 << 20);
    flush_n = bytes / sizeof(uint4);
    int per_sm = 0;
    CU(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_flush_read, 512, 0));
    flush_grid = pr.multiProcessorCount * (per_sm > 0 ? per_sm : 1); /* one full wave */
    CU(cudaMalloc((void **)&flush_buf, bytes));
    CU(cudaMemset(flush_buf, 0x5A, bytes));
    CU(cudaMalloc((void **)&flush_sink, sizeof(unsigned)));
    logonly("L2 %d KB: each timed call follows a read of %zu MB\n", pr.l2CacheSize >> 10, bytes >> 20);
}

static void flush_read(cudaStream_t st, size_t n) {
    k_flush_read<<<flush_grid, 512, 0, st>>>(flush_buf, n, flush_sink);
    CU(cudaGetLastError());
}
static void flush_l2(cudaStream_t st) { flush_read(st, flush_n); }

/* GB/s read from HBM: the flush read of 4x and of 2x the L2 (medians of 20, alternated), the
 * difference of bytes over the difference of times, so that the launch, ramp and tail common to
 * both (a few us of ~50) do not lower the rate; the rate the "over the floor" rows divide by */
static double hbm_read_gbs(cudaStream_t st) {
    cudaEvent_t a, b;
    double t[2][20];
    const size_t n[2] = {flush_n, flush_n / 2};
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
    for (int i = -3; i < 20; i++)
        for (int k = 0; k < 2; k++) {
            float ms;
            CU(cudaEventRecord(a, st));
            flush_read(st, n[k]);
            CU(cudaEventRecord(b, st));
            CU(cudaEventSynchronize(b));
            CU(cudaEventElapsedTime(&ms, a, b));
            if (i >= 0) t[k][i] = ms;
        }
    qsort(t[0], 20, sizeof t[0][0], cmpd);
    qsort(t[1], 20, sizeof t[1][0], cmpd);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    double dt = t[0][10] - t[1][10];
    logonly("HBM read: %zu MB in %.1f us, %zu MB in %.1f us (medians)\n", n[0] * sizeof(uint4) >> 20, 1e3 * t[0][10],
            n[1] * sizeof(uint4) >> 20, 1e3 * t[1][10]);
    if (!(dt > 0)) return (double)n[0] * sizeof(uint4) / (t[0][10] * 1e-3) / 1e9; /* (not expected) */
    return (double)(n[0] - n[1]) * sizeof(uint4) / (dt * 1e-3) / 1e9;
}

static void run_weight(uw_weights *wt, const weight *s, uint64_t batch, int reps, cudaStream_t st, result *res) {
    size_t xb = batch * s->cols * 2, yb = batch * s->rows * 4;
    void *x[NROT], *y;
    uint16_t *hx = (uint16_t *)malloc(xb), *hx0 = (uint16_t *)malloc(xb); /* hx0: x[0], the C2/C3 input */
    for (int r = 0; r < NROT; r++) {
        for (uint64_t i = 0; i < batch * s->cols; i++) { /* N(0,1)-ish BF16, never zero */
            double u = ((double)(bench_rand() >> 11) + 0.5) / 9007199254740992.0, v = (double)(bench_rand() >> 11) / 9007199254740992.0;
            float f = (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
            uint32_t bits;
            memcpy(&bits, &f, 4);
            hx[i] = (uint16_t)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
        }
        CU(cudaMalloc(&x[r], xb));
        CU(cudaMemcpy(x[r], hx, xb, cudaMemcpyHostToDevice));
        if (r == 0) memcpy(hx0, hx, xb);
    }
    CU(cudaMalloc(&y, yb));
    float *out[NPIPE];
    cudaEvent_t e0[64], e1[64];
    for (int i = 0; i < reps; i++) {
        CU(cudaEventCreate(&e0[i]));
        CU(cudaEventCreate(&e1[i]));
    }
    for (int p = 0; p < NPIPE; p++) {
        out[p] = (float *)malloc(yb);
        res->us[p] = -1;
        uw_status s0 = UW_OK;
        for (int i = 0; i < 3 && s0 == UW_OK; i++) s0 = uw_weights_matmul_async(wt, pipes[p], x[i % NROT], y, batch, st);
        if (s0 != UW_OK) {
            logonly("  %s batch %llu: %s\n", uw_pipeline_name(pipes[p]), (unsigned long long)batch, uw_last_error());
            continue;
        }
        CU(cudaStreamSynchronize(st));
        /* the output of x[0], for the C2 comparisons */
        CU(cudaMemsetAsync(y, 0x7F, yb, st));
        uw_weights_matmul_async(wt, pipes[p], x[0], y, batch, st);
        CU(cudaMemcpyAsync(out[p], y, yb, cudaMemcpyDeviceToHost, st));
        CU(cudaStreamSynchronize(st));
        for (int i = 0; i < reps; i++) {
            flush_l2(st);
            CU(cudaEventRecord(e0[i], st));
            uw_weights_matmul_async(wt, pipes[p], x[(i + 1) % NROT], y, batch, st);
            CU(cudaEventRecord(e1[i], st));
        }
        CU(cudaStreamSynchronize(st));
        CU(cudaGetLastError());
        double t[64];
        for (int i = 0; i < reps; i++) {
            float ms;
            CU(cudaEventElapsedTime(&ms, e0[i], e1[i]));
            t[i] = 1000.0 * ms;
        }
        qsort(t, (size_t)reps, sizeof t[0], cmpd);
        res->us[p] = t[reps / 2];
        logonly("  %-18s batch %4llu: median %9.1f us  min %9.1f  max %9.1f\n", uw_pipeline_name(pipes[p]), (unsigned long long)batch,
                t[reps / 2], t[0], t[reps - 1]);
    }
    /* C2: pipelines vs plain (index 1), decode+gemm vs cublas (index 0) */
    for (int p = 2; p < NPIPE; p++) {
        int ref = pipes[p] == UW_PIPELINE_DECODE_GEMM ? 0 : 1;
        res->c2_bad[p] = res->us[p] >= 0 && res->us[ref] >= 0 && memcmp(out[p], out[ref], yb) != 0;
        if (res->c2_bad[p]) say("C2 MISMATCH: %s %s batch %llu vs %s\n", s->name, uw_pipeline_name(pipes[p]), (unsigned long long)batch,
                                uw_pipeline_name(pipes[ref]));
    }
    /* C3: plain-bf16, and every pipeline whose output differs from its reference; cuBLAS for comparison */
    for (int p = 0; p < NPIPE; p++) {
        res->c3_worst[p] = -1;
        if (res->us[p] < 0 || (p > 1 && !res->c2_bad[p])) continue;
        int bad = 0;
        res->c3_worst[p] = c3_sampled(s, hx0, out[p], batch, uw_pipeline_name(pipes[p]), &bad);
        res->c3_bad[p] = p != 0 && bad; /* (cuBLAS is not ours: reported, never failed) */
    }
    logonly("  C3 worst error / bound: plain %.3g, cublas %.3g\n", res->c3_worst[1], res->c3_worst[0]);
    double num = 0, den = 0;
    for (uint64_t i = 0; i < batch * s->rows; i++) {
        double d = (double)out[1][i] - (double)out[0][i];
        num += d * d;
        den += (double)out[0][i] * (double)out[0][i];
    }
    res->rel_plain = res->us[0] >= 0 && res->us[1] >= 0 ? sqrt(num / (den > 0 ? den : 1)) : -1;
    for (int i = 0; i < reps; i++) cudaEventDestroy(e0[i]), cudaEventDestroy(e1[i]);
    for (int p = 0; p < NPIPE; p++) free(out[p]);
    for (int r = 0; r < NROT; r++) cudaFree(x[r]);
    cudaFree(y);
    free(hx);
    free(hx0);
}

static int c1_bad; /* device decodes that differ from the original (a failing check) */

/* decode to device memory vs a device-to-device copy of as many bytes: GB/s of BF16 written */
static void time_decode(uw_weights *wt, const weight *s, int reps, cudaStream_t st, double *dec_gbs, double *copy_gbs) {
    cu_ctx *c = (cu_ctx *)wt->dev->ctx;
    cu_weights *w = (cu_weights *)wt->wh;
    size_t bytes = s->rows * s->cols * 2;
    void *out, *src;
    CU(cudaMalloc(&out, bytes));
    CU(cudaMalloc(&src, bytes));
    CU(cudaMemset(src, 1, bytes));
    cudaEvent_t a, b;
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
    double td[64], tc[64];
    for (int i = -2; i < reps; i++) {
        float ms;
        flush_l2(st);
        CU(cudaEventRecord(a, st));
        if (uw_cu_decode_dev(c, w, (uint16_t *)out, st) != UW_OK) {
            say("C1: device decode of %s failed: %s\n", s->name, uw_last_error());
            c1_bad++;
            *dec_gbs = -1;
            break;
        }
        CU(cudaEventRecord(b, st));
        CU(cudaEventSynchronize(b));
        CU(cudaEventElapsedTime(&ms, a, b));
        if (i >= 0) td[i] = ms;
        flush_l2(st);
        CU(cudaEventRecord(a, st));
        CU(cudaMemcpyAsync(out, src, bytes, cudaMemcpyDeviceToDevice, st));
        CU(cudaEventRecord(b, st));
        CU(cudaEventSynchronize(b));
        CU(cudaEventElapsedTime(&ms, a, b));
        if (i >= 0) tc[i] = ms;
    }
    if (*dec_gbs >= 0) {
        qsort(td, (size_t)reps, sizeof td[0], cmpd);
        qsort(tc, (size_t)reps, sizeof tc[0], cmpd);
        *dec_gbs = (double)bytes / (td[reps / 2] * 1e-3) / 1e9;
        *copy_gbs = (double)bytes / (tc[reps / 2] * 1e-3) / 1e9;
    }
    /* and the decode is right */
    if (*dec_gbs >= 0) {
        uint16_t *h = (uint16_t *)malloc(bytes);
        CU(cudaMemcpy(h, out, bytes, cudaMemcpyDeviceToHost));
        if (memcmp(h, s->w, bytes)) {
            say("C1 MISMATCH: device decode of %s differs from the original\n", s->name);
            c1_bad++;
        }
        free(h);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaFree(out);
    cudaFree(src);
}

/* the performance model's prediction (docs/PERFORMANCE.md, bench/perf_model.h) for this GPU, shape,
 * batch and pipeline; -1 where it has none */
static double predicted_us(const char *gpu, uint64_t rows, uint64_t cols, uint64_t batch, uw_pipeline p) {
    for (size_t i = 0; i < sizeof uw_perf_model / sizeof uw_perf_model[0]; i++) {
        const uw_perf_pred *e = &uw_perf_model[i];
        if (strstr(gpu, e->gpu) && e->rows == rows && e->cols == cols && e->batch == batch && !strcmp(e->pipeline, uw_pipeline_name(p)))
            return e->us;
    }
    return -1;
}

/* ---------------------------------------------------------------- kernel facts ------------ */

/* one line per matmul kernel instance: threads per CTA and dynamic shared memory for the default
 * resident geometry of each vendor (CUDA 64x256 tiles; HIP 64x64, the same generic kernel source)
 * and the largest decode table (12 bits); the kernel budget check (ci/kernel-budget.py) reads it */
static void kernel_info(void) {
    static const char *src_name[UW_SRC_COUNT] = {"bf16", "huff", "pal", "exp"};
    static const uint32_t bns[] = {16, 64, 128};
    for (int src = 0; src < UW_SRC_COUNT; src++)
        for (int b = 0; b < 3; b++) {
            uint32_t bn = bns[b];
            printf("kernel hopper %s bn=%u threads=%u smem=%zu C=256 tab_bits=12\n", src_name[src], bn, uw_cu_hopper_threads(),
                   uw_cu_hopper_smem(src, bn, 256, 12));
            if (bn == 128) continue;
            printf("kernel generic %s bn=%u threads=%u smem=%zu C=256 tab_bits=12\n", src_name[src], bn, uw_cu_generic_threads(),
                   uw_cu_generic_smem(src, bn, 256, 12));
            printf("kernel generic-hip %s bn=%u threads=%u smem=%zu C=64 tab_bits=12\n", src_name[src], bn, uw_cu_generic_threads(),
                   uw_cu_generic_smem(src, bn, 64, 12));
        }
    for (int src = 0; src < UW_SRC_COUNT; src++)
        printf("kernel gemv %s bn=16 threads=%u smem=%zu C=256 tab_bits=12\n", src_name[src], uw_cu_gemv_threads(),
               uw_cu_gemv_smem(src, 12));
    for (int e = 0; e < 2; e++)
        printf("kernel decode %s bn=0 threads=%u smem=%zu C=256 tab_bits=12\n", e ? "exps" : "huff", uw_cu_decode_threads(),
               uw_cu_decode_smem(64, 256, 12));
}

/* ---------------------------------------------------------------- main -------------------- */

static void usage(void) {
    fprintf(stderr, "usage: bench_cuda SAMPLE.safetensors [--log FILE] [--reps N] [--batches 1,4,...] [--scale D | --small] [--save DIR]\n"
                    "       bench_cuda --load DIR [--log FILE] [--reps N] [--batches 1,4,...]\n");
}

int main(int argc, char **argv) {
    const char *sample = NULL, *logpath = NULL, *save = NULL, *load = NULL;
    int reps = 20, nb = 0;
    uint64_t batches[16], scale = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--log") && i + 1 < argc) logpath = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--small")) scale = 8;
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc) scale = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
        else if (!strcmp(argv[i], "--load") && i + 1 < argc) load = argv[++i];
        else if (!strcmp(argv[i], "--kernel-info")) {
            kernel_info();
            return 0;
        }
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) {
            for (char *t = strtok(argv[++i], ","); t && nb < 16; t = strtok(NULL, ",")) batches[nb++] = strtoull(t, NULL, 10);
        } else if (argv[i][0] != '-' && !sample) sample = argv[i];
        else {
            usage();
            return 2;
        }
    }
    if (!(sample || load) || (load && (sample || save)) || scale < 1 || scale > 64) {
        usage();
        return 2;
    }
    if (!nb) {
        static const uint64_t def[] = {1, 4, 16, 64, 256};
        for (nb = 0; nb < 5; nb++) batches[nb] = def[nb];
    }
    if (reps < 3) reps = 3;
    if (reps > 64) reps = 64;
    if (logpath) logf_ = fopen(logpath, "w");

    /* the device spec decides the resident geometry: encode with it, so upload does not re-tile */
    cu_params par;
    if (uw_cu_parse_spec(NULL, &par) != UW_OK) {
        fprintf(stderr, "bench_cuda: %s\n", uw_last_error());
        return 2;
    }
    double t0 = now_s();
    bench_set set;
    if (load ? bench_weights_load(load, &set) : bench_weights_make(sample, scale, par.tile_rows, par.tile_cols, par.lanes, &set)) return 1;
    weight *all = set.w;
    const int nw = set.n;
    say("== unweight CUDA benchmark\n");
    if (load) say("weights: %d pre-encoded in %s (%llu weights of the sample)\n", nw, load, (unsigned long long)set.sample_weights);
    else say("sample: %s (%d BF16 matrices, %llu weights); synthetic exponents from %s (entropy %.3f bits)\n", sample, nw - 2,
             (unsigned long long)set.sample_weights, set.hist_of, set.entropy);
    say("geometry: tiles %ux%u, %u lanes (UW_CUDA_DEVICE); reps %d, median; x rotates over %d buffers\n", par.tile_rows, par.tile_cols,
        par.lanes, reps, NROT);
    for (int i = 0; i < nw; i++) {
        uint64_t n = all[i].rows * all[i].cols;
        logonly("size %-46s %10llu weights: %.4f bits/weight (GPU tiles), %.4f (default tiles)\n", all[i].name, (unsigned long long)n,
                8.0 * (double)all[i].blob_bytes / (double)n, 8.0 * (double)all[i].default_bytes / (double)n);
    }
    say("%s: %.1f s\n", load ? "loading and checking the pre-encoded weights" : "synthetic weights and encoding", now_s() - t0);
    if (save) {
        if (bench_weights_save(&set, save)) return 1;
        say("saved %d encoded weights to %s (run them with bench_cuda --load %s)\n", nw, save, save);
        return 0;
    }

    uw_device *dev = NULL;
    uw_status s = uw_device_open("cuda", NULL, &dev);
    int have_gpu = s == UW_OK;
    if (!have_gpu) say("cuda: no device (%s): GPU timings NOT measured\n", uw_last_error());
    else say("device: %s\n%s\n", uw_device_name(dev), ((cu_ctx *)dev->ctx)->driver);

    /* groups for the short table: the two synthetic shapes, and the sum over the real tensors */
    enum { G = 3 };
    const char *gname[G] = {all[0].name, all[1].name, "real sample (sum)"};
    static result agg[G][16];
    double dec[G] = {0}, cpy[G] = {0}, bits_gpu[G] = {0}, bits_def[G] = {0}, nweights[G] = {0};
    int c2_total = 0, c3_total = 0;
    double c3_plain = 0, c3_blas = 0;
    for (int g = 0; g < G; g++)
        for (int b = 0; b < nb; b++)
            for (int p = 0; p < NPIPE; p++) agg[g][b].us[p] = 0;
    double dec_t[G] = {0}, cpy_t[G] = {0};
    cudaStream_t st = NULL;
    double hbm = 0;
    double res_huff[G] = {0}, res_pal[G] = {0}, res_exc[G] = {0}, res_n[G] = {0}; /* resident forms' bytes, exceptions */
    if (have_gpu) {
        CU(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
        flush_setup();
        hbm = hbm_read_gbs(st);
        logonly("HBM read: %.0f GB/s\n", hbm);
    }
    for (int i = 0; i < nw; i++) {
        weight *w = &all[i];
        int g = i < 2 ? i : 2;
        uint64_t n = w->rows * w->cols;
        bits_gpu[g] += 8.0 * (double)w->blob_bytes;
        bits_def[g] += 8.0 * (double)w->default_bytes;
        nweights[g] += (double)n;
        if (!have_gpu) continue;
        uw_weights *wt = NULL;
        double tu = now_s();
        s = uw_weights_upload(dev, w->blob, w->blob_bytes, UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt);
        if (s != UW_OK) {
            say("%s: upload failed: %s\n", w->name, uw_last_error());
            continue;
        }
        const cu_weights *cw = (const cu_weights *)wt->wh;
        logonly("%s: %llux%llu, upload %.2f s (%s)\n", w->name, (unsigned long long)w->rows, (unsigned long long)w->cols, now_s() - tu,
                cw->note);
        if (cw->huff && cw->pal) {
            res_huff[g] += (double)cw->hb.total;
            res_pal[g] += (double)cw->pb.total;
            res_exc[g] += (double)cw->pb.count;
            res_n[g] += (double)n;
        }
        double dg = 0, cg = 0;
        time_decode(wt, w, reps, st, &dg, &cg);
        logonly("  decode %.1f GB/s, device copy %.1f GB/s (BF16 bytes written)\n", dg, cg);
        if (dg > 0) {
            dec_t[g] += (double)n * 2 / dg;
            cpy_t[g] += (double)n * 2 / cg;
        }
        for (int b = 0; b < nb; b++) {
            result r;
            memset(&r, 0, sizeof r);
            uw_plan pl;
            uw_cu_plan((cu_ctx *)dev->ctx, (cu_weights *)wt->wh, batches[b], (const void *)(uintptr_t)256, &pl);
            logonly(" batch %llu: %s kernel, batch tile %u, %u-way k split; plain vs cuBLAS rel. L2 error follows\n",
                    (unsigned long long)batches[b], pl.family == UW_FAM_HOPPER ? "hopper" : "generic", pl.bn, pl.nsplit);
            run_weight(wt, w, batches[b], reps, st, &r);
            logonly("  plain vs cublas: rel. L2 %.2e\n", r.rel_plain);
            if (r.c3_worst[1] > c3_plain) c3_plain = r.c3_worst[1];
            if (r.c3_worst[0] > c3_blas) c3_blas = r.c3_worst[0];
            for (int p = 0; p < NPIPE; p++) {
                if (r.us[p] < 0 || agg[g][b].us[p] < 0) agg[g][b].us[p] = -1;
                else agg[g][b].us[p] += r.us[p];
                agg[g][b].c2_bad[p] |= r.c2_bad[p];
                c2_total += r.c2_bad[p];
                c3_total += r.c3_bad[p];
            }
        }
        uw_weights_free(wt);
    }
    for (int g = 0; g < G; g++) {
        if (dec_t[g] > 0) {
            dec[g] = nweights[g] * 2 / dec_t[g];
            cpy[g] = nweights[g] * 2 / cpy_t[g];
        }
    }

    /* ---- the short table, last */
    say("\n== summary (%s)\n", have_gpu ? uw_device_name(dev) : "no GPU: sizes only");
    say("bits/weight (resident Huffman blob, GPU tiles; default tiles in brackets):\n");
    for (int g = 0; g < G; g++)
        say("  %-22s %7.4f  (%7.4f)\n", gname[g], bits_gpu[g] / nweights[g], bits_def[g] / nweights[g]);
    if (have_gpu) {
        const uw_perf_gpu *pg = NULL; /* the model's figures for this GPU (bench/perf_model.h) */
        for (size_t k = 0; k < sizeof uw_perf_gpus / sizeof uw_perf_gpus[0]; k++)
            if (strstr(uw_device_name(dev), uw_perf_gpus[k].gpu)) pg = &uw_perf_gpus[k];
        say("resident forms the matmuls read, bits/weight (the model: Huffman %.2f, palette IR %.2f at %g%% exceptions):\n",
            UW_PERF_HUFF_BITS, UW_PERF_PAL_BITS, 100 * UW_PERF_EXC_RATE);
        for (int g = 0; g < G; g++)
            if (res_n[g] > 0)
                say("  %-22s Huffman %7.4f, palette IR %7.4f (%.3f%% exceptions)\n", gname[g], 8 * res_huff[g] / res_n[g],
                    8 * res_pal[g] / res_n[g], 100 * res_exc[g] / res_n[g]);
        say("HBM read (reads of 4x and 2x the L2, the difference): %.0f GB/s", hbm);
        if (pg) say(", %.2f of the datasheet's %.0f (the model assumes %.2f)", hbm / pg->hbm_gbs, pg->hbm_gbs, pg->eff);
        say("\n");
        say("decode to BF16 in device memory, GB/s written (device-to-device copy of the same bytes):\n");
        for (int g = 0; g < G; g++) say("  %-22s %8.1f  (copy %8.1f, %3.0f%%)\n", gname[g], dec[g], cpy[g], cpy[g] > 0 ? 100 * dec[g] / cpy[g] : 0);
        say("matmul time, us (median of %d; batch x weights, same run, same stream); x = vs cublas; under each synthetic\n"
            "row the performance model's prediction (design %d of docs/PERFORMANCE.md, bench/perf_model.h) and the time\n"
            "over each pipeline's floor (the bytes it must move at the HBM read rate above)\n", reps,
            UW_PERF_MODEL_DESIGN);
        say("%-22s %5s", "weights", "batch");
        for (int p = 0; p < NPIPE; p++) say(" %9s", short_name[p]);
        say(" %8s\n", "fused x");
        for (int g = 0; g < G; g++)
            for (int b = 0; b < nb; b++) {
                result *r = &agg[g][b];
                say("%-22s %5llu", gname[g], (unsigned long long)batches[b]);
                for (int p = 0; p < NPIPE; p++) {
                    if (r->us[p] < 0) say(" %9s", "-");
                    else say(" %8.1f%s", r->us[p], r->c2_bad[p] ? "!" : " ");
                }
                say(" %8.2f\n", r->us[0] > 0 && r->us[2] > 0 ? r->us[0] / r->us[2] : 0.0);
                double pr[NPIPE];
                int any = 0;
                if (g < 2) /* the model's prediction for the synthetic shapes, beside the measurement */
                    for (int p = 0; p < NPIPE; p++) any |= (pr[p] = predicted_us(uw_device_name(dev), all[g].rows, all[g].cols, batches[b], pipes[p])) > 0;
                if (any) {
                    say("%-22s %5s", "  model (PERFORMANCE.md)", "");
                    for (int p = 0; p < NPIPE; p++) {
                        if (pr[p] < 0) say(" %9s", "-");
                        else say(" %8.1f ", pr[p]);
                    }
                    say(" %8.2f\n", pr[0] > 0 && pr[2] > 0 ? pr[0] / pr[2] : 0.0);
                }
                if (g < 2 && hbm > 0 && res_n[g] > 0) {
                    /* time beyond the pipeline's floor: the bytes it must read (W's resident form,
                     * x) and write (y, fp32), all at this run's HBM read rate: its fixed cost
                     * (launch, ramp, tail, the sums) plus any shortfall from streaming at that
                     * rate (the GEMV family's patch lists and lane starts, ~0.01 byte/weight, are
                     * not in the floor); "-" where the pipeline also writes and re-reads an
                     * intermediate form */
                    const double xy = (double)batches[b] * ((double)all[g].cols * 2 + (double)all[g].rows * 4);
                    const double need[NPIPE] = {2 * res_n[g] + xy, 2 * res_n[g] + xy, res_huff[g] + xy, res_pal[g] + xy, -1, -1, -1};
                    say("%-22s %5s", "  over the HBM floor", "");
                    for (int p = 0; p < NPIPE; p++) {
                        if (need[p] < 0 || r->us[p] < 0) say(" %9s", "-");
                        else say(" %8.1f ", r->us[p] - need[p] / (hbm * 1e3));
                    }
                    say("\n");
                }
            }
        say("C1 (device decode bit-identical to the original, every weight): %s\n", c1_bad ? "FAILED" : "ok");
        say("C2 (every pipeline bit-identical to its reference, '!' marks a mismatch): %s\n", c2_total ? "FAILED" : "ok");
        say("C3 (float64 reference, tensor-core bound of tests/uw_c3.h, sampled rows): %s; worst error/bound: plain %.3g, "
            "cublas %.3g (not ours, for comparison)\n", c3_total ? "FAILED" : "ok", c3_plain, c3_blas);
        cudaFree(flush_buf);
        cudaFree(flush_sink);
        uw_device_close(dev);
    }
    if (logf_) fclose(logf_);
    if (!have_gpu) return 77;
    return c1_bad || c2_total || c3_total ? 1 : 0;
}
