/* hash.c - uw_hash64, the XXH3-64 every checksum of the library uses (FORMAT.md section 3),
 * with libxxhash's run-time CPU dispatch where the installed library offers it. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "uw_internal.h"

/* AVX2/AVX-512 where the CPU has them: the same hash, about twice as fast as the SSE2 baseline
 * on the decode path. */
#ifdef UW_HAVE_XXH_DISPATCH
uint64_t XXH3_64bits_dispatch(const void *input, size_t len);
uint64_t uw_hash64(const void *p, size_t n) { return XXH3_64bits_dispatch(p, n); }
#else
uint64_t uw_hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }
#endif
