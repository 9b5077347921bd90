"""Backends, devices, resident weights and the tuner: thin owners of the library's handles
(uw_device, uw_weights, uw_tuner) that free them in the right order (weights before their
device) and turn statuses into exceptions."""

import ctypes as C
import os
import threading

from ._errors import UsageError
from ._lib import PIPELINES, RESIDENT_BF16, RESIDENT_HUFFMAN, RESIDENT_PALETTE, Choice, EncodeParams, check, fspath, lib


def backends():
    """{name: available} for every backend compiled into this build ("cpu" first); available is
    True when the backend finds a usable device now."""
    out = {}
    for i in range(lib.uw_backend_count()):
        name = lib.uw_backend_name(i).decode()
        out[name] = lib.uw_backend_probe(name.encode()) == 0
    return out


def pipeline_code(name):
    if name not in PIPELINES:
        raise UsageError(f"pipeline {name!r}: expected one of {', '.join(PIPELINES)}")
    return PIPELINES[name]


def default_tuning_cache():
    """${XDG_CACHE_HOME:-~/.cache}/unweight/tuning.tsv, the CLI's default (docs/TUNING.md)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "unweight", "tuning.tsv")


class _Handle:
    """An owner of one library object. Copies share it (copy.deepcopy of a compressed model gives
    a second model on the same immutable resident weights, never two owners of one handle);
    pickling is refused: the handle means nothing in another process."""

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        raise UsageError(f"{type(self).__name__} holds a library handle and cannot be pickled; "
                         "save the model's state_dict() (it holds the original weights) instead")


class Tuner(_Handle):
    """A tuning cache (file-backed, or in memory if path is None)."""

    def __init__(self, path=None):
        self.path = None if path is None else os.fspath(path)
        h = C.c_void_p()
        check(lib.uw_tuner_open(None if path is None else fspath(path), C.byref(h)), self.path)
        self._h = h
        self._users, self._closing, self._close_fn = 0, False, lib.uw_tuner_close
        self.warning = (lib.uw_tuner_warning(h) or b"").decode("utf-8", "replace")

    def entries(self):
        return int(lib.uw_tuner_entries(self._h))

    def save(self):
        if self.path is None:
            raise UsageError("this tuner has no cache file to save to")
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        check(lib.uw_tuner_save(self._h), self.path)

    # At interpreter exit the garbage collector finalizes objects in an arbitrary order: a handle
    # others still use (a tuner attached to a device, a device holding weights) closes only when
    # the last of them is gone, through the library functions captured at creation.
    def _release(self):
        self._users -= 1
        if self._closing and self._users == 0:
            self._close()

    def _close(self):
        if getattr(self, "_h", None):
            self._close_fn(self._h)
            self._h = None

    def __del__(self):
        self._closing = True
        if getattr(self, "_users", 0) == 0:
            self._close()


class Device(_Handle):
    """One backend instance: Device("cpu"), Device("cpu", "threads=1"), Device("cuda", "0")."""

    def __init__(self, backend="cpu", spec=None, tuner=None):
        self.backend = backend
        self.spec = spec
        h = C.c_void_p()
        check(
            lib.uw_device_open(backend.encode(), None if spec is None else spec.encode(), C.byref(h)),
            f"backend {backend}",
        )
        self._h = h
        self._users, self._closing = 0, False
        self._close_fn, self._set_tuner_fn = lib.uw_device_close, lib.uw_device_set_tuner
        self.name = lib.uw_device_name(h).decode("utf-8", "replace")
        self.tuner = None
        # AUTO looks the tuner up per call; changing it while another thread runs would race
        self._lock = threading.Lock()
        if tuner is not None:
            self.set_tuner(tuner)

    def set_tuner(self, tuner):
        with self._lock:
            lib.uw_device_set_tuner(self._h, tuner._h if tuner is not None else None)
            if tuner is not None:
                tuner._users += 1
            if self.tuner is not None:
                self.tuner._release()
            self.tuner = tuner  # kept alive as long as the device uses it

    def __repr__(self):
        return f"Device({self.name!r})"

    def _release(self):
        self._users -= 1
        if self._closing and self._users == 0:
            self._close()

    def _close(self):
        if getattr(self, "_h", None):
            self._set_tuner_fn(self._h, None)
            self._close_fn(self._h)
            self._h = None
            if self.tuner is not None:
                self.tuner._release()
                self.tuner = None

    def __del__(self):
        self._closing = True
        if getattr(self, "_users", 0) == 0:
            self._close()


def encode_params(threads=0, codec="huffman"):
    p = EncodeParams()
    lib.uw_encode_params_default(C.byref(p))
    p.threads = threads
    p.codec = {"huffman": 1, "palette": 2}[codec]
    return p


class Weights(_Handle):
    """A rows x cols BF16 matrix resident on a device: compressed (from host BF16 at `address`,
    encoded here, uploaded in the `resident` forms) or, with resident="bf16", plain BF16 (the
    baseline the plain-bf16 pipeline runs on)."""

    FORMS = {"huffman": RESIDENT_HUFFMAN, "palette": RESIDENT_PALETTE,
             "huffman+palette": RESIDENT_HUFFMAN | RESIDENT_PALETTE, "bf16": RESIDENT_BF16}

    def __init__(self, device, address, rows, cols, resident="huffman", threads=0):
        if resident not in self.FORMS:
            raise UsageError(f"resident={resident!r}: expected one of {', '.join(self.FORMS)}")
        self.device = device  # the device outlives its weights
        self.rows, self.cols = int(rows), int(cols)
        self.resident = resident
        h = C.c_void_p()
        if resident == "bf16":
            check(lib.uw_weights_upload_bf16(device._h, C.c_void_p(address), rows, cols, C.byref(h)), "upload")
            self.blob_bytes = 0
            self.resident_bytes = 2 * self.rows * self.cols
        else:
            blob = C.POINTER(C.c_uint8)()
            size = C.c_size_t()
            p = encode_params(threads)
            check(lib.uw_tensor_encode(C.c_void_p(address), rows, cols, C.byref(p), C.byref(blob), C.byref(size)), "encode")
            try:
                check(lib.uw_weights_upload(device._h, blob, size.value, self.FORMS[resident], C.byref(h)), "upload")
            finally:
                lib.uw_free(blob)
            self.blob_bytes = int(size.value)
            # the backend keeps the blob as it is if asked, and the palette IR (12 bits/weight; a
            # backend's panel padding not counted) if asked
            self.resident_bytes = ((self.blob_bytes if "huffman" in resident else 0)
                                   + (self._palette_bytes() if "palette" in resident else 0))
        self._h = h
        self._free_fn = lib.uw_weights_free
        device._users += 1

    def _palette_bytes(self):
        return (3 * self.rows * self.cols + 1) // 2

    def matmul(self, pipeline, x_address, y_address, batch):
        """y = x W^T, x host BF16 [batch, cols], y host fp32 [batch, rows]; blocks."""
        check(lib.uw_weights_matmul(self._h, pipeline, C.c_void_p(x_address), C.c_void_p(y_address), batch), "matmul")

    def matmul_async(self, pipeline, x_address, y_address, batch, stream):
        """The same with x and y in device memory, enqueued on `stream` (a cudaStream_t)."""
        check(
            lib.uw_weights_matmul_async(
                self._h, pipeline, C.c_void_p(x_address), C.c_void_p(y_address), batch, C.c_void_p(stream)
            ),
            "matmul",
        )

    def decode_into(self, address):
        check(lib.uw_weights_decode(self._h, C.c_void_p(address), self.rows * self.cols), "decode")

    def choice(self, batch):
        """What the AUTO pipeline runs for this batch size: (pipeline name, tuned?, params)."""
        c = Choice()
        check(lib.uw_weights_choice(self._h, batch, C.byref(c)), "choice")
        params = {c.param_names[i].value.decode(): c.param_values[i] for i in range(c.nparams)}
        return lib.uw_pipeline_name(c.pipeline).decode(), bool(c.tuned), params

    def tune(self, batch, force=False):
        t = self.device.tuner
        if t is None:
            raise UsageError("tuning needs a device with a tuner")
        check(lib.uw_tune(t._h, self._h, batch, int(bool(force))), "tune")

    def __del__(self):
        if getattr(self, "_h", None):
            self._free_fn(self._h)
            self._h = None
            self.device._release()
