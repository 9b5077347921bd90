/* hash.c - uw_hash64 and the streaming uw_hash_* calls: the XXH3-64 every checksum of the library
 * uses (FORMAT.md section 4), with libxxhash's run-time CPU dispatch where the installed library
 * offers it (AVX2/AVX-512: one-shot and streaming alike; the digest does not depend on it). */
#include <pthread.h>
#include <stdlib.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "uw_internal.h"

#ifdef UW_HAVE_XXH_DISPATCH
uint64_t XXH3_64bits_dispatch(const void *input, size_t len);
XXH_errorcode XXH3_64bits_update_dispatch(XXH3_state_t *state, const void *input, size_t len);
uint64_t uw_hash64(const void *p, size_t n) { return XXH3_64bits_dispatch(p, n); }
#define UW_XXH_UPDATE XXH3_64bits_update_dispatch
#else
uint64_t uw_hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }
#define UW_XXH_UPDATE XXH3_64bits_update
#endif

uint64_t uw_hash64_2(const void *a, size_t na, const void *b, size_t nb) {
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    UW_XXH_UPDATE(&st, a, na);
    UW_XXH_UPDATE(&st, b, nb);
    return XXH3_64bits_digest(&st);
}

/* the library's state (XXH3_createState aligns it as XXH3 wants) behind our own name */
uw_hash_state *uw_hash_state_new(void) {
    XXH3_state_t *st = XXH3_createState();
    if (st) XXH3_64bits_reset(st);
    return (uw_hash_state *)st;
}

void uw_hash_update(uw_hash_state *h, const void *p, size_t n) { UW_XXH_UPDATE((XXH3_state_t *)h, p, n); }

uint64_t uw_hash_digest(uw_hash_state *h) {
    uint64_t d = XXH3_64bits_digest((XXH3_state_t *)h);
    XXH3_freeState((XXH3_state_t *)h);
    return d;
}

uw_status uw_ordered_hash_init(uw_ordered_hash *o, uw_hash_state *h, uint64_t n, uw_piece_fn piece, void *ctx) {
    memset(o, 0, sizeof *o);
    if (!h) return UW_OK;
    o->mu = malloc(sizeof(pthread_mutex_t));
    o->done = calloc(n ? n : 1, 1);
    if (!o->mu || !o->done) {
        free(o->mu);
        free(o->done);
        o->mu = NULL;
        o->done = NULL;
        return uw_error_set(UW_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(o->mu, NULL);
    o->h = h;
    o->n = n;
    o->piece = piece;
    o->ctx = ctx;
    return UW_OK;
}

void uw_ordered_hash_done(uw_ordered_hash *o, uint64_t i) {
    if (!o->h) return;
    pthread_mutex_lock(o->mu);
    o->done[i] = 1;
    if (o->busy) { /* the thread hashing now will reach it */
        pthread_mutex_unlock(o->mu);
        return;
    }
    o->busy = 1;
    while (o->next < o->n && o->done[o->next]) {
        uint64_t j = o->next;
        pthread_mutex_unlock(o->mu);
        const void *p;
        size_t len;
        o->piece(o->ctx, j, &p, &len);
        uw_hash_update(o->h, p, len);
        pthread_mutex_lock(o->mu);
        o->next++;
    }
    o->busy = 0;
    pthread_mutex_unlock(o->mu);
}

void uw_ordered_hash_free(uw_ordered_hash *o) {
    if (o->mu) pthread_mutex_destroy(o->mu);
    free(o->mu);
    free(o->done);
    memset(o, 0, sizeof *o);
}
