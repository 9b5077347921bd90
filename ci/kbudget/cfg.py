"""cfg.py - control-flow graph and natural loops of one disassembled GPU function.

Input: a list of instructions (dicts) in address order, each with
  op      the mnemonic ("IADD3.X", "v_add_u32_e32", ...)
  branch  None, or "cond" / "uncond" (a jump to `target`), "exit" / "cond-exit", "indirect",
          "cold" (a conditional jump that converged code never takes: NVIDIA's BRA.DIV)
  target  instruction index of the jump target (None if not a direct jump)
Output: basic blocks, dominators and the natural loops (a back edge u -> h where h dominates u;
the loop is h plus every block that reaches u without passing through h; loops sharing a header
are merged). A loop is innermost when it holds no other loop's header. This is the textbook
construction (Aho, Lam, Sethi, Ullman, section 9.6): a backward jump that is not a back edge
(an out-of-line wait loop returning to the code after its call site, say) is not a loop here.
"""


class Block:
    def __init__(self, start, end):
        self.start, self.end = start, end  # instructions [start, end)
        self.succ, self.pred = [], []
        self.cold = None  # the successor only a "cold" jump reaches


def blocks_of(ins):
    n = len(ins)
    leaders = {0} if n else set()
    for i, x in enumerate(ins):
        if x.get("branch"):
            if i + 1 < n:
                leaders.add(i + 1)
            if x.get("target") is not None:
                leaders.add(x["target"])
    starts = sorted(leaders)
    blocks = [Block(s, starts[k + 1] if k + 1 < len(starts) else n) for k, s in enumerate(starts)]
    at = {b.start: k for k, b in enumerate(blocks)}
    for k, b in enumerate(blocks):
        last = ins[b.end - 1]
        kind = last.get("branch")
        nxt = k + 1 if k + 1 < len(blocks) else None
        succ = []
        if kind in ("cond", "uncond", "cold") and last.get("target") is not None:
            succ.append(at[last["target"]])
            if kind == "cold":
                b.cold = at[last["target"]]
        if kind in (None, "cond", "cond-exit", "cold") and nxt is not None:
            succ.append(nxt)
        b.succ = sorted(set(succ))
    for k, b in enumerate(blocks):
        for s in b.succ:
            blocks[s].pred.append(k)
    return blocks


def dominators(blocks):
    n = len(blocks)
    if not n:
        return []
    # reachable blocks from the entry; unreachable ones dominate nothing and are in no loop
    seen, stack = {0}, [0]
    while stack:
        for s in blocks[stack.pop()].succ:
            if s not in seen:
                seen.add(s)
                stack.append(s)
    full = set(seen)
    dom = [set(full) if k in seen else set() for k in range(n)]
    dom[0] = {0}
    changed = True
    while changed:
        changed = False
        for k in sorted(seen):
            if k == 0:
                continue
            preds = [p for p in blocks[k].pred if p in seen]
            new = set.intersection(*(dom[p] for p in preds)) if preds else set()
            new = new | {k}
            if new != dom[k]:
                dom[k] = new
                changed = True
    return dom


def hot_body(blocks, h, body):
    """the blocks of a loop that the header reaches without a cold jump (the copy of a loop body
    the compiler makes for warps that arrive diverged at a warp barrier is left out)"""
    seen, stack = {h}, [h]
    while stack:
        k = stack.pop()
        for s in blocks[k].succ:
            if s in body and s not in seen and s != blocks[k].cold:
                seen.add(s)
                stack.append(s)
    return seen


def natural_loops(blocks, dom):
    """[(header, set of block indices)] with loops of the same header merged."""
    loops = {}
    for u, b in enumerate(blocks):
        for h in b.succ:
            if h in dom[u]:  # back edge u -> h
                body = {h, u}
                stack = [u] if u != h else []
                while stack:
                    x = stack.pop()
                    for p in blocks[x].pred:
                        if p not in body:
                            body.add(p)
                            stack.append(p)
                loops.setdefault(h, set()).update(body)
    return sorted((h, hot_body(blocks, h, b)) for h, b in loops.items())


def innermost(loops):
    headers = {h for h, _ in loops}
    return [(h, body) for h, body in loops if not (headers & body) - {h}]


def loop_instructions(blocks, body):
    """instruction indices of a loop, in address order"""
    out = []
    for k in sorted(body):
        out.extend(range(blocks[k].start, blocks[k].end))
    return out
