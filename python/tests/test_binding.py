"""The ctypes binding matches include/unweight.h: every struct mirrored in Python has the C
compiler's size and field offsets, the enums the header's values, and the library loaded is the
package's own, of the package's version."""

import ctypes as C
import os
import shutil
import subprocess

import pytest
from conftest import REPO

import unweight
from unweight import _lib

STRUCTS = {
    "uw_encode_params": _lib.EncodeParams,
    "uw_tensor_info": _lib.TensorInfo,
    "uw_model_progress": _lib.ModelProgress,
    "uw_model_options": _lib.ModelOptions,
    "uw_verify_result": _lib.VerifyResult,
    "uw_choice": _lib.Choice,
}
ENUMS = {
    "UW_SELECT_ALL": _lib.SELECT["all"], "UW_SELECT_MLP": _lib.SELECT["mlp"],
    "UW_CODEC_HUFFMAN": _lib.CODECS["huffman"], "UW_CODEC_PALETTE": _lib.CODECS["palette"],
    "UW_RESIDENT_HUFFMAN": _lib.RESIDENT_HUFFMAN, "UW_RESIDENT_PALETTE": _lib.RESIDENT_PALETTE,
    "UW_RESIDENT_BF16": _lib.RESIDENT_BF16,
    "UW_PIPELINE_AUTO": 0, "UW_PIPELINE_PLAIN_BF16": _lib.PIPELINES["plain-bf16"],
    "UW_PIPELINE_FUSED_HUFFMAN": _lib.PIPELINES["fused-huffman"], "UW_PIPELINE_BLAS_BF16": _lib.PIPELINES["blas-bf16"],
    "UW_ERR_INVALID_ARG": 1, "UW_ERR_CORRUPT": 2, "UW_ERR_CHECKSUM": 3, "UW_ERR_IO": 6, "UW_ERR_BACKEND": 10,
}


def c_layouts(tmp_path):
    """sizeof/offsetof of every mirrored struct and the enums' values, as the C compiler sees them."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    assert cc, "a C compiler is needed to check the binding's struct layouts (the build needs one anyway)"
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "unweight.h"', "int main(void) {"]
    for cname, py in STRUCTS.items():
        lines.append(f'printf("{cname} sizeof %zu\\n", sizeof({cname}));')
        for field, _ in py._fields_:
            lines.append(f'printf("{cname} {field} %zu\\n", offsetof({cname}, {field}));')
    for name in ENUMS:
        lines.append(f'printf("{name} value %d\\n", (int){name});')
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {tuple(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()}


def test_struct_layouts_and_enums_match_the_header(tmp_path):
    c = c_layouts(tmp_path)
    for cname, py in STRUCTS.items():
        assert C.sizeof(py) == c[(cname, "sizeof")], cname
        for field, _ in py._fields_:
            assert getattr(py, field).offset == c[(cname, field)], f"{cname}.{field}"
    for name, value in ENUMS.items():
        assert value == c[(name, "value")], name


def test_every_struct_field_of_the_header_is_mirrored():
    """A field added to a mirrored struct in the header must be added here too."""
    import re

    header = open(os.path.join(REPO, "include", "unweight.h")).read()
    for cname, py in STRUCTS.items():
        body = re.search(r"typedef struct " + cname + r" \{(.*?)\} " + cname + ";", header, re.S).group(1)
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        names = []
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            decl = re.sub(r"\[[^\]]*\]", "", decl)
            names += [part.strip().split()[-1].lstrip("*") for part in decl.split(",")]
        assert names == [f for f, _ in py._fields_], cname


def test_the_package_loads_its_own_library_of_its_version():
    assert unweight.library_version == unweight.__version__
    if not os.environ.get("UNWEIGHT_LIBRARY"):
        assert os.path.dirname(_lib.lib.path) == os.path.dirname(unweight.__file__)
    assert "cpu" in unweight.backends() and unweight.backends()["cpu"] is True


@pytest.mark.parametrize("spec", [None, "threads=1"])
def test_cpu_device_opens_and_names_itself(spec):
    d = unweight.Device("cpu", spec)
    assert d.name.startswith("cpu: host")
    with pytest.raises(unweight.UsageError):
        unweight.Device("cpu", "fast please")
    with pytest.raises(unweight.NotFoundError):
        unweight.Device("no-such-backend")
