#!/usr/bin/env bash
# ci/check-runtimes.sh BUILD_DIR SAMPLE - an all-backends build (cpu opencl cuda hip) links no
# vendor runtime, and its CLI starts and works on cpu where a runtime cannot be loaded:
#   1. `readelf -d` of the CLI and the library lists none of libamdhip64, libOpenCL, libcuda,
#      libcublas (nor ROCm's libhsa-runtime64);
#   2. with UW_HIP_LIBRARY and UW_OPENCL_LIBRARY naming missing files: hip and opencl are listed
#      unavailable with the library's name and the reason, and compress, verify, decompress and
#      bench of SAMPLE on cpu work;
#   3. where a mount namespace can be made (unshare -m: root, or user namespaces allowed), the same
#      with the HIP runtime's real files made unloadable (/dev/null bound over them) and no
#      override: what a host without ROCm looks like to the loader.
# (Internal: `check-runtimes.sh --in-namespace BUILD_DIR SAMPLE FILE...` is step 3's inside.)
set -euo pipefail

fail() {
    echo "check-runtimes: $*" >&2
    exit 1
}

# The CLI works on cpu; REASON (a regex) must be in hip's "unavailable (...)" line.
cpu_works_without_hip() {
    local b=$1 sample=$2 reason=$3 opencl_hidden=$4 work out
    work=$(mktemp -d)
    out=$("$b/unweight" backends) || fail "unweight backends failed"
    echo "$out"
    grep -qx "built: cpu opencl cuda hip" <<<"$out" || fail "not built with all four backends"
    grep -qE "^cpu +ok$" <<<"$out" || fail "cpu is not available"
    grep -qE "^hip +unavailable \(.*$reason" <<<"$out" || fail "hip is not listed unavailable with the reason '$reason'"
    if [ "$opencl_hidden" = 1 ]; then
        grep -qE "^opencl +unavailable \(.*not loaded" <<<"$out" || fail "opencl is not listed unavailable with the reason"
    fi
    "$b/unweight" compress --force "$sample" "$work/c.safetensors" --threads 2 >/dev/null || fail "compress on cpu failed"
    "$b/unweight" verify "$work/c.safetensors" --threads 2 >/dev/null || fail "verify on cpu failed"
    "$b/unweight" decompress --force "$work/c.safetensors" "$work/d.safetensors" --threads 2 >/dev/null || fail "decompress failed"
    cmp -s "$sample" "$work/d.safetensors" || fail "the round trip is not byte-identical"
    "$b/unweight" bench "$work/c.safetensors" --backend cpu --repeat 1 --threads 2 --batch 1,4 >/dev/null ||
        fail "bench on cpu failed"
    rm -rf "$work"
    echo "ok: compress, verify, decompress (byte-identical) and bench on cpu"
}

if [ "${1:-}" = "--in-namespace" ]; then
    b=$2 sample=$3
    shift 3
    for f in "$@"; do mount --bind /dev/null "$f"; done
    cpu_works_without_hip "$b" "$sample" "libamdhip64[^ ]* not loaded" 0
    exit 0
fi

[ $# -eq 2 ] || fail "usage: check-runtimes.sh BUILD_DIR SAMPLE"
b=$(cd "$1" && pwd) sample=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ -x "$b/unweight" ] || fail "no $b/unweight"
lib=$(ls "$b"/libunweight.so* 2>/dev/null | head -n1 || true)

echo "-- 1. no vendor library among the NEEDED entries"
for f in "$b/unweight" $lib; do
    needed=$(readelf -d "$f" | grep NEEDED || true)
    if grep -qE "libamdhip64|libOpenCL|libcuda|libcublas|libhsa-runtime" <<<"$needed"; then
        echo "$needed" >&2
        fail "$(basename "$f") links a vendor runtime"
    fi
    echo "$(basename "$f"): $(grep -oE '\[[^]]+\]' <<<"$needed" | tr -d '[]' | tr '\n' ' ')"
done

echo "-- 2. HIP and OpenCL runtimes named missing (UW_HIP_LIBRARY, UW_OPENCL_LIBRARY)"
UW_HIP_LIBRARY=/nonexistent/libamdhip64.so.5 UW_OPENCL_LIBRARY=/nonexistent/libOpenCL.so.1 \
    cpu_works_without_hip "$b" "$sample" "/nonexistent/libamdhip64.so.5 not loaded" 1

echo "-- 3. the HIP runtime's files unloadable (mount namespace)"
mapfile -t hip_files < <(ldconfig -p | awk '/libamdhip64\.so/ {print $NF}' | xargs -r readlink -f | sort -u)
if [ ${#hip_files[@]} -eq 0 ]; then
    echo "no libamdhip64 installed here: step 2 already was a host without it"
elif unshare -m true 2>/dev/null; then
    unshare -m "$0" --in-namespace "$b" "$sample" "${hip_files[@]}"
else
    echo "skipped: no mount namespace for this user (step 2 covers the loader's missing-library path)"
fi
echo "check-runtimes: passed"
