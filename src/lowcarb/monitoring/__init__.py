"""lowcarb.monitoring: is a retrain needed at all? Drift, retraining policy, energy regressions.

- **Drift** (:func:`detect_drift`): a reference window against a current one, per feature and for
  the dataset, with PSI, Kolmogorov-Smirnov, chi-squared, Jensen-Shannon and Wasserstein
  computed by SciPy (:mod:`lowcarb.monitoring._stats` documents binning, bases and defaults);
  missing-value shares and new categories reported; the dataset drifts when the share of
  drifted features is above a limit (:func:`drift_share_exceeds`, the policy's rule too);
  windows read from CSV, Parquet or a ``lowcarb serve --log-features`` log by
  :func:`read_window` (:func:`read_serving_log`, :class:`LogColumns`).
- **Performance without labels** (:func:`fit_cbpe`): NannyML's confidence-based performance
  estimation of a classifier's accuracy; :func:`realised_performance` once labels arrive;
  :func:`fit_window_performance` measures either from a window's model columns
  (:class:`ModelColumns`: scores, predictions, labels, never drift features); a
  :class:`DriftChecker` runs the whole check of ``lowcarb monitor check`` and ``watch``.
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
from lowcarb.monitoring._report import (
    DriftReport,
    FeatureDrift,
    PerformanceEstimate,
    StatisticName,
    drift_share_exceeds,
)

if TYPE_CHECKING:
    from lowcarb.monitoring._cbpe import (
        CbpeEstimator,
        fit_cbpe,
        realised_performance,
    )
    from lowcarb.monitoring._check import (
        CheckOptions,
        DriftChecker,
    )
    from lowcarb.monitoring._drift import (
        DEFAULT_DRIFT_SHARE,
        detect_drift,
    )
    from lowcarb.monitoring._energy_figures import (
        EnergyFigure,
        energy_from_metrics,
        energy_from_profile,
        fetch_metrics,
    )
    from lowcarb.monitoring._html import (
        drift_fragment,
        drift_html,
    )
    from lowcarb.monitoring._performance import (
        ModelColumns,
        WindowPerformance,
        fit_window_performance,
        non_feature_columns,
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
        EnergyRegression,
        RegressionOutcome,
        Rollback,
        RollbackOutcome,
        act_on_regression,
        check_energy_regression,
    )
    from lowcarb.monitoring._retrain import (
        LastRetrain,
        RetrainDecision,
        RetrainStatus,
        decide_retrain,
        unevaluated_rules,
    )
    from lowcarb.monitoring._retrain_io import (
        CheckOutcome,
        RetrainJob,
        RetrainMonitor,
        submit_retrain,
    )
    from lowcarb.monitoring._retrain_ledger import (
        find_last_retrain,
        record_check,
    )
    from lowcarb.monitoring._servelog import (
        LogColumns,
        read_serving_log,
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
    )
    from lowcarb.monitoring._watch import (
        Act,
        StopReason,
        WatchSummary,
        stop_on_signals,
        watch,
    )
    from lowcarb.monitoring._window_files import (
        parse_window,
        read_window,
    )

_LAZY: dict[str, str] = {
    "CbpeEstimator": "lowcarb.monitoring._cbpe",
    "CheckOptions": "lowcarb.monitoring._check",
    "DriftChecker": "lowcarb.monitoring._check",
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
    "read_window": "lowcarb.monitoring._window_files",
    "parse_window": "lowcarb.monitoring._window_files",
    "LogColumns": "lowcarb.monitoring._servelog",
    "read_serving_log": "lowcarb.monitoring._servelog",
    "ModelColumns": "lowcarb.monitoring._performance",
    "WindowPerformance": "lowcarb.monitoring._performance",
    "fit_window_performance": "lowcarb.monitoring._performance",
    "non_feature_columns": "lowcarb.monitoring._performance",
    "unevaluated_rules": "lowcarb.monitoring._retrain",
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
    "find_last_retrain": "lowcarb.monitoring._retrain_ledger",
    "record_check": "lowcarb.monitoring._retrain_ledger",
    "submit_retrain": "lowcarb.monitoring._retrain_io",
    "EnergyFigure": "lowcarb.monitoring._energy_figures",
    "EnergyRegression": "lowcarb.monitoring._regression",
    "RegressionOutcome": "lowcarb.monitoring._regression",
    "Rollback": "lowcarb.monitoring._regression",
    "RollbackOutcome": "lowcarb.monitoring._regression",
    "act_on_regression": "lowcarb.monitoring._regression",
    "check_energy_regression": "lowcarb.monitoring._regression",
    "energy_from_metrics": "lowcarb.monitoring._energy_figures",
    "energy_from_profile": "lowcarb.monitoring._energy_figures",
    "fetch_metrics": "lowcarb.monitoring._energy_figures",
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
    "CheckOptions",
    "CheckOutcome",
    "DriftChecker",
    "DriftReport",
    "DriftTrigger",
    "EnergyFigure",
    "EnergyRegression",
    "EnergyRegressionRule",
    "FeatureDrift",
    "FeatureKind",
    "JobTemplate",
    "LastRetrain",
    "LogColumns",
    "ModelColumns",
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
    "WindowPerformance",
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
    "drift_share_exceeds",
    "energy_from_metrics",
    "energy_from_profile",
    "fetch_metrics",
    "find_last_retrain",
    "fit_cbpe",
    "fit_window_performance",
    "infer_kind",
    "load_retrain_policy",
    "non_feature_columns",
    "parse_retrain_policy",
    "parse_window",
    "read_serving_log",
    "read_window",
    "realised_performance",
    "record_check",
    "retrain_policy_from_dict",
    "stop_on_signals",
    "submit_retrain",
    "unevaluated_rules",
    "watch",
]
