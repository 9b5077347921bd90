"""Reading safetensors files, plain or unweight-compressed, one tensor at a time: `safe_open`
(the safetensors API) over the library's uw_file (mmap, headers validated on open, each tensor
decoded and checksummed only when asked for)."""

import ctypes as C
import json
import os
import threading

from . import _dtypes
from ._errors import UsageError
from ._lib import TensorInfo, check, fspath, lib


class TensorEntry:
    """One tensor as the original file had it, and how this file stores it."""

    __slots__ = ("name", "index", "dtype", "shape", "nbytes", "stored_bytes", "compressed", "codec")

    def __init__(self, index, ti):
        self.index = index
        self.name = ti.name.decode("utf-8")
        self.dtype = ti.dtype.decode("ascii")
        self.shape = tuple(int(ti.shape[d]) for d in range(ti.ndim))
        self.nbytes = int(ti.orig_bytes)
        self.stored_bytes = int(ti.stored_bytes)
        self.compressed = bool(ti.compressed)
        self.codec = {1: "huffman", 2: "palette"}.get(ti.codec) if ti.compressed else None

    def __repr__(self):
        how = f"compressed {self.codec}, {self.stored_bytes} bytes" if self.compressed else "stored as is"
        return f"TensorEntry({self.name!r}, {self.dtype}, {list(self.shape)}, {self.nbytes} bytes, {how})"


class File:
    """An open safetensors file (plain or compressed). Decoding releases the GIL; calls on one
    File are serialised (closing waits for a decode in progress)."""

    def __init__(self, path, threads=0):
        self.path = os.fspath(path)
        if not isinstance(threads, int) or threads < 0:
            raise UsageError(f"threads must be an integer >= 0, not {threads!r}")
        self.threads = threads
        self._lock = threading.Lock()
        h = C.c_void_p()
        check(lib.uw_file_open(fspath(path), C.byref(h)), self.path)
        self._h = h
        self._close_fn = lib.uw_file_close  # still there when __del__ runs at interpreter exit
        self.compressed = bool(lib.uw_file_is_compressed(h))
        self._entries = {}
        for i in range(lib.uw_file_tensor_count(h)):
            ti = TensorInfo()
            check(lib.uw_file_tensor_info(h, i, C.byref(ti)), self.path)
            e = TensorEntry(i, ti)
            self._entries[e.name] = e

    # -- life cycle (copies share the handle: see _device._Handle)
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def close(self):
        with self._lock:
            if self._h:
                self._close_fn(self._h)
                self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None):
            self._close_fn(self._h)
            self._h = None

    # -- what is in it
    def keys(self):
        """Tensor names, sorted (as safetensors lists them)."""
        return sorted(self._entries)

    def entry(self, name):
        try:
            return self._entries[name]
        except KeyError:
            from ._errors import NotFoundError

            raise NotFoundError(f"{self.path}: no tensor named {name!r}") from None

    def entries(self):
        return [self._entries[k] for k in self.keys()]

    def metadata(self):
        """The original file's `__metadata__` (a dict of strings), or None if it had none."""
        with open(self.path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        meta = header.get("__metadata__")
        if self.compressed:
            # the original header is kept verbatim inside __metadata__.unweight (FORMAT.md 9.2)
            original = json.loads(json.loads(meta["unweight"])["original_header"])
            meta = original.get("__metadata__")
        return dict(meta) if meta is not None else None

    # -- decoding
    def decode_into(self, name, address, size):
        """Decode tensor `name` to its original bytes at `address` (size bytes, exactly its size)."""
        e = self.entry(name)
        if size != e.nbytes:
            raise UsageError(f"{self.path}: tensor {name!r} has {e.nbytes} bytes, buffer {size}")
        dummy = None
        if size == 0:  # the library wants a buffer even for no bytes
            dummy = C.create_string_buffer(1)
            address = C.addressof(dummy)
        with self._lock:
            if not self._h:
                raise UsageError(f"{self.path}: the file is closed")
            check(lib.uw_file_decode(self._h, e.index, C.c_void_p(address), size, self.threads), self.path)

    def numpy(self, name):
        """Tensor `name` as a new NumPy array (BF16 and 8-bit floats as ml_dtypes types)."""
        import numpy as np

        e = self.entry(name)
        dt = _dtypes.numpy_dtype(e.dtype)
        buf = np.empty(e.nbytes, dtype=np.uint8)
        self.decode_into(name, buf.ctypes.data, e.nbytes)
        return buf.view(dt).reshape(e.shape)

    def torch(self, name, device="cpu"):
        """Tensor `name` as a new torch.Tensor, decoded into its CPU memory, then moved to device."""
        import torch

        e = self.entry(name)
        dt = _dtypes.torch_dtype(e.dtype)
        buf = torch.empty(e.nbytes, dtype=torch.uint8)
        self.decode_into(name, buf.data_ptr(), e.nbytes)
        t = buf.view(dt).reshape(e.shape)
        return t if str(device) == "cpu" else t.to(device)


_FRAMEWORKS = {"np": "np", "numpy": "np", "pt": "pt", "torch": "pt", "pytorch": "pt"}


class safe_open:
    """`safetensors.safe_open` for plain and unweight-compressed files:

        with unweight.safe_open("model.safetensors", framework="pt") as f:
            for name in f.keys():
                t = f.get_tensor(name)   # decodes this tensor only

    framework "pt" (torch tensors, moved to `device`) or "np" (NumPy arrays); `threads` is the
    number of decoder threads (0 = all cores)."""

    def __init__(self, filename, framework="pt", device="cpu", threads=0, backend=None):
        # backend: safetensors' choice of mmap or pread, accepted for compatibility (always mmap)
        fw = _FRAMEWORKS.get(framework)
        if fw is None:
            raise UsageError(f"framework {framework!r}: expected 'pt' or 'np'")
        if fw == "np" and str(device) != "cpu":
            raise UsageError(f"framework 'np' reads into host memory; device {device!r} is for 'pt'")
        self._fw = fw
        self._device = device
        self._file = File(filename, threads)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()

    def close(self):
        self._file.close()

    def keys(self):
        return self._file.keys()

    def metadata(self):
        return self._file.metadata()

    def get_tensor(self, name):
        if self._fw == "np":
            return self._file.numpy(name)
        return self._file.torch(name, self._device)

    def get_slice(self, name):
        """A lazy view of tensor `name` (safetensors' get_slice): get_shape() and get_dtype() read
        nothing; indexing decodes the whole tensor, then slices it."""
        self._file.entry(name)
        return TensorSlice(self, name)

    def info(self, name):
        """How tensor `name` is stored: dtype, shape, original and stored bytes, codec."""
        return self._file.entry(name)

    @property
    def compressed(self):
        """True if the file was written by unweight's compress."""
        return self._file.compressed


class TensorSlice:
    """What safe_open.get_slice returns."""

    def __init__(self, owner, name):
        self._owner = owner
        self._entry = owner._file.entry(name)

    def get_shape(self):
        return list(self._entry.shape)

    def get_dtype(self):
        return self._entry.dtype

    def __len__(self):
        return self._entry.shape[0] if self._entry.shape else 0

    def __getitem__(self, index):
        return self._owner.get_tensor(self._entry.name)[index]
