"""Observed intensity for the SDK's emissions endpoints, read from an intensity source.

Semantics follow the SDK's handlers (``EmissionsHandler``, ``IntervalHelper.FilterByDuration``,
``EmissionsDataExtensions.AverageOverPeriod``):

* a range ``time``..``toTime`` returns every hourly value whose hour overlaps it (starts at or
  before ``toTime``, ends after ``time``); ``time`` alone, or neither (``time`` = now), returns the
  value of the hour holding that instant;
* only hours that had started by ``now`` are returned: these endpoints report what was observed,
  so a trace replayed at an injected clock never answers from its future;
* ``best`` is every value equal to the lowest one;
* an average is weighted by the time each hour overlaps the period, and is refused (400) when the
  data does not cover the whole period, where the SDK's JSON source would answer 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lowcarb.grid import IntensitySeries, IntensitySource, floor_hour
from lowcarb.reporting.carbonaware._errors import SdkProblemError, about
from lowcarb.reporting.carbonaware._locations import SdkLocation
from lowcarb.reporting.carbonaware._models import CarbonIntensityDTO, EmissionsData
from lowcarb.reporting.carbonaware._params import AverageQuery
from lowcarb.reporting.carbonaware._provenance import Provenance
from lowcarb.reporting.carbonaware._times import format_time, format_timespan

__all__ = ["average_intensity", "best_of", "observed"]

_HOUR = timedelta(hours=1)
_ONE_HOUR = format_timespan(_HOUR)


@dataclass(frozen=True, slots=True)
class _Point:
    location: str
    time: datetime
    rating: float


def _history(
    source: IntensitySource,
    loc: SdkLocation,
    first: datetime,
    stop: datetime,
    prov: Provenance,
    key: str = "location",
) -> IntensitySeries | None:
    """The hours ``first <= t < stop`` of ``loc``'s zone, or None when there are none."""
    if stop <= first:
        return None
    with about(key):
        series = source.history(loc.zone_id, start=first, end=stop)
    if not len(series):
        return None
    prov.series(series)
    return series


def observed(
    source: IntensitySource,
    locations: Sequence[SdkLocation],
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    prov: Provenance,
) -> list[EmissionsData]:
    """Every observed hourly value of ``locations`` overlapping ``start``..``end``.

    Args:
        source: Where the values come from.
        locations: Resolved locations.
        start: ``time`` (None: ``now``).
        end: ``toTime`` (None: ``start``).
        now: The server's clock; hours starting after it are not returned.
        prov: Collects the provenance of what was read.

    Raises:
        SdkProblemError: The source refuses a location (e.g. a trace without that zone).
    """
    lo = start if start is not None else now
    hi = end if end is not None else lo
    first = floor_hour(lo)
    stop = floor_hour(min(hi, now)) + _HOUR
    out: list[EmissionsData] = []
    for loc in locations:
        series = _history(source, loc, first, stop, prov)
        if series is None:
            continue
        for i, value in enumerate(series.values_g_per_kwh):
            t = series.time_at(i)
            if t + _HOUR > lo and t <= hi and t <= now:
                out.append(
                    EmissionsData(
                        location=loc.name,
                        time=format_time(t),
                        rating=float(value),
                        duration=_ONE_HOUR,
                    )
                )
    return out


def best_of(points: Sequence[EmissionsData]) -> list[EmissionsData]:
    """The points with the lowest rating (all of them on a tie, as the SDK does)."""
    if not points:
        return []
    lowest = min(p.rating for p in points)
    return [p for p in points if p.rating == lowest]


def average_intensity(
    source: IntensitySource,
    query: AverageQuery,
    *,
    now: datetime,
    prov: Provenance,
    key_prefix: str = "",
) -> CarbonIntensityDTO:
    """The time-weighted mean intensity of ``query.location`` over ``query.start..end``.

    ``key_prefix`` prefixes the parameter names in errors (``$[0].`` for batch items).

    Raises:
        SdkProblemError: The data (up to the hour holding ``now``) does not cover the whole period.
    """
    loc, start, end = query.location, query.start, query.end
    first = floor_hour(start)
    hours = int((floor_hour(end - timedelta(microseconds=1)) - first) // _HOUR) + 1
    stop = min(first + hours * _HOUR, floor_hour(now) + _HOUR)
    series = _history(source, loc, first, stop, prov, key=f"{key_prefix}location")
    if series is None or series.start > first or series.end < first + hours * _HOUR:
        if series is None:
            have, key, when = "no data up to now", "startTime", start
        else:
            have = f"data from {format_time(series.start)} to {format_time(series.end)}"
            key, when = ("startTime", start) if series.start > first else ("endTime", end)
        raise SdkProblemError(
            400,
            f"Period out of range: {loc.name} ({loc.zone_id}) has {have}, not the whole period "
            f"{format_time(start)} to {format_time(end)}; ask for a period the data covers",
            errors={
                key_prefix + key: [f"the data for {loc.name} does not cover {format_time(when)}"]
            },
        )
    total_s = (end - start).total_seconds()
    mean = 0.0
    for i in range(hours):
        t = first + i * _HOUR
        overlap = (min(t + _HOUR, end) - max(t, start)).total_seconds()
        mean += float(series.values_g_per_kwh[series.index_of(t)]) * overlap / total_s
    return CarbonIntensityDTO(
        location=loc.name,
        startTime=format_time(start),
        endTime=format_time(end),
        carbonIntensity=mean,
    )
