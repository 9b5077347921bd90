#!/bin/sh
# mlp_e2e_test.sh CLI MLP BACKEND WORKDIR - contract C2 for whole MLP blocks: a tiny Llama-shaped
# file is compressed, then unweight-mlp runs every block from the original and from the
# compressed file (tuner's choices) at batch 1, 8, 64 and must report identical outputs.
set -eu
CLI=$1 MLP=$2 BACKEND=$3 W=$4
rm -rf "$W" && mkdir -p "$W"
python3 "$(dirname "$0")/make_tiny_llama.py" "$W/tiny.safetensors"
"$CLI" compress "$W/tiny.safetensors" "$W/tiny.uw.safetensors" --select mlp
"$MLP" "$W/tiny.safetensors" "$W/tiny.uw.safetensors" --backend "$BACKEND" --batch 1,8,64 --cache "$W/tuning.tsv" | tee "$W/out.txt"
grep -q "^6 block runs, 0 bitwise mismatches$" "$W/out.txt"
echo "second run reuses the tuning cache"
"$MLP" "$W/tiny.safetensors" "$W/tiny.uw.safetensors" --backend "$BACKEND" --batch 1,8,64 --cache "$W/tuning.tsv" > "$W/out2.txt"
grep -q "^6 block runs, 0 bitwise mismatches$" "$W/out2.txt"
[ "$(grep -vc '^#' "$W/tuning.tsv")" -eq 6 ] || { echo "expected 6 tuning entries"; exit 1; }
