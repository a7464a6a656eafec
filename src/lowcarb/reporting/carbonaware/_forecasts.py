"""Forecasts for the SDK's forecast endpoints: lowcarb's forecasting stack and its planner.

The forecast is the source's (a trace's forecaster from :func:`lowcarb.grid.make_forecaster`, the
embedded profile, or a live provider), issued at the start of the hour holding the requested time
as :func:`lowcarb.scheduling.zone_forecast` issues it, so only data from before that hour is used
(a batch item's ``requestedAt`` is a faithful backtest). It covers
:attr:`CarbonAwareLimits.forecast_horizon_h` hourly points, or up to ``dataEndAt`` when that is
later (at most :data:`lowcarb.grid.MAX_HORIZON_H`, a week).

Then, as the SDK's ``ForecastHandler.ProcessAndValidateForecast``: ``dataStartAt`` and
``dataEndAt`` default to the forecast's bounds and must lie within them (400 otherwise, keyed by
the parameter); without ``windowSize`` the points overlapping the range are returned; with it,
one ``windowSize``-long mean per candidate start. The optimal window is not a minimum taken
here: it is the plan of :func:`lowcarb.scheduling.plan_job` for a job of ``windowSize`` minutes
(one hour without it) that must finish by ``dataEndAt``, starting no earlier than
``dataStartAt``.

Two differences from the SDK, both from using the planner: candidate starts are ``dataStartAt``
and then every whole hour (the SDK steps by one data point from ``dataStartAt``), and a start
inside an hour is costed as that whole hour; on a tie the planner keeps the earliest window where
the SDK lists every tied one. With hour-aligned bounds (the defaults) the windows are the SDK's.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from lowcarb.grid import MAX_HORIZON_H, IntensitySource, floor_hour
from lowcarb.reporting.carbonaware._errors import SdkProblemError, about
from lowcarb.reporting.carbonaware._models import EmissionsDataDTO, EmissionsForecastDTO
from lowcarb.reporting.carbonaware._params import ForecastQuery
from lowcarb.reporting.carbonaware._provenance import Provenance
from lowcarb.reporting.carbonaware._times import format_time
from lowcarb.scheduling import JobSpec, ZoneForecast, plan_job, window_costs, work_weights

__all__ = ["forecast"]

_HOUR = timedelta(hours=1)


def _bounds(fc: ZoneForecast, query: ForecastQuery, keys: tuple[str, str]) -> tuple[datetime, ...]:
    first, last = fc.start, fc.end
    start = query.data_start_at or first
    end = query.data_end_at or last
    errors: dict[str, list[str]] = {}
    span = f"{format_time(first)} through {format_time(last)}"
    if start >= end:
        errors.setdefault(keys[0], []).append(f"{keys[0]} must be earlier than {keys[1]}")
    for key, when in zip(keys, (start, end), strict=True):
        if not first <= when <= last:
            errors.setdefault(key, []).append(
                f"{key} {format_time(when)} must be within the forecast, {span}"
            )
    if errors:
        detail = "; ".join(m for ms in errors.values() for m in ms)
        fix = "give times inside the forecast, or leave them out for all of it"
        raise SdkProblemError(400, f"{detail}; {fix}", errors=errors)
    return start, end


def _point(zone: str, when: datetime, minutes: int, value: float) -> EmissionsDataDTO:
    return EmissionsDataDTO(
        location=zone, timestamp=format_time(when), duration=minutes, value=float(value)
    )


def forecast(
    source: IntensitySource,
    query: ForecastQuery,
    *,
    now: datetime,
    horizon_h: int,
    prov: Provenance,
    key_prefix: str = "",
) -> EmissionsForecastDTO:
    """The SDK's forecast object for one location, with the planner's optimal window.

    Args:
        source: Where forecasts come from.
        query: The location, bounds and window.
        now: The server's clock (the requested time when ``query.requested_at`` is None).
        horizon_h: Hours of forecast from the hour holding the requested time (more, up to
            :data:`lowcarb.grid.MAX_HORIZON_H`, when ``dataEndAt`` is later).
        prov: Collects the provenance.
        key_prefix: Prefix of the parameter names in errors (``$[0].`` for batch items).

    Raises:
        SdkProblemError: A bound outside the forecast, a source that cannot forecast this location
            at that time (e.g. a trace that ends long before it).
    """
    loc = query.location
    requested = query.requested_at or now
    issued = floor_hour(requested)
    if query.data_end_at is not None and query.data_end_at > issued + horizon_h * _HOUR:
        wanted = math.ceil((query.data_end_at - issued) / _HOUR)
        horizon_h = min(MAX_HORIZON_H, wanted)
    with about(f"{key_prefix}location"):
        series = source.forecast(loc.zone_id, now=issued, horizon_h=horizon_h)
    if not len(series):
        raise SdkProblemError.bad(
            f"{key_prefix}location",
            f"the data source has no forecast for {loc.name} at "
            f"{format_time(requested)}; ask for another time or location",
        )
    prov.series(series)
    for note in series.notes:  # e.g. which trace and how many hours of history fed the model
        prov.note(note)
    fc = ZoneForecast(
        zone=series.zone,
        start=series.start,
        step_s=3600,
        values_g_per_kwh=series.values_g_per_kwh,
        model=series.source,
        issued_at=issued,
    )
    keys = (f"{key_prefix}dataStartAt", f"{key_prefix}dataEndAt")
    start, end = _bounds(fc, query, keys)
    values = np.asarray(fc.values_g_per_kwh, dtype=float)
    times = [fc.start + i * _HOUR for i in range(values.size)]
    window_min = query.window_min or 0
    duration = timedelta(minutes=window_min) if window_min else min(_HOUR, end - start)
    data: list[EmissionsDataDTO] = []
    optimal: list[EmissionsDataDTO] = []
    if window_min == 0:
        data = [
            _point(fc.zone, t, 60, v)
            for t, v in zip(times, values, strict=True)
            if t + _HOUR > start and t <= end
        ]
    if duration <= end - start:
        job = JobSpec(duration_h=duration / _HOUR, deadline=end)
        plan = plan_job(job, fc, now=start)
        if window_min == 0:
            held = floor_hour(plan.start)  # a start inside an hour is costed as that hour
            optimal = [p for p in data if p.timestamp == format_time(held)]
        else:
            data = _rolling(fc, start, end, duration, window_min)
            optimal = [_point(fc.zone, plan.start, window_min, plan.expected_intensity_g_per_kwh)]
    return EmissionsForecastDTO(
        generatedAt=format_time(fc.start),
        requestedAt=format_time(requested),
        location=loc.name,
        dataStartAt=format_time(start),
        dataEndAt=format_time(end),
        windowSize=window_min,
        optimalDataPoints=optimal,
        forecastData=data,
    )


def _rolling(
    fc: ZoneForecast, start: datetime, end: datetime, duration: timedelta, window_min: int
) -> list[EmissionsDataDTO]:
    """The mean of every window the planner considers: from ``start``, then each whole hour."""
    i0 = math.floor((start - fc.start) / _HOUR)
    grid0 = fc.start + i0 * _HOUR
    latest = end - duration
    k_max = max(0, math.floor((latest - grid0) / _HOUR)) if latest > start else 0
    weights = work_weights(duration / _HOUR)
    costs = window_costs(np.asarray(fc.values_g_per_kwh[i0:], dtype=float), weights)
    means = costs[: k_max + 1] / float(weights.sum())
    return [
        _point(fc.zone, start if k == 0 else grid0 + k * _HOUR, window_min, float(m))
        for k, m in enumerate(means)
    ]
