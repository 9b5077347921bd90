/* cpu_isa.c - which CPU kernel level runs: the CPU's and OS's features (core/cpu_features.c),
 * mapped to a level once, and for AMX the kernel's own check (cpuid, XCR0, the OS's permission)
 * and the bit-compatibility self-test; UW_CPU_ISA forces a level for tests and comparisons.
 * Builds on any architecture: off x86 only the scalar level exists. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu_mm.h"

#if defined(UW_CPU_X86_KERNELS)
/* the feature bits come from core/cpu_features.c (cpuid and XCR0 read once for the whole library:
 * the codec's kernels ask the same question); a level needs all its kernel file is compiled for */
static int detect(void) {
    unsigned f = uw_cpu_features();
    if ((f & UW_CPUF_AVX512VBMI) && (f & UW_CPUF_AVX512BF16)) return UW_ISA_AVX512BF16;
    if (f & UW_CPUF_AVX2) return UW_ISA_AVX2;
    return UW_ISA_SCALAR;
}
#else
static int detect(void) { return UW_ISA_SCALAR; }
#endif

static int best;
/* AMX: 0 absent (CPU, OS or build), 1 usable, 2 present but refused by the self-test */
static int amx_state;
static char amx_why[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    best = detect();
#if defined(UW_CPU_AMX_KERNEL)
    /* AMX tiles only where their results are the avx512bf16 kernel's, bit for bit (C4 across the
     * batch threshold): checked once per process on operands built to expose any difference */
    if (best == UW_ISA_AVX512BF16) {
        if (uw_cpu_kern_amx.enable() != UW_OK) snprintf(amx_why, sizeof amx_why, "%s", uw_last_error()); /* why not */
        else if (uw_cpu_amx_selftest(amx_why, sizeof amx_why) == UW_OK) best = UW_ISA_AMX, amx_state = 1;
        else amx_state = 2;
        uw_error_clear(); /* a level not there is no error of the caller's */
    }
#endif
}

int uw_cpu_isa_supported(uw_cpu_isa isa) {
    pthread_once(&once, init);
    return (int)isa <= best;
}

const char *uw_cpu_isa_name(uw_cpu_isa isa) {
    static const char *const n[UW_ISA_COUNT] = {"scalar", "avx2", "avx512bf16", "amx"};
    return (unsigned)isa < UW_ISA_COUNT ? n[isa] : "unknown";
}

const char *uw_cpu_isa_note(uw_cpu_isa isa) {
    pthread_once(&once, init);
    return isa == UW_ISA_AVX512BF16 && amx_state == 2 ? " (amx not bit-compatible)" : "";
}

uw_status uw_cpu_isa_select(uw_cpu_isa *out) {
    pthread_once(&once, init);
    const char *e = getenv("UW_CPU_ISA");
    if (!e || !*e) {
        *out = (uw_cpu_isa)best;
        return UW_OK;
    }
    for (int i = 0; i < UW_ISA_COUNT; i++)
        if (!strcmp(e, uw_cpu_isa_name((uw_cpu_isa)i))) {
            UW_RETURN_ERROR_IF(i == UW_ISA_AMX && amx_state == 2, UW_ERR_NO_DEVICE,
                               "UW_CPU_ISA=amx: this CPU has AMX-BF16, but its results differ from the avx512bf16 kernel's "
                               "(self-test: %s), so the amx level is off: a row's result would depend on the batch size (C4)",
                               amx_why);
            UW_RETURN_ERROR_IF(i == UW_ISA_AMX && i > best && amx_why[0], UW_ERR_NO_DEVICE,
                               "UW_CPU_ISA=amx: not available (%s); this CPU offers up to %s", amx_why,
                               uw_cpu_isa_name((uw_cpu_isa)best));
            UW_RETURN_ERROR_IF(i > best, UW_ERR_NO_DEVICE, "UW_CPU_ISA=%s: this CPU (or build) offers only up to %s", e,
                               uw_cpu_isa_name((uw_cpu_isa)best));
            *out = (uw_cpu_isa)i;
            return UW_OK;
        }
    return uw_error_set(UW_ERR_INVALID_ARG, "UW_CPU_ISA=%s: expected amx, avx512bf16, avx2 or scalar", e);
}

const uw_cpu_kern *uw_cpu_kern_get(uw_cpu_isa isa) {
#if defined(UW_CPU_AMX_KERNEL)
    if (isa == UW_ISA_AMX) return &uw_cpu_kern_amx;
#endif
#if defined(UW_CPU_X86_KERNELS)
    if (isa >= UW_ISA_AVX512BF16) return &uw_cpu_kern_avx512;
    if (isa == UW_ISA_AVX2) return &uw_cpu_kern_avx2;
#endif
    (void)isa;
    return &uw_cpu_kern_scalar;
}
