/* bench_cpu_mm.c - the CPU matmul benchmark (bench/cpu-matmul.sh runs it): every pipeline,
 * plain-bf16, the machine's read bandwidth and, through a helper process (--torch CMD), PyTorch
 * F.linear on bf16, interleaved matrix by matrix over several distinct weights (a working set
 * larger than the L3), per batch size and thread count. Prints a table and writes JSON.
 *
 * usage: bench_cpu_mm [--shapes 14336x4096,4096x14336] [--count 4] [--batch 1,4,16,64,256]
 *                     [--threads 1,2] [--reps 3] [--gemma MODEL.safetensors] [--torch CMD]
 *                     [--json OUT.json]
 * UW_BENCH_TRACE=1 prints every timed call to stderr (to see a bimodal, contended machine). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unweight.h"

#define MAXW 128
#define NV 4 /* variants: plain, palette-direct, fused-huffman, torch */
static const char *const vname[NV] = {"plain-bf16", "palette-direct", "fused-huffman", "torch-bf16"};
static const uw_pipeline vpipe[3] = {UW_PIPELINE_PLAIN_BF16, UW_PIPELINE_PALETTE_DIRECT, UW_PIPELINE_FUSED_HUFFMAN};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}
static uint16_t bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
static void fill_normal(uint16_t *w, uint64_t n, double sd) {
    for (uint64_t i = 0; i < n; i += 2) {
        double u1 = ((double)(rnd() >> 11) + 1) / 9007199254740993.0, u2 = (double)(rnd() >> 11) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1)) * sd;
        w[i] = bf16((float)(r * cos(6.283185307179586 * u2)));
        if (i + 1 < n) w[i + 1] = bf16((float)(r * sin(6.283185307179586 * u2)));
    }
}

/* ---- read bandwidth: T threads summing disjoint parts of a 512 MiB buffer (far larger than the
 * L3) with 256-bit loads and the kernels' software prefetch, 1 KiB ahead. Each thread times its
 * part in rounds of one 16 MiB chunk per thread (all start together, the round ends when all are
 * done) and the median round counts: a round that lost a CPU to another process (the machine is
 * shared) is an outlier, as a preempted matmul step is. ---- */
static uint64_t *rbuf;
static size_t rwords;
#define RD_CHUNK ((size_t)1 << 21) /* uint64 words: 16 MiB */
#define RD_MAXCH 64
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t rd_avx2(const uint64_t *p, size_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 16) {
        _mm_prefetch((const char *)(p + i) + 1024, _MM_HINT_T0);
        _mm_prefetch((const char *)(p + i) + 1088, _MM_HINT_T0);
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(p + i + 4)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(p + i + 8)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(p + i + 12)));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t v[4];
    _mm256_storeu_si256((__m256i *)v, s0);
    return v[0] + v[1] + v[2] + v[3];
}
#endif
static uint64_t rd_sum(const uint64_t *q, size_t n) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) return rd_avx2(q, n);
#endif
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n; i += 4) s0 += q[i], s1 += q[i + 1], s2 += q[i + 2], s3 += q[i + 3];
    return s0 + s1 + s2 + s3;
}
typedef struct rd_job { size_t a; int rounds; uint64_t s; pthread_barrier_t *bar; double *t; } rd_job;
/* round r: every thread reads its chunk r, then all meet at the barrier; thread 0 times rounds */
static void *rd_thread(void *p) {
    rd_job *j = p;
    for (int r = 0; r < j->rounds; r++) {
        pthread_barrier_wait(j->bar);
        double t0 = now_s();
        j->s += rd_sum(rbuf + j->a + (size_t)r * RD_CHUNK, RD_CHUNK);
        pthread_barrier_wait(j->bar);
        if (j->t) j->t[r] = now_s() - t0;
    }
    return NULL;
}
static int cmp_d(const void *a, const void *b);
static double read_gbs(int T) {
    pthread_t th[8];
    rd_job j[8];
    double t[RD_MAXCH];
    pthread_barrier_t bar;
    int rounds = (int)(rwords / RD_CHUNK / (size_t)T);
    if (rounds > RD_MAXCH) rounds = RD_MAXCH;
    pthread_barrier_init(&bar, NULL, (unsigned)T);
    for (int i = 0; i < T; i++) {
        j[i] = (rd_job){(size_t)i * (size_t)rounds * RD_CHUNK, rounds, 0, &bar, i ? NULL : t};
        if (i) pthread_create(&th[i], NULL, rd_thread, &j[i]);
    }
    rd_thread(&j[0]);
    uint64_t s = j[0].s;
    for (int i = 1; i < T; i++) pthread_join(th[i], NULL), s += j[i].s;
    pthread_barrier_destroy(&bar);
    if (s == 42) fprintf(stderr, " ");
    qsort(t, (size_t)rounds, sizeof(double), cmp_d);
    return (double)T * RD_CHUNK * 8 / t[rounds / 2] / 1e9;
}

/* ---- the PyTorch helper: one line per request, one line back ---- */
static FILE *tq_in, *tq_out;
static int torch_start(const char *cmd) {
    int a[2], b[2];
    if (pipe(a) || pipe(b)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (!pid) {
        dup2(a[0], 0), dup2(b[1], 1);
        close(a[1]), close(b[0]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(a[0]), close(b[1]);
    tq_in = fdopen(a[1], "w"), tq_out = fdopen(b[0], "r");
    return 0;
}
static double torch_ask(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static double torch_ask(const char *fmt, ...) {
    if (!tq_in) return -1;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(tq_in, fmt, ap);
    va_end(ap);
    fputc('\n', tq_in);
    fflush(tq_in);
    char line[256];
    if (!fgets(line, sizeof line, tq_out)) {
        fprintf(stderr, "bench: the torch helper stopped answering; continuing without it\n");
        tq_in = NULL;
        return -1;
    }
    return atof(line);
}

typedef struct wset {
    char name[64];
    int n;
    uint64_t rows[MAXW], cols[MAXW];
    uint16_t *w[MAXW];
    uint8_t *blob[MAXW];
    size_t blob_size[MAXW];
    int torch_ok;
} wset;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static FILE *jf;
static int jfirst = 1;

static void run_set(wset *S, int T, const uint64_t *batches, int nbatch, int reps) {
    uw_device *d;
    char spec[32];
    snprintf(spec, sizeof spec, "threads=%d", T);
    if (uw_device_open("cpu", spec, &d)) { fprintf(stderr, "open: %s\n", uw_last_error()); exit(2); }
    uw_weights *wt[MAXW];
    double bytes[3] = {0}; /* resident bytes of the whole set per form */
    for (int i = 0; i < S->n; i++) {
        if (uw_weights_upload(d, S->blob[i], S->blob_size[i], UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE | UW_RESIDENT_BF16, &wt[i])) {
            fprintf(stderr, "upload: %s\n", uw_last_error());
            exit(2);
        }
        uw_blob_info bi;
        uw_blob_inspect(S->blob[i], S->blob_size[i], &bi);
        double n = (double)(S->rows[i] * S->cols[i]);
        bytes[0] += 2 * n;
        bytes[1] += 1.5 * n; /* palette form: nibble + plane byte (exceptions not counted) */
        bytes[2] += (double)S->blob_size[i];
    }
    uint64_t maxc = 0, maxr = 0;
    for (int i = 0; i < S->n; i++) maxc = S->cols[i] > maxc ? S->cols[i] : maxc, maxr = S->rows[i] > maxr ? S->rows[i] : maxr;
    printf("\n## %s, %d thread%s (%s)\n\n", S->name, T, T > 1 ? "s" : "", uw_device_name(d));
    printf("| batch | read GB/s | variant | ms per matrix | GB/s of weights | of read bw | vs plain | vs torch |\n");
    printf("|---:|---:|---|---:|---:|---:|---:|---:|\n");
    for (int bi = 0; bi < nbatch; bi++) {
        uint64_t B = batches[bi];
        uint16_t *x = malloc(B * maxc * 2);
        float *y = malloc(B * maxr * 4);
        fill_normal(x, B * maxc, 1.0);
        int steps = reps * S->n;
        double *t[NV], *rplain[NV], *rtorch[NV], *bw = malloc(sizeof(double) * (size_t)steps);
        for (int v = 0; v < NV; v++) {
            t[v] = calloc((size_t)steps, sizeof(double));
            rplain[v] = calloc((size_t)steps, sizeof(double));
            rtorch[v] = calloc((size_t)steps, sizeof(double));
        }
        int have_torch = S->torch_ok && tq_in;
        for (int v = 0; v < 3; v++) /* warm-up: pools awake, scratch grown */
            if (uw_weights_matmul(wt[0], vpipe[v], x, y, B)) { fprintf(stderr, "matmul: %s\n", uw_last_error()); exit(2); }
        if (have_torch) torch_ask("run %s 0 %llu %d", S->name, (unsigned long long)B, T);
        for (int s = 0; s < steps; s++) {
            int i = s % S->n;
            bw[s] = read_gbs(T);
            for (int k = 0; k < NV; k++) {
                int v = (k + s) % NV; /* rotate the order so none always follows the bandwidth read */
                if (v == 3) {
                    t[3][s] = have_torch ? torch_ask("run %s %d %llu %d", S->name, i, (unsigned long long)B, T) * 1e-6 : 0;
                    continue;
                }
                double t0 = now_s();
                if (uw_weights_matmul(wt[i], vpipe[v], x, y, B)) { fprintf(stderr, "matmul: %s\n", uw_last_error()); exit(2); }
                t[v][s] = now_s() - t0;
                if (getenv("UW_BENCH_TRACE")) fprintf(stderr, "step %d matrix %d %s %.3f ms\n", s, i, vname[v], t[v][s] * 1e3);
            }
            for (int v = 0; v < NV; v++) {
                rplain[v][s] = t[0][s] / t[v][s];
                rtorch[v][s] = have_torch && t[3][s] > 0 ? t[3][s] / t[v][s] : 0;
            }
        }
        double mbw = median(bw, steps);
        if (!jfirst) fprintf(jf, ",\n");
        jfirst = 0;
        fprintf(jf, "  {\"set\": \"%s\", \"threads\": %d, \"batch\": %llu, \"read_gbs\": %.3f, \"variants\": {", S->name, T,
                (unsigned long long)B, mbw);
        for (int v = 0; v < NV; v++) {
            if (v == 3 && !have_torch) continue;
            double per = median(t[v], steps); /* median per matrix: a preempted step is an outlier */
            double by = v == 3 ? bytes[0] : bytes[v];
            double gbs = by / S->n / per / 1e9;
            double vp = median(rplain[v], steps), vt = have_torch ? median(rtorch[v], steps) : 0;
            printf("| %llu | %.1f | %s | %.3f | %.2f | %.0f%% | %.2fx | %s%.2fx |\n", (unsigned long long)B, mbw, vname[v], per * 1e3, gbs,
                   100 * gbs / mbw, vp, have_torch ? "" : "(no torch) ", vt);
            fprintf(jf, "%s\"%s\": {\"ms\": %.4f, \"gbs\": %.3f, \"frac_bw\": %.4f, \"vs_plain\": %.4f, \"vs_torch\": %.4f, \"bytes\": %.0f}",
                    v ? ", " : "", vname[v], per * 1e3, gbs, gbs / mbw, vp, vt, by / S->n);
        }
        fprintf(jf, "}}");
        fflush(stdout);
        for (int v = 0; v < NV; v++) free(t[v]), free(rplain[v]), free(rtorch[v]);
        free(bw), free(x), free(y);
    }
    for (int i = 0; i < S->n; i++) uw_weights_free(wt[i]);
    uw_device_close(d);
}

static void encode_set(wset *S) {
    uw_encode_params p;
    uw_encode_params_default(&p);
    for (int i = 0; i < S->n; i++)
        if (uw_tensor_encode(S->w[i], S->rows[i], S->cols[i], &p, &S->blob[i], &S->blob_size[i])) {
            fprintf(stderr, "encode: %s\n", uw_last_error());
            exit(2);
        }
}

/* the gate/up/down_proj weights of every layer of a real model */
static int load_gemma(wset *S, const char *path) {
    uw_file *f;
    if (uw_file_open(path, &f)) { fprintf(stderr, "bench: %s: %s (skipping the real weights)\n", path, uw_last_error()); return 0; }
    snprintf(S->name, sizeof S->name, "gemma-mlp");
    S->n = 0;
    char list[8192] = "";
    for (size_t i = 0; i < uw_file_tensor_count(f) && S->n < MAXW; i++) {
        uw_tensor_info t;
        uw_file_tensor_info(f, i, &t);
        if (strcmp(t.dtype, "BF16") || t.ndim != 2 || !(strstr(t.name, "gate_proj") || strstr(t.name, "up_proj") || strstr(t.name, "down_proj")))
            continue;
        S->rows[S->n] = t.shape[0], S->cols[S->n] = t.shape[1];
        S->w[S->n] = malloc(t.orig_bytes);
        if (uw_file_decode(f, i, S->w[S->n], t.orig_bytes, 0)) { fprintf(stderr, "decode: %s\n", uw_last_error()); exit(2); }
        if (strlen(list) + strlen(t.name) + 2 < sizeof list) strcat(list, " "), strcat(list, t.name);
        S->n++;
    }
    uw_file_close(f);
    encode_set(S);
    if (tq_in) S->torch_ok = torch_ask("load %s %s%s", S->name, path, list) >= 0;
    return S->n > 0;
}

static int parse_list(char *s, uint64_t *v, int max) {
    int n = 0;
    for (char *t = strtok(s, ","); t && n < max; t = strtok(NULL, ",")) v[n++] = strtoull(t, NULL, 10);
    return n;
}

int main(int argc, char **argv) {
    char shapes[256] = "14336x4096,4096x14336", bstr[128] = "1,4,16,64,256", tstr[32] = "1,2";
    const char *gemma = NULL, *torch = NULL, *json = "cpu-matmul.json";
    int count = 4, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shapes") && i + 1 < argc) snprintf(shapes, sizeof shapes, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) snprintf(bstr, sizeof bstr, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) snprintf(tstr, sizeof tstr, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gemma") && i + 1 < argc) gemma = argv[++i];
        else if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else { fprintf(stderr, "usage: see the top of bench/bench_cpu_mm.c\n"); return 1; }
    }
    if (count < 1 || count > MAXW || reps < 1) return 1;
    uint64_t batches[16], threads[8];
    int nb = parse_list(bstr, batches, 16), nt = parse_list(tstr, threads, 8);
    rwords = (size_t)512 << 17; /* 512 MiB */
    rbuf = aligned_alloc(64, rwords * 8);
    for (size_t i = 0; i < rwords; i++) rbuf[i] = i;
    if (torch && torch_start(torch)) fprintf(stderr, "bench: cannot start %s\n", torch);
    if (torch && torch_ask("hello") < 0) fprintf(stderr, "bench: no PyTorch helper (%s): PyTorch columns left out\n", torch);
    jf = fopen(json, "w");
    if (!jf) { perror(json); return 3; }
    fprintf(jf, "{\"runs\": [\n");
    printf("# CPU matmul: every pipeline vs plain-bf16 vs PyTorch, interleaved matrix by matrix\n");
    static wset sets[8];
    int ns = 0;
    for (char *t = strtok(shapes, ","); t && ns < 7; t = strtok(NULL, ",")) {
        wset *S = &sets[ns++];
        uint64_t r = strtoull(t, NULL, 10), c = strtoull(strchr(t, 'x') + 1, NULL, 10);
        snprintf(S->name, sizeof S->name, "%llux%llu", (unsigned long long)r, (unsigned long long)c);
        S->n = count;
        for (int i = 0; i < count; i++) {
            S->rows[i] = r, S->cols[i] = c;
            S->w[i] = malloc(r * c * 2);
            fill_normal(S->w[i], r * c, 0.02);
        }
        encode_set(S);
        for (int i = 0; i < count; i++) free(S->w[i]), S->w[i] = NULL;
        if (tq_in) S->torch_ok = torch_ask("gen %s %llu %llu %d", S->name, (unsigned long long)r, (unsigned long long)c, count) >= 0;
    }
    if (gemma && load_gemma(&sets[ns], gemma)) ns++;
    for (int s = 0; s < ns; s++)
        for (int ti = 0; ti < nt; ti++) run_set(&sets[s], (int)threads[ti], batches, nb, reps);
    fprintf(jf, "\n]}\n");
    fclose(jf);
    if (tq_in) fprintf(tq_in, "quit\n"), fflush(tq_in);
    return 0;
}
