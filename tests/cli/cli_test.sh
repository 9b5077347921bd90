#!/bin/sh
# cli_test.sh - end-to-end checks of the `unweight` command-line tool.
# usage: cli_test.sh BIN SAMPLE WORKDIR GROUP
#   GROUP: roundtrip | verify | info | bench | sharded | usage | corrupt | io | overwrite
# Each check prints what it checks; the first mismatch prints FAIL and exits non-zero.
set -u

if [ $# -ne 4 ]; then
    echo "usage: $0 BIN SAMPLE WORKDIR GROUP" >&2
    exit 2
fi
BIN=$1
SAMPLE=$2
W=$3/$4
GROUP=$4
PY=${PYTHON3:-python3}

rm -rf "$W"
mkdir -p "$W" || exit 1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
check() {
    echo "CHECK: $*"
}

# run CMD..., capture $W/stdout and $W/stderr, require exit status $1
expect_rc() {
    want=$1
    shift
    "$@" >"$W/stdout" 2>"$W/stderr"
    rc=$?
    if [ "$rc" != "$want" ]; then
        echo "--- stdout:" >&2; cat "$W/stdout" >&2
        echo "--- stderr:" >&2; cat "$W/stderr" >&2
        fail "expected exit $want, got $rc from: $*"
    fi
}

# a failed command wrote exactly one line "unweight: ..." on stderr, naming $1 if given
one_error_line() {
    n=$(wc -l <"$W/stderr")
    [ "$n" -eq 1 ] || { cat "$W/stderr" >&2; fail "expected exactly one line on stderr, got $n"; }
    grep -q '^unweight: ' "$W/stderr" || { cat "$W/stderr" >&2; fail "stderr line does not start with 'unweight: '"; }
    if [ $# -ge 1 ]; then
        grep -qF -- "$1" "$W/stderr" || { cat "$W/stderr" >&2; fail "error message does not name '$1'"; }
    fi
}

# nothing named out* (outputs or their temporaries) is left in directory $1
no_outputs() {
    for f in "$1"/out*; do
        [ -e "$f" ] && fail "leftover output after a failed command: $f"
    done
    return 0
}

same_bytes() {
    cmp "$1" "$2" >/dev/null || fail "$2 differs from $1"
}

# Expected counts, read from the sample itself (it may be regenerated): NTENS tensors, NCOMP of
# them selected by --select all (BF16, 2+ dims, >= 4096 elements), NRAW left as they are.
counts=$("$PY" - "$SAMPLE" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
h.pop("__metadata__", None)
def numel(s):
    r = 1
    for d in s:
        r *= d
    return r
c = sum(1 for t in h.values() if t["dtype"] == "BF16" and len(t["shape"]) >= 2 and numel(t["shape"]) >= 4096)
print(len(h), c, len(h) - c)
EOF
) || fail "cannot read the sample's header"
set -- $counts
NTENS=$1
NCOMP=$2
NRAW=$3
[ "$NCOMP" -ge 2 ] || fail "the sample has fewer than 2 compressible tensors ($NCOMP)"

compressed_sample() { # $1: path of the compressed copy to make
    expect_rc 0 "$BIN" compress "$SAMPLE" "$1"
}

case "$GROUP" in

roundtrip)
    for args in "--select all" "--select mlp" "--codec palette" "--threads 1" "--select mlp --codec palette --threads 1" ""; do
        check "compress $args -> decompress reproduces the sample byte for byte"
        rm -f "$W/c.safetensors" "$W/d.safetensors"
        # shellcheck disable=SC2086
        expect_rc 0 "$BIN" compress "$SAMPLE" "$W/c.safetensors" $args
        [ -s "$W/stderr" ] && fail "compress wrote to stderr although stderr is not a terminal: $(cat "$W/stderr")"
        [ "$(wc -c <"$W/c.safetensors")" -lt "$(wc -c <"$SAMPLE")" ] || fail "compressed file is not smaller ($args)"
        expect_rc 0 "$BIN" decompress "$W/c.safetensors" "$W/d.safetensors"
        same_bytes "$SAMPLE" "$W/d.safetensors"
        ls "$W" | grep -q '\.tmp\.' && fail "temporary file left behind: $(ls "$W")"
    done
    check "--name=value option form works"
    expect_rc 0 "$BIN" compress "$SAMPLE" "$W/e.safetensors" --select=mlp --threads=2
    expect_rc 0 "$BIN" decompress "$W/e.safetensors" "$W/f.safetensors" --threads=1
    same_bytes "$SAMPLE" "$W/f.safetensors"
    check "--select mlp compresses fewer tensors than --select all"
    expect_rc 0 "$BIN" info --json "$W/e.safetensors"
    mlp=$(grep -c '"codec":"huffman"' "$W/stdout")
    expect_rc 0 "$BIN" compress "$SAMPLE" "$W/g.safetensors"
    expect_rc 0 "$BIN" info --json "$W/g.safetensors"
    all=$(grep -c '"codec":"huffman"' "$W/stdout")
    [ "$mlp" -gt 0 ] && [ "$mlp" -lt "$all" ] || fail "mlp selected $mlp tensors, all selected $all"
    check "unusual valid files round-trip byte for byte (no tensors, zero elements, reordered offsets, all dtypes, unicode names)"
    mkdir -p "$W/odd"
    "$PY" "$(dirname "$0")/odd_files.py" "$W/odd" || fail "could not write the odd files"
    for f in "$W"/odd/*.safetensors; do
        case "$f" in *.c.safetensors|*.d.safetensors) continue ;; esac
        expect_rc 0 "$BIN" compress "$f" "$f.c.safetensors"
        expect_rc 0 "$BIN" decompress "$f.c.safetensors" "$f.d.safetensors"
        same_bytes "$f" "$f.d.safetensors"
    done
    check "the compressed file is the same bytes for --threads 1 and --threads 2 (deterministic output)"
    expect_rc 0 "$BIN" compress "$SAMPLE" "$W/t1.safetensors" --threads 1
    expect_rc 0 "$BIN" compress "$SAMPLE" "$W/t2.safetensors" --threads 2
    same_bytes "$W/t1.safetensors" "$W/t2.safetensors"
    ;;

verify)
    compressed_sample "$W/c.safetensors"
    check "verify of a good compressed file exits 0 and reports every tensor"
    expect_rc 0 "$BIN" verify "$W/c.safetensors"
    grep -q "^verified $NTENS tensors, 0 failed\$" "$W/stdout" || fail "unexpected summary: $(cat "$W/stdout")"
    check "verify --threads 1 also exits 0"
    expect_rc 0 "$BIN" verify "$W/c.safetensors" --threads 1
    check "verify of a palette-coded file exits 0"
    expect_rc 0 "$BIN" compress "$SAMPLE" "$W/p.safetensors" --codec palette
    expect_rc 0 "$BIN" verify "$W/p.safetensors"
    check "verify of a plain (uncompressed) file exits 2 with 'not an unweight-compressed file'"
    expect_rc 2 "$BIN" verify "$SAMPLE"
    one_error_line "$SAMPLE"
    grep -q 'not an unweight-compressed file' "$W/stderr" || fail "message: $(cat "$W/stderr")"
    ;;

info)
    compressed_sample "$W/c.safetensors"
    check "info prints per-tensor rows and the totals"
    expect_rc 0 "$BIN" info "$W/c.safetensors"
    cat "$W/stdout"
    [ "$(grep -c ' huffman ' "$W/stdout")" -eq "$NCOMP" ] || fail "expected $NCOMP huffman rows"
    [ "$(grep -c ' raw ' "$W/stdout")" -eq "$NRAW" ] || fail "expected $NRAW raw rows"
    grep -q "^compressed: $NCOMP tensors" "$W/stdout" || fail "compressed totals line missing"
    grep -q '^order-0 bound' "$W/stdout" || fail "bound line missing"
    grep -q 'file bits/weight incl. all metadata' "$W/stdout" || fail "file line missing"
    check "info --json is valid JSON with file, tensors, totals"
    expect_rc 0 "$BIN" info --json "$W/c.safetensors"
    "$PY" -m json.tool "$W/stdout" >/dev/null || fail "info --json is not valid JSON"
    "$PY" - "$W/stdout" "$W/c.safetensors" "$NTENS" "$NCOMP" <<'EOF' || fail "info --json content"
import json, os, sys
d = json.load(open(sys.argv[1]))
assert d["file"] == sys.argv[2], d["file"]
ts, tot = d["tensors"], d["totals"]
nt, nc = int(sys.argv[3]), int(sys.argv[4])
assert len(ts) == nt and tot["tensors"] == nt
comp = [t for t in ts if t["codec"] != "raw"]
assert len(comp) == nc == tot["compressed_tensors"]
n = sum(t["numel"] for t in comp)
b = sum(t["stored_bytes"] for t in comp)
assert n == tot["compressed_numel"] and b == tot["compressed_stored_bytes"]
assert abs(tot["bits_per_weight"] - b * 8 / n) < 1e-5
bound = sum(t["numel"] * (8 + t["exp_entropy"]) for t in comp) / n
assert abs(tot["bound_bits_per_weight"] - bound) < 1e-4
assert abs(tot["gap_bits_per_weight"] - (tot["bits_per_weight"] - tot["bound_bits_per_weight"])) < 1e-5
assert tot["file_size"] == os.path.getsize(sys.argv[2])
assert 8 <= tot["bits_per_weight"] < 16 and tot["file_bits_per_weight"] >= tot["bits_per_weight"]
for t in comp:
    assert 0 <= t["exp_entropy"] <= 8 and abs(t["bound_bits_per_weight"] - 8 - t["exp_entropy"]) < 1e-5
print("info --json totals:", json.dumps(tot))
EOF
    check "info of a plain file works (all tensors raw) and its JSON is valid"
    expect_rc 0 "$BIN" info "$SAMPLE"
    grep -q 'not compressed' "$W/stdout" || fail "plain file not described as such"
    expect_rc 0 "$BIN" info "$SAMPLE" --json
    "$PY" -m json.tool "$W/stdout" >/dev/null || fail "info --json (plain) is not valid JSON"
    check "info --json escapes names: a tensor name with quote, backslash and control chars"
    "$PY" - "$W/odd.safetensors" <<'EOF' || fail "could not build the odd-name file"
import json, struct, sys
name = 'we"ird\\name\t\u00e9'
data = bytes(4096 * 2)
hdr = json.dumps({name: {"dtype": "BF16", "shape": [64, 64], "data_offsets": [0, len(data)]}}).encode()
hdr += b" " * (-len(hdr) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(hdr)) + hdr + data)
EOF
    expect_rc 0 "$BIN" info --json "$W/odd.safetensors"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["tensors"][0]["name"] == "we\"ird\\name\t\u00e9"' "$W/stdout" ||
        fail "escaped name does not round-trip through JSON"
    ;;

bench)
    compressed_sample "$W/c.safetensors"
    check "bench --json --repeat 1 on a compressed file gives valid JSON with all columns"
    expect_rc 0 "$BIN" bench "$W/c.safetensors" --json --repeat 1
    "$PY" - "$W/stdout" "$NCOMP" <<'EOF' || fail "bench --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["machine"]["cores"] >= 1 and d["repeat"] == 1
b = d["backends"][0]
assert b["name"] == "cpu" and len(b["tensors"]) == int(sys.argv[2])
for k in ("encode_1t", "encode_nt", "decode_1t", "decode_nt", "memcpy"):
    assert b["total"][k + "_gbps"] > 0, k
print("bench total:", json.dumps(b["total"]))
EOF
    check "bench on a plain file (encodes first) runs, text output has a total row"
    expect_rc 0 "$BIN" bench "$SAMPLE" --repeat 1 --threads 2 --backend cpu
    cat "$W/stdout"
    grep -q '^machine: ' "$W/stdout" || fail "no machine line"
    grep -q '^total ' "$W/stdout" || fail "no total row"
    check "bench --backend with an unknown name is a usage error"
    expect_rc 1 "$BIN" bench "$SAMPLE" --backend nosuch
    one_error_line nosuch
    check "backends lists cpu as ok"
    expect_rc 0 "$BIN" backends
    grep -q '^cpu *ok$' "$W/stdout" || fail "backends: $(cat "$W/stdout")"
    ;;

sharded)
    mkdir -p "$W/in" "$W/c" "$W/d"
    check "split the sample into two shards + model.safetensors.index.json"
    "$PY" - "$SAMPLE" "$W/in" <<'EOF' || fail "could not build the shards"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
meta = hdr.pop("__metadata__", None)
data = raw[8 + n:]
names = sorted(hdr)
groups = [names[0::2], names[1::2]]
files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
wm, total = {}, 0
for g, fn in zip(groups, files):
    out, blobs, off = {}, [], 0
    if meta:
        out["__metadata__"] = meta
    for k in g:
        b, e = hdr[k]["data_offsets"]
        blobs.append(data[b:e])
        out[k] = {"dtype": hdr[k]["dtype"], "shape": hdr[k]["shape"], "data_offsets": [off, off + e - b]}
        off += e - b
        wm[k] = fn
        total += e - b
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    open(sys.argv[2] + "/" + fn, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
idx = {"metadata": {"total_size": total, "note": "braces } and \"quotes\" in a string"},
       "weight_map": dict(sorted(wm.items()))}
open(sys.argv[2] + "/model.safetensors.index.json", "w").write(json.dumps(idx, indent=2) + "\n")
EOF
    IDX=model.safetensors.index.json
    S1=model-00001-of-00002.safetensors
    S2=model-00002-of-00002.safetensors
    check "compress the index compresses every shard and copies the index byte for byte"
    expect_rc 0 "$BIN" compress "$W/in/$IDX" "$W/c/$IDX" --threads 2
    same_bytes "$W/in/$IDX" "$W/c/$IDX"
    for s in $S1 $S2; do
        [ -f "$W/c/$s" ] || fail "compressed shard $s missing"
        cmp -s "$W/in/$s" "$W/c/$s" && fail "shard $s was not compressed"
    done
    check "verify of the compressed index verifies every shard"
    expect_rc 0 "$BIN" verify "$W/c/$IDX"
    grep -q "^verified $NTENS tensors, 0 failed\$" "$W/stdout" || fail "summary: $(cat "$W/stdout")"
    check "decompress the index reproduces every shard and the index byte for byte"
    expect_rc 0 "$BIN" decompress "$W/c/$IDX" "$W/d/$IDX"
    for f in $IDX $S1 $S2; do same_bytes "$W/in/$f" "$W/d/$f"; done
    ls "$W/c" "$W/d" | grep -q '\.tmp\.' && fail "temporary file left behind"
    check "compressing an index into its own directory is refused (exit 1), inputs unchanged"
    cp "$W/in/$S1" "$W/s1.orig"
    expect_rc 1 "$BIN" compress "$W/in/$IDX" "$W/in/other.safetensors.index.json"
    one_error_line "$S1"
    same_bytes "$W/s1.orig" "$W/in/$S1"
    [ -e "$W/in/other.safetensors.index.json" ] && fail "index written although refused"
    check "an index output must end with .index.json (exit 1)"
    mkdir -p "$W/x"
    expect_rc 1 "$BIN" compress "$W/in/$IDX" "$W/x/out.safetensors"
    one_error_line
    no_outputs "$W/x"
    check "an index naming a missing shard: exit 3, no shard or index left in the output dir"
    mkdir -p "$W/bad" "$W/badout"
    cp "$W/in/$S1" "$W/bad/"
    cp "$W/in/$IDX" "$W/bad/$IDX"
    expect_rc 3 "$BIN" compress "$W/bad/$IDX" "$W/badout/out.safetensors.index.json"
    one_error_line "$S2"
    [ -z "$(ls "$W/badout")" ] || fail "output dir not empty after failure: $(ls "$W/badout")"
    check "a malformed index (no weight_map) exits 2"
    echo '{"metadata": {}}' >"$W/bad/broken.safetensors.index.json"
    expect_rc 2 "$BIN" compress "$W/bad/broken.safetensors.index.json" "$W/badout/out.index.json"
    one_error_line weight_map
    check "an index whose weight_map names a path outside its directory exits 2"
    echo '{"weight_map": {"a": "../evil.safetensors"}}' >"$W/bad/evil.safetensors.index.json"
    expect_rc 2 "$BIN" compress "$W/bad/evil.safetensors.index.json" "$W/badout/out.index.json"
    one_error_line evil
    [ -z "$(ls "$W/badout")" ] || fail "output dir not empty after failure: $(ls "$W/badout")"
    ;;

usage)
    compressed_sample "$W/c.safetensors"
    O=$W/out.safetensors
    check "exit 1: no arguments";             expect_rc 1 "$BIN";                                one_error_line
    check "exit 1: unknown command";          expect_rc 1 "$BIN" frobnicate;                     one_error_line frobnicate
    check "exit 1: unknown option";           expect_rc 1 "$BIN" compress "$SAMPLE" "$O" --bogus; one_error_line --bogus
    check "exit 1: option of another command"; expect_rc 1 "$BIN" info "$SAMPLE" --threads 2;   one_error_line --threads
    check "exit 1: missing operand";          expect_rc 1 "$BIN" compress "$SAMPLE";             one_error_line
    check "exit 1: missing operand (verify)"; expect_rc 1 "$BIN" verify;                         one_error_line
    check "exit 1: extra operand";            expect_rc 1 "$BIN" info "$SAMPLE" extra;           one_error_line extra
    check "exit 1: bad --select value";       expect_rc 1 "$BIN" compress "$SAMPLE" "$O" --select attn; one_error_line attn
    check "exit 1: --threads abc";            expect_rc 1 "$BIN" compress "$SAMPLE" "$O" --threads abc; one_error_line abc
    check "exit 1: --threads -1";             expect_rc 1 "$BIN" compress "$SAMPLE" "$O" --threads -1
    check "exit 1: bad --codec value";        expect_rc 1 "$BIN" compress "$SAMPLE" "$O" --codec zstd; one_error_line zstd
    check "exit 1: option value missing";     expect_rc 1 "$BIN" compress "$SAMPLE" "$O" --select; one_error_line --select
    check "exit 1: --repeat 0";               expect_rc 1 "$BIN" bench "$SAMPLE" --repeat 0
    check "exit 1: compress of an already compressed file (library INVALID_ARG)"
    expect_rc 1 "$BIN" compress "$W/c.safetensors" "$O"
    one_error_line "$W/c.safetensors"
    check "exit 1: decompress of a plain file"
    expect_rc 1 "$BIN" decompress "$SAMPLE" "$O"
    one_error_line "$SAMPLE"
    no_outputs "$W"
    check "exit 0: --help, help, --version"
    expect_rc 0 "$BIN" --help
    for c in compress decompress verify info bench backends; do
        grep -q "^  $c" "$W/stdout" || fail "usage text does not list '$c'"
    done
    expect_rc 0 "$BIN" help
    expect_rc 0 "$BIN" --version
    grep -q '^unweight [0-9]' "$W/stdout" || fail "version: $(cat "$W/stdout")"
    ;;

corrupt)
    compressed_sample "$W/c.safetensors"
    check "exit 2: truncated safetensors file (compress, info, verify)"
    head -c 1000 "$SAMPLE" >"$W/trunc.safetensors"
    expect_rc 2 "$BIN" compress "$W/trunc.safetensors" "$W/out.safetensors"; one_error_line "$W/trunc.safetensors"
    expect_rc 2 "$BIN" info "$W/trunc.safetensors";                          one_error_line "$W/trunc.safetensors"
    expect_rc 2 "$BIN" verify "$W/trunc.safetensors";                        one_error_line "$W/trunc.safetensors"
    no_outputs "$W"
    check "exit 2: truncated compressed file (decompress leaves no output)"
    head -c $(($(wc -c <"$W/c.safetensors") / 2)) "$W/c.safetensors" >"$W/ctrunc.safetensors"
    expect_rc 2 "$BIN" decompress "$W/ctrunc.safetensors" "$W/out.safetensors"; one_error_line "$W/ctrunc.safetensors"
    no_outputs "$W"
    check "exit 2: garbage header"
    printf '\040\000\000\000\000\000\000\000this is not JSON at all, no sir.' >"$W/garbage.safetensors"
    expect_rc 2 "$BIN" compress "$W/garbage.safetensors" "$W/out.safetensors"; one_error_line "$W/garbage.safetensors"
    expect_rc 2 "$BIN" info "$W/garbage.safetensors"; one_error_line "$W/garbage.safetensors"
    no_outputs "$W"
    check "exit 2: one byte flipped inside a blob (verify names the tensor, decompress leaves no output)"
    "$PY" - "$W/c.safetensors" "$W/flip.safetensors" <<'EOF' || fail "could not flip a byte"
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
name = sorted(k for k in hdr if k != "__metadata__" and hdr[k]["dtype"] == "U8")[0]
b, e = hdr[name]["data_offsets"]
pos = 8 + n + (b + e) // 2
raw[pos] ^= 0x01
open(sys.argv[2], "wb").write(raw)
print(name)
EOF
    expect_rc 2 "$BIN" verify "$W/flip.safetensors"
    grep -q "^$W/flip.safetensors: tensor '.*': " "$W/stdout" || fail "no per-tensor failure line: $(cat "$W/stdout")"
    grep -q "^verified $NTENS tensors, 1 failed\$" "$W/stdout" || fail "summary: $(cat "$W/stdout")"
    expect_rc 2 "$BIN" decompress "$W/flip.safetensors" "$W/out.safetensors"
    one_error_line "$W/flip.safetensors"
    no_outputs "$W"
    check "exit 2: a flipped byte in the blob area also fails bench (checksum)"
    expect_rc 2 "$BIN" bench "$W/flip.safetensors" --repeat 1
    check "exit 2: tampered unweight metadata (unknown codec, wrong shape, missing field) is rejected"
    for edit in codec shape field; do
        "$PY" - "$W/c.safetensors" "$W/meta.safetensors" "$edit" <<'EOF' || fail "could not edit metadata"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
um = json.loads(hdr["__metadata__"]["unweight"])
name = sorted(um["tensors"])[0]
if sys.argv[3] == "codec":
    um["tensors"][name]["codec"] = "pupfman"
elif sys.argv[3] == "shape":
    um["tensors"][name]["shape"][-1] += 1
else:
    del um["tensors"][name]["rare_ppm"]
hdr["__metadata__"]["unweight"] = json.dumps(um, separators=(",", ":"))
js = json.dumps(hdr, separators=(",", ":")).encode()
js += b" " * (n - len(js))  # same length: data offsets stay valid
assert len(js) == n, "edited header grew"
open(sys.argv[2], "wb").write(raw[:8] + js + raw[8 + n:])
EOF
        expect_rc 2 "$BIN" info "$W/meta.safetensors"
        one_error_line "$W/meta.safetensors"
        expect_rc 2 "$BIN" decompress "$W/meta.safetensors" "$W/out.safetensors"
        no_outputs "$W"
    done
    ;;

io)
    check "exit 3: nonexistent input (compress, decompress, verify, info, bench)"
    for c in compress decompress; do
        expect_rc 3 "$BIN" $c "$W/nonexistent.safetensors" "$W/out.safetensors"
        one_error_line "$W/nonexistent.safetensors"
    done
    for c in verify info bench; do
        expect_rc 3 "$BIN" $c "$W/nonexistent.safetensors"
        one_error_line "$W/nonexistent.safetensors"
    done
    no_outputs "$W"
    check "exit 3: output in a nonexistent directory"
    expect_rc 3 "$BIN" compress "$SAMPLE" "$W/no/such/dir/out.safetensors"
    one_error_line "$W/no/such/dir/out.safetensors"
    compressed_sample "$W/c.safetensors"
    expect_rc 3 "$BIN" decompress "$W/c.safetensors" "$W/no/such/dir/out.safetensors"
    one_error_line "$W/no/such/dir/out.safetensors"
    check "exit 3: input is a directory"
    expect_rc 3 "$BIN" info "$W"
    one_error_line "$W"
    no_outputs "$W"
    ;;

overwrite)
    cp "$SAMPLE" "$W/in.safetensors"
    check "compress refuses OUT == IN (exit 1) and leaves IN unchanged"
    expect_rc 1 "$BIN" compress "$W/in.safetensors" "$W/in.safetensors"
    one_error_line "$W/in.safetensors"
    same_bytes "$SAMPLE" "$W/in.safetensors"
    check "compress refuses OUT == IN through another path spelling (exit 1)"
    expect_rc 1 "$BIN" compress "$W/in.safetensors" "$W/./in.safetensors"
    same_bytes "$SAMPLE" "$W/in.safetensors"
    check "compress refuses OUT == IN through a hard link (exit 1)"
    ln "$W/in.safetensors" "$W/link.safetensors" 2>/dev/null && {
        expect_rc 1 "$BIN" compress "$W/in.safetensors" "$W/link.safetensors"
        same_bytes "$SAMPLE" "$W/in.safetensors"
    }
    check "decompress refuses OUT == IN (exit 1)"
    compressed_sample "$W/c.safetensors"
    cp "$W/c.safetensors" "$W/c.orig"
    expect_rc 1 "$BIN" decompress "$W/c.safetensors" "$W/c.safetensors"
    same_bytes "$W/c.orig" "$W/c.safetensors"
    ls "$W" | grep -q '\.tmp\.' && fail "temporary file left behind"
    check "an existing output is not overwritten without --force (exit 1, one line naming it, output unchanged)"
    echo old >"$W/out.safetensors"
    expect_rc 1 "$BIN" compress "$SAMPLE" "$W/out.safetensors"
    one_error_line "$W/out.safetensors"
    grep -q -- '--force' "$W/stderr" || fail "the message does not say how to overwrite: $(cat "$W/stderr")"
    [ "$(cat "$W/out.safetensors")" = old ] || fail "existing output was modified without --force"
    expect_rc 1 "$BIN" decompress "$W/c.safetensors" "$W/out.safetensors"
    [ "$(cat "$W/out.safetensors")" = old ] || fail "existing output was modified by decompress without --force"
    check "with --force (or -f) an existing output is replaced atomically by a successful compress/decompress"
    expect_rc 0 "$BIN" compress "$SAMPLE" "$W/out.safetensors" --force
    expect_rc 0 "$BIN" verify "$W/out.safetensors"
    expect_rc 0 "$BIN" decompress -f "$W/out.safetensors" "$W/out.safetensors.d"
    echo old >"$W/out.safetensors.d"
    expect_rc 0 "$BIN" decompress -f "$W/out.safetensors" "$W/out.safetensors.d"
    same_bytes "$SAMPLE" "$W/out.safetensors.d"
    check "a failed compress --force leaves an existing output untouched"
    echo old >"$W/out2.safetensors"
    head -c 1000 "$SAMPLE" >"$W/trunc.safetensors"
    expect_rc 2 "$BIN" compress "$W/trunc.safetensors" "$W/out2.safetensors" --force
    [ "$(cat "$W/out2.safetensors")" = old ] || fail "existing output was modified by a failed compress"
    check "an output that is not a regular file (a FIFO) is refused even with --force, and stays what it was"
    mkfifo "$W/fifo"
    expect_rc 1 "$BIN" decompress --force "$W/c.safetensors" "$W/fifo"
    one_error_line "not a regular file"
    [ -p "$W/fifo" ] || fail "the FIFO was replaced"
    ls "$W" | grep -q '\.tmp\.' && fail "temporary file left behind: $(ls "$W")"
    check "on a terminal: a one-line summary on stderr (sizes, ratio, time); --quiet: nothing"
    if command -v script >/dev/null; then
        script -qec "'$BIN' compress --force '$SAMPLE' '$W/tty.safetensors' 2>'$W/tty.err'" "$W/typescript" >/dev/null
        [ -s "$W/tty.safetensors" ] || fail "compress under script(1) wrote no output"
        # stderr redirected to a file is not a terminal: nothing; through the pty it is one
        [ -s "$W/tty.err" ] && fail "summary printed although stderr was a file: $(cat "$W/tty.err")"
        script -qec "'$BIN' compress --force '$SAMPLE' '$W/tty.safetensors'" "$W/typescript" >"$W/tty.out"
        grep -q "compress: .* -> .*: .* MB -> .* MB ([0-9.]*%), [0-9.]* s" "$W/tty.out" || fail "no summary line on a terminal: $(cat "$W/tty.out")"
        script -qec "'$BIN' compress -q --force '$SAMPLE' '$W/tty.safetensors'" "$W/typescript" >"$W/tty.out"
        [ -s "$W/tty.out" ] && fail "--quiet still printed: $(cat "$W/tty.out")"
    else
        fail "script(1) (util-linux/bsdutils) missing: the terminal summary cannot be checked"
    fi
    ;;

*)
    fail "unknown group '$GROUP'"
    ;;
esac

echo "PASS: $GROUP"
exit 0
