"""Label-free accuracy of a classifier: confidence-based performance estimation (CBPE).

CBPE as NannyML defines it (NannyML 0.13, ``nannyml/performance_estimation/confidence_based``;
docs: "Estimation of Performance of the Monitored Model", How it Works: CBPE):

1. **Calibrate on the reference window**, where labels are known. For each class (binary: the
   positive class' score; multiclass: each class' score one-vs-rest) an isotonic regression
   (``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip", increasing=True)``) is fitted
   from scores to labels, *if calibration helps*: NannyML's ``needs_calibration`` skips it when the
   reference has one class or an AUROC above 0.999, and otherwise fits the calibrator on ten
   stratified 90/10 splits (``StratifiedShuffleSplit(n_splits=10, test_size=0.1,
   random_state=42)``) and keeps it only if the expected calibration error on the pooled
   held-out tenths (ten equal-count bins) is lower after calibration than before.
   Multiclass calibrated scores are renormalised to sum to 1 per row (uniform where all are 0).
2. **Estimate** on the current window, labels unknown: the calibrated score is the probability
   that the row's label is the class, so the probability that the prediction is right is the
   calibrated score of the predicted class, and the expected accuracy is its mean:
   ``mean(p if y_pred == positive else 1 - p)`` for binary, ``mean(p[y_pred])`` for multiclass
   (NannyML ``estimate_accuracy`` and ``MulticlassClassificationAccuracy._estimate``).

CBPE assumes covariate shift only (P(y | x) unchanged) and a model whose reference scores can be
calibrated; under concept shift the estimate is wrong and only realised accuracy
(:func:`realised_performance`) tells. tests/monitoring/test_cbpe.py checks this module against
NannyML's own output on the same data (``scripts/nannyml_reference.py``).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lowcarb.errors import DataError, InvalidValueError, MissingDependencyError, UsageError
from lowcarb.monitoring._report import PerformanceEstimate

try:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("sklearn", "monitor") from None

__all__ = [
    "CALIBRATION_BINS",
    "CALIBRATION_SPLITS",
    "CbpeEstimator",
    "fit_cbpe",
    "needs_calibration",
    "realised_performance",
]

FloatArray = npt.NDArray[np.float64]
#: Equal-count bins of the expected calibration error (NannyML's default).
CALIBRATION_BINS = 10
#: Stratified 90/10 splits that decide whether to calibrate (NannyML's default).
CALIBRATION_SPLITS = 10
_SPLIT_SEED = 42  # NannyML's random_state, so both take the same decision on the same data


def _ece(labels: FloatArray, scores: FloatArray, bins: int) -> float:
    """Expected calibration error over equal-count bins of the sorted scores (NannyML's)."""
    n = scores.size
    if n <= 2 * bins:
        bins = n // 2
        if bins < 2:
            raise DataError(
                f"the reference has {n} rows, too few to check calibration; give at least 4"
            )
    width = n // bins
    edges = list(range(0, n + 1, width))
    edges[-1] = n
    order = np.argsort(scores)
    scores, labels = scores[order], labels[order]
    total = 0.0
    for left, right in itertools.pairwise(edges):
        weight = (right - left) / n
        total += weight * abs(
            float(np.mean(scores[left:right])) - float(np.mean(labels[left:right]))
        )
    return total


def needs_calibration(labels: FloatArray, scores: FloatArray) -> bool:
    """Whether isotonic calibration lowers the held-out expected calibration error (NannyML's test).

    Args:
        labels: 0/1 labels of one class (one-vs-rest), reference window.
        scores: That class' scores, same rows.
    """
    if np.unique(labels).size == 1:
        return False
    if roc_auc_score(labels, scores) > 0.999:
        return False
    splitter = StratifiedShuffleSplit(
        n_splits=CALIBRATION_SPLITS, test_size=0.1, random_state=_SPLIT_SEED
    )
    held_labels, held_scores, held_calibrated = [], [], []
    for train, test in splitter.split(scores, labels):
        model = IsotonicRegression(out_of_bounds="clip", increasing=True)
        model.fit(scores[train], labels[train])
        held_labels.append(labels[test])
        held_scores.append(scores[test])
        held_calibrated.append(model.predict(scores[test]))
    y = np.concatenate(held_labels)
    before = _ece(y, np.concatenate(held_scores), CALIBRATION_BINS)
    after = _ece(y, np.concatenate(held_calibrated), CALIBRATION_BINS)
    return before > after


def _as_scores(scores: Any, n_classes: int, what: str) -> FloatArray:
    try:
        array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} must be numbers (class probabilities)") from None
    if array.ndim == 1:
        if n_classes != 2:
            raise UsageError(
                f"{what} is one column but there are {n_classes} classes; give one column of "
                "scores per class"
            )
        array = np.column_stack([1.0 - array, array])
    if array.ndim != 2 or array.shape[1] != n_classes:
        raise UsageError(
            f"{what} has shape {array.shape}; give one score column per class ({n_classes})"
        )
    if array.shape[0] == 0:
        raise DataError(f"{what} has no rows; give a window with data")
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise DataError(f"{what} holds a missing or non-finite score (row {row + 1}); fix it")
    if array.min() < 0.0 or array.max() > 1.0:
        raise InvalidValueError(
            f"{what} holds a score outside 0..1 ({float(array.min())!r} to "
            f"{float(array.max())!r}); give probabilities, not logits"
        )
    return array


def _class_index(values: Any, classes: tuple[Any, ...], what: str) -> npt.NDArray[np.int64]:
    lookup = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        key = value.item() if isinstance(value, np.generic) else value
        index = lookup.get(key)
        if index is None:
            raise DataError(
                f"{what} holds {key!r} (row {row + 1}), not one of the classes "
                f"{', '.join(repr(c) for c in classes)}; fix it or give classes="
            )
        out[row] = index
    return out


def _predicted(
    scores: FloatArray, predictions: Any, classes: tuple[Any, ...], what: str
) -> npt.NDArray[np.int64]:
    if predictions is None:
        if len(classes) == 2:
            # NannyML takes the model's own y_pred; the usual binary rule is score >= 0.5.
            return np.asarray(scores[:, 1] >= 0.5, dtype=np.int64)
        return np.asarray(np.argmax(scores, axis=1), dtype=np.int64)
    values = list(predictions)
    if len(values) != scores.shape[0]:
        raise UsageError(
            f"{what} has {len(values)} rows but the scores have {scores.shape[0]}; give one "
            "prediction per row"
        )
    return _class_index(values, classes, what)


@dataclass(frozen=True)
class CbpeEstimator:
    """CBPE fitted on a reference window: estimates accuracy where labels are not known.

    Immutable once fitted; :meth:`estimate` may be called from several threads.

    Attributes:
        classes: The class labels, in score-column order.
        calibrated: Per class, whether its scores are calibrated (NannyML's test said it helps).
        reference_accuracy: Realised accuracy on the reference window, 0..1.
        reference_rows: Rows the estimator was fitted on.
    """

    classes: tuple[Any, ...]
    calibrated: tuple[bool, ...]
    reference_accuracy: float
    reference_rows: int
    _calibrators: tuple[Any, ...]

    def calibrate(self, scores: Any) -> FloatArray:
        """Calibrated scores, one column per class (binary: a 1-D array of positive scores is
        accepted)."""
        return self._calibrated(_as_scores(scores, len(self.classes), "scores"))

    def _calibrated(self, array: FloatArray) -> FloatArray:
        if len(self.classes) == 2:
            positive = array[:, 1]
            if self._calibrators[1] is not None:
                positive = np.asarray(self._calibrators[1].predict(positive), dtype=np.float64)
            return np.column_stack([1.0 - positive, positive])
        out = np.empty_like(array)
        for i, model in enumerate(self._calibrators):
            out[:, i] = array[:, i] if model is None else model.predict(array[:, i])
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / len(self.classes))
        return np.asarray(np.divide(out, total, out=uniform, where=total != 0), dtype=np.float64)

    def expected_correct(self, scores: Any, predictions: Any = None) -> FloatArray:
        """Per row, the calibrated probability that the prediction is right (0..1).

        Predictions default to the model's own decision on the uncalibrated scores.
        """
        raw = _as_scores(scores, len(self.classes), "scores")
        calibrated = self._calibrated(raw)
        predicted = _predicted(raw, predictions, self.classes, "predictions")
        return calibrated[np.arange(calibrated.shape[0]), predicted]

    def estimate(self, scores: Any, predictions: Any = None) -> PerformanceEstimate:
        """Estimated accuracy of the current window, no labels needed.

        Args:
            scores: Class probabilities: ``(n, k)`` in :attr:`classes` order, or for a binary
                model ``(n,)`` scores of the positive class (``classes[1]``).
            predictions: The model's predicted labels; None derives them from the scores
                (argmax, or score >= 0.5 for binary).

        Returns:
            ``PerformanceEstimate(metric="accuracy", method="cbpe")`` with the reference's
            realised accuracy as ``reference_value``.
        """
        correct = self.expected_correct(scores, predictions)
        return PerformanceEstimate(
            metric="accuracy",
            value=float(np.mean(correct)),
            method="cbpe",
            reference_value=self.reference_accuracy,
            rows=int(correct.size),
        )


def _classes(
    labels: Sequence[Any], classes: Sequence[Any] | None, n_columns: int
) -> tuple[Any, ...]:
    if classes is not None:
        out = tuple(c.item() if isinstance(c, np.generic) else c for c in classes)
        if len(set(out)) != len(out):
            raise UsageError(f"classes has duplicates: {out!r}; name each class once")
    else:
        found = {v.item() if isinstance(v, np.generic) else v for v in labels}
        try:
            out = tuple(sorted(found))
        except TypeError:  # labels of mixed types: a stable order all the same
            out = tuple(sorted(found, key=repr))
        if n_columns != len(out) and n_columns > 1:
            raise UsageError(
                f"the scores have {n_columns} columns but the reference labels hold "
                f"{len(out)} classes; give classes= in score-column order"
            )
    if len(out) < 2:
        raise UsageError(
            f"a classifier needs at least two classes, got {out!r}; give classes= in "
            "score-column order"
        )
    return out


def fit_cbpe(
    reference_scores: Any,
    reference_labels: Any,
    *,
    reference_predictions: Any = None,
    classes: Sequence[Any] | None = None,
) -> CbpeEstimator:
    """Fit CBPE on a reference window where labels are known.

    Args:
        reference_scores: Class probabilities ``(n, k)`` (columns in ``classes`` order), or for a
            binary model ``(n,)`` scores of the positive class.
        reference_labels: The true labels, ``n`` of them.
        reference_predictions: The model's predicted labels; None derives them from the scores.
        classes: Class labels in score-column order; None takes the sorted labels (as
            scikit-learn's ``classes_``).

    Raises:
        UsageError: Shapes that do not match, fewer than two classes.
        DataError: Empty, missing or non-finite scores; labels that are not classes.
        InvalidValueError: Scores outside 0..1.
    """
    labels = list(reference_labels)
    n_columns = np.asarray(reference_scores).shape[1] if np.ndim(reference_scores) == 2 else 2
    cls = _classes(labels, classes, n_columns)
    scores = _as_scores(reference_scores, len(cls), "reference scores")
    if len(labels) != scores.shape[0]:
        raise UsageError(
            f"the reference has {scores.shape[0]} score rows but {len(labels)} labels; give one "
            "label per row"
        )
    truth = _class_index(labels, cls, "reference labels")
    predicted = _predicted(scores, reference_predictions, cls, "reference predictions")
    targets = range(1, 2) if len(cls) == 2 else range(len(cls))
    calibrators: list[Any] = [None] * len(cls)
    for i in targets:
        onehot = (truth == i).astype(np.float64)
        if needs_calibration(onehot, scores[:, i]):
            model = IsotonicRegression(out_of_bounds="clip", increasing=True)
            model.fit(scores[:, i], onehot)
            calibrators[i] = copy.deepcopy(model)
    return CbpeEstimator(
        classes=cls,
        calibrated=tuple(c is not None for c in calibrators),
        reference_accuracy=float(np.mean(predicted == truth)),
        reference_rows=int(scores.shape[0]),
        _calibrators=tuple(calibrators),
    )


def realised_performance(
    labels: Any, predictions: Any, *, reference_value: float | None = None
) -> PerformanceEstimate:
    """Accuracy once labels have arrived: the share of predictions equal to the labels.

    Raises:
        UsageError: Lengths that differ.
        DataError: No rows.
    """
    truth, pred = list(labels), list(predictions)
    if len(truth) != len(pred):
        raise UsageError(
            f"{len(truth)} labels but {len(pred)} predictions; give one label per prediction"
        )
    if not truth:
        raise DataError("no labels to score; give a window with data")
    hits = sum(1 for a, b in zip(truth, pred, strict=True) if a == b)
    return PerformanceEstimate(
        metric="accuracy",
        value=hits / len(truth),
        method="realised",
        reference_value=reference_value,
        rows=len(truth),
    )
