"""ctypes binding of libunweight (include/unweight.h): the shared library shipped inside this
package, the structs it exchanges, every function's prototype, and status -> exception."""

import collections
import ctypes as C
import os
import sys

from ._errors import STATUS_CLASSES, UnweightError

# ---------------------------------------------------------------- structs (include/unweight.h)
# Layouts are checked against the C compiler's in tests/test_binding.py.

MAX_DIMS = 8


class EncodeParams(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("codec", C.c_int),
        ("rare_mode", C.c_int),
        ("sym_order", C.c_int),
        ("chunk_len", C.c_uint32),
        ("tile_rows", C.c_uint32),
        ("tile_cols", C.c_uint32),
        ("lanes", C.c_uint32),
        ("threads", C.c_int),
    ]


class TensorInfo(C.Structure):
    _fields_ = [
        ("name", C.c_char_p),
        ("dtype", C.c_char_p),
        ("ndim", C.c_int),
        ("shape", C.c_uint64 * MAX_DIMS),
        ("orig_bytes", C.c_uint64),
        ("stored_bytes", C.c_uint64),
        ("compressed", C.c_int),
        ("codec", C.c_int),
        ("exp_entropy", C.c_double),
        ("verbatim_frac", C.c_double),
    ]


class ModelProgress(C.Structure):
    _fields_ = [
        ("done", C.c_uint64),
        ("total", C.c_uint64),
        ("file_done", C.c_uint64),
        ("file_total", C.c_uint64),
        ("file", C.c_size_t),
        ("files", C.c_size_t),
        ("name", C.c_char_p),
    ]


MODEL_PROGRESS_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(ModelProgress))
VERIFY_FN = C.CFUNCTYPE(None, C.c_void_p, C.c_char_p, C.c_char_p, C.c_int, C.c_char_p)


class ModelOptions(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("threads", C.c_int),
        ("select", C.c_int),
        ("params", EncodeParams),
        ("progress", MODEL_PROGRESS_FN),
        ("on_failure", VERIFY_FN),
        ("user", C.c_void_p),
    ]


class VerifyResult(C.Structure):
    _fields_ = [
        ("files", C.c_size_t),
        ("tensors", C.c_size_t),
        ("failed", C.c_size_t),
        ("complete", C.c_int),
    ]


class Choice(C.Structure):
    _fields_ = [
        ("pipeline", C.c_int),
        ("tuned", C.c_int),
        ("nparams", C.c_int),
        ("param_names", (C.c_char * 32) * 4),
        ("param_values", C.c_int * 4),
        ("time_us", C.c_double),
    ]


# ---------------------------------------------------------------- constants

SELECT = {"all": 0, "mlp": 1}
CODECS = {"huffman": 1, "palette": 2}
RESIDENT_HUFFMAN, RESIDENT_PALETTE, RESIDENT_BF16 = 1, 2, 4
PIPELINES = {
    "auto": 0,
    "decode+gemm": 1,
    "exp-predecode": 2,
    "palette-transcode": 3,
    "palette-direct": 4,
    "fused-huffman": 5,
    "plain-bf16": 6,
    "blas-bf16": 7,
}

# ---------------------------------------------------------------- prototypes

_p = C.c_void_p
_u8pp = C.POINTER(C.POINTER(C.c_uint8))
_PROTOS = {
    # name: (restype, argtypes); restype c_int = uw_status
    "uw_version": (C.c_char_p, []),
    "uw_status_name": (C.c_char_p, [C.c_int]),
    "uw_last_error": (C.c_char_p, []),
    "uw_free": (None, [_p]),
    "uw_encode_params_default": (None, [C.POINTER(EncodeParams)]),
    "uw_tensor_encode": (C.c_int, [_p, C.c_uint64, C.c_uint64, C.POINTER(EncodeParams), _u8pp, C.POINTER(C.c_size_t)]),
    "uw_blob_decode": (C.c_int, [_p, C.c_size_t, _p, C.c_uint64, C.c_int]),
    "uw_matrix_view": (None, [C.c_int, C.POINTER(C.c_uint64), C.POINTER(C.c_uint64), C.POINTER(C.c_uint64)]),
    "uw_select_tensor": (C.c_int, [C.c_int, C.c_char_p, C.c_char_p, C.c_int, C.POINTER(C.c_uint64)]),
    # files
    "uw_file_open": (C.c_int, [C.c_char_p, C.POINTER(_p)]),
    "uw_file_close": (None, [_p]),
    "uw_file_is_compressed": (C.c_int, [_p]),
    "uw_file_tensor_count": (C.c_size_t, [_p]),
    "uw_file_tensor_info": (C.c_int, [_p, C.c_size_t, C.POINTER(TensorInfo)]),
    "uw_file_find": (C.c_int, [_p, C.c_char_p, C.POINTER(C.c_size_t)]),
    "uw_file_decode": (C.c_int, [_p, C.c_size_t, _p, C.c_size_t, C.c_int]),
    # models (a single file or a sharded model's index)
    "uw_model_is_index": (C.c_int, [C.c_char_p]),
    "uw_model_options_default": (None, [C.POINTER(ModelOptions)]),
    "uw_compress_model": (C.c_int, [C.c_char_p, C.c_char_p, C.POINTER(ModelOptions)]),
    "uw_decompress_model": (C.c_int, [C.c_char_p, C.c_char_p, C.POINTER(ModelOptions)]),
    "uw_verify_model": (C.c_int, [C.c_char_p, C.POINTER(ModelOptions), C.POINTER(VerifyResult)]),
    # devices, resident weights, tuner
    "uw_pipeline_name": (C.c_char_p, [C.c_int]),
    "uw_device_open": (C.c_int, [C.c_char_p, C.c_char_p, C.POINTER(_p)]),
    "uw_device_close": (None, [_p]),
    "uw_device_name": (C.c_char_p, [_p]),
    "uw_weights_upload": (C.c_int, [_p, _p, C.c_size_t, C.c_uint, C.POINTER(_p)]),
    "uw_weights_upload_bf16": (C.c_int, [_p, _p, C.c_uint64, C.c_uint64, C.POINTER(_p)]),
    "uw_weights_free": (None, [_p]),
    "uw_weights_decode": (C.c_int, [_p, _p, C.c_uint64]),
    "uw_weights_matmul": (C.c_int, [_p, C.c_int, _p, _p, C.c_uint64]),
    "uw_weights_matmul_async": (C.c_int, [_p, C.c_int, _p, _p, C.c_uint64, _p]),
    "uw_weights_choice": (C.c_int, [_p, C.c_uint64, C.POINTER(Choice)]),
    "uw_tuner_open": (C.c_int, [C.c_char_p, C.POINTER(_p)]),
    "uw_tuner_close": (None, [_p]),
    "uw_tuner_warning": (C.c_char_p, [_p]),
    "uw_tuner_entries": (C.c_size_t, [_p]),
    "uw_tuner_save": (C.c_int, [_p]),
    "uw_device_set_tuner": (None, [_p, _p]),
    "uw_tune": (C.c_int, [_p, _p, C.c_uint64, C.c_int]),
    "uw_backend_count": (C.c_size_t, []),
    "uw_backend_name": (C.c_char_p, [C.c_size_t]),
    "uw_backend_probe": (C.c_int, [C.c_char_p]),
}


def _library_path():
    """The library inside this package, or $UNWEIGHT_LIBRARY (a developer's build tree)."""
    override = os.environ.get("UNWEIGHT_LIBRARY")
    if override:
        return override
    name = {"darwin": "libunweight.dylib", "win32": "unweight.dll"}.get(sys.platform, "libunweight.so")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


class _Library:
    """The loaded library: one attribute per function of _PROTOS. `calls` counts the calls
    made through this binding per function (how tests show that safe_open decodes lazily)."""

    def __init__(self, path):
        try:
            # ctypes.CDLL releases the GIL around every call: other Python threads run meanwhile
            self._dll = C.CDLL(path)
        except OSError as e:
            raise ImportError(
                f"unweight: cannot load the C library {path!r} ({e}); reinstall the package "
                "(pip install .) or set UNWEIGHT_LIBRARY to a built libunweight.so"
            ) from None
        self.path = path
        self.calls = collections.Counter()
        for name, (res, args) in _PROTOS.items():
            fn = getattr(self._dll, name)
            fn.restype = res
            fn.argtypes = args
            setattr(self, name, self._counted(name, fn))

    def _counted(self, name, fn):
        calls = self.calls

        def call(*args):
            calls[name] += 1
            return fn(*args)

        call.__name__ = name
        return call


lib = _Library(_library_path())


def last_error():
    return (lib.uw_last_error() or b"").decode("utf-8", "replace")


def error(status, context=None):
    """The exception for a failed call's status, with the library's message (read at once: it is
    thread-local and only valid until the next call on this thread)."""
    detail = last_error()
    name = lib.uw_status_name(status).decode()
    msg = detail or name
    if context and context not in msg:
        msg = f"{context}: {msg}"
    return STATUS_CLASSES.get(status, UnweightError)(msg, name)


def check(status, context=None):
    if status != 0:
        raise error(status, context)


def fspath(path):
    """A path argument as the bytes the C library takes (str, bytes or os.PathLike)."""
    return os.fsencode(os.fspath(path))
