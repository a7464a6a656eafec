"""A small ledger with several teams for the dashboard tests, and its expected figures.

January 2024: team ``vision`` (project ``detector``, model ``resnet`` v1 and v2; a training run
corrected; an inference batch; a gate decision), team ``nlp`` (project ``chat``, model ``bert``;
estimated energy; a retrain decision), and a team whose names are HTML (``HOSTILE``). Jobs for
both teams. Built through the real append path and the real job store. The app's clock is
``NOW`` (2024-01-31 12:00 UTC), so the default period (the 30 days up to today) covers it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.jobs import open_job_store
from lowcarb.ledger import (
    Attribution,
    RecordDraft,
    TokenStore,
    draft_from_footprint,
    open_engine,
    open_ledger,
)
from lowcarb.scheduling import build_job_spec

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "HOSTILE",
    "HOSTILE_PROJECT",
    "NOW",
    "J",
    "TestClient",
    "Tokens",
    "World",
    "at",
    "bearer",
    "build_world",
    "make_tokens",
    "period",
]

NOW = datetime(2024, 1, 31, 12, tzinfo=UTC)
J = 3_600_000.0  # joules per kWh
HOSTILE = '<img src=x onerror="alert(1)">'
HOSTILE_PROJECT = '"><script>alert(2)</script>'


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


def _run(
    when: datetime,
    team: str,
    project: str,
    model: str | None,
    version: str | None,
    *,
    measured_j: float = 0.0,
    estimated_j: float = 0.0,
    zone: str = "DE",
    g_per_kwh: float = 400.0,
    kind: str = "run",
    stage: str | None = "training",
    metadata: dict[str, Any] | None = None,
) -> RecordDraft:
    comps = []
    if measured_j:
        comps.append(ComponentEnergy("cpu", measured_j, "measured", "rapl:intel-rapl:0"))
    if estimated_j:
        comps.append(ComponentEnergy("gpu:0", estimated_j, "estimated", "tdp-model"))
    m = Measurement("run", when, 60.0, tuple(comps))
    fp = price(m, intensity=Intensity(zone, g_per_kwh, f"static:test-{zone}"), pue=1.0)
    return draft_from_footprint(
        fp,
        kind=kind,
        attribution=Attribution(
            team=team, project=project, model=model, model_version=version, stage=stage
        ),
        metadata=metadata,
    )


@dataclass
class World:
    """The built ledger, its record ids per team and the figures pages must show."""

    url: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    corrected_id: str = ""


def _append(url: str, when: datetime, drafts: list[RecordDraft]) -> list[Any]:
    with open_ledger(url, clock=lambda: when, environ={}) as ledger:
        return ledger.append_many(drafts)


def build_world(url: str, tmp: Path) -> World:
    """Append the records and jobs described in the module docstring.

    Expected, over 2024-01-01..2024-02-01 (records with energy, corrections applied):
    vision 4 records, 6.5 kWh, 2600 g (DE 400 g/kWh), 4.5 kWh measured; nlp 2 records, 3 kWh,
    150 g (FR 50 g/kWh), all estimated; HOSTILE 1 record, 1 kWh, 400 g.
    """
    w = World(url=url, ids={"vision": [], "nlp": [], "hostile": []})
    vision = [
        _run(at(3), "vision", "detector", "resnet", "1", measured_j=2 * J, estimated_j=J),
        _run(at(3), "vision", "detector", "resnet", "1", measured_j=10 * J),  # corrected below
    ]
    out = _append(url, at(3), vision)
    w.ids["vision"] += [r.id for r in out]
    w.corrected_id = out[1].id
    with open_ledger(url, clock=lambda: at(4), environ={}) as ledger:
        fixed = ledger.correct(
            out[1].id,
            _run(at(3), "vision", "detector", "resnet", "1", measured_j=J),
            reason="meter double-counted",
        )
    w.ids["vision"].append(fixed.id)
    out = _append(
        url,
        at(10),
        [
            _run(at(10), "vision", "detector", "resnet", "2", measured_j=J, estimated_j=J),
            _run(
                at(10),
                "vision",
                "detector",
                "resnet",
                "2",
                measured_j=0.5 * J,
                kind="inference",
                stage="serving",
                metadata={"inferences": 100_000},
            ),
        ],
    )
    w.ids["vision"] += [r.id for r in out]
    out = _append(
        url,
        at(7),
        [
            _run(at(7), "nlp", "chat", "bert", "1", estimated_j=2 * J, zone="FR", g_per_kwh=50.0),
            _run(at(8), "nlp", "chat", "bert", "1", estimated_j=J, zone="FR", g_per_kwh=50.0),
        ],
    )
    w.ids["nlp"] += [r.id for r in out]
    out = _append(url, at(12), [_run(at(12), HOSTILE, HOSTILE_PROJECT, HOSTILE, "1", measured_j=J)])
    w.ids["hostile"] += [r.id for r in out]
    gate = RecordDraft(
        kind="decision",
        attribution=Attribution(
            team="vision", project="detector", model="resnet", model_version="2", stage="gate"
        ),
        metadata={
            "gate": {
                "decision": "reject",
                "violations": [{"rule": "max_energy_increase_pct", "message": "energy +40%"}],
            }
        },
    )
    retrain = RecordDraft(
        kind="decision",
        attribution=Attribution(team="nlp", project="chat", model="bert", stage="retrain"),
        metadata={"retrain": {"decision": "retrain", "reason": "drift in 3 of 5 features"}},
    )
    w.ids["vision"] += [r.id for r in _append(url, at(15), [gate])]
    w.ids["nlp"] += [r.id for r in _append(url, at(16), [retrain])]
    _jobs(url, tmp)
    return w


def _jobs(url: str, tmp: Path) -> None:
    now = at(2)
    with open_job_store(url, environ={}, clock=lambda: now) as store:
        for team, project, start, expected, immediate in (
            ("vision", "detector", at(20, 2), 200.0, 320.0),
            ("nlp", "chat", at(21, 3), 40.0, 60.0),
        ):
            spec = build_job_spec(duration="2h", deadline="2024-03-01T00:00Z", now=now)
            job = store.submit(
                ["python", "train.py"],
                spec,
                zones=["DE"],
                now=now,
                cwd=tmp,
                team=team,
                project=project,
            )
            plan = {
                "zone": "DE",
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "expected_intensity_g_per_kwh": expected,
                "now_intensity_g_per_kwh": immediate,
            }
            assert store.update(job, planned_at=now, planned_start=start, plan=plan) is not None


def period(days: int = 31) -> str:
    """The query string of January 2024 (or its first ``days`` days)."""
    end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=days)
    return f"since=2024-01-01&until={end.date().isoformat()}"


@dataclass
class Tokens:
    """Bearer strings of every kind of token, and their ids."""

    admin: str
    vision: str
    nlp_writer: str
    revoked: str
    expired: str
    ids: dict[str, str]


def make_tokens(url: str) -> Tokens:
    engine = open_engine(url, environ={})
    try:
        store = TokenStore(engine, clock=lambda: NOW - timedelta(days=1))
        admin = store.create(team=None, admin=True)
        vision = store.create(team="vision", expires_in=timedelta(days=90))
        nlp = store.create(team="nlp", scopes=("read", "write"))
        revoked = store.create(team="vision")
        store.revoke(revoked.token.id)
        expired = store.create(team="vision", expires_in=timedelta(hours=1))
    finally:
        engine.dispose()
    return Tokens(
        admin=admin.bearer,
        vision=vision.bearer,
        nlp_writer=nlp.bearer,
        revoked=revoked.bearer,
        expired=expired.bearer,
        ids={
            "admin": admin.token.id,
            "vision": vision.token.id,
            "nlp": nlp.token.id,
            "revoked": revoked.token.id,
            "expired": expired.token.id,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
