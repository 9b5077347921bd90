#!/usr/bin/env bash
# ci/quickstart.sh - the README's first command: install dependencies, build, then run the main
# job on the built-in sample of real weights: compress, verify, show the info table and speed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
in=tests/data/sample.safetensors
out=$(mktemp -d)/sample.uw.safetensors
echo "== unweight compress $in $out"
./build/unweight compress "$in" "$out"
echo "== unweight verify"
./build/unweight verify "$out"
echo "== unweight info"
./build/unweight info "$out"
echo "== unweight bench (decode/encode speed)"
./build/unweight bench "$out" --repeat 3
