/* ocl_loader.c - loads the OpenCL ICD loader with dlopen on first use and fills uw_ocl_api
 * (ocl_api.h), so that libunweight never links libOpenCL: without it only this backend is
 * unavailable. UW_OPENCL_LIBRARY names another library file (a path or a soname). */
#define UW_OCL_API_IMPL
#include "ocl_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../core/uw_internal.h"

#define UW_OCL_DEFAULT_LIBRARY "libOpenCL.so.1"

uw_ocl_api_table uw_ocl_api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512]; /* "" once loaded */

static void load(void) {
    const char *name = getenv("UW_OPENCL_LIBRARY");
    if (!name || !*name) name = UW_OCL_DEFAULT_LIBRARY;
    /* never closed: the ICD loader and its drivers stay for the life of the process */
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "opencl: %s not loaded (%s)", name, why ? why : "unknown reason");
        return;
    }
    uw_ocl_api_table t;
#define UW_OCL_RESOLVE(f)                                                                                           \
    if (!(*(void **)&t.f = dlsym(h, #f))) {                                                                       \
        snprintf(load_error, sizeof load_error, "opencl: %s has no %s (not an OpenCL 1.2 library)", name, #f);    \
        dlclose(h);                                                                                                \
        return;                                                                                                    \
    }
    UW_OCL_FUNCTIONS(UW_OCL_RESOLVE)
#undef UW_OCL_RESOLVE
    uw_ocl_api = t;
    load_error[0] = 0;
}

uw_status uw_ocl_api_load(void) {
    pthread_once(&load_once, load);
    if (load_error[0]) return uw_error_set(UW_ERR_NO_DEVICE, "%s", load_error);
    return UW_OK;
}
