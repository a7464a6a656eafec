"""``GreenWindowTrigger``: the triggerer's half of the green-window sensor (no worker slot held)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from lowcarb.integrations.airflow._clock import WindowClock
from lowcarb.integrations.airflow._deps import missing_airflow
from lowcarb.integrations.airflow._window import (
    MAX_SLEEP_S,
    WindowPlanner,
    WindowRequest,
    iso,
    wait_for_window,
)
from lowcarb.scheduling import Plan

try:
    from airflow.triggers.base import BaseTrigger, TriggerEvent
except ModuleNotFoundError as exc:  # the optional extra; see lowcarb.integrations.airflow
    raise missing_airflow(exc) from None

__all__ = ["GreenWindowTrigger"]

#: The public path Airflow re-imports the trigger from (``serialize()``'s classpath).
CLASSPATH = "lowcarb.integrations.airflow.GreenWindowTrigger"


class GreenWindowTrigger(BaseTrigger):
    """Fires when the planned green window opens; re-plans with fresher forecasts meanwhile.

    Runs in Airflow's triggerer (``asyncio``): it sleeps in chunks of at most a minute until the
    planned start, re-plans at most every ``request["replan_every_s"]`` clock seconds (the
    planning itself runs in a worker thread), and never waits past the latest start that meets
    the deadline. It then yields one :class:`~airflow.triggers.base.TriggerEvent` whose payload
    is a :class:`WindowOutcome` as a dict (the first plan, the plan released on, when, how many
    re-plans), with the request and the clock. Every argument is plain JSON, so ``serialize()``
    round-trips exactly.

    Args:
        request: The job (:meth:`WindowRequest.to_dict`).
        first_plan: The plan the sensor made (``Plan.to_dict()``).
        clock: The sensor's clock (:meth:`WindowClock.to_dict`): the wall clock or a replay.
        max_sleep_s: The longest single sleep, real seconds.
    """

    def __init__(
        self,
        *,
        request: Mapping[str, Any],
        first_plan: Mapping[str, Any],
        clock: Mapping[str, Any] | None = None,
        max_sleep_s: float = MAX_SLEEP_S,
    ) -> None:
        # Airflow leaves these two constructors untyped (checked against Airflow's own types
        # where it is installed; without it, the ignores are unused).
        super().__init__()  # type: ignore[no-untyped-call, unused-ignore]
        # Parsed here, so a malformed argument fails when the sensor defers, not in the triggerer.
        self._request = WindowRequest.from_dict(request)
        self._clock = WindowClock.from_dict(clock or {})
        self.first_plan = dict(first_plan)
        self.max_sleep_s = float(max_sleep_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The classpath and keyword arguments that re-create this trigger."""
        return (
            CLASSPATH,
            {
                "request": self._request.to_dict(),
                "first_plan": self.first_plan,
                "clock": self._clock.to_dict(),
                "max_sleep_s": self.max_sleep_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the window, then yield one event with the outcome."""
        planner = WindowPlanner(self._request, environ=os.environ)

        def replan(now: datetime) -> Plan:
            return planner.plan(now, on_error="raise")  # a failed re-plan keeps the last plan

        outcome = await wait_for_window(
            self._request,
            self.first_plan,
            clock=self._clock,
            replan=replan,
            max_sleep_s=self.max_sleep_s,
        )
        self.log.info(
            "green window open at %s (planned start %s, %d re-plans)",
            iso(outcome.released_at),
            outcome.plan.get("start"),
            outcome.replans,
        )
        # The request and clock travel with the event: the sensor resumes with nothing else
        # (``dag.test()`` passes the event alone, without the deferral's kwargs).
        payload = outcome.to_dict()
        payload |= {"request": self._request.to_dict(), "clock": self._clock.to_dict()}
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call, unused-ignore]
