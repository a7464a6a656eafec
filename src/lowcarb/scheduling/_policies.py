"""Scheduling policies, simulated job by job over a true intensity series.

A policy sees what a real scheduler would: forecasts issued at each decision time (from data
strictly before it) and the last observed slot. Only :class:`OraclePolicy` sees the future; it
bounds what any policy could save. Each policy returns the slots the job actually ran in; the
backtest prices them on the true series.

* :class:`RunNow`: start at submission.
* :class:`Threshold`: start (or, if interruptible, run each slot) when the last observed value is
  at or below a threshold: a fixed g/kWh or a quantile of the trailing week (the "run when the
  grid is green" gate common in Airflow DAGs); forced at the latest start.
* :class:`ForecastWindow`: plan once at submission on a forecast (best window / cheapest slots).
* :class:`RollingReplan`: re-plan at every slot on the newest forecast; start (or run this slot)
  when the new plan says now.
* :class:`OraclePolicy`: plan once on the true future (perfect foresight).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from lowcarb.errors import InvalidValueError
from lowcarb.grid import Forecaster, OracleForecaster
from lowcarb.scheduling._window import best_slots, best_window, chunks_of

__all__ = [
    "ForecastWindow",
    "OraclePolicy",
    "RollingReplan",
    "RunNow",
    "SchedulingPolicy",
    "SimEnv",
    "SimJob",
    "Threshold",
    "realised_cost",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SimJob:
    """A job in a backtest, in slot units.

    Attributes:
        submit: Slot index at which the job is submitted (the first slot it may use).
        weights: Energy of each slot of work, kWh.
        deadline: Slots ``[submit, deadline)`` may be used; the work must end by ``deadline``.
        interruptible: Whether it may pause.
        min_chunk: Shortest chunk, slots.
        resume_overhead_kwh: Energy each resume costs.
    """

    submit: int
    weights: FloatArray
    deadline: int
    interruptible: bool = False
    min_chunk: int = 1
    resume_overhead_kwh: float = 0.0

    def __post_init__(self) -> None:
        if self.deadline - self.submit < len(self.weights):
            raise InvalidValueError(
                f"job at slot {self.submit} needs {len(self.weights)} slots but its deadline "
                f"leaves {self.deadline - self.submit}"
            )

    @property
    def n(self) -> int:
        """Slots of work."""
        return len(self.weights)

    @property
    def latest_start(self) -> int:
        """The last slot at which a contiguous run still meets the deadline."""
        return self.deadline - self.n


@dataclass
class SimEnv:
    """What policies may look at: the true series (scored, and read by oracles only) and
    forecasts, computed once per origin and model and cached.

    Attributes:
        actual: The true intensity per slot.
        slots_per_day: Slots in a day.
    """

    actual: FloatArray
    slots_per_day: int = 24
    _rows: dict[tuple[int, int], FloatArray] = field(default_factory=dict, repr=False)
    _oracle: OracleForecaster | None = field(default=None, repr=False)

    @property
    def oracle(self) -> OracleForecaster:
        """A perfect forecast of :attr:`actual` (for the oracle policy only)."""
        if self._oracle is None:
            self._oracle = OracleForecaster(self.actual, slots_per_day=self.slots_per_day)
        return self._oracle

    def observed(self, t: int) -> float:
        """The last value known at slot ``t`` (that of slot ``t - 1``)."""
        return float(self.actual[t - 1])

    def forecast(self, model: Forecaster, origin: int, horizon: int) -> FloatArray:
        """``horizon`` forecast slots from ``origin`` (only data before it, unless an oracle)."""
        key = (id(model), origin)
        row = self._rows.get(key)
        if row is None or row.size < horizon:
            # Ask for a generous horizon once, so later calls for the same origin hit the cache.
            span = max(horizon, 4 * self.slots_per_day)
            span = min(span, max(horizon, self.actual.size - origin))
            row = model.matrix(self.actual, np.array([origin], dtype=np.int64), span)[0]
            self._rows[key] = row
        return row[:horizon]


def realised_cost(job: SimJob, slots: IntArray, actual: FloatArray) -> float:
    """Grams of CO2e (with weights in kWh) of running ``job`` in ``slots`` on the true series."""
    s = np.asarray(slots, dtype=np.int64)
    cost = float(np.dot(job.weights, actual[s]))
    if job.resume_overhead_kwh:
        resumes = [a for a, _ in chunks_of(s)[1:]]
        cost += job.resume_overhead_kwh * float(actual[resumes].sum()) if resumes else 0.0
    return cost


def _contiguous(start: int, n: int) -> IntArray:
    return np.arange(start, start + n, dtype=np.int64)


class SchedulingPolicy(ABC):
    """Decides when a job runs. Subclasses implement :meth:`schedule`.

    Attributes:
        name: Label in results.
    """

    name: str = "policy"

    @abstractmethod
    def schedule(self, job: SimJob, env: SimEnv) -> IntArray:
        """The slots the job runs in (``job.n`` increasing indices within its window)."""


class RunNow(SchedulingPolicy):
    """Start at submission, no pause."""

    name = "run-now"

    def schedule(self, job: SimJob, env: SimEnv) -> IntArray:
        return _contiguous(job.submit, job.n)


class Threshold(SchedulingPolicy):
    """Run when the last observed intensity is at or below a threshold.

    Args:
        quantile: Threshold as this quantile of the trailing ``window_days`` of observations.
        g_per_kwh: A fixed threshold instead (overrides ``quantile``).
        window_days: Days of history behind the quantile.
    """

    def __init__(
        self, *, quantile: float = 0.25, g_per_kwh: float | None = None, window_days: int = 7
    ) -> None:
        if not 0 < quantile < 1:
            raise InvalidValueError(f"quantile must be in (0, 1), got {quantile!r}")
        self.quantile = quantile
        self.g_per_kwh = g_per_kwh
        self.window_days = window_days
        self.name = (
            f"threshold({g_per_kwh:g}g)" if g_per_kwh is not None else f"threshold(q{quantile:g})"
        )

    def threshold(self, env: SimEnv, t: int) -> float:
        """The threshold in force at slot ``t`` (from data before ``t``)."""
        if self.g_per_kwh is not None:
            return self.g_per_kwh
        lo = max(0, t - self.window_days * env.slots_per_day)
        past = env.actual[lo:t]
        return float(np.quantile(past, self.quantile)) if past.size else math.inf

    def schedule(self, job: SimJob, env: SimEnv) -> IntArray:
        if not job.interruptible:
            for t in range(job.submit, job.latest_start):
                if t > 0 and env.observed(t) <= self.threshold(env, t):
                    return _contiguous(t, job.n)
            return _contiguous(job.latest_start, job.n)
        ran: list[int] = []
        for t in range(job.submit, job.deadline):
            left = job.n - len(ran)
            if left == 0:
                break
            forced = job.deadline - t <= left
            if forced or (t > 0 and env.observed(t) <= self.threshold(env, t)):
                ran.append(t)
        return np.asarray(ran, dtype=np.int64)


class ForecastWindow(SchedulingPolicy):
    """Plan once at submission on a forecast: best window, or cheapest slots if interruptible."""

    def __init__(self, model: Forecaster, *, name: str | None = None) -> None:
        self.model = model
        self.name = name or f"window:{model.label}"

    def schedule(self, job: SimJob, env: SimEnv) -> IntArray:
        span = job.deadline - job.submit
        fc = env.forecast(self.model, job.submit, span)
        if job.interruptible:
            idx, _ = best_slots(
                fc,
                job.weights,
                end=span,
                min_chunk=job.min_chunk,
                resume_overhead_kwh=job.resume_overhead_kwh,
            )
            return idx + job.submit
        k, _ = best_window(fc, job.weights, latest_start=job.latest_start - job.submit)
        return _contiguous(job.submit + k, job.n)


class OraclePolicy(SchedulingPolicy):
    """Perfect foresight: plans once on the true future (backtests only)."""

    name = "oracle"

    def schedule(self, job: SimJob, env: SimEnv) -> IntArray:
        return ForecastWindow(env.oracle).schedule(job, env)


class RollingReplan(SchedulingPolicy):
    """Re-plan at every slot on the newest forecast and act on the plan's first slot.

    Non-interruptible jobs start at the first slot where the fresh plan says "now" (at the latest
    start at the latest). Interruptible jobs run each slot that the fresh plan for the remaining
    work includes; a started chunk always runs ``min_chunk`` slots before it may pause (a last
    chunk may be shorter when less work than that is left).
    """

    def __init__(self, model: Forecaster, *, name: str | None = None) -> None:
        self.model = model
        self.name = name or f"rolling:{model.label}"

    def schedule(self, job: SimJob, env: SimEnv) -> IntArray:
        if not job.interruptible:
            for t in range(job.submit, job.latest_start):
                fc = env.forecast(self.model, t, job.deadline - t)
                k, _ = best_window(fc, job.weights, latest_start=job.latest_start - t)
                if k == 0:
                    return _contiguous(t, job.n)
            return _contiguous(job.latest_start, job.n)
        ran: list[int] = []
        run_len = 0  # length of the chunk running at the end of the previous slot
        for t in range(job.submit, job.deadline):
            done = len(ran)
            if done == job.n:
                break
            left_w = job.weights[done:]
            span = job.deadline - t
            chunk = min(job.min_chunk, job.n)
            if 0 < run_len < chunk:
                run_now = True  # a started chunk runs its minimum length
            elif span <= left_w.size:
                run_now = True  # no slack left
            else:
                fc = env.forecast(self.model, t, span)
                idx, _ = best_slots(
                    fc,
                    left_w,
                    end=span,
                    min_chunk=1 if run_len > 0 else min(chunk, left_w.size),
                    resume_overhead_kwh=job.resume_overhead_kwh,
                    paused=done > 0 and run_len == 0,
                )
                run_now = bool(idx[0] == 0)
            if run_now:
                ran.append(t)
                run_len += 1
            else:
                run_len = 0
        return np.asarray(ran, dtype=np.int64)
