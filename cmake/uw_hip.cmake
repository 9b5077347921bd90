# cmake/uw_hip.cmake - the HIP backend (UW_HIP=ON): its whole build set-up, included by the
# top-level CMakeLists.txt after the `unweight_objects` target exists.
#
# The HIP backend is the CUDA backend's source (backends/cuda/*.cu, through the one-line wrappers
# in backends/hip/) compiled with CMake's HIP language; backends/cuda/uw_gpu.h maps the vendor
# names, and its namespace/symbol macros let the CUDA and HIP builds of the same files share one
# library. Not built for HIP: uw_hopper.cu (sm_90a only) and cuda_blas.cu (no hipBLAS in Debian);
# backends/hip/hip_absent.hip answers for them.
#
# Two ROCm layouts are known (UW_ROCM_PATH picks one; empty = /opt/rocm if it has HIP, else Debian):
#   - a ROCm install (/opt/rocm or UW_ROCM_PATH): CMake finds hip-lang there itself; the compiler
#     is <rocm>/llvm/bin/clang++ unless CMAKE_HIP_COMPILER or HIPCXX says otherwise;
#   - Debian 12's packages (apt-get install hipcc libamdhip64-dev: ROCm 5.2, headers in
#     /usr/include/hip, CMake packages in /usr/lib/<multiarch>/cmake): the compiler is clang++-15,
#     which needs --rocm-path=/usr --rocm-device-lib-path=/usr/lib/<multiarch>/amdgcn/bitcode;
#     CMake wants a ROCm root whose lib/cmake holds hip-lang (made here in the build tree: a
#     lib/cmake symlink) and must find amd_comgr inside its compiler checks too.
# Architectures: CMAKE_HIP_ARCHITECTURES, default gfx90a;gfx940;gfx1030 (MI200, MI300 as ROCm 5.2
# names it, RDNA2); a current ROCm takes gfx942 (MI300), gfx1100 (RDNA3), ... (docs/backends.md).
#
# Sets: HIP sources and UW_WITH_HIP on `unweight_objects`; the C++ runtime in uw_link_libs and
# UW_PC_LIBS_HIP (pkg-config). The HIP runtime is loaded at run time, never linked (below).

set(UW_ROCM_PATH "" CACHE PATH "ROCm prefix for the HIP backend (empty: /opt/rocm if it has HIP, else Debian's packages)")
if(NOT DEFINED CMAKE_HIP_ARCHITECTURES)
  set(CMAKE_HIP_ARCHITECTURES "gfx90a;gfx940;gfx1030")
endif()
set(uw_hip_multiarch "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
if(UW_ROCM_PATH)
  set(uw_rocm "${UW_ROCM_PATH}")
elseif(EXISTS /opt/rocm/lib/cmake/hip-lang/hip-lang-config.cmake)
  set(uw_rocm /opt/rocm)
elseif(EXISTS "${uw_hip_multiarch}/cmake/hip-lang/hip-lang-config.cmake")
  set(uw_rocm debian)
else()
  message(FATAL_ERROR "UW_HIP=ON: no HIP found. On Debian 12: apt-get install hipcc libamdhip64-dev; "
                      "elsewhere install ROCm or pass -DUW_ROCM_PATH=<prefix>")
endif()

if(uw_rocm STREQUAL "debian")
  # the compiler: Debian's hipcc uses clang++-15 (CMake's HIP language takes clang, never hipcc)
  if(NOT CMAKE_HIP_COMPILER AND NOT DEFINED ENV{HIPCXX})
    find_program(UW_HIP_CLANG NAMES clang++-15)
    if(NOT UW_HIP_CLANG)
      message(FATAL_ERROR "UW_HIP=ON with Debian's ROCm needs clang++-15 (apt-get install hipcc pulls it in)")
    endif()
    set(CMAKE_HIP_COMPILER "${UW_HIP_CLANG}")
  endif()
  # a ROCm root in the build tree whose lib/cmake is Debian's multiarch cmake directory
  set(uw_hip_root "${CMAKE_BINARY_DIR}/uw-rocm-root")
  file(MAKE_DIRECTORY "${uw_hip_root}/lib")
  if(NOT EXISTS "${uw_hip_root}/lib/cmake")
    file(CREATE_LINK "${uw_hip_multiarch}/cmake" "${uw_hip_root}/lib/cmake" SYMBOLIC)
  endif()
  set(CMAKE_HIP_COMPILER_ROCM_ROOT "${uw_hip_root}")
  set(uw_hip_flags "--rocm-path=/usr --rocm-device-lib-path=${uw_hip_multiarch}/amdgcn/bitcode")
  # hip-lang's config looks for amd_comgr, which lives under the multiarch directory: say where,
  # in the compiler checks' projects too
  set(amd_comgr_DIR "${uw_hip_multiarch}/cmake/amd_comgr")
  list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES amd_comgr_DIR CMAKE_HIP_COMPILER_ROCM_ROOT)
  set(uw_hip_libdirs "${uw_hip_multiarch}")
else()
  if(NOT CMAKE_HIP_COMPILER AND NOT DEFINED ENV{HIPCXX} AND EXISTS "${uw_rocm}/llvm/bin/clang++")
    set(CMAKE_HIP_COMPILER "${uw_rocm}/llvm/bin/clang++")
  endif()
  set(CMAKE_HIP_COMPILER_ROCM_ROOT "${uw_rocm}")
  set(uw_hip_flags "--rocm-path=${uw_rocm}")
  list(APPEND CMAKE_PREFIX_PATH "${uw_rocm}")
  set(uw_hip_libdirs "${uw_rocm}/lib")
endif()
if(NOT CMAKE_HIP_FLAGS MATCHES "--rocm-path=")
  string(APPEND CMAKE_HIP_FLAGS " ${uw_hip_flags}")
endif()
enable_language(HIP)

target_sources(unweight_objects PRIVATE
  backends/hip/hip_device.hip backends/hip/hip_buffers.hip backends/hip/hip_weights.hip backends/hip/hip_gemv_upload.hip
  backends/hip/hip_decode.hip backends/hip/hip_transcode.hip backends/hip/hip_matmul.hip
  backends/hip/hip_backend.hip backends/hip/hip_gemv.hip backends/hip/hip_absent.hip)
# (the library target predates enable_language: give it the architectures explicitly). Targets
# made later get none: the C programs that link libunweight (through clang, HIP being the
# library's highest-preference language) would only be told "--offload-arch unused"; a HIP
# target that needs device code sets HIP_ARCHITECTURES to UW_HIP_ARCHITECTURES itself.
set(UW_HIP_ARCHITECTURES "${CMAKE_HIP_ARCHITECTURES}")
set_target_properties(unweight_objects PROPERTIES HIP_ARCHITECTURES "${UW_HIP_ARCHITECTURES}" HIP_STANDARD 17
  HIP_STANDARD_REQUIRED ON)
set(CMAKE_HIP_ARCHITECTURES OFF)
get_property(uw_hip_targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS) # any made before this file
list(REMOVE_ITEM uw_hip_targets unweight_objects)
if(uw_hip_targets)
  set_target_properties(${uw_hip_targets} PROPERTIES HIP_ARCHITECTURES OFF)
endif()
target_compile_definitions(unweight_objects PRIVATE UW_WITH_HIP)
# warnings on (and clean) for host and device code; no silent FMA contraction (contract C2)
set(UW_HIP_WARN -Wall -Wextra -Wno-unused-parameter -ffp-contract=off)
target_compile_options(unweight_objects PRIVATE "$<$<COMPILE_LANGUAGE:HIP>:${UW_HIP_WARN}>")
# The HIP runtime is never linked: backends/hip/hip_runtime_dl.hip loads it with dlopen when the
# backend is first probed (UW_HIP_RUNTIME_DL routes the backend's hip* calls through its table and
# it defines the names the compiler's generated code calls), so a host without ROCm runs every
# other backend. Nothing may link hip-lang's amdhip64 implicitly either (HIP_RUNTIME_LIBRARY).
set(CMAKE_HIP_RUNTIME_LIBRARY None)
set_target_properties(unweight_objects PROPERTIES HIP_RUNTIME_LIBRARY None)
target_sources(unweight_objects PRIVATE backends/hip/hip_runtime_dl.hip)
set_source_files_properties(backends/hip/hip_runtime_dl.hip PROPERTIES COMPILE_OPTIONS --cuda-host-only)
target_compile_definitions(unweight_objects PRIVATE UW_HIP_RUNTIME_DL)
set(UW_HIP_RUNTIME_DL ON) # (tests/: the loader's own tests)
if(uw_rocm STREQUAL "debian")
  find_path(UW_HIP_INCLUDE_DIR NAMES hip/hip_version.h REQUIRED)
else()
  find_path(UW_HIP_INCLUDE_DIR NAMES hip/hip_version.h HINTS "${uw_rocm}/include" REQUIRED)
endif()
list(APPEND uw_link_libs stdc++)
set(UW_PC_LIBS_HIP " -lstdc++")
message(STATUS "HIP backend: ${CMAKE_HIP_COMPILER} for ${UW_HIP_ARCHITECTURES} (ROCm: ${uw_rocm}; runtime loaded at run time)")
