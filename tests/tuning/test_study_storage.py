"""A study storage opened by many workers at once: Optuna's tables and lowcarb's budget tables
are each created once, and every worker gets the same study."""

from __future__ import annotations

from pathlib import Path

import pytest
from at_once import run_at_once

from lowcarb.tuning import EnergyBudget
from lowcarb.tuning._storage import close_study, open_budget_store, open_study
from lowcarb.tuning._study_config import StudyConfig


def _start_study(url: str) -> str:
    config = StudyConfig(study_name="s", budget=EnergyBudget.of(kwh=1.0), storage=url)
    study = open_study(config)
    store = open_budget_store(config)
    store.open("s", config.budget)
    close_study(study, store)
    return f"ok {study._study_id}"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_workers_starting_together_on_a_new_storage_share_one_study(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Optuna creates its tables and stamps their version check-then-create: six workers on a
    # new SQLite storage failed in every round ("table studies already exists", "UNIQUE
    # constraint failed: alembic_version") before the open was retried.
    urls = (
        [f"sqlite:///{tmp_path / f'new{i}.db'}" for i in range(3)]
        if backend == "sqlite"
        else [str(request.getfixturevalue("postgres_url"))]
    )
    results = run_at_once(_start_study, urls)
    assert all(r.startswith("ok ") for r in results), results
    assert len(set(results)) == 1  # one study (each storage's first: the same id)
