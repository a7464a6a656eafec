"""Forecast models as the scheduler uses them: arrays in, arrays out, many origins at once.

A :class:`ForecastModel` forecasts the ``horizon`` slots after an origin from the values strictly
before it. ``matrix`` does so for many origins of one series at once (row ``i`` uses only
``values[:origins[i]]``), which is what makes backtests over a year of hourly submissions fast.

* :class:`SeasonalNaive`: same slot one day earlier (the most recent such slot before the origin).
* :class:`ProfileBlend`: the mean daily profile of the last ``days`` days, blended with yesterday
  and pulled towards the last observed value with a decaying weight (persistence).
* :class:`Oracle` and :class:`NoisyOracle`: the true future (plus Gaussian noise, as in Wiesner et
  al., 2021); they read the future, so they exist for backtests only (``uses_future``).
* :class:`SeriesForecaster`: an adapter for any ``(history, horizon) -> values`` callable, such as
  the forecasters of :mod:`lowcarb.grid`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from lowcarb.errors import ForecastError, InvalidValueError

__all__ = [
    "ForecastModel",
    "NoisyOracle",
    "Oracle",
    "ProfileBlend",
    "SeasonalNaive",
    "SeriesForecaster",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class ForecastModel(ABC):
    """Forecasts of equally spaced slots.

    Contract: row ``i`` of :meth:`matrix` depends only on ``values[:origins[i]]`` unless
    ``uses_future`` is True (oracles, for backtests only). Models are stateless between calls
    and safe to share between threads.

    Attributes:
        name: Label for results and provenance.
        uses_future: True for models that read the future (never used to plan real jobs).
        slots_per_day: Slots in a day (24 for hourly series).
    """

    name: str = "model"
    uses_future: bool = False

    def __init__(self, *, slots_per_day: int = 24) -> None:
        if slots_per_day < 1:
            raise InvalidValueError(f"slots_per_day must be >= 1, got {slots_per_day!r}")
        self.slots_per_day = slots_per_day

    @property
    def min_history(self) -> int:
        """Slots of history needed before the first forecast."""
        return self.slots_per_day

    def forecast(self, history: FloatArray, horizon: int) -> FloatArray:
        """The ``horizon`` slots after ``history`` (which ends just before the origin).

        Raises:
            ForecastError: Too little history.
        """
        h = np.asarray(history, dtype=float)
        if h.size < self.min_history:
            raise ForecastError(
                f"{self.name} needs at least {self.min_history} slots of history before the "
                f"forecast origin, got {h.size}"
            )
        out: FloatArray = self.matrix(h, np.array([h.size]), horizon)[0]
        return out

    @abstractmethod
    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        """Forecasts for many origins: shape ``(len(origins), horizon)``.

        Args:
            values: The series.
            origins: Forecast origins (indices; each ``>= min_history``).
            horizon: Slots to forecast after each origin.
        """


def _check_origins(model: ForecastModel, values: FloatArray, origins: IntArray) -> IntArray:
    o = np.asarray(origins, dtype=np.int64)
    if o.size and (o.min() < model.min_history or o.max() > len(values)):
        raise ForecastError(
            f"{model.name}: forecast origins must lie in [{model.min_history}, {len(values)}], "
            f"got {int(o.min())}..{int(o.max())}"
        )
    return o


def _same_slot_before(origins: IntArray, horizon: int, period: int, back: int) -> IntArray:
    """Index of the value ``back`` periods before the most recent same-phase slot pre-origin.

    For target ``o + h`` the most recent slot of the same phase before ``o`` is
    ``o + h - period * (h // period + 1)``; ``back`` moves further into the past.
    """
    h = np.arange(horizon)
    lag = period * (h // period + 1 + back)
    return origins[:, None] + h[None, :] - lag[None, :]


class SeasonalNaive(ForecastModel):
    """Same slot yesterday (for horizons beyond a day, the last observed day repeats)."""

    name = "seasonal-naive"

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = _check_origins(self, values, origins)
        x = np.asarray(values, dtype=float)
        out: FloatArray = x[_same_slot_before(o, horizon, self.slots_per_day, 0)]
        return out


class ProfileBlend(ForecastModel):
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
        slots_per_day: Slots in a day.
    """

    def __init__(
        self,
        *,
        days: int = 14,
        yesterday_weight: float = 0.3,
        decay: float = 0.95,
        slots_per_day: int = 24,
    ) -> None:
        super().__init__(slots_per_day=slots_per_day)
        if days < 1 or not 0 <= yesterday_weight <= 1 or not 0 <= decay < 1:
            raise InvalidValueError(
                f"ProfileBlend needs days >= 1, 0 <= yesterday_weight <= 1, 0 <= decay < 1; got "
                f"{days!r}, {yesterday_weight!r}, {decay!r}"
            )
        self.days = days
        self.yesterday_weight = yesterday_weight
        self.decay = decay
        self.name = f"profile-blend({days}d)"

    @property
    def min_history(self) -> int:
        return self.slots_per_day * (self.days + 1)

    def _blend(self, x: FloatArray, o: IntArray, horizon: int) -> FloatArray:
        p = self.slots_per_day
        yesterday = x[_same_slot_before(o, horizon, p, 0)]
        profile = np.zeros_like(yesterday)
        for back in range(self.days):
            profile += x[_same_slot_before(o, horizon, p, back)]
        profile /= self.days
        w = self.yesterday_weight
        out: FloatArray = w * yesterday + (1 - w) * profile
        return out

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = _check_origins(self, values, origins)
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


class Oracle(ForecastModel):
    """The true future of ``actual`` (backtests only: it reads the future)."""

    name = "oracle"
    uses_future = True

    def __init__(self, actual: FloatArray, *, slots_per_day: int = 24) -> None:
        super().__init__(slots_per_day=slots_per_day)
        self._actual = np.asarray(actual, dtype=float)

    @property
    def min_history(self) -> int:
        return 0

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = _check_origins(self, values, origins)
        idx = o[:, None] + np.arange(horizon)[None, :]
        if idx.size and idx.max() >= self._actual.size:
            raise ForecastError(
                f"oracle asked for slot {int(idx.max())} past the end of the series "
                f"({self._actual.size} slots)"
            )
        out: FloatArray = self._actual[idx]
        return out


class NoisyOracle(Oracle):
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


class SeriesForecaster(ForecastModel):
    """Adapter: any ``forecast(history, horizon) -> values`` callable, one origin at a time.

    Args:
        name: Label.
        forecast_fn: Maps the history before an origin and a horizon to forecast values.
        min_history: Slots of history the callable needs.
        slots_per_day: Slots in a day.
    """

    def __init__(
        self,
        name: str,
        forecast_fn: Callable[[FloatArray, int], FloatArray],
        *,
        min_history: int = 24,
        slots_per_day: int = 24,
    ) -> None:
        super().__init__(slots_per_day=slots_per_day)
        self.name = name
        self._fn = forecast_fn
        self._min_history = min_history

    @property
    def min_history(self) -> int:
        return self._min_history

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = _check_origins(self, values, origins)
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
