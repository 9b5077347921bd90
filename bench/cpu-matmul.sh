#!/usr/bin/env bash
# bench/cpu-matmul.sh - the CPU matmul benchmark in one command: builds bench_cpu_mm (Release,
# in build-bench/), installs PyTorch and matplotlib into a virtual environment outside the
# repository if absent (${XDG_CACHE_HOME:-~/.cache}/unweight/venv; PyTorch columns are left out
# if that fails), fetches EmbeddingGemma's real weights (bench/fetch-weights.sh), then runs every
# pipeline, plain-bf16, PyTorch F.linear and the read bandwidth interleaved matrix by matrix and
# writes bench/results/DATE-cpu-matmul.{md,json,png}. Extra arguments go to bench_cpu_mm
# (e.g. --batch 1,16 --threads 1 --reps 2); see bench/bench_cpu_mm.c.
# The CPU's best kernel level runs (the device name in each table says which). Where it is amx
# (AMX-BF16 tiles from batch 16 on), a second run at UW_CPU_ISA=avx512bf16 writes
# DATE-cpu-matmul-avx512bf16.{md,json} for the same shapes: tiles against vdpbf16ps. A CPU whose
# AMX failed the self-test shows "avx512bf16 (amx not bit-compatible)" instead.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${UW_BENCH_BUILD:-$ROOT/build-bench}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/unweight
VENV=${UW_BENCH_VENV:-$CACHE/venv}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DUW_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target bench_cpu_mm -j2 >/dev/null
if ! "$VENV/bin/python" -c 'import torch, matplotlib' 2>/dev/null; then
  echo "[bench] installing torch, numpy and matplotlib into $VENV (once)" >&2
  { python3 -m venv "$VENV" && "$VENV/bin/python" -m pip install -q numpy torch matplotlib; } ||
    echo "[bench] PyTorch could not be installed: its columns will be missing" >&2
fi
PY=python3
TORCH=()
if "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  PY="$VENV/bin/python"
  TORCH=(--torch "$VENV/bin/python $ROOT/bench/torch_linear.py")
fi
GEMMA=()
if G=$(PYTHON=$PY bash "$ROOT/bench/fetch-weights.sh" --model embeddinggemma-300m 2>/dev/null |
       awk -F'\t' '$1 == "embeddinggemma-300m" { print $2 }') && [ -n "$G" ]; then
  GEMMA=(--gemma "$G")
else
  echo "[bench] EmbeddingGemma weights unavailable: real-weight rows left out" >&2
fi
mkdir -p "$ROOT/bench/results"
OUT=${UW_BENCH_OUT:-$ROOT/bench/results/$(date +%F)-cpu-matmul} # UW_BENCH_OUT: another stem
{
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
       "$(lscpu | grep -E '^L3' | tr -s ' ')"
  echo "date: $(date -u '+%F %H:%M UTC'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command: bench/cpu-matmul.sh $*"
  "$BUILD/bench_cpu_mm" "${GEMMA[@]}" "${TORCH[@]}" --json "$OUT.json" "$@"
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT.md"
"$PY" "$ROOT/bench/cpu_matmul_chart.py" "$OUT.json" "$OUT.png" || echo "[bench] no chart (matplotlib missing)" >&2
echo "[bench] wrote $OUT.md, $OUT.json, $OUT.png" >&2
if grep -q ' threads*, amx)' "$OUT.md"; then
  echo "[bench] the amx level ran: the same at UW_CPU_ISA=avx512bf16 for comparison" >&2
  {
    echo "machine: as in $(basename "$OUT").md; level forced: UW_CPU_ISA=avx512bf16"
    UW_CPU_ISA=avx512bf16 "$BUILD/bench_cpu_mm" "${GEMMA[@]}" "${TORCH[@]}" --json "$OUT-avx512bf16.json" "$@"
  } | tee "$OUT-avx512bf16.md"
  echo "[bench] wrote $OUT-avx512bf16.md, $OUT-avx512bf16.json" >&2
fi
