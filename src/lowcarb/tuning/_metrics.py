"""The validation metrics a search may maximise, and scoring a fitted model by one."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from lowcarb.errors import InvalidValueError
from lowcarb.tuning._sklearn import import_module

__all__ = [
    "METRICS",
    "Metric",
    "score",
    "score_predictions",
]

Metric = Literal["accuracy", "balanced_accuracy", "f1_macro"]
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "f1_macro")


def score_predictions(y_true: Any, y_pred: Any, metric: Metric) -> float:
    """The metric of predicted labels ``y_pred`` against ``y_true`` (higher is better).

    Raises:
        InvalidValueError: An unknown metric.
    """
    metrics = import_module("sklearn.metrics")
    with warnings.catch_warnings():
        # balanced_accuracy warns when a class is missing from a small validation set.
        warnings.simplefilter("ignore", UserWarning)
        if metric == "accuracy":
            return float(metrics.accuracy_score(y_true, y_pred))
        if metric == "balanced_accuracy":
            return float(metrics.balanced_accuracy_score(y_true, y_pred))
        if metric == "f1_macro":
            return float(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0))
    raise InvalidValueError(f"unknown metric {metric!r}; use one of: {', '.join(METRICS)}")


def score(model: Any, x: Any, y: Any, metric: Metric) -> float:
    """The metric of ``model.predict(x)`` against labels ``y``."""
    return score_predictions(y, model.predict(x), metric)
