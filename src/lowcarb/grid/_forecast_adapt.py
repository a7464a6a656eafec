"""Adapters onto :class:`Forecaster`: timestamps for the many-origins path, live providers.

* :class:`AnchoredForecaster`: any forecaster (e.g. ``LagRidgeForecaster``, whose features use the
  calendar) on the :meth:`Forecaster.matrix` path, by pinning slot 0 of the array to a time and a
  zone (one refit per origin: slow but faithful).
* :class:`ProviderForecaster`: a live provider's forecast (Electricity Maps, WattTime, UK Carbon
  Intensity, or any :class:`IntensitySource`) behind the :class:`Forecaster` interface.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from lowcarb.grid._forecast import MAX_HORIZON_H, FloatArray, Forecaster, IntArray
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._sources import IntensitySource

__all__ = ["AnchoredForecaster", "ProviderForecaster"]

_HOUR = timedelta(hours=1)


class AnchoredForecaster(Forecaster):
    """A forecaster on the many-origins path of an hourly array whose slot 0 is ``start``.

    One instance serves one series: forecasts are memoised by origin, so policies and workloads
    that ask for the same origin refit once. A vectorised model is passed straight through.

    Args:
        forecaster: The model.
        start: Time of slot 0 of the series the backtest passes (hourly).
        zone: Zone of the series.
        horizon_h: Forecast at least this many hours per origin (for reuse across horizons).
    """

    def __init__(
        self, forecaster: Forecaster, *, start: datetime, zone: str = "ZONE", horizon_h: int = 0
    ) -> None:
        self.forecaster = forecaster
        self.start = start.astimezone(UTC)
        self.zone = zone
        self.name = forecaster.name
        self.min_history_h = forecaster.min_history_h
        self.uses_future = forecaster.uses_future
        self._horizon = horizon_h
        self._memo: dict[int, FloatArray] = {}

    @property
    def label(self) -> str:
        return self.forecaster.label

    @property
    def min_history(self) -> int:
        return max(1, self.forecaster.min_history_h)

    def forecast(
        self, history: IntensitySeries, *, origin: datetime, horizon_h: int = 24
    ) -> IntensitySeries:
        return self.forecaster.forecast(history, origin=origin, horizon_h=horizon_h)

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        if self.forecaster.vectorised:
            return self.forecaster.matrix(values, origins, horizon)
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

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        fc = self.forecaster.forecast(past, origin=first, horizon_h=steps)
        return fc.values_g_per_kwh, self.label


class ProviderForecaster(Forecaster):
    """A provider's own forecast as a :class:`Forecaster` (the history only names the zone).

    A live provider answers for the present only: give ``origin`` = now. The series returned is
    the provider's, with its provenance (``source``, ``kind``, notes) and, for live providers,
    their labelled offline fallback.

    Args:
        source: The provider (e.g. from :func:`open_provider`) or any intensity source.
    """

    min_history_h = 0

    def __init__(self, source: IntensitySource) -> None:
        self.source = source
        self.name = source.name

    def forecast(
        self, history: IntensitySeries, *, origin: datetime, horizon_h: int = 24
    ) -> IntensitySeries:
        return self.source.forecast(history.zone, now=origin, horizon_h=horizon_h)

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        fc = self.source.forecast(past.zone, now=first, horizon_h=steps)
        return fc.values_g_per_kwh, fc.source
