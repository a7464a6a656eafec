"""lowcarb.integrations exports exactly its ``__all__``, and the governance demo runs end to end."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console

import lowcarb.integrations as integrations
import lowcarb.integrations.mlflow as integrations_mlflow
from lowcarb.energy import FakeMeter
from lowcarb.ledger import RecordFilter, open_ledger


@pytest.mark.parametrize("pkg", [integrations, integrations_mlflow])
def test_all_names_resolve_and_nothing_else_is_public(pkg: ModuleType) -> None:
    for name in pkg.__all__:
        assert hasattr(pkg, name), name
    public = {n for n in vars(pkg) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if hasattr(getattr(pkg, n), "__file__")}
    assert public - modules == set(pkg.__all__)
    assert len(pkg.__all__) == len(set(pkg.__all__))


def test_importing_the_mlflow_bridge_does_not_import_mlflow() -> None:
    # `make demo` installs only the `demo` extra: the bridge imports MLflow on first use.
    code = "import sys, lowcarb.integrations.mlflow; print('mlflow' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_governance_demo_trains_profiles_and_gates(tmp_path: Path) -> None:
    out = StringIO()
    outcome = integrations.run_governance_demo(
        Console(file=out, width=200, color_system=None),
        workdir=tmp_path,
        meters=[FakeMeter(power_w={"cpu": 15.0}, source="fake:cpu")],
        energy_seconds=0.1,
    )
    text = out.getvalue()
    # The candidate random forest costs far more FLOPs than the logistic regression.
    assert outcome.verdict.decision == "reject"
    assert "max_flops_increase_pct" in [c.rule for c in outcome.verdict.violations]
    assert "REJECT digits-classifier@2 against digits-classifier@1" in text
    assert "chain valid" in text
    for name in ("profile-1.json", "profile-2.json", "policy.yaml", "ledger.db"):
        assert (tmp_path / name).is_file()
    candidate = outcome.verdict.candidate
    assert candidate.training_co2e_kg is not None and candidate.training_co2e_kg > 0
    assert candidate.energy_source == "fake:cpu"
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        runs = list(ledger.records(RecordFilter(kind="run")))
        (decision,) = ledger.records(RecordFilter(kind="decision"))
    assert [r.attribution.model_version for r in runs] == ["1", "2"]
    assert decision.id == outcome.record_id
