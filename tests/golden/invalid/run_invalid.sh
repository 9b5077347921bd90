#!/bin/sh
# run_invalid.sh - every golden invalid file (manifest.tsv) is rejected by the CLI with its exit
# code and a message naming the problem; none crashes, hangs or leaves an output file. The
# controls are accepted. Also builds two enormous headers on the fly (too many tensors, huge).
# usage: run_invalid.sh BIN DIR WORKDIR [VMEM_KB]   (VMEM_KB: ulimit -v for every command, so
# a command that tried to allocate a declared size would fail; 0 = none, for sanitizer builds)
set -u
BIN=$1
DIR=$2
W=$3
VMEM=${4:-0}
PY=${PYTHON3:-python3}
rm -rf "$W"
mkdir -p "$W" || exit 1
nfail=0
ncheck=0
fail() {
    echo "FAIL: $*" >&2
    nfail=$((nfail + 1))
}

# run_cmd EXPECT SUBSTRING FILE CMD...: exit status and message, no crash, hang or output
run_cmd() {
    want=$1 msg=$2 file=$3
    shift 3
    ncheck=$((ncheck + 1))
    (
        [ "$VMEM" -gt 0 ] && ulimit -v "$VMEM"
        exec timeout 20 "$@"
    ) >"$W/log" 2>&1
    rc=$?
    if [ "$rc" -eq 124 ]; then fail "$file: '$*' hung (timeout)"; return; fi
    if [ "$rc" -ge 128 ]; then fail "$file: '$*' crashed (exit $rc): $(head -c 600 "$W/log")"; return; fi
    if [ "$rc" -ne "$want" ]; then fail "$file: '$*' exited $rc, expected $want: $(head -c 600 "$W/log")"; return; fi
    if [ "$msg" != "-" ] && ! grep -qF -- "$msg" "$W/log"; then fail "$file: '$*' message lacks '$msg': $(head -c 600 "$W/log")"; fi
    for left in "$W"/out*; do
        [ -e "$left" ] && [ "$want" -ne 0 ] && fail "$file: '$*' left $left behind"
    done
    rm -f "$W"/out*
}

check_file() { # FILE EXIT LEVEL MSG
    f=$DIR/$1
    case "$3" in
    control)
        run_cmd 0 - "$1" "$BIN" info "$f"
        if grep -q '"unweight"' "$f"; then
            run_cmd 0 - "$1" "$BIN" verify "$f"
            run_cmd 0 - "$1" "$BIN" decompress "$f" "$W/out.safetensors"
        else
            run_cmd 0 - "$1" "$BIN" compress "$f" "$W/out.safetensors"
        fi
        ;;
    open)
        for c in info verify; do run_cmd "$2" "$4" "$1" "$BIN" $c "$f"; done
        for c in decompress compress; do run_cmd "$2" "$4" "$1" "$BIN" $c "$f" "$W/out.safetensors"; done
        ;;
    payload)
        run_cmd 0 - "$1" "$BIN" info "$f"
        run_cmd "$2" "$4" "$1" "$BIN" verify "$f"
        run_cmd "$2" "$4" "$1" "$BIN" decompress "$f" "$W/out.safetensors"
        ;;
    *) fail "$1: unknown level '$3'" ;;
    esac
}

nfiles=0
TAB=$(printf '\t')
while IFS="$TAB" read -r file code level msg what; do
    case "$file" in '#'*|'') continue ;; esac
    [ -f "$DIR/$file" ] || { fail "$file listed in the manifest but missing"; continue; }
    nfiles=$((nfiles + 1))
    check_file "$file" "$code" "$level" "$msg"
done <"$DIR/manifest.tsv"
for f in "$DIR"/*.safetensors; do
    grep -q "^$(basename "$f")$TAB" "$DIR/manifest.tsv" || fail "$(basename "$f") is not in the manifest"
done

# enormous headers, made here rather than committed: 2^20 + 2 tensors (13 MB of JSON) and a
# 60 MB header of one number array; both must be refused before a JSON tree is built
"$PY" - "$W/gen_many.safetensors" "$W/gen_bigarray.safetensors" <<'PYEOF' || fail "could not generate the enormous headers"
import struct, sys
n = (1 << 20) + 2
js = "{" + ",".join('"t%d":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}' % i for i in range(n)) + "}"
open(sys.argv[1], "wb").write(struct.pack("<Q", len(js)) + js.encode())
js = '{"__metadata__":{},"x":{"dtype":"U8","shape":[' + ",".join(["0"] * (30 << 20)) + '],"data_offsets":[0,0]}}'
open(sys.argv[2], "wb").write(struct.pack("<Q", len(js)) + js.encode())
PYEOF
run_cmd 2 "more than 1048577 members" gen_many "$BIN" info "$W/gen_many.safetensors"
run_cmd 2 "more than 8 values" gen_bigarray "$BIN" info "$W/gen_bigarray.safetensors"
rm -f "$W"/gen_*.safetensors

echo "$nfiles files, $ncheck command runs, $nfail failures"
[ "$nfail" -eq 0 ] && [ "$nfiles" -gt 0 ]
