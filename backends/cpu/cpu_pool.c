/* cpu_pool.c - persistent worker threads of one CPU device: started at open, they spin briefly
 * after each job (back-to-back matmuls find them awake) and then sleep on a condition variable.
 * One job at a time; a caller that finds the pool busy runs its job alone (results do not depend
 * on the thread count), so several application threads may share a device.
 *
 * A worker takes part in a job only if it joins before the caller has run out of tasks: the
 * caller then closes the job and waits for the workers that joined, never for one still waking
 * up (waking a sleeping thread costs ~0.2 ms on a VM, more than a small matmul: a model's layers
 * called between other work would otherwise each pay it). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu_mm.h"

#define POOL_MAX 256
#define SPIN_NS 30000 /* how long an idle worker polls before sleeping */

struct uw_pool {
    int n; /* threads including the caller */
    pthread_t tid[POOL_MAX];
    pthread_mutex_t run_mu; /* held by the caller whose job the pool runs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t gen;
    atomic_int stop;
    /* the job of generation gen (written before gen moves, read by the workers after) */
    uw_task_fn fn;
    void *ctx;
    uint64_t ntasks;
    int jthreads;
    atomic_uint_fast64_t next;
    atomic_int done; /* workers that joined this generation and finished */
    /* this generation's admission: bits 33.. the generation (low 31 bits), bit 32 closed, bits
     * 0..31 the workers that joined */
    atomic_uint_fast64_t ticket;
    atomic_int err;
    char msg[1024];
    pthread_mutex_t emu;
};

typedef struct worker_arg {
    uw_pool *p;
    int id;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void work(uw_pool *p, int id) {
    for (;;) {
        uint64_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->ntasks) break;
        uw_status s = p->fn(p->ctx, i, id);
        if (s != UW_OK) {
            pthread_mutex_lock(&p->emu);
            if (!atomic_load(&p->err)) {
                snprintf(p->msg, sizeof p->msg, "%s", uw_last_error());
                atomic_store(&p->err, (int)s);
            }
            pthread_mutex_unlock(&p->emu);
            atomic_store(&p->next, p->ntasks); /* stop handing out work */
        }
    }
}

#define T_CLOSED ((uint64_t)1 << 32)
static inline uint64_t ticket_open(uint64_t g) { return (g & 0x7FFFFFFFu) << 33; }

/* Join generation g while it is open (the caller has not run out of tasks). Until the workers
 * that joined are done the caller cannot start another job, so the job's fields (fn, ctx,
 * ntasks, jthreads) may be read only after joining. */
static int join(uw_pool *p, uint64_t g) {
    uint64_t t = atomic_load(&p->ticket);
    while ((t >> 33) == (g & 0x7FFFFFFFu) && !(t & T_CLOSED))
        if (atomic_compare_exchange_weak(&p->ticket, &t, t + 1)) return 1;
    return 0;
}

static void *worker(void *v) {
    worker_arg *a = v;
    uw_pool *p = a->p;
    int id = a->id;
    free(a);
    uint64_t seen = 0;
    for (;;) {
        uint64_t t0 = now_ns(), g;
        for (unsigned k = 1;; k++) {
            g = atomic_load(&p->gen);
            if (g != seen || atomic_load(&p->stop)) break;
            cpu_relax();
            if (!(k & 63) && now_ns() - t0 > SPIN_NS) {
                pthread_mutex_lock(&p->mu);
                while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
                pthread_mutex_unlock(&p->mu);
                break;
            }
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        if (!join(p, g)) continue; /* the caller finished without us */
        if (id < p->jthreads) work(p, id);
        atomic_fetch_add(&p->done, 1);
    }
}

uw_status uw_pool_create(int threads, uw_pool **out) {
    threads = uw_threads_resolve(threads);
    if (threads > POOL_MAX) threads = POOL_MAX;
    uw_pool *p = calloc(1, sizeof *p);
    UW_RETURN_ERROR_IF(!p, UW_ERR_NOMEM, "thread pool: out of memory");
    pthread_mutex_init(&p->run_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->emu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->n = 1;
    for (int i = 1; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->p = p, a->id = i;
        if (pthread_create(&p->tid[i], NULL, worker, a)) {
            free(a);
            break;
        }
        p->n = i + 1;
    }
    *out = p;
    return UW_OK;
}

void uw_pool_destroy(uw_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->run_mu);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->emu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int uw_pool_threads(const uw_pool *p) { return p ? p->n : 1; }

uw_status uw_pool_run(uw_pool *p, int threads, uint64_t n, uw_task_fn fn, void *ctx) {
    if (!p || threads <= 1 || n <= 1 || p->n <= 1 || pthread_mutex_trylock(&p->run_mu)) {
        for (uint64_t i = 0; i < n; i++) UW_FORWARD_IF_ERROR(fn(ctx, i, 0));
        return UW_OK;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = n;
    p->jthreads = threads < p->n ? threads : p->n;
    atomic_store(&p->next, 0);
    atomic_store(&p->done, 0);
    atomic_store(&p->err, 0);
    uint64_t g = atomic_load(&p->gen) + 1;
    atomic_store(&p->ticket, ticket_open(g)); /* before the generation moves: workers join it */
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->gen, g);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    /* no task left to hand out: close the job to late workers, wait for those that joined */
    int joined = (int)(atomic_fetch_or(&p->ticket, T_CLOSED) & 0xFFFFFFFFu);
    for (unsigned k = 1; atomic_load(&p->done) < joined; k++) {
        cpu_relax();
        if (!(k & 1023)) sched_yield(); /* a descheduled worker: let it run */
    }
    int e = atomic_load(&p->err);
    uw_status s = e ? uw_error_set((uw_status)e, "%s", p->msg) : UW_OK;
    pthread_mutex_unlock(&p->run_mu);
    return s;
}
