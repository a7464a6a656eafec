"""`IntensitySource`: one interface for static factors, trace files and live providers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from lowcarb.errors import InvalidValueError
from lowcarb.grid._forecast import Forecaster
from lowcarb.grid._forecast_ridge import LagRidgeForecaster
from lowcarb.grid._series import IntensitySeries, ceil_hour, to_utc
from lowcarb.grid._static import static_intensity
from lowcarb.grid._trace import TraceTable, load_trace_table
from lowcarb.grid._types import Intensity, Scope

__all__ = [
    "STALE_AFTER",
    "IntensitySource",
    "StaticIntensitySource",
    "TraceIntensitySource",
    "label_stale",
]

_HOUR = timedelta(hours=1)


class IntensitySource(ABC):
    """Where carbon-intensity values come from.

    Contract: every value returned carries its provenance (``source``, ``signal``, ``scope``,
    ``kind``, and ``time`` for hourly values). ``now`` is always passed in (never read from a
    clock here), and a source returns only what was known at ``now``: ``latest`` never returns a
    value stamped at or after ``now``. Sources hold no mutable state beyond caches and may be
    shared between threads unless a subclass says otherwise. Zones are Electricity Maps zone ids
    (cloud regions are resolved by callers with :func:`lookup_zone`).
    """

    #: Short name used in provenance and CLI choices.
    name: str = "source"

    @abstractmethod
    def latest(self, zone: str, *, now: datetime) -> Intensity:
        """The most recent value known at ``now``.

        Raises:
            LowcarbError: A subclass (unknown zone, no data, provider failure).
        """

    @abstractmethod
    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        """Hourly values for the hours ``start <= t < end``."""

    @abstractmethod
    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        """Hourly values for ``horizon_h`` hours from ``ceil_hour(now)``."""


#: A "latest" reading older than this is labelled stale with its age, never shown as current.
STALE_AFTER = timedelta(hours=3)


def label_stale(value: Intensity, now: datetime) -> Intensity:
    """``value`` with a note saying it is stale, and how old, when it is older than
    :data:`STALE_AFTER` at ``now`` (annual figures, which have no time, are returned as is)."""
    if value.time is None or now - value.time <= STALE_AFTER:
        return value
    age_h = (now - value.time).total_seconds() / 3600
    age = f"{age_h:.0f} h" if age_h < 72 else f"{age_h / 24:.0f} days"
    note = f"STALE: the latest reading is from {value.time.isoformat()}, {age} old"
    return replace(value, note=f"{note}; {value.note}" if value.note else note)


def _check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = to_utc(start), to_utc(end)
    if end <= start:
        raise InvalidValueError(
            f"history end {end.isoformat()!r} must be after start {start.isoformat()!r}"
        )
    return start, end


class StaticIntensitySource(IntensitySource):
    """Annual averages from the static table: the same value for every hour, kind ``estimated``.

    Useful as a test double and as the last offline fallback; it has no hourly information, so
    schedules planned on it cannot find cleaner hours.
    """

    name = "static"

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        to_utc(now)
        return static_intensity(zone)

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        start, end = _check_range(start, end)
        return self._constant(
            zone, ceil_hour(start), int((ceil_hour(end) - ceil_hour(start)) // _HOUR)
        )

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        return self._constant(zone, ceil_hour(now), horizon_h)

    @staticmethod
    def _constant(zone: str, start: datetime, hours: int) -> IntensitySeries:
        value = static_intensity(zone)
        return IntensitySeries(
            zone=value.zone,
            start=start,
            values_g_per_kwh=np.full(max(hours, 0), value.intensity_g_per_kwh),
            source=value.source,
            signal=value.signal,
            scope=value.scope,
            kind="estimated",
            notes=(f"annual average for {value.year}, the same for every hour",),
        )


class TraceIntensitySource(IntensitySource):
    """Values from a trace file (or an in-memory series); forecasts from a :class:`Forecaster`.

    ``latest`` and ``forecast`` use only the hours stamped strictly before ``now``, so replaying a
    trace at a past ``now`` is a faithful backtest.

    Args:
        trace: A path to a CSV in one of the three trace formats, a loaded :class:`TraceTable`,
            or one :class:`IntensitySeries`.
        forecaster: The model for :meth:`forecast` (default :class:`LagRidgeForecaster`).
        scope: For Electricity Maps files, which column to read.
        tz: Time zone for naive timestamps (see :func:`load_trace`).
    """

    name = "trace"

    def __init__(
        self,
        trace: str | Path | TraceTable | IntensitySeries,
        *,
        forecaster: Forecaster | None = None,
        scope: Scope = "lifecycle",
        tz: str | None = None,
    ) -> None:
        if isinstance(trace, (str, Path)):
            trace = load_trace_table(trace, scope=scope, tz=tz)
        self._trace = trace
        self._cache: dict[str, IntensitySeries] = {}
        self.forecaster = forecaster or LagRidgeForecaster()

    def series(self, zone: str | None = None) -> IntensitySeries:
        """The whole cleaned series of ``zone`` (the only zone when None)."""
        if isinstance(self._trace, IntensitySeries):
            if zone is not None and zone.strip().upper() != self._trace.zone.upper():
                raise InvalidValueError(f"this trace holds zone {self._trace.zone!r}, not {zone!r}")
            return self._trace
        key = zone or ""
        if key not in self._cache:
            self._cache[key] = self._trace.series(zone)
        return self._cache[key]

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        past = self.series(zone).before(now)
        if not len(past):
            full = self.series(zone)
            raise InvalidValueError(
                f"the trace has no {full.zone} data before {to_utc(now).isoformat()} "
                f"(it starts {full.start.isoformat()}); use a later --now"
            )
        return label_stale(past.latest(), to_utc(now))

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        start, end = _check_range(start, end)
        return self.series(zone).between(start, end)

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        return self.forecaster.forecast(self.series(zone), origin=now, horizon_h=horizon_h)
