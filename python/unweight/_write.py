"""Compress, decompress and verify whole files or sharded models (by their
*.safetensors.index.json) through the library's model calls, which write every output to a
temporary file and rename it into place only once all succeeded: a failure leaves nothing."""

import ctypes as C
import os

from ._errors import UsageError
from ._lib import CODECS, SELECT, VERIFY_FN, ModelOptions, VerifyResult, error, fspath, lib
from ._progress import Reporter


def _options(threads, select=None, codec=None):
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise UsageError(f"threads must be an integer >= 0 (0 = all cores), not {threads!r}")
    o = ModelOptions()
    lib.uw_model_options_default(C.byref(o))
    o.threads = threads
    if select is not None:
        if select not in SELECT:
            raise UsageError(f"select={select!r}: expected 'all' or 'mlp'")
        o.select = SELECT[select]
    if codec is not None:
        if codec not in CODECS:
            raise UsageError(f"codec={codec!r}: expected 'huffman' or 'palette'")
        o.params.codec = CODECS[codec]
    return o


def _run(call, src, dst, o, progress, verb):
    with Reporter(progress, verb) as rep:
        rep.install(o)
        status = call(fspath(src), fspath(dst), C.byref(o))
        exc = error(status, os.fspath(src)) if status else None
    rep.reraise()  # the callback's exception cancelled the call: it is the news
    if exc is not None:
        raise exc


def compress_file(src, dst, select="all", threads=0, progress=True, codec="huffman"):
    """Compress a .safetensors file, or a sharded model given by its *.safetensors.index.json
    (then dst ends in .index.json too and the shards are written beside it).

    select: "all" (every BF16 tensor with 2+ dims and >= 4096 elements) or "mlp" (MLP
    projections only). threads: 0 = all cores. progress: True for a bar on stderr, False, or a
    callable receiving unweight.Progress (raising in it cancels). Output is written atomically:
    on any error, nothing is left at dst."""
    _run(lib.uw_compress_model, src, dst, _options(threads, select, codec), progress, "compress")


def decompress_file(src, dst, threads=0, progress=True):
    """Write the original file (or every shard and the index) byte for byte from a compressed one."""
    _run(lib.uw_decompress_model, src, dst, _options(threads), progress, "decompress")


class VerifyReport:
    """What verify_file checked: files, tensors, and the failures as (file, tensor, status, message)."""

    def __init__(self, r, failures):
        self.files = int(r.files)
        self.tensors = int(r.tensors)
        self.failed = int(r.failed)
        self.failures = failures

    @property
    def ok(self):
        return self.failed == 0

    def __repr__(self):
        return f"VerifyReport(files={self.files}, tensors={self.tensors}, failed={self.failed})"


def verify_file(path, threads=0, progress=True):
    """Decode every tensor of a compressed file or sharded model and check its checksums.

    Returns a VerifyReport when every tensor passes. Otherwise raises the first failure's
    exception (ChecksumError, CorruptError, ...; `.report` holds the VerifyReport listing every
    failing tensor), or the error that stopped the check (a file that cannot be opened, or is not
    compressed: UsageError)."""
    o = _options(threads)
    failures = []

    def failed(user, file, tensor, status, message):
        failures.append(
            (
                os.fsdecode(file or b""),
                (tensor or b"").decode("utf-8", "replace"),
                lib.uw_status_name(status).decode(),
                (message or b"").decode("utf-8", "replace"),
            )
        )

    on_failure = VERIFY_FN(failed)
    o.on_failure = on_failure
    r = VerifyResult()
    with Reporter(progress, "verify") as rep:
        rep.install(o)
        status = lib.uw_verify_model(fspath(path), C.byref(o), C.byref(r))
        exc = error(status, os.fspath(path)) if status else None
    rep.reraise()
    report = VerifyReport(r, failures)
    if exc is not None:
        exc.report = report
        raise exc
    return report


def is_index(path):
    """True if path names a sharded model's index (by its name)."""
    return bool(lib.uw_model_is_index(fspath(path)))


__all__ = ["compress_file", "decompress_file", "verify_file", "VerifyReport", "is_index"]
