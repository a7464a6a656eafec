"""`lowcarb gate`: the DESIGN.md contract, exit codes 0/1/2, ledger records, one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import RecordFilter, open_ledger

BASE: dict[str, Any] = {
    "model": "fraud",
    "version": "6",
    "accuracy": 0.9,
    "latency_p95_ms": 10.0,
    "energy_per_1k_j": 1000.0,
    "energy_method": "measured",
    "flops": 1000.0,
    "size_bytes": 1000,
    "training_co2e_kg": 5.0,
}
POLICY = """rules:
  max_energy_increase_pct: 5
  min_accuracy_gain_pts_to_exceed: 1
  max_flops_increase_pct: 15
  max_latency_p95_ms: 50
  max_training_co2e_kg: 20
  require_measured_energy: false
"""


def _write(tmp_path: Path, policy: str = POLICY, **candidate: Any) -> list[str]:
    (tmp_path / "policy.yaml").write_text(policy, encoding="utf-8")
    (tmp_path / "candidate.json").write_text(json.dumps({**BASE, "version": "7", **candidate}))
    (tmp_path / "baseline.json").write_text(json.dumps(BASE))
    return [
        "gate",
        "--policy",
        str(tmp_path / "policy.yaml"),
        "--candidate",
        str(tmp_path / "candidate.json"),
        "--baseline",
        str(tmp_path / "baseline.json"),
    ]


def _run(argv: list[str], environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ=environ or {}))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("candidate", "code", "rules"),
    [
        ({"energy_per_1k_j": 1049.0}, 0, []),  # +4.9 %
        ({"energy_per_1k_j": 1051.0}, 1, ["max_energy_increase_pct"]),  # +5.1 %
        ({"energy_per_1k_j": 1200.0, "accuracy": 0.91}, 0, []),  # excused by +1.00 pts
        ({"flops": 1151.0}, 1, ["max_flops_increase_pct"]),
        ({"latency_p95_ms": 50.5}, 1, ["max_latency_p95_ms"]),
        ({"training_co2e_kg": 21.0}, 1, ["max_training_co2e_kg"]),
    ],
)
def test_decisions_and_exit_codes(
    tmp_path: Path, candidate: dict[str, Any], code: int, rules: list[str]
) -> None:
    rc, out, err = _run([*_write(tmp_path, **candidate), "--json"])
    assert rc == code, err
    verdict = json.loads(out)  # exactly one JSON object
    assert verdict["decision"] == ("promote" if code == 0 else "reject")
    assert [v["rule"] for v in verdict["violations"]] == rules
    assert all(v["message"] for v in verdict["violations"])
    assert "verdict not recorded" in err


def test_every_verdict_is_recorded_with_hashes(tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    argv = _write(tmp_path, energy_per_1k_j=1100.0)
    rc, out, _ = _run([*argv, "--ledger", ledger, "--json"])
    assert rc == 1
    rc2, _, _ = _run(_write(tmp_path), {"LOWCARB_LEDGER": ledger})  # env var, Rich output
    assert rc2 == 0
    verdict = json.loads(out)
    with open_ledger(ledger) as led:
        assert led.verify().ok
        first, second = led.records(RecordFilter(kind="decision"))
    assert verdict["record_id"] == first.id
    assert first.metadata["gate"]["decision"] == "reject"
    assert second.metadata["gate"]["decision"] == "promote"
    policy_sha = hashlib.sha256((tmp_path / "policy.yaml").read_bytes()).hexdigest()
    assert verdict["inputs"]["policy"]["sha256"] == policy_sha
    assert first.metadata["inputs"]["policy"]["sha256"] == policy_sha


def test_rich_output_lists_the_reasons(tmp_path: Path) -> None:
    rc, out, _ = _run(_write(tmp_path, energy_per_1k_j=1100.0, flops=2000.0))
    assert rc == 1
    assert "REJECT fraud@7 against fraud@6" in out
    assert "max_energy_increase_pct" in out and "max_flops_increase_pct" in out
    assert "+10.00%" in out


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        ({"baseline": {**BASE, "energy_per_1k_j": 0}}, "energy_per_1k_j = 0"),
        (
            {"baseline": {k: v for k, v in BASE.items() if k != "flops"}},
            "missing required field 'flops'",
        ),
        ({"candidate": {**BASE, "latency_ms": 3}}, "unknown field 'latency_ms'"),
        (
            {"policy": "rules: {max_energy_increse_pct: 5}"},
            "did you mean 'max_energy_increase_pct'",
        ),
        ({"policy": "rules: {min_accuracy_gain_pts_to_exceed: 1}"}, "contradictory"),
        ({"policy": "rules:\n  max_latency_p95_ms: 5\n  max_latency_p95_ms: 6\n"}, "given twice"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, mutate: dict[str, Any], expected: str
) -> None:
    argv = _write(tmp_path)
    if "policy" in mutate:
        (tmp_path / "policy.yaml").write_text(mutate["policy"])
    for role in ("baseline", "candidate"):
        if role in mutate:
            (tmp_path / f"{role}.json").write_text(json.dumps(mutate[role]))
    rc, out, err = _run([*argv, "--json"])
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lowcarb: error: ")
    assert expected in err


def test_budget_without_a_reachable_ledger_fails_closed(tmp_path: Path) -> None:
    policy = POLICY + "budgets:\n  - {team: risk, period: month, co2e_kg: 10}\n"
    argv = [*_write(tmp_path, policy, team="risk"), "--json"]
    rc, _, err = _run(argv)
    assert rc == 2 and "no ledger is configured" in err
    rc, _, err = _run([*argv, "--ledger", "postgresql+psycopg://x@127.0.0.1:1/none"])
    assert rc == 2  # refused before any verdict is computed: the ledger is opened first
    assert err.startswith("lowcarb: error: cannot reach ledger database") and "127.0.0.1" in err
    assert err.count("\n") == 1


def test_usage_errors(tmp_path: Path) -> None:
    argv = _write(tmp_path)
    rc, _, err = _run(argv[:5])  # no --baseline
    assert rc == 2 and "give --candidate FILE and --baseline FILE" in err
    rc, _, err = _run([*argv, "--now", "yesterday"])
    assert rc == 2 and "--now 'yesterday' is not an ISO 8601 time" in err
    rc, _, err = _run([*argv, "--candidate-version", "3"])
    assert rc == 2 and "--candidate-version goes with --mlflow-model" in err


def test_the_installed_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOWCARB_", "MLFLOW_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "lowcarb.cli", *_write(tmp_path, flops=2000.0), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["violations"][0]["rule"] == "max_flops_increase_pct"


@pytest.mark.parametrize(
    "name", ["[/]", "[bold red]APPROVED", "x\x1b[31my", "[link=http://evil]click[/link]"]
)
def test_hostile_model_names_are_shown_literally(tmp_path: Path, name: str) -> None:
    """A name with Rich markup once raised MarkupError and made gate exit 1 ("rejected")."""
    argv = _write(tmp_path)
    for role in ("candidate", "baseline"):
        path = Path(argv[argv.index(f"--{role}") + 1])
        data = json.loads(path.read_text())
        data["model"] = name
        path.write_text(json.dumps(data))
    rc, out, err = _run(argv)
    assert rc == 0, err  # promote: markup in a name must never turn into a verdict
    assert "\x1b" not in out and "Traceback" not in err
    if "\x1b" not in name:
        assert name in out


def test_ledger_in_a_parent_config_file_records_the_verdict(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('ledger = "sqlite:///verdicts.db"\n')
    argv = _write(tmp_path)
    sub = tmp_path / "ci"
    sub.mkdir()
    out, err = StringIO(), StringIO()
    cwd = os.getcwd()
    os.chdir(sub)
    try:
        rc = main(
            [*argv, "--json"],
            ctx=CliContext(stdout=out, stderr=err, environ={"HOME": str(tmp_path)}),
        )
    finally:
        os.chdir(cwd)
    assert rc == 0, err.getvalue()
    assert json.loads(out.getvalue())["record_id"]
    with open_ledger(f"sqlite:///{tmp_path / 'verdicts.db'}", environ={}) as ledger:
        assert ledger.verify().entries == 1


def test_hostile_policy_names_and_override_reasons_are_shown_literally(tmp_path: Path) -> None:
    policy = (
        'name: "[/][bold red]APPROVED"\n' + POLICY + "overrides:\n"
        '  - {rule: max_flops_increase_pct, model: fraud, version: "7", approver: "[/]",\n'
        '     reason: "[red]ok\\e[31m", expires: "2999-01-01T00:00:00Z"}\n'
    )
    rc, out, err = _run([*_write(tmp_path, policy, flops=2000.0), "--now", "2025-06-01T00:00:00Z"])
    assert rc == 0, err  # the override excuses the FLOPs rule: promote, and no MarkupError
    assert "[/][bold red]APPROVED" in out
    assert "\x1b" not in out and "Traceback" not in err


@pytest.mark.parametrize(("flag", "value"), [("--team", "a\x1b[31mb"), ("--project", "x" * 300)])
def test_names_written_to_the_ledger_are_checked_first(
    tmp_path: Path, flag: str, value: str
) -> None:
    ledger = tmp_path / "ledger.db"
    rc, out, err = _run([*_write(tmp_path), flag, value, "--ledger", f"sqlite:///{ledger}"])
    assert rc == 2 and out == "" and err.count("\n") == 1 and flag in err
    assert not ledger.exists()
