"""Scheduling types: what a job needs, what a forecast gives, what a plan says."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lowcarb.errors import InvalidValueError

__all__ = ["JobSpec", "Plan", "Slot", "ZoneForecast", "ZoneOption", "isoformat_utc"]


def isoformat_utc(t: datetime) -> str:
    """``2022-03-01T10:00:00Z``: ISO 8601 in UTC with a ``Z``."""
    if t.tzinfo is None:
        raise InvalidValueError(f"expected a timezone-aware time, got the naive {t.isoformat()!r}")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_aware(t: datetime, what: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidValueError(
            f"{what} must be timezone-aware (UTC), got the naive {t.isoformat()!r}; add +00:00 or Z"
        )


#: The largest job power accepted, watts: a gigawatt is beyond any data centre; larger values
#: are typos (and 1e300 W would overflow every energy figure to infinity).
MAX_POWER_W = 1e9


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One concrete job to place in time (and space), with an absolute deadline.

    This is what ``lowcarb plan``, ``lowcarb submit`` and the job worker plan. A backtest's
    :class:`Workload` is the same job with a deadline *relative* to its submission, submitted
    over and over; :meth:`Workload.job` gives the ``JobSpec`` of one submission.

    Attributes:
        duration_h: How long the job runs, hours (> 0).
        deadline: When it must be finished (timezone-aware). Hard: plans always finish by then.
        interruptible: Whether it may be paused and resumed (checkpointing).
        min_chunk_h: For interruptible jobs, the shortest run between pauses, hours.
        pause_overhead_h: For interruptible jobs, the extra run time each resume costs
            (checkpoint restore, warm-up), hours, charged at the resume slot's intensity.
        power_w: Power drawn while running: a constant (W), a curve of watts spread evenly
            over the job's duration, or None (unknown: plans rank by intensity and report no
            grams).
    """

    duration_h: float
    deadline: datetime
    interruptible: bool = False
    min_chunk_h: float = 1.0
    pause_overhead_h: float = 0.0
    power_w: float | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_h) and self.duration_h > 0):
            raise InvalidValueError(
                f"job duration must be > 0 hours, got {self.duration_h!r}; e.g. --duration 2h"
            )
        _require_aware(self.deadline, "the deadline")
        for name in ("min_chunk_h", "pause_overhead_h"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidValueError(f"{name} must be a number >= 0, got {value!r}")
        p = self.power_w
        if isinstance(p, tuple):
            if not p or any(not (math.isfinite(v) and 0 <= v <= MAX_POWER_W) for v in p):
                raise InvalidValueError(
                    f"power curve must be numbers >= 0 and <= {MAX_POWER_W:g} W, got {list(p)!r}"
                )
        elif p is not None and not (math.isfinite(p) and 0 <= p <= MAX_POWER_W):
            raise InvalidValueError(
                f"power must be a number >= 0 and <= {MAX_POWER_W:g} W, got {p!r}"
            )

    @property
    def duration(self) -> timedelta:
        """The duration as a timedelta."""
        return timedelta(hours=self.duration_h)

    @property
    def power_kw(self) -> float | tuple[float, ...] | None:
        """Power in kW (constant or curve), or None when unknown."""
        p = self.power_w
        if p is None:
            return None
        if isinstance(p, tuple):
            return tuple(v / 1000.0 for v in p)
        return p / 1000.0

    @property
    def mean_power_kw(self) -> float:
        """Mean power in kW (a nominal 1 kW when unknown)."""
        p = self.power_kw
        if p is None:
            return 1.0
        return float(np.mean(p)) if isinstance(p, tuple) else p


@dataclass(frozen=True, slots=True)
class ZoneForecast:
    """Expected intensity of one zone over equally spaced slots.

    Attributes:
        zone: Zone id.
        start: Start of the first slot (timezone-aware).
        step_s: Slot length, seconds.
        values_g_per_kwh: Expected intensity per slot, gCO2e/kWh.
        model: What produced the values (``"seasonal-naive"``, ``"oracle:trace"``, ...).
        issued_at: The forecast origin: only data strictly before it was used.
        latest_observed_g_per_kwh: The last observed value before ``issued_at``, if known.
        notes: Caveats (extended horizon, stale data, ...).
    """

    zone: str
    start: datetime
    step_s: int
    values_g_per_kwh: NDArray[np.float64]
    model: str
    issued_at: datetime
    latest_observed_g_per_kwh: float | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_aware(self.start, "the forecast start")
        _require_aware(self.issued_at, "the forecast issue time")
        values = np.asarray(self.values_g_per_kwh, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise InvalidValueError(f"forecast for {self.zone!r} has no values")
        if not np.all(np.isfinite(values)):
            raise InvalidValueError(f"forecast for {self.zone!r} has non-finite values")
        if self.step_s <= 0:
            raise InvalidValueError(f"forecast step must be > 0 s, got {self.step_s!r}")
        values = values.copy()
        values.setflags(write=False)
        object.__setattr__(self, "values_g_per_kwh", values)

    @property
    def step(self) -> timedelta:
        """Slot length."""
        return timedelta(seconds=self.step_s)

    @property
    def end(self) -> datetime:
        """End of the last slot."""
        return self.start + self.step * len(self.values_g_per_kwh)


@dataclass(frozen=True, slots=True)
class Slot:
    """A run of the job, ``[start, end)``."""

    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        """``{start, end}`` in ISO 8601 UTC."""
        return {"start": isoformat_utc(self.start), "end": isoformat_utc(self.end)}


@dataclass(frozen=True, slots=True)
class ZoneOption:
    """The best plan found in one candidate zone (for a spatial choice)."""

    zone: str
    start: datetime
    expected_intensity_g_per_kwh: float
    penalty_co2e_g: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "zone": self.zone,
            "start": isoformat_utc(self.start),
            "expected_intensity_g_per_kwh": self.expected_intensity_g_per_kwh,
            "penalty_co2e_g": self.penalty_co2e_g,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """When (and where) to run a job, and what that is expected to save.

    Attributes:
        zone: Where to run.
        start: When to start (the first slot's start).
        end: When the job is expected to finish (always <= the deadline).
        slots: The runs, ``[start, end)`` each (one for a non-interruptible job).
        interruptible: Whether the plan pauses the job between slots.
        expected_intensity_g_per_kwh: Energy-weighted mean forecast intensity of the plan.
        now_intensity_g_per_kwh: The same if the job started at once in the baseline zone
            (the first candidate zone).
        expected_co2e_g: Forecast emissions of the plan, grams (None without a job power).
        now_co2e_g: Forecast emissions of starting at once in the baseline zone (None likewise).
        latest_start: The latest start that still meets the deadline (contiguous run).
        deadline: The job's deadline.
        issued_at: When the plan was made ("now"); only data before it was used.
        forecast_model: The forecast behind the plan.
        baseline_zone: The zone the ``now_*`` figures refer to.
        fallback: Why the plan is a fallback (forecast failed, ...), or None.
        options: The best plan per candidate zone, for spatial choices.
        notes: Caveats.
    """

    zone: str
    start: datetime
    end: datetime
    slots: tuple[Slot, ...]
    interruptible: bool
    expected_intensity_g_per_kwh: float
    now_intensity_g_per_kwh: float
    expected_co2e_g: float | None
    now_co2e_g: float | None
    latest_start: datetime
    deadline: datetime
    issued_at: datetime
    forecast_model: str
    baseline_zone: str
    fallback: str | None = None
    options: tuple[ZoneOption, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def expected_savings_pct(self) -> float:
        """Forecast saving versus starting at once in the baseline zone, percent."""
        now = self.now_intensity_g_per_kwh
        if not now > 0:
            return 0.0 if now == 0 else float("nan")
        return 100.0 * (now - self.expected_intensity_g_per_kwh) / now

    @property
    def wait(self) -> timedelta:
        """How long the plan waits before starting."""
        return max(self.start - self.issued_at, timedelta(0))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the ``lowcarb plan`` contract (DESIGN.md)."""
        out: dict[str, Any] = {
            "zone": self.zone,
            "start": isoformat_utc(self.start),
            "end": isoformat_utc(self.end),
            "expected_intensity_g_per_kwh": _finite(self.expected_intensity_g_per_kwh),
            "now_intensity_g_per_kwh": _finite(self.now_intensity_g_per_kwh),
            "expected_savings_pct": _finite(self.expected_savings_pct),
            "expected_co2e_g": self.expected_co2e_g,
            "now_co2e_g": self.now_co2e_g,
            "wait_h": self.wait.total_seconds() / 3600.0,
            "latest_start": isoformat_utc(self.latest_start),
            "deadline": isoformat_utc(self.deadline),
            "issued_at": isoformat_utc(self.issued_at),
            "interruptible": self.interruptible,
            "forecast_model": self.forecast_model,
            "baseline_zone": self.baseline_zone,
            "fallback": self.fallback,
            "notes": list(self.notes),
        }
        if self.interruptible:
            out["slots"] = [s.to_dict() for s in self.slots]
        if len(self.options) > 1:
            out["options"] = [o.to_dict() for o in self.options]
        return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def as_power(value: float | Sequence[float] | None) -> float | tuple[float, ...] | None:
    """Normalise a power argument (W) to what :class:`JobSpec` stores."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    return tuple(float(v) for v in value)
