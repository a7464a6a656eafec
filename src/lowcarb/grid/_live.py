"""Shared behaviour of live providers: parsing points, labelled offline fallbacks."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np

from lowcarb.errors import InvalidValueError, LowcarbError, ProviderError, TraceFormatError
from lowcarb.grid._forecast import Forecaster
from lowcarb.grid._hourly import DEFAULT_MAX_GAP_H, hourly
from lowcarb.grid._http import CachedBody, JsonFetcher, ProviderAuthError
from lowcarb.grid._profiles import ProfileForecaster, profile_series
from lowcarb.grid._series import IntensitySeries, ceil_hour, floor_hour, to_utc
from lowcarb.grid._sources import (
    STALE_AFTER,
    IntensitySource,
    StaticIntensitySource,
    label_stale,
)
from lowcarb.grid._types import Intensity, IntensityKind, Scope, Signal

__all__ = [
    "MAX_PLAUSIBLE_G_PER_KWH",
    "STALE_AFTER",
    "LiveIntensitySource",
    "chunked",
    "merge_series",
    "parse_time",
    "points_to_series",
]

#: No grid emits more: lignite plants run ~1,100-1,300 gCO2e/kWh life-cycle (IPCC AR5 WGIII
#: Annex III, Table A.III.2), so a value above this is bad data, not a dirty grid.
MAX_PLAUSIBLE_G_PER_KWH = 2000.0

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_HOUR = timedelta(hours=1)


def parse_time(value: object, what: str) -> datetime:
    """A provider timestamp (ISO 8601 with offset or Z) as UTC; garbage -> ProviderError."""
    if not isinstance(value, str):
        raise ProviderError(f"malformed response: {what} is {value!r}, expected a timestamp")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ProviderError(f"malformed response: {what} {value!r} is not ISO 8601") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else to_utc(when)


def number(value: object, what: str) -> float:
    """A non-negative finite number from a response; anything else -> ProviderError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ProviderError(f"malformed response: {what} is {value!r}, expected a number >= 0")
    if value == float("inf"):
        raise ProviderError(f"malformed response: {what} is infinite")
    return float(value)


def plausible(value_g_per_kwh: float, what: str) -> float:
    """An intensity a grid can physically have (0..2,000 g/kWh); else ProviderError (bad data)."""
    if not 0.0 <= value_g_per_kwh <= MAX_PLAUSIBLE_G_PER_KWH:
        raise ProviderError(
            f"bad data: {what} is {value_g_per_kwh:g} gCO2e/kWh, outside the physically "
            f"possible 0..{MAX_PLAUSIBLE_G_PER_KWH:g}"
        )
    return value_g_per_kwh


def points_to_series(
    points: Iterable[tuple[datetime, float]],
    *,
    zone: str,
    source: str,
    signal: Signal,
    scope: Scope,
    kind: IntensityKind,
) -> IntensitySeries:
    """Timestamped values (any resolution) -> an hourly series, averaged per UTC hour."""
    pts = list(points)
    if not pts:
        raise ProviderError(f"malformed response: {source} returned no data points")
    for when, value in pts:
        plausible(value, f"{source} value at {when.isoformat()}")
    seconds = np.array([int(t.timestamp()) for t, _ in pts], dtype=np.int64)
    values = np.array([v for _, v in pts], dtype=np.float64)
    order = np.argsort(seconds, kind="stable")
    try:
        series = hourly(
            seconds[order] // 3600,
            values[order],
            zone=zone,
            source=source,
            scope=scope,
            notes=(),
            max_gap_h=DEFAULT_MAX_GAP_H,
            where=source,
        )
    except TraceFormatError as exc:
        raise ProviderError(f"unusable response: {exc}") from None
    return series.replace(signal=signal, kind=kind)


def chunked(start: datetime, end: datetime, max_span: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows no longer than ``max_span`` (a provider's
    documented per-request limit), so long ranges are asked for in pieces and merged."""
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        stop = min(end, cursor + max_span)
        windows.append((cursor, stop))
        cursor = stop
    return windows


def merge_series(parts: list[IntensitySeries]) -> IntensitySeries:
    """Consecutive chunk answers as one hourly series (overlapping hours averaged)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    points = [
        (p.start + i * _HOUR, float(v)) for p in parts for i, v in enumerate(p.values_g_per_kwh)
    ]
    merged = points_to_series(
        points,
        zone=first.zone,
        source=first.source,
        signal=first.signal,
        scope=first.scope,
        kind=first.kind,
    )
    notes = tuple(dict.fromkeys(n for p in parts for n in p.notes))
    return merged.replace(notes=(*notes, f"fetched in {len(parts)} requests and merged"))


def _require_zone(zone: str, provider: str) -> None:
    """Refuse a blank zone before any request: given none, some APIs locate the caller by IP
    address, and a value for a guessed grid would be recorded as the job's."""
    if not isinstance(zone, str) or not zone.strip():
        raise InvalidValueError(
            f"{provider} needs an explicit zone or region, got {zone!r}; "
            "pass --zone (or set LOWCARB_ZONE); lowcarb never lets a provider guess it"
        )


class LiveIntensitySource(IntensitySource):
    """A live provider with a labelled offline fallback.

    Subclasses implement ``_latest``, ``_history`` and ``_forecast``. When the provider fails with
    anything but an authentication error, a cached response of any age is used if there is one
    (labelled with its age and the error); otherwise the embedded profile (``latest`` and
    ``forecast``) or the static annual table (``history``) answers, labelled in ``note``/``notes``
    and ``source``. With ``fallback=False`` the :class:`ProviderError` is raised instead.

    Args:
        fetcher: The HTTP client wrapper (retries, timeouts, cache).
        fallback: Whether to fall back offline.
    """

    name = "live"

    def __init__(self, fetcher: JsonFetcher, *, fallback: bool = True) -> None:
        self.fetcher = fetcher
        self.fallback = fallback
        self._fallback_forecaster: Forecaster = ProfileForecaster()

    @staticmethod
    def stale_note(got: CachedBody) -> str:
        """A label for a body served from an expired cache entry ("" when fresh)."""
        if not got.stale_reason:
            return ""
        return f"cached response from {got.age_s / 60:.0f} min ago ({got.stale_reason})"

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        _require_zone(zone, self.name)
        try:
            value = self._latest(zone, now=to_utc(now))
            plausible(value.intensity_g_per_kwh, f"{self.name} latest value for {zone}")
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            return self._offline_latest(zone, now, exc)
        return label_stale(value, to_utc(now))

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        _require_zone(zone, self.name)
        try:
            return self._history(zone, start=to_utc(start), end=to_utc(end))
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            if not self.fallback:
                raise
            series = self._guard(
                exc, lambda: StaticIntensitySource().history(zone, start=start, end=end)
            )
            return series.replace(notes=(*series.notes, self._why(exc, "static annual average")))

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        _require_zone(zone, self.name)
        try:
            return self._forecast(zone, now=to_utc(now), horizon_h=horizon_h)
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            if not self.fallback:
                raise
            empty = IntensitySeries(
                zone=zone, start=floor_hour(now), values_g_per_kwh=np.zeros(0), source="none"
            )
            series = self._guard(
                exc,
                lambda: self._fallback_forecaster.forecast(empty, origin=now, horizon_h=horizon_h),
            )
            return series.replace(notes=(*series.notes, self._why(exc, "embedded profile")))

    def _offline_latest(self, zone: str, now: datetime, exc: ProviderError) -> Intensity:
        if not self.fallback:
            raise exc
        hour = floor_hour(now)
        value = self._guard(exc, lambda: profile_series(zone, start=hour, hours=1).latest())
        return Intensity(
            zone=value.zone,
            intensity_g_per_kwh=value.intensity_g_per_kwh,
            source=value.source,
            signal=value.signal,
            scope=value.scope,
            kind="estimated",
            time=hour,
            note=self._why(exc, "embedded month x hour profile"),
        )

    def _why(self, exc: ProviderError, used: str) -> str:
        return f"{self.name} unavailable ({exc}); offline fallback: {used}"

    @staticmethod
    def _guard(exc: ProviderError, make: Callable[[], _T]) -> _T:
        try:
            return make()
        except LowcarbError as fallback_exc:
            logger.info("offline fallback failed too: %s", fallback_exc)
            raise exc from None

    @abstractmethod
    def _latest(self, zone: str, *, now: datetime) -> Intensity: ...

    @abstractmethod
    def _history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries: ...

    @abstractmethod
    def _forecast(self, zone: str, *, now: datetime, horizon_h: int) -> IntensitySeries: ...

    @staticmethod
    def _window(series: IntensitySeries, now: datetime, horizon_h: int) -> IntensitySeries:
        start = ceil_hour(now)
        window = series.between(start, start + horizon_h * _HOUR)
        if not len(window):
            raise ProviderError(f"{series.source} returned no forecast after {start.isoformat()}")
        return window
