"""A small ledger with every kind of record a report shows, and its expected figures.

Three months of 2024 (plus records just outside them), two teams, three models with versions,
measured and estimated components, two zones, a contractual instrument, a correction, tuning
trials, a gate verdict with a budget, a retrain decision, and planned jobs in the job table.
Built through the real append path (``Ledger.append_many``) and the real job store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.governance import (
    Budget,
    BudgetStatus,
    GateInput,
    decision_draft,
    evaluate_gate,
    parse_policy,
)
from lowcarb.grid import Intensity, price
from lowcarb.jobs import open_job_store
from lowcarb.ledger import Attribution, MarketFactor, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.profiling import Profile, profile_from_dict
from lowcarb.scheduling import build_job_spec

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 4, 1, tzinfo=UTC)
J = 3_600_000.0  # joules per kWh


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def footprint(
    when: datetime,
    *,
    measured_j: float = 0.0,
    estimated_j: float = 0.0,
    zone: str = "DE",
    g_per_kwh: float = 400.0,
    pue: float = 1.0,
) -> Any:
    comps = []
    if measured_j:
        comps.append(ComponentEnergy("cpu", measured_j, "measured", "rapl:intel-rapl:0"))
    if estimated_j:
        comps.append(ComponentEnergy("gpu:0", estimated_j, "estimated", "tdp-model"))
    m = Measurement("run", when, 60.0, tuple(comps))
    source = "static:electricitymaps-2022-lca" if zone == "DE" else "trace:fr_2024.csv"
    return price(m, intensity=Intensity(zone, g_per_kwh, source), pue=pue)


def run(
    when: datetime,
    team: str | None,
    project: str | None,
    model: str | None,
    version: str | None,
    *,
    kind: str = "run",
    stage: str | None = "training",
    market: MarketFactor | None = None,
    metadata: dict[str, Any] | None = None,
    **fp: Any,
) -> RecordDraft:
    return draft_from_footprint(
        footprint(when, **fp),
        kind=kind,
        attribution=Attribution(
            team=team, project=project, model=model, model_version=version, stage=stage
        ),
        market=market,
        metadata=metadata,
    )


def candidate_profile(version: str = "3", **changes: Any) -> Profile:
    data: dict[str, Any] = {
        "model": "resnet",
        "version": version,
        "accuracy": 0.91,
        "latency_p95_ms": 12.5,
        "energy_per_1k_j": 1500.0,
        "energy_method": "measured",
        "flops": 4.1e9,
        "size_bytes": 102_400_000,
        "training_co2e_kg": 2.65,
    }
    data.update(changes)
    return profile_from_dict(data)


@dataclass
class World:
    """A built ledger and what a report over ``SINCE..UNTIL`` must find in it."""

    url: str
    corrected_id: str


def _append(url: str, when: datetime, drafts: list[RecordDraft]) -> list[Any]:
    with open_ledger(url, clock=lambda: when, environ={}) as ledger:
        return ledger.append_many(drafts)


def build_world(url: str, tmp: Path) -> World:
    """Append the records and jobs described in the module docstring."""
    _append(
        url,
        datetime(2023, 12, 31, 23, tzinfo=UTC),
        [run(at(1, 1), "vision", "detector", "resnet", "1", measured_j=100 * J)],
    )
    _append(
        url,
        at(1, 10),
        [
            run(
                at(1, 10),
                "vision",
                "detector",
                "resnet",
                "1",
                measured_j=J,
                estimated_j=2 * J,
                pue=1.5,
            )
        ],
    )
    (original,) = _append(
        url, at(1, 20), [run(at(1, 20), "vision", "detector", "resnet", "1", measured_j=10 * J)]
    )
    with open_ledger(url, clock=lambda: at(1, 25), environ={}) as ledger:
        ledger.correct(
            original.id,
            run(at(1, 20), "vision", "detector", "resnet", "1", measured_j=2 * J),
            reason="meter double-counted",
        )
    _append(
        url,
        at(2, 5),
        [
            run(
                at(2, 5),
                "vision",
                "detector",
                "resnet",
                "2",
                measured_j=J,
                zone="FR",
                g_per_kwh=50.0,
                market=MarketFactor(0.0, "ppa:windco-2024"),
            )
        ],
    )
    _append(
        url,
        at(2, 20),
        [
            run(
                at(2, 20),
                "vision",
                "detector",
                "resnet",
                "2",
                kind="inference",
                stage="serving",
                measured_j=0.5 * J,
                metadata={"inferences": 100_000},
            )
        ],
    )
    _append(url, at(3, 3), [run(at(3, 3), "nlp", "chat", "bert", "1", estimated_j=J, pue=1.2)])
    trials = [
        ("s1", 0, 0.1, {"result": {"metric": 0.80}}),
        ("s1", 1, 0.2, {"result": {"metric": 0.90}}),
        ("s1", 2, 0.3, {"metric": 0.85}),
        ("s2", 0, 0.1, {}),
    ]
    _append(
        url,
        at(3, 4),
        [
            run(
                at(3, 4),
                "nlp",
                study,
                None,
                None,
                kind="trial",
                stage=None,
                measured_j=kwh * J,
                zone="FR",
                g_per_kwh=50.0,
                metadata={"study": study, "trial": n, "params": {"lr": 0.1}, **extra},
            )
            for study, n, kwh, extra in trials
        ],
    )
    policy = parse_policy(
        "rules:\n  max_energy_increase_pct: 5\n"
        "budgets:\n  - {team: vision, period: month, co2e_kg: 1, on_exceed: refuse}\n"
    )
    status = BudgetStatus(
        Budget("vision", None, "month", 1.0), at(3, 1, 0), at(4, 1, 0), 1.5, 4, "ledger:test"
    )
    verdict = evaluate_gate(
        policy,
        candidate_profile(),
        candidate_profile("2", energy_per_1k_j=1000.0),
        now=at(3, 10),
        budgets=[status],
    )
    gate = decision_draft(
        verdict,
        inputs=[GateInput("policy", "policy.yaml", "0" * 64)],
        budgets=[status],
        team="vision",
        project="detector",
    )
    retrain = RecordDraft(
        kind="decision",
        attribution=Attribution(team="vision", project="detector", model="resnet", stage="retrain"),
        metadata={"retrain": {"decision": "retrain", "reason": "drift in 3 of 5 features"}},
    )
    _append(url, at(3, 10), [gate])
    _append(url, at(3, 12), [retrain])
    _append(
        url,
        datetime(2024, 4, 1, tzinfo=UTC),
        [run(at(4, 1), "vision", "detector", "resnet", "2", measured_j=100 * J)],
    )
    _submit_jobs(url, tmp)
    return World(url=url, corrected_id=original.id)


def _submit_jobs(url: str, tmp: Path) -> None:
    jobs = [
        # team, planned start, hours, expected, now, expected_co2e, now_co2e, realised
        ("vision", at(2, 1), 2.0, 200.0, 300.0, 400.0, 600.0, 220.0),
        ("nlp", at(3, 1), 1.0, 100.0, 100.0, None, None, None),
        ("nlp", at(5, 1), 1.0, 50.0, 500.0, None, None, None),  # outside the period
    ]
    now = datetime(2024, 1, 5, tzinfo=UTC)
    with open_job_store(url, environ={}, clock=lambda: now) as store:
        for team, start, hours, expected, immediate, e_co2e, n_co2e, realised in jobs:
            spec = build_job_spec(duration=f"{hours}h", deadline="2024-12-31T00:00Z", now=now)
            job = store.submit(
                ["python", "train.py"],
                spec,
                zones=["DE"],
                now=now,
                cwd=tmp,
                team=team,
                project="detector" if team == "vision" else "chat",
            )
            plan = {
                "zone": "DE",
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "expected_intensity_g_per_kwh": expected,
                "now_intensity_g_per_kwh": immediate,
                "expected_co2e_g": e_co2e,
                "now_co2e_g": n_co2e,
            }
            updated = store.update(job, planned_at=now, planned_start=start, plan=plan)
            assert updated is not None
            if realised is not None:
                assert store.update(updated, realised_intensity_g_per_kwh=realised) is not None


@pytest.fixture
def make_world(tmp_path: Path) -> Callable[[str], World]:
    """Build the world in the ledger at a URL."""
    return lambda url: build_world(url, tmp_path)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """The world in a SQLite ledger."""
    return build_world(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)


@pytest.fixture
def any_world(ledger_url: str, tmp_path: Path) -> World:
    """The world in SQLite and in PostgreSQL (skipped with a reason when unreachable)."""
    return build_world(ledger_url, tmp_path)


@pytest.fixture(autouse=True)
def _no_ambient_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOWCARB_LEDGER", "LOWCARB_LEDGER_SIGNING_KEY"):
        if name in os.environ:
            monkeypatch.delenv(name)
