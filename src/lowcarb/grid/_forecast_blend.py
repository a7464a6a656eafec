"""Vectorised forecasters for planning and backtests: many origins at once, arrays in and out.

* :class:`ProfileBlendForecaster`: the mean daily profile of the last ``days`` days, blended with
  yesterday and pulled towards the last observed value with a decaying weight (persistence).
* :class:`OracleForecaster` and :class:`NoisyOracleForecaster`: the true future (plus Gaussian
  noise, as in Wiesner et al., 2021); they read the future, so they exist for backtests only
  (``uses_future``).
* :class:`SeriesForecaster`: an adapter for any ``(history, horizon) -> values`` callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

import numpy as np

from lowcarb.errors import ForecastError, InvalidValueError
from lowcarb.grid._forecast import (
    FloatArray,
    Forecaster,
    IntArray,
    check_origins,
    check_slots_per_day,
    same_slot_before,
)
from lowcarb.grid._series import IntensitySeries

__all__ = [
    "NoisyOracleForecaster",
    "OracleForecaster",
    "ProfileBlendForecaster",
    "SeriesForecaster",
]


class ProfileBlendForecaster(Forecaster):
    """Recent daily profile blended with yesterday, corrected towards the latest value.

    For target slot ``o + h``: ``f = w * yesterday + (1 - w) * mean of the same slot over the
    last ``days`` days``, plus ``(x[o-1] - f_prev) * decay ** (h + 1)``, where ``f_prev`` is the
    same blend's value for the last observed slot (so the correction is the model's own recent
    error, fading with the horizon).

    The defaults (14 days, 0.3, 0.95 per hour) were chosen on the 2022 Electricity Maps traces
    (``benchmarks/README.md``) among 3/7/14 days, 0/0.3/0.6 and 0.7/0.85/0.95 by the share of
    perfect-foresight scheduling savings captured; the differences were a few points at most.

    Args:
        days: Days in the mean profile.
        yesterday_weight: Weight of the seasonal-naive term, 0..1.
        decay: Per-slot decay of the level correction, 0..1 (0: none).
        slots_per_day: Slots in a day on the :meth:`matrix` path.
    """

    name = "profile-blend"
    vectorised = True

    def __init__(
        self,
        *,
        days: int = 14,
        yesterday_weight: float = 0.3,
        decay: float = 0.95,
        slots_per_day: int = 24,
    ) -> None:
        self.slots_per_day = check_slots_per_day(slots_per_day)
        if days < 1 or not 0 <= yesterday_weight <= 1 or not 0 <= decay < 1:
            raise InvalidValueError(
                f"ProfileBlend needs days >= 1, 0 <= yesterday_weight <= 1, 0 <= decay < 1; got "
                f"{days!r}, {yesterday_weight!r}, {decay!r}"
            )
        self.days = days
        self.yesterday_weight = yesterday_weight
        self.decay = decay
        self.min_history_h = (days + 1) * 24

    @property
    def label(self) -> str:
        return f"{self.name}({self.days}d)"

    def _blend(self, x: FloatArray, o: IntArray, horizon: int) -> FloatArray:
        p = self.slots_per_day
        yesterday = x[same_slot_before(o, horizon, p, 0)]
        profile = np.zeros_like(yesterday)
        for back in range(self.days):
            profile += x[same_slot_before(o, horizon, p, back)]
        profile /= self.days
        w = self.yesterday_weight
        out: FloatArray = w * yesterday + (1 - w) * profile
        return out

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = check_origins(self, values, origins)
        x = np.asarray(values, dtype=float)
        base = self._blend(x, o, horizon)
        if self.decay == 0:
            return base
        # The blend's own forecast of the last observed slot, made one slot earlier.
        prev = self._blend(x, o - 1, 1)[:, 0]
        error = x[o - 1] - prev
        fade = self.decay ** np.arange(1, horizon + 1)
        out: FloatArray = np.maximum(base + error[:, None] * fade[None, :], 0.0)
        return out

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        return self.forecast_values(past.values_g_per_kwh, steps), self.label


class OracleForecaster(Forecaster):
    """The true future of ``actual`` (backtests only: it reads the future).

    On the :meth:`forecast` path the history must start at slot 0 of ``actual``.
    """

    name = "oracle"
    min_history_h = 0
    uses_future = True
    vectorised = True

    def __init__(self, actual: FloatArray, *, slots_per_day: int = 24) -> None:
        self.slots_per_day = check_slots_per_day(slots_per_day)
        self._actual = np.asarray(actual, dtype=float)

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = check_origins(self, values, origins)
        idx = o[:, None] + np.arange(horizon)[None, :]
        if idx.size and idx.max() >= self._actual.size:
            raise ForecastError(
                f"oracle asked for slot {int(idx.max())} past the end of the series "
                f"({self._actual.size} slots)"
            )
        out: FloatArray = self._actual[idx]
        return out

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        origin = np.array([len(past)], dtype=np.int64)
        return self.matrix(self._actual, origin, steps)[0], self.label


class NoisyOracleForecaster(OracleForecaster):
    """The true future plus i.i.d. Gaussian noise of ``error`` times the series mean.

    This is the forecast-error model of Wiesner et al., "Let's Wait Awhile", Middleware 2021
    (Sec. 5: ``ci + N(0, error * mean(ci))``, one noisy copy of the whole series per seed).
    """

    def __init__(
        self, actual: FloatArray, *, error: float, seed: int, slots_per_day: int = 24
    ) -> None:
        if not (math.isfinite(error) and error >= 0):
            raise InvalidValueError(f"error must be a fraction >= 0, got {error!r}")
        x = np.asarray(actual, dtype=float)
        noise = np.random.default_rng(seed).normal(0.0, error * float(x.mean()), size=x.size)
        super().__init__(x + noise, slots_per_day=slots_per_day)
        self.name = f"noisy-oracle({error:.0%})"


class SeriesForecaster(Forecaster):
    """Adapter: any ``forecast(history, horizon) -> values`` callable, one origin at a time.

    Args:
        name: Label.
        forecast_fn: Maps the history before an origin and a horizon to forecast values.
        min_history: Slots of history the callable needs.
        slots_per_day: Slots in a day.
    """

    vectorised = True

    def __init__(
        self,
        name: str,
        forecast_fn: Callable[[FloatArray, int], FloatArray],
        *,
        min_history: int = 24,
        slots_per_day: int = 24,
    ) -> None:
        self.slots_per_day = check_slots_per_day(slots_per_day)
        self.name = name
        self._fn = forecast_fn
        self._min_history = min_history
        self.min_history_h = math.ceil(min_history * 24 / slots_per_day)

    @property
    def min_history(self) -> int:
        return self._min_history

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = check_origins(self, values, origins)
        x = np.asarray(values, dtype=float)
        out = np.empty((o.size, horizon))
        for i, origin in enumerate(o.tolist()):
            row = np.asarray(self._fn(x[:origin], horizon), dtype=float)
            if row.shape != (horizon,):
                raise ForecastError(
                    f"{self.name} returned {row.shape} values for a horizon of {horizon}"
                )
            out[i] = row
        return out

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        return self.forecast_values(past.values_g_per_kwh, steps), self.label
