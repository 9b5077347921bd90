#!/usr/bin/env bash
# bench/e2e-real.sh - end-to-end check of the CLI on a real model file (issue 3, step 5).
#
# For each codec (huffman, palette): compress the whole file, `unweight verify` it (every
# compressed tensor decoded and checked against its XXH3 checksum), decompress it and `cmp`
# the result with the original byte for byte. Peak RSS and wall time of compress and
# decompress are taken with GNU time (`/usr/bin/time -v`, Debian package `time`).
#
# usage: bench/e2e-real.sh [MODEL.safetensors] [--json OUT.json]
#   MODEL defaults to the cached EmbeddingGemma-300M BF16 file made by bench/fetch_weights.py.
#   UW=path/to/unweight overrides the CLI (default: build/unweight under the repository).
# Exit status: 0 when every check passed, 1 otherwise.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/unweight
UW=${UW:-$ROOT/build/unweight}
MODEL=""
JSON=""
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) MODEL=$1; shift ;;
  esac
done
MODEL=${MODEL:-$CACHE/models/embeddinggemma-300m/model.safetensors}
[ -x "$UW" ] || { echo "e2e: no CLI at $UW (build first or set UW=)" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "e2e: no model at $MODEL (run bench/fetch_weights.py)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "e2e: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/uw-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

rss_kb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
wall_s() { sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
           awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f\n", s }'; }

orig_size=$(stat -c %s "$MODEL")
orig_sha=$(sha256sum "$MODEL" | cut -d' ' -f1)
echo "e2e: model $MODEL ($orig_size bytes, sha256 $orig_sha)"
echo "e2e: cli $UW ($("$UW" --version))"
fail=0
rows=()
for codec in huffman palette; do
  c="$TMP/m.$codec.safetensors"; d="$TMP/m.$codec.out"
  /usr/bin/time -v "$UW" compress --force "$MODEL" "$c" --codec "$codec" >"$TMP/c.log" 2>"$TMP/c.time" \
    || { echo "e2e: $codec: compress FAILED"; cat "$TMP/c.log" "$TMP/c.time" >&2; fail=1; continue; }
  csize=$(stat -c %s "$c")
  if "$UW" verify "$c" >"$TMP/v.log" 2>&1; then vres=$(tail -n 1 "$TMP/v.log"); vok=true
  else vres="FAILED: $(tail -n 1 "$TMP/v.log")"; vok=false; fail=1; fi
  /usr/bin/time -v "$UW" decompress "$c" "$d" >"$TMP/d.log" 2>"$TMP/d.time" \
    || { echo "e2e: $codec: decompress FAILED"; cat "$TMP/d.log" "$TMP/d.time" >&2; fail=1; continue; }
  if cmp -s "$MODEL" "$d"; then cmpok=true; cres="identical"; else cmpok=false; cres="DIFFER"; fail=1; fi
  crss=$(rss_kb "$TMP/c.time"); drss=$(rss_kb "$TMP/d.time")
  cw=$(wall_s "$TMP/c.time"); dw=$(wall_s "$TMP/d.time")
  awk -v c="$codec" -v s="$csize" -v o="$orig_size" -v v="$vres" -v r="$cres" 'BEGIN {
    printf "e2e: %-7s compressed %d bytes (%.2f%% of the file); verify: %s; decompress + cmp: %s\n",
           c, s, 100 * s / o, v, r }'
  awk -v c="$codec" -v a="$crss" -v b="$cw" -v d="$drss" -v e="$dw" 'BEGIN {
    printf "e2e: %-7s peak RSS compress %.1f MiB (%.2f s wall), decompress %.1f MiB (%.2f s wall)\n",
           c, a / 1024, b, d / 1024, e }'
  rows+=("{\"codec\":\"$codec\",\"compressed_bytes\":$csize,\"verify_ok\":$vok,\"verify\":\"$vres\",\"roundtrip_identical\":$cmpok,\"compress_peak_rss_kb\":$crss,\"compress_wall_s\":$cw,\"decompress_peak_rss_kb\":$drss,\"decompress_wall_s\":$dw}")
  rm -f "$c" "$d"
done
if [ -n "$JSON" ]; then
  { printf '{"model":"%s","original_bytes":%d,"original_sha256":"%s","cli":"%s","ok":%s,"runs":[' \
      "$MODEL" "$orig_size" "$orig_sha" "$("$UW" --version)" "$([ $fail = 0 ] && echo true || echo false)"
    (IFS=,; printf '%s' "${rows[*]}"); printf ']}\n'; } >"$JSON"
fi
if [ $fail = 0 ]; then echo "e2e: PASS"; else echo "e2e: FAIL"; fi
exit $fail
