"""Backtests: simulate policies over true intensity series and score what they save.

A backtest submits jobs over a series (one every slot, or a list of submissions), lets each
policy place them, prices the placements on the *true* series, and reports per policy: total
emissions, saving versus running at once, the share of the oracle's saving captured, missed
deadlines and mean wait. Identical jobs take a vectorised path (:mod:`._batch`); anything else is
simulated job by job (:mod:`._policies`); both give the same placements.

Emissions are grams of CO2e for the jobs' energy (kWh weights; 1 kW nominal when no power is
given, which leaves every ratio unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lowcarb.errors import InvalidValueError
from lowcarb.scheduling._batch import schedule_batch
from lowcarb.scheduling._policies import (
    ForecastWindow,
    OraclePolicy,
    RollingReplan,
    SchedulingPolicy,
    SimEnv,
    SimJob,
    Threshold,
    realised_cost,
)
from lowcarb.scheduling._types import JobSpec
from lowcarb.scheduling._window import work_weights

__all__ = [
    "PolicyResult",
    "Workload",
    "ZoneBacktest",
    "backtest_jobs",
    "backtest_workload",
    "history_needed",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Workload:
    """Identical jobs, one per submission: a :class:`JobSpec` whose deadline is relative.

    A backtest submits the same job at many times; its deadline is ``slack_h`` after each
    submission's duration instead of a fixed time. :meth:`job` gives the :class:`JobSpec` of the
    submission at a given time (same duration, interruptibility, chunking, overhead and power).

    Attributes:
        duration_h: Job length, hours.
        slack_h: Extra time allowed beyond the duration (deadline = submit + duration + slack).
        interruptible: Whether jobs may pause.
        min_chunk_h: Shortest chunk for interruptible jobs, hours.
        pause_overhead_h: Extra run time per resume, hours.
        power_w: Constant power or a curve (W); None: nominal 1 kW.
    """

    duration_h: float
    slack_h: float
    interruptible: bool = False
    min_chunk_h: float = 1.0
    pause_overhead_h: float = 0.0
    power_w: float | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_h) and self.duration_h > 0):
            raise InvalidValueError(f"duration must be > 0 hours, got {self.duration_h!r}")
        if not (math.isfinite(self.slack_h) and self.slack_h >= 0):
            raise InvalidValueError(f"slack must be >= 0 hours, got {self.slack_h!r}")

    def job(self, submit: datetime) -> JobSpec:
        """The concrete job submitted at ``submit`` (timezone-aware)."""
        return JobSpec(
            duration_h=self.duration_h,
            deadline=submit + timedelta(hours=self.duration_h + self.slack_h),
            interruptible=self.interruptible,
            min_chunk_h=self.min_chunk_h,
            pause_overhead_h=self.pause_overhead_h,
            power_w=self.power_w,
        )

    @property
    def label(self) -> str:
        """Short description, e.g. ``8h+24h slack, interruptible``."""
        text = f"{self.duration_h:g}h job, deadline {self.duration_h + self.slack_h:g}h"
        return text + (", interruptible" if self.interruptible else "")

    def slots(self, step_h: float) -> tuple[FloatArray, int, int, float]:
        """(weights, slack slots, min chunk slots, resume overhead kWh) on a grid of ``step_h``."""
        power = self.power_w
        kw: float | tuple[float, ...] | None
        if power is None:
            kw = None
        elif isinstance(power, tuple):
            kw = tuple(p / 1000 for p in power)
        else:
            kw = power / 1000
        weights = work_weights(self.duration_h / step_h, power_kw=kw, step_h=step_h)
        total_slots = math.floor((self.duration_h + self.slack_h) / step_h + 1e-9)
        slack = max(0, total_slots - len(weights))
        chunk = max(1, math.ceil(self.min_chunk_h / step_h - 1e-9))
        mean_kw = float(weights.sum() / (self.duration_h)) if self.duration_h else 1.0
        return weights, slack, chunk, self.pause_overhead_h * mean_kw


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy's outcome in one zone.

    Attributes:
        policy: Policy name.
        jobs: Jobs simulated.
        emissions_g: Total realised emissions, grams.
        missed_deadlines: Jobs whose work did not end by their deadline.
        mean_wait_h: Mean time from submission to first start, hours.
        savings_pct: Saving versus run-now, percent (None if run-now was not simulated).
        captured_pct: Share of the oracle's saving this policy captured, percent (None when the
            oracle was not simulated or saves nothing, e.g. on a constant series).
    """

    policy: str
    jobs: int
    emissions_g: float
    missed_deadlines: int
    mean_wait_h: float
    savings_pct: float | None = None
    captured_pct: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "policy": self.policy,
            "jobs": self.jobs,
            "emissions_g": self.emissions_g,
            "savings_pct": self.savings_pct,
            "captured_pct": self.captured_pct,
            "missed_deadlines": self.missed_deadlines,
            "mean_wait_h": self.mean_wait_h,
        }


@dataclass(frozen=True, slots=True)
class ZoneBacktest:
    """All policies' outcomes in one zone."""

    zone: str
    workload: str
    results: tuple[PolicyResult, ...]

    def result(self, policy: str) -> PolicyResult:
        """The result of the named policy.

        Raises:
            KeyError: No such policy.
        """
        for r in self.results:
            if r.policy == policy:
                return r
        raise KeyError(policy)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "zone": self.zone,
            "workload": self.workload,
            "policies": [r.to_dict() for r in self.results],
        }


def _score(zone: str, label: str, raw: list[tuple[str, int, float, int, float]]) -> ZoneBacktest:
    by_name = {name: emissions for name, _, emissions, _, _ in raw}
    base = by_name.get("run-now")
    best = by_name.get("oracle")
    results = []
    for name, jobs, emissions, missed, wait in raw:
        savings = 100.0 * (1 - emissions / base) if base else None
        captured = None
        if base is not None and best is not None and base - best > 1e-9 * max(base, 1.0):
            captured = 100.0 * (base - emissions) / (base - best)
        results.append(PolicyResult(name, jobs, emissions, missed, wait, savings, captured))
    return ZoneBacktest(zone=zone, workload=label, results=tuple(results))


def history_needed(policies: Sequence[SchedulingPolicy], slots_per_day: int) -> int:
    """Slots of history the policies need before their first decision."""
    need = 1
    for p in policies:
        if isinstance(p, ForecastWindow | RollingReplan) and not isinstance(p, OraclePolicy):
            need = max(need, p.model.min_history)
        if isinstance(p, Threshold) and p.g_per_kwh is None:
            need = max(need, p.window_days * slots_per_day)
    return need


def backtest_workload(
    values: FloatArray,
    policies: Sequence[SchedulingPolicy],
    workload: Workload,
    *,
    zone: str = "",
    step_h: float = 1.0,
    submits: IntArray | None = None,
    vectorised: bool = True,
) -> ZoneBacktest:
    """Backtest identical jobs submitted at ``submits`` (default: every slot that has enough
    history before it and whose whole window lies inside the series).

    Args:
        values: True intensity per slot, gCO2e/kWh.
        policies: Policies to compare (include ``RunNow`` and ``OraclePolicy`` for savings and
            captured shares).
        workload: The jobs.
        zone: Label.
        step_h: Slot length, hours.
        submits: Submission slots.
        vectorised: Use the vectorised path where it exists (False: job by job, for checks).
    """
    x = np.asarray(values, dtype=float)
    per_day = round(24 / step_h)
    weights, slack, chunk, overhead = workload.slots(step_h)
    span = len(weights) + slack
    if submits is None:
        first = history_needed(policies, per_day)
        submits = np.arange(first, x.size - span + 1, dtype=np.int64)
    s = np.asarray(submits, dtype=np.int64)
    if s.size == 0:
        raise InvalidValueError(
            f"no submission fits: the series has {x.size} slots, a job window needs {span} "
            "plus the policies' history"
        )
    if s.min() < 0 or s.max() + span > x.size:
        raise InvalidValueError("submissions must leave the whole job window inside the series")
    env = SimEnv(actual=x, slots_per_day=per_day)
    raw = []
    for policy in policies:
        slots = None
        if vectorised:
            slots = schedule_batch(
                policy,
                env,
                s,
                weights,
                slack,
                interruptible=workload.interruptible,
                min_chunk=chunk,
                resume_overhead_kwh=overhead,
            )
        if slots is not None:
            costs = (x[slots] * weights[None, :]).sum(axis=1)
            missed = int(((slots < 0) | (slots >= (s + span)[:, None])).any(axis=1).sum())
            wait = float((slots[:, 0] - s).mean() * step_h)
            raw.append((policy.name, int(s.size), float(costs.sum()), missed, wait))
            continue
        jobs = [
            SimJob(int(t), weights, int(t) + span, workload.interruptible, chunk, overhead)
            for t in s
        ]
        raw.append((policy.name, *_simulate(policy, env, jobs, step_h)))
    return _score(zone, workload.label, raw)


def _simulate(
    policy: SchedulingPolicy, env: SimEnv, jobs: Sequence[SimJob], step_h: float
) -> tuple[int, float, int, float]:
    total = 0.0
    missed = 0
    waits = 0.0
    for job in jobs:
        slots = policy.schedule(job, env)
        if (
            slots.size != job.n
            or slots.min() < job.submit
            or slots.max() >= job.deadline
            or np.any(np.diff(slots) <= 0)
        ):
            missed += 1
        if slots.size:
            total += realised_cost(job, slots, env.actual)
            waits += (int(slots[0]) - job.submit) * step_h
    return len(jobs), total, missed, waits / max(1, len(jobs))


def backtest_jobs(
    values: FloatArray,
    policies: Sequence[SchedulingPolicy],
    jobs: Sequence[SimJob],
    *,
    zone: str = "",
    label: str = "workload",
    step_h: float = 1.0,
) -> ZoneBacktest:
    """Backtest an explicit list of jobs (any mix of sizes and deadlines), job by job."""
    x = np.asarray(values, dtype=float)
    env = SimEnv(actual=x, slots_per_day=round(24 / step_h))
    for job in jobs:
        if job.submit < 0 or job.deadline > x.size:
            raise InvalidValueError(
                f"job submitted at slot {job.submit} with deadline slot {job.deadline} does not "
                f"fit in the series of {x.size} slots"
            )
    raw = [(p.name, *_simulate(p, env, jobs, step_h)) for p in policies]
    return _score(zone, label, raw)
