"""A study storage opened by many workers at once: Optuna's tables and lowcarb's budget tables
are each created once, and every worker gets the same study."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from lowcarb.tuning import EnergyBudget
from lowcarb.tuning._storage import close_study, open_budget_store, open_study
from lowcarb.tuning._study_config import StudyConfig


def _start_at_once(urls: list[str], barrier: Any, out: Any) -> None:
    for url in urls:  # a round per storage, every worker starting on it together
        barrier.wait(60)
        config = StudyConfig(study_name="s", budget=EnergyBudget.of(kwh=1.0), storage=url)
        try:
            study = open_study(config)
            store = open_budget_store(config)
            store.open("s", config.budget)
            out.put(f"ok {study._study_id}")
            close_study(study, store)
        except Exception as exc:  # reported to the test, which fails on it
            out.put(f"{type(exc).__name__}: {exc}")


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
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(6)
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_start_at_once, args=(urls, barrier, out)) for _ in range(6)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in range(6 * len(urls))]
    for p in procs:
        p.join(30)
    assert all(r.startswith("ok ") for r in results), results
    assert len(set(results)) == 1  # one study (each storage's first: the same id)
