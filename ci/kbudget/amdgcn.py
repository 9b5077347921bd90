"""amdgcn.py - AMD GPU machine code of HIP kernels: clang's device assembly (-S, with
-gline-tables-only so that every instruction carries a .loc source line) parsed into functions
of instructions with branch kinds and the unit each issues to, and the kernels' resource metadata
(VGPRs, AGPRs, SGPRs, scratch, LDS).

Units (CDNA2/CDNA3 compute unit: 4 SIMD16, a wave64 vector instruction occupies its SIMD for 4
cycles, so 64 lane-operations per clock per CU; LDS 128 bytes per clock per CU; AMD "CDNA 3
Instruction Set Architecture" reference guide and the ROCm Compute Profiler's pipeline
descriptions):
  valu  v_* (not MFMA)         salu  s_* arithmetic        smem  s_load/s_buffer_load
  vmem  global/buffer/flat     lds   ds_*                  mfma  v_mfma*
  ctrl  branches, s_waitcnt, barriers, s_endpgm, s_nop
"""
import os
import re
import subprocess

PIPES = ("valu", "salu", "smem", "vmem", "lds", "mfma", "ctrl", "other")


def pipe_of(op):
    if op.startswith("v_mfma") or op.startswith("v_smfmac"):
        return "mfma"
    if op.startswith("v_"):
        return "valu"
    if op.startswith("ds_"):
        return "lds"
    if op.startswith(("global_", "buffer_", "flat_", "scratch_")):
        return "vmem"
    if op.startswith(("s_load", "s_buffer_load", "s_store", "s_dcache", "s_memtime", "s_memrealtime")):
        return "smem"
    if op.startswith(("s_branch", "s_cbranch", "s_endpgm", "s_setpc", "s_swappc", "s_waitcnt", "s_barrier", "s_nop",
                      "s_sleep", "s_setprio", "s_sethalt", "s_trap", "s_getpc")):
        return "ctrl"
    if op.startswith("s_"):
        return "salu"
    return "other"


_LOC = re.compile(r"\s*\.loc\s+\d+\s+(\d+)\s+\d+.*;\s*(\S+):(\d+):\d+")
_LABEL = re.compile(r"^(\.?[A-Za-z_$][\w.$]*):")


def parse_asm(text):
    """{mangled kernel name: [instruction dicts]} for the kernels (functions whose symbol has a
    matching .amdhsa_kernel) of one device assembly file"""
    funcs, cur, line, labels = {}, None, None, {}
    for raw in text.splitlines():
        ln = raw.split(";", 1)[0].rstrip() if not raw.lstrip().startswith(".loc") else raw
        m = _LOC.match(raw)
        if m:
            line = [(os.path.basename(m.group(2)), int(m.group(3)))]
            continue
        if not ln.strip():
            continue
        m = _LABEL.match(ln.strip())
        if m and not ln.startswith("\t") and not ln.startswith(" "):
            name = m.group(1)
            if name.startswith(".L"):
                if cur is not None:
                    labels[cur][name] = len(funcs[cur])
            elif name.startswith("_Z"):
                cur = name
                funcs[cur], labels[cur], line = [], {}, None
            continue
        if cur is None or ln.strip().startswith("."):
            if ln.strip().startswith(".Lfunc_end") or ln.strip().startswith(".size"):
                pass
            continue
        parts = ln.split()
        op = parts[0]
        if not re.match(r"^[sv]_|^ds_|^global_|^buffer_|^flat_|^scratch_", op):
            continue
        branch, label = None, None
        if op == "s_branch":
            branch, label = "uncond", parts[1]
        elif op.startswith("s_cbranch"):
            branch, label = "cond", parts[1]
        elif op == "s_endpgm":
            branch = "exit"
        elif op.startswith(("s_setpc", "s_swappc")):
            branch = "indirect"
        funcs[cur].append(dict(text=ln.strip(), op=op, pipe=pipe_of(op), branch=branch, label=label, lines=line or [],
                               shared=op.startswith("ds_read") or op.startswith("ds_write") or op.startswith("ds_load")
                               or op.startswith("ds_store")))
    for name, ins in funcs.items():
        for x in ins:
            lab = x.pop("label")
            x["target"] = labels[name].get(lab) if lab else None
            if x["branch"] in ("cond", "uncond") and x["target"] is None:
                x["branch"] = "indirect"
    return funcs


def parse_metadata(text):
    """{kernel: {vgpr, agpr, sgpr, scratch, lds}} from the .amdgpu_metadata block"""
    out, cur = {}, {}
    block = text.split(".amdgpu_metadata", 1)[-1]
    for ln in block.splitlines():
        m = re.match(r"\s*-?\s*\.(\w+):\s+(\S+)", ln)
        if not m:
            continue
        k, v = m.group(1), m.group(2)
        if ln.lstrip().startswith("- ") and cur:
            if "name" in cur:
                out[cur["name"]] = cur
            cur = {}
        if k == "name":
            cur["name"] = v
        elif k in ("vgpr_count", "agpr_count", "sgpr_count", "private_segment_fixed_size", "group_segment_fixed_size",
                   "vgpr_spill_count", "sgpr_spill_count", "wavefront_size", "max_flat_workgroup_size"):
            cur[k] = int(v)
    if "name" in cur:
        out[cur["name"]] = cur
    return {n: dict(vgpr=d.get("vgpr_count", 0), agpr=d.get("agpr_count", 0), sgpr=d.get("sgpr_count", 0),
                    scratch=d.get("private_segment_fixed_size", 0), lds=d.get("group_segment_fixed_size", 0),
                    vgpr_spill=d.get("vgpr_spill_count", 0), sgpr_spill=d.get("sgpr_spill_count", 0),
                    wave=d.get("wavefront_size", 64)) for n, d in out.items()}


def compile_asm(clang, source, arch, flags, out):
    """device-only assembly of one HIP source for one target"""
    cmd = [clang, "-x", "hip", "--offload-arch=" + arch, "--cuda-device-only", "-S", "-O3", "-std=c++17",
           "-gline-tables-only", "-o", out, source] + flags
    subprocess.run(cmd, check=True)
    with open(out) as f:
        return f.read()
