"""Real Optuna studies under a hard budget: in memory, on SQLite, on PostgreSQL with 4 processes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import optuna
import pytest

from lowcarb.errors import UsageError
from lowcarb.ledger import open_ledger
from lowcarb.tuning import (
    EnergyBudget,
    EnergyHalvingPruner,
    FunctionPlan,
    SqlBudgetStore,
    TuneResult,
    tune,
)
from lowcarb.tuning.testing import busy_sample, busy_train

PLAN = FunctionPlan(busy_sample, busy_train)
# About 0.6 J of estimated CPU energy per 0.2 s step on this kind of VM: a budget of this size
# holds a handful of trials.
BUDGET_KWH = 4e-6


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=name, storage=storage).trials
    finally:
        storage.engine.dispose()  # no connection left for the next test to find


def test_the_budget_stops_the_study_and_every_trial_is_measured_and_recorded(
    tmp_path: Path,
) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = tune(
        PLAN, budget=EnergyBudget.of(kwh=BUDGET_KWH), study_name="s1", seed=0, ledger=ledger
    )
    assert result.stopped_reason == "budget"
    assert result.spent <= BUDGET_KWH * 1.01
    assert result.spent == pytest.approx(result.energy_kwh)
    assert result.trials.get("complete", 0) >= 2
    assert result.energy_methods and set(result.energy_methods) <= {"measured", "estimated"}
    assert result.pareto and result.best is not None
    with open_ledger(ledger) as led:
        records = list(led.records())
    trials = [r for r in records if r.kind == "trial"]
    assert len(trials) == sum(result.trials.values())
    first = trials[0]
    assert first.attribution.project == "s1" and first.attribution.run_id == "s1#0"
    # Each finished trial's record carries its objective: reports draw the front from it.
    finished = [r for r in trials if r.metadata.get("stop_reason") is None]
    assert len(finished) >= 2
    assert all(isinstance(r.metadata["result"]["metric"], float) for r in finished)
    assert first.metadata["study"] == "s1" and "params" in first.metadata
    data = result.to_dict()
    for key in ("energy_kwh", "budget_kwh", "trials", "best", "pareto", "stopped_reason"):
        assert key in data


def test_a_trial_that_would_overrun_is_stopped_from_inside_with_its_reason(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"

    result = tune(
        FunctionPlan(_long_sample, busy_train),
        budget=EnergyBudget.of(kwh=1.5e-6),
        study_name="long",
        storage=url,
        first_cost=1.5e-6,
    )
    assert result.stops and result.stops[0]["reason"] == "budget"
    assert result.spent <= 1.5e-6 * 1.01
    trial = _trials(url, "long")[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["stop_reason"] == "budget"
    assert trial.user_attrs["energy_kwh"] > 0


def _long_sample(trial: optuna.Trial) -> dict[str, object]:
    # 40 steps of 0.2 s: far more than the budget allows.
    return {"quality": trial.suggest_float("quality", 0.5, 1.0), "steps": 40}


def _one_long_step(trial: optuna.Trial) -> dict[str, object]:
    return {"quality": 0.9, "steps": 1, "step_s": 30.0}


def test_a_step_that_runs_past_the_budget_is_killed(tmp_path: Path) -> None:
    began = time.monotonic()
    result = tune(
        FunctionPlan(_one_long_step, busy_train),
        budget=EnergyBudget.of(kwh=8e-7),
        study_name="kill",
        first_cost=8e-7,
    )
    assert time.monotonic() - began < 20  # not the 30 s the step wanted
    assert result.stops == [{"trial": 0, "reason": "budget"}]
    assert result.spent <= 8e-7 * 1.01


def test_multi_objective_studies_prune_on_joules(tmp_path: Path) -> None:
    result = tune(
        PLAN,
        budget=EnergyBudget.of(kwh=1.2e-5),
        study_name="mo",
        objectives=("metric", "energy"),
        pruner=EnergyHalvingPruner(min_j=0.3, eta=2, min_peers=2),
        seed=3,
    )
    assert result.trials.get("pruned", 0) >= 1
    assert any(s["reason"] == "pruned" for s in result.stops)
    assert len(result.pareto) >= 1
    for point in result.pareto:
        assert set(point["values"]) == {"metric", "energy"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_four_worker_processes_share_one_budget(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    budget = 6e-6
    result = tune(
        PLAN,
        budget=EnergyBudget.of(kwh=budget),
        study_name="shared",
        storage=url,
        workers=4,
        seed=1,
    )
    assert result.stopped_reason == "budget"
    assert result.spent <= budget * 1.01
    with SqlBudgetStore(url) as store:
        state = store.state("shared")
    assert state.open == 0 and state.spent == pytest.approx(result.spent)
    trials = _trials(url, "shared")
    workers = {t.user_attrs.get("worker") for t in trials}
    assert len(workers) >= 2  # the work was shared
    assert sum(float(t.user_attrs.get("energy_kwh", 0)) for t in trials) <= budget * 1.01


def test_a_dead_workers_reservation_is_reclaimed_and_the_study_resumes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    budget = EnergyBudget.of(kwh=4e-6)
    tune(PLAN, budget=budget, study_name="r", storage=url, n_trials=2, seed=0)
    with SqlBudgetStore(url) as store:
        dead = store.reserve("r", 3e-6, worker="gone:1", now=time.time() - 3600)
        assert dead is not None
        store.heartbeat(dead, spent=5e-7, now=time.time() - 3600)
    result = tune(PLAN, budget=budget, study_name="r", storage=url, seed=0)
    assert result.stopped_reason == "budget"
    with SqlBudgetStore(url) as store:
        state = store.state("r")
    assert state.open == 0
    assert result.spent <= 4e-6 * 1.01
    assert result.trials.get("complete", 0) >= 3  # resumed past the first two


def _paced_tune(at: datetime, waits: list[float]) -> TuneResult:
    """Two paced trials in DE (its shipped profile) as if the study started at ``at``: the
    clock runs on from there, so the plan does not depend on the hour the suite runs at."""
    offset_s = at.timestamp() - time.time()
    return tune(
        PLAN,
        budget=EnergyBudget.of(kwh=2e-6),
        study_name="paced",
        zone="DE",
        deadline=at + timedelta(hours=20),
        sleep=waits.append,
        clock=lambda: time.time() + offset_s,
        n_trials=2,
    )


def test_pacing_waits_for_the_cleanest_window_and_reports_the_saving() -> None:
    # 18:00 UTC in June: DE's evening peak; its cleanest hour before the deadline is the next
    # day's solar noon, 17 hours on.
    waits: list[float] = []
    result = _paced_tune(datetime(2026, 6, 15, 18, 0, tzinfo=UTC), waits)
    assert len(waits) == 2
    assert all(16 * 3600 < w <= 17 * 3600 for w in waits), waits
    assert result.co2e_saved_g is not None and result.co2e_saved_g > 0


def test_pacing_starts_at_once_in_the_cleanest_window_and_claims_no_saving() -> None:
    waits: list[float] = []
    result = _paced_tune(datetime(2026, 6, 15, 11, 0, tzinfo=UTC), waits)
    assert waits == []  # (the budget may stop the second trial: no trial waits either way)
    assert result.co2e_saved_g == 0


def test_a_deadline_without_a_time_zone_is_refused() -> None:
    with pytest.raises(UsageError, match="has no time zone"):
        tune(
            PLAN,
            budget=EnergyBudget.of(kwh=2e-6),
            zone="DE",
            deadline=datetime(2030, 1, 1, 12, 0),
        )


def test_bad_input_fails_before_any_trial(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot open study 's' in storage"):
        tune(
            PLAN, budget=EnergyBudget.of(kwh=1.0), study_name="s", storage="sqlite:///nodir/x/y.db"
        )
    with pytest.raises(UsageError, match="needs a shared storage"):
        tune(PLAN, budget=EnergyBudget.of(kwh=1.0), workers=2)
    with pytest.raises(UsageError, match="unknown objective 'speed'"):
        tune(PLAN, budget=EnergyBudget.of(kwh=1.0), objectives=("metric", "speed"))
    url = f"sqlite:///{tmp_path / 'b.db'}"
    tune(PLAN, budget=EnergyBudget.of(kwh=1e-7), study_name="b", storage=url)
    with pytest.raises(UsageError, match="already has a budget"):
        tune(PLAN, budget=EnergyBudget.of(kwh=2e-7), study_name="b", storage=url)


def test_a_worker_killed_mid_trial_leaks_no_budget_and_the_study_resumes(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    script = (
        "from lowcarb.tuning import tune, EnergyBudget, FunctionPlan\n"
        "from lowcarb.tuning.testing import busy_train\n"
        "def sample(trial):\n"
        "    return {'quality': trial.suggest_float('quality', 0.5, 1.0), 'steps': 100}\n"
        f"tune(FunctionPlan(sample, busy_train), budget=EnergyBudget.of(kwh=1e-4),\n"
        f"     study_name='k', storage={url!r}, first_cost=5e-5)\n"
    )
    (tmp_path / "victim.py").write_text(script, encoding="utf-8")
    victim = subprocess.Popen([sys.executable, str(tmp_path / "victim.py")], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with SqlBudgetStore(url) as store:
                try:
                    state = store.state("k")
                except UsageError:
                    continue
            if state.open == 1:
                break
        time.sleep(2.0)  # a few heartbeats into the trial
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)  # reaped here, not reported by a later test's garbage collection
    with SqlBudgetStore(url) as store:
        before = store.state("k")
    assert before.open == 1 and before.reserved == pytest.approx(5e-5)  # held by the dead
    time.sleep(1.5)
    result = tune(
        PLAN, budget=EnergyBudget.of(kwh=1e-4), study_name="k", storage=url, n_trials=3,
        reclaim_after_s=1.0,
    )  # fmt: skip
    with SqlBudgetStore(url) as store:
        after = store.state("k")
    assert after.open == 0
    lost = _trials(url, "k")[0]
    assert lost.state == optuna.trial.TrialState.FAIL
    # The dead trial is charged what it last reported, and the rest came back to the study.
    dead_charge = after.spent - result.energy_kwh  # the resumed trials carry their own energy
    assert 0 < dead_charge < 5e-5
    assert after.spent <= 1e-4
    assert result.trials.get("complete", 0) >= 2
