#!/usr/bin/env bash
# ci/test.sh - the README's second command: build (if needed) and run the whole test suite:
# CTest (arguments go to ctest), then the Python package's tests (ci/python-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
bash ci/python-test.sh
