# cmake/uw_hip_cpu.cmake - the HIP backend on HIP-CPU (UW_HIP_CPU=ON), included by the top-level
# CMakeLists.txt after the `unweight_objects` target exists.
#
# The HIP backend's sources (backends/hip/*.hip: the CUDA kernel sources through
# backends/cuda/uw_gpu.h) compiled as C++17 by the host compiler against the HIP CPU Runtime
# (header-only, github.com/ROCm/HIP-CPU), so `uw_device_open("hip", ...)` opens a device that runs
# the very kernels on the CPU ("HIP-CPU on <cpu>"). It is how CI executes the GPU kernels: no ROCm,
# no hipcc, no libamdhip64 (never linked or loaded); TBB and pthreads only. Not for speed.
#
# UW_HIP_CPU_ROOT: the HIP-CPU checkout (its include/hip/hip_runtime.h); default
# ../shared/third_party/HIP-CPU next to the repository (the project's pinned copy, see its
# ORIGIN.md; ../../shared from a worktree, or $UW_HIP_CPU_ROOT). Needs libtbb-dev (Debian; ci/setup.sh installs it). Exclusive with UW_HIP (both
# are "the hip backend").
#
# Sets: HIP sources, UW_WITH_HIP and UW_GPU_HIP(_CPU) on `unweight_objects`; TBB and the C++ runtime
# in uw_link_libs; UW_PC_LIBS_HIP (pkg-config); UW_HIP_CPU_CXX_FLAGS and UW_HIP_CPU_DEFS (what the
# tests compiled against the shim use too).

if(UW_HIP)
  message(FATAL_ERROR "UW_HIP and UW_HIP_CPU are both the hip backend: pick one")
endif()
# default: $ENV{UW_HIP_CPU_ROOT}, else the first of ../shared and ../../shared (a git worktree one
# level further down) that holds third_party/HIP-CPU
set(uw_hip_cpu_default "$ENV{UW_HIP_CPU_ROOT}")
if(NOT uw_hip_cpu_default)
  foreach(uw_up ".." "../..")
    get_filename_component(uw_try "${CMAKE_CURRENT_SOURCE_DIR}/${uw_up}/shared/third_party/HIP-CPU" ABSOLUTE)
    if(NOT uw_hip_cpu_default AND EXISTS "${uw_try}/include/hip/hip_runtime.h")
      set(uw_hip_cpu_default "${uw_try}")
    endif()
  endforeach()
endif()
set(UW_HIP_CPU_ROOT "${uw_hip_cpu_default}" CACHE PATH "HIP-CPU checkout (include/hip/hip_runtime.h) for UW_HIP_CPU")
if(NOT EXISTS "${UW_HIP_CPU_ROOT}/include/hip/hip_runtime.h")
  message(FATAL_ERROR "UW_HIP_CPU=ON: no HIP-CPU at UW_HIP_CPU_ROOT=${UW_HIP_CPU_ROOT} (want include/hip/hip_runtime.h; "
                      "git clone https://github.com/ROCm/HIP-CPU and pass -DUW_HIP_CPU_ROOT=<it>)")
endif()
enable_language(CXX)
find_package(TBB QUIET)
if(NOT TBB_FOUND)
  message(FATAL_ERROR "UW_HIP_CPU=ON needs TBB (HIP-CPU's parallel algorithms): apt-get install libtbb-dev")
endif()

set(uw_hip_cpu_sources
  backends/hip/hip_device.hip backends/hip/hip_buffers.hip backends/hip/hip_weights.hip backends/hip/hip_gemv_upload.hip
  backends/hip/hip_decode.hip backends/hip/hip_transcode.hip backends/hip/hip_matmul.hip
  backends/hip/hip_backend.hip backends/hip/hip_gemv.hip backends/hip/hip_absent.hip)
# .hip is not a C++ extension to g++: say the language (-x c++ before the file)
set_source_files_properties(${uw_hip_cpu_sources} PROPERTIES LANGUAGE CXX)
target_sources(unweight_objects PRIVATE ${uw_hip_cpu_sources})
set_target_properties(unweight_objects PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF
  CXX_VISIBILITY_PRESET hidden)
target_include_directories(unweight_objects SYSTEM PRIVATE "${UW_HIP_CPU_ROOT}/include")
target_compile_definitions(unweight_objects PRIVATE UW_WITH_HIP)

# -x c++: the .hip files; -ffp-contract=off: no silent FMA contraction (contract C2);
# -fno-extern-tls-init: HIP-CPU's __shared__ is thread_local, and GCC would otherwise call TLS
# init wrappers nobody defines; -mfma where the build machine has FMA (fmaf in the band product is
# a libm call without it: ~4x slower, same results: fmaf is exact either way); the kernels'
# `#pragma unroll` is nvcc's and clang's, unknown to GCC.
include(CheckCXXSourceRuns)
set(CMAKE_REQUIRED_FLAGS -mfma)
check_cxx_source_runs("int main() { return __builtin_cpu_supports(\"fma\") ? 0 : 1; }" UW_HIP_CPU_HAVE_FMA)
unset(CMAKE_REQUIRED_FLAGS)
set(UW_HIP_CPU_CXX_FLAGS -ffp-contract=off -fno-extern-tls-init -Wno-unknown-pragmas)
if(UW_HIP_CPU_HAVE_FMA)
  list(APPEND UW_HIP_CPU_CXX_FLAGS -mfma)
endif()
set(UW_HIP_CPU_DEFS UW_GPU_HIP UW_GPU_HIP_CPU)
target_compile_definitions(unweight_objects PRIVATE ${UW_HIP_CPU_DEFS})
target_compile_options(unweight_objects PRIVATE
  "$<$<COMPILE_LANGUAGE:CXX>:-x;c++;${UW_HIP_CPU_CXX_FLAGS};-Wall;-Wextra;-Wno-unused-parameter>")
list(APPEND uw_link_libs TBB::tbb Threads::Threads stdc++)
set(UW_PC_LIBS_HIP " -ltbb -lstdc++")
message(STATUS "HIP backend on HIP-CPU: ${CMAKE_CXX_COMPILER} against ${UW_HIP_CPU_ROOT} (kernels run on the CPU)")
