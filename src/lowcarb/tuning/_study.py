"""The search: Optuna asks, lowcarb reserves, measures, stops and records, Optuna is told.

One worker loop (:func:`run_worker`) runs in every worker process; :func:`tune` opens the study and
its budget (failing before any trial on bad input), starts ``workers - 1`` more processes on the
same storage and runs one itself. Every trial is a measured block (the Tracker, ``kind="trial"``,
attributed to the study and trial) whose energy, CO2e and method go on the trial as user attributes
and, with a ledger, into the ledger.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import statistics
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from lowcarb.errors import UsageError
from lowcarb.ledger import Attribution
from lowcarb.tracking import Tracker, intensity_for_hours
from lowcarb.tuning._budget import BudgetState, BudgetStore, EnergyBudget
from lowcarb.tuning._pacing import Pacing
from lowcarb.tuning._pruning import peers_from_trials, rung_attribute
from lowcarb.tuning._runner import Step, StepReporter, TrialOutcome, run_metered
from lowcarb.tuning._storage import close_study, open_budget_store, open_study, optuna_module
from lowcarb.tuning._study_config import StudyConfig

if TYPE_CHECKING:
    import optuna

__all__ = ["TrialPlan", "run_worker", "start_workers", "worker_process"]

log = logging.getLogger(__name__)


class TrialPlan(Protocol):
    """What a study searches: how a trial samples its parameters and the work it then runs.

    ``sample`` runs in the worker (it talks to the study's storage); ``work`` returns the function
    run in the measured child process. The work returns a dict with at least ``metric`` (the
    validation value), and optionally ``inference_energy`` (J per 1,000 inferences), ``flops``.
    """

    def sample(self, trial: optuna.Trial) -> dict[str, Any]: ...

    def work(self, params: Mapping[str, Any]) -> Callable[[StepReporter], dict[str, Any]]: ...


def expected_cost(
    study: Any, *, budget: EnergyBudget, first_cost: float | None
) -> tuple[float, float, float]:
    """What the next trial is expected to cost (budget unit) and take (s), and the least any
    trial has cost (starting one costs something: a share smaller than that is not worth taking).

    Trials that ran to the end set the expectation; stopped ones were cut short.
    """
    measured = [t for t in study.get_trials(deepcopy=False) if "cost" in t.user_attrs]
    whole = [t for t in measured if not t.user_attrs.get("stop_reason")]
    floor = min((float(t.user_attrs["cost"]) for t in measured), default=0.0)
    if whole:
        costs = [float(t.user_attrs["cost"]) for t in whole]
        durations = [float(t.user_attrs.get("duration_s", 60.0)) for t in whole]
        return statistics.median(costs) * 1.25, statistics.median(durations), floor
    if measured:  # every trial so far was cut short: a whole one costs more than any of them
        longest = max(measured, key=lambda t: float(t.user_attrs["cost"]))
        duration = float(longest.user_attrs.get("duration_s", 60.0)) * 2.0
        return float(longest.user_attrs["cost"]) * 2.0, duration, floor
    first = first_cost if first_cost is not None else budget.limit / 20.0
    return min(first, budget.limit), 60.0, floor


def _values(config: StudyConfig, outcome: TrialOutcome) -> list[float]:
    result = outcome.result or {}
    metric = float(result["metric"])
    energy_j = outcome.footprint.measurement.energy_j
    out = []
    for name in config.objectives:
        if name == "metric":
            out.append(metric)
        elif name == "energy":
            out.append(outcome.footprint.energy_kwh)
        elif name == "reward":
            alpha, beta, gamma = config.reward or (1.0, 0.0, 0.0)
            out.append(alpha * metric - beta * float(result.get("flops") or 0.0) - gamma * energy_j)
        else:
            out.append(float(result[name]))
    return out


def run_worker(
    config: StudyConfig,
    plan: TrialPlan,
    *,
    study: Any | None = None,
    store: BudgetStore | None = None,
    on_trial: Callable[[Any, TrialOutcome, BudgetState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> str:
    """Run trials until the budget, ``n_trials``, the timeout or the deadline stops them.

    Returns:
        Why this worker stopped: ``budget``, ``n_trials``, ``timeout`` or ``deadline``.
    """
    optuna = optuna_module()
    study = study if study is not None else open_study(config, create=False)
    store = store if store is not None else open_budget_store(config)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    began = clock()
    pacing = (
        Pacing(config.zone, config.deadline)
        if config.deadline is not None and config.zone
        else None
    )
    while True:
        if config.n_trials is not None and len(study.get_trials(deepcopy=False)) >= config.n_trials:
            return "n_trials"
        if config.timeout_s is not None and clock() - began >= config.timeout_s:
            return "timeout"
        for lost in store.reclaim(
            config.study_name, older_than_s=config.reclaim_after_s, now=clock()
        ):
            _fail_lost_trial(study, lost.trial, lost.worker)
        expected, duration_s, floor = expected_cost(
            study, budget=config.budget, first_cost=config.first_cost
        )
        paced = None
        if pacing is not None:
            paced = pacing.next_start(
                now=datetime.fromtimestamp(clock(), UTC), duration_s=duration_s
            )
            if paced is None:
                return "deadline"
            pacing.wait(paced, sleep=sleep)
        # A share too small to be worth starting a trial for is left unspent: a trial costs
        # something to start, and one cut short at once is pure waste.
        reservation = store.reserve(
            config.study_name,
            expected,
            worker=worker,
            now=clock(),
            minimum=max(expected * 0.25, floor * 0.5),
        )
        if reservation is None:
            return "budget"
        trial = study.ask()
        reservation = store.attach(reservation, trial.number)
        try:
            params = plan.sample(trial)
            outcome = _run_trial(config, plan, study, trial, params, store, reservation, clock)
        except BaseException:
            store.settle(reservation, spent=reservation.spent)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        _record(config, study, trial, params, outcome, paced)
        if on_trial is not None:
            on_trial(trial, outcome, store.state(config.study_name))


def _fail_lost_trial(study: Any, number: int, worker: str) -> None:
    """A trial whose worker died: its reservation was reclaimed; Optuna is told it failed, so
    the study does not wait on it and can be resumed."""
    optuna = optuna_module()
    log.warning("trial %s was lost with worker %s; its reservation was reclaimed", number, worker)
    if number < 0:
        return
    try:
        study.tell(number, state=optuna.trial.TrialState.FAIL)
    except (ValueError, RuntimeError) as exc:  # already finished, or not this study's
        log.info("trial %s not marked failed: %s", number, exc)


def _run_trial(
    config: StudyConfig,
    plan: TrialPlan,
    study: Any,
    trial: Any,
    params: dict[str, Any],
    store: BudgetStore,
    reservation: Any,
    clock: Callable[[], float],
) -> TrialOutcome:
    name = config.study_name
    tracker = Tracker(
        f"trial {trial.number}",
        zone=config.zone,
        pue=config.pue,
        ledger=config.ledger,
        kind="trial",
        attribution=Attribution(project=name[:200], run_id=f"{name}#{trial.number}"[:200]),
        metadata={"study": name, "trial": trial.number, "params": params},
        environ=config.environ,
    )
    g_per_kwh = intensity_for_hours(
        tracker.zone, start=datetime.now(UTC), duration_s=60.0
    ).intensity_g_per_kwh
    should_prune = None
    if config.pruner is not None:
        pruner = config.pruner

        def should_prune(steps: tuple[Step, ...]) -> bool:
            peers = peers_from_trials(study.get_trials(deepcopy=False), trial.number)
            return pruner.decide(
                steps, peers=peers, record=lambda k, v: trial.set_user_attr(rung_attribute(k), v)
            )

    outcome = run_metered(
        plan.work(params),
        tracker=tracker,
        budget=config.budget,
        store=store,
        reservation=reservation,
        extend_by=max(reservation.amount * 0.5, config.budget.limit * 0.001),
        g_per_kwh=g_per_kwh,
        should_prune=should_prune,
        clock=clock,
    )
    store.settle(outcome.reservation or reservation, spent=outcome.cost)
    if tracker.record_id:
        trial.set_user_attr("record_id", tracker.record_id)
    return outcome


def _record(
    config: StudyConfig,
    study: Any,
    trial: Any,
    params: dict[str, Any],
    outcome: TrialOutcome,
    paced: Any,
) -> None:
    optuna = optuna_module()
    fp = outcome.footprint
    attrs: dict[str, Any] = {
        "energy_kwh": fp.energy_kwh,
        "co2e_g": fp.co2e_g,
        "energy_method": fp.measurement.method,
        "intensity_source": fp.intensity.source,
        "cost": outcome.cost,
        "duration_s": fp.measurement.duration_s,
        "stop_reason": outcome.stop_reason,
        "steps": len(outcome.steps),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    if outcome.error:
        attrs["error"] = outcome.error
    if outcome.result:
        attrs.update({f"result.{k}": v for k, v in outcome.result.items() if _jsonable(v)})
    if paced is not None:
        saved = fp.energy_kwh * (paced.now_g_per_kwh - paced.expected_g_per_kwh)
        attrs.update(
            paced_start=paced.start.isoformat(),
            paced_wait_s=paced.wait_s,
            paced_saved_co2e_g=saved,
            paced_expected_g_per_kwh=paced.expected_g_per_kwh,
            paced_now_g_per_kwh=paced.now_g_per_kwh,
        )
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if outcome.stop_reason is None and outcome.result is not None:
        study.tell(trial, _values(config, outcome))
    elif outcome.stop_reason in ("budget", "pruned"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        log.warning("trial %s failed: %s", trial.number, outcome.error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def worker_process(config: StudyConfig, plan: TrialPlan) -> None:
    """Entry point of an extra worker process (``multiprocessing`` spawn)."""
    study = open_study(config, create=False)
    store = open_budget_store(config)
    try:
        run_worker(config, plan, study=study, store=store)
    finally:
        close_study(study, store)


def start_workers(config: StudyConfig, plan: TrialPlan, count: int) -> list[Any]:
    """Start ``count`` extra worker processes on the study's storage."""
    if count <= 0:
        return []
    if config.storage is None:
        raise UsageError(
            "--workers above 1 needs a shared storage (an in-memory study lives in one process); "
            "give --storage sqlite:///study.db or a PostgreSQL URL"
        )
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_process, args=(config, plan)) for _ in range(count)]
    for p in procs:
        p.start()
    return procs
