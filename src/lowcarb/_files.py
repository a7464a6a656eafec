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

from lowcarb.errors import DataError, UsageError

__all__ = [
    "check_input_file",
    "check_output_path",
    "read_input_bytes",
    "read_text_file",
    "write_atomic",
]


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
    except NotADirectoryError:
        raise UsageError(
            f"{what} {shown!r}: {str(target.parent)!r} is not a directory; fix the path"
        ) from None
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


def read_text_file(path: Path | str, *, what: str = "file", max_bytes: int = 64 << 20) -> str:
    """Read a UTF-8 text file a person pointed at, refusing what would hang or flood.

    A FIFO or device is never opened (reading a FIFO blocks until a writer comes); a file larger
    than ``max_bytes``, a binary file (NUL bytes) or one that is not UTF-8 is refused.

    Raises:
        UsageError: Missing, a directory, not a regular file, unreadable.
        DataError: Too large, binary, or not UTF-8.
    """
    data = read_input_bytes(path, what=what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{what} {str(path)!r} is not UTF-8 text (bad byte at offset {exc.start}); "
            "save it as UTF-8"
        ) from None


def read_input_bytes(
    path: Path | str, *, what: str = "file", max_bytes: int = 64 << 20, binary: bool = False
) -> bytes:
    """The bytes of a file a person pointed at (checked as :func:`read_text_file` does, without
    decoding: for callers that hash exactly what they read). A text file (the default) holds no
    NUL byte; ``binary=True`` takes a binary format (Parquet) through the same checks."""
    source = Path(path)
    shown = str(source)
    size = check_input_file(source, what=what)
    if size > max_bytes:
        raise DataError(
            f"{what} {shown!r} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
            "is it the right file?"
        )
    try:
        with source.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"{what} {shown!r} cannot be read: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise DataError(f"{what} {shown!r} grew past the {max_bytes:,}-byte limit while read")
    if not binary and b"\x00" in data:
        raise DataError(f"{what} {shown!r} is a binary file, not text; give the text file")
    return data


def check_input_file(path: Path | str, *, what: str = "file") -> int:
    """Size in bytes of an input file, after refusing what cannot be one, without opening it.

    A FIFO or device is never opened (reading a FIFO blocks until a writer comes).

    Raises:
        UsageError: Missing, a directory, not a regular file, or not readable.
    """
    source = Path(path)
    shown = str(source)
    try:
        st = source.stat()
    except FileNotFoundError:
        raise UsageError(f"{what} {shown!r} does not exist; check the path") from None
    except OSError as exc:
        raise UsageError(f"{what} {shown!r} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {shown!r} is a directory; give a file")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{what} {shown!r} is not a regular file (a FIFO or device?); give a file")
    return int(st.st_size)
