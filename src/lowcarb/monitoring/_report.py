"""What a drift check found: one :class:`FeatureDrift` per feature and a :class:`DriftReport`.

These types are the contract between drift detection (``_drift``), the retraining policy
(``_policy``, ``_retrain``), the HTML report and ``lowcarb monitor``; the JSON shape of
:meth:`DriftReport.to_dict` is the ``--json`` output of ``lowcarb monitor check`` (DESIGN.md:
``features: [{name, statistic, value, drift}]`` and a dataset verdict ``drift``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "PerformanceEstimate",
    "StatisticName",
    "drift_share_exceeds",
]

#: The drift statistics lowcarb computes (values from SciPy, not re-derived).
StatisticName = Literal["psi", "ks", "chi2", "jensen_shannon", "wasserstein"]


def drift_share_exceeds(drifted: int, total: int, limit: float) -> bool:
    """The one boundary rule for a share of drifted features: drift when it is *above* ``limit``.

    Shared by the dataset verdict of a drift check (``drift_share_threshold``, ``lowcarb monitor
    check --drift-share``) and the retraining policy's drift trigger (``max_drift_share``), so
    that ``check --policy`` and ``watch`` always agree. A share equal to the limit is not drift:
    ``max_drift_share: 0.5`` allows half the watched features to drift, as every ``max_*`` key of
    the policy allows its limit; 0 means any drifted feature, 1 never. (Evidently's dataset rule
    is ``>=``; with 0.5, two of four features drifting is drift there and not here.)

    The share is ``drifted / total`` in floating point, so a share that equals the decimal limit
    as written (3 of 10 against 0.3) compares equal, and is not drift.

    Args:
        drifted: Features that drifted.
        total: Features compared (0: no drift).
        limit: The largest share that is not drift, 0..1.
    """
    return total > 0 and drifted / total > limit


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Drift of one feature between the reference and the current window.

    Attributes:
        name: Feature (column) name.
        kind: ``numeric`` or ``categorical``.
        statistic: The statistic that decides ``drift`` for this feature.
        value: Its value (a distance, or a p-value for ``ks``/``chi2``).
        threshold: The limit ``value`` was compared with.
        drift: Whether the feature drifted.
        p_value: The test's p-value where the statistic is a test (``ks``, ``chi2``), else None.
        others: Every other statistic computed for the feature, by name.
        missing_share_reference: Share of missing values in the reference window, 0..1.
        missing_share_current: Share of missing values in the current window, 0..1.
        new_categories: Categories seen in the current window but never in the reference.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    statistic: StatisticName
    value: float
    threshold: float
    drift: bool
    p_value: float | None = None
    others: dict[str, float] = field(default_factory=dict)
    missing_share_reference: float = 0.0
    missing_share_current: float = 0.0
    new_categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "statistic": self.statistic,
            "value": self.value,
            "threshold": self.threshold,
            "drift": self.drift,
            "p_value": self.p_value,
            "others": dict(self.others),
            "missing_share_reference": self.missing_share_reference,
            "missing_share_current": self.missing_share_current,
            "new_categories": list(self.new_categories),
        }


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    """Estimated (label-free, CBPE) or realised performance of a classifier on a window.

    Attributes:
        metric: ``accuracy`` (0..1).
        value: The estimate or the realised value.
        method: ``cbpe`` (confidence-based, no labels) or ``realised`` (labels arrived).
        reference_value: The same metric on the reference window, for the drop.
        rows: Rows the figure is computed from.
    """

    metric: str
    value: float
    method: Literal["cbpe", "realised"]
    reference_value: float | None
    rows: int

    @property
    def drop_pts(self) -> float | None:
        """Reference minus current, percentage points (positive: worse now)."""
        if self.reference_value is None:
            return None
        return (self.reference_value - self.value) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "method": self.method,
            "reference_value": self.reference_value,
            "drop_pts": self.drop_pts,
            "rows": self.rows,
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """A whole drift check: per-feature results and the dataset verdict.

    Attributes:
        features: One entry per feature checked, in column order.
        drift_share: Share of checked features that drifted, 0..1.
        drift_share_threshold: Dataset drift when ``drift_share`` is above this
            (:func:`drift_share_exceeds`).
        drift: The dataset verdict.
        reference_rows: Rows in the reference window.
        current_rows: Rows in the current window.
        performance: A performance estimate when a model's scores (or labels) were given.
        notes: Human-readable notes (e.g. features skipped and why).
    """

    features: tuple[FeatureDrift, ...]
    drift_share: float
    drift_share_threshold: float
    drift: bool
    reference_rows: int
    current_rows: int
    performance: PerformanceEstimate | None = None
    notes: tuple[str, ...] = ()

    @property
    def drifted(self) -> tuple[str, ...]:
        """Names of the features that drifted."""
        return tuple(f.name for f in self.features if f.drift)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "drifted_features": list(self.drifted),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "features": [f.to_dict() for f in self.features],
            "performance": None if self.performance is None else self.performance.to_dict(),
            "notes": list(self.notes),
        }
