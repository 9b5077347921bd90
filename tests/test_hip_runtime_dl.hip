/* test_hip_runtime_dl.hip - the HIP runtime is loaded at run time, never linked
 * (backends/hip/hip_runtime_dl.hip); label hip, no GPU needed. Two runs:
 *   missing: UW_HIP_LIBRARY names a file that does not exist: the hip backend is unavailable and
 *            says which library and why, every time; a launch fails cleanly; cpu works;
 *   fake:    UW_HIP_LIBRARY names hip_fake_runtime.c's library: it is loaded on the first probe
 *            and not before, the library's code objects and kernels registered at start-up are
 *            replayed into it with its own handles, a <<<>>> launch reaches it with its grid,
 *            block, shared bytes and stream intact, and (checked by the fake at exit) every code
 *            object is unregistered once, before the runtime's own teardown.
 * usage: test_hip_runtime_dl missing|fake */
#include <dlfcn.h>

#include "../backends/hip/hip_runtime_dl.h"
#include "test_util.h"

__global__ void uw_test_kernel(int *p) {
    if (p) p[0] = 1;
}

typedef void (*counts_fn)(int *, int *, int *, int *);
typedef int (*launch_fn)(const void **, dim3 *, dim3 *, size_t *, void **);

static hipError_t launch_directly(void) {
    int *none = NULL;
    void *args[] = {&none};
    return hipLaunchKernel((const void *)uw_test_kernel, dim3(1), dim3(1), args, 0, NULL);
}

static void missing_runtime_disables_hip_only(void) {
    const char *lib = getenv("UW_HIP_LIBRARY");
    CHECK(lib && *lib, "UW_HIP_LIBRARY is set");
    for (int round = 0; round < 2; round++) { /* the answer is the same every time */
        CHECK(uw_backend_probe("hip") == UW_ERR_NO_DEVICE, "probe: hip unavailable (round %d)", round);
        CHECK(strstr(uw_last_error(), lib) && strstr(uw_last_error(), "not loaded"), "the reason names %s: '%s'", lib,
              uw_last_error());
    }
    uw_device *d = NULL;
    CHECK(uw_device_open("hip", NULL, &d) == UW_ERR_NO_DEVICE && !d, "open: hip unavailable");
    CHECK(launch_directly() == hipErrorNotInitialized, "a launch without the runtime fails cleanly");
    CHECK(uw_backend_probe("cpu") == UW_OK, "cpu is available");
    CHECK(uw_device_open("cpu", NULL, &d) == UW_OK && d, "cpu opens");
    uw_device_close(d);
}

static void fake_runtime_gets_registrations_and_launches(void) {
    const char *lib = getenv("UW_HIP_LIBRARY");
    CHECK(lib && *lib, "UW_HIP_LIBRARY is set");
    if (!lib) return;
    CHECK(!dlopen(lib, RTLD_NOW | RTLD_NOLOAD), "the runtime is not loaded at start-up");
    CHECK(launch_directly() == hipErrorNotInitialized, "a launch before the load fails cleanly");
    CHECK(uw_backend_probe("hip") == UW_ERR_NO_DEVICE && strstr(uw_last_error(), "fake runtime"),
          "the probe reaches the runtime, which has no device: '%s'", uw_last_error());
    void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    CHECK(h != NULL, "the probe loaded %s", lib);
    if (!h) return;
    counts_fn counts = (counts_fn)dlsym(h, "fake_hip_counts");
    launch_fn last = (launch_fn)dlsym(h, "fake_hip_last_launch");
    CHECK(counts && last, "the fake's queries");
    if (!counts || !last) return;
    int modules, functions, vars, bad;
    counts(&modules, &functions, &vars, &bad);
    CHECK(modules >= 1 && functions >= modules, "replayed: %d code objects, %d kernels", modules, functions);
    CHECK(bad == 0, "every registration used a handle the runtime gave out (%d violations)", bad);

    uw_test_kernel<<<dim3(3, 2, 1), dim3(64, 1, 1), 128, (hipStream_t)0x1234>>>(NULL);
    const void *fn;
    dim3 grid, block;
    size_t shared;
    void *stream;
    CHECK(last(&fn, &grid, &block, &shared, &stream) == 1, "one launch reached the runtime");
    CHECK(fn == (const void *)uw_test_kernel, "the launch names the kernel");
    CHECK(grid.x == 3 && grid.y == 2 && grid.z == 1 && block.x == 64 && block.y == 1 && block.z == 1,
          "grid %ux%ux%u block %ux%ux%u", grid.x, grid.y, grid.z, block.x, block.y, block.z);
    CHECK(shared == 128 && stream == (void *)0x1234, "shared %zu stream %p", shared, stream);
    CHECK(launch_directly() == hipSuccess, "a direct launch is forwarded");
    CHECK(uw_backend_probe("cpu") == UW_OK, "cpu is available");
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "missing") && strcmp(argv[1], "fake"))) {
        fprintf(stderr, "usage: test_hip_runtime_dl missing|fake\n");
        return 2;
    }
    if (!strcmp(argv[1], "missing")) missing_runtime_disables_hip_only();
    else fake_runtime_gets_registrations_and_launches();
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
