"""safetensors dtype names (docs/FORMAT.md 9.1) and their NumPy and PyTorch equivalents.
All are little-endian, as safetensors stores them; the frameworks' dtypes are looked up lazily so
that importing one framework never requires the other."""

import numpy as np

SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}

_NUMPY_PLAIN = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": "<i2", "U16": "<u2", "F16": "<f2",
    "I32": "<i4", "U32": "<u4", "F32": "<f4", "I64": "<i8", "U64": "<u8", "F64": "<f8", "C64": "<c8",
}
_NUMPY_ML = {"BF16": "bfloat16", "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn", "F8_E8M0": "float8_e8m0fnu"}

_TORCH_NAMES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "F16": "float16",
    "BF16": "bfloat16", "I32": "int32", "U32": "uint32", "F32": "float32", "I64": "int64",
    "U64": "uint64", "F64": "float64", "C64": "complex64", "F8_E5M2": "float8_e5m2",
    "F8_E4M3": "float8_e4m3fn", "F8_E8M0": "float8_e8m0fnu",
}


def numpy_dtype(name):
    """NumPy dtype of a safetensors dtype; BF16 and the 8-bit floats come from ml_dtypes."""
    from ._errors import UnsupportedError

    if name in _NUMPY_PLAIN:
        return np.dtype(_NUMPY_PLAIN[name])
    if name in _NUMPY_ML:
        import ml_dtypes

        t = getattr(ml_dtypes, _NUMPY_ML[name], None)
        if t is not None:
            return np.dtype(t)
        raise UnsupportedError(f"dtype {name}: this ml_dtypes ({ml_dtypes.__version__}) has no {_NUMPY_ML[name]}")
    raise UnsupportedError(f"dtype {name} is not a safetensors dtype")


def torch_dtype(name):
    """torch dtype of a safetensors dtype (the unsigned and 8-bit float ones need a recent torch)."""
    import torch

    from ._errors import UnsupportedError

    t = getattr(torch, _TORCH_NAMES.get(name, "-"), None)
    if t is None:
        raise UnsupportedError(f"dtype {name}: this torch ({torch.__version__}) has no equivalent")
    return t
