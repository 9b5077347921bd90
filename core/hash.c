/* hash.c - uw_hash64 and the streaming uw_hash_* calls: the XXH3-64 every checksum of the library
 * uses (FORMAT.md section 4), with libxxhash's run-time CPU dispatch where the installed library
 * offers it (AVX2/AVX-512: one-shot and streaming alike; the digest does not depend on it). */
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
