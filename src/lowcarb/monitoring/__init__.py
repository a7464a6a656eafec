"""lowcarb.monitoring: is a retrain needed at all? Drift, retraining policy, energy regressions.

See DESIGN.md (layer 5, beside tuning and serving).
"""

from lowcarb.monitoring._report import DriftReport, FeatureDrift, PerformanceEstimate, StatisticName

__all__ = ["DriftReport", "FeatureDrift", "PerformanceEstimate", "StatisticName"]
