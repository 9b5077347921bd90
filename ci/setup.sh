#!/usr/bin/env bash
# ci/setup.sh - install what building and testing unweight needs on Debian 12 (idempotent).
set -euo pipefail
pkgs=(cmake gcc make pkg-config libjansson-dev libxxhash-dev python3)
# the Python package (ci/python-test.sh): a virtual environment for pip (Debian's python3 needs it)
pkgs+=(python3-venv)
# ci/kernel-budget.py installs NVIDIA's disassembler wheels with pip (--target, no system change)
pkgs+=(python3-pip)
# valgrind: the CLI round trip under memcheck (ctest valgrind_cli_roundtrip_clean)
pkgs+=(valgrind)
# the OpenCL backend (-DUW_OPENCL=ON): headers, the ICD loader, and PoCL as a CPU device for CI
pkgs+=(ocl-icd-opencl-dev opencl-headers pocl-opencl-icd)
# the HIP backend (-DUW_HIP=ON, cmake/uw_hip.cmake): Debian's ROCm 5.2 compiler driver (pulls in
# clang-15, lld-15, rocm-device-libs) and the HIP runtime and headers; compile only, no AMD GPU
pkgs+=(hipcc libamdhip64-dev)
# the HIP backend on HIP-CPU (-DUW_HIP_CPU=ON, cmake/uw_hip_cpu.cmake): its kernels run on the CPU in
# CI; HIP-CPU itself is header-only (../shared/third_party/HIP-CPU) and needs TBB
pkgs+=(libtbb-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}"
fi
