#!/usr/bin/env bash
# ci/check-ptx.sh [NVCC] - what the CUDA kernels compile to, checked in their PTX (nvcc -ptx:
# front end and NVVM only, a few seconds a file; no GPU, no cuobjdump needed). CI runs it.
#   1. address spaces: shared memory is reached through shared-space pointers, so its accesses
#      are ld.shared/st.shared. No kernel of the backend has a generic store, and none a generic
#      load, except the Hopper Huffman instances (their bit reader reads a tile's words from the
#      shared stage or, for a tile that did not fit, from global memory: one pointer, either
#      space). Every Hopper instance that rebuilds W tiles (Huffman, palette, exponent plane)
#      stores them with st.shared.v4 and reads shared memory with ld.shared (its table lookups or
#      exponent rows). A pointer rebuilt from an integer (the old 1024-byte re-alignment through
#      uintptr_t) loses the space and turns all of these generic: the check fails.
#   2. bounded barrier waits: the Hopper kernel compiled without NDEBUG traps a timed-out mbarrier
#      wait (trap, %globaltimer in all 12 instances); the release build has neither. The same for
#      the GEMV family's Huffman instances on sm_90 (their tile streams come by bulk copy).
#   3. the GEMV family (8 instances): no generic access; those that rebuild W store it with
#      st.shared.v4.
# The Hopper family must be there (12 instances: 4 sources x 3 batch tiles, with bodies).
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${1:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "check-ptx: nvcc not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-ptx -std=c++17 -Iinclude -DUW_WITH_CUDA)
for f in cuda_decode cuda_transcode cuda_matmul; do
  "$NVCC" "${flags[@]}" -DNDEBUG -gencode arch=compute_80,code=compute_80 -o "$tmp/$f.ptx" "backends/cuda/$f.cu"
done
"$NVCC" "${flags[@]}" -DNDEBUG -gencode arch=compute_90a,code=compute_90a -o "$tmp/uw_hopper.ptx" backends/cuda/uw_hopper.cu
"$NVCC" "${flags[@]}" -gencode arch=compute_90a,code=compute_90a -o "$tmp/uw_hopper_debug.ptx" backends/cuda/uw_hopper.cu
"$NVCC" "${flags[@]}" -DNDEBUG -gencode arch=compute_90a,code=compute_90a -o "$tmp/uw_gemv.ptx" backends/cuda/uw_gemv.cu
"$NVCC" "${flags[@]}" -gencode arch=compute_90a,code=compute_90a -o "$tmp/uw_gemv_debug.ptx" backends/cuda/uw_gemv.cu
python3 - "$tmp" <<'PY'
import re, sys
d = sys.argv[1]
def entries(path):
    txt = open(path).read()
    out = {}
    for part in re.split(r'\n(?=(?:\.visible |\.weak )?\.entry )', txt)[1:]:
        name = re.search(r'\.entry\s+(\w+)', part).group(1)
        n = {}
        for m in re.finditer(r'^\s*(?:@!?%p\d+\s+)?(ld|st)((?:\.[\w:]+)*)\s', part, re.M):
            mods = m.group(2).split('.')
            space = next((s for s in ('shared', 'global', 'local', 'param', 'const') if s in mods), 'generic')
            key = m.group(1) + '.' + space + ('.v4' if space == 'shared' and 'v4' in mods else '')
            n[key] = n.get(key, 0) + 1
        n['trap'] = len(re.findall(r'\btrap;', part))
        n['globaltimer'] = len(re.findall(r'%globaltimer', part))
        out[name] = n
    return out
bad = []
def hopper_src(name):
    m = re.search(r'uw_k_mm_hopperILi(\d)ELi(\d+)E', name)
    return (int(m.group(1)), int(m.group(2))) if m else None
kernels = {}
for f in ('cuda_decode', 'cuda_transcode', 'cuda_matmul', 'uw_hopper'):
    for name, n in entries(f'{d}/{f}.ptx').items():
        kernels[name] = n
        hs = hopper_src(name)
        label = f'{f}: {name}'
        if n.get('st.generic'):
            bad.append(f'{label}: {n["st.generic"]} generic stores')
        if n.get('ld.generic') and not (hs and hs[0] == 1):
            bad.append(f'{label}: {n["ld.generic"]} generic loads')
        if hs and hs[0] in (1, 2, 3):
            if not n.get('st.shared.v4'):
                bad.append(f'{label}: the W tile is not stored with st.shared.v4')
            if not n.get('ld.shared') and not n.get('ld.shared.v4'):
                bad.append(f'{label}: no ld.shared (table lookups / exponent rows)')
        if n['trap']:
            bad.append(f'{label}: trap in a release (NDEBUG) build')
hop = sorted(hopper_src(k) for k in kernels if hopper_src(k))
if len(hop) != 12:
    bad.append(f'{len(hop)} Hopper kernel instances in the sm_90a PTX, expected 12 (4 sources x 3 batch tiles)')
if sum(1 for k, n in kernels.items() if hopper_src(k) and n.get('ld.param', 0) > 0 and (n.get('st.global') or 0) > 0) != 12:
    bad.append('a Hopper kernel instance has no body (UW_HOPPER_BODY not defined for compute_90a?)')
dbg = {k: n for k, n in entries(f'{d}/uw_hopper_debug.ptx').items() if hopper_src(k)}
for k, n in dbg.items():
    if not (n['trap'] and n['globaltimer']):
        bad.append(f'debug build: {k}: mbarrier waits are not bounded (no trap / %globaltimer)')
if len(dbg) != 12:
    bad.append(f'debug build: {len(dbg)} Hopper instances, expected 12')
def gemv_src(name):
    m = re.search(r'uw_k_gemvILi(\d)ELi(\d+)E', name)
    return (int(m.group(1)), int(m.group(2))) if m else None
gv = {k: n for k, n in entries(f'{d}/uw_gemv.ptx').items() if gemv_src(k)}
for k, n in gv.items():
    src = gemv_src(k)[0]
    if n.get('st.generic') or n.get('ld.generic'):
        bad.append(f'uw_gemv: {k}: generic accesses (ld {n.get("ld.generic", 0)}, st {n.get("st.generic", 0)})')
    if src != 0 and not n.get('st.shared.v4'):
        bad.append(f'uw_gemv: {k}: the W chunk is not stored with st.shared.v4')
    if n['trap']:
        bad.append(f'uw_gemv: {k}: trap in a release (NDEBUG) build')
if len(gv) != 8:
    bad.append(f'{len(gv)} GEMV kernel instances in the sm_90a PTX, expected 8 (4 sources x 2 batch sizes)')
for k, n in entries(f'{d}/uw_gemv_debug.ptx').items():
    if gemv_src(k) and gemv_src(k)[0] == 1 and not (n['trap'] and n['globaltimer']):
        bad.append(f'debug build: {k}: mbarrier waits are not bounded (no trap / %globaltimer)')
print(f'check-ptx: {len(kernels)} kernels; Hopper instances (source, batch tile): {hop}; GEMV instances: {len(gv)}')
for k, n in sorted(kernels.items()):
    hs = hopper_src(k)
    if hs:
        print(f'  hopper src {hs[0]} bn {hs[1]:3}: ' + ', '.join(f'{a} {b}' for a, b in sorted(n.items()) if b and a not in ('ld.param',)))
if bad:
    print('check-ptx: FAILED', *bad, sep='\n  ', file=sys.stderr)
    sys.exit(1)
print('check-ptx: ok (no generic stores; generic loads only in the Hopper Huffman bit reader; W tiles via st.shared.v4; '
      'debug builds bound every mbarrier wait; GEMV: no generic access)')
PY
