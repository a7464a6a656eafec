"""Request parameters of the SDK's endpoints, checked the way its WebAPI checks them, and bounded.

Names and rules follow the SDK (``CarbonAwareParameters`` and its DTOs): ``location`` is required
(empty values are skipped, as the SDK skips them), ``toTime`` needs ``time``, a start must come
before its end, batch items need ``location`` and ``requestedAt`` (forecasts) or ``location``,
``startTime`` and ``endTime`` (averages). On top, everything has a bound
(:class:`CarbonAwareLimits`) so that no request can make the server allocate without limit.
JSON bodies are read in ``_bodies``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.datastructures import QueryParams

from lowcarb.errors import InvalidValueError
from lowcarb.reporting.carbonaware._errors import SdkProblemError, about
from lowcarb.reporting.carbonaware._locations import SdkLocation, resolve_location
from lowcarb.reporting.carbonaware._provenance import Provenance
from lowcarb.reporting.carbonaware._times import SdkTime, parse_query_time
from lowcarb.units import MAX_DURATION

__all__ = [
    "AverageQuery",
    "CarbonAwareLimits",
    "EmissionsQuery",
    "ForecastQuery",
    "average_of",
    "average_query",
    "check_order",
    "emissions_query",
    "forecast_query",
    "locations_of",
    "noted",
    "window_minutes",
]

_INT32_MAX = 2**31 - 1
_INT = re.compile(r"\s*[+-]?\d{1,12}\s*")
_LOCATION_HELP = (
    "give e.g. location=eastus (an Azure region, as SDK clients send), a zone id such as DE, or "
    "a cloud region such as aws:us-east-1"
)


@dataclass(frozen=True)
class CarbonAwareLimits:
    """Bounds on what one request may ask for (400 beyond, 413 for the body size).

    Attributes:
        max_locations: Most locations in one request.
        max_range: Longest ``time``..``toTime`` or ``startTime``..``endTime`` range.
        max_points: Most hourly values one response may hold (locations x hours).
        max_batch_items: Most items in one batch body.
        max_body_bytes: Largest request body, bytes.
        forecast_horizon_h: Hours each forecast covers from the hour of its request (1..168).
    """

    max_locations: int = 50
    max_range: timedelta = MAX_DURATION
    max_points: int = 100_000
    max_batch_items: int = 100
    max_body_bytes: int = 1_000_000
    forecast_horizon_h: int = 24

    def __post_init__(self) -> None:
        for name in ("max_locations", "max_points", "max_batch_items", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not timedelta(hours=1) <= self.max_range <= MAX_DURATION:
            raise InvalidValueError(
                f"max_range must be 1 h..{MAX_DURATION.days} days, got {self.max_range!r}"
            )
        if not 1 <= self.forecast_horizon_h <= 168:
            raise InvalidValueError(
                f"forecast_horizon_h must be 1..168 hours, got {self.forecast_horizon_h!r}"
            )


@dataclass(frozen=True)
class EmissionsQuery:
    """``/emissions/bylocation(s)[/best]``: locations and an optional range.

    Attributes:
        locations: The locations, in request order, without repeats.
        start: ``time``, or None (now).
        end: ``toTime``, or None (the start).
    """

    locations: tuple[SdkLocation, ...]
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class ForecastQuery:
    """One forecast to answer: ``/emissions/forecasts/current`` or an item of ``/batch``.

    Attributes:
        location: The location.
        requested_at: The time the forecast is for (now, or a batch item's ``requestedAt``);
            None for "now".
        data_start_at: ``dataStartAt``, or None (the first forecast point).
        data_end_at: ``dataEndAt``, or None (the end of the last point).
        window_min: ``windowSize`` in minutes, or None (one data point).
    """

    location: SdkLocation
    requested_at: datetime | None
    data_start_at: datetime | None
    data_end_at: datetime | None
    window_min: int | None


@dataclass(frozen=True)
class AverageQuery:
    """``/emissions/average-carbon-intensity`` or an item of its batch."""

    location: SdkLocation
    start: datetime
    end: datetime


# --- query strings -------------------------------------------------------------------------


def _time(raw: str | None, key: str, prov: Provenance) -> datetime | None:
    if raw is None or not raw.strip():
        return None  # ASP.NET binds an empty value of a nullable time to null
    with about(key):
        parsed = parse_query_time(raw, what=key)
    return noted(parsed, key, prov)


def noted(parsed: SdkTime, key: str, prov: Provenance) -> datetime:
    if parsed.assumed_utc:
        prov.note(f"{key} has no UTC offset and was read as UTC")
    return parsed.when


def locations_of(
    values: Sequence[str], limits: CarbonAwareLimits, prov: Provenance, key: str = "location"
) -> tuple[SdkLocation, ...]:
    names = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not names:
        raise SdkProblemError.bad(key, f"{key} is not set; {_LOCATION_HELP}")
    if len(names) > limits.max_locations:
        raise SdkProblemError.bad(
            key,
            f"{len(names)} locations in one request; at most {limits.max_locations}: split the "
            "request",
        )
    out = []
    for name in names:
        with about(key):
            loc = resolve_location(name)
        prov.location(loc)
        out.append(loc)
    return tuple(out)


def check_order(start: datetime | None, end: datetime | None, keys: tuple[str, str]) -> None:
    if start is not None and end is not None and not start < end:
        raise SdkProblemError.bad(
            keys[0],
            f"{keys[0]} must be before {keys[1]}, got {start.isoformat()} and {end.isoformat()}; "
            "swap them or widen the range",
        )


def _check_span(
    start: datetime, end: datetime, keys: tuple[str, str], limits: CarbonAwareLimits
) -> None:
    if end - start > limits.max_range:
        days = (end - start).total_seconds() / 86400
        raise SdkProblemError.bad(
            keys[1],
            f"{keys[0]}..{keys[1]} spans {days:.1f} days; at most "
            f"{limits.max_range.total_seconds() / 86400:g} days: ask for a shorter range",
        )


def emissions_query(
    query: QueryParams, *, many: bool, limits: CarbonAwareLimits, prov: Provenance
) -> EmissionsQuery:
    """Read ``location`` (one, or repeated when ``many``), ``time`` and ``toTime``.

    Raises:
        SdkProblemError: A missing or unknown location, an unparseable time, ``toTime`` without
            ``time``, an inverted or oversized range, too many values in all.
    """
    values = query.getlist("location")
    locations = locations_of(values if many else values[:1], limits, prov)
    start = _time(query.get("time"), "time", prov)
    end = _time(query.get("toTime"), "toTime", prov)
    if end is not None and start is None:
        raise SdkProblemError.bad(
            "time", "time must be defined if toTime is defined; give time (the range's start)"
        )
    check_order(start, end, ("time", "toTime"))
    if start is not None and end is not None:
        _check_span(start, end, ("time", "toTime"), limits)
        hours = math.ceil((end - start) / timedelta(hours=1)) + 1
        if hours * len(locations) > limits.max_points:
            raise SdkProblemError.bad(
                "toTime",
                f"{len(locations)} locations x {hours} hours is {hours * len(locations)} values; "
                f"at most {limits.max_points}: ask for a shorter range or fewer locations",
            )
    return EmissionsQuery(locations=locations, start=start, end=end)


def window_minutes(raw: object, key: str) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise SdkProblemError.bad(key, f"{key} must be a whole number of minutes, got {raw!r}")
    if isinstance(raw, str):
        if not _INT.fullmatch(raw):
            raise SdkProblemError.bad(
                key, f"{key} {raw[:40]!r} is not a whole number of minutes; e.g. {key}=30"
            )
        raw = int(raw)
    if not 0 <= raw <= _INT32_MAX:
        raise SdkProblemError.bad(key, f"{key} must be 0..{_INT32_MAX} minutes, got {raw}")
    return raw


def forecast_query(
    query: QueryParams, *, limits: CarbonAwareLimits, prov: Provenance
) -> list[ForecastQuery]:
    """Read ``/emissions/forecasts/current``'s ``location`` (repeatable), ``dataStartAt``,
    ``dataEndAt`` and ``windowSize``: one :class:`ForecastQuery` per location.

    Raises:
        SdkProblemError: As :func:`emissions_query`, and a bad ``windowSize``.
    """
    locations = locations_of(query.getlist("location"), limits, prov)
    start = _time(query.get("dataStartAt"), "dataStartAt", prov)
    end = _time(query.get("dataEndAt"), "dataEndAt", prov)
    check_order(start, end, ("dataStartAt", "dataEndAt"))
    window = window_minutes(query.get("windowSize"), "windowSize")
    return [ForecastQuery(loc, None, start, end, window) for loc in locations]


def average_query(
    query: QueryParams, *, limits: CarbonAwareLimits, prov: Provenance
) -> AverageQuery:
    """Read ``location``, ``startTime`` and ``endTime`` (all required).

    Raises:
        SdkProblemError: A missing value, an unknown location, an inverted or oversized period.
    """
    location = locations_of(query.getlist("location")[:1], limits, prov)[0]
    start = _time(query.get("startTime"), "startTime", prov)
    end = _time(query.get("endTime"), "endTime", prov)
    return average_of(location, start, end, limits, ("startTime", "endTime"))


def average_of(
    location: SdkLocation,
    start: datetime | None,
    end: datetime | None,
    limits: CarbonAwareLimits,
    keys: tuple[str, str],
) -> AverageQuery:
    if start is None:
        raise _not_set(keys[0])
    if end is None:
        raise _not_set(keys[1])
    check_order(start, end, keys)
    _check_span(start, end, keys, limits)
    return AverageQuery(location=location, start=start, end=end)


def _not_set(key: str) -> SdkProblemError:
    return SdkProblemError.bad(key, f"{key} is not set; give it, e.g. {key}=2022-03-01T15:30:00Z")
