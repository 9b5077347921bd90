#!/bin/sh
# valgrind_roundtrip.sh - the CLI under valgrind (memcheck, full leak check): compress, verify,
# info, decompress of a small real-weights file (byte-identical round trip), and two rejected
# inputs (error paths). Any memcheck error or leak fails the run (exit 99).
# usage: valgrind_roundtrip.sh VALGRIND BIN PLAIN.safetensors INVALID_DIR WORKDIR
set -u
VG=$1 BIN=$2 IN=$3 INV=$4 W=$5
rm -rf "$W"
mkdir -p "$W" || exit 1
vg() {
    want=$1
    shift
    "$VG" -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all "$BIN" "$@" >"$W/log" 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        cat "$W/log" >&2
        echo "FAIL: valgrind $BIN $* exited $rc, expected $want" >&2
        exit 1
    fi
    echo "ok: $* (exit $rc, valgrind clean)"
}
vg 0 compress "$IN" "$W/c.safetensors" --threads 2
vg 0 verify "$W/c.safetensors" --threads 2
vg 0 info "$W/c.safetensors"
vg 0 decompress "$W/c.safetensors" "$W/d.safetensors" --threads 2
cmp "$IN" "$W/d.safetensors" || { echo "FAIL: round trip differs" >&2; exit 1; }
vg 2 decompress "$INV/flip_blob_stream.safetensors" "$W/e.safetensors"
vg 2 info "$INV/json_duplicate_key.safetensors"
echo "PASS"
