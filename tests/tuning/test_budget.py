"""The shared budget: atomic reservations, extensions, settlement and reclaim, on every store."""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from at_once import WORKERS, run_at_once

from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.tuning import BudgetStore, EnergyBudget, MemoryBudgetStore, SqlBudgetStore


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BudgetStore]:
    if request.param == "memory":
        yield MemoryBudgetStore()
        return
    url = (
        f"sqlite:///{tmp_path / 'study.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    with SqlBudgetStore(url) as sql:
        yield sql


def test_a_budget_must_be_positive_and_single() -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidValueError, match="budget-kwh must be a number > 0"):
            EnergyBudget(bad, "kwh")
    with pytest.raises(UsageError, match="exactly one budget"):
        EnergyBudget.of(kwh=1.0, co2e_kg=1.0)
    assert EnergyBudget.of(co2e_kg=0.5) == EnergyBudget(0.5, "co2e_kg")


def test_reserve_grants_at_most_what_is_left(store: BudgetStore) -> None:
    store.open("s", EnergyBudget(1.0, "kwh"))
    a = store.reserve("s", 0.6, worker="w1", now=0.0)
    b = store.reserve("s", 0.6, worker="w2", now=0.0)
    assert a is not None and b is not None
    assert (a.amount, b.amount) == (0.6, pytest.approx(0.4))
    assert store.reserve("s", 0.1, worker="w3", now=0.0) is None
    state = store.state("s")
    assert state.reserved == pytest.approx(1.0) and state.available == 0.0 and state.open == 2


def test_settle_returns_what_was_not_spent_and_extend_takes_it(store: BudgetStore) -> None:
    store.open("s", EnergyBudget(1.0, "kwh"))
    a = store.reserve("s", 0.5, worker="w1", now=0.0)
    b = store.reserve("s", 0.5, worker="w2", now=0.0)
    assert a is not None and b is not None
    store.settle(a, spent=0.2)
    more = store.extend(b, 1.0, spent=0.45, now=1.0)
    assert more.amount == pytest.approx(0.8)  # 0.5 held + the 0.3 a did not spend
    store.settle(more, spent=0.8)
    state = store.state("s")
    assert state.spent == pytest.approx(1.0) and state.open == 0 and state.available == 0.0
    store.settle(more, spent=0.8)  # settling twice charges once
    assert store.state("s").spent == pytest.approx(1.0)


def test_a_dead_workers_reservation_is_reclaimed_at_its_last_reported_spend(
    store: BudgetStore,
) -> None:
    store.open("s", EnergyBudget(1.0, "kwh"))
    dead = store.reserve("s", 0.7, worker="dead", now=0.0)
    live = store.reserve("s", 0.2, worker="live", now=0.0)
    assert dead is not None and live is not None
    store.heartbeat(dead, spent=0.25, now=5.0)
    store.heartbeat(live, spent=0.1, now=95.0)
    reclaimed = store.reclaim("s", older_than_s=60.0, now=100.0)
    assert [r.id for r in reclaimed] == [dead.id]
    state = store.state("s")
    assert state.spent == pytest.approx(0.25) and state.reserved == pytest.approx(0.2)
    assert state.available == pytest.approx(0.55)  # no leak: the rest of 0.7 came back


def test_a_study_keeps_its_budget(store: BudgetStore) -> None:
    store.open("s", EnergyBudget(1.0, "kwh"))
    store.open("s", EnergyBudget(1.0, "kwh"))
    with pytest.raises(UsageError, match=r"already has a budget of 1 kWh, not 2 kWh"):
        store.open("s", EnergyBudget(2.0, "kwh"))
    with pytest.raises(UsageError, match="has no budget"):
        store.state("other")


def _hammer(url: str, seed: int, out: multiprocessing.Queue[float]) -> None:
    store = SqlBudgetStore(url)
    rng = random.Random(seed)
    spent = 0.0
    while True:
        r = store.reserve("race", rng.uniform(0.01, 0.05), worker=f"w{seed}", now=time.time())
        if r is None:
            break
        used = r.amount * rng.uniform(0.5, 1.0)
        store.settle(r, spent=used)
        spent += used
    store.close()
    out.put(spent)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_four_processes_never_spend_past_the_budget(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'race.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    with SqlBudgetStore(url) as setup:
        setup.open("race", EnergyBudget(1.0, "kwh"))
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[float] = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(url, i, out)) for i in range(4)]
    for p in procs:
        p.start()
    totals = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    with SqlBudgetStore(url) as check:
        state = check.state("race")
    assert sum(totals) == pytest.approx(state.spent)
    assert state.spent <= 1.0 + 1e-9 and state.open == 0
    assert state.spent > 0.7  # they did share it: each settles 50-100% of what it held


def _open_budget(url: str) -> str:
    with SqlBudgetStore(url) as store:
        store.open("s", EnergyBudget(1.0, "kwh"))
    return "ok"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_workers_opening_a_new_storage_at_once_all_get_its_tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Checking for a table and creating it are two statements: workers starting together on a
    # new storage all saw no table, and all but one failed on "already exists" (in every run
    # of this test before the creation was serialised).
    urls = (
        [f"sqlite:///{tmp_path / f'new{i}.db'}" for i in range(4)]
        if backend == "sqlite"
        else [str(request.getfixturevalue("postgres_url"))]
    )
    assert run_at_once(_open_budget, urls) == ["ok"] * WORKERS * len(urls)
