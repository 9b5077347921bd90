"""Progress of the library's long calls (compress, decompress, verify): a tqdm bar when tqdm is
installed, a one-line counter on a terminal otherwise, or the caller's function. An exception
raised while reporting (Ctrl-C included) cancels the call, which then leaves no output behind,
and is raised again once the library has returned."""

import collections
import sys

from ._lib import MODEL_PROGRESS_FN

Progress = collections.namedtuple("Progress", "done total file files name")
Progress.__doc__ = """Where a call stands: bytes of tensor data done and in all (whole model), the
current file's index and the number of files, and its name."""


class Reporter:
    """progress: True (a bar on stderr), False/None (silent) or a callable(Progress)."""

    def __init__(self, progress, verb):
        self.verb = verb
        self.pending = None
        self.bar = None
        self._line = False
        self.fn = progress if callable(progress) else None
        self.enabled = bool(progress)
        # the ctypes thunk must outlive the call: kept here
        self.cfunc = MODEL_PROGRESS_FN(self._called) if self.enabled else None

    def install(self, options):
        if self.cfunc is not None:
            options.progress = self.cfunc

    def _called(self, user, p):
        try:
            p = p.contents
            name = (p.name or b"").decode("utf-8", "replace")
            info = Progress(int(p.done), int(p.total), int(p.file), int(p.files), name)
            if self.fn is not None:
                self.fn(info)
            else:
                self._show(info)
            return 0
        except BaseException as e:  # noqa: B902 - Ctrl-C too: cancel cleanly, re-raise after
            self.pending = e
            return 1

    def _show(self, info):
        label = f"{self.verb} {info.name}" if info.files <= 1 else f"{self.verb} [{info.file + 1}/{info.files}] {info.name}"
        if self.bar is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=info.total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False)
            else:
                self.bar = False
        if self.bar:
            self.bar.set_description(label, refresh=False)
            self.bar.total = info.total
            self.bar.update(info.done - self.bar.n)
        elif sys.stderr.isatty():
            pct = 100.0 * info.done / info.total if info.total else 100.0
            sys.stderr.write(f"\r{label}: {pct:5.1f}%")
            sys.stderr.flush()
            self._line = True

    def close(self):
        if self.bar:
            self.bar.close()
        if self._line:
            sys.stderr.write("\n")
        self.bar = None
        self._line = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reraise(self):
        """Raise what the callback caught (it cancelled the call)."""
        if self.pending is not None:
            e, self.pending = self.pending, None
            raise e
