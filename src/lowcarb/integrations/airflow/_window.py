"""The green window itself, without Airflow: what to plan, how to plan it, how to wait for it.

:class:`WindowRequest` is the job a sensor gates (zone, duration, hard deadline, forecast source),
as plain data; :class:`WindowPlanner` plans it with :func:`lowcarb.scheduling.plan_from_source`;
:func:`wait_for_window` is the trigger's loop: sleep (in chunks, on an injected clock) until the
planned start, re-plan with a fresher forecast at most every ``replan_every_s``, never past the
latest start that meets the deadline. :class:`WindowOutcome` is what the loop reports.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcarb.errors import InvalidValueError, LowcarbError
from lowcarb.grid import IntensitySource
from lowcarb.integrations.airflow._clock import WindowClock
from lowcarb.integrations.airflow._forecast import ForecastSpec
from lowcarb.scheduling import JobSpec, OnForecastError, Plan, check_feasible, plan_from_source
from lowcarb.units import MAX_DURATION, parse_timestamp

__all__ = [
    "MAX_SLEEP_S",
    "WindowOutcome",
    "WindowPlanner",
    "WindowRequest",
    "iso",
    "wait_for_window",
]

log = logging.getLogger(__name__)

#: The longest single sleep of the wait, real seconds: the clock is re-read at least this often,
#: so a wall-clock jump (NTP, a suspended VM) delays the release by at most this much.
MAX_SLEEP_S = 60.0
#: The shortest re-planning interval, clock seconds: forecasts are hourly, so re-planning more
#: often than every minute only repeats the same plan.
MIN_REPLAN_S = 60.0
_HOUR_S = 3600.0


def iso(t: datetime) -> str:
    """``2022-03-01T10:00:00Z``: ISO 8601 UTC, as in plans; sub-second digits are kept when set
    (a replayed release time is rarely on a whole second).

    Raises:
        InvalidValueError: A naive time.
    """
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidValueError(f"expected a timezone-aware time, got the naive {t.isoformat()!r}")
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """A job to start in its greenest window: where, for how long, finished by when.

    Attributes:
        zone: Electricity Maps zone id or cloud region the job runs in.
        duration_h: How long the job runs once released, hours (> 0).
        deadline: When it must be finished (timezone-aware). Hard: the release comes no later
            than ``deadline - duration``.
        forecast: Where forecasts come from.
        power_w: The job's power draw, watts, for grams in the plan (None: unknown).
        replan_every_s: Re-plan with a fresher forecast at most this often while waiting, clock
            seconds (>= 60), or None to keep the first plan.
    """

    zone: str
    duration_h: float
    deadline: datetime
    forecast: ForecastSpec = field(default_factory=ForecastSpec)
    power_w: float | None = None
    replan_every_s: float | None = _HOUR_S

    def __post_init__(self) -> None:
        if not isinstance(self.zone, str) or not self.zone.strip():
            raise InvalidValueError(f"zone must be a zone id such as 'DE', got {self.zone!r}")
        every = self.replan_every_s
        if every is not None and not (math.isfinite(every) and every >= MIN_REPLAN_S):
            raise InvalidValueError(
                f"replan_every must be at least {MIN_REPLAN_S:g} s (forecasts are hourly), "
                f"got {every!r} s; or None to keep the first plan"
            )
        self.job()  # a bad duration, deadline or power fails here, naming the value

    @property
    def latest_start(self) -> datetime:
        """The latest release that still meets the deadline."""
        return self.deadline - timedelta(hours=self.duration_h)

    def job(self) -> JobSpec:
        """The job as the planner sees it (one contiguous run)."""
        return JobSpec(duration_h=self.duration_h, deadline=self.deadline, power_w=self.power_w)

    def check_feasible(self, now: datetime) -> None:
        """Reject a deadline that leaves no room, naming the sensor's parameters.

        Raises:
            InvalidValueError: The deadline is not after ``now + duration`` (or too far).
        """
        if self.deadline - now < timedelta(hours=self.duration_h):
            left_h = max(0.0, (self.deadline - now).total_seconds() / _HOUR_S)
            raise InvalidValueError(
                f"deadline {iso(self.deadline)} leaves {left_h:.2f} h after {iso(now)} but the "
                f"job takes {self.duration_h:g} h; give a later deadline= or a shorter duration="
            )
        check_feasible(self.job(), now)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, for a trigger's keyword arguments and the ledger record."""
        return {
            "zone": self.zone,
            "duration_h": self.duration_h,
            "deadline": iso(self.deadline),
            "forecast": self.forecast.to_dict(),
            "power_w": self.power_w,
            "replan_every_s": self.replan_every_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowRequest:
        """The request :meth:`to_dict` described.

        Raises:
            InvalidValueError: A missing or malformed field.
        """
        try:
            power = data.get("power_w")
            every = data.get("replan_every_s")
            return cls(
                zone=str(data["zone"]),
                duration_h=float(data["duration_h"]),
                deadline=parse_timestamp(str(data["deadline"]), what="deadline"),
                forecast=ForecastSpec.from_dict(data.get("forecast") or {}),
                power_w=None if power is None else float(power),
                replan_every_s=None if every is None else float(every),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidValueError):
                raise
            raise InvalidValueError(
                f"not a green-window request ({exc!r}): {dict(data)!r}"
            ) from None


def parse_deadline(deadline: str | datetime | timedelta, *, now: datetime) -> datetime:
    """A deadline given as an ISO time, a datetime, or a duration after ``now`` (``"12h"``).

    Raises:
        InvalidValueError: Unparseable, naive, or more than a year after ``now``.
    """
    if isinstance(deadline, timedelta):
        if deadline > MAX_DURATION:
            raise InvalidValueError(f"deadline {deadline} is more than a year away")
        return now + deadline
    if isinstance(deadline, datetime):
        return parse_timestamp(deadline.isoformat(), what="deadline")
    return parse_timestamp(str(deadline), now=now, what="deadline")


class WindowPlanner:
    """Plans one :class:`WindowRequest`, opening its forecast source once for every re-plan.

    Not thread-safe: one plan at a time (the trigger re-plans in one worker thread).

    Args:
        request: What to plan.
        environ: Environment for provider credentials.
    """

    def __init__(self, request: WindowRequest, *, environ: Mapping[str, str]) -> None:
        self.request = request
        self._environ = environ
        self._source: IntensitySource | None = None

    def plan(self, now: datetime, *, on_error: OnForecastError | None = None) -> Plan:
        """The best plan at ``now`` (``on_error``: the spec's default for a first plan).

        Raises:
            InvalidValueError: The deadline leaves no room at ``now``.
            LowcarbError: The source failed and ``on_error`` is ``"raise"``.
        """
        request = self.request
        request.check_feasible(now)
        if self._source is None:
            self._source = request.forecast.open(request.zone, environ=self._environ)
        return plan_from_source(
            request.job(),
            [request.zone],
            self._source,
            now=now,
            on_forecast_error=on_error or request.forecast.on_error,
        )


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    """How a wait ended: the first plan, the plan it released on, when, after how many re-plans.

    Attributes:
        first_plan: The plan made when the sensor started (``Plan.to_dict()``): its
            ``now_intensity_g_per_kwh`` is what starting at once would have cost.
        plan: The plan the release followed (the first one, or the last re-plan).
        released_at: When the window opened, on the sensor's clock.
        replans: How many re-plans succeeded while waiting.
        replan_errors: Why re-plans failed (the previous plan was kept each time), newest last.
    """

    first_plan: Mapping[str, Any]
    plan: Mapping[str, Any]
    released_at: datetime
    replans: int = 0
    replan_errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: a trigger event's payload."""
        return {
            "first_plan": dict(self.first_plan),
            "plan": dict(self.plan),
            "released_at": iso(self.released_at),
            "replans": self.replans,
            "replan_errors": list(self.replan_errors),
        }

    @classmethod
    def from_dict(cls, data: Any) -> WindowOutcome:
        """The outcome :meth:`to_dict` described (a trigger event's payload).

        Raises:
            InvalidValueError: Not such a payload.
        """
        try:
            first, plan = data["first_plan"], data["plan"]
            if not isinstance(first, Mapping) or not isinstance(plan, Mapping):
                raise TypeError("plans must be mappings")
            return cls(
                first_plan=dict(first),
                plan=dict(plan),
                released_at=parse_timestamp(str(data["released_at"]), what="released_at"),
                replans=int(data.get("replans", 0)),
                replan_errors=tuple(str(e) for e in data.get("replan_errors", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidValueError):
                raise
            raise InvalidValueError(
                f"not a green-window event ({exc!r}): {str(data)[:200]!r}"
            ) from None


#: How many re-plan errors an outcome keeps (the newest): a flaky provider over a long wait
#: must not grow the trigger event without bound.
_MAX_ERRORS = 10


async def wait_for_window(
    request: WindowRequest,
    first_plan: Mapping[str, Any],
    *,
    clock: WindowClock,
    replan: Callable[[datetime], Plan] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    max_sleep_s: float = MAX_SLEEP_S,
) -> WindowOutcome:
    """Wait until the planned start, re-planning at most every ``request.replan_every_s``.

    The wait never passes the latest start that meets the deadline: every plan starts by then,
    and a re-plan that fails keeps the previous plan (its error is reported). Re-plans run in a
    worker thread (``asyncio.to_thread``), so a slow provider never blocks the event loop.

    Args:
        request: The job.
        first_plan: The plan made when the sensor started (``Plan.to_dict()``).
        clock: The sensor's clock (wall or replay).
        replan: Plans at a time (default: none, keep the first plan).
        sleep: Awaitable sleep, real seconds (injected for tests).
        max_sleep_s: The longest single sleep, real seconds.

    Raises:
        InvalidValueError: A first plan without a valid ``start`` or ``issued_at``.
    """
    current = dict(first_plan)
    start = parse_timestamp(str(current.get("start")), what="plan start")
    planned_at = parse_timestamp(str(current.get("issued_at")), what="plan issue time")
    latest = request.latest_start
    every = request.replan_every_s if replan is not None else None
    replans = 0
    errors: list[str] = []
    while True:
        now = clock.now()
        if now >= start or now >= latest:
            return WindowOutcome(
                first_plan=dict(first_plan),
                plan=current,
                released_at=now,
                replans=replans,
                replan_errors=tuple(errors[-_MAX_ERRORS:]),
            )
        due = None if every is None else planned_at + timedelta(seconds=every)
        if replan is not None and due is not None and now >= due:
            planned_at = now
            try:
                fresh = await asyncio.to_thread(replan, now)
            except LowcarbError as exc:
                log.warning(
                    "re-plan at %s failed; keeping the plan for %s: %s", iso(now), start, exc
                )
                errors.append(f"{iso(now)}: {exc}")
            else:
                current, start, replans = fresh.to_dict(), fresh.start, replans + 1
                log.info("re-planned at %s: start %s", iso(now), iso(start))
            continue
        target = min(start, latest) if due is None else min(start, latest, due)
        wait_s = clock.real_seconds((target - now).total_seconds())
        await sleep(min(wait_s, max_sleep_s))
