"""Window files: a CSV, Parquet or serving-log file read into a window (a pandas DataFrame).

:func:`read_window` reads through lowcarb's bounded reader (a FIFO is never opened, a file over
the size limit is refused); :func:`parse_window` does the same on bytes already read. Every CSV
row must have as many fields as the header: a row with one field more is never read with its
first field as an index (pandas' implicit index), and a short row is not padded with missing
values; either is one line naming the row and the line. Serving logs are read by ``_servelog``.
Checking the windows and telling numeric from categorical is ``_tables``' part.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lowcarb._files import check_input_file, read_input_bytes
from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.monitoring._servelog import LogColumns, looks_like_serving_log, read_serving_log

try:
    import pandas as pd  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("pandas", "monitor") from None

__all__ = ["MAX_WINDOW_BYTES", "parse_window", "read_window"]

#: Largest window file read (bytes); pass ``max_bytes`` to read larger ones.
MAX_WINDOW_BYTES = 256 << 20
_PARQUET_MAGIC = b"PAR1"


def read_window(
    path: Path | str,
    *,
    what: str = "window",
    max_bytes: int = MAX_WINDOW_BYTES,
    log: LogColumns | None = None,
) -> Any:
    """Read a window from a CSV (UTF-8, header row), Parquet or serving-log file.

    The format is recognised from the content, not the name, except for a serving log, which a
    ``.jsonl``/``.ndjson`` name also marks: Parquet files start with ``PAR1``, serving logs
    (JSON Lines of ``lowcarb serve --log-features``, read by
    :func:`~lowcarb.monitoring.read_serving_log`) with ``{``. CSV values are read as text
    (empty, ``NA``, ``NaN``, ``null`` are missing) and converted to numbers per feature by
    :func:`infer_kind`; every CSV row must have as many fields as the header. Parquet and logs
    keep their value types.

    Args:
        path: The file.
        what: How messages name it (``reference window``, ``current window``).
        max_bytes: Largest file accepted.
        log: How a serving log becomes a window (feature names, output columns, the model and
            the period); a table given ``since`` or ``until`` is refused.

    Returns:
        A ``pandas.DataFrame`` with string column names.

    Raises:
        UsageError: Missing, a directory, a FIFO or device, unreadable; a period or model asked
            of a table.
        DataError: Too large, not UTF-8, not a CSV, Parquet or serving log, duplicate column
            names, a CSV row with more or fewer fields than the header, a bad log line.
    """
    shown = str(path)
    size = check_input_file(path, what=what)
    if size > max_bytes:
        raise DataError(
            f"{what} {shown!r} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
            "sample it, or raise the limit"
        )
    data = read_input_bytes(path, what=what, max_bytes=max_bytes, binary=True)
    return parse_window(data, source=shown, what=what, log=log)


def parse_window(
    data: bytes, *, source: str, what: str = "window", log: LogColumns | None = None
) -> Any:
    """:func:`read_window` on bytes already read (a caller that also hashes them reads once).

    Args:
        data: The file's bytes.
        source: Its path or name (a ``.jsonl``/``.ndjson`` suffix marks a serving log).
        what: How messages name it.
        log: See :func:`read_window`.
    """
    if data[: len(_PARQUET_MAGIC)] == _PARQUET_MAGIC:
        _refuse_log_options(log, what, source)
        frame = _read_parquet(data, what=what, shown=source)
    elif looks_like_serving_log(data, source):
        return read_serving_log(data, source=source, what=what, columns=log)
    else:
        _refuse_log_options(log, what, source)
        if b"\x00" in data:
            raise DataError(f"{what} {source!r} is a binary file, not text; give the text file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{what} {source!r} is not UTF-8 text (bad byte at offset {exc.start}); "
                "save it as UTF-8"
            ) from None
        frame = _read_csv(text, what, source)
    return frame.rename(columns=str)


def _refuse_log_options(log: LogColumns | None, what: str, shown: str) -> None:
    # ``model`` is not refused: it names the served model of whichever window is a log.
    if log is not None and (log.since or log.until):
        raise UsageError(
            f"{what} {shown!r} is a table, not a serving log; --since and --until select "
            "requests of a serving log (.jsonl)"
        )


def _read_parquet(data: bytes, *, what: str, shown: str) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "parquet") from None
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{what} {shown!r} is not a readable Parquet file ({reason}); give a CSV or "
            "Parquet table"
        ) from None
    names = [str(n) for n in table.column_names]
    _refuse_duplicates(names, what, shown)
    return table.to_pandas()


def _read_csv(text: str, what: str, shown: str) -> Any:
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise DataError(f"{what} {shown!r} has no header row; the first line must name the columns")
    header = next(csv.reader([first]))
    _refuse_duplicates(header, what, shown)
    _check_field_counts(text, len(header), what, shown)
    try:
        # index_col=False: a row with one field more than the header is never read as an index
        # column with the values shifted (pandas' implicit index); _check_field_counts refuses it.
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{what} {shown!r} is not a readable CSV table ({reason}); give a CSV with a header "
            "row, or a Parquet file"
        ) from None


def _check_field_counts(text: str, expected: int, what: str, shown: str) -> None:
    """Refuse a row with more or fewer fields than the header (row and line named).

    Rows are counted as the window's rows (blank lines skipped, as pandas skips them), so the
    row number is the one other messages and a spreadsheet give; the line is the file's.
    """
    reader = csv.reader(io.StringIO(text))
    next(reader, None)  # the header
    row = 0
    try:
        for fields in reader:
            if not fields:
                continue
            row += 1
            if len(fields) != expected:
                raise DataError(
                    f"{what} {shown!r} row {row} (line {reader.line_num}) has {len(fields)} "
                    f"fields but the header names {expected}; fix the row (a stray or missing "
                    "comma? quote values that hold commas)"
                )
    except csv.Error as exc:
        raise DataError(
            f"{what} {shown!r} is not a readable CSV table (line {reader.line_num}: {exc}); give "
            "a CSV with a header row, or a Parquet file"
        ) from None


def _refuse_duplicates(names: Sequence[str], what: str, shown: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{what} {shown!r} names column {name!r} twice; give every column its own name"
            )
        seen.add(name)
