/* threads.c - a minimal parallel-for over pthreads with dynamic scheduling; the encoder
 * spreads tiles and tensors with it, the CPU decoder tiles. */
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

typedef struct pf_state {
    atomic_uint_fast64_t next;
    uint64_t n;
    uw_task_fn fn;
    void *ctx;
    atomic_int first_err;
    char err_msg[1024];
    pthread_mutex_t mu;
} pf_state;

typedef struct pf_arg {
    pf_state *st;
    int worker;
} pf_arg;

static void *pf_worker(void *p) {
    pf_arg *a = p;
    pf_state *st = a->st;
    for (;;) {
        uint64_t i = atomic_fetch_add(&st->next, 1);
        if (i >= st->n) break;
        uw_status s = st->fn(st->ctx, i, a->worker);
        if (s != UW_OK) {
            int expect = 0;
            pthread_mutex_lock(&st->mu);
            if (atomic_compare_exchange_strong(&st->first_err, &expect, (int)s))
                strncpy(st->err_msg, uw_last_error(), sizeof st->err_msg - 1);
            pthread_mutex_unlock(&st->mu);
            atomic_store(&st->next, st->n); /* stop handing out work */
        }
    }
    return NULL;
}

uw_status uw_parallel_for(uint64_t n, int threads, uw_task_fn fn, void *ctx) {
    threads = uw_threads_resolve(threads);
    if ((uint64_t)threads > n) threads = (int)(n ? n : 1);
    if (threads <= 1) {
        for (uint64_t i = 0; i < n; i++) UW_FORWARD_IF_ERROR(fn(ctx, i, 0));
        return UW_OK;
    }
    pf_state st;
    atomic_init(&st.next, 0);
    atomic_init(&st.first_err, 0);
    st.n = n;
    st.fn = fn;
    st.ctx = ctx;
    st.err_msg[0] = 0;
    pthread_mutex_init(&st.mu, NULL);
    pthread_t tid[256];
    pf_arg args[256];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        args[t].st = &st;
        args[t].worker = t;
        if (pthread_create(&tid[t], NULL, pf_worker, &args[t]) != 0) break;
        started = t;
    }
    args[0].st = &st;
    args[0].worker = 0;
    pf_worker(&args[0]);
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&st.mu);
    int e = atomic_load(&st.first_err);
    if (e) return uw_error_set((uw_status)e, "%s", st.err_msg);
    return UW_OK;
}
