"""Plans from an intensity source: fetch each zone's forecast, plan, and fall back when it fails.

This is what ``lowcarb plan`` and the job worker call. A zone whose forecast fails is left out
(with a note); when every zone fails, the plan is a labelled fallback that still meets the
deadline: start at once (the default) or at the latest feasible start.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from lowcarb.errors import InvalidValueError, LowcarbError, UnknownNameError, UsageError
from lowcarb.grid import (
    MAX_HORIZON_H,
    Intensity,
    IntensitySeries,
    IntensitySource,
    profile_series,
    static_intensity,
)
from lowcarb.scheduling._planner import FallbackMode, check_feasible, fallback_plan, plan_spatial
from lowcarb.scheduling._types import JobSpec, Plan, ZoneForecast

__all__ = [
    "OnForecastError",
    "ProfileSource",
    "ZoneSources",
    "plan_from_source",
    "zone_forecast",
]

OnForecastError = FallbackMode | Literal["raise"]

log = logging.getLogger(__name__)
_HOUR = timedelta(hours=1)


def zone_forecast(
    source: IntensitySource, zone: str, *, now: datetime, until: datetime
) -> ZoneForecast:
    """The forecast a plan at ``now`` needs, from the hour holding ``now`` to ``until``.

    The source is asked for a forecast issued at the start of the hour holding ``now``, so only
    hours that ended by then are used: no value covering any time at or after ``now``. Plans past
    the longest forecast horizon (:data:`lowcarb.grid.MAX_HORIZON_H`) repeat its last day.

    Raises:
        LowcarbError: Whatever the source raises (unknown zone, provider or forecast failure).
    """
    if now.tzinfo is None:
        raise InvalidValueError(f"now must be timezone-aware, got {now.isoformat()!r}")
    cut = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = max(1, math.ceil((until - cut) / _HOUR))
    notes: tuple[str, ...] = ()
    if hours > MAX_HORIZON_H:
        notes = (f"forecast horizon capped at {MAX_HORIZON_H} h",)
        hours = MAX_HORIZON_H
    series = source.forecast(zone, now=cut, horizon_h=hours)
    if not len(series):
        raise InvalidValueError(f"the {source.name} source returned an empty forecast for {zone!r}")
    return ZoneForecast(
        zone=series.zone,
        start=series.start,
        step_s=3600,
        values_g_per_kwh=series.values_g_per_kwh,
        model=series.source,
        issued_at=now,
        notes=(*notes, *series.notes),
    )


def plan_from_source(
    job: JobSpec,
    zones: Sequence[str],
    source: IntensitySource,
    *,
    now: datetime,
    penalties_co2e_g: Mapping[str, float] | None = None,
    allowed_zones: Sequence[str] | None = None,
    on_forecast_error: OnForecastError = "start-now",
) -> Plan:
    """Plan ``job`` over the candidate ``zones`` with forecasts from ``source``.

    Args:
        job: The job.
        zones: Candidate zones; the first is the home zone (baseline of the ``now_*`` figures).
        source: Where forecasts come from (a trace replayed at ``now``, a live provider, ...).
        now: Decision time; only data from before the hour holding it is used.
        penalties_co2e_g: Extra grams per zone.
        allowed_zones: Zones that may be chosen.
        on_forecast_error: The fallback when no zone has a forecast, or ``"raise"`` to raise
            the first zone's error instead (for replayed traces, where a failure is bad input).

    Raises:
        UsageError: No zones, or bad penalties.
        InvalidValueError: Infeasible deadline.
        UnknownZoneError: An unknown zone (never a silent fallback).
    """
    if not zones:
        raise UsageError("give at least one zone (--zone Z)")
    check_feasible(job, now)
    forecasts: list[ZoneForecast] = []
    failures: list[str] = []
    for zone in zones:
        try:
            forecasts.append(zone_forecast(source, zone, now=now, until=job.deadline))
        except UnknownNameError:
            raise
        except LowcarbError as exc:
            if on_forecast_error == "raise":
                raise
            log.warning("no forecast for %s: %s", zone, exc)
            failures.append(f"{zone}: {exc}")
    if not forecasts:
        reason = "no forecast available (" + "; ".join(failures) + ")"
        try:
            value = static_intensity(zones[0]).intensity_g_per_kwh
        except LowcarbError:
            value = float("nan")
        mode: FallbackMode = "latest-start" if on_forecast_error == "latest-start" else "start-now"
        plan = fallback_plan(
            job, zone=zones[0], now=now, reason=reason, mode=mode, now_intensity_g_per_kwh=value
        )
        return replace(plan, notes=(*plan.notes, "intensities are the zone's static annual mean"))
    home_failed = bool(failures) and failures[0].startswith(f"{zones[0]}:")
    known = {f.zone for f in forecasts}
    penalties = {z: v for z, v in (penalties_co2e_g or {}).items() if z in known}
    plan = plan_spatial(
        job, forecasts, now=now, penalties_co2e_g=penalties, allowed_zones=allowed_zones
    )
    notes = tuple(f"left out {f}" for f in failures)
    if home_failed:
        notes += (f"the baseline is {forecasts[0].zone}: the first zone had no forecast",)
    return replace(plan, notes=(*plan.notes, *notes)) if notes else plan


class ZoneSources(IntensitySource):
    """Dispatch each zone to its own source (e.g. one trace file per zone).

    Args:
        by_zone: Source per zone id (matched case-insensitively).
    """

    name = "per-zone"

    def __init__(self, by_zone: Mapping[str, IntensitySource]) -> None:
        self._by_zone = {z.upper(): s for z, s in by_zone.items()}

    def _source(self, zone: str) -> IntensitySource:
        try:
            return self._by_zone[zone.upper()]
        except KeyError:
            raise UsageError(
                f"no source for zone {zone!r}; sources are set for {sorted(self._by_zone)}"
            ) from None

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        return self._source(zone).latest(zone, now=now)

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        return self._source(zone).history(zone, start=start, end=end)

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        return self._source(zone).forecast(zone, now=now, horizon_h=horizon_h)


class ProfileSource(IntensitySource):
    """The embedded month x hour-of-day profile as a source: works offline, knows no weather.

    ``latest`` and ``history`` return profile values too, labelled ``estimated``.
    """

    name = "profile"

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        return profile_series(zone, start=now, hours=1).latest()

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        hours = max(1, round((end - start).total_seconds() / 3600))
        return profile_series(zone, start=start, hours=hours)

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        return profile_series(zone, start=now, hours=horizon_h)
