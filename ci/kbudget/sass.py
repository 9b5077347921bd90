"""sass.py - NVIDIA machine code (SASS) of a cubin as functions of instructions, with the source
line chain of each instruction (nvdisasm -gi: innermost line first, then each "inlined at"),
its branch kind and target, and the execution pipe it issues to; plus resource usage
(cuobjdump -res-usage: registers, stack, local memory, static shared memory).

Pipes (sm_80 / sm_90, 4 sub-partitions per SM, one warp-instruction dispatched per sub-partition
per cycle; NVIDIA's description of the pipes: forums.developer.nvidia.com/t/108729 and /t/302018,
and the Nsight Compute Kernel Profiling Guide, "Pipelines"):
  alu     integer add/logic/shift/compare/select/permute (not IMAD): 16 lanes per sub-partition,
          a warp-instruction every 2 cycles, 64 thread-ops per clock per SM
  fma     FP32 arithmetic and IMAD/IMUL (FMA-heavy pipe): 64 integer thread-ops per clock per SM
  lsu     shared/global/local memory, through the SM's MIO queue; shared memory returns 128
          bytes per clock per SM (one conflict-free warp access)
  tensor  HMMA/HGMMA
  uniform U* instructions (the warp's uniform datapath)
  ctrl    branches, barriers, convergence, synchronisation
  xu      conversions and transcendentals (quarter rate)
Every instruction, whatever its pipe, takes one dispatch slot.
"""
import os
import re
import subprocess

PIPES = ("alu", "fma", "lsu", "tensor", "uniform", "ctrl", "xu", "other")

_ALU = {"IADD3", "LOP3", "LOP", "SHF", "LEA", "ISETP", "SEL", "PRMT", "IMNMX", "VIMNMX", "VIMNMX3", "FLO", "POPC", "BREV",
        "PLOP3", "P2R", "R2P", "MOV", "FSEL", "FSETP", "FMNMX", "IABS", "SGXT", "BMSK", "CS2R", "S2R", "VIADD3", "IADD",
        "I2IP", "F2FP", "SHL", "SHR", "ICMP", "VABSDIFF", "VABSDIFF4", "HSETP2", "HMNMX2", "MOV32I", "PLOP", "R2B", "B2R"}
_FMA = {"IMAD", "IMUL", "IMADSP", "FFMA", "FADD", "FMUL", "IDP", "IDP4A", "VIADD", "HFMA2", "HADD2", "HMUL2", "FFMA32I",
        "FADD32I", "FMUL32I", "IMUL32I", "IMAD32I", "ISCADD", "FCHK", "DADD", "DMUL", "DFMA"}
_LSU = {"LDS", "STS", "LD", "ST", "LDG", "STG", "LDL", "STL", "LDSM", "STSM", "ATOMS", "ATOM", "ATOMG", "RED", "LDGSTS",
        "LDC", "LDGDEPBAR", "MATCH", "SHFL", "CCTL", "ERRBAR", "MEMBAR", "FENCE", "UBLKCP", "UTMALDG", "UTMASTG",
        "UTMACCTL", "UTMAPF", "QSPC", "ATOMG"}
_TENSOR = {"HMMA", "HGMMA", "IMMA", "QGMMA", "IGMMA", "BGMMA", "DMMA", "WARPGROUP"}
_CTRL = {"BRA", "BRX", "JMP", "JMX", "CALL", "RET", "EXIT", "BSSY", "BSYNC", "BREAK", "WARPSYNC", "BAR", "BPT", "NOP",
         "YIELD", "DEPBAR", "SYNCS", "ELECT", "KILL", "NANOSLEEP", "VOTE", "VOTEU", "ACQBULK", "ARRIVES", "ENDCOLLECTIVE",
         "WARPGROUPSET", "R2UR", "S2UR", "REDUX", "USETMAXREG", "ACQSHMINIT", "CCTLT"}
_XU = {"MUFU", "I2F", "F2I", "F2F", "I2I", "FRND", "POPC"}


def pipe_of(op):
    base = op.split(".")[0]
    if base in _TENSOR:
        return "tensor"
    if base in _LSU:
        return "lsu"
    if base in _CTRL:
        return "ctrl"
    if base.startswith("U") and base not in ("UBLKCP", "UTMALDG", "UTMASTG", "UTMACCTL", "UTMAPF"):
        return "uniform"
    if base in _ALU:
        return "alu"
    if base in _FMA:
        return "fma"
    if base in _XU:
        return "xu"
    return "other"


def is_shared_access(text):
    """a shared-memory data access (LDS/STS/LDSM/ATOMS, or a generic LD/ST whose space the
    compiler could not tell: the review asks for explicit shared-space accesses)"""
    base = text.split()[0].split(".")[0] if text else ""
    return base in ("LDS", "STS", "LDSM", "STSM", "ATOMS")


TOOL_DIRS = []  # extra folders holding the pip wheels' nvidia/cu13/bin (kernel-budget.py --tools)


def tool(name):
    """cuobjdump / nvdisasm: on the PATH, in the CUDA toolkit, or from the pip wheels
    nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm (installed with pip --target into a --tools folder,
    or into the running Python)"""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/local/cuda/bin"]
    for t in TOOL_DIRS:
        dirs += [os.path.join(t, "nvidia", sub, "bin") for sub in ("cu13", "cu12")]
    for d in dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    try:
        import nvidia  # the pip wheels put the tools under nvidia/cu13/bin
        for root in list(nvidia.__path__):
            for sub in ("cu13", "cu12", "cuda_nvdisasm", "cuda_cuobjdump"):
                p = os.path.join(root, sub, "bin", name)
                if os.access(p, os.X_OK):
                    return p
    except ImportError:
        pass
    return None


_FILE = re.compile(r'\s*//## File "([^"]+)", line (\d+)(.*)')
_INL = re.compile(r'inlined at "([^"]+)", line (\d+)')
_INS = re.compile(r"\s*/\*([0-9a-f]+)\*/\s+(.*?)\s*;")
_PRED = re.compile(r"^@!?U?P[T0-9]+\s+")
_TGT = re.compile(r"`\((\.L_x_\d+)\)")


def parse_disasm(text):
    """{mangled name: [instruction dicts]} from `nvdisasm -gi -c` output"""
    funcs, cur, chain, pending = {}, None, None, []
    labels = {}
    for ln in text.splitlines():
        m = re.match(r"\s*\.text\.(\S+):", ln)
        if m:
            cur = m.group(1)
            funcs[cur] = []
            labels[cur] = {}
            chain, pending = None, []
            continue
        if cur is None:
            continue
        m = _FILE.match(ln)
        if m:
            # consecutive "## File" lines: the first is the innermost location, each names where
            # it was inlined; the last (no "inlined at") is the outermost
            if not pending:
                pending = [(os.path.basename(m.group(1)), int(m.group(2)))]
            for mm in _INL.finditer(m.group(3)):
                loc = (os.path.basename(mm.group(1)), int(mm.group(2)))
                if loc not in pending:
                    pending.append(loc)
            continue
        m = re.match(r"\s*(\.L_x_\d+):", ln)
        if m:
            labels[cur][m.group(1)] = len(funcs[cur])
            continue
        m = _INS.match(ln)
        if m:
            if pending:
                chain, pending = pending, []
            body = m.group(2)
            pred = _PRED.match(body)
            core = body[pred.end():] if pred else body
            op = core.split()[0] if core else "?"
            t = _TGT.search(core)
            base = op.split(".")[0]
            branch = None
            if op.startswith("BRA.DIV"):
                # taken only when the warp arrives diverged at a warp-synchronous point (the
                # compiler's fallback copy of the code that follows): never in converged code
                branch = "cold"
            elif base in ("BRA", "JMP"):
                branch = "cond" if pred else "uncond"
            elif base in ("BRX", "JMX", "RET"):
                branch = "indirect"
            elif base == "EXIT":
                branch = "cond-exit" if pred else "exit"
            funcs[cur].append(dict(off=int(m.group(1), 16), text=body, op=op, pipe=pipe_of(op), branch=branch,
                                   label=t.group(1) if (t and branch in ("cond", "uncond", "cold")) else None,
                                   lines=chain or [], shared=is_shared_access(core)))
    for name, ins in funcs.items():
        for x in ins:
            x["target"] = labels[name].get(x.pop("label")) if x.get("label") else None
            if x["branch"] in ("cond", "uncond", "cold") and x["target"] is None:
                x["branch"] = "indirect"
    return funcs


def parse_res_usage(text):
    """{mangled name: {reg, stack, shared, local}} from `cuobjdump -res-usage`"""
    out, cur = {}, None
    for ln in text.splitlines():
        m = re.match(r"\s*Function (\S+):", ln)
        if m:
            cur = m.group(1)
            continue
        if cur and "REG:" in ln:
            kv = dict(re.findall(r"(\w+(?:\[\d+\])?):(\d+)", ln))
            out[cur] = dict(reg=int(kv.get("REG", 0)), stack=int(kv.get("STACK", 0)), shared=int(kv.get("SHARED", 0)),
                            local=int(kv.get("LOCAL", 0)))
            cur = None
    return out


def cubins_of_object(obj, workdir):
    """extract the cubins embedded in a CUDA object (cuobjdump -xelf all); [(arch, path)]"""
    os.makedirs(workdir, exist_ok=True)
    subprocess.run([tool("cuobjdump"), "-xelf", "all", os.path.abspath(obj)], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    out = []
    for f in sorted(os.listdir(workdir)):
        m = re.search(r"\.(sm_\d+a?)\.cubin$", f)
        if m:
            out.append((m.group(1), os.path.join(workdir, f)))
    return out


def load_cubin(path):
    dis = subprocess.run([tool("nvdisasm"), "-gi", "-c", path], check=True, capture_output=True, text=True).stdout
    res = subprocess.run([tool("cuobjdump"), "-res-usage", path], check=True, capture_output=True, text=True).stdout
    return parse_disasm(dis), parse_res_usage(res)
