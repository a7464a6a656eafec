"""An existing Optuna objective under a hard budget, by adding one decorator line."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from lowcarb.ledger import open_ledger
from lowcarb.tuning import EnergyBudget, SqlBudgetStore, energy_budgeted
from lowcarb.tuning.testing import burn


def test_one_line_puts_an_optuna_objective_under_a_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    budget = 3e-6

    @energy_budgeted(EnergyBudget.of(kwh=budget), first_cost=4e-7)
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        for _ in range(5):
            burn(0.1)
        return -(x**2)

    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.create_study(study_name="w", storage=storage, direction="maximize")
        study.optimize(objective, n_trials=200)
        trials = study.trials
    finally:
        storage.engine.dispose()
    assert len(trials) < 200  # the budget stopped the study, not n_trials
    assert all("energy_kwh" in t.user_attrs for t in trials if "cost" in t.user_attrs)
    with SqlBudgetStore(url) as store:
        state = store.state("w")
    assert state.open == 0
    # In-process, the stop reaches the objective at its next bytecode and the thread that sends
    # it competes for the GIL: a looser bound than tune()'s 1% (runs here: up to +1.7% alone,
    # +5.4% once with the whole suite loading both cores).
    assert state.spent <= budget * 1.10
    assert sum(float(t.user_attrs.get("cost", 0.0)) for t in trials) == pytest.approx(state.spent)
    assert any(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def test_each_trial_record_carries_the_objective_value(tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"

    @energy_budgeted(EnergyBudget.of(kwh=1.0), ledger=ledger)
    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0.0, 1.0)

    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=3)
    with open_ledger(ledger) as led:
        records = [r for r in led.records() if r.kind == "trial"]
    assert sorted(r.metadata["result"]["metric"] for r in records) == sorted(
        t.value for t in study.trials
    )


def test_an_objective_that_would_overrun_is_stopped_from_inside() -> None:
    @energy_budgeted(EnergyBudget.of(kwh=6e-7), first_cost=6e-7)
    def objective(trial: optuna.Trial) -> float:
        for _ in range(200):  # 20 s of CPU if nothing stopped it
            burn(0.1)
        return 1.0

    study = optuna.create_study()
    study.optimize(objective, n_trials=3)
    (first, *_) = study.trials
    assert first.state == optuna.trial.TrialState.PRUNED
    assert first.user_attrs["stop_reason"] == "budget"
    # Stopped from inside, long before the 20 s it would run unstopped. How late the stop comes
    # is not a fixed share of this tiny budget (0.2-0.3 s of CPU): alone it is a poll or two
    # (50 ms each), but in the whole suite it has come 0.07 s and 0.43 s late (+29% and +80%);
    # the cause of the second is not found yet.
    cost = first.user_attrs["cost"]
    ran_s = (first.datetime_complete - first.datetime_start).total_seconds()
    late_s = max(0.0, cost - 6e-7) / (cost / ran_s)  # at the trial's mean spending rate
    assert late_s <= 1.0, (cost, ran_s)
    assert ran_s < 5.0
