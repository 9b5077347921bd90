#!/usr/bin/env python3
"""check-exports.py - a shared libunweight exports exactly the API of include/ (issue 11).

Usage: ci/check-exports.py LIBUNWEIGHT.so [INCLUDE_DIR]

The declared set: every function (or variable) declared at file scope in the headers of include/,
read from the C preprocessor's output (so macros and #if are honoured; lines from system headers
are dropped by their line markers). A declaration without UW_API is reported as well: it would be
declared but not exported. The exported set: `nm -D --defined-only` of the library. Any
difference in either direction fails, listing the names.
"""
import os
import re
import subprocess
import sys

MARK = "__uw_api_marker__"


def preprocess(include_dir):
    headers = sorted(f for f in os.listdir(include_dir) if f.endswith(".h"))
    if not headers:
        sys.exit(f"check-exports: no headers in {include_dir}")
    src = "".join(f'#include "{h}"\n' for h in headers)
    cc = os.environ.get("CC", "cc")
    out = subprocess.run([cc, "-E", f"-DUW_API={MARK}", "-I", include_dir, "-x", "c", "-"],
                         input=src, capture_output=True, text=True, check=True).stdout
    # keep only the lines that come from include/ (line markers: # N "file" flags)
    keep, mine = [], False
    root = os.path.realpath(include_dir)
    for line in out.splitlines():
        m = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if m:
            mine = os.path.realpath(m.group(1)).startswith(root + os.sep)
            continue
        if mine:
            keep.append(line)
    return " ".join(keep)


def strip_attributes(text):
    """Remove __attribute__((...)) groups (balanced parentheses)."""
    out, i = [], 0
    while True:
        j = text.find("__attribute__", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.index("(", j)
        depth = 0
        while True:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
            if depth == 0:
                break
        i = k


def declarations(text):
    """File-scope statements ending in ';' (brace depth 0), without struct/enum bodies."""
    stmts, cur, depth = [], [], 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            stmts.append("".join(cur).strip())
            cur = []
            continue
        if depth == 0 and ch not in "{}":
            cur.append(ch)
    return stmts


def declared(include_dir):
    api, unmarked = set(), set()
    for st in declarations(strip_attributes(preprocess(include_dir))):
        st = re.sub(r"\s+", " ", st)
        if not st or st.startswith("typedef") or re.match(r"^(struct|enum|union)( \w+)?$", st):
            continue
        if "(" in st:
            m = re.match(r"^[^(]*?([A-Za-z_]\w*) ?\(", st)
        else:
            m = re.search(r"([A-Za-z_]\w*)(\[[^\]]*\])? ?$", st)
        if not m:
            sys.exit(f"check-exports: cannot read the declaration '{st}'")
        (api if MARK in st else unmarked).add(m.group(1))
    return api, unmarked


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            names.add(parts[2].split("@")[0])
    return names


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2])
    lib = sys.argv[1]
    inc = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "include")
    api, unmarked = declared(inc)
    exp = exported(lib)
    ok = True
    for name in sorted(unmarked):
        print(f"declared in include/ without UW_API (not exported): {name}")
        ok = False
    for name in sorted(exp - api):
        print(f"exported by {os.path.basename(lib)} but not declared in include/: {name}")
        ok = False
    for name in sorted(api - exp):
        print(f"declared in include/ but not exported by {os.path.basename(lib)}: {name}")
        ok = False
    if not api:
        print("no UW_API declaration found in include/")
        ok = False
    if ok:
        print(f"check-exports: {os.path.basename(lib)} exports exactly the {len(api)} functions of include/")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
