"""Run one trial as a measured block that is stopped from inside when its budget share runs out.

The trial's work runs in a forked child process, measured by a :class:`~lowcarb.tracking.Tracker`
on the child's process tree. The parent is the watchdog:

- every ``poll_s`` it reads the spend so far (``Tracker.peek``), priced in the budget's unit;
- near what the trial holds it asks the store for more (``extend``); when none is left it stops the
  trial: at the next step boundary when the work reports steps, at once (the child is killed) when a
  step runs past what is held;
- every ``heartbeat_s`` it records the spend in the store, so a worker that dies mid-trial leaves a
  reservation others can reclaim at that spend.

The child waits for "go" until the tracker is counting, and after its work waits for "exit" until
the tracker has read its final CPU times, so the measurement covers exactly the work.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal

from lowcarb.energy import J_PER_KWH, Measurement
from lowcarb.grid import Footprint
from lowcarb.tracking import Tracker
from lowcarb.tuning._budget import BudgetStore, EnergyBudget, Reservation

__all__ = ["Step", "StepReporter", "TrialOutcome", "TrialStopped", "run_metered"]

log = logging.getLogger(__name__)

StopReason = Literal["budget", "pruned", "error"]


class TrialStopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the trial's work when the watchdog says stop (budget or pruning)."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Step:
    """One intermediate report: step number, validation value, and the spend at that moment.

    Attributes:
        step: The learner's step (epoch, boosting stage, ...).
        value: The validation metric after it.
        energy_j: Device energy the trial had used by then.
    """

    step: int
    value: float
    energy_j: float


class StepReporter:
    """What the trial's work calls after each step: ``reporter(step, value)`` returns True to go
    on; it raises :class:`TrialStopped` when the watchdog says stop."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def __call__(self, step: int, value: float) -> bool:
        self._conn.send(("step", int(step), float(value)))
        answer = self._conn.recv()
        if answer != "go-on":
            raise TrialStopped(answer)
        return True


@dataclass(frozen=True, slots=True)
class TrialOutcome:
    """What one measured trial produced.

    Attributes:
        result: What the work returned (None when it was stopped before returning).
        footprint: Its measured, priced footprint.
        cost: Its spend in the budget's unit.
        stop_reason: None when it ran to the end, else why it was stopped.
        steps: Intermediate reports.
        error: The child's error text, for ``stop_reason == "error"``.
        killed: Whether the child had to be killed (a step ran past what the trial held).
        reservation: The reservation as last extended.
    """

    result: dict[str, Any] | None
    footprint: Footprint
    cost: float
    stop_reason: StopReason | None
    steps: tuple[Step, ...] = ()
    error: str | None = None
    killed: bool = False
    reservation: Reservation | None = field(default=None, compare=False)


def cost_of(
    measurement: Measurement, *, budget: EnergyBudget, pue: float, g_per_kwh: float
) -> float:
    """The spend of a measurement in the budget's unit (facility energy = device x PUE)."""
    kwh = measurement.energy_j * pue / J_PER_KWH
    return kwh if budget.unit == "kwh" else kwh * g_per_kwh / 1000.0


def _child(work: Callable[[StepReporter], dict[str, Any]], conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    code = 0
    try:
        if conn.recv() != "go":
            return
        try:
            result = work(StepReporter(conn))
            conn.send(("done", result))
        except TrialStopped as stop:
            conn.send(("stopped", stop.reason))
        except Exception as exc:  # the trial's own failure is data for the parent
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            conn.send(("error", text[:2000]))
        conn.recv()  # "exit": the parent has read the final CPU times
    except (EOFError, BrokenPipeError):
        code = 1
    finally:
        os._exit(code)


def run_metered(
    work: Callable[[StepReporter], dict[str, Any]],
    *,
    tracker: Tracker,
    budget: EnergyBudget,
    store: BudgetStore,
    reservation: Reservation,
    extend_by: float,
    g_per_kwh: float,
    should_prune: Callable[[tuple[Step, ...]], bool] | None = None,
    poll_s: float = 0.05,
    heartbeat_s: float = 1.0,
    clock: Callable[[], float] = time.time,
) -> TrialOutcome:
    """Run ``work`` in a forked child under ``tracker`` within ``reservation``; see the module.

    Args:
        work: The trial: called in the child with a :class:`StepReporter`; returns a JSON-able dict.
        tracker: A fresh, unstarted tracker (its sinks get the trial's footprint).
        budget: The study's budget (for the unit).
        store: Where the reservation lives.
        reservation: What the trial holds.
        extend_by: How much more to ask for each time the trial nears what it holds.
        g_per_kwh: Intensity that prices spend for a CO2e budget while the trial runs.
        should_prune: Called with the steps so far after each step; True stops the trial.
        poll_s: Watchdog period.
        heartbeat_s: How often the spend is recorded in the store.
        clock: Wall clock for heartbeats (``time.time``).
    """
    ctx = multiprocessing.get_context("fork")
    parent, child_end = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(work, child_end), daemon=True)
    proc.start()
    child_end.close()
    pid = proc.pid
    assert pid is not None  # started above
    tracker.start(pid=pid)
    tracker.wait_ready(timeout_s=30.0)
    parent.send("go")
    steps: list[Step] = []
    result: dict[str, Any] | None = None
    stop: StopReason | None = None
    error: str | None = None
    killed = False
    last_beat = clock()
    pue = tracker.pue

    def spend() -> tuple[float, float]:
        m = tracker.peek()
        return m.energy_j, cost_of(m, budget=budget, pue=pue, g_per_kwh=g_per_kwh)

    def room(cost: float, ahead: float) -> bool:
        """Whether ``ahead`` more can still be spent within what the trial holds (or can get)."""
        nonlocal reservation
        if cost + ahead < reservation.amount:
            return True
        wanted = cost + ahead - reservation.amount + extend_by
        reservation = store.extend(reservation, wanted, spent=cost, now=clock())
        return cost + ahead < reservation.amount

    # Spend is forecast one poll ahead (and, at a step boundary, one step ahead) from the rate
    # seen so far, so the trial stops before its share runs out, not a poll after.
    began, last_step_cost = clock(), 0.0
    last_poll = began

    try:
        while True:
            if parent.poll(poll_s):
                try:
                    message = parent.recv()
                except EOFError:
                    error, stop = "the trial process ended without a result", "error"
                    break
                kind = message[0]
                if kind == "step":
                    energy_j, cost = spend()
                    steps.append(Step(message[1], message[2], energy_j))
                    step_cost, last_step_cost = cost - last_step_cost, cost
                    if not room(cost, step_cost):
                        parent.send("budget")
                    elif should_prune is not None and should_prune(tuple(steps)):
                        parent.send("pruned")
                    else:
                        parent.send("go-on")
                    continue
                if kind == "done":
                    result = message[1]
                elif kind == "stopped":
                    stop = message[1]
                else:
                    error, stop = message[1], "error"
                break
            _, cost = spend()
            now = clock()
            rate = cost / max(now - began, 1e-3)
            # Twice the gap between polls actually seen ahead: a busy machine wakes us late.
            gap, last_poll = max(poll_s, now - last_poll), now
            if not room(cost, rate * gap * 2):
                stop, killed = "budget", True
                break
            if clock() - last_beat >= heartbeat_s:
                store.heartbeat(reservation, spent=cost, now=clock())
                last_beat = clock()
    finally:
        tracker.metadata["stop_reason"] = stop
        if error is not None:
            tracker.metadata["error"] = error
        if result:  # the objective, on the trial's record: reports draw fronts from it
            kept = {k: v for k, v in result.items() if ledger_value(v)}
            if kept:
                tracker.metadata["result"] = kept
        footprint = tracker.stop()
        if killed or proc.is_alive():
            with contextlib.suppress(OSError, BrokenPipeError):
                parent.send("exit")
            if killed:
                proc.kill()
        proc.join(10.0)
        if proc.is_alive():
            proc.kill()
            proc.join(5.0)
        parent.close()
    cost = footprint.energy_kwh if budget.unit == "kwh" else footprint.co2e_g / 1000.0
    return TrialOutcome(
        result=result,
        footprint=footprint,
        cost=cost,
        stop_reason=stop,
        steps=tuple(steps),
        error=error,
        killed=killed,
        reservation=reservation,
    )


def ledger_value(value: Any) -> bool:
    """Whether ``value`` goes into a ledger record's metadata as it is: text, a bool, None or a
    finite number (the ledger refuses NaN and infinities)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool) or value is None
