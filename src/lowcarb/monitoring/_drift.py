"""Drift between a reference window and a current window, per feature and for the dataset.

:func:`detect_drift` checks each feature with one deciding statistic (its default by kind and
reference size, or the one chosen), computes every other applicable statistic into
:attr:`FeatureDrift.others`, reports missing-value shares and categories new in the current
window, and calls the dataset drifted when the share of drifted features is above
``drift_share_threshold`` (0.5 by default: more than half). The boundary rule is
:func:`~lowcarb.monitoring.drift_share_exceeds`, the one the retraining policy's
``max_drift_share`` uses too (Evidently's dataset rule is ``>=``; at exactly half the features
it calls drift and lowcarb does not).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.monitoring._report import (
    DriftReport,
    FeatureDrift,
    PerformanceEstimate,
    StatisticName,
    drift_share_exceeds,
)
from lowcarb.monitoring._stats import (
    CATEGORICAL_STATISTICS,
    DEFAULT_BINS,
    DEFAULT_THRESHOLDS,
    P_VALUE_STATISTICS,
    STATISTICS,
    FeatureKind,
    StatResult,
    check_statistic,
    compute_all,
    default_statistic,
    is_drift,
)
from lowcarb.monitoring._tables import (
    FeatureSample,
    check_feature_names,
    check_windows,
    feature_sample,
)

__all__ = [
    "DEFAULT_DRIFT_SHARE",
    "MAX_NEW_CATEGORIES",
    "MISSING_SHARE_NOTE_PTS",
    "detect_drift",
]

#: Dataset drift when more than this share of features drifted (Evidently's default value).
DEFAULT_DRIFT_SHARE = 0.5
#: New categories listed per feature; a note gives the full count beyond it.
MAX_NEW_CATEGORIES = 20
#: A change in a feature's missing share of at least this many percentage points gets a note.
MISSING_SHARE_NOTE_PTS = 10.0


def _check_threshold(key: str, statistic: StatisticName | None, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidValueError(f"threshold for {key!r} must be a finite number, got {value!r}")
    number = float(value)
    if statistic in P_VALUE_STATISTICS and not 0.0 < number < 1.0:
        raise InvalidValueError(
            f"threshold for {key!r} is a p-value and must be between 0 and 1, got {value!r}"
        )
    if number < 0.0:
        raise InvalidValueError(f"threshold for {key!r} must be 0 or more, got {value!r}")
    return number


def _statistics(
    statistic: str | Mapping[str, str] | None, features: tuple[str, ...]
) -> dict[str, StatisticName]:
    if statistic is None:
        return {}
    if isinstance(statistic, str):
        chosen = check_statistic(statistic)
        return dict.fromkeys(features, chosen)
    if not isinstance(statistic, Mapping):
        raise UsageError(
            f"statistic must be a statistic name or a mapping of feature to statistic, got "
            f"{type(statistic).__name__}"
        )
    named = check_feature_names(list(statistic), features, what="statistic")
    return {name: check_statistic(str(statistic[name]), feature=name) for name in named}


def _thresholds(
    thresholds: Mapping[str, float] | None,
    features: tuple[str, ...],
    chosen: Mapping[str, StatisticName],
) -> tuple[dict[str, float], dict[str, float]]:
    """(by statistic, by feature) thresholds, checked."""
    by_stat: dict[str, float] = {str(k): v for k, v in DEFAULT_THRESHOLDS.items()}
    by_feature: dict[str, float] = {}
    if thresholds is None:
        return by_stat, by_feature
    if not isinstance(thresholds, Mapping):
        raise UsageError(
            f"thresholds must be a mapping of statistic or feature name to a number, got "
            f"{type(thresholds).__name__}"
        )
    for key, value in thresholds.items():
        if key in STATISTICS:
            by_stat[key] = _check_threshold(key, check_statistic(key), value)
        else:
            (name,) = check_feature_names([key], features, what="thresholds")
            by_feature[name] = _check_threshold(name, chosen.get(name), value)
    return by_stat, by_feature


def _feature_drift(
    sample: FeatureSample,
    statistic: StatisticName,
    threshold: float,
    results: Mapping[StatisticName, StatResult],
) -> FeatureDrift:
    deciding = results[statistic]
    others: dict[str, float] = {}
    for name, result in results.items():
        others[name] = result.value
        if result.test_statistic is not None:
            others[f"{name}_statistic"] = result.test_statistic
    new: tuple[str, ...] = ()
    if sample.kind == "categorical":
        seen = set(sample.reference.tolist())
        new = tuple(sorted({str(v) for v in sample.current.tolist()} - seen))
    return FeatureDrift(
        name=sample.name,
        kind=sample.kind,
        statistic=statistic,
        value=deciding.value,
        threshold=threshold,
        drift=is_drift(statistic, deciding.value, threshold),
        p_value=deciding.p_value,
        others=others,
        missing_share_reference=sample.missing_share_reference,
        missing_share_current=sample.missing_share_current,
        new_categories=new,
    )


def _notes(feature: FeatureDrift) -> list[str]:
    notes = []
    change_pts = (feature.missing_share_current - feature.missing_share_reference) * 100.0
    if abs(change_pts) >= MISSING_SHARE_NOTE_PTS:
        notes.append(
            f"feature {feature.name!r}: missing values went from "
            f"{feature.missing_share_reference:.1%} to {feature.missing_share_current:.1%} of rows"
        )
    if len(feature.new_categories) > MAX_NEW_CATEGORIES:
        notes.append(
            f"feature {feature.name!r}: {len(feature.new_categories):,} new categories, the first "
            f"{MAX_NEW_CATEGORIES} listed"
        )
    elif feature.new_categories:
        notes.append(
            f"feature {feature.name!r}: {len(feature.new_categories)} new "
            f"categor{'y' if len(feature.new_categories) == 1 else 'ies'} in the current window"
        )
    return notes


def detect_drift(
    reference: Any,
    current: Any,
    *,
    features: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    categorical: Iterable[str] | None = None,
    statistic: StatisticName | Mapping[str, StatisticName] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share_threshold: float = DEFAULT_DRIFT_SHARE,
    bins: int = DEFAULT_BINS,
    performance: PerformanceEstimate | None = None,
) -> DriftReport:
    """Compare a current window with a reference window, feature by feature.

    Args:
        reference: The reference window (``pandas.DataFrame``, one column per feature).
        current: The current window, with the same columns (or at least ``features``).
        features: Features to check, in this order; None checks every column but ``ignore``.
        ignore: Columns that are not features (the model's scores, predictions, the labels):
            left out when ``features`` is None, and allowed in one window only.
        categorical: Features to treat as categorical whatever their values (e.g. integer
            codes); the others are inferred (:func:`lowcarb.monitoring.infer_kind`).
        statistic: The deciding statistic: one name for every feature, or a mapping of feature
            to name for some; the others get :func:`~lowcarb.monitoring.default_statistic`.
        thresholds: Overrides of :data:`~lowcarb.monitoring.DEFAULT_THRESHOLDS`: a key that
            names a statistic sets its threshold for every feature it decides; any other key
            must be a feature and sets that feature's threshold.
        drift_share_threshold: Dataset drift when more than this share of features drifted
            (0 <= x <= 1; :func:`~lowcarb.monitoring.drift_share_exceeds`).
        bins: Quantile bins of the reference for binned statistics of numeric features.
        performance: A performance estimate to carry in the report (see
            :func:`~lowcarb.monitoring.fit_cbpe`).

    Returns:
        A :class:`DriftReport`: one :class:`FeatureDrift` per feature, in order, with every
        applicable statistic in ``others`` (p-values for ``ks``/``chi2``, and their test
        statistics as ``ks_statistic``/``chi2_statistic``), missing shares and new categories.

    Raises:
        UsageError: An unknown feature or statistic, a statistic that does not fit the
            feature's kind, arguments of the wrong type.
        InvalidValueError: A threshold or ``drift_share_threshold`` out of range.
        DataError: Empty windows, columns that differ, a feature missing in every row, text or
            non-finite numbers in a numeric feature.
    """
    if (
        isinstance(drift_share_threshold, bool)
        or not isinstance(drift_share_threshold, int | float)
        or not 0.0 <= drift_share_threshold <= 1.0
    ):
        raise InvalidValueError(
            "drift_share_threshold must be between 0 (any drifted feature) and 1, got "
            f"{drift_share_threshold!r}"
        )
    names = check_windows(reference, current, features=features, ignore=ignore)
    as_categorical = set(
        check_feature_names(
            [categorical] if isinstance(categorical, str) else list(categorical or ()),
            names,
            what="categorical",
        )
    )
    chosen = _statistics(statistic, names)
    by_stat, by_feature = _thresholds(thresholds, names, chosen)
    rows = len(reference)

    results: list[FeatureDrift] = []
    notes: list[str] = []
    for name in names:
        kind: FeatureKind | None = "categorical" if name in as_categorical else None
        sample = feature_sample(name, reference[name], current[name], kind=kind)
        stat = chosen.get(name) or default_statistic(sample.kind, rows)
        if sample.kind == "categorical" and stat not in CATEGORICAL_STATISTICS:
            raise UsageError(
                f"statistic {stat!r} needs a numeric feature, but {name!r} is categorical; choose "
                f"{', '.join(CATEGORICAL_STATISTICS)} for it"
            )
        computed = compute_all(sample.kind, sample.reference, sample.current, bins=bins)
        threshold = by_feature.get(name, by_stat[stat])
        if name in by_feature:
            threshold = _check_threshold(name, stat, threshold)
        feature = _feature_drift(sample, stat, threshold, computed)
        notes.extend(_notes(feature))
        if len(feature.new_categories) > MAX_NEW_CATEGORIES:
            feature = _truncated(feature)
        results.append(feature)

    drifted = sum(f.drift for f in results)
    share = drifted / len(results)
    return DriftReport(
        features=tuple(results),
        drift_share=share,
        drift_share_threshold=float(drift_share_threshold),
        drift=drift_share_exceeds(drifted, len(results), drift_share_threshold),
        reference_rows=rows,
        current_rows=len(current),
        performance=performance,
        notes=tuple(notes),
    )


def _truncated(feature: FeatureDrift) -> FeatureDrift:
    return replace(feature, new_categories=feature.new_categories[:MAX_NEW_CATEGORIES])
