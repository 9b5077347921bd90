/* test_amx_selftest.c - the AMX self-test against CPUs whose tile arithmetic is not the SDM's,
 * played by the software model of the tiles (amx_emu/, linked through the test-only library
 * unweight_amxemu):
 *   SELFTEST  with the SDM's arithmetic the self-test passes; with each other arithmetic a CPU
 *             might implement (the Intrinsics Guide's single sum, no DAZ, no FTZ, rounded
 *             products, dst added first, a wider accumulator, round toward zero) it refuses AMX
 *             and names a differing output;
 *   DEVICE    (--device, run with UW_AMX_EMU_MODEL set to another arithmetic) the device falls
 *             back to avx512bf16 and says so in its name, offers no amx_batch parameter, and
 *             UW_CPU_ISA=amx fails with UW_ERR_NO_DEVICE and the self-test's finding; with the
 *             SDM's arithmetic it is the amx level with its amx_batch parameter. */
#include "test_util.h"

#include "../backends/cpu/cpu_mm.h"
#include "uw_amx_emu.h"

static int has_param(uw_device *d, const char *name) {
    for (int i = 0; i < uw_device_param_count(d); i++) {
        uw_param_info pi;
        if (uw_device_param_info(d, i, &pi) == UW_OK && !strcmp(pi.name, name)) return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static void device_check(void) {
    const char *model = uw_amxemu_model();
    int sdm = !strcmp(model, "sdm");
    uw_device *d;
    CHECK_OK(uw_device_open("cpu", "threads=2", &d), "open cpu");
    if (!d) return;
    const char *name = uw_device_name(d);
    printf("emulated AMX arithmetic '%s': device '%s'\n", model, name);
    if (sdm) {
        CHECK(ends_with(name, ", amx"), "DEVICE: with the SDM's arithmetic the level is amx (%s)", name);
        CHECK(has_param(d, "amx_batch"), "DEVICE: the amx level offers the amx_batch parameter");
    } else {
        CHECK(ends_with(name, ", avx512bf16 (amx not bit-compatible)"),
              "DEVICE: arithmetic '%s': avx512bf16, and the name says why not amx (%s)", model, name);
        CHECK(!has_param(d, "amx_batch"), "DEVICE: no amx_batch parameter without the amx level");
    }
    uw_device_close(d);
    setenv("UW_CPU_ISA", "amx", 1);
    uw_status s = uw_device_open("cpu", NULL, &d);
    if (sdm) {
        CHECK(s == UW_OK, "DEVICE: UW_CPU_ISA=amx opens with the SDM's arithmetic");
        if (s == UW_OK) uw_device_close(d);
    } else {
        CHECK(s == UW_ERR_NO_DEVICE && strstr(uw_last_error(), "self-test") && strstr(uw_last_error(), "C4"),
              "DEVICE: UW_CPU_ISA=amx fails, naming the self-test's finding (%s)", uw_last_error());
        printf("UW_CPU_ISA=amx: %s\n", uw_last_error());
        if (s == UW_OK) uw_device_close(d);
    }
    unsetenv("UW_CPU_ISA");
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--device")) {
        device_check();
        T_DONE();
    }
    device_check(); /* the SDM's arithmetic, unless UW_AMX_EMU_MODEL says otherwise */
    static const char *const models[] = {"sdm", "sequential", "nodaz", "noftz", "rounded", "dst-first", "wide", "rtz"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        CHECK(uw_amxemu_set_model(models[i]) == 0, "model %s", models[i]);
        char why[512];
        uw_status s = uw_cpu_amx_selftest(why, sizeof why);
        printf("%-10s -> %s\n", models[i], why);
        if (i == 0) CHECK(s == UW_OK, "SELFTEST: the SDM's arithmetic passes (%s)", why);
        else
            CHECK(s == UW_ERR_UNSUPPORTED && strstr(why, "amx 0x"),
                  "SELFTEST: arithmetic '%s' is refused with the differing output named (%s)", models[i], why);
    }
    T_DONE();
}
