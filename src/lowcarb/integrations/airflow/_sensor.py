"""``GreenWindowSensor``: wait for the greenest window before a deadline, holding no worker slot."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lowcarb.errors import DataError, ForecastError, UnknownNameError, UsageError
from lowcarb.integrations.airflow._clock import WindowClock
from lowcarb.integrations.airflow._deps import missing_airflow
from lowcarb.integrations.airflow._forecast import ForecastSpec
from lowcarb.integrations.airflow._ledger import LedgerTarget, airflow_ids
from lowcarb.integrations.airflow._record import append_decision, decision_metadata
from lowcarb.integrations.airflow._trigger import GreenWindowTrigger
from lowcarb.integrations.airflow._window import (
    WindowOutcome,
    WindowPlanner,
    WindowRequest,
    iso,
    parse_deadline,
)
from lowcarb.units import parse_duration

try:
    from airflow.sdk import BaseSensorOperator
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ModuleNotFoundError as exc:  # the optional extra; see lowcarb.integrations.airflow
    raise missing_airflow(exc) from None

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["GreenWindowSensor"]

#: Errors of the DAG's input (a deadline without room, an unknown zone, an unreadable trace, a
#: trace that cannot forecast): a retry cannot fix them, so the task fails for good, in one line.
#: A provider or ledger outage is not among them: Airflow retries those.
_BAD_INPUT = (UsageError, UnknownNameError, DataError, ForecastError)


class GreenWindowSensor(BaseSensorOperator):
    """Release downstream tasks in the lowest-carbon window that still meets a hard deadline.

    When the sensor runs it plans the job it gates with :mod:`lowcarb.scheduling` (the
    greenest contiguous ``duration`` in ``zone`` that finishes by ``deadline``). If the window
    is now it succeeds at once; otherwise it *defers* to :class:`GreenWindowTrigger`, which
    waits in Airflow's triggerer (no worker slot is held), re-planning with fresher forecasts at
    most every ``replan_every``, and never past ``deadline - duration``. On release it appends a
    ``schedule`` record to the ledger (planned vs immediate intensity; see
    :mod:`lowcarb.integrations.airflow`) and returns the decision, which Airflow pushes to
    XCom (``return_value``: the record's metadata plus ``record_id``).

    Bad input (an unknown zone, a deadline that leaves no room, an unreadable trace) fails the
    task at once with a one-line message and no retry (skipped instead with ``soft_fail=True``);
    a provider or ledger outage raises as it is, for Airflow to retry. ``mode`` and
    ``poke_interval`` do not apply: the sensor always defers.

    Args:
        zone: Zone id or cloud region the gated work runs in (templated).
        duration: How long the gated work runs (``"2h"``, ``"90m"`` or a timedelta).
        deadline: When the gated work must be finished: an ISO 8601 time, or a duration after
            the sensor starts (``"12h"``); templated, e.g. ``"{{ data_interval_end }}"``.
        trace: A trace CSV to replay as the forecast source (templated); default: the embedded
            month x hour-of-day profile (offline).
        provider: A live forecast provider (``electricitymaps``, ``watttime``, ``ukci``;
            credentials from the environment); a failed forecast falls back to starting at
            once, labelled in the record.
        forecast_model: The forecast model for ``trace`` (default ``profile-blend``).
        power_w: The gated work's power, watts (plans then report grams); optional.
        replan_every: Re-plan at most this often while waiting (default ``"1h"``), or None.
        ledger: Ledger URL (``""``: record nowhere); default: ``ledger_conn_id``, then
            ``LOWCARB_LEDGER`` / the lowcarb config file.
        ledger_conn_id: An Airflow connection whose extra holds ``ledger_url``.
        team, project, model, stage: Attribution of the decision record.
        replay_from: Replay time instead of the wall clock: the sensor's clock reads this when
            it starts and runs ``replay_speed`` times faster (a trace replayed in a demo or a
            test, as ``lowcarb worker --now --speed``).
        replay_speed: Clock seconds per real second of a replay (3600: an hour a second).
        **kwargs: :class:`~airflow.sdk.BaseSensorOperator` arguments (``task_id``, ...).

    Raises:
        UsageError: Contradictory or malformed arguments, when the DAG is parsed.
    """

    template_fields: Sequence[str] = ("zone", "deadline", "trace")
    ui_color = "#c8e6c9"

    def __init__(
        self,
        *,
        zone: str,
        duration: str | timedelta,
        deadline: str | datetime | timedelta,
        trace: str | None = None,
        provider: str | None = None,
        forecast_model: str | None = None,
        power_w: float | None = None,
        replan_every: str | timedelta | None = "1h",
        ledger: str | None = None,
        ledger_conn_id: str | None = None,
        team: str | None = None,
        project: str | None = None,
        model: str | None = None,
        stage: str | None = None,
        replay_from: str | None = None,
        replay_speed: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.zone = zone
        self.deadline = deadline
        self.trace = trace
        self.provider = provider
        self.forecast_model = forecast_model
        self.power_w = power_w
        self.duration_h = _hours(duration, what="duration")
        self.replan_every_s = (
            None if replan_every is None else _hours(replan_every, what="replan_every") * 3600.0
        )
        self.ledger_target = LedgerTarget.build(
            ledger=ledger,
            ledger_conn_id=ledger_conn_id,
            team=team,
            project=project,
            model=model,
            stage=stage,
        )
        self.replay_from = replay_from
        self.replay_speed = replay_speed
        # Checked now, so that a DAG with contradictory arguments fails to import.
        self._forecast()
        self._clock(anchor_epoch_s=0.0)

    # -- building blocks ------------------------------------------------------------------------
    def _forecast(self) -> ForecastSpec:
        return ForecastSpec(trace=self.trace, provider=self.provider, model=self.forecast_model)

    def _clock(self, anchor_epoch_s: float | None = None) -> WindowClock:
        if self.replay_from is None:
            if self.replay_speed != 1.0:
                raise UsageError(
                    f"replay_speed={self.replay_speed!r} needs replay_from= (a replay starts at a "
                    "given time)"
                )
            return WindowClock()
        clock = WindowClock.replay(self.replay_from, speed=self.replay_speed)
        if anchor_epoch_s is None:
            return clock
        return WindowClock(start=clock.start, speed=clock.speed, anchor_epoch_s=anchor_epoch_s)

    def _request(self, now: datetime) -> WindowRequest:
        request = WindowRequest(
            zone=str(self.zone).strip(),
            duration_h=self.duration_h,
            deadline=parse_deadline(self.deadline, now=now),
            forecast=self._forecast(),
            power_w=self.power_w,
            replan_every_s=self.replan_every_s,
        )
        request.check_feasible(now)
        return request

    def _fail(self, exc: Exception) -> Exception:
        """Bad input: fail without retries (or skip with ``soft_fail``), in one line."""
        message = f"{self.task_id}: {exc}"
        kind: type[Exception] = AirflowSkipException if self.soft_fail else AirflowFailException
        return kind(message)

    # -- Airflow entry points -------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        """Plan; succeed at once if the window is now, else defer to the trigger."""
        clock = self._clock()
        now = clock.now()
        try:
            request = self._request(now)
            plan = WindowPlanner(request, environ=os.environ).plan(now)
            self.ledger_target.url_argument()  # a missing connection fails now, not after the wait
        except _BAD_INPUT as exc:
            raise self._fail(exc) from exc
        if plan.start > now:
            self.log.info(
                "deferring until %s: %.0f gCO2e/kWh expected vs %.0f at once (%s)",
                iso(plan.start),
                plan.expected_intensity_g_per_kwh,
                plan.now_intensity_g_per_kwh,
                plan.forecast_model,
            )
            self.defer(  # raises: the worker slot is freed until the trigger fires
                trigger=GreenWindowTrigger(
                    request=request.to_dict(), first_plan=plan.to_dict(), clock=clock.to_dict()
                ),
                method_name="execute_complete",
            )
        first = plan.to_dict()
        outcome = WindowOutcome(first_plan=first, plan=first, released_at=now)
        return self._release(context, request, outcome, clock)

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """The window opened: record the decision and return it (XCom)."""
        if not isinstance(event, dict):
            raise UsageError(f"{self.task_id}: not a green-window event: {str(event)[:200]!r}")
        outcome = WindowOutcome.from_dict(event)
        request = WindowRequest.from_dict(event.get("request") or {})
        clock = WindowClock.from_dict(event.get("clock") or {})
        return self._release(context, request, outcome, clock)

    def poke(self, context: Context) -> bool:
        """One check without waiting: whether the greenest window starts now.

        ``execute`` never pokes (it defers); this serves callers that poll the sensor's
        condition themselves.
        """
        now = self._clock().now()
        try:
            request = self._request(now)
            return WindowPlanner(request, environ=os.environ).plan(now).start <= now
        except _BAD_INPUT as exc:
            raise self._fail(exc) from exc

    # -- the decision record --------------------------------------------------------------------
    def _release(
        self, context: Context, request: WindowRequest, outcome: WindowOutcome, clock: WindowClock
    ) -> dict[str, Any]:
        ids = airflow_ids(context)
        url, attribution = self.ledger_target.resolve(who=f"GreenWindowSensor {self.task_id}")
        metadata = decision_metadata(request, outcome, ids=ids, clock=clock)
        record_id = None
        if url is not None:
            record_id = append_decision(url, attribution=attribution, metadata=metadata)
        saving = metadata["expected_savings_pct"]
        self.log.info(
            "green window open at %s (planned %s): %s gCO2e/kWh expected vs %s at once%s; "
            "ledger record %s",
            metadata["released_at"],
            metadata["planned_start"],
            _g(metadata["planned_intensity_g_per_kwh"]),
            _g(metadata["immediate_intensity_g_per_kwh"]),
            "" if saving is None else f" ({saving:.1f}% less)",
            record_id or "not written (ledger='')",
        )
        return {**metadata, "record_id": record_id}


def _hours(value: str | timedelta, *, what: str) -> float:
    if isinstance(value, timedelta):
        return parse_duration(f"{value.total_seconds()}s", what=what).total_seconds() / 3600.0
    return parse_duration(str(value), what=what).total_seconds() / 3600.0


def _g(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"
