#!/usr/bin/env bash
# bench/run.sh - unweight against zstd and ZipNN on real model weights, in one command.
#
#   bench/run.sh [--repeat R] [--threads N] [--build DIR] [--model NAME]... [--out STEM] [--no-e2e]
#
# 1. installs what it needs when missing: Debian `zstd` and `time`; Python packages numpy,
#    zstandard (libzstd bindings, bundles its own libzstd), zipnn (pulls in torch: several GB
#    on first install), matplotlib - into the current python3, or into a virtual environment
#    under ${XDG_CACHE_HOME:-~/.cache}/unweight/venv when pip may not touch the system Python;
# 2. builds the CLI (CMake Release) in DIR (default: build/ in the repository; env UW_BUILD);
# 3. fetches and checks the real weights (bench/fetch_weights.py; cached, no network once
#    cached): EmbeddingGemma-300M and all-MiniLM-L6-v2, FP32 upstream, BF16 by RNE;
# 4. runs the end-to-end check on the LLM (bench/e2e-real.sh: compress, verify, decompress,
#    cmp, peak RSS);
# 5. times whole processes file to file (bench/file_bench.py): unweight compress / decompress /
#    verify against the zstd CLI (-3) and ZipNN on each model file and on a file of many small
#    tensors made from the first model, each run a fresh process, best of R;
# 6. measures every codec on the same tensors in interleaved rounds (bench/compare.py) and
#    writes bench/results/DATE-HOST.md (tables), .json (every figure), .png (chart); prints
#    the tables.
# Defaults: R = 3 rounds, N = all cores. About 6-8 minutes on a 2-core VM once installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/unweight
BUILD=${UW_BUILD:-$ROOT/build}
REPEAT=3
THREADS=$(nproc)
OUT=""
E2E=1
MODELS=()
ARGS="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) REPEAT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --model) MODELS+=("$2"); shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-e2e) E2E=0; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
[ ${#MODELS[@]} -gt 0 ] || MODELS=(embeddinggemma-300m all-minilm-l6-v2)
OUT=${OUT:-$ROOT/bench/results/$(date +%F)-$(hostname -s)}
say() { echo "[run] $*" >&2; }

# 1. dependencies
missing=()
command -v zstd >/dev/null || missing+=(zstd)
[ -x /usr/bin/time ] || missing+=(time)
for p in cmake gcc make pkg-config libjansson-dev libxxhash-dev python3; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
PY=${PYTHON:-python3}
PYPKGS=(numpy "zstandard==0.25.0" "zipnn==0.5.4" "matplotlib==3.11.2")
have_py() { "$1" -c 'import numpy, zstandard, zipnn, matplotlib' >/dev/null 2>&1; }
if ! have_py "$PY"; then
  if [ -x "$CACHE/venv/bin/python" ] && have_py "$CACHE/venv/bin/python"; then
    PY=$CACHE/venv/bin/python
  else
    say "pip install ${PYPKGS[*]} (zipnn brings torch: a large first download)"
    if ! "$PY" -m pip install -q "${PYPKGS[@]}"; then
      say "pip refused the system Python: using a virtual environment in $CACHE/venv"
      "$PY" -m venv "$CACHE/venv" 2>/dev/null || {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "$PY" -m venv "$CACHE/venv"; }
      PY=$CACHE/venv/bin/python
      "$PY" -m pip install -q "${PYPKGS[@]}"
    fi
  fi
fi
have_py "$PY" || { echo "run.sh: baselines could not be installed (zstandard/zipnn)" >&2; exit 1; }

# 2. build
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j "$(nproc)" --target unweight-cli >/dev/null 2>&1 ||
  cmake --build "$BUILD" -j "$(nproc)" >/dev/null
UW=$BUILD/unweight

# 3. weights (cached)
"$PY" "$ROOT/bench/fetch_weights.py" >/dev/null
model_args=()
for m in "${MODELS[@]}"; do model_args+=(--model "$m=$CACHE/models/$m/model.safetensors"); done

# 4. end-to-end check on the LLM
TMP=$(mktemp -d "${TMPDIR:-/tmp}/uw-run.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
e2e_args=()
if [ $E2E = 1 ]; then
  UW=$UW bash "$ROOT/bench/e2e-real.sh" "$CACHE/models/${MODELS[0]}/model.safetensors" \
    --json "$TMP/e2e.json" >&2 || say "e2e check FAILED (see above)"
  [ -f "$TMP/e2e.json" ] && e2e_args=(--e2e "$TMP/e2e.json")
fi

# 5. whole processes, file to file
mkdir -p "$(dirname "$OUT")"
file_args=()
for m in "${MODELS[@]}"; do file_args+=(--file "$m=$CACHE/models/$m/model.safetensors"); done
"$PY" "$ROOT/bench/file_bench.py" --unweight "$UW" "${file_args[@]}" \
  --small-from "$CACHE/models/${MODELS[0]}/model.safetensors" --out "$TMP/files.json" \
  --repeat "$REPEAT" --threads "$THREADS" --tmp "$TMP/files" --python "$PY" >&2 ||
  say "whole-file timings FAILED (see above)"
files_args=()
[ -f "$TMP/files.json" ] && files_args=(--files "$TMP/files.json")

# 6. measurements, tables, chart
"$PY" "$ROOT/bench/compare.py" --unweight "$UW" "${model_args[@]}" --out "$OUT" \
  --repeat "$REPEAT" --threads "$THREADS" --tmp "$TMP/compare" "${e2e_args[@]}" "${files_args[@]}" \
  --command "bench/run.sh${ARGS:+ $ARGS}"
say "wrote $OUT.md $OUT.json $OUT.png"
