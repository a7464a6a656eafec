"""`lowcarb budget status|check`: spend from the ledger, exit 1 when a hard budget refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.ledger import Attribution, draft_from_footprint, open_ledger

NOW = "2025-05-20T12:00:00Z"
POLICY = """budgets:
  - {team: vision, period: month, co2e_kg: 10, on_exceed: refuse}
  - {team: vision, period: year, co2e_kg: 18, on_exceed: warn}
"""


def _run(argv: list[str], environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ=environ or {}))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, str]:
    """A policy file and a ledger where team vision spent 6 kg in May 2025 (and 9 kg in March)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for when, kg in (
        (datetime(2025, 3, 5, tzinfo=UTC), 9.0),
        (datetime(2025, 5, 5, tzinfo=UTC), 6.0),
    ):
        m = Measurement("run", when, 1.0, (ComponentEnergy("cpu", kg * 3.6e6, "measured", "t"),))
        fp = price(m, intensity=Intensity("XX", 1000.0, "t"))
        with open_ledger(url, clock=lambda when=when: when) as ledger:
            ledger.append(draft_from_footprint(fp, attribution=Attribution(team="vision")))
    return str(policy), url


def test_status_json(setup: tuple[str, str]) -> None:
    policy, url = setup
    rc, out, err = _run(
        ["budget", "status", "--policy", policy, "--ledger", url, "--now", NOW, "--json"]
    )
    assert rc == 0, err
    month, year = json.loads(out)["budgets"]
    assert (month["period"], month["spent_co2e_kg"], month["state"]) == ("month", 6.0, "ok")
    assert month["period_start"] == "2025-05-01T00:00:00+00:00"
    assert month["remaining_co2e_kg"] == pytest.approx(4.0)
    assert (year["spent_co2e_kg"], year["state"]) == (15.0, "warning")


def test_status_table_reads_the_ledger_from_the_environment(setup: tuple[str, str]) -> None:
    policy, url = setup
    rc, out, _ = _run(
        ["budget", "status", "--policy", policy, "--now", NOW], {"LOWCARB_LEDGER": url}
    )
    assert rc == 0
    assert "team=vision" in out and "6.000" in out and "60.0%" in out


def test_check_refuses_with_exit_1_and_allows_within_budget(setup: tuple[str, str]) -> None:
    policy, url = setup
    base = [
        "budget",
        "check",
        "--policy",
        policy,
        "--ledger",
        url,
        "--team",
        "vision",
        "--now",
        NOW,
        "--json",
    ]
    rc, out, _ = _run([*base, "--co2e-kg", "4"])
    assert rc == 0
    assert json.loads(out)["allowed"] is True
    rc, out, err = _run([*base, "--co2e-kg", "4.5"])
    assert rc == 1
    assert json.loads(out)["allowed"] is False
    assert "would exceed the carbon budget team=vision month" in err
    rc, out, _ = _run([*base[:-1], "--team", "nlp", "--co2e-kg", "1000"])
    assert rc == 0 and "no budget applies to team=nlp" in out


def test_soft_budget_warns_but_allows(tmp_path: Path, setup: tuple[str, str]) -> None:
    _, url = setup
    soft = tmp_path / "soft.yaml"
    soft.write_text("budgets: [{team: vision, period: year, co2e_kg: 20, on_exceed: warn}]\n")
    rc, out, _ = _run(
        [
            "budget",
            "check",
            "--policy",
            str(soft),
            "--ledger",
            url,
            "--team",
            "vision",
            "--co2e-kg",
            "6",
            "--now",
            NOW,
            "--json",
        ]
    )
    assert rc == 0
    data = json.loads(out)
    assert data["allowed"] is True
    assert len(data["warnings"]) == 1 and "would exceed" in data["warnings"][0]


def test_budgets_fail_closed(
    setup: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy, _ = setup
    monkeypatch.chdir(tmp_path)  # the default ledger (.lowcarb/ledger.db) is looked up here
    for extra, expected in (
        ([], "no ledger at '.lowcarb/ledger.db'"),
        (["--ledger", f"sqlite:///{tmp_path / 'nope.db'}"], "no ledger at"),
        (["--ledger", "postgresql+psycopg://x@127.0.0.1:1/none"], "cannot read carbon budgets"),
    ):
        rc, out, err = _run(["budget", "check", "--policy", policy, "--team", "vision", *extra])
        assert rc == 2, err
        assert out == "" and err.count("\n") == 1 and expected in err
    assert _run(["budget", "status"])[0] == 2  # argparse: --policy is required
