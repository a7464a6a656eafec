"""The one forecasting interface (:class:`Forecaster`) and the seasonal-naive baseline.

Every forecast in lowcarb goes through :class:`Forecaster`: ``lowcarb intensity forecast``,
``lowcarb plan``, the job worker, the scheduling policies and the backtests. A model answers on
two paths that share one contract:

* :meth:`Forecaster.forecast`: one origin, timestamped (an :class:`IntensitySeries` in and out);
  what plans and the CLI use.
* :meth:`Forecaster.matrix`: many origins of one equally spaced series at once (arrays in and
  out); what backtests over a year of hourly submissions use. Vectorised models answer it with
  numpy; models that need timestamps (calendar features, the embedded profile) answer it through
  :class:`AnchoredForecaster`, which pins slot 0 of the array to a time and a zone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from lowcarb.errors import ForecastError, InvalidValueError
from lowcarb.grid._series import IntensitySeries, ceil_hour

__all__ = ["MAX_HORIZON_H", "Forecaster", "SeasonalNaiveForecaster"]

_HOUR = timedelta(hours=1)
#: Longest horizon :meth:`Forecaster.forecast` accepts (one week).
MAX_HORIZON_H = 168
#: Longest gap allowed between the end of the history and the forecast origin.
MAX_LEAD_H = 168

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Forecaster(ABC):
    """Forecasts a zone's grid carbon intensity from its past.

    Contract:

    * Units: values are gCO2e/kWh, one per slot. :meth:`forecast` is hourly and in UTC: its
      points are the hours from ``ceil_hour(origin)``, each value ``>= 0``. :meth:`matrix` works
      in slots of ``24 / slots_per_day`` hours (hourly unless a model is built otherwise).
    * No look-ahead: :meth:`forecast` slices the history to the hours stamped strictly before
      the origin *before* any model code sees it, and row ``i`` of :meth:`matrix` depends only on
      ``values[:origins[i]]``, so a backtest can be trusted. The one exception is a model whose
      :attr:`uses_future` is True (the oracles): it reads the future, exists for backtests only,
      and is never used to plan real jobs.
    * Thread safety: a forecaster holds configuration, not fitted state (every call refits), and
      its configuration does not change after construction, so one instance may be shared
      between threads. (:class:`AnchoredForecaster` keeps a memo of rows: concurrent calls may
      compute a row twice, never a wrong one.)

    Subclasses implement :meth:`_predict` and set :attr:`name` and :attr:`min_history_h`;
    vectorised models also override :meth:`matrix` (and set :attr:`vectorised`).

    Attributes:
        name: Model name, as in the registry (:func:`make_forecaster`).
        min_history_h: Fewest hours of history the model needs.
        uses_future: True for models that read the future (backtests only).
        vectorised: True when :meth:`matrix` works on bare arrays (no timestamps needed).
        slots_per_day: Slots in a day on the :meth:`matrix` path (24: hourly).
    """

    name: str = "forecaster"
    min_history_h: int = 24
    uses_future: bool = False
    vectorised: bool = False
    slots_per_day: int = 24

    @property
    def label(self) -> str:
        """The configured model in results and provenance (e.g. ``profile-blend(14d)``)."""
        return self.name

    @property
    def min_history(self) -> int:
        """Slots of history needed before the first forecast on the :meth:`matrix` path."""
        return self.min_history_h * self.slots_per_day // 24

    def forecast(
        self, history: IntensitySeries, *, origin: datetime, horizon_h: int = 24
    ) -> IntensitySeries:
        """Forecast ``horizon_h`` hourly values from the first hour at or after ``origin``.

        Args:
            history: Past values of the zone (any length; only hours before ``origin`` are used).
            origin: Issue time, timezone-aware; the first forecast hour is ``ceil_hour(origin)``.
            horizon_h: Number of hourly points, 1..168.

        Returns:
            A ``kind="forecast"`` series starting at ``ceil_hour(origin)``, gCO2e/kWh.

        Raises:
            InvalidValueError: ``horizon_h`` out of range or ``origin`` naive.
            ForecastError: Not enough history before the origin, or it ends too long before it.
        """
        if not 1 <= horizon_h <= MAX_HORIZON_H:
            raise InvalidValueError(f"horizon must be 1..{MAX_HORIZON_H} hours, got {horizon_h!r}")
        start = ceil_hour(origin)
        past = history.before(origin)
        if len(past) < self.min_history_h:
            raise ForecastError(
                f"{self.name} needs at least {self.min_history_h} h of {history.zone} data before "
                f"{start.isoformat()}, got {len(past)} h; give a longer trace or a later --now"
            )
        if self.min_history_h == 0 or not len(past):
            lead, first = 0, start  # a model that needs no history forecasts from the origin
        else:
            lead, first = int((start - past.end) // _HOUR), past.end
        if lead > MAX_LEAD_H:
            raise ForecastError(
                f"the {history.zone} history ends at {past.end.isoformat()}, {lead} h before the "
                f"forecast origin {start.isoformat()} (at most {MAX_LEAD_H} h); give recent data"
            )
        raw, label = self._predict(past, steps=lead + horizon_h, first=first)
        values = np.clip(np.asarray(raw, dtype=np.float64)[lead:], 0.0, None)
        notes = (
            f"from {start.isoformat()}, using {len(past)} h of history ({past.source})"
            if len(past)
            else f"from {start.isoformat()}, without history",
        )
        return IntensitySeries(
            zone=history.zone,
            start=start,
            values_g_per_kwh=values,
            source=f"forecast:{label}",
            signal=history.signal,
            scope=history.scope,
            kind="forecast",
            notes=notes,
        )

    def forecast_values(self, history: FloatArray, horizon: int) -> FloatArray:
        """The ``horizon`` slots after ``history`` (which ends just before the origin).

        Raises:
            ForecastError: Too little history.
        """
        h = np.asarray(history, dtype=float)
        if h.size < self.min_history:
            raise ForecastError(
                f"{self.label} needs at least {self.min_history} slots of history before the "
                f"forecast origin, got {h.size}"
            )
        out: FloatArray = self.matrix(h, np.array([h.size], dtype=np.int64), horizon)[0]
        return out

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        """Forecasts for many origins of one series: shape ``(len(origins), horizon)``.

        Args:
            values: The series, one value per slot.
            origins: Forecast origins (slot indices; each ``>= min_history``).
            horizon: Slots to forecast after each origin.

        Raises:
            ForecastError: The model needs timestamps (wrap it in :class:`AnchoredForecaster`),
                or an origin is out of range.
        """
        raise ForecastError(
            f"{self.name} needs timestamps to forecast many origins of a bare array; wrap it in "
            "AnchoredForecaster(model, start=..., zone=...)"
        )

    @abstractmethod
    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        """Return ``steps`` values for the hours from ``first`` (= ``past.end``) and the label."""


def check_origins(model: Forecaster, values: FloatArray, origins: IntArray) -> IntArray:
    """``origins`` as int64, each in ``[model.min_history, len(values)]``; else ForecastError."""
    o = np.asarray(origins, dtype=np.int64)
    if o.size and (o.min() < model.min_history or o.max() > len(values)):
        raise ForecastError(
            f"{model.label}: forecast origins must lie in [{model.min_history}, {len(values)}], "
            f"got {int(o.min())}..{int(o.max())}"
        )
    return o


def check_slots_per_day(slots_per_day: int) -> int:
    """``slots_per_day`` if >= 1; else InvalidValueError."""
    if slots_per_day < 1:
        raise InvalidValueError(f"slots_per_day must be >= 1, got {slots_per_day!r}")
    return slots_per_day


def same_slot_before(origins: IntArray, horizon: int, period: int, back: int) -> IntArray:
    """Index of the value ``back`` periods before the most recent same-phase slot pre-origin.

    For target ``o + h`` the most recent slot of the same phase before ``o`` is
    ``o + h - period * (h // period + 1)``; ``back`` moves further into the past.
    """
    h = np.arange(horizon)
    lag = period * (h // period + 1 + back)
    out: IntArray = origins[:, None] + h[None, :] - lag[None, :]
    return out


def seasonal_naive(y: FloatArray, steps: int) -> FloatArray:
    """The last day of ``y`` (24 values) repeated over ``steps`` hours."""
    last_day = y[-24:]
    return np.asarray(np.resize(last_day, steps), dtype=np.float64)


class SeasonalNaiveForecaster(Forecaster):
    """Same slot yesterday: the value one day before each forecast slot (the last observed day
    repeats for horizons beyond a day). Vectorised.

    Args:
        slots_per_day: Slots in a day on the :meth:`matrix` path.
    """

    name = "seasonal-naive"
    min_history_h = 24
    vectorised = True

    def __init__(self, *, slots_per_day: int = 24) -> None:
        self.slots_per_day = check_slots_per_day(slots_per_day)

    def matrix(self, values: FloatArray, origins: IntArray, horizon: int) -> FloatArray:
        o = check_origins(self, values, origins)
        x = np.asarray(values, dtype=float)
        out: FloatArray = x[same_slot_before(o, horizon, self.slots_per_day, 0)]
        return out

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        return seasonal_naive(past.values_g_per_kwh, steps), self.name
