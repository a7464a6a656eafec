"""The GitHub Actions example: it parses, and its gate command fails the job exactly on reject."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lowcarb.ledger import RecordFilter, open_ledger

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions" / "carbon-gate.yml"
# A pip install of lowcarb by name from the index (any flags, extras or version), as opposed to
# one from a pinned git commit or a wheel file.
BARE_INSTALL = re.compile(r"pip3? install\s+(?:-\S+\s+)*[\"']?lowcarb\b(?![^\n]*@ git\+)")
BASELINE: dict[str, Any] = {
    "model": "detector",
    "version": "6",
    "accuracy": 0.91,
    "latency_p95_ms": 20.0,
    "energy_per_1k_j": 800.0,
    "energy_method": "measured",
    "flops": 2.0e6,
    "size_bytes": 4_000_000,
    "training_co2e_kg": 3.2,
}


def _gate_step() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True.
    assert workflow[True]["pull_request"]["paths"]
    (job,) = workflow["jobs"].values()
    assert job["env"]["LOWCARB_LEDGER"] == "${{ secrets.LOWCARB_LEDGER }}"
    steps = [s for s in job["steps"] if "lowcarb gate" in s.get("run", "")]
    assert len(steps) == 1
    assert any("pip install" in s.get("run", "") for s in job["steps"])
    return steps[0]


def _run_step(tmp_path: Path, candidate: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "examples" / "policy.yaml", tmp_path / "policy.yaml")
    for folder, profile in (("candidate", candidate), ("production", BASELINE)):
        (tmp_path / "models" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "models" / folder / "profile.json").write_text(json.dumps(profile))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWCARB_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["LOWCARB_LEDGER"] = f"sqlite:///{tmp_path / 'ledger.db'}"  # the secret
    return subprocess.run(
        ["bash", "-e", "-c", _gate_step()["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lowcarb_is_installed_from_a_pinned_commit_never_by_name() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    (job,) = workflow["jobs"].values()
    installs = [s for s in job["steps"] if "pip install" in s.get("run", "")]
    assert len(installs) == 1
    step = installs[0]
    assert re.fullmatch(r"[0-9a-f]{40}", step["env"]["LOWCARB_COMMIT"])
    assert "@ git+${LOWCARB_REPO}@${LOWCARB_COMMIT}" in step["run"]
    # Nowhere (steps or comments) a pip install of the name from the index: `lowcarb`,
    # `"lowcarb[postgres]"`, `lowcarb==0.1` all resolve against whoever registered the name.
    assert not BARE_INSTALL.search(text), BARE_INSTALL.search(text)
    # The why is written next to the install, for whoever edits the workflow next.
    assert "secret" in text and "never a branch or tag" in text


def test_the_bare_name_check_catches_the_forms_people_write() -> None:
    bad = (
        "pip install lowcarb",
        'pip install "lowcarb[postgres]"',
        "pip install -U lowcarb",
        "pip install lowcarb==0.1.0",
        "pip3 install 'lowcarb[postgres]>=0.1'",
    )
    for line in bad:
        assert BARE_INSTALL.search(line), line
    for line in (
        'pip install "lowcarb[postgres] @ git+https://x/lowcarb@' + "0" * 40 + '"',
        "pip install dist/lowcarb-0.1.0-py3-none-any.whl",
    ):
        assert not BARE_INSTALL.search(line), line


def test_the_workflow_runs_the_gate_command() -> None:
    run = _gate_step()["run"]
    assert run.startswith("lowcarb gate --policy policy.yaml --candidate")
    assert "--json > verdict.json" in run


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_step_fails_on_reject_and_passes_on_promote(tmp_path: Path) -> None:
    worse = {**BASELINE, "version": "7", "energy_per_1k_j": 880.0}  # +10 %, no accuracy gain
    proc = _run_step(tmp_path, worse)
    assert proc.returncode == 1, proc.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["decision"] == "reject"
    assert [v["rule"] for v in verdict["violations"]] == ["max_energy_increase_pct"]
    better = {**BASELINE, "version": "8", "energy_per_1k_j": 700.0}
    proc = _run_step(tmp_path, better)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "verdict.json").read_text())["decision"] == "promote"
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        decisions = [
            r.metadata["gate"]["decision"] for r in ledger.records(RecordFilter(kind="decision"))
        ]
        assert ledger.verify().ok
    assert decisions == ["reject", "promote"]
