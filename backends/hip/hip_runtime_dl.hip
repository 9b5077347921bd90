/* hip_runtime_dl.hip - the HIP runtime loaded with dlopen on first use (hip_runtime_dl.h), and
 * the names the HIP compiler's generated code calls: the module constructors' registrations are
 * recorded and replayed into the runtime when it is loaded, kernel launches are forwarded. So
 * libunweight never links libamdhip64, and a host without it loses only the hip backend.
 * Why this rather than a plugin library per backend, and the exit-order rule: docs/backends.md. */
#define UW_HIP_RT_IMPL
#include "hip_runtime_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define UW_STR_(x) #x
#define UW_STR(x) UW_STR_(x) /* after macro expansion: versioned names of newer ROCm */

#define UW_HIP_DEFAULT_LIBRARY "libamdhip64.so." UW_STR(HIP_VERSION_MAJOR)

/* every table type is the one hip_runtime_api.h declares (unevaluated: no reference to the
 * symbol; a mismatch, or an overload set without that signature, does not compile) */
#define UW_HIP_RT_CHECK(name, ret, params)                                                                  \
    static_assert(sizeof(static_cast<ret(*) params>(&::name)) != 0, #name);
UW_HIP_RT_API(UW_HIP_RT_CHECK)
UW_HIP_RT_CHECK(__hipPushCallConfiguration, hipError_t, (dim3, dim3, size_t, hipStream_t))
UW_HIP_RT_CHECK(__hipPopCallConfiguration, hipError_t, (dim3 *, dim3 *, size_t *, hipStream_t *))
UW_HIP_RT_CHECK(hipLaunchKernel, hipError_t, (const void *, dim3, dim3, void **, size_t, hipStream_t))
#undef UW_HIP_RT_CHECK

uw_hip_rt_table uw_hip_rt;

namespace {

/* A code object registered before the runtime was loaded. The compiler keeps &slot as the
 * module's handle and passes it back with each kernel and variable. */
struct module_rec {
    void *slot; /* first: the handle given out is (void **)this */
    const void *wrapper;
    void **real;      /* the runtime's handle once replayed */
    int unregistered; /* by unregister_all (process exit or library unload) */
    module_rec *next;
};

struct func_rec {
    module_rec *m;
    const void *host;
    char *device_fn;
    const char *device_name;
    unsigned int limit;
    uint3 *tid, *bid;
    dim3 *block, *grid;
    int *wsize;
    func_rec *next;
};

struct var_rec {
    module_rec *m;
    void *var;
    char *host_name, *device_name;
    int ext;
    size_t size;
    int constant, global;
    var_rec *next;
};

/* recursive: the runtime's own start-up, run under it by load_locked, might register code objects */
pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
int tried;             /* a load was attempted (its outcome is final) */
int loaded;            /* uw_hip_rt is filled: read with acquire by the launch path */
char failure[512];     /* why not, when tried && !loaded */
module_rec *modules, **modules_tail = &modules;
func_rec *funcs, **funcs_tail = &funcs;
var_rec *vars, **vars_tail = &vars;

const char *library_name(void) {
    const char *name = getenv("UW_HIP_LIBRARY");
    return name && *name ? name : UW_HIP_DEFAULT_LIBRARY;
}

module_rec *find_module(void **handle) {
    for (module_rec *m = modules; m; m = m->next)
        if ((void **)m == handle) return m;
    return NULL;
}

int is_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

/* At process exit, and when a shared libunweight is unloaded: registered with atexit right after
 * the runtime was loaded, so it runs before the runtime's own static destructors (registered
 * when it was loaded, hence earlier) tear it down; the compiler's module destructors, registered
 * at start-up, would run after them. */
void unregister_all(void) {
    pthread_mutex_lock(&lock);
    for (module_rec *m = modules; m; m = m->next)
        if (m->real && !m->unregistered) {
            uw_hip_rt.fn___hipUnregisterFatBinary(m->real);
            m->unregistered = 1;
        }
    pthread_mutex_unlock(&lock);
}

/* dlopen, every entry point, the version check, then the replay; with `lock` held */
void load_locked(void) {
    tried = 1;
    const char *name = library_name();
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL); /* never closed: kept for the process's life */
    if (!h) {
        const char *why = dlerror();
        snprintf(failure, sizeof failure, "%s not loaded (%s)", name, why ? why : "unknown reason");
        return;
    }
    uw_hip_rt_table t;
#define UW_HIP_RT_RESOLVE(fn, ret, params)                                                                  \
    if (!(*(void **)&t.fn_##fn = dlsym(h, UW_STR(fn)))) {                                                  \
        snprintf(failure, sizeof failure, "%s has no %s (not a HIP runtime?)", name, UW_STR(fn));          \
        return;                                                                                             \
    }
    UW_HIP_RT_API(UW_HIP_RT_RESOLVE)
    UW_HIP_RT_ABI(UW_HIP_RT_RESOLVE)
#undef UW_HIP_RT_RESOLVE
    /* the table's types are those of the headers built against: another major version may lay out
     * hipDeviceProp_t differently, so it is refused rather than misread */
    int version = 0;
    if (t.fn_hipRuntimeGetVersion(&version) != hipSuccess || version / 10000000 != HIP_VERSION_MAJOR) {
        snprintf(failure, sizeof failure, "%s is HIP %d.%d; this build needs HIP %d.x (set UW_HIP_LIBRARY)", name,
                 version / 10000000, (version / 100000) % 100, HIP_VERSION_MAJOR);
        return;
    }
    for (module_rec *m = modules; m; m = m->next) m->real = t.fn___hipRegisterFatBinary(m->wrapper);
    for (func_rec *f = funcs; f; f = f->next)
        t.fn___hipRegisterFunction(f->m->real, f->host, f->device_fn, f->device_name, f->limit, f->tid, f->bid, f->block,
                                   f->grid, f->wsize);
    for (var_rec *v = vars; v; v = v->next)
        t.fn___hipRegisterVar(v->m->real, v->var, v->host_name, v->device_name, v->ext, v->size, v->constant, v->global);
    uw_hip_rt = t;
    atexit(unregister_all);
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
}

/* A program that links libamdhip64 itself (and a static libunweight, whose definitions below then
 * serve its code objects too) has the runtime in the process before any constructor runs:
 * registrations go straight to it, as if these names were the runtime's. */
void adopt_loaded_runtime_locked(void) {
    if (tried) return;
    void *h = dlopen(library_name(), RTLD_NOW | RTLD_NOLOAD);
    if (!h) return;
    dlclose(h); /* drops the reference just taken; load_locked takes its own */
    load_locked();
}

/* Take a module's records out of the lists and free them (its destructor ran). */
void forget_module_locked(module_rec *m) {
    for (func_rec **p = &funcs; *p;) {
        func_rec *f = *p;
        if (f->m != m) {
            p = &f->next;
            continue;
        }
        *p = f->next;
        if (funcs_tail == &f->next) funcs_tail = p;
        free(f);
    }
    for (var_rec **p = &vars; *p;) {
        var_rec *v = *p;
        if (v->m != m) {
            p = &v->next;
            continue;
        }
        *p = v->next;
        if (vars_tail == &v->next) vars_tail = p;
        free(v);
    }
    for (module_rec **p = &modules; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            if (modules_tail == &m->next) modules_tail = p;
            break;
        }
    free(m);
}

} // namespace

const char *uw_hip_rt_load(void) {
    pthread_mutex_lock(&lock);
    if (!tried) load_locked();
    const char *why = loaded ? NULL : failure;
    pthread_mutex_unlock(&lock);
    return why;
}

/* ---- the names the compiler's generated code calls ---- */

extern "C" void **__hipRegisterFatBinary(const void *wrapper) {
    pthread_mutex_lock(&lock);
    adopt_loaded_runtime_locked();
    void **handle = NULL;
    if (loaded) {
        handle = uw_hip_rt.fn___hipRegisterFatBinary(wrapper);
    } else if (module_rec *m = (module_rec *)calloc(1, sizeof(module_rec))) {
        m->wrapper = wrapper;
        *modules_tail = m;
        modules_tail = &m->next;
        handle = (void **)m;
    }
    pthread_mutex_unlock(&lock);
    return handle; /* NULL (out of memory): the kernels stay unregistered, launches fail cleanly */
}

/* (clang declares it returning int, the runtime defines it void: the result is never used) */
extern "C" int __hipRegisterFunction(void **handle, const void *host, char *device_fn, const char *device_name,
                                     unsigned int limit, uint3 *tid, uint3 *bid, dim3 *block, dim3 *grid, int *wsize) {
    pthread_mutex_lock(&lock);
    module_rec *m = find_module(handle);
    if (m && !m->real) {
        if (func_rec *f = (func_rec *)calloc(1, sizeof(func_rec))) {
            *f = func_rec{m, host, device_fn, device_name, limit, tid, bid, block, grid, wsize, NULL};
            *funcs_tail = f;
            funcs_tail = &f->next;
        }
    } else if (loaded && handle) {
        uw_hip_rt.fn___hipRegisterFunction(m ? m->real : handle, host, device_fn, device_name, limit, tid, bid, block, grid,
                                           wsize);
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

extern "C" void __hipRegisterVar(void **handle, void *var, char *host_name, char *device_name, int ext, size_t size,
                                 int constant, int global) {
    pthread_mutex_lock(&lock);
    module_rec *m = find_module(handle);
    if (m && !m->real) {
        if (var_rec *v = (var_rec *)calloc(1, sizeof(var_rec))) {
            *v = var_rec{m, var, host_name, device_name, ext, size, constant, global, NULL};
            *vars_tail = v;
            vars_tail = &v->next;
        }
    } else if (loaded && handle) {
        uw_hip_rt.fn___hipRegisterVar(m ? m->real : handle, var, host_name, device_name, ext, size, constant, global);
    }
    pthread_mutex_unlock(&lock);
}

/* The compiler's module destructor (atexit, or the unload of a shared libunweight). A recorded
 * module was unregistered by unregister_all, which runs first, or never reached the runtime: its
 * records are freed. A module registered directly goes back directly. */
extern "C" void __hipUnregisterFatBinary(void **handle) {
    pthread_mutex_lock(&lock);
    if (module_rec *m = find_module(handle)) {
        if (m->real && !m->unregistered) uw_hip_rt.fn___hipUnregisterFatBinary(m->real);
        forget_module_locked(m);
    } else if (handle && loaded) {
        uw_hip_rt.fn___hipUnregisterFatBinary(handle);
    }
    pthread_mutex_unlock(&lock);
}

/* Launches only happen on a device the backend opened, hence after the load; before it they
 * fail like a runtime that was never initialised, without touching the table. */
extern "C" hipError_t __hipPushCallConfiguration(dim3 grid, dim3 block, size_t shared, hipStream_t stream) {
    if (!is_loaded()) return hipErrorNotInitialized;
    return uw_hip_rt.fn___hipPushCallConfiguration(grid, block, shared, stream);
}

extern "C" hipError_t __hipPopCallConfiguration(dim3 *grid, dim3 *block, size_t *shared, hipStream_t *stream) {
    if (!is_loaded()) return hipErrorNotInitialized;
    return uw_hip_rt.fn___hipPopCallConfiguration(grid, block, shared, stream);
}

extern "C" hipError_t hipLaunchKernel(const void *fn, dim3 grid, dim3 block, void **args, size_t shared, hipStream_t stream) {
    if (!is_loaded()) return hipErrorNotInitialized;
    return uw_hip_rt.fn_hipLaunchKernel(fn, grid, block, args, shared, stream);
}
