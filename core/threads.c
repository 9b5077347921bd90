/* threads.c - uw_parallel_for over a persistent pool of worker threads (started on first need,
 * then reused: the encoder and decoder run several short passes per tensor, and starting threads
 * for each cost more than a small tensor's pass). A worker that runs out of work watches for the
 * next job a little while before it sleeps, and a caller watches its helpers finish the same way:
 * waking a sleeping thread takes tens of microseconds, the length of a whole pass over a small
 * tensor. Dynamic scheduling; the caller works on its own
 * job too, so a job completes even when every worker is busy with another application thread's. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "uw_internal.h"

int uw_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int uw_threads_resolve(int threads) {
    if (threads <= 0) threads = uw_cpu_count();
    return threads > 256 ? 256 : threads;
}

typedef struct job {
    uw_task_fn fn;
    void *ctx;
    uint64_t n;
    atomic_uint_fast64_t next; /* next index to hand out */
    int want;                  /* helpers it may still take */
    int joined;                /* helpers that joined (their worker numbers are 1..joined) */
    int active;                /* helpers inside it now (changed under the pool lock, atomically: the
                                * caller watches it without the lock) */
    atomic_int first_err;
    char err_msg[1024];
    pthread_mutex_t err_mu;
    struct job *qnext;         /* the pool's queue of jobs wanting helpers */
} job;

#define MAX_WORKERS 255
static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    job *queue;
    int workers, stop;
    pthread_t tid[MAX_WORKERS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, {0}};

static void run(job *j, int worker) {
    for (;;) {
        uint64_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        uw_status s = j->fn(j->ctx, i, worker);
        if (s != UW_OK) {
            int expect = 0;
            pthread_mutex_lock(&j->err_mu);
            if (atomic_compare_exchange_strong(&j->first_err, &expect, (int)s))
                strncpy(j->err_msg, uw_last_error(), sizeof j->err_msg - 1);
            pthread_mutex_unlock(&j->err_mu);
            atomic_store(&j->next, j->n); /* stop handing out work */
        }
    }
}

/* unlink j from the queue (under the pool lock) */
static void dequeue(job *j) {
    for (job **q = &pool.queue; *q; q = &(*q)->qnext)
        if (*q == j) {
            __atomic_store_n(q, j->qnext, __ATOMIC_RELAXED);
            return;
        }
}

/* how long an idle worker watches for work before it sleeps (pause instructions, ~0.1-0.3 ms) */
#define SPIN 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        if (!__atomic_load_n(&pool.queue, __ATOMIC_RELAXED)) {
            pthread_mutex_unlock(&pool.mu);
            for (int i = 0; i < SPIN && !__atomic_load_n(&pool.queue, __ATOMIC_RELAXED); i++) cpu_relax();
            pthread_mutex_lock(&pool.mu);
        }
        while (!__atomic_load_n(&pool.queue, __ATOMIC_RELAXED) && !pool.stop) pthread_cond_wait(&pool.work, &pool.mu);
        if (pool.stop) break;
        job *j = pool.queue;
        int me = ++j->joined;
        __atomic_add_fetch(&j->active, 1, __ATOMIC_RELAXED);
        if (--j->want == 0) dequeue(j);
        pthread_mutex_unlock(&pool.mu);
        run(j, me);
        pthread_mutex_lock(&pool.mu);
        if (__atomic_sub_fetch(&j->active, 1, __ATOMIC_RELEASE) == 0) pthread_cond_broadcast(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* At exit (or when a shared library is unloaded) the workers end and are joined: nothing of
 * theirs outlives the library. */
__attribute__((destructor)) static void pool_stop(void) {
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.work);
    int n = pool.workers;
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < n; i++) pthread_join(pool.tid[i], NULL);
}

uw_status uw_parallel_for(uint64_t n, int threads, uw_task_fn fn, void *ctx) {
    threads = uw_threads_resolve(threads);
    if ((uint64_t)threads > n) threads = (int)(n ? n : 1);
    if (threads <= 1) {
        for (uint64_t i = 0; i < n; i++) UW_FORWARD_IF_ERROR(fn(ctx, i, 0));
        return UW_OK;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.fn = fn;
    j.ctx = ctx;
    j.n = n;
    atomic_init(&j.next, 0);
    atomic_init(&j.first_err, 0);
    pthread_mutex_init(&j.err_mu, NULL);
    j.want = threads - 1;
    pthread_mutex_lock(&pool.mu);
    while (pool.workers < threads - 1 && pool.workers < MAX_WORKERS && !pool.stop) { /* grow the pool to what this job may use */
        if (pthread_create(&pool.tid[pool.workers], NULL, worker_main, NULL)) break; /* fewer helpers: the caller still finishes */
        pool.workers++;
    }
    j.qnext = pool.queue;
    __atomic_store_n(&pool.queue, &j, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    run(&j, 0);
    pthread_mutex_lock(&pool.mu);
    if (j.want > 0) dequeue(&j); /* no helper joins from here on */
    pthread_mutex_unlock(&pool.mu);
    /* the helpers still in it are on their last tasks: watch them finish (being woken from a
     * sleep would add tens of microseconds to every pass) before sleeping on it */
    for (int i = 0; i < SPIN && __atomic_load_n(&j.active, __ATOMIC_ACQUIRE) > 0; i++) cpu_relax();
    pthread_mutex_lock(&pool.mu);
    while (__atomic_load_n(&j.active, __ATOMIC_ACQUIRE) > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_destroy(&j.err_mu);
    int e = atomic_load(&j.first_err);
    if (e) return uw_error_set((uw_status)e, "%s", j.err_msg);
    return UW_OK;
}
