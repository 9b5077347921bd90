/* ocl_buffers.c - device buffers, transfers, kernel arguments and launches, and the device-side
 * error word through which kernels report streams that break docs/FORMAT.md section 7
 * (UW_DERR_* bits, codecs/decode_steps.h). */
#include <stdarg.h>

#include "ocl_internal.h"

size_t uw_ocl_round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

uw_status uw_ocl_buffer(ocl_ctx *c, cl_mem_flags fl, size_t size, const void *host, cl_mem *out) {
    cl_int e;
    if (size == 0) size = 16; /* empty sections (no exceptions) still need a valid argument */
    *out = clCreateBuffer(c->context, fl | (host ? CL_MEM_COPY_HOST_PTR : 0), size, (void *)host, &e);
    if (e != CL_SUCCESS) {
        *out = NULL;
        uw_status s = uw_ocl_fail(e, "clCreateBuffer");
        uw_error_prefix("%zu bytes", size);
        return s;
    }
    return UW_OK;
}

void uw_ocl_release(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

uw_status uw_ocl_read(ocl_ctx *c, cl_mem m, size_t off, size_t size, void *host) {
    OCL_TRY(clEnqueueReadBuffer(c->queue, m, CL_TRUE, off, size, host, 0, NULL, NULL), "clEnqueueReadBuffer");
    return UW_OK;
}

uw_status uw_ocl_write(ocl_ctx *c, cl_mem m, size_t off, size_t size, const void *host) {
    OCL_TRY(clEnqueueWriteBuffer(c->queue, m, CL_TRUE, off, size, host, 0, NULL, NULL), "clEnqueueWriteBuffer");
    return UW_OK;
}

uw_status uw_ocl_args(cl_kernel k, cl_uint first, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cl_int e = CL_SUCCESS;
    cl_uint i = first;
    for (const char *f = fmt; *f && e == CL_SUCCESS; f++, i++) {
        switch (*f) {
        case 'm': {
            cl_mem *m = va_arg(ap, cl_mem *);
            e = clSetKernelArg(k, i, sizeof(cl_mem), m);
            break;
        }
        case 'u': {
            cl_uint v = va_arg(ap, cl_uint);
            e = clSetKernelArg(k, i, sizeof v, &v);
            break;
        }
        case 'U': {
            cl_ulong v = va_arg(ap, cl_ulong);
            e = clSetKernelArg(k, i, sizeof v, &v);
            break;
        }
        case 'L': {
            size_t bytes = va_arg(ap, size_t);
            e = clSetKernelArg(k, i, bytes ? bytes : 4, NULL);
            break;
        }
        default:
            e = CL_INVALID_ARG_VALUE;
        }
    }
    va_end(ap);
    if (e != CL_SUCCESS) {
        char name[64] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
        uw_status s = uw_ocl_fail(e, "clSetKernelArg");
        uw_error_prefix("%s argument %u", name, i - 1);
        return s;
    }
    return UW_OK;
}

uw_status uw_ocl_run(ocl_ctx *c, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local, const char *what) {
    cl_int e = clEnqueueNDRangeKernel(c->queue, k, dims, NULL, global, local, 0, NULL, NULL);
    if (e != CL_SUCCESS) {
        uw_status s = uw_ocl_fail(e, "clEnqueueNDRangeKernel");
        uw_error_prefix("%s (global %zu x %zu, local %zu)", what, global[0], dims > 1 ? global[1] : 1, local[0]);
        return s;
    }
    return UW_OK;
}

uw_status uw_ocl_err_reset(ocl_ctx *c) {
    cl_uint zero = 0;
    OCL_TRY(clEnqueueFillBuffer(c->queue, c->err, &zero, sizeof zero, 0, sizeof zero, 0, NULL, NULL), "clEnqueueFillBuffer");
    return UW_OK;
}

uw_status uw_ocl_err_check(ocl_ctx *c, const char *what) {
    cl_uint bits = 0;
    UW_FORWARD_IF_ERROR(uw_ocl_read(c, c->err, 0, sizeof bits, &bits));
    return bits ? uw_derr_status(bits, "opencl: %s", what) : UW_OK;
}
