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


# -- audit 17 ------------------------------------------------------------------------------------
def test_a_csv_row_with_an_extra_field_is_exit_2_not_shifted_data(tmp_path: Path) -> None:
    (tmp_path / "r2.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    (tmp_path / "c2.csv").write_text("a,b\n100,1,2\n200,3,4\n300,5,6\n")
    code, out, err = _cli("monitor", "check", str(tmp_path / "r2.csv"), str(tmp_path / "c2.csv"),
                          "--json", tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "c2.csv' row 1 (line 2) has 3 fields but the header names 2" in err


def test_check_policy_and_watch_share_one_boundary(
    windows: tuple[Path, ...], tmp_path: Path
) -> None:
    """1 of 2 watched features drifted against max_drift_share 0.5: neither says drift."""
    ref, _, shifted = windows
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("max_drift_share: 0.3, features: [hour, lag_1, region]",
                                     "max_drift_share: 0.5, features: [hour, lag_1]"))  # fmt: skip
    code, out, _ = _cli("monitor", "check", str(ref), str(shifted), "--policy", str(policy),
                        "--json", tmp_path=tmp_path)  # fmt: skip
    doc = json.loads(out)
    assert doc["drift_share"] == 0.5 and doc["drift"] is False and code == 0
    code, out, _ = _cli("monitor", "watch", str(ref), str(shifted), "--policy", str(policy),
                        "--ledger", f"sqlite:///{tmp_path / 'l.db'}", "--once", "--now",
                        "2026-12-04T09:00Z", "--json", tmp_path=tmp_path)  # fmt: skip
    last = json.loads(out)["last"]
    assert code == 0 and last["retrain"]["status"] == "no-trigger"
    assert last["retrain"]["drift_share"] == 0.5 and last["drift"]["drift"] is False


def test_an_all_missing_feature_is_exit_2(windows: tuple[Path, ...], tmp_path: Path) -> None:
    ref, same, _ = windows
    bad = tmp_path / "missing.csv"
    lines = same.read_text().splitlines()
    bad.write_text("\n".join([lines[0], *(line.split(",", 1)[0] + ",," for line in lines[1:])]))
    bad.write_text("\n".join([lines[0], *("," + line.split(",")[1] + "," + line.split(",")[2]
                                          for line in lines[1:])]) + "\n")  # fmt: skip
    code, out, err = _cli("monitor", "check", str(ref), str(bad), tmp_path=tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "feature 'hour' is missing in all 2,000 rows of the current window" in err


def test_check_with_a_policy_naming_an_unknown_feature_is_exit_2(
    windows: tuple[Path, ...], tmp_path: Path
) -> None:
    ref, same, _ = windows
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("region]", "regoin]"))
    code, out, err = _cli("monitor", "check", str(ref), str(same), "--policy", str(policy),
                          tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "names unknown feature(s) 'regoin' (did you mean 'region'?)" in err


def test_categorical_flag_follows_the_error_hint(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("code,x\n1,1\n2,2\n3,3\n1,4\n")
    (tmp_path / "c.csv").write_text("code,x\n1,1\nA7,2\n3,3\n2,4\n")
    code, _, err = _cli("monitor", "check", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"),
                        tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and "declare the feature categorical (--categorical code" in err
    code, out, err = _cli("monitor", "check", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"),
                          "--categorical", "code", "--json", tmp_path=tmp_path)  # fmt: skip
    assert code in (0, 1), err
    by = {f["name"]: f for f in json.loads(out)["features"]}
    assert by["code"]["kind"] == "categorical" and by["code"]["new_categories"] == ["A7"]


def _classifier_windows(tmp_path: Path) -> tuple[Path, Path, Any]:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)

    def make(scale: float, n: int = 1500) -> tuple[Any, Any]:
        x = rng.normal(0, scale, (n, 2))
        return x, (x[:, 0] - x[:, 1] + rng.normal(0, 1, n) > 0).astype(int)

    # Covariate shift towards the decision boundary: accuracy falls, and CBPE sees it.
    model = LogisticRegression().fit(*make(2.0))
    paths = []
    for name, scale in (("reference.csv", 2.0), ("current.csv", 0.4)):
        x, y = make(scale)
        p = model.predict_proba(x)
        pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y, "p0": p[:, 0], "p1": p[:, 1]}).to_csv(
            tmp_path / name, index=False
        )
        paths.append(tmp_path / name)
    return paths[0], paths[1], model


PERF_POLICY = POLICY.replace(
    "drift: {max_drift_share: 0.3, features: [hour, lag_1, region]}",
    "drift: {max_drift_share: 0.5, features: [a, b]}\n  performance: {max_drop_pts: 2}\n"
    "  min_gain_pts_per_kwh: 0.5",
)


def test_model_columns_give_the_policys_performance_trigger_its_input(tmp_path: Path) -> None:
    ref, cur, _ = _classifier_windows(tmp_path)
    policy = tmp_path / "p.yaml"
    policy.write_text(PERF_POLICY)
    cols = ["--score-columns", "p0,p1", "--label-column", "y"]
    # Realised: the current window has its labels.
    code, out, err = _cli("monitor", "check", str(ref), str(cur), *cols, "--policy", str(policy),
                          "--json", tmp_path=tmp_path)  # fmt: skip
    doc = json.loads(out)
    assert code == int(doc["drift"])
    assert [f["name"] for f in doc["features"]] == ["a", "b"]  # model columns are not features
    perf = doc["performance"]
    assert perf["method"] == "realised" and perf["drop_pts"] > 2 and perf["rows"] == 1500
    assert doc["warnings"] == [] and err == ""
    # Without labels in the current window: CBPE from the scores; the watch fires on it.
    import pandas as pd

    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(cur).drop(columns="y").to_csv(unlabelled, index=False)
    _, out, err = _cli("monitor", "watch", str(ref), str(unlabelled), *cols, "--policy",
                          str(policy), "--ledger", f"sqlite:///{tmp_path / 'l.db'}", "--once",
                          "--now", "2026-12-04T09:00Z", "--json", tmp_path=tmp_path)  # fmt: skip
    last = json.loads(out)["last"]
    assert last["drift"]["performance"]["method"] == "cbpe"
    assert "performance" in last["retrain"]["triggers"], last["retrain"]["reasons"]
    assert last["retrain"]["gain_pts_per_kwh"] is not None and err == ""


def test_a_rule_without_input_is_warned_on_stderr_and_recorded(tmp_path: Path) -> None:
    ref, cur, _ = _classifier_windows(tmp_path)
    policy = tmp_path / "p.yaml"
    policy.write_text(PERF_POLICY)
    code, out, err = _cli("monitor", "check", str(ref), str(cur), "--features", "a,b",
                          "--policy", str(policy), "--json", tmp_path=tmp_path)  # fmt: skip
    assert err.count("\n") == 1 and err.startswith(
        "lowcarb: warning: retrain.performance not evaluated: the check has no performance figure"
    )
    assert "retrain.min_gain_pts_per_kwh not evaluated" in err
    assert len(json.loads(out)["warnings"]) == 2
    url = f"sqlite:///{tmp_path / 'l.db'}"
    code, out, err = _cli("monitor", "watch", str(ref), str(cur), "--policy", str(policy),
                          "--ledger", url, "--once", "--now", "2026-12-04T09:00Z",
                          tmp_path=tmp_path)  # fmt: skip
    assert code == 0
    assert err.count("\n") == 1 and "lowcarb: warning: retrain.performance not evaluated" in err
    with open_ledger(url) as ledger:
        (decision,) = [r for r in ledger.records(RecordFilter()) if r.attribution.stage ==
                       "retrain"]  # fmt: skip
    assert len(decision.metadata["retrain"]["warnings"]) == 2


def _serving_log(path: Path, current: Path, model: Any, *, bad_line: str | None = None) -> Path:
    """The JSON Lines `lowcarb serve --log-features` appends: one request per line."""
    import pandas as pd

    frame = pd.read_csv(current)
    x = frame[["a", "b"]].to_numpy()
    lines = []
    for i in range(0, len(x), 100):
        rows = x[i : i + 100]
        lines.append(json.dumps({
            "time": f"2026-12-04T{10 + i // 500:02d}:{(i // 100) % 5 * 10:02d}:00.123456Z",
            "model": "clf", "rows": rows.tolist(), "predictions": model.predict(rows).tolist(),
            "probabilities": model.predict_proba(rows).tolist(),
        }))  # fmt: skip
    if bad_line is not None:
        lines.insert(3, bad_line)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_serving_log_is_a_current_window(tmp_path: Path) -> None:
    ref, cur, model = _classifier_windows(tmp_path)
    log = _serving_log(tmp_path / "serve.jsonl", cur, model)
    cols = ["--score-columns", "p0,p1", "--label-column", "y"]
    code, out, err = _cli("monitor", "check", str(ref), str(log), *cols, "--json",
                          tmp_path=tmp_path)  # fmt: skip
    doc = json.loads(out)
    assert code == 1 and doc["current_rows"] == 1500 and doc["drifted_features"] == ["a", "b"]
    assert [f["name"] for f in doc["features"]] == ["a", "b"]
    assert doc["performance"]["method"] == "cbpe"
    code, out, _ = _cli("monitor", "check", str(ref), str(log), *cols, "--since",
                        "2026-12-04T11:00Z", "--until", "2026-12-04T12:00Z", "--json",
                        tmp_path=tmp_path)  # fmt: skip
    assert json.loads(out)["current_rows"] == 500
    # The reference's model columns left unnamed: the widths differ, and the message says why.
    code, out, err = _cli("monitor", "check", str(ref), str(log), tmp_path=tmp_path)
    assert code == 2 and err.count("\n") == 1
    assert "the serving log's rows have 2 values but the reference window has 5 feature" in err


def test_a_bad_serving_log_line_is_exit_2_naming_the_line(tmp_path: Path) -> None:
    ref, cur, model = _classifier_windows(tmp_path)
    log = _serving_log(tmp_path / "serve.jsonl", cur, model, bad_line='{"time": "2026-12-04"}')
    code, out, err = _cli("monitor", "check", str(ref), str(log), "--features", "a,b",
                          tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"current window {str(log)!r} line 4: has no model, rows, predictions" in err


METRICS = """# HELP lowcarb_energy_joules_total Energy.
# TYPE lowcarb_energy_joules_total counter
lowcarb_energy_joules_total{{model="churn",stage="default",method="measured"}} {joules}
# HELP lowcarb_inferences_total Inferences.
# TYPE lowcarb_inferences_total counter
lowcarb_inferences_total{{model="churn",stage="default"}} {rows}
"""


def test_energy_from_metrics_records_the_version_and_windows_on_a_previous_scrape(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    (tmp_path / "base.json").write_text(json.dumps(PROFILE))
    (tmp_path / "before.txt").write_text(METRICS.format(joules=500.0, rows=10000))
    (tmp_path / "after.txt").write_text(METRICS.format(joules=620.0, rows=11000))
    url = f"sqlite:///{tmp_path / 'l.db'}"
    base = ["monitor", "energy", "--policy", str(policy), "--baseline", str(tmp_path / "base.json"),
            "--metrics", str(tmp_path / "after.txt"), "--model", "churn", "--ledger", url,
            "--json"]  # fmt: skip
    code, out, err = _cli(*base, "--version", "7", tmp_path=tmp_path)
    doc = json.loads(out)
    assert code == 0 and doc["candidate"]["version"] == "7"  # 56.4 J per 1k: within 10 %
    code, out, err = _cli(*base, "--version", "7", "--previous", str(tmp_path / "before.txt"),
                          tmp_path=tmp_path)  # fmt: skip
    doc = json.loads(out)
    assert code == 1 and doc["candidate"]["energy_per_1k_j"] == pytest.approx(120.0)
    assert doc["candidate"]["inferences"] == 1000
    with open_ledger(url) as ledger:
        versions = [r.attribution.model_version for r in ledger.records(RecordFilter())]
    assert versions == ["7", "7"]
    code, _, err = _cli("monitor", "energy", "--policy", str(policy), "--baseline",
                        str(tmp_path / "base.json"), "--candidate", str(tmp_path / "base.json"),
                        "--version", "7", "--ledger", url, tmp_path=tmp_path)  # fmt: skip
    assert code == 2 and "--version and --previous go with --metrics" in err


def test_watch_reads_the_last_hours_of_a_serving_log(tmp_path: Path) -> None:
    ref, cur, model = _classifier_windows(tmp_path)
    log = _serving_log(tmp_path / "serve.jsonl", cur, model)  # 10:00 to 12:40, 100 rows each
    policy = tmp_path / "p.yaml"
    policy.write_text(PERF_POLICY)
    code, out, err = _cli("monitor", "watch", str(ref), str(log), "--score-columns", "p0,p1",
                          "--label-column", "y", "--model", "clf", "--last", "1h", "--policy",
                          str(policy), "--ledger", f"sqlite:///{tmp_path / 'l.db'}", "--once",
                          "--now", "2026-12-04T12:45Z", "--json", tmp_path=tmp_path)  # fmt: skip
    assert code == 0, err
    drift = json.loads(out)["last"]["drift"]
    assert drift["current_rows"] == 500  # the requests of 12:00 to 12:40
    assert drift["performance"]["method"] == "cbpe" and drift["performance"]["rows"] == 500
