"""unweight: lossless compression of BF16 LLM weights that stays compressed in memory.

Reading (plain or compressed safetensors files, the safetensors API):
    unweight.safe_open(path, framework="pt"|"np"), unweight.numpy.load_file(path),
    unweight.torch.load_file(path, device="cpu")
Writing: unweight.compress_file, decompress_file, verify_file (one file or a sharded model's index)
Models that stay compressed: unweight.torch.compress_model(model, select="mlp", backend="cpu")
Errors: unweight.UnweightError and its subclasses, carrying the C library's message."""

from ._device import Device, Tuner, backends, default_tuning_cache
from ._errors import (
    ChecksumError,
    CorruptError,
    DeviceError,
    LimitError,
    NotFoundError,
    UnsupportedError,
    UnweightError,
    UnweightIOError,
    UnweightMemoryError,
    UsageError,
)
from ._file import TensorEntry, safe_open
from ._lib import lib as _library
from ._progress import Progress
from ._write import VerifyReport, compress_file, decompress_file, is_index, verify_file

__version__ = "0.1.0"
library_version = _library.uw_version().decode()
if library_version.split(".")[:2] != __version__.split(".")[:2]:
    raise ImportError(f"unweight {__version__}: loaded C library {_library.path} is version {library_version}")

__all__ = [
    "safe_open", "compress_file", "decompress_file", "verify_file", "is_index", "VerifyReport", "Progress",
    "TensorEntry", "backends", "Device", "Tuner", "default_tuning_cache", "library_version",
    "UnweightError", "UsageError", "CorruptError", "ChecksumError", "LimitError", "UnsupportedError",
    "UnweightIOError", "NotFoundError", "DeviceError", "UnweightMemoryError",
]


def __getattr__(name):
    # unweight.numpy / unweight.torch on first use, so `import unweight` needs neither framework
    if name in ("numpy", "torch"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
