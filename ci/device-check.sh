#!/usr/bin/env bash
# ci/device-check.sh - the CUDA backend on one lent H100/H200, in five stages that localise a
# fault, sized for the device tool's 420 s: stage 5 gets what the others left of 400 s (at least
# 30). Never stops at the first error: every stage runs under its own time limit, logs to the
# results folder, and the table at the end says what each stage found.
#
# Exact invocation:
#   1. here, once per change (no GPU needed; a few minutes on 2 cores), in the checkout the device
#      tool sends (the session's own, e.g. /work/main):
#        bash ci/make-device-deps.sh            # .deps: jansson/xxhash/pkg-config (the GPU image has none)
#        bash ci/device-check.sh --prepare      # .devcheck/bin.tgz: sm_90a test programs (bounded mbarrier
#                                               # waits) and bench_cuda (as released), one archive (~20 MB:
#                                               # what travels must stay under 64 MiB; it says how much)
#        bash ci/device-check.sh --dry-run      # every stage here, each reporting "no device" (< 2 minutes)
#   2. through the device tool, from the repository root:
#        run(command="bash ci/device-check.sh", carry=[".deps", ".devcheck"], timeout_s=420)
#      Results: $OUT/device-check/ (stageN-*.log, table.txt: at most 8 files, what the tool brings
#      back); the table is printed last. Without
#      .devcheck the script builds there first (-j16, two builds, a few more minutes).
#
# Stages (limits in seconds; with prebuilt binaries stage 5 gets what is left of 400 s, at most its
# 100; the run ends sooner when they pass):
#   0. binaries: $UW_DEVICE_BUILD (an existing CUDA build folder, e.g. CI's build-cuda for a dry
#      run), else the prepared ones (unpacked into build-device/prepared, the paths in their CTest
#      files rewritten to this checkout), else builds for sm_90a: the test programs with
#      UW_GPU_BOUNDED_WAITS (a hung mbarrier wait traps after 4 s), bench_cuda without.
#   1. the machine (20): nvidia-smi; `unweight backends`.
#   2. smoke (120): tests/gpu_smoke.c, one process per case under `timeout 30` with
#      CUDA_LAUNCH_BLOCKING=1: the generic kernel (plain-bf16, fused-huffman), then the Hopper
#      kernel with plain-bf16 (TMA + wgmma only), exp-predecode, palette-direct, fused-huffman;
#      64x256 then 200x320; batch 1, 17, 100; then the GEMV kernel (kernel=gemv) with the same
#      pipelines at batch 1 and 16, and fused-huffman and palette-direct at 2048x4096. Each line: C1, C2, C3's largest error / bound
#      against float64, the first bad (batch row, output row) and the bad rows mod 16 / 8.
#   3. compute-sanitizer (60): memcheck and synccheck on the smallest case, each family.
#   4. ctest -L cuda (80): every cuda test with --timeout 60; a skip counts as a failure.
#   5. benchmark (100): bench_cuda on the Llama-3.1-8B MLP shapes at full size (gate/up 14336x4096,
#      down 4096x14336, synthesised from the sample on the machine's host: ~1 s; full size because
#      the model's predictions are for these shapes, and a quarter-size matrix fits in L2) and the
#      sample's tensors, batch 1, 4, 16, 64, 256: every pipeline and cuBLAS, L2 flushed before
#      each timed call, the model's prediction under each measured row, the HBM read bandwidth,
#      the resident forms' bits per weight; C1, C2 bit for bit, C3 against float64 (failing checks).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=run
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --prepare) MODE=prepare ;;
  "") ;;
  *) echo "usage: ci/device-check.sh [--prepare | --dry-run]" >&2; exit 2 ;;
esac
PREP=.devcheck
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
# stages 1-4: the test programs, built with every mbarrier wait bounded (a hung wait traps);
# stage 5: bench_cuda built as released (a bounded wait puts a call in the Hopper kernels' loops,
# and ptxas then serialises their wgmma, C7510: not the kernels the model counts)
BINS=(unweight-cli gpu_smoke test_conformance test_tuner test_threads test_choice test_decode_reject test_cuda_async test_cuda_host_decode
  test_cuda_host_gemv)
UNP=$ROOT/build-device/prepared # where stage 0 unpacks .devcheck's archive (ignored, never carried)
use_deps() { # jansson/xxhash from .deps (ci/make-device-deps.sh): static, so binaries need nothing there
  if [ -d .deps/lib/pkgconfig ]; then
    export PKG_CONFIG_PATH="$ROOT/.deps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    command -v pkg-config >/dev/null || export PATH="$ROOT/.deps/bin:$PATH"
  fi
}
sm90_build() { # DIR JOBS SECONDS CUDA_FLAGS TARGET...
  local dir=$1 jobs=$2 secs=$3 flags=$4
  shift 4
  timeout 120 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DUW_CUDA=ON -DCMAKE_CUDA_COMPILER="$NVCC" \
    -DCMAKE_CUDA_ARCHITECTURES=90a "-DCMAKE_CUDA_FLAGS=$flags" && timeout "$secs" cmake --build "$dir" -j"$jobs" --target "$@"
}
configure_build() { sm90_build "$1" "$2" "$3" -DUW_GPU_BOUNDED_WAITS "${BINS[@]}"; } # the test programs, waits bounded
configure_bench() { sm90_build "$1" "$2" "$3" "" bench_cuda; }                      # bench_cuda as released
slim() { # DIR: what travels is the binaries (stripped) and CTest files; not the objects
  find "$1" -depth -name CMakeFiles -exec rm -rf {} +
  find "$1" \( -name '*.a' -o -name '*.ptx' -o -name '*.fatbin*' \) -delete
  for b in "${BINS[@]}" bench_cuda; do find "$1" -type f -name "${b/unweight-cli/unweight}" -exec strip {} +; done
}

if [ "$MODE" = prepare ]; then
  [ -d .deps/lib/pkgconfig ] || bash ci/make-device-deps.sh || exit 1
  use_deps
  rm -rf "$PREP" && mkdir -p "$PREP"
  configure_build "$PREP/build" "$(nproc)" 3600 && configure_bench "$PREP/bench" "$(nproc)" 3600 \
    || { echo "device-check --prepare: build failed" >&2; exit 1; }
  slim "$PREP/build" && slim "$PREP/bench"
  # The device tool sends at most 64 MiB: the working tree, untracked files and what carry names.
  # Every binary holds the same kernels (~6 MB each, ~70 MB in all), so they travel as one gzip
  # archive (~20 MB) that stage 0 unpacks outside the checkout's carried paths.
  tar -C "$PREP" -czf "$PREP/bin.tgz" build bench && rm -rf "$PREP/build" "$PREP/bench" || exit 1
  echo "$ROOT" > "$PREP/ROOT"
  tree=$(git ls-files -z -co --exclude-standard | xargs -0 du -cb 2>/dev/null | awk '$2 == "total" {t += $1} END {print t}')
  carried=$(du -sb "$PREP" .deps | awk '{t += $1} END {print t}')
  echo "device-check --prepare: $(( (tree + carried) >> 20 )) MiB would travel (working tree $(( tree >> 20 )), .devcheck + .deps $(( carried >> 20 ))); the limit is 64"
  [ $(( tree + carried )) -lt $(( 64 << 20 )) ] || { echo "device-check --prepare: over the device tool's 64 MiB" >&2; exit 1; }
  echo "device-check --prepare: ready; run(command=\"bash ci/device-check.sh\", carry=[\".deps\", \".devcheck\"], timeout_s=420)"
  exit 0
fi

RES=${OUT:-$ROOT/build-device}/device-check
rm -rf "$RES" && mkdir -p "$RES"
t_start=$(date +%s)
now() { echo $(( $(date +%s) - t_start )); }
TABLE=()
row() { TABLE+=("$(printf '%-3s %-18s %-6s %s' "$1" "$2" "$3" "$4")"); }
say() { echo "$@"; }
HAVE_GPU=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then HAVE_GPU=1; fi
[ "$MODE" = dry ] && say "device-check --dry-run: every stage, no GPU expected here"
say "device-check: $(date -u +%Y-%m-%dT%H:%M:%SZ), git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), GPU present: $HAVE_GPU"

# ---- stage 0: binaries (B: the test programs; BB: bench_cuda)
s0=$(date +%s)
B="" BB=""
if [ -n "${UW_DEVICE_BUILD:-}" ]; then
  B=$UW_DEVICE_BUILD BB=$UW_DEVICE_BUILD
  if [ -x "$B/bench_cuda" ]; then row 0 binaries ok "UW_DEVICE_BUILD=$B"; else row 0 binaries FAIL "UW_DEVICE_BUILD=$B has no bench_cuda"; B="" BB=""; fi
elif [ -f "$PREP/bin.tgz" ] && [ -f "$PREP/ROOT" ]; then
  rm -rf "$UNP" && mkdir -p "$UNP"
  { tar -C "$UNP" -xzf "$PREP/bin.tgz" ||
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PREP/bin.tgz" "$UNP"; } >"$RES/stage0-unpack.log" 2>&1
  old=$(cat "$PREP/ROOT") # the checkout --prepare ran in: the CTest files name its paths
  find "$UNP" -name CTestTestfile.cmake -exec sed -i -e "s|$old/$PREP/|@UNP@/|g" -e "s|$old|$ROOT|g" -e "s|@UNP@|$UNP|g" {} +
  if [ -x "$UNP/build/tests/gpu_smoke" ] && [ -x "$UNP/bench/bench_cuda" ]; then
    B=$UNP/build BB=$UNP/bench
    row 0 binaries ok "prepared (sm_90a; tests with bounded waits, bench as released), unpacked in $(( $(date +%s) - s0 )) s"
  else
    row 0 binaries FAIL "$PREP/bin.tgz did not unpack (stage0-unpack.log)"
  fi
elif [ "$MODE" = dry ]; then
  row 0 binaries "-" "no .devcheck (run --prepare here first): the stages below find no binaries"
else
  use_deps
  if configure_build build-device/build 16 300 >"$RES/stage0-build.log" 2>&1 &&
     configure_bench build-device/bench 16 200 >>"$RES/stage0-build.log" 2>&1; then
    B=build-device/build BB=build-device/bench
    row 0 binaries ok "built here in $(( $(date +%s) - s0 )) s ($(grep -ci warning "$RES/stage0-build.log") warning lines)"
  else
    row 0 binaries FAIL "build failed (stage0-build.log; missing .deps? run ci/make-device-deps.sh and carry .deps)"
  fi
fi
have() { [ -n "$B" ] && [ -x "$B/$1" ]; }

# ---- stage 1: the machine
s=$(date +%s)
{
  if [ "$HAVE_GPU" = 1 ]; then
    timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv
  else
    echo "nvidia-smi: no GPU"
  fi
  "$NVCC" --version 2>/dev/null | tail -1
  if have unweight; then timeout 20 "$B/unweight" backends; fi
} >"$RES/stage1-machine.log" 2>&1
card=$(grep -v "^name" "$RES/stage1-machine.log" | grep -m1 -iE "H100|H200|NVIDIA" | cut -d, -f1-2)
if [ "$HAVE_GPU" = 1 ] && grep -qE "^cuda +ok" "$RES/stage1-machine.log"; then
  row 1 machine ok "$card; unweight backends: cuda ok"
elif [ "$HAVE_GPU" = 1 ]; then
  row 1 machine FAIL "$card; unweight backends does not report cuda ok (stage1-machine.log)"
else
  row 1 machine "-" "no device$(have unweight && echo "; unweight backends: $(grep -E '^cuda' "$RES/stage1-machine.log" | tr -s ' ')")"
fi
say "stage 1: $(( $(date +%s) - s )) s"

# ---- stage 2: smoke cases
s=$(date +%s)
budget=120
np=0 nf=0 nn=0 nt=0 nskip=0
cases=()
for fam in generic hopper gemv; do
  pl="plain-bf16 fused-huffman" bs="1 17 100"
  [ $fam = generic ] || pl="plain-bf16 exp-predecode palette-direct fused-huffman"
  # (kernel=gemv: the GEMV family at batch <= 16, an error if it cannot run)
  [ $fam = gemv ] && bs="1 16"
  for p in $pl; do for shape in 64x256 200x320; do for b in $bs; do cases+=("$fam $p $shape $b"); done; done; done
done
# the GEMV family at 2048x4096: units of ~4 steps, bands over ~34 units and 5 CTAs of an H100, so
# the warps' shared-memory sums and the CTAs' flags and published sums both run
for p in fused-huffman palette-direct; do for b in 1 16; do cases+=("gemv $p 2048x4096 $b"); done
done
: >"$RES/stage2-smoke.log"
for c in "${cases[@]}"; do
  set -- $c
  if ! have tests/gpu_smoke; then nskip=$((nskip + 1)); continue; fi
  if [ $(( $(date +%s) - s )) -ge $budget ]; then
    echo "NOT RUN kernel=$1 $2 $3 b$4 (stage budget of $budget s spent)" >>"$RES/stage2-smoke.log"; nt=$((nt + 1)); continue
  fi
  rc=0
  CUDA_LAUNCH_BLOCKING=1 timeout -k 5 30 "$B/tests/gpu_smoke" cuda "kernel=$1" "$2" "$3" "$4" >>"$RES/stage2-smoke.log" 2>&1 || rc=$?
  case $rc in
    0) np=$((np + 1)) ;;
    77) nn=$((nn + 1)) ;;
    124|137) nt=$((nt + 1)); echo "TIMEOUT kernel=$1 $2 $3 b$4 (30 s)" >>"$RES/stage2-smoke.log" ;;
    *) nf=$((nf + 1)) ;;
  esac
done
total=${#cases[@]}
if [ "$nskip" = "$total" ]; then row 2 smoke "-" "no binaries"
elif [ "$nn" = "$total" ]; then row 2 smoke "-" "no device ($total cases reported no device)"
elif [ $((nf + nt)) -eq 0 ] && [ "$np" = "$total" ]; then row 2 smoke ok "$np/$total cases pass (C1, C2, C3)"
else row 2 smoke FAIL "$np pass, $nf fail, $nt timed out / not run, $nn no device of $total (first failures below)"
fi
say "stage 2: $(( $(date +%s) - s )) s"

# ---- stage 3: compute-sanitizer on the smallest case
s=$(date +%s)
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
: >"$RES/stage3-sanitizer.log"
s3=()
if ! have tests/gpu_smoke; then row 3 sanitizer "-" "no binaries"
elif [ -z "$san" ] || [ "$HAVE_GPU" = 0 ]; then row 3 sanitizer "-" "no device$([ -z "$san" ] && echo ', no compute-sanitizer')"
else
  for tool in memcheck synccheck; do for fam in hopper gemv generic; do
    if [ $(( $(date +%s) - s )) -ge 60 ]; then s3+=("$tool/$fam:not-run"); continue; fi
    rc=0
    echo "== $tool kernel=$fam fused-huffman 64x256 b1" >>"$RES/stage3-sanitizer.log"
    timeout -k 5 40 "$san" --tool "$tool" --error-exitcode 99 "$B/tests/gpu_smoke" cuda "kernel=$fam" fused-huffman 64x256 1 \
      >>"$RES/stage3-sanitizer.log" 2>&1 || rc=$?
    case $rc in 0) s3+=("$tool/$fam:ok") ;; 99) s3+=("$tool/$fam:ERRORS") ;; 124|137) s3+=("$tool/$fam:timeout") ;; *) s3+=("$tool/$fam:exit$rc") ;; esac
  done; done
  case "${s3[*]}" in *ERRORS*|*timeout*|*exit*|*not-run*) row 3 sanitizer FAIL "${s3[*]}" ;; *) row 3 sanitizer ok "${s3[*]}" ;; esac
fi
say "stage 3: $(( $(date +%s) - s )) s"

# ---- stage 4: ctest -L cuda
s=$(date +%s)
if [ -z "$B" ]; then row 4 ctest "-" "no binaries"
else
  timeout -k 5 80 ctest --test-dir "$B" -L cuda --timeout 60 -j4 --output-on-failure >"$RES/stage4-ctest.log" 2>&1
  sum=$(grep -E "tests passed|No tests were found" "$RES/stage4-ctest.log" | tail -1)
  nsk=$(grep -c "(Skipped)\|Not Run" "$RES/stage4-ctest.log" || true)
  nfl=$(grep -cE "\*\*\*Failed|\(Failed\)|\*\*\*Timeout|\*\*\*Exception|SEGFAULT" "$RES/stage4-ctest.log" || true)
  nmiss=$(grep -c "Could not find executable" "$RES/stage4-ctest.log" || true)
  if [ "$nmiss" -gt 0 ]; then row 4 ctest FAIL "$nmiss test programs missing from $B (BINS in this script)"
  elif [ "$HAVE_GPU" = 0 ]; then row 4 ctest "-" "no device ($sum; $nsk skipped)"
  elif [ "$nsk" = 0 ] && [ "$nfl" = 0 ] && grep -q "100% tests passed" "$RES/stage4-ctest.log"; then row 4 ctest ok "$sum"
  else row 4 ctest FAIL "${sum:-ctest did not finish (80 s)}; $nsk skipped (a skip is a failure here)"
  fi
fi
say "stage 4: $(( $(date +%s) - s )) s"

# ---- stage 5: the benchmark, full-size Llama MLP shapes, batch 1-256, the model beside it
s=$(date +%s)
if [ -z "$BB" ] || [ ! -x "$BB/bench_cuda" ]; then row 5 bench "-" "no binaries"
else
  rc=0
  lim5=$(( 395 - $(now) )) # what is left of 400 s less timeout's 5 s grace (the tool's limit is 420), at most 100 s
  [ "$lim5" -gt 100 ] && lim5=100
  [ "$lim5" -lt 30 ] && lim5=30
  timeout -k 5 "$lim5" "$BB/bench_cuda" tests/data/sample.safetensors --batches 1,4,16,64,256 --reps 10 \
    --log "$RES/stage5-bench-full.log" >"$RES/stage5-bench.log" 2>&1 || rc=$?
  c3=$(grep -m1 "^C3 " "$RES/stage5-bench.log" | cut -c1-120)
  case $rc in
    0) row 5 bench ok "C1 ok, C2 ok; ${c3:-C3 ?}" ;;
    77) row 5 bench "-" "no device (full-size weights synthesised and encoded in $(grep -m1 -o "encoding: [0-9.]* s" "$RES/stage5-bench.log" | cut -d' ' -f2-))" ;;
    124|137) row 5 bench FAIL "timed out ($lim5 s; stage5-bench-full.log has what it measured)" ;;
    *) row 5 bench FAIL "exit $rc: $(grep -m1 -E "MISMATCH|FAILED|bench_cuda:" "$RES/stage5-bench.log" | cut -c1-100)" ;;
  esac
fi
say "stage 5: $(( $(date +%s) - s )) s"

# ---- the table, last
{
  echo ""
  echo "== device check: $(now) s in all$([ "$MODE" = dry ] && echo ' (dry run)'); logs in $RES"
  printf '%s\n' "${TABLE[@]}"
  if [ "$nf" -gt 0 ] || [ "$nt" -gt 0 ]; then
    echo "-- smoke failures (first 8):"
    grep -E "^(FAIL|TIMEOUT|NOT RUN)" "$RES/stage2-smoke.log" | head -8 | cut -c1-230
  fi
  sed -n '/^== summary/,$p' "$RES/stage5-bench.log" 2>/dev/null | grep -v "^== summary"
} | tee "$RES/table.txt"
case "${TABLE[*]}" in *FAIL*) exit 1 ;; esac
exit 0
