"""One line for current Optuna users: an existing objective under a hard, shared budget.

    @energy_budgeted(EnergyBudget.of(kwh=0.5))
    def objective(trial): ...

    study.optimize(objective, n_trials=200)

Each call reserves its expected cost in the study's storage (the same budget store as
:func:`~lowcarb.tuning.tune`, so workers on other machines share the budget), runs the objective
in this process under a Tracker, and is stopped from inside when the budget runs out: a watchdog
thread raises :class:`BudgetExhausted` in the objective's thread, which Python delivers at the
next bytecode. A step inside a long C call (a scikit-learn ``fit``) finishes first, so the
overshoot is at most that step; :func:`tune` runs trials in a child process and has no such limit.
A stopped trial is told to Optuna as pruned; when nothing is left to reserve, the study stops.
"""

from __future__ import annotations

import ctypes
import functools
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lowcarb.energy import J_PER_KWH
from lowcarb.ledger import Attribution
from lowcarb.tracking import Tracker, intensity_for_hours
from lowcarb.tuning._budget import BudgetStore, EnergyBudget, MemoryBudgetStore, Reservation
from lowcarb.tuning._budget_sql import SqlBudgetStore
from lowcarb.tuning._runner import ledger_value
from lowcarb.tuning._study import expected_cost

__all__ = ["BudgetExhausted", "energy_budgeted"]

R = TypeVar("R")


class BudgetExhausted(Exception):  # noqa: N818 - raised into the objective to stop it
    """Raised inside an objective when the study's budget runs out mid-trial."""


def _raise_in(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(BudgetExhausted)
    )


def energy_budgeted(
    budget: EnergyBudget,
    *,
    zone: str | None = None,
    pue: float | None = None,
    ledger: str | None = "",
    first_cost: float | None = None,
    poll_s: float = 0.05,
    environ: Mapping[str, str] | None = None,
) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]:
    """Wrap an Optuna objective so its study never spends past ``budget`` (see the module)."""
    stores: dict[str, BudgetStore] = {}
    lock = threading.Lock()
    env = dict(environ or {})

    def store_for(study: Any) -> BudgetStore:
        storage = getattr(study, "_storage", None)
        url = getattr(storage, "url", None) or getattr(
            getattr(storage, "_backend", None), "url", None
        )
        key = url or f"memory:{id(study)}"
        with lock:
            if key not in stores:
                stores[key] = SqlBudgetStore(url) if url else MemoryBudgetStore()
                stores[key].open(study.study_name, budget)
            return stores[key]

    def decorate(objective: Callable[[Any], R]) -> Callable[[Any], R]:
        @functools.wraps(objective)
        def wrapper(trial: Any) -> R:
            import optuna

            study = trial.study
            store = store_for(study)
            expected, _, _ = expected_cost(study, budget=budget, first_cost=first_cost)
            worker = f"{socket.gethostname()}:{os.getpid()}"
            reservation = store.reserve(
                study.study_name, expected, worker=worker, now=time.time(), minimum=expected * 0.25
            )
            if reservation is None:
                study.stop()
                trial.set_user_attr("stop_reason", "budget")
                raise optuna.TrialPruned("the study's energy budget is spent")
            reservation = store.attach(reservation, trial.number)
            tracker = Tracker(
                f"trial {trial.number}",
                zone=zone,
                pue=pue,
                ledger=ledger,
                kind="trial",
                attribution=Attribution(
                    project=study.study_name[:200],
                    run_id=f"{study.study_name}#{trial.number}"[:200],
                ),
                metadata={"study": study.study_name, "trial": trial.number},
                environ=env,
            )
            g = intensity_for_hours(tracker.zone, start=_now(), duration_s=60.0)
            state = _Watch(reservation)
            done = threading.Event()
            guard = threading.Lock()
            target = threading.get_ident()

            def fire() -> None:
                # Only while the objective runs: once it has returned, nothing is raised into
                # the clean-up below.
                with guard:
                    if state.armed:
                        state.stopped = True
                        _raise_in(target)

            def cost_now() -> float:
                kwh = tracker.peek().energy_j * tracker.pue / J_PER_KWH
                return kwh if budget.unit == "kwh" else kwh * g.intensity_g_per_kwh / 1000.0

            def watch() -> None:
                began = last = time.monotonic()
                while not done.wait(poll_s):
                    cost = cost_now()
                    now = time.monotonic()
                    # Look ahead by twice the gap between polls actually seen: on a busy
                    # machine this thread wakes late, and the spend keeps running meanwhile.
                    gap, last = max(poll_s, now - last), now
                    ahead = cost / max(now - began, 1e-3) * gap * 2
                    held = state.reservation
                    if cost + ahead >= held.amount:
                        wanted = cost + ahead - held.amount + expected * 0.5
                        held = store.extend(held, wanted, spent=cost, now=time.time())
                        state.reservation = held
                        if cost + ahead >= held.amount:
                            fire()
                            return

            tracker.start()
            tracker.wait_ready(timeout_s=30.0)
            watchdog = threading.Thread(target=watch, name="lowcarb-budget-watchdog", daemon=True)
            watchdog.start()
            stopped = False
            try:
                result = objective(trial)
                with guard:
                    state.armed = False
                if ledger_value(result):  # the objective, on the trial's record (reports)
                    tracker.metadata["result"] = {"metric": result}
                return result
            except BudgetExhausted:
                stopped = True
                raise optuna.TrialPruned("stopped: the study's energy budget ran out") from None
            finally:
                with guard:
                    state.armed = False
                done.set()
                watchdog.join()
                stopped = stopped or state.stopped
                tracker.metadata["stop_reason"] = "budget" if stopped else None
                footprint = tracker.stop()
                cost = footprint.energy_kwh if budget.unit == "kwh" else footprint.co2e_g / 1000.0
                store.settle(state.reservation, spent=cost)
                trial.set_user_attr("energy_kwh", footprint.energy_kwh)
                trial.set_user_attr("co2e_g", footprint.co2e_g)
                trial.set_user_attr("energy_method", footprint.measurement.method)
                trial.set_user_attr("cost", cost)
                trial.set_user_attr("stop_reason", "budget" if stopped else None)
                if stopped:
                    study.stop()

        return wrapper

    return decorate


@dataclass
class _Watch:
    reservation: Reservation
    stopped: bool = False
    armed: bool = True


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
