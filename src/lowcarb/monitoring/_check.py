"""One drift check as ``lowcarb monitor check`` and ``watch`` run it, from a reference window.

:class:`DriftChecker` holds the reference window and everything decided from it once: the
features to compare (named, the policy's watched ones, or every column but the model's), the
features compared as categories (named and the policy's ``retrain.drift.categorical``), the
dataset drift limit (given, the policy's ``max_drift_share``, or the default), and the
performance measurement fitted on the reference (:func:`fit_window_performance`, when model
columns are named). :meth:`DriftChecker.check` then compares any number of current windows.
:meth:`DriftChecker.log_columns` says how a serving log becomes a current window with the
reference's feature names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lowcarb.errors import DataError, UsageError
from lowcarb.monitoring._drift import DEFAULT_DRIFT_SHARE, detect_drift
from lowcarb.monitoring._performance import (
    ModelColumns,
    WindowPerformance,
    fit_window_performance,
    non_feature_columns,
)
from lowcarb.monitoring._policy import PerformanceMethod, RetrainPolicy
from lowcarb.monitoring._report import DriftReport, StatisticName
from lowcarb.monitoring._servelog import OUTPUTS_ATTR, LogColumns

__all__ = ["CheckOptions", "DriftChecker"]


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What a person asked of the check (``lowcarb monitor check`` flags).

    Attributes:
        features: Features to compare, or None (the policy's watched ones, else every column but
            the model's).
        categorical: Features compared as categories whatever their values.
        statistic: One deciding statistic for every feature, or None (by kind and size).
        drift_share: Dataset drift above this share of features, or None (the policy's
            ``max_drift_share``, else 0.5).
        columns: The model's columns (scores, labels, predictions): never features.
        model: The served model whose requests a serving log holds, or None (the only one).
    """

    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    statistic: StatisticName | None = None
    drift_share: float | None = None
    columns: ModelColumns = field(default_factory=ModelColumns)
    model: str | None = None


def _is_log(frame: Any) -> bool:
    return bool(getattr(frame, "attrs", {}).get(OUTPUTS_ATTR))


class DriftChecker:
    """A reference window and the checks of current windows against it (module docstring).

    Args:
        reference: The reference window (``read_window`` with :meth:`reference_log_columns`).
        options: What was asked.
        policy: A retraining policy whose watched features, categorical features, drift limit
            and performance method apply, or None.

    Raises:
        UsageError: The policy names features the reference does not have.
        DataError: Model columns that cannot be read (see :func:`fit_window_performance`).
    """

    def __init__(
        self, reference: Any, *, options: CheckOptions, policy: RetrainPolicy | None = None
    ) -> None:
        self.reference = reference
        self.options = options
        self.policy = policy
        rule = policy.retrain if policy is not None else None
        drift = rule.drift if rule is not None else None
        if policy is not None:
            policy.check_features([str(c) for c in reference.columns])
        features = options.features
        if features is None and drift is not None and drift.features:
            features = drift.features
        self.features = features
        categorical = list(options.categorical)
        for name in drift.categorical if drift is not None else ():
            # the policy's categorical features count where they are compared
            if name not in categorical and (features is None or name in features):
                categorical.append(name)
        self.categorical = tuple(categorical)
        share = options.drift_share
        if share is None:
            share = drift.max_drift_share if drift is not None else DEFAULT_DRIFT_SHARE
        self.drift_share = share
        method: PerformanceMethod = "any"
        if rule is not None and rule.performance is not None:
            method = rule.performance.method
        self.performance: WindowPerformance | None = None
        if options.columns.given:
            self.performance = fit_window_performance(reference, options.columns, method=method)
        ignored = non_feature_columns(options.columns, reference)
        self.feature_names = tuple(str(c) for c in reference.columns if str(c) not in ignored)

    @staticmethod
    def reference_log_columns(options: CheckOptions) -> LogColumns:
        """How a serving log is read as the reference window (all of it)."""
        cols = options.columns
        return LogColumns(
            prediction=cols.prediction or "prediction",
            scores=cols.scores or None,
            model=options.model,
        )

    def log_columns(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> LogColumns:
        """How a serving log is read as a current window: the reference's feature names by
        position, the model's column names, the model and the period."""
        cols = self.options.columns
        return LogColumns(
            feature_names=self.feature_names,
            prediction=cols.prediction or "prediction",
            scores=cols.scores or None,
            model=self.options.model,
            since=since,
            until=until,
        )

    def _refuse_unnamed_log(self, current: Any) -> None:
        """A log whose rows are not as wide as the reference's features: say why, and the fix."""
        if self.features is not None or _is_log(self.reference) or not _is_log(current):
            return
        outputs = current.attrs[OUTPUTS_ATTR]
        width = outputs.get("width")
        if outputs.get("named") or width == len(self.feature_names):
            return
        shown = ", ".join(repr(n) for n in self.feature_names[:10])
        if len(self.feature_names) > 10:
            shown += f" and {len(self.feature_names) - 10} more"
        raise DataError(
            f"the serving log's rows have {width} values but the reference window has "
            f"{len(self.feature_names)} feature columns ({shown}); name the reference's model "
            "columns (--score-columns, --label-column, --prediction-column) so they are not "
            "features, or give a reference of the served features only"
        )

    def check(self, current: Any) -> DriftReport:
        """Compare ``current`` with the reference; measure the model's accuracy where it can.

        A performance figure that cannot be made (no labels, no scores) is said in the
        report's ``notes``.

        Raises:
            UsageError: ``model`` was given but neither window is a serving log; an unknown
                feature; a statistic that does not fit a feature.
            DataError: Windows that cannot be compared (see :func:`detect_drift`), a serving
                log whose rows are not as wide as the reference's features.
        """
        if self.options.model is not None and not (_is_log(self.reference) or _is_log(current)):
            raise UsageError(
                f"--model {self.options.model!r} selects a model's requests in a serving log, "
                "but neither window is one (.jsonl); leave it out"
            )
        self._refuse_unnamed_log(current)
        estimate, reason = None, None
        if self.performance is not None:
            estimate, reason = self.performance.measure(current)
        report = detect_drift(
            self.reference,
            current,
            features=self.features,
            ignore=non_feature_columns(self.options.columns, self.reference, current),
            categorical=self.categorical,
            statistic=self.options.statistic,
            drift_share_threshold=self.drift_share,
            performance=estimate,
        )
        if reason is not None:
            report = replace(report, notes=(*report.notes, f"performance not measured: {reason}"))
        return report
