"""A cascade of classifiers: cheap models answer the requests they are sure of, the rest escalate.

A request goes to stage 1. If that stage's largest class probability is strictly greater than the
stage's threshold, the stage answers; otherwise the request escalates to the next stage, and the
last stage always answers. A threshold of 0 makes a stage answer every request, a threshold of 1
makes it pass every request on. An escalated request pays for every stage it passed, so the
expected energy of one request is the sum over stages of (share reaching the stage x that stage's
joules per request).

An :class:`OperatingPoint` is one set of thresholds fitted on validation data, with the accuracy
and expected energy it had there. A :class:`Cascade` holds the fitted point and cheaper points
fitted at larger allowed accuracy losses; :meth:`Cascade.select_point` picks one from the grid's
carbon intensity, never one below the configured accuracy floor, and says why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lowcarb.errors import DataError, InvalidValueError, UsageError

__all__ = [
    "FITTED_POINT",
    "Cascade",
    "FittedOn",
    "OperatingPoint",
    "PointChoice",
    "Routed",
    "Stage",
    "check_thresholds",
    "stage_proba",
]

#: Name of the operating point fitted at the cascade's own accuracy-loss limit.
FITTED_POINT = "fitted"

EnergyMethod = Literal["measured", "estimated"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One model of a cascade.

    Attributes:
        path: The model file.
        sha256: SHA-256 of the model file (hex), checked whenever the cascade is loaded.
        model: The loaded estimator; it has ``predict_proba`` and ``classes_``.
        energy_per_1k_j: Joules per 1,000 requests answered by this stage alone (batch 1).
        energy_method: ``measured`` or ``estimated``.
        size_bytes: Size of the model file, bytes.
    """

    path: Path
    sha256: str
    model: Any
    energy_per_1k_j: float
    energy_method: EnergyMethod
    size_bytes: int


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Thresholds and what they gave on the validation data they were fitted on.

    Attributes:
        name: ``fitted`` or ``loss-<pts>pt``.
        thresholds: One threshold per stage but the last, each in 0..1.
        accuracy: Validation accuracy at these thresholds, 0..1.
        energy_per_1k_j: Expected joules per 1,000 requests (escalations included).
        share_per_stage: Share of requests answered at each stage (sums to 1).
        max_accuracy_loss_pts: The loss limit against the largest model it was fitted for, points.
    """

    name: str
    thresholds: tuple[float, ...]
    accuracy: float
    energy_per_1k_j: float
    share_per_stage: tuple[float, ...]
    max_accuracy_loss_pts: float


@dataclass(frozen=True, slots=True)
class FittedOn:
    """The validation data a cascade was fitted on.

    Attributes:
        dataset: Description of the validation set.
        rows: Validation rows.
        largest_accuracy: Validation accuracy of the last (largest) stage alone, 0..1.
        max_accuracy_loss_pts: Allowed accuracy loss of the fitted point, percentage points.
        margin_sd: Standard errors of the validation loss that were added before comparing it
            with each limit (0: the plain validation loss).
    """

    dataset: str
    rows: int
    largest_accuracy: float
    max_accuracy_loss_pts: float
    margin_sd: float = 0.0


@dataclass(frozen=True, slots=True)
class PointChoice:
    """The operating point :meth:`Cascade.select_point` chose, and why.

    Attributes:
        point: The chosen point.
        reason: One sentence naming the intensity, the limit and the floor.
        intensity_g_per_kwh: The grid intensity the choice was made for, or None.
        dirty: Whether that intensity was above the dirty-grid limit.
        intensity_source: Where that intensity came from (e.g. ``profile:electricitymaps-2022``),
            when the caller said.
    """

    point: OperatingPoint
    reason: str
    intensity_g_per_kwh: float | None
    dirty: bool
    intensity_source: str | None = None


@dataclass(frozen=True, slots=True)
class Routed:
    """Predictions of a cascade and where each request was answered.

    Attributes:
        predictions: One label per row.
        stages: Index (0-based) of the stage that answered each row.
        router_s: Seconds spent in the routing logic alone (confidences, comparisons, selection),
            not in the models.
    """

    predictions: np.ndarray[Any, Any]
    stages: np.ndarray[Any, Any]
    router_s: float


def check_thresholds(thresholds: Sequence[float], *, stages: int, source: str) -> tuple[float, ...]:
    """Validate thresholds: one per stage but the last, finite numbers in 0..1.

    Raises:
        InvalidValueError: One line quoting the bad value.
    """
    values = list(thresholds)
    if len(values) != stages - 1:
        raise InvalidValueError(
            f"{source}: {len(values)} threshold(s) for {stages} stages; give one per stage but "
            "the last"
        )
    for t in values:
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise InvalidValueError(f"{source}: threshold {t!r} is not a number; use 0..1")
        if not 0.0 <= t <= 1.0:
            raise InvalidValueError(f"{source}: threshold {t!r} is outside 0..1; use 0..1")
    return tuple(float(t) for t in values)


class Cascade:
    """An ordered list of models (cheapest first) with fitted operating points.

    Immutable once built; safe to share between threads as far as the stage models are.

    Args:
        stages: The models, cheapest first; the last is the reference ("largest") model.
        points: Operating points; one of them is named ``fitted``.
        fitted_on: The validation data the points were fitted on.
    """

    def __init__(
        self, stages: Sequence[Stage], points: Sequence[OperatingPoint], fitted_on: FittedOn
    ) -> None:
        if len(stages) < 2:
            raise UsageError(f"a cascade needs at least 2 models, got {len(stages)}")
        names = [p.name for p in points]
        if FITTED_POINT not in names:
            raise DataError(f"a cascade needs an operating point named {FITTED_POINT!r}")
        if len(set(names)) != len(names):
            raise DataError(f"operating point names repeat: {names!r}; give each a unique name")
        for p in points:
            check_thresholds(p.thresholds, stages=len(stages), source=f"operating point {p.name!r}")
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.points: tuple[OperatingPoint, ...] = tuple(points)
        self.fitted_on = fitted_on

    @property
    def fitted(self) -> OperatingPoint:
        """The point fitted at the cascade's own accuracy-loss limit."""
        return self.point(FITTED_POINT)

    @property
    def size_bytes(self) -> int:
        """Sum of the stage model files' sizes, bytes."""
        return sum(s.size_bytes for s in self.stages)

    @property
    def energy_method(self) -> EnergyMethod:
        """``measured`` only when every stage's energy was measured."""
        measured = all(s.energy_method == "measured" for s in self.stages)
        return "measured" if measured else "estimated"

    def point(self, name: str) -> OperatingPoint:
        """The operating point called ``name``.

        Raises:
            UsageError: No such point (the message lists the known ones).
        """
        for p in self.points:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.points)
        raise UsageError(f"no operating point {name!r} in the cascade; known: {known}")

    def select_point(
        self,
        intensity_g_per_kwh: float | None,
        *,
        dirty_above_g_per_kwh: float,
        accuracy_floor: float = 0.0,
        intensity_source: str | None = None,
    ) -> PointChoice:
        """Pick the operating point for the grid's intensity now (or a forecast of it).

        On a clean grid (intensity unknown or at most ``dirty_above_g_per_kwh``) the fitted point
        is used; on a dirty grid the cheapest point whose validation accuracy is at least
        ``accuracy_floor``. Never a point below the floor: where the fitted point is below it,
        the cheapest point that is not is used even on a clean grid.

        Args:
            intensity_g_per_kwh: Grid carbon intensity, gCO2e/kWh, or None when unknown.
            dirty_above_g_per_kwh: Intensity above which the grid counts as dirty.
            accuracy_floor: Lowest validation accuracy allowed, 0..1.
            intensity_source: Where the intensity came from; named in the reason.

        Raises:
            InvalidValueError: A negative or non-finite intensity or limit, a floor outside 0..1,
                or a floor above every point's accuracy.
        """
        for what, v in (
            ("intensity", intensity_g_per_kwh),
            ("dirty-grid limit", dirty_above_g_per_kwh),
        ):
            if v is not None and (not math.isfinite(v) or v < 0):
                raise InvalidValueError(f"{what} {v!r} g/kWh must be a finite number >= 0")
        if not 0.0 <= accuracy_floor <= 1.0:
            raise InvalidValueError(f"accuracy floor {accuracy_floor!r} is outside 0..1; use 0..1")
        allowed = [p for p in self.points if p.accuracy >= accuracy_floor]
        if not allowed:
            best = max(p.accuracy for p in self.points)
            raise InvalidValueError(
                f"accuracy floor {accuracy_floor!r} is above every operating point (best "
                f"{best:.4f}); lower the floor or refit the cascade"
            )
        cheapest = min(allowed, key=lambda p: (p.energy_per_1k_j, -p.accuracy))
        floor = f"accuracy floor {accuracy_floor:.4f}"
        dirty = intensity_g_per_kwh is not None and intensity_g_per_kwh > dirty_above_g_per_kwh
        fitted = self.fitted
        shown = "unknown" if intensity_g_per_kwh is None else f"{intensity_g_per_kwh:g} g/kWh"
        if intensity_g_per_kwh is not None and intensity_source:
            shown += f" ({intensity_source})"
        if dirty:
            chosen = cheapest
            reason = (
                f"grid at {shown} is above {dirty_above_g_per_kwh:g}: "
                f"cheapest point at or above the {floor}"
            )
        elif fitted.accuracy >= accuracy_floor:
            chosen = fitted
            reason = f"grid at {shown} is not above {dirty_above_g_per_kwh:g}: the fitted point"
        else:
            chosen = max(allowed, key=lambda p: (p.accuracy, -p.energy_per_1k_j))
            reason = f"the fitted point is below the {floor}: the most accurate point above it"
        return PointChoice(chosen, reason, intensity_g_per_kwh, dirty, intensity_source)

    def predict(
        self,
        x: Any,
        *,
        point: str | OperatingPoint | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> Routed:
        """Answer rows through the cascade (each stage sees only the rows still unanswered).

        Args:
            x: Rows (2-D array).
            point: Operating point or its name (default: the fitted point).
            clock: Seconds clock timing the routing logic.

        Raises:
            DataError: Rows the stage models cannot take (e.g. the wrong number of features).
        """
        chosen = self.resolve_point(point)
        rows = np.asarray(x)
        n = len(rows)
        last = len(self.stages) - 1
        if n == 1:
            return self._predict_one(rows, chosen.thresholds, clock)
        predictions: np.ndarray[Any, Any] | None = None
        stages = np.full(n, last, dtype=np.int64)
        pending = np.arange(n)
        router_s = 0.0
        for k, stage in enumerate(self.stages):
            proba = stage_proba(stage, rows[pending] if k else rows)
            t0 = clock()
            classes = stage.model.classes_
            if k < last:
                best = proba.argmax(axis=1)
                sure = proba[np.arange(len(best)), best] > chosen.thresholds[k]
                answered, pending_next = pending[sure], pending[~sure]
                labels = classes[best[sure]]
            else:
                answered, pending_next = pending, pending[:0]
                labels = classes[proba.argmax(axis=1)]
            if predictions is None:
                predictions = np.empty(n, dtype=classes.dtype)
            predictions[answered] = labels
            stages[answered] = k
            pending = pending_next
            router_s += clock() - t0
            if not len(pending):
                break
        assert predictions is not None  # the loop runs at least once (>= 2 stages)
        return Routed(predictions, stages, router_s)

    def _predict_one(
        self, row: Any, thresholds: tuple[float, ...], clock: Callable[[], float]
    ) -> Routed:
        """One request (the serving case at batch 1): the same rule without index arrays."""
        router_s = 0.0
        last = len(self.stages) - 1
        for k, stage in enumerate(self.stages):
            proba = stage_proba(stage, row)[0]
            t0 = clock()
            best = int(proba.argmax())
            if k == last or proba[best] > thresholds[k]:
                classes = stage.model.classes_
                label = np.asarray(classes[best : best + 1])
                router_s += clock() - t0
                return Routed(label, np.array([k], dtype=np.int64), router_s)
            router_s += clock() - t0
        raise AssertionError("unreachable: the last stage always answers")  # pragma: no cover

    def resolve_point(self, point: str | OperatingPoint | None) -> OperatingPoint:
        """The point given, the point of that name, or the fitted point for None.

        Raises:
            UsageError: No point of that name.
            InvalidValueError: A point whose thresholds do not fit this cascade.
        """
        if point is None:
            return self.fitted
        if isinstance(point, OperatingPoint):
            check_thresholds(
                point.thresholds, stages=len(self.stages), source=f"operating point {point.name!r}"
            )
            return point
        return self.point(point)


def stage_proba(stage: Stage, rows: Any) -> np.ndarray[Any, Any]:
    try:
        return np.asarray(stage.model.predict_proba(rows))
    except (ValueError, TypeError) as exc:  # the model's own message says what it expected
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cascade stage {str(stage.path)!r} cannot predict these rows: {first[:300]}; give "
            "rows with the features the models were trained on"
        ) from None
