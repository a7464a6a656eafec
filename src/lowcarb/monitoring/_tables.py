"""Windows of data for a drift check: read them, check them, and tell numeric from categorical.

A *window* is a table with one column per feature (a pandas DataFrame). :func:`read_window` reads
one from a CSV or Parquet file through lowcarb's bounded reader (a FIFO is never opened, a file
over the size limit is refused). Everything a person can get wrong is one line naming the problem
and the fix: columns that differ between the windows (which are missing, which are extra), an
empty window, a feature missing in every row, text in a numeric feature (with the column, the
value and its row), an unknown feature name in a list of features or a policy.

Kinds: a feature is *numeric* when every non-missing value in both windows is a number (a numeric
dtype, or text that parses as one, as every CSV value does), *categorical* otherwise or when named
in ``categorical``. A feature whose reference values are at least
:data:`NUMERIC_SHARE_TO_EXPECT` numbers is taken to be numeric with a few bad values, and those
are reported instead of turning the feature into thousands of categories. Booleans are
categorical.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lowcarb._files import check_input_file, read_input_bytes, read_text_file
from lowcarb.errors import DataError, MissingDependencyError, UsageError, close_matches
from lowcarb.monitoring._stats import FeatureKind

try:
    import pandas as pd  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("pandas", "monitor") from None

__all__ = [
    "MAX_WINDOW_BYTES",
    "NUMERIC_SHARE_TO_EXPECT",
    "FeatureSample",
    "check_feature_names",
    "check_windows",
    "feature_sample",
    "infer_kind",
    "read_window",
]

#: Largest window file read (bytes); pass ``max_bytes`` to read larger ones.
MAX_WINDOW_BYTES = 256 << 20
#: A reference column with at least this share of numbers is numeric with bad values, not text.
NUMERIC_SHARE_TO_EXPECT = 0.9
_PARQUET_MAGIC = b"PAR1"
_SHOWN_COLUMNS = 10


def read_window(
    path: Path | str, *, what: str = "window", max_bytes: int = MAX_WINDOW_BYTES
) -> Any:
    """Read a window from a CSV (UTF-8, header row) or Parquet file into a DataFrame.

    The format is recognised from the content (Parquet files start with ``PAR1``), not the
    name. CSV values are read as text (empty, ``NA``, ``NaN``, ``null`` are missing) and
    converted to numbers per feature by :func:`infer_kind`; Parquet keeps its column types.

    Args:
        path: The file.
        what: How messages name it (``reference window``, ``current window``).
        max_bytes: Largest file accepted.

    Returns:
        A ``pandas.DataFrame`` with string column names.

    Raises:
        UsageError: Missing, a directory, a FIFO or device, unreadable.
        DataError: Too large, not UTF-8, not a CSV or Parquet table, duplicate column names.
    """
    shown = str(path)
    size = check_input_file(path, what=what)
    if size > max_bytes:
        raise DataError(
            f"{what} {shown!r} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
            "sample it, or raise the limit"
        )
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(len(_PARQUET_MAGIC))
    except OSError as exc:
        raise UsageError(f"{what} {shown!r} cannot be read: {exc.strerror}") from None
    if head == _PARQUET_MAGIC:
        frame = _read_parquet(Path(path), what=what, max_bytes=max_bytes)
    else:
        frame = _read_csv(read_text_file(path, what=what, max_bytes=max_bytes), what, shown)
    return frame.rename(columns=str)


def _read_parquet(path: Path, *, what: str, max_bytes: int) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "parquet") from None
    data = read_input_bytes(path, what=what, max_bytes=max_bytes, binary=True)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{what} {str(path)!r} is not a readable Parquet file ({reason}); give a CSV or "
            "Parquet table"
        ) from None
    names = [str(n) for n in table.column_names]
    _refuse_duplicates(names, what, str(path))
    return table.to_pandas()


def _read_csv(text: str, what: str, shown: str) -> Any:
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise DataError(f"{what} {shown!r} has no header row; the first line must name the columns")
    header = next(csv.reader([first]))
    _refuse_duplicates(header, what, shown)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{what} {shown!r} is not a readable CSV table ({reason}); give a CSV with a header "
            "row, or a Parquet file"
        ) from None


def _refuse_duplicates(names: Sequence[str], what: str, shown: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{what} {shown!r} names column {name!r} twice; give every column its own name"
            )
        seen.add(name)


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOWN_COLUMNS])
    if len(names) > _SHOWN_COLUMNS:
        shown += f" and {len(names) - _SHOWN_COLUMNS} more"
    return shown


def check_feature_names(
    names: Iterable[str], known: Sequence[str], *, what: str
) -> tuple[str, ...]:
    """``names`` checked against the windows' columns, duplicates dropped, order kept.

    Args:
        names: Feature names a person gave (``features=``, ``categorical=``, a policy's keys).
        known: The windows' columns.
        what: Where the names came from, for the message (``features``, ``the policy``).

    Raises:
        UsageError: A name that is not a column, with the closest columns and the known ones.
    """
    known_set = set(known)
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise UsageError(f"feature names in {what} must be text, got {name!r}")
        if name not in known_set:
            hint = close_matches(name, known)
            near = f"; did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            raise UsageError(
                f"unknown feature {name!r} in {what}{near} (the windows have {_listing(known)})"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def check_windows(
    reference: Any, current: Any, *, features: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The features to compare, after refusing windows that cannot be compared.

    Without ``features`` both windows must have the same columns (in any order); with it, each
    named feature must be a column of both.

    Args:
        reference: The reference window (DataFrame).
        current: The current window (DataFrame).
        features: The features to compare, or None for every column.

    Returns:
        The feature names, in the reference's column order (or the order given).

    Raises:
        UsageError: Not DataFrames, or an unknown feature in ``features``.
        DataError: An empty window, or columns that differ (naming the missing and extra ones).
    """
    for frame, label in ((reference, "reference"), (current, "current")):
        if not isinstance(frame, pd.DataFrame):
            raise UsageError(
                f"the {label} window must be a pandas DataFrame, got {type(frame).__name__}; "
                "read files with read_window()"
            )
        if frame.shape[1] == 0:
            raise DataError(f"the {label} window has no columns; give a table with a header row")
        if len(frame) == 0:
            raise DataError(f"the {label} window has no rows; give a window with data")
    ref_cols = [str(c) for c in reference.columns]
    cur_cols = [str(c) for c in current.columns]
    if features is not None:
        wanted = check_feature_names(list(features), ref_cols, what="features")
        if not wanted:
            raise UsageError("features is empty; name at least one feature, or leave it out")
        check_feature_names(wanted, cur_cols, what="features (the current window)")
        return wanted
    missing = [c for c in ref_cols if c not in set(cur_cols)]
    extra = [c for c in cur_cols if c not in set(ref_cols)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks {_listing(missing)}")
        if extra:
            parts.append(f"has {_listing(extra)} that the reference lacks")
        raise DataError(
            "the windows' columns differ: the current window "
            + " and ".join(parts)
            + "; give both windows the same columns, or name the features to compare"
        )
    return tuple(ref_cols)


def _is_numeric_dtype(series: Any) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    )


def _not_numbers(values: Any) -> npt.NDArray[np.bool_]:
    """Per row, whether the value is present but not a number."""
    present = values.notna().to_numpy()
    parsed = pd.to_numeric(values, errors="coerce").notna().to_numpy()
    return np.asarray(present & ~parsed, dtype=np.bool_)


def infer_kind(
    name: str, reference: Any, current: Any, *, categorical: bool = False
) -> FeatureKind:
    """Numeric or categorical, from both windows' values of one feature (module docstring).

    Raises:
        DataError: The feature is numeric but a value is not a number (naming the window, the
            row, 1-based, and the value).
    """
    if categorical:
        return "categorical"
    if pd.api.types.is_bool_dtype(reference.dtype) or pd.api.types.is_bool_dtype(current.dtype):
        return "categorical"
    if _is_numeric_dtype(reference) and _is_numeric_dtype(current):
        return "numeric"
    ref_bad = _not_numbers(reference)
    present = int(reference.notna().sum())
    if present and 1.0 - int(ref_bad.sum()) / present < NUMERIC_SHARE_TO_EXPECT:
        return "categorical"
    for values, window, bad in (
        (reference, "reference", ref_bad),
        (current, "current", None),
    ):
        rows = np.flatnonzero(_not_numbers(values) if bad is None else bad)
        if rows.size:
            pos = int(rows[0])
            value = values.iloc[pos]
            raise DataError(
                f"feature {name!r} is numeric but the {window} window holds {str(value)!r} "
                f"(row {pos + 1}); fix or blank the value, or declare the feature categorical"
            )
    return "numeric"


@dataclass(frozen=True, slots=True)
class FeatureSample:
    """One feature's values in both windows, missing values removed and counted.

    Attributes:
        name: The feature.
        kind: ``numeric`` (float64 arrays) or ``categorical`` (arrays of text).
        reference: Non-missing reference values.
        current: Non-missing current values.
        missing_share_reference: Share of reference rows missing the feature, 0..1.
        missing_share_current: Share of current rows missing the feature, 0..1.
    """

    name: str
    kind: FeatureKind
    reference: npt.NDArray[Any]
    current: npt.NDArray[Any]
    missing_share_reference: float
    missing_share_current: float


def _refuse_all_missing(name: str, series: Any, window: str) -> None:
    if not series.notna().any():
        raise DataError(
            f"feature {name!r} is missing in all {len(series):,} rows of the {window} window; "
            "fix the data or leave the feature out"
        )


def _values(name: str, kind: FeatureKind, series: Any, window: str) -> npt.NDArray[Any]:
    present = series[series.notna()]
    if kind == "categorical":
        return np.asarray(present.astype(str).to_numpy(dtype=object), dtype=object)
    numbers = pd.to_numeric(present, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(numbers)
    if not finite.all():
        pos = int(np.flatnonzero(~finite)[0])
        row = int(np.flatnonzero(series.notna().to_numpy())[pos])
        raise DataError(
            f"feature {name!r} holds the non-finite value {str(present.iloc[pos])!r} in the "
            f"{window} window (row {row + 1}); fix or blank the value"
        )
    return np.asarray(numbers, dtype=np.float64)


def feature_sample(
    name: str, reference: Any, current: Any, *, kind: FeatureKind | None = None
) -> FeatureSample:
    """One feature's values from both windows' columns (``kind`` inferred when None).

    Raises:
        DataError: The feature is missing in every row of a window, holds a non-finite number,
            or text where numbers are expected.
    """
    _refuse_all_missing(name, reference, "reference")
    _refuse_all_missing(name, current, "current")
    if kind is None:
        kind = infer_kind(name, reference, current)
    ref = _values(name, kind, reference, "reference")
    cur = _values(name, kind, current, "current")
    return FeatureSample(
        name=name,
        kind=kind,
        reference=ref,
        current=cur,
        missing_share_reference=(len(reference) - len(ref)) / len(reference),
        missing_share_current=(len(current) - len(cur)) / len(current),
    )
