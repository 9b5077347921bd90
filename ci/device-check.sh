#!/usr/bin/env bash
# ci/device-check.sh - the CUDA backend's device check, one script for a lent GPU machine.
#
# Exact invocation:
#   1. here, once (this machine has the Debian packages; the GPU image has no jansson/xxhash):
#        bash ci/make-device-deps.sh
#   2. through the device tool, from the repository root (H100, whole script under 8 minutes):
#        run(command="bash ci/device-check.sh", carry=[".deps"], timeout_s=560)
#      The full log and the benchmark log land in $OUT (device-check.log, bench.log).
#   3. here, without a GPU (what runs without one: configure, build, the tests reporting
#      "no device", the benchmark's CPU part):
#        bash ci/device-check.sh --dry-run
#
# Steps: configure (-DUW_CUDA=ON, CMAKE_CUDA_ARCHITECTURES=${UW_CUDA_ARCH:-90a}, Release),
# build (-j16; -j2 in a dry run), a SASS check (HGMMA in the Hopper kernels, HMMA in the generic
# ones), ctest -L cuda (on a GPU every test must run and pass: a skip is a failure), then
# bench_cuda: every pipeline and cuBLAS BF16 on the Llama-3.1-8B MLP shapes (synthetic weights
# with the sample's exponent histogram) and on the sample's tensors, batch 1, 4, 16, 64, 256.
# The benchmark's short table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUTDIR=${OUT:-build-device}
mkdir -p "$OUTDIR"
LOG="$OUTDIR/device-check.log"
: > "$LOG"
B=${UW_DEVICE_BUILD:-build-device/build}
ARCH=${UW_CUDA_ARCH:-90a}
JOBS=16
[ "$DRY" = 1 ] && JOBS=2
t_start=$(date +%s)
log() { echo "$@" | tee -a "$LOG"; }
step() { log ""; log "== $* ($(( $(date +%s) - t_start )) s)"; }
status=()

step "machine"
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  nvcc_bin=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  "$nvcc_bin" --version | tail -2
  cmake --version | head -1
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(git status --short 2>/dev/null | wc -l) changed files"
} 2>&1 | tee -a "$LOG"
nvcc_bin=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)

# jansson/xxhash from .deps (ci/make-device-deps.sh) when the machine has none
if [ -d .deps/lib/pkgconfig ]; then
  export PKG_CONFIG_PATH="$PWD/.deps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  command -v pkg-config >/dev/null || export PATH="$PWD/.deps/bin:$PATH"
fi

step "configure (CUDA architectures $ARCH)"
if ! cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DUW_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc_bin" \
     -DCMAKE_CUDA_ARCHITECTURES="$ARCH" >>"$LOG" 2>&1; then
  tail -30 "$LOG"
  log "device-check: configure FAILED (missing .deps? run ci/make-device-deps.sh here and carry .deps)"
  exit 1
fi
status+=("configure ok")

step "build -j$JOBS"
if ! cmake --build "$B" -j"$JOBS" >>"$LOG" 2>&1; then
  grep -E "error|Error" "$LOG" | tail -30
  log "device-check: build FAILED"
  exit 1
fi
nwarn=$(grep -ciE "warning" "$LOG" || true)
status+=("build ok ($nwarn warning lines)")

step "SASS: tensor-core instructions per kernel family"
objdump_bin=$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null || true)
objdir="$B/CMakeFiles/unweight.dir/backends/cuda"
if [ -n "$objdump_bin" ] && [ -f "$objdir/uw_hopper.cu.o" ]; then
  hg=$("$objdump_bin" -sass "$objdir/uw_hopper.cu.o" 2>/dev/null | grep -c HGMMA || true)
  hm=$("$objdump_bin" -sass "$objdir/cuda_matmul.cu.o" 2>/dev/null | grep -c HMMA || true)
  sp=$("$objdump_bin" -res-usage "$objdir/uw_hopper.cu.o" "$objdir/cuda_matmul.cu.o" 2>/dev/null | grep -c "LOCAL:[1-9]" || true)
  log "HGMMA instructions in the Hopper kernels: $hg; HMMA in the generic kernels: $hm; kernels with local memory: $sp"
  status+=("sass: HGMMA $hg, HMMA $hm")
else
  log "cuobjdump not found: SASS check skipped"
fi

step "ctest -L cuda"
ctest --test-dir "$B" -L cuda --output-on-failure --timeout 240 2>&1 | tee "$OUTDIR/ctest.log" >>"$LOG"
tail -15 "$OUTDIR/ctest.log"
ct=$(grep -E "tests passed|tests failed" "$OUTDIR/ctest.log" | tail -1)
nskip=$(grep -c "Skipped" "$OUTDIR/ctest.log" || true)
nfail=$(grep -cE "\*\*\*Failed|\(Failed\)|\*\*\*Timeout|\*\*\*Exception" "$OUTDIR/ctest.log" || true)
if [ "$DRY" = 1 ]; then
  status+=("ctest: $ct; $nskip skipped lines (no device expected)")
elif [ "$nskip" -gt 0 ] || [ "$nfail" -gt 0 ] || ! grep -q "tests passed" "$OUTDIR/ctest.log"; then
  status+=("ctest FAILED: $ct; skipped lines $nskip")
else
  status+=("ctest: $ct")
fi

step "benchmark"
rc=0
timeout 300 "$B/bench_cuda" tests/data/sample.safetensors --log "$OUTDIR/bench.log" --reps 20 >"$OUTDIR/bench.out" 2>&1 || rc=$?
cat "$OUTDIR/bench.out" >>"$LOG"
case "$rc" in
  0) status+=("bench ok") ;;
  77) status+=("bench: no device (sizes only)") ;;
  *) status+=("bench FAILED (exit $rc)") ;;
esac

step "result ($(( $(date +%s) - t_start )) s in all)"
for s in "${status[@]}"; do log "  $s"; done
# the short table last
log ""
sed -n '/^== summary/,$p' "$OUTDIR/bench.out" | tee -a "$LOG"
if [ "$DRY" = 1 ]; then
  log "device-check --dry-run: no GPU here; built, tests reported no device, sizes measured"
  exit 0
fi
case "${status[*]}" in *FAILED*) exit 1 ;; esac
exit 0
