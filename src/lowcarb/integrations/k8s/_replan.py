"""Re-planning a suspended Job when a fresher forecast moves its window.

A plan is re-made only with a forecast issued in a later hour than the one it used (forecasts
are issued on the hour, :func:`lowcarb.scheduling.zone_forecast`). The planner's new best window
is taken only if it is better *under the same fresh forecast* than the window already planned,
by at least ``min_gain_pct``: comparing the new forecast with the old one would move Jobs for
forecast noise. The planner never ends a window after the deadline, and this module checks it
again before answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lowcarb.grid import IntensitySource, floor_hour
from lowcarb.integrations.k8s._batch import JobPlan, utc_text
from lowcarb.scheduling import JobSpec, ZoneForecast, plan_job, zone_forecast

__all__ = ["Replan", "fresher_forecast_exists", "replan", "window_mean"]


@dataclass(frozen=True, slots=True)
class Replan:
    """A planned start moved.

    Attributes:
        old: The plan the Job carried.
        new: The plan it carries now.
        old_window_g_per_kwh: The old window's mean intensity under the fresh forecast.
        at: When it was re-planned.
    """

    old: JobPlan
    new: JobPlan
    old_window_g_per_kwh: float
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """``{from, to, at}``: the ledger record's and the annotation's form."""
        return {
            "from": {**self.old.to_dict(), "fresh_intensity_g_per_kwh": self.old_window_g_per_kwh},
            "to": self.new.to_dict(),
            "at": utc_text(self.at),
        }


def window_mean(fc: ZoneForecast, start: datetime, duration: timedelta) -> float | None:
    """Mean forecast intensity over ``[start, start + duration)``, weighted by the overlap with
    each slot; None when the forecast does not cover the window."""
    end = start + duration
    if start < fc.start or end > fc.end or duration <= timedelta(0):
        return None
    total = weight = 0.0
    for i, value in enumerate(fc.values_g_per_kwh):
        a = fc.start + i * fc.step
        overlap = (min(a + fc.step, end) - max(a, start)).total_seconds()
        if overlap > 0:
            total += float(value) * overlap
            weight += overlap
    return total / weight if weight > 0 else None


def fresher_forecast_exists(plan: JobPlan, now: datetime) -> bool:
    """Whether a forecast issued after the plan's exists at ``now`` (a later hour)."""
    return floor_hour(now) > floor_hour(plan.planned_at)


def replan(
    plan: JobPlan, source: IntensitySource, *, now: datetime, min_gain_pct: float
) -> Replan | None:
    """The better plan a fresh forecast gives, or None to keep ``plan``.

    Raises:
        LowcarbError: The source could not forecast (the caller keeps the plan).
    """
    if now + plan.duration > plan.deadline or plan.planned_start <= now:
        return None  # no room left to move, or already due
    spec = JobSpec(duration_h=plan.duration_s / 3600.0, deadline=plan.deadline)
    fc = zone_forecast(source, plan.zone, now=now, until=plan.deadline)
    fresh = JobPlan.from_plan(plan_job(spec, fc, now=now))
    current = window_mean(fc, plan.planned_start, plan.duration)
    expected = fresh.expected_intensity_g_per_kwh
    if (
        current is None
        or expected is None
        or abs((fresh.planned_start - plan.planned_start).total_seconds()) < 1
        or expected > current * (1.0 - min_gain_pct / 100.0)
        or fresh.planned_start + fresh.duration > plan.deadline  # never past the deadline
    ):
        return None
    return Replan(old=plan, new=fresh, old_window_g_per_kwh=round(current, 3), at=now)
