"""Windows of data for a drift check: read them, check them, and tell numeric from categorical.

A *window* is a table with one column per feature (a pandas DataFrame), read from a CSV, Parquet
or serving-log file by ``read_window`` (``_window_files``). Everything a person can get wrong is
one line naming the problem and the fix: columns that differ between the windows (which are
missing, which are extra), an empty window, a feature missing in every row, text in a numeric
feature (with the column, the value and its row), an unknown feature name in a list of features
or a policy.

Kinds: a feature is *numeric* when every non-missing value in both windows is a number (a numeric
dtype, or text that parses as one, as every CSV value does), *categorical* otherwise or when named
in ``categorical``. A feature whose reference values are at least
:data:`NUMERIC_SHARE_TO_EXPECT` numbers is taken to be numeric with a few bad values, and those
are reported instead of turning the feature into thousands of categories. Booleans are
categorical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lowcarb.errors import DataError, MissingDependencyError, UsageError, close_matches
from lowcarb.monitoring._stats import FeatureKind

try:
    import pandas as pd  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("pandas", "monitor") from None

__all__ = [
    "NUMERIC_SHARE_TO_EXPECT",
    "FeatureSample",
    "check_feature_names",
    "check_windows",
    "feature_sample",
    "infer_kind",
]

#: A reference column with at least this share of numbers is numeric with bad values, not text.
NUMERIC_SHARE_TO_EXPECT = 0.9
_SHOWN_COLUMNS = 10


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
    reference: Any,
    current: Any,
    *,
    features: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
) -> tuple[str, ...]:
    """The features to compare, after refusing windows that cannot be compared.

    Without ``features`` both windows must have the same columns (in any order) but those in
    ``ignore``; with it, each named feature must be a column of both.

    Args:
        reference: The reference window (DataFrame).
        current: The current window (DataFrame).
        features: The features to compare, or None for every column but ``ignore``.
        ignore: Columns that are not features (a model's scores, predictions, labels).

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
    skip = {str(c) for c in ignore}
    ref_cols = [str(c) for c in reference.columns if str(c) not in skip]
    cur_cols = [str(c) for c in current.columns if str(c) not in skip]
    if features is not None:
        wanted = check_feature_names(
            list(features), [str(c) for c in reference.columns], what="features"
        )
        if not wanted:
            raise UsageError("features is empty; name at least one feature, or leave it out")
        check_feature_names(
            wanted, [str(c) for c in current.columns], what="features (the current window)"
        )
        return wanted
    if not ref_cols:
        raise DataError(
            "the reference window has no feature columns besides the model's "
            f"({_listing(sorted(skip))}); give a window with features"
        )
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
                f"(row {pos + 1}); fix or blank the value, or declare the feature categorical "
                f"(--categorical {name}, or retrain.drift.categorical in the policy)"
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
