"""lowcarb.monitoring: is a retrain needed at all? Drift, retraining policy, energy regressions.

- **Drift** (:func:`detect_drift`): a reference window against a current one, per feature and for
  the dataset, with PSI, Kolmogorov-Smirnov, chi-squared, Jensen-Shannon and Wasserstein
  computed by SciPy (:mod:`lowcarb.monitoring._stats` documents binning, bases and defaults);
  missing-value shares and new categories reported; windows read from CSV or Parquet by
  :func:`read_window`.
- **Performance without labels** (:func:`fit_cbpe`): NannyML's confidence-based performance
  estimation of a classifier's accuracy; :func:`realised_performance` once labels arrive.
- **HTML** (:func:`drift_html`, :func:`drift_fragment`): a self-contained page, or a section
  the lowcarb report embeds.
- **Retraining policy** (:class:`RetrainPolicy`, :func:`load_retrain_policy`): drift and
  performance triggers, the minimum gain per kWh of the last retrain's measured footprint, a
  cool-down and a deadline; :func:`decide_retrain` decides, :class:`RetrainMonitor` records every
  check and decision in the ledger and queues a fired retrain for the lowest-carbon window before
  the deadline (:func:`submit_retrain`); :func:`watch` repeats the check.
- **Energy regressions** (:func:`check_energy_regression`, :func:`act_on_regression`): joules per
  1,000 inferences against the champion's, from profiles or serving metrics; an alert, and
  optionally a registry rollback (injected: the MLflow one lives in ``integrations.mlflow``).

See DESIGN.md (layer 5, beside tuning and serving). Importing the package is cheap: the names
that need the ``monitor`` extra (SciPy, pandas, scikit-learn) load on first use (PEP 562), and
say which extra to install when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lowcarb._lazy import lazy_attributes as _lazy_attributes
from lowcarb.monitoring._report import DriftReport, FeatureDrift, PerformanceEstimate, StatisticName

if TYPE_CHECKING:
    from lowcarb.monitoring._cbpe import (
        CbpeEstimator,
        fit_cbpe,
        realised_performance,
    )
    from lowcarb.monitoring._drift import (
        DEFAULT_DRIFT_SHARE,
        detect_drift,
    )
    from lowcarb.monitoring._html import (
        drift_fragment,
        drift_html,
    )
    from lowcarb.monitoring._policy import (
        DriftTrigger,
        EnergyRegressionRule,
        JobTemplate,
        PerformanceMethod,
        PerformanceTrigger,
        RetrainPolicy,
        RetrainRule,
    )
    from lowcarb.monitoring._policy_yaml import (
        load_retrain_policy,
        parse_retrain_policy,
        retrain_policy_from_dict,
    )
    from lowcarb.monitoring._regression import (
        EnergyFigure,
        EnergyRegression,
        RegressionOutcome,
        Rollback,
        RollbackOutcome,
        act_on_regression,
        check_energy_regression,
        energy_from_metrics,
        energy_from_profile,
        fetch_metrics,
    )
    from lowcarb.monitoring._retrain import (
        LastRetrain,
        RetrainDecision,
        RetrainStatus,
        decide_retrain,
    )
    from lowcarb.monitoring._retrain_io import (
        CheckOutcome,
        RetrainJob,
        RetrainMonitor,
        find_last_retrain,
        record_check,
        submit_retrain,
    )
    from lowcarb.monitoring._stats import (
        DEFAULT_BINS,
        DEFAULT_THRESHOLDS,
        LARGE_SAMPLE_ROWS,
        STATISTICS,
        FeatureKind,
        StatResult,
        bin_counts,
        category_counts,
        compute_statistic,
        default_statistic,
    )
    from lowcarb.monitoring._tables import (
        check_feature_names,
        infer_kind,
        read_window,
    )
    from lowcarb.monitoring._watch import (
        Act,
        StopReason,
        WatchSummary,
        stop_on_signals,
        watch,
    )

_LAZY: dict[str, str] = {
    "CbpeEstimator": "lowcarb.monitoring._cbpe",
    "DEFAULT_BINS": "lowcarb.monitoring._stats",
    "DEFAULT_DRIFT_SHARE": "lowcarb.monitoring._drift",
    "DEFAULT_THRESHOLDS": "lowcarb.monitoring._stats",
    "FeatureKind": "lowcarb.monitoring._stats",
    "LARGE_SAMPLE_ROWS": "lowcarb.monitoring._stats",
    "STATISTICS": "lowcarb.monitoring._stats",
    "StatResult": "lowcarb.monitoring._stats",
    "bin_counts": "lowcarb.monitoring._stats",
    "category_counts": "lowcarb.monitoring._stats",
    "check_feature_names": "lowcarb.monitoring._tables",
    "compute_statistic": "lowcarb.monitoring._stats",
    "default_statistic": "lowcarb.monitoring._stats",
    "detect_drift": "lowcarb.monitoring._drift",
    "drift_fragment": "lowcarb.monitoring._html",
    "drift_html": "lowcarb.monitoring._html",
    "fit_cbpe": "lowcarb.monitoring._cbpe",
    "infer_kind": "lowcarb.monitoring._tables",
    "read_window": "lowcarb.monitoring._tables",
    "realised_performance": "lowcarb.monitoring._cbpe",
    "DriftTrigger": "lowcarb.monitoring._policy",
    "EnergyRegressionRule": "lowcarb.monitoring._policy",
    "JobTemplate": "lowcarb.monitoring._policy",
    "PerformanceMethod": "lowcarb.monitoring._policy",
    "PerformanceTrigger": "lowcarb.monitoring._policy",
    "RetrainPolicy": "lowcarb.monitoring._policy",
    "RetrainRule": "lowcarb.monitoring._policy",
    "load_retrain_policy": "lowcarb.monitoring._policy_yaml",
    "parse_retrain_policy": "lowcarb.monitoring._policy_yaml",
    "retrain_policy_from_dict": "lowcarb.monitoring._policy_yaml",
    "LastRetrain": "lowcarb.monitoring._retrain",
    "RetrainDecision": "lowcarb.monitoring._retrain",
    "RetrainStatus": "lowcarb.monitoring._retrain",
    "decide_retrain": "lowcarb.monitoring._retrain",
    "CheckOutcome": "lowcarb.monitoring._retrain_io",
    "RetrainJob": "lowcarb.monitoring._retrain_io",
    "RetrainMonitor": "lowcarb.monitoring._retrain_io",
    "find_last_retrain": "lowcarb.monitoring._retrain_io",
    "record_check": "lowcarb.monitoring._retrain_io",
    "submit_retrain": "lowcarb.monitoring._retrain_io",
    "EnergyFigure": "lowcarb.monitoring._regression",
    "EnergyRegression": "lowcarb.monitoring._regression",
    "RegressionOutcome": "lowcarb.monitoring._regression",
    "Rollback": "lowcarb.monitoring._regression",
    "RollbackOutcome": "lowcarb.monitoring._regression",
    "act_on_regression": "lowcarb.monitoring._regression",
    "check_energy_regression": "lowcarb.monitoring._regression",
    "energy_from_metrics": "lowcarb.monitoring._regression",
    "energy_from_profile": "lowcarb.monitoring._regression",
    "fetch_metrics": "lowcarb.monitoring._regression",
    "Act": "lowcarb.monitoring._watch",
    "StopReason": "lowcarb.monitoring._watch",
    "WatchSummary": "lowcarb.monitoring._watch",
    "stop_on_signals": "lowcarb.monitoring._watch",
    "watch": "lowcarb.monitoring._watch",
}

__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_DRIFT_SHARE",
    "DEFAULT_THRESHOLDS",
    "LARGE_SAMPLE_ROWS",
    "STATISTICS",
    "Act",
    "CbpeEstimator",
    "CheckOutcome",
    "DriftReport",
    "DriftTrigger",
    "EnergyFigure",
    "EnergyRegression",
    "EnergyRegressionRule",
    "FeatureDrift",
    "FeatureKind",
    "JobTemplate",
    "LastRetrain",
    "PerformanceEstimate",
    "PerformanceMethod",
    "PerformanceTrigger",
    "RegressionOutcome",
    "RetrainDecision",
    "RetrainJob",
    "RetrainMonitor",
    "RetrainPolicy",
    "RetrainRule",
    "RetrainStatus",
    "Rollback",
    "RollbackOutcome",
    "StatResult",
    "StatisticName",
    "StopReason",
    "WatchSummary",
    "act_on_regression",
    "bin_counts",
    "category_counts",
    "check_energy_regression",
    "check_feature_names",
    "compute_statistic",
    "decide_retrain",
    "default_statistic",
    "detect_drift",
    "drift_fragment",
    "drift_html",
    "energy_from_metrics",
    "energy_from_profile",
    "fetch_metrics",
    "find_last_retrain",
    "fit_cbpe",
    "infer_kind",
    "load_retrain_policy",
    "parse_retrain_policy",
    "read_window",
    "realised_performance",
    "record_check",
    "retrain_policy_from_dict",
    "stop_on_signals",
    "submit_retrain",
    "watch",
]
