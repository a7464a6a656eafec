"""Plans over forecasts: when (and where) a job should run, with a hard deadline.

:func:`plan_job` places one job over one zone's forecast (a contiguous window, or the cheapest
slots of an interruptible job); :func:`plan_spatial` does so in every candidate zone and picks the
cheapest after per-zone penalties. :func:`fallback_plan` is the labelled plan used when no
forecast can be had: start at once, or at the latest start that still meets the deadline.

Time grid: candidate starts are ``now`` and every slot boundary after it. Slot ``k`` of the plan
is the forecast slot containing ``now`` plus ``k``; a start "now" inside a slot is costed as if it
covered that whole slot (the error is at most one slot's share of the job).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

import numpy as np

from lowcarb.errors import ForecastError, InvalidValueError, UsageError
from lowcarb.scheduling._types import JobSpec, Plan, Slot, ZoneForecast, ZoneOption, isoformat_utc
from lowcarb.scheduling._window import (
    best_slots,
    best_window,
    chunks_of,
    window_costs,
    work_weights,
)
from lowcarb.units import MAX_DURATION, parse_duration_h, parse_timestamp

__all__ = [
    "FallbackMode",
    "build_job_spec",
    "check_feasible",
    "fallback_plan",
    "plan_job",
    "plan_spatial",
]

FallbackMode = Literal["start-now", "latest-start"]
_FALLBACK_WHAT = {"start-now": "starting at once", "latest-start": "starting at the latest start"}


def build_job_spec(
    *,
    duration: str,
    deadline: str,
    now: datetime,
    interruptible: bool = False,
    min_chunk: str = "1h",
    pause_overhead: str = "0",
    power_w: float | tuple[float, ...] | None = None,
) -> JobSpec:
    """The job described by text values (as given to ``lowcarb plan`` or ``lowcarb submit``).

    The one builder of a :class:`JobSpec` from user input: durations and times are parsed by
    :mod:`lowcarb.units` (errors name the flag), and the deadline is checked against ``now`` by
    :func:`check_feasible`.

    Args:
        duration: Run time (``90m``, ``2h``, ``1d`` or hours).
        deadline: An ISO 8601 time, or a duration after ``now``.
        now: The time relative deadlines count from (timezone-aware).
        interruptible: Whether the job may be paused and resumed.
        min_chunk: Shortest run between pauses.
        pause_overhead: Extra run time per resume (``0`` for none).
        power_w: Watts, a curve of watts, or None (unknown).

    Raises:
        InvalidValueError: A value that does not parse, or a deadline that leaves no room.
    """
    overhead = 0.0
    if pause_overhead.strip() not in {"0", "0h", "0m", "0s"}:
        overhead = parse_duration_h(pause_overhead, what="--pause-overhead")
    spec = JobSpec(
        duration_h=parse_duration_h(duration, what="--duration"),
        deadline=parse_timestamp(deadline, now=now, what="--deadline"),
        interruptible=interruptible,
        min_chunk_h=parse_duration_h(min_chunk, what="--min-chunk"),
        pause_overhead_h=overhead,
        power_w=power_w,
    )
    check_feasible(spec, now)
    return spec


def check_feasible(job: JobSpec, now: datetime) -> None:
    """Reject a deadline in the past or too close to finish the job.

    Raises:
        InvalidValueError: The deadline is not after ``now + duration``.
    """
    if now.tzinfo is None:
        raise InvalidValueError(f"now must be timezone-aware, got {now.isoformat()!r}")
    if job.deadline <= now:
        raise InvalidValueError(
            f"deadline {isoformat_utc(job.deadline)} is not after now ({isoformat_utc(now)}); "
            "give a later --deadline"
        )
    if job.deadline - now > MAX_DURATION:
        # The planning window is bounded: a far-future deadline once made the planner allocate
        # gigabytes for its hourly slots.
        raise InvalidValueError(
            f"deadline {isoformat_utc(job.deadline)} is more than {MAX_DURATION.days} days after "
            f"now ({isoformat_utc(now)}); plans look at most {MAX_DURATION.days} days ahead: give "
            "an earlier --deadline"
        )
    if job.deadline - now < job.duration:
        avail = (job.deadline - now).total_seconds() / 3600
        raise InvalidValueError(
            f"deadline {isoformat_utc(job.deadline)} leaves {avail:.2f} h but the job takes "
            f"{job.duration_h:g} h; give a later --deadline or a shorter --duration"
        )


def _extended(forecast: ZoneForecast, i0: int, need: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Values from slot ``i0`` covering ``need`` slots; past the horizon, the last day repeats."""
    values = forecast.values_g_per_kwh[i0:]
    if values.size >= need:
        return values[:need], ()
    per_day = max(1, round(86400 / forecast.step_s))
    tail = forecast.values_g_per_kwh[-min(per_day, forecast.values_g_per_kwh.size) :]
    reps = math.ceil((need - values.size) / tail.size)
    filler = np.tile(tail, reps)[: need - values.size]
    note = (
        f"forecast ends {isoformat_utc(forecast.end)}; its last day was repeated to reach the "
        "deadline"
    )
    return np.concatenate([values, filler]), (note,)


def plan_job(
    job: JobSpec,
    forecast: ZoneForecast,
    *,
    now: datetime,
    baseline: ZoneForecast | None = None,
) -> Plan:
    """The plan with the lowest forecast emissions that finishes by the deadline.

    Args:
        job: The job.
        forecast: Expected intensity of the zone; must contain the slot holding ``now``.
        now: The decision time (timezone-aware).
        baseline: Forecast of the zone the ``now_*`` figures refer to (default: this one).

    Raises:
        InvalidValueError: Infeasible deadline or bad job.
        ForecastError: The forecast does not contain ``now``.
    """
    check_feasible(job, now)
    step = forecast.step
    step_h = forecast.step_s / 3600.0
    i0 = math.floor((now - forecast.start) / step)
    if not 0 <= i0 < len(forecast.values_g_per_kwh):
        raise ForecastError(
            f"the forecast for {forecast.zone!r} covers {isoformat_utc(forecast.start)} to "
            f"{isoformat_utc(forecast.end)}, not now ({isoformat_utc(now)})"
        )
    grid0 = forecast.start + i0 * step  # start of the slot holding now

    def slot_time(k: int) -> datetime:
        return now if k == 0 else grid0 + k * step

    latest_start = job.deadline - job.duration
    k_max = max(0, math.floor((latest_start - grid0) / step)) if latest_start > now else 0
    end_k = math.floor((job.deadline - grid0) / step)  # slots [0, end_k) end by the deadline
    weights = work_weights(job.duration_h / step_h, power_kw=job.power_kw, step_h=step_h)
    n = weights.size
    values, notes = _extended(forecast, i0, max(k_max + n, end_k))
    energy_kwh = float(weights.sum())
    base_cost = _run_now_cost(baseline or forecast, now, weights)

    def finish(slots: list[Slot], cost: float, fallback_value: float) -> Plan:
        expected = cost / energy_kwh if energy_kwh > 0 else fallback_value
        now_value = base_cost / energy_kwh if energy_kwh > 0 else expected
        return Plan(
            zone=forecast.zone,
            start=slots[0].start,
            end=slots[-1].end,
            slots=tuple(slots),
            interruptible=job.interruptible,
            expected_intensity_g_per_kwh=float(expected),
            now_intensity_g_per_kwh=float(now_value),
            expected_co2e_g=float(cost) if job.power_w is not None else None,
            now_co2e_g=float(base_cost) if job.power_w is not None else None,
            latest_start=max(latest_start, now),
            deadline=job.deadline,
            issued_at=now,
            forecast_model=forecast.model,
            baseline_zone=(baseline or forecast).zone,
            notes=(*forecast.notes, *notes),
        )

    start_k, window_cost = best_window(values, weights, latest_start=k_max)
    start = slot_time(start_k)
    contiguous = [Slot(start, start + job.duration)]
    if job.interruptible and n > 1:
        # Usable slots end by the deadline; a slot already partly gone at `now` is skipped
        # (a contiguous start now can still use it, and wins if it is cheaper).
        first = 0 if now == grid0 else 1
        usable = end_k - first
        if usable >= n:
            chunk = max(1, math.ceil(job.min_chunk_h / step_h - 1e-9))
            idx, cost = best_slots(
                values[first:end_k],
                weights,
                end=usable,
                min_chunk=chunk,
                resume_overhead_kwh=job.pause_overhead_h * job.mean_power_kw,
            )
            if cost < window_cost - 1e-9 * abs(window_cost):
                idx = idx + first
                slots = [Slot(slot_time(a), grid0 + b * step) for a, b in chunks_of(idx)]
                frac = job.duration_h / step_h - (n - 1)
                if frac < 1 - 1e-9:  # the last slot of work is only partly used
                    slots[-1] = Slot(slots[-1].start, slots[-1].end - step + frac * step)
                return finish(slots, cost, float(np.mean(values[idx])))
        else:
            notes = (*notes, "too few whole slots before the deadline to pause: runs in one go")
    return finish(contiguous, window_cost, float(values[start_k]))


def _run_now_cost(fc: ZoneForecast, now: datetime, weights: np.ndarray) -> float:
    i0 = math.floor((now - fc.start) / fc.step)
    if not 0 <= i0 < len(fc.values_g_per_kwh):
        raise ForecastError(
            f"the forecast for {fc.zone!r} does not cover now ({isoformat_utc(now)})"
        )
    values, _ = _extended(fc, i0, weights.size)
    return float(window_costs(values, weights)[0])


def plan_spatial(
    job: JobSpec,
    forecasts: Sequence[ZoneForecast],
    *,
    now: datetime,
    penalties_co2e_g: Mapping[str, float] | None = None,
    allowed_zones: Sequence[str] | None = None,
) -> Plan:
    """The best plan over several candidate zones.

    Each zone's best temporal plan is scored by its forecast emissions plus the zone's penalty
    (e.g. the CO2e of moving the data there); the lowest score wins (ties: earlier in the list).
    The ``now_*`` figures refer to starting at once in the first zone (the home zone).

    Args:
        job: The job.
        forecasts: One forecast per candidate zone; the first is the baseline.
        now: The decision time.
        penalties_co2e_g: Extra grams per zone (needs a job power, to weigh grams with grams).
        allowed_zones: If given, only these zones may be chosen.

    Raises:
        UsageError: No candidate, penalties without a job power, no allowed zone.
    """
    if not forecasts:
        raise UsageError("give at least one candidate zone")
    penalties = dict(penalties_co2e_g or {})
    if any(v != 0 for v in penalties.values()) and job.power_w is None:
        raise UsageError(
            "zone penalties are in grams of CO2e; give the job's power (--power-w) so that they "
            "can be weighed against its emissions"
        )
    unknown = sorted(set(penalties) - {f.zone for f in forecasts})
    if unknown:
        raise UsageError(f"penalty for {unknown[0]!r}, which is not a candidate zone")
    candidates = list(forecasts)
    if allowed_zones is not None:
        allowed = set(allowed_zones)
        candidates = [f for f in forecasts if f.zone in allowed]
        if not candidates:
            raise UsageError(
                f"none of the candidate zones {[f.zone for f in forecasts]!r} is in the allowed "
                f"list {sorted(allowed)!r}"
            )
    home = forecasts[0]
    plans = [plan_job(job, f, now=now, baseline=home) for f in candidates]
    options = []
    for p in plans:
        penalty = float(penalties.get(p.zone, 0.0))
        energy = job.mean_power_kw * job.duration_h
        score = p.expected_intensity_g_per_kwh * energy + penalty
        options.append(
            ZoneOption(
                zone=p.zone,
                start=p.start,
                expected_intensity_g_per_kwh=p.expected_intensity_g_per_kwh,
                penalty_co2e_g=penalty,
                score=score,
            )
        )
    best = min(range(len(plans)), key=lambda i: options[i].score)
    chosen = plans[best]
    if len(plans) == 1:
        return chosen
    return replace(chosen, options=tuple(options))


def fallback_plan(
    job: JobSpec,
    *,
    zone: str,
    now: datetime,
    reason: str,
    mode: FallbackMode = "start-now",
    now_intensity_g_per_kwh: float = float("nan"),
) -> Plan:
    """A plan made without a forecast, labelled with why: start now, or at the latest start.

    Both meet the deadline (a non-interruptible run of ``duration`` from the chosen start).

    Raises:
        InvalidValueError: Infeasible deadline.
    """
    check_feasible(job, now)
    latest = job.deadline - job.duration
    start = now if mode == "start-now" else max(now, latest)
    end = start + job.duration
    value = now_intensity_g_per_kwh
    return Plan(
        zone=zone,
        start=start,
        end=end,
        slots=(Slot(start, end),),
        interruptible=False,
        expected_intensity_g_per_kwh=value,
        now_intensity_g_per_kwh=value,
        expected_co2e_g=None,
        now_co2e_g=None,
        latest_start=max(latest, now),
        deadline=job.deadline,
        issued_at=now,
        forecast_model="none",
        baseline_zone=zone,
        fallback=f"{reason}; {_FALLBACK_WHAT[mode]}",
    )
