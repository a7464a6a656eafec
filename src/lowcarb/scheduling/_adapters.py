"""Bridges between :mod:`lowcarb.grid` forecasters/sources and the scheduler's array models.

* :class:`BlendForecaster`: the scheduler's :class:`ProfileBlend` as a :class:`grid.Forecaster`,
  so ``TraceIntensitySource`` and the CLI can plan on it.
* :class:`GridForecastModel`: any :class:`grid.Forecaster` (e.g. ``LagRidgeForecaster``) as a
  :class:`ForecastModel`, so backtests can compare it (one refit per origin: slow but faithful).
* :func:`zone_forecast`: ask an :class:`IntensitySource` for the forecast a plan needs, cut at the
  hour holding ``now`` so no value that covers any time at or after ``now`` is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from lowcarb.errors import InvalidValueError
from lowcarb.grid import Forecaster, IntensitySeries, IntensitySource
from lowcarb.scheduling._forecasts import (
    FloatArray,
    ForecastModel,
    IntArray,
    ProfileBlend,
)
from lowcarb.scheduling._types import ZoneForecast

__all__ = [
    "MODEL_NAMES",
    "BlendForecaster",
    "GridForecastModel",
    "ModelName",
    "make_forecaster",
    "zone_forecast",
]

_HOUR = timedelta(hours=1)
#: The longest horizon grid forecasters accept; plans past it repeat the forecast's last day.
MAX_HORIZON_H = 168

ModelName = Literal["profile-blend", "lag-ridge", "seasonal-naive", "profile"]
MODEL_NAMES: tuple[ModelName, ...] = ("profile-blend", "lag-ridge", "seasonal-naive", "profile")


@dataclass(frozen=True)
class BlendForecaster(Forecaster):
    """:class:`ProfileBlend` behind the :class:`lowcarb.grid.Forecaster` interface.

    Attributes:
        days: Days in the mean daily profile.
        yesterday_weight: Weight of the same-hour-yesterday term.
        decay: Hourly decay of the correction towards the last observed value.
    """

    days: int = 14
    yesterday_weight: float = 0.3
    decay: float = 0.95
    name: str = "profile-blend"
    min_history_h: int = field(default=15 * 24)

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_history_h", (self.days + 1) * 24)

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        model = ProfileBlend(
            days=self.days, yesterday_weight=self.yesterday_weight, decay=self.decay
        )
        values = model.forecast(past.values_g_per_kwh, steps)
        return values, model.name


class GridForecastModel(ForecastModel):
    """A :class:`lowcarb.grid.Forecaster` as a :class:`ForecastModel` (refit at every origin).

    One instance serves one series (the one starting at ``start``): forecasts are memoised by
    origin, so policies and workloads that ask for the same origin refit once.

    Args:
        forecaster: The grid forecaster.
        start: Time of slot 0 of the series the backtest passes (hourly).
        zone: Zone label for the series.
        horizon_h: Forecast at least this many hours per origin (for reuse across horizons).
    """

    def __init__(
        self, forecaster: Forecaster, *, start: datetime, zone: str = "ZONE", horizon_h: int = 0
    ) -> None:
        super().__init__(slots_per_day=24)
        self.forecaster = forecaster
        self.start = start.astimezone(UTC)
        self.zone = zone
        self.name = forecaster.name
        self._horizon = horizon_h
        self._memo: dict[int, FloatArray] = {}

    @property
    def min_history(self) -> int:
        return max(1, self.forecaster.min_history_h)

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        x = np.asarray(values, dtype=float)
        out = np.empty((len(origins), horizon))
        for i, origin in enumerate(np.asarray(origins).tolist()):
            row = self._memo.get(origin)
            if row is None or row.size < horizon:
                history = IntensitySeries(
                    zone=self.zone, start=self.start, values_g_per_kwh=x[:origin], source="backtest"
                )
                fc = self.forecaster.forecast(
                    history,
                    origin=self.start + origin * _HOUR,
                    horizon_h=min(MAX_HORIZON_H, max(horizon, self._horizon)),
                )
                row = fc.values_g_per_kwh
                self._memo[origin] = row
            out[i] = row[:horizon]
        return out


def make_forecaster(name: str) -> Forecaster:
    """The forecaster behind a ``--model`` choice.

    Raises:
        InvalidValueError: Unknown name.
    """
    from lowcarb.grid import LagRidgeForecaster, ProfileForecaster, SeasonalNaiveForecaster

    if name == "profile-blend":
        return BlendForecaster()
    if name == "lag-ridge":
        return LagRidgeForecaster()
    if name == "seasonal-naive":
        return SeasonalNaiveForecaster()
    if name == "profile":
        return ProfileForecaster()
    raise InvalidValueError(f"unknown forecast model {name!r}; choose one of {list(MODEL_NAMES)}")


def zone_forecast(
    source: IntensitySource, zone: str, *, now: datetime, until: datetime
) -> ZoneForecast:
    """The forecast a plan at ``now`` needs, from the hour holding ``now`` to ``until``.

    The source is asked for a forecast issued at the start of the hour holding ``now``, so only
    hours that ended by then are used: no value covering any time at or after ``now``.

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
