"""A classifier's accuracy on windows of data: the columns that hold the model's outputs.

A window may carry, besides its features, the model's class probabilities (*score columns*, in
class order; a binary model may give the positive class' column alone), its predictions and the
true labels. :class:`ModelColumns` names them; they are never features of the drift check.
:func:`fit_window_performance` prepares on the reference window, once, what measuring needs: the
reference's realised accuracy and, where it has scores and labels, CBPE
(:func:`~lowcarb.monitoring.fit_cbpe`). :meth:`WindowPerformance.measure` then gives the accuracy
of a current window:

- **realised** when every current row has a label, against the predictions (the prediction
  column, else the scores' decision: argmax, or score >= 0.5 for a binary model);
- **cbpe** otherwise, from the current scores, with no label needed;
- **none**, with the reason, when neither is possible (a policy whose performance trigger then
  cannot be evaluated says so: :func:`~lowcarb.monitoring.unevaluated_rules`).

``method`` narrows the choice to what a policy's trigger watches (``realised`` or ``cbpe``).

Labels and predictions are compared as text (``1``, ``1.0`` and JSON ``1`` are the same class;
``True``/``False`` for booleans), since a CSV holds text and a serving log JSON values. Classes
default to the reference's labels, sorted as numbers when they all are numbers.
A serving-log window's prediction and score columns are found without naming them (see
``_servelog``: ``attrs["lowcarb_outputs"]``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.monitoring._cbpe import CbpeEstimator, fit_cbpe, realised_performance
from lowcarb.monitoring._policy import PerformanceMethod
from lowcarb.monitoring._report import PerformanceEstimate
from lowcarb.monitoring._servelog import OUTPUTS_ATTR
from lowcarb.monitoring._tables import check_feature_names

try:
    import pandas as pd  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("pandas", "monitor") from None

__all__ = [
    "ModelColumns",
    "WindowPerformance",
    "fit_window_performance",
    "label_text",
    "non_feature_columns",
]


@dataclass(frozen=True, slots=True)
class ModelColumns:
    """Columns of a window that hold the model's outputs and the truth, not features.

    Attributes:
        scores: Class-probability columns in class order (a binary model: both, or the positive
            class' alone); empty when none.
        label: The true label's column, or None.
        prediction: The model's predicted label's column, or None (derived from the scores).
        classes: The class labels in score-column order, as text; None takes the reference's
            labels, sorted (as numbers when they all are).
    """

    scores: tuple[str, ...] = ()
    label: str | None = None
    prediction: str | None = None
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        taken = [*self.scores, *(c for c in (self.label, self.prediction) if c is not None)]
        twice = sorted({c for c in taken if taken.count(c) > 1})
        if twice:
            raise UsageError(
                f"the model's columns name {twice[0]!r} twice (scores, label, prediction); give "
                "each role its own column"
            )
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise UsageError(f"classes {list(self.classes)!r} name a class twice; name each once")

    @property
    def names(self) -> tuple[str, ...]:
        """Every column named, scores first."""
        out = list(self.scores)
        out += [c for c in (self.label, self.prediction) if c is not None]
        return tuple(out)

    @property
    def given(self) -> bool:
        """Whether any column is named."""
        return bool(self.names)


def _outputs(frame: Any) -> dict[str, Any]:
    got = frame.attrs.get(OUTPUTS_ATTR) if hasattr(frame, "attrs") else None
    return got if isinstance(got, dict) else {}


def non_feature_columns(columns: ModelColumns, *frames: Any) -> tuple[str, ...]:
    """The columns a drift check leaves out: those ``columns`` names, and the outputs of a
    serving-log window among ``frames`` (its predictions and probabilities)."""
    out = list(columns.names)
    for frame in frames:
        found = _outputs(frame)
        for name in [found.get("prediction"), *(found.get("scores") or ())]:
            if isinstance(name, str) and name not in out:
                out.append(name)
    return tuple(out)


def label_text(value: object) -> str | None:
    """A label or prediction as text (None when missing); ``1``, ``1.0`` and ``"1"`` agree."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    return text if text.strip() else None


def _sorted_classes(labels: Iterable[str]) -> tuple[str, ...]:
    found = set(labels)
    try:
        return tuple(sorted(found, key=float))
    except ValueError:
        return tuple(sorted(found))


def _labels(frame: Any, column: str) -> list[str | None]:
    return [label_text(v) for v in frame[column].tolist()]


def _prediction_column(frame: Any, columns: ModelColumns) -> str | None:
    if columns.prediction is not None and columns.prediction in frame.columns:
        return columns.prediction
    name = _outputs(frame).get("prediction")
    return name if isinstance(name, str) and name in frame.columns else None


def _score_columns(frame: Any, columns: ModelColumns) -> tuple[str, ...]:
    if columns.scores and all(c in frame.columns for c in columns.scores):
        return columns.scores
    found = tuple(_outputs(frame).get("scores") or ())
    return found if found and all(c in frame.columns for c in found) else ()


def _scores(frame: Any, names: tuple[str, ...], window: str) -> npt.NDArray[np.float64]:
    out = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        raw = frame[name]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy())
        if bad.size:
            row = int(bad[0])
            value = raw.iloc[row]
            shown = "missing" if label_text(value) is None else f"{str(value)!r}"
            raise DataError(
                f"score column {name!r} is {shown} in row {row + 1} of the {window} window; "
                "every row needs its class probabilities (numbers 0..1)"
            )
        out[:, j] = numbers.to_numpy(dtype=np.float64)
    return out


def _decided(scores: npt.NDArray[np.float64], classes: tuple[str, ...]) -> list[str]:
    """The scores' own decision: score >= 0.5 for a binary model, else the argmax."""
    if scores.shape[1] == 1 or len(classes) == 2:
        positive = scores[:, -1]
        return [classes[1] if p >= 0.5 else classes[0] for p in positive]
    return [classes[int(i)] for i in np.argmax(scores, axis=1)]


@dataclass(frozen=True)
class WindowPerformance:
    """What measuring a current window's accuracy needs, prepared on the reference window.

    Immutable; :meth:`measure` may run for every check of a watch.

    Attributes:
        columns: The model's columns.
        method: ``any``, or the one kind of figure wanted (``realised`` or ``cbpe``).
        classes: The class labels (text), or None when the reference has no labels.
        reference_accuracy: Realised accuracy on the reference window, 0..1, or None.
        estimator: CBPE fitted on the reference, or None (``cbpe_unavailable`` says why).
        cbpe_unavailable: Why CBPE cannot be used, or None.
    """

    columns: ModelColumns
    method: PerformanceMethod
    classes: tuple[str, ...] | None
    reference_accuracy: float | None
    estimator: CbpeEstimator | None
    cbpe_unavailable: str | None

    def measure(self, current: Any) -> tuple[PerformanceEstimate | None, str | None]:
        """The accuracy of ``current`` (realised or CBPE, see the module docstring).

        Returns:
            ``(estimate, None)``, or ``(None, reason)`` when no figure can be made.

        Raises:
            DataError: A score that is not a number, a prediction that is not a class.
        """
        c = self.columns
        if not c.given and not _outputs(current):
            return None, "no model columns given (the model's scores, its predictions, labels)"
        labels = None
        if c.label is not None and c.label in current.columns:
            labels = _labels(current, c.label)
        complete = labels is not None and all(v is not None for v in labels)
        pred_col = _prediction_column(current, c)
        score_cols = _score_columns(current, c)
        classes = self.classes or self._classes_from(labels)
        predictions: list[str | None] | None = None
        if pred_col is not None:
            predictions = _labels(current, pred_col)
        elif score_cols and classes is not None:
            predictions = list(_decided(_scores(current, score_cols, "current"), classes))

        reasons: list[str] = []
        if self.method in ("realised", "any"):
            if complete and predictions is not None and labels is not None:
                return (
                    realised_performance(
                        labels, predictions, reference_value=self.reference_accuracy
                    ),
                    None,
                )
            if labels is None:
                reasons.append("the current window has no labels" + self._named(c.label))
            elif not complete:
                missing = sum(v is None for v in labels)
                reasons.append(f"{missing} of {len(labels)} current rows have no label")
            else:
                reasons.append("the current window has no predictions or scores")
        if self.method in ("cbpe", "any"):
            if self.estimator is None:
                reasons.append(f"CBPE is not available: {self.cbpe_unavailable}")
            elif not score_cols:
                reasons.append("the current window has no score columns" + self._scores_named())
            else:
                given = None
                if pred_col is not None:
                    given = [v if v is not None else "" for v in _labels(current, pred_col)]
                scores = _scores(current, score_cols, "current")
                return self.estimator.estimate(
                    scores[:, 0] if scores.shape[1] == 1 else scores, given
                ), None
        return None, "; ".join(reasons)

    def _classes_from(self, labels: list[str | None] | None) -> tuple[str, ...] | None:
        if self.columns.classes is not None:
            return self.columns.classes
        if labels is None:
            return None
        found = [v for v in labels if v is not None]
        return _sorted_classes(found) if len(set(found)) >= 2 else None

    @staticmethod
    def _named(column: str | None) -> str:
        return f" (column {column!r})" if column is not None else " (no label column named)"

    def _scores_named(self) -> str:
        names = self.columns.scores
        return f" ({', '.join(repr(n) for n in names)})" if names else ""


def fit_window_performance(
    reference: Any, columns: ModelColumns, *, method: PerformanceMethod = "any"
) -> WindowPerformance:
    """Prepare accuracy measurement on ``reference`` (see the module docstring).

    Args:
        reference: The reference window (``pandas.DataFrame``).
        columns: The model's columns.
        method: ``any``, ``realised`` or ``cbpe`` (a policy's ``performance.method``).

    Raises:
        UsageError: A label or score column the reference table lacks (a serving-log reference
            has no labels: measuring then falls to the current window), classes that do not
            match the score columns.
        DataError: Scores that are not numbers, labels that are not classes.
    """
    if not isinstance(reference, pd.DataFrame):
        raise UsageError(
            f"the reference window must be a pandas DataFrame, got {type(reference).__name__}"
        )
    if method not in ("any", "realised", "cbpe"):
        raise UsageError(f"method must be any, realised or cbpe, got {method!r}")
    if not _outputs(reference):  # a table: the named label and scores must be among its columns
        named = [*columns.scores, *([columns.label] if columns.label is not None else [])]
        check_feature_names(
            named,
            [str(c) for c in reference.columns],
            what="the model's columns (--score-columns, --label-column)",
        )
    score_cols = _score_columns(reference, columns)
    pred_col = _prediction_column(reference, columns)
    if columns.label is None or columns.label not in reference.columns:
        why = (
            "no label column named"
            if columns.label is None
            else f"the reference window has no label column {columns.label!r}"
        )
        return WindowPerformance(columns, method, columns.classes, None, None, why)
    all_labels = _labels(reference, columns.label)
    rows = [i for i, v in enumerate(all_labels) if v is not None]
    if not rows:
        why = f"the label column {columns.label!r} is empty in the reference window"
        return WindowPerformance(columns, method, columns.classes, None, None, why)
    labels = [all_labels[i] for i in rows]
    classes = columns.classes or _sorted_classes(v for v in labels if v is not None)
    unknown = sorted({v for v in labels if v is not None} - set(classes))
    if unknown:
        raise DataError(
            f"the reference labels hold {unknown[0]!r}, not one of the classes "
            f"{', '.join(classes)}; fix the labels or --classes"
        )
    labelled = reference.iloc[rows]
    predictions: list[str] | None = None
    if pred_col is not None:
        predictions = [v if v is not None else "" for v in _labels(labelled, pred_col)]
    scores = _scores(labelled, score_cols, "reference") if score_cols else None
    if predictions is None and scores is not None:
        predictions = _decided(scores, classes)
    accuracy = (
        None
        if predictions is None
        else float(np.mean([p == t for p, t in zip(predictions, labels, strict=True)]))
    )
    if scores is None:
        why = (
            "no score columns named"
            if not columns.scores
            else "the reference window lacks score column(s) "
            + ", ".join(repr(c) for c in columns.scores if c not in reference.columns)
        )
        return WindowPerformance(columns, method, classes, accuracy, None, why)
    estimator = fit_cbpe(
        scores[:, 0] if scores.shape[1] == 1 else scores,
        labels,
        reference_predictions=predictions if pred_col is not None else None,
        classes=classes,
    )
    return WindowPerformance(
        columns, method, classes, estimator.reference_accuracy, estimator, None
    )
