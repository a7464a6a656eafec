"""The gate end to end: verdicts recorded in a real ledger with input hashes; fail-closed rules."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.errors import LedgerError, LedgerUnreachableError, ProfileError, UsageError
from lowcarb.governance import gate_files
from lowcarb.grid import Intensity, price
from lowcarb.ledger import Attribution, RecordFilter, draft_from_footprint, open_ledger

NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
BASE: dict[str, Any] = {
    "model": "det",
    "version": "1",
    "accuracy": 0.9,
    "latency_p95_ms": 10.0,
    "energy_per_1k_j": 1000.0,
    "energy_method": "measured",
    "flops": 1000.0,
    "size_bytes": 1000,
    "training_co2e_kg": 5.0,
}
POLICY = "rules:\n  max_energy_increase_pct: 5\n  max_flops_increase_pct: 15\n"
BUDGET_POLICY = POLICY + "budgets:\n  - {team: vision, period: month, co2e_kg: 10}\n"


def _files(tmp_path: Path, policy: str = POLICY, **candidate: Any) -> dict[str, Path]:
    paths = {
        "policy": tmp_path / "policy.yaml",
        "candidate": tmp_path / "candidate.json",
        "baseline": tmp_path / "baseline.json",
    }
    paths["policy"].write_text(policy, encoding="utf-8")
    paths["candidate"].write_text(json.dumps({**BASE, "version": "2", **candidate}), "utf-8")
    paths["baseline"].write_text(json.dumps(BASE), encoding="utf-8")
    return paths


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_verdicts_are_recorded_with_input_hashes_and_verify(
    tmp_path: Path, ledger_url: str
) -> None:
    files = _files(tmp_path, energy_per_1k_j=1051.0)
    rejected = gate_files(**files, ledger_url=ledger_url, now=NOW, environ={})
    assert rejected.verdict.decision == "reject"
    files = _files(tmp_path, energy_per_1k_j=1049.0)
    promoted = gate_files(**files, ledger_url=ledger_url, now=NOW, environ={})
    assert promoted.verdict.decision == "promote"
    with open_ledger(ledger_url) as ledger:
        records = list(ledger.records(RecordFilter(kind="decision")))
        result = ledger.verify()
    assert result.ok and result.entries == 2
    assert [r.id for r in records] == [rejected.record_id, promoted.record_id]
    first, second = records
    assert first.metadata["gate"]["decision"] == "reject"
    assert first.metadata["gate"]["violations"][0]["rule"] == "max_energy_increase_pct"
    assert second.metadata["gate"]["decision"] == "promote"
    for role in ("policy", "candidate", "baseline"):
        assert second.metadata["inputs"][role] == {
            "location": str(files[role]),
            "sha256": _sha(files[role]),
        }
    # The two candidates differ, so their recorded hashes do.
    assert first.metadata["inputs"]["candidate"]["sha256"] != _sha(files["candidate"])
    assert second.attribution.model == "det" and second.attribution.model_version == "2"
    assert second.attribution.stage == "gate"
    assert second.footprint is None


def test_without_a_ledger_the_verdict_is_returned_unrecorded(tmp_path: Path) -> None:
    outcome = gate_files(**_files(tmp_path), ledger_url=None, now=NOW)
    assert outcome.verdict.decision == "promote"
    assert outcome.record_id is None
    d = outcome.to_dict()
    assert d["record_id"] is None and d["ledger"] is None
    assert set(d["inputs"]) == {"policy", "candidate", "baseline"}


def _spend(url: str, kg: float) -> None:
    m = Measurement("run", NOW, 1.0, (ComponentEnergy("cpu", kg * 3.6e6, "measured", "t"),))
    fp = price(m, intensity=Intensity("XX", 1000.0, "t"))
    with open_ledger(url, clock=lambda: NOW) as ledger:
        ledger.append(draft_from_footprint(fp, attribution=Attribution(team="vision")))


def test_an_exhausted_budget_rejects_and_the_figures_are_recorded(
    tmp_path: Path, sqlite_url: str
) -> None:
    _spend(sqlite_url, 9.0)
    files = _files(tmp_path, BUDGET_POLICY, team="vision")
    ok = gate_files(**files, ledger_url=sqlite_url, now=NOW, environ={})
    assert ok.verdict.decision == "promote"
    _spend(sqlite_url, 1.0)
    spent = gate_files(**files, ledger_url=sqlite_url, now=NOW, environ={})
    assert spent.verdict.decision == "reject"
    assert [c.rule for c in spent.verdict.violations] == ["budget"]
    with open_ledger(sqlite_url) as ledger:
        record = ledger.get(spent.record_id or "")
    (budget,) = record.metadata["budgets"]
    assert budget["spent_co2e_kg"] == pytest.approx(10.0)
    assert budget["state"] == "exhausted"
    # --team on the command line charges another team, to which no budget applies.
    other = gate_files(**files, ledger_url=sqlite_url, team="nlp", now=NOW, environ={})
    assert other.verdict.decision == "promote"


def test_budgets_fail_closed(tmp_path: Path, sqlite_url: str) -> None:
    files = _files(tmp_path, BUDGET_POLICY, team="vision")
    with pytest.raises(UsageError, match="no ledger is configured"):
        gate_files(**files, ledger_url=None, now=NOW)
    with pytest.raises(LedgerError, match="fails closed") as info:
        gate_files(**files, ledger_url=sqlite_url, now=NOW, environ={})
    assert info.value.exit_code == 2
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # not created empty
    with pytest.raises(LedgerUnreachableError, match="cannot check the carbon budget"):
        gate_files(
            **files, ledger_url="postgresql+psycopg://nobody@127.0.0.1:1/none", now=NOW, environ={}
        )


def test_bad_inputs_raise_before_anything_is_recorded(tmp_path: Path, sqlite_url: str) -> None:
    files = _files(tmp_path)
    files["baseline"].write_text(json.dumps({**BASE, "energy_per_1k_j": 0.0}), "utf-8")
    with pytest.raises(ProfileError, match="energy_per_1k_j = 0"):
        gate_files(**files, ledger_url=sqlite_url, now=NOW, environ={})
    files["baseline"].write_text(json.dumps({**BASE, "colour": "red"}), "utf-8")
    with pytest.raises(ProfileError, match="unknown field 'colour'"):
        gate_files(**files, ledger_url=sqlite_url, now=NOW, environ={})
    with open_ledger(sqlite_url) as ledger:
        assert ledger.count() == 0
