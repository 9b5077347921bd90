/* cpu_backend.c - the CPU backend's entry in the registry. */
#include "../../core/backend.h"
#include "cpu_decode.h"

static uw_status cpu_probe(void) { return UW_OK; }

static uw_status cpu_decode_host(const uw_blob *b, uint16_t *out, int threads) {
    return uw_cpu_decode_blob(b, out, threads, 1);
}

const uw_backend uw_backend_cpu = {"cpu", cpu_probe, cpu_decode_host};
