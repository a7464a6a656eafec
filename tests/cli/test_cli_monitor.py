"""``lowcarb monitor check|watch|energy``: the DESIGN.md contract, exit codes, ledger, bad input."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import RecordFilter, open_ledger

POLICY = """version: 1
name: churn
retrain:
  drift: {max_drift_share: 0.3, features: [hour, lag_1, region]}
  cooldown: 7d
  deadline: 24h
  job:
    command: [python, -c, "print('training')"]
    duration: 1h
    zone: DE
    team: ml
    project: churn
    power_w: 300
energy_regression: {max_increase_pct: 10, rollback: false}
"""
PROFILE: dict[str, Any] = {
    "model": "churn", "version": "6", "accuracy": 0.9, "latency_p95_ms": 10.0,
    "energy_per_1k_j": 100.0, "energy_method": "measured", "flops": 1000.0,
    "size_bytes": 1000, "training_co2e_kg": 5.0,
}  # fmt: skip


def _cli(*argv: str, tmp_path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    code = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ=env))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def windows(tmp_path: Path) -> tuple[Path, Path, Path]:
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 2000
    ref = pd.DataFrame({
        "hour": rng.integers(0, 24, n), "lag_1": rng.normal(300, 50, n),
        "region": rng.choice(["north", "south"], n),
    })  # fmt: skip
    same = pd.DataFrame({
        "hour": rng.integers(0, 24, n), "lag_1": rng.normal(300, 50, n),
        "region": rng.choice(["north", "south"], n),
    })  # fmt: skip
    shifted = pd.DataFrame({
        "hour": rng.integers(0, 24, n), "lag_1": rng.normal(340, 50, n),
        "region": rng.choice(["north", "south", "east"], n),
    })  # fmt: skip
    paths = tmp_path / "reference.csv", tmp_path / "same.csv", tmp_path / "shifted.csv"
    for frame, path in zip((ref, same, shifted), paths, strict=True):
        frame.to_csv(path, index=False)
    return paths


def test_check_json_contract_and_exit_codes(windows: tuple[Path, ...], tmp_path: Path) -> None:
    ref, same, shifted = windows
    code, out, _ = _cli("monitor", "check", str(ref), str(shifted), "--json", tmp_path=tmp_path)
    assert code == 1
    doc = json.loads(out)
    assert doc["drift"] is True
    by = {f["name"]: f for f in doc["features"]}
    assert set(by) == {"hour", "lag_1", "region"}
    for f in doc["features"]:
        assert {"name", "statistic", "value", "drift"} <= set(f)
    assert by["lag_1"]["drift"] and by["region"]["drift"] and not by["hour"]["drift"]
    assert by["region"]["new_categories"] == ["east"]
    code, out, _ = _cli("monitor", "check", str(ref), str(same), "--json", tmp_path=tmp_path)
    assert code == 0
    assert json.loads(out)["drift"] is False


def test_check_table_and_html(windows: tuple[Path, ...], tmp_path: Path) -> None:
    ref, _, shifted = windows
    html = tmp_path / "drift.html"
    code, out, _ = _cli(
        "monitor", "check", str(ref), str(shifted), "--html", str(html), tmp_path=tmp_path
    )
    assert code == 1
    assert "dataset drift: yes (2 of 3 features" in out
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") or text.lower().startswith("<!doctype html>")
    assert "lag_1" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)  # nothing fetched


def test_check_with_a_policy_uses_its_features_and_share(
    windows: tuple[Path, ...], tmp_path: Path
) -> None:
    ref, _, shifted = windows
    (tmp_path / "p.yaml").write_text(POLICY.replace("hour, lag_1, region", "hour, lag_1"))
    code, out, _ = _cli("monitor", "check", str(ref), str(shifted), "--policy",
                        str(tmp_path / "p.yaml"), "--json", tmp_path=tmp_path)  # fmt: skip
    doc = json.loads(out)
    assert [f["name"] for f in doc["features"]] == ["hour", "lag_1"]
    assert doc["drift_share_threshold"] == 0.3 and doc["drift"] is True and code == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("columns", "the current window lacks 'region'"),
        ("empty", "the current window has no rows"),
        ("text", "feature 'hour' is numeric but the current window holds 'x17'"),
        ("feature", "unknown feature 'nope'"),
    ],
)
def test_check_bad_input_is_one_line_exit_2(
    windows: tuple[Path, ...], tmp_path: Path, change: str, message: str
) -> None:
    ref, same, _ = windows
    extra: list[str] = []
    bad = tmp_path / "bad.csv"
    lines = same.read_text().splitlines()
    if change == "columns":
        bad.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    elif change == "empty":
        bad.write_text(lines[0] + "\n")
    elif change == "text":
        bad.write_text("\n".join([lines[0], "x" + lines[1], *lines[2:]]) + "\n")
    else:
        bad = same
        extra = ["--features", "hour,nope"]
    code, out, err = _cli("monitor", "check", str(ref), str(bad), *extra, tmp_path=tmp_path)
    assert code == 2 and out == ""
    assert message in err
    assert err.count("\n") == 1


def test_watch_once_queues_a_retrain_and_records_it(
    windows: tuple[Path, ...], tmp_path: Path
) -> None:
    ref, _, shifted = windows
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    base = ["monitor", "watch", str(ref), str(shifted), "--policy", str(policy), "--ledger", url,
            "--once", "--json"]  # fmt: skip
    code, out, err = _cli(*base, "--now", "2026-12-04T09:00Z", tmp_path=tmp_path)
    assert code == 0, err
    first = json.loads(out)
    assert first["retrains"] == 1 and first["last"]["retrain"]["fire"] is True
    job = first["last"]["job"]
    assert job["zone"] == "DE" and job["planned_start"] >= "2026-12-04T09:00:00Z"
    assert job["expected_intensity_g_per_kwh"] <= job["now_intensity_g_per_kwh"]
    # A day later the shift is still there, but the cool-down holds.
    code, out, _ = _cli(*base, "--now", "2026-12-05T09:00Z", tmp_path=tmp_path)
    second = json.loads(out)
    assert code == 0 and second["retrains"] == 0
    assert second["last"]["retrain"]["status"] == "cooldown"
    with open_ledger(url) as ledger:
        records = list(ledger.records(RecordFilter()))
    stages = [(r.kind, r.attribution.stage) for r in records]
    assert stages.count(("decision", "drift-check")) == 2
    assert stages.count(("decision", "retrain")) == 2
    assert stages.count(("schedule", "retrain")) == 1


def test_watch_refuses_a_policy_watching_unknown_features(
    windows: tuple[Path, ...], tmp_path: Path
) -> None:
    ref, same, _ = windows
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("region]", "colour]"))
    code, _, err = _cli("monitor", "watch", str(ref), str(same), "--policy", str(policy),
                        "--ledger", f"sqlite:///{tmp_path / 'l.db'}", "--once",
                        tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and "colour" in err and err.count("\n") == 1
    if (tmp_path / "l.db").exists():  # nothing recorded for a refused policy
        with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
            assert list(ledger.records(RecordFilter())) == []


@pytest.mark.parametrize(("energy", "code"), [(105.0, 0), (115.0, 1)])
def test_energy_regression_against_the_champion(tmp_path: Path, energy: float, code: int) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    (tmp_path / "base.json").write_text(json.dumps(PROFILE))
    (tmp_path / "cand.json").write_text(json.dumps({**PROFILE, "version": "7",
                                                    "energy_per_1k_j": energy}))  # fmt: skip
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    got, out, err = _cli("monitor", "energy", "--policy", str(policy), "--baseline",
                         str(tmp_path / "base.json"), "--candidate", str(tmp_path / "cand.json"),
                         "--ledger", url, "--json", tmp_path=tmp_path)  # fmt: skip
    assert got == code, err
    doc = json.loads(out)
    assert json.dumps(doc).count("alert") >= 1
    with open_ledger(url) as ledger:
        stages = [r.attribution.stage for r in ledger.records(RecordFilter())]
    assert stages == ["energy-regression"]


def test_energy_rollback_needs_a_registry(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("rollback: false", "rollback: true"))
    (tmp_path / "p.json").write_text(json.dumps(PROFILE))
    ledger = f"sqlite:///{tmp_path / 'l.db'}"
    code, _, err = _cli("monitor", "energy", "--policy", str(policy), "--baseline",
                        str(tmp_path / "p.json"), "--candidate", str(tmp_path / "p.json"),
                        "--ledger", ledger, tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and "--mlflow-model" in err and err.count("\n") == 1
