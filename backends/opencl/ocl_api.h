/* ocl_api.h - the OpenCL entry points this backend calls, reached through a table that
 * ocl_loader.c fills from the ICD loader (libOpenCL.so.1, or UW_OPENCL_LIBRARY) with dlopen on
 * first use: a host without OpenCL loses this backend, not the program (docs/backends.md).
 * After this header clFoo(...) in the backend's files calls uw_ocl_api.clFoo; the library is
 * never linked, so a cl* function missing from the list below fails the link. */
#ifndef UW_OCL_API_H
#define UW_OCL_API_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "uw_status.h"

/* every entry point used (all OpenCL 1.2 core, so every ICD loader has them) */
#define UW_OCL_FUNCTIONS(X)                                                                                       \
    X(clBuildProgram) X(clCreateBuffer) X(clCreateCommandQueue) X(clCreateContext) X(clCreateKernel)              \
    X(clCreateProgramWithSource) X(clEnqueueCopyBuffer) X(clEnqueueFillBuffer) X(clEnqueueNDRangeKernel)         \
    X(clEnqueueReadBuffer) X(clEnqueueWriteBuffer) X(clFinish) X(clGetDeviceIDs) X(clGetDeviceInfo)              \
    X(clGetKernelInfo) X(clGetKernelWorkGroupInfo) X(clGetPlatformIDs) X(clGetPlatformInfo)                      \
    X(clGetProgramBuildInfo) X(clReleaseCommandQueue) X(clReleaseContext) X(clReleaseKernel)                     \
    X(clReleaseMemObject) X(clReleaseProgram) X(clSetKernelArg)

/* one pointer per entry point, typed from CL/cl.h's own declaration */
typedef struct uw_ocl_api_table {
#define UW_OCL_MEMBER(f) __typeof__(f) *f;
    UW_OCL_FUNCTIONS(UW_OCL_MEMBER)
#undef UW_OCL_MEMBER
} uw_ocl_api_table;

extern uw_ocl_api_table uw_ocl_api;

/* Load the OpenCL library once (thread-safe). UW_OK, or UW_ERR_NO_DEVICE with the library's name
 * and the loader's reason (not found, a missing entry point) in uw_last_error(). */
uw_status uw_ocl_api_load(void);

#ifndef UW_OCL_API_IMPL
#define clBuildProgram uw_ocl_api.clBuildProgram
#define clCreateBuffer uw_ocl_api.clCreateBuffer
#define clCreateCommandQueue uw_ocl_api.clCreateCommandQueue
#define clCreateContext uw_ocl_api.clCreateContext
#define clCreateKernel uw_ocl_api.clCreateKernel
#define clCreateProgramWithSource uw_ocl_api.clCreateProgramWithSource
#define clEnqueueCopyBuffer uw_ocl_api.clEnqueueCopyBuffer
#define clEnqueueFillBuffer uw_ocl_api.clEnqueueFillBuffer
#define clEnqueueNDRangeKernel uw_ocl_api.clEnqueueNDRangeKernel
#define clEnqueueReadBuffer uw_ocl_api.clEnqueueReadBuffer
#define clEnqueueWriteBuffer uw_ocl_api.clEnqueueWriteBuffer
#define clFinish uw_ocl_api.clFinish
#define clGetDeviceIDs uw_ocl_api.clGetDeviceIDs
#define clGetDeviceInfo uw_ocl_api.clGetDeviceInfo
#define clGetKernelInfo uw_ocl_api.clGetKernelInfo
#define clGetKernelWorkGroupInfo uw_ocl_api.clGetKernelWorkGroupInfo
#define clGetPlatformIDs uw_ocl_api.clGetPlatformIDs
#define clGetPlatformInfo uw_ocl_api.clGetPlatformInfo
#define clGetProgramBuildInfo uw_ocl_api.clGetProgramBuildInfo
#define clReleaseCommandQueue uw_ocl_api.clReleaseCommandQueue
#define clReleaseContext uw_ocl_api.clReleaseContext
#define clReleaseKernel uw_ocl_api.clReleaseKernel
#define clReleaseMemObject uw_ocl_api.clReleaseMemObject
#define clReleaseProgram uw_ocl_api.clReleaseProgram
#define clSetKernelArg uw_ocl_api.clSetKernelArg
#endif

#endif
