"""The exceptions of the unweight package: one base class, and one subclass per kind of failure
the library reports (its uw_status), each carrying the library's message (uw_last_error)."""


class UnweightError(Exception):
    """Base of every error this package raises. `status` is the library's status name
    (e.g. "UW_ERR_CORRUPT", or None for an error found in Python), `message` its detail."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status


class UsageError(UnweightError, ValueError):
    """The caller asked for something impossible: a bad argument or option, an output that would
    overwrite its input, a file that is not compressed where a compressed one is needed."""


class CorruptError(UnweightError):
    """The input bytes violate the safetensors rules or docs/FORMAT.md (truncated, damaged)."""


class ChecksumError(CorruptError):
    """The structure is fine but a checksum does not match: the data was damaged."""


class LimitError(CorruptError):
    """The input exceeds one of the documented limits (docs/LIMITS.md)."""


class UnsupportedError(UnweightError):
    """Valid input this build does not handle (a future format version, a pipeline a backend
    does not offer)."""


class UnweightIOError(UnweightError, OSError):
    """Opening, reading, writing or renaming a file failed, or the work was cancelled."""


class NotFoundError(UnweightError, LookupError):
    """No such tensor, or no such backend in this build."""


class DeviceError(UnweightError, RuntimeError):
    """A backend is built in but has no usable device, or one of its calls failed."""


class UnweightMemoryError(UnweightError, MemoryError):
    """The library could not allocate memory."""


# uw_status values (include/uw_status.h) -> exception class
STATUS_CLASSES = {
    1: UsageError,           # UW_ERR_INVALID_ARG
    2: CorruptError,         # UW_ERR_CORRUPT
    3: ChecksumError,        # UW_ERR_CHECKSUM
    4: UnsupportedError,     # UW_ERR_UNSUPPORTED
    5: LimitError,           # UW_ERR_LIMIT
    6: UnweightIOError,      # UW_ERR_IO
    7: UnweightMemoryError,  # UW_ERR_NOMEM
    8: NotFoundError,        # UW_ERR_NOT_FOUND
    9: DeviceError,          # UW_ERR_NO_DEVICE
    10: DeviceError,         # UW_ERR_BACKEND
}
