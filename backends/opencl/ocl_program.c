/* ocl_program.c - builds the kernels embedded at build time (decode_steps.h, then the .cl files),
 * reports the build log on failure, and caches one program per build option in each context. */
#include <stdio.h>
#include <stdlib.h>

#include "ocl_internal.h"

extern const char *const uw_ocl_sources[];
extern const size_t uw_ocl_source_count;

static const char *const kernel_names[K_COUNT] = {
    [K_DECODE_HUFF] = "uw_decode_huff", [K_DECODE_PAL] = "uw_decode_pal", [K_DECODE_PAL_EXC] = "uw_decode_pal_exc",
    [K_EXP_PLANE] = "uw_exp_plane",     [K_TC_EXC] = "uw_tc_exc",         [K_TC_NIB] = "uw_tc_nib",
    [K_MM_PLAIN] = "uw_mm_plain",       [K_MM_HUFF] = "uw_mm_huff",       [K_MM_PAL] = "uw_mm_pal",
    [K_MM_EXP] = "uw_mm_exp"};

static void prog_release(ocl_prog *p) {
    for (int i = 0; i < K_COUNT; i++)
        if (p->k[i]) clReleaseKernel(p->k[i]);
    if (p->program) clReleaseProgram(p->program);
    memset(p, 0, sizeof *p);
}

static uw_status build_failed(ocl_ctx *c, ocl_prog *p, cl_int e) {
    size_t n = 0;
    char log[700] = "";
    if (clGetProgramBuildInfo(p->program, c->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS && n > 0) {
        char *full = malloc(n + 1);
        if (full && clGetProgramBuildInfo(p->program, c->device, CL_PROGRAM_BUILD_LOG, n, full, NULL) == CL_SUCCESS) {
            full[n] = 0;
            if (c->debug) fprintf(stderr, "unweight opencl: build log:\n%s\n", full);
            snprintf(log, sizeof log, "%s", full);
        }
        free(full);
    }
    prog_release(p);
    return uw_error_set(UW_ERR_BACKEND, "clBuildProgram: %s; build log: %s", uw_ocl_err_name(e), log);
}

static uw_status build(ocl_ctx *c, ocl_prog *p, uint32_t nacc) {
    cl_int e;
    p->nacc = nacc;
    /* FP contraction stays off in the sources (pragma); no -cl-mad-enable or fast-math here:
     * the matmul's rounding sequence is part of contract C2 */
    snprintf(p->options, sizeof p->options, "-cl-std=CL1.2 -DUW_NACC=%u", nacc);
    p->program = clCreateProgramWithSource(c->context, (cl_uint)uw_ocl_source_count, (const char **)uw_ocl_sources, NULL, &e);
    if (e != CL_SUCCESS) return uw_ocl_fail(e, "clCreateProgramWithSource");
    e = clBuildProgram(p->program, 1, &c->device, p->options, NULL, NULL);
    if (e != CL_SUCCESS) return build_failed(c, p, e);
    for (int i = 0; i < K_COUNT; i++) {
        p->k[i] = clCreateKernel(p->program, kernel_names[i], &e);
        if (e != CL_SUCCESS) {
            uw_status s = uw_ocl_fail(e, "clCreateKernel");
            uw_error_prefix("%s", kernel_names[i]);
            prog_release(p);
            return s;
        }
        e = clGetKernelWorkGroupInfo(p->k[i], c->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof p->kwg[i], &p->kwg[i], NULL);
        if (e != CL_SUCCESS) {
            prog_release(p);
            return uw_ocl_fail(e, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)");
        }
    }
    return UW_OK;
}

uw_status uw_ocl_program_get(ocl_ctx *c, uint32_t nacc, ocl_prog **out) {
    for (int i = 0; i < c->nprogs; i++)
        if (c->progs[i].nacc == nacc) {
            *out = &c->progs[i];
            return UW_OK;
        }
    ocl_prog *p;
    if (c->nprogs < OCL_MAX_PROGS) {
        p = &c->progs[c->nprogs++];
    } else { /* full: rebuild into a slot other than the one in use */
        p = &c->progs[c->prog == &c->progs[0] ? 1 : 0];
        prog_release(p);
    }
    uw_status s = build(c, p, nacc); /* a failed build leaves the slot empty (nacc 0) */
    if (s != UW_OK) return s;
    *out = p;
    return UW_OK;
}

void uw_ocl_programs_release(ocl_ctx *c) {
    for (int i = 0; i < c->nprogs; i++) prog_release(&c->progs[i]);
    c->nprogs = 0;
    c->prog = NULL;
}
