"""Output files: checked before the work starts, written whole or not at all.

A command that would run for an hour and then fail to write its result must fail in the first
second instead; and a result that cannot be written completely leaves the old file (or none), never
half of a new one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from lowcarb.errors import UsageError

__all__ = ["check_output_path", "write_atomic"]


def check_output_path(path: Path | str, *, what: str = "output file") -> Path:
    """Check that ``path`` can be written, without creating or changing anything.

    Raises:
        UsageError: The path is a directory, a FIFO or device, its directory is missing or not
            a directory, or it cannot be written.
    """
    target = Path(path)
    shown = str(target)
    if not shown or shown.endswith(os.sep):
        raise UsageError(f"{what} {shown!r} names a directory; give a file name")
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{what} {shown!r} cannot be used: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{what} {shown!r} is a directory; give a file name inside it")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{what} {shown!r} is not a regular file; give a file path")
        if not os.access(target, os.W_OK):
            raise UsageError(f"{what} {shown!r} is not writable; fix its permissions")
        return target
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"{what} {shown!r}: directory {str(parent)!r} does not exist; create it")
    if not parent.is_dir():
        raise UsageError(f"{what} {shown!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {shown!r}: directory {str(parent)!r} is not writable")
    return target


def write_atomic(path: Path | str, data: bytes | str, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` all at once: a temporary file beside it, fsynced, renamed over.

    Raises:
        OSError: The write failed; ``path`` is unchanged and no temporary file is left.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
