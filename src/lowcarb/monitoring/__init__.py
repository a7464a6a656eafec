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
}

__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_DRIFT_SHARE",
    "DEFAULT_THRESHOLDS",
    "LARGE_SAMPLE_ROWS",
    "STATISTICS",
    "CbpeEstimator",
    "DriftReport",
    "FeatureDrift",
    "FeatureKind",
    "PerformanceEstimate",
    "StatResult",
    "StatisticName",
    "bin_counts",
    "category_counts",
    "check_feature_names",
    "compute_statistic",
    "default_statistic",
    "detect_drift",
    "drift_fragment",
    "drift_html",
    "fit_cbpe",
    "infer_kind",
    "read_window",
    "realised_performance",
]
