/* ocl_device.c - OpenCL platform/device selection (index, name or UW_OPENCL_DEVICE), the device
 * spec's tunables, context and queue, and the mapping of CL error codes to names and statuses. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ocl_internal.h"

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001 /* the ICD loader found no platform (cl_khr_icd) */
#endif

#define OCL_MAX_PLATFORMS 16
#define OCL_MAX_DEVICES 64

const char *uw_ocl_err_name(cl_int e) {
#define N(x) case x: return #x;
    switch (e) {
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE) N(CL_COMPILER_NOT_AVAILABLE)
    N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
    N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH)
    N(CL_IMAGE_FORMAT_NOT_SUPPORTED) N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
    N(CL_MISALIGNED_SUB_BUFFER_OFFSET) N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE)
    N(CL_DEVICE_PARTITION_FAILED) N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    N(CL_INVALID_VALUE) N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE)
    N(CL_INVALID_CONTEXT) N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE)
    N(CL_INVALID_HOST_PTR) N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    N(CL_INVALID_IMAGE_SIZE) N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS)
    N(CL_INVALID_PROGRAM) N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME)
    N(CL_INVALID_KERNEL_DEFINITION) N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX)
    N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE) N(CL_INVALID_KERNEL_ARGS)
    N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE) N(CL_INVALID_WORK_ITEM_SIZE)
    N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST) N(CL_INVALID_EVENT)
    N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE) N(CL_INVALID_MIP_LEVEL)
    N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY) N(CL_INVALID_IMAGE_DESCRIPTOR)
    N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS) N(CL_INVALID_DEVICE_PARTITION_COUNT)
    N(CL_PLATFORM_NOT_FOUND_KHR)
    }
#undef N
    return "CL_UNKNOWN_ERROR";
}

uw_status uw_ocl_fail(cl_int e, const char *what) {
    uw_status s = e == CL_OUT_OF_HOST_MEMORY ? UW_ERR_NOMEM : UW_ERR_BACKEND;
    return uw_error_set(s, "%s: %s (%d)", what, uw_ocl_err_name(e), (int)e);
}

void uw_ocl_note(const ocl_ctx *c, const char *fmt, ...) {
    if (!c->debug) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "unweight opencl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---- device spec: "[P:D | name][,key=value]..." ---- */

static int parse_u64(const char *s, uint64_t *v) {
    char *e;
    if (!isdigit((unsigned char)*s)) return 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (*e == 'k' || *e == 'K') { x *= 1024; e++; }
    else if (*e == 'm' || *e == 'M') { x *= 1024 * 1024; e++; }
    if (*e) return 0;
    *v = x;
    return 1;
}

static uw_status parse_option(const char *kv, ocl_params *p) {
    const char *eq = strchr(kv, '=');
    size_t kl = (size_t)(eq - kv);
    const char *v = eq + 1;
    uint64_t x = 0;
#define KEY(k) (kl == sizeof(k) - 1 && !strncmp(kv, k, kl))
    if (KEY("tile")) {
        unsigned r, cc;
        char tail;
        if (sscanf(v, "%ux%u%c", &r, &cc, &tail) != 2 || r < 1 || cc < 1 || r > UW_MAX_TILE_DIM || cc > UW_MAX_TILE_DIM)
            return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: tile=%s, expected ROWSxCOLS (each 1..65536)", v);
        p->tile_rows = r;
        p->tile_cols = cc;
    } else if (KEY("lanes")) {
        if (!parse_u64(v, &x) || x < 1 || x > UW_MAX_LANES)
            return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: lanes=%s, expected 1..%d", v, UW_MAX_LANES);
        p->lanes = (uint32_t)x;
    } else if (KEY("wg")) {
        if (!parse_u64(v, &x) || x < 1 || x > 1024)
            return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: wg=%s, expected 1..1024", v);
        p->wg = (uint32_t)x;
    } else if (KEY("acc")) {
        if (!parse_u64(v, &x) || x < 1 || x > 64)
            return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: acc=%s, expected 1..64", v);
        p->nacc = (uint32_t)x;
    } else if (KEY("lmem")) {
        if (!parse_u64(v, &x) || x < 1024)
            return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: lmem=%s, expected bytes >= 1024 (suffix k/m allowed)", v);
        p->lmem = x;
    } else if (KEY("retile")) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: retile=%s, expected 0 or 1", v);
        p->retile = *v == '1';
    } else {
        return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: unknown option '%.*s' (tile, lanes, wg, acc, lmem, retile)",
                            (int)kl, kv);
    }
#undef KEY
    return UW_OK;
}

uw_status uw_ocl_parse_spec(const char *spec, ocl_params *p) {
    memset(p, 0, sizeof *p);
    p->tile_rows = 32; /* 16 KiB of BF16 per tile: fits every OpenCL 1.2 device's 32 KiB */
    p->tile_cols = 256;
    p->lanes = 32;
    p->wg = 64;
    p->nacc = 16;
    p->platform = p->device = -1;
    if (!spec || !*spec) spec = getenv("UW_OPENCL_DEVICE");
    if (!spec || !*spec) return UW_OK;
    char buf[512];
    if (strlen(spec) >= sizeof buf) return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec is too long");
    strcpy(buf, spec);
    int first = 1;
    for (char *tok = buf, *next; tok; tok = next, first = 0) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        if (strchr(tok, '=')) {
            UW_FORWARD_IF_ERROR(parse_option(tok, p));
            continue;
        }
        if (!first) return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: '%s' is not key=value", tok);
        unsigned pi, di;
        char tail;
        if (sscanf(tok, "%u:%u%c", &pi, &di, &tail) == 2) {
            p->platform = (int)pi;
            p->device = (int)di;
        } else if (*tok) {
            if (strlen(tok) >= sizeof p->match) return uw_error_set(UW_ERR_INVALID_ARG, "opencl spec: name too long");
            strcpy(p->match, tok);
        }
    }
    if (p->lanes > p->tile_rows) p->lanes = p->tile_rows;
    return UW_OK;
}

/* ---- selection ---- */

static int ci_contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

/* A device we can run on: available, has a compiler, little-endian (the blob is read with
 * 32/64-bit loads). */
static int usable(cl_device_id d) {
    cl_bool avail = CL_FALSE, comp = CL_FALSE, little = CL_FALSE;
    if (clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof avail, &avail, NULL) != CL_SUCCESS) return 0;
    if (clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof comp, &comp, NULL) != CL_SUCCESS) return 0;
    if (clGetDeviceInfo(d, CL_DEVICE_ENDIAN_LITTLE, sizeof little, &little, NULL) != CL_SUCCESS) return 0;
    return avail && comp && little;
}

static int type_rank(cl_device_id d) {
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    return (t & CL_DEVICE_TYPE_GPU) ? 3 : (t & CL_DEVICE_TYPE_ACCELERATOR) ? 2 : 1;
}

static uw_status list_platforms(cl_platform_id *pl, cl_uint *np) {
    *np = 0;
    cl_int e = clGetPlatformIDs(OCL_MAX_PLATFORMS, pl, np);
    if (e == CL_PLATFORM_NOT_FOUND_KHR || (e == CL_SUCCESS && *np == 0))
        return uw_error_set(UW_ERR_NO_DEVICE, "opencl: no OpenCL platform (no ICD installed?)");
    if (e != CL_SUCCESS) return uw_error_set(UW_ERR_NO_DEVICE, "opencl: clGetPlatformIDs: %s (%d)", uw_ocl_err_name(e), (int)e);
    if (*np > OCL_MAX_PLATFORMS) *np = OCL_MAX_PLATFORMS;
    return UW_OK;
}

static cl_uint list_devices(cl_platform_id p, cl_device_id *dv) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, OCL_MAX_DEVICES, dv, &nd) != CL_SUCCESS) return 0;
    return nd > OCL_MAX_DEVICES ? OCL_MAX_DEVICES : nd;
}

static uw_status select_device(const ocl_params *par, cl_platform_id *plat, cl_device_id *dev) {
    UW_FORWARD_IF_ERROR(uw_ocl_api_load()); /* the library first: without it, no device */
    cl_platform_id pl[OCL_MAX_PLATFORMS];
    cl_uint np;
    UW_FORWARD_IF_ERROR(list_platforms(pl, &np));
    cl_device_id dv[OCL_MAX_DEVICES];
    if (par->platform >= 0) {
        if ((cl_uint)par->platform >= np)
            return uw_error_set(UW_ERR_NO_DEVICE, "opencl: platform %d does not exist (%u found)", par->platform, np);
        cl_uint nd = list_devices(pl[par->platform], dv);
        if ((cl_uint)par->device >= nd)
            return uw_error_set(UW_ERR_NO_DEVICE, "opencl: platform %d has no device %d (%u found)", par->platform, par->device, nd);
        if (!usable(dv[par->device]))
            return uw_error_set(UW_ERR_NO_DEVICE, "opencl: device %d:%d is unavailable, has no compiler or is big-endian",
                                par->platform, par->device);
        *plat = pl[par->platform];
        *dev = dv[par->device];
        return UW_OK;
    }
    int best = 0;
    for (cl_uint i = 0; i < np; i++) {
        char pname[256] = "";
        clGetPlatformInfo(pl[i], CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
        cl_uint nd = list_devices(pl[i], dv);
        for (cl_uint j = 0; j < nd; j++) {
            char dname[256] = "";
            clGetDeviceInfo(dv[j], CL_DEVICE_NAME, sizeof dname - 1, dname, NULL);
            if (par->match[0] && !ci_contains(dname, par->match) && !ci_contains(pname, par->match)) continue;
            if (!usable(dv[j])) continue;
            int r = type_rank(dv[j]); /* GPUs first; among equals the first listed */
            if (r > best) {
                best = r;
                *plat = pl[i];
                *dev = dv[j];
            }
        }
    }
    if (!best)
        return par->match[0] ? uw_error_set(UW_ERR_NO_DEVICE, "opencl: no usable device matches '%s'", par->match)
                             : uw_error_set(UW_ERR_NO_DEVICE, "opencl: no usable OpenCL device");
    return UW_OK;
}

uw_status uw_ocl_probe(void) {
    ocl_params p;
    if (uw_ocl_parse_spec(NULL, &p) != UW_OK) { /* a bad UW_OPENCL_DEVICE selects nothing */
        uw_error_prefix("opencl: UW_OPENCL_DEVICE");
        return UW_ERR_NO_DEVICE;
    }
    cl_platform_id pl;
    cl_device_id dv;
    return select_device(&p, &pl, &dv);
}

uw_status uw_ocl_device_open(ocl_ctx *c) {
    UW_FORWARD_IF_ERROR(select_device(&c->par, &c->platform, &c->device));
    cl_int e;
    c->context = clCreateContext(NULL, 1, &c->device, NULL, NULL, &e);
    if (e != CL_SUCCESS) return uw_ocl_fail(e, "clCreateContext");
    c->queue = clCreateCommandQueue(c->context, c->device, 0, &e);
    if (e != CL_SUCCESS) return uw_ocl_fail(e, "clCreateCommandQueue");
    cl_ulong lm = 0;
    OCL_TRY(clGetDeviceInfo(c->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL), "clGetDeviceInfo(CL_DEVICE_LOCAL_MEM_SIZE)");
    OCL_TRY(clGetDeviceInfo(c->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof c->max_wg, &c->max_wg, NULL),
            "clGetDeviceInfo(CL_DEVICE_MAX_WORK_GROUP_SIZE)");
    c->dev_lmem = lm;
    c->lmem = c->par.lmem && c->par.lmem < lm ? c->par.lmem : lm;
    char dname[128] = "", pname[96] = "";
    clGetDeviceInfo(c->device, CL_DEVICE_NAME, sizeof dname - 1, dname, NULL);
    clGetPlatformInfo(c->platform, CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
    snprintf(c->name, sizeof c->name, "%s (%s)", dname, pname);
    return UW_OK;
}

void uw_ocl_device_close(ocl_ctx *c) {
    if (c->queue) clReleaseCommandQueue(c->queue);
    if (c->context) clReleaseContext(c->context);
    c->queue = NULL;
    c->context = NULL;
}
