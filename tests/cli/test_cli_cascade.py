"""``lowcarb cascade fit|profile``: the cascade file, the point used, a profile the gate reads."""

from __future__ import annotations

import contextlib
import json
import warnings
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ={})
    with contextlib.redirect_stderr(err):
        code = main(list(args), ctx=ctx)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    root = tmp_path_factory.mktemp("cascade-cli")
    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x / 16.0, y, test_size=0.4, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = LogisticRegression(max_iter=100).fit(x_train, y_train)
        large = MLPClassifier((64,), max_iter=100, random_state=0).fit(x_train, y_train)
    sio.dump(small, root / "small.skops")
    sio.dump(large, root / "large.skops")
    np.savez(root / "val.npz", X=x_val, y=y_val)
    np.savez(root / "test.npz", X=x_test, y=y_test)
    np.savez(root / "narrow.npz", X=x_test[:, :10], y=y_test)
    code, out, err = _cli(
        "cascade", "fit", str(root / "small.skops"), str(root / "large.skops"),
        "--data", str(root / "val.npz"), "--max-accuracy-loss-pts", "0.5",
        "--output", str(root / "cascade.json"), "--energy-seconds", "0.05", "--json",
    )  # fmt: skip
    assert code == 0, err
    return {"root": root, "cascade": root / "cascade.json", "fit_stdout": out}


def test_fit_writes_the_cascade_file(files: dict[str, Any]) -> None:
    data = json.loads(files["cascade"].read_text())
    printed = json.loads(files["fit_stdout"])
    assert printed["output"] == str(files["cascade"])
    assert data["version"] == 1 and len(data["models"]) == 2
    assert [m["path"] for m in data["models"]] == ["small.skops", "large.skops"]
    assert all(m["energy_method"] in ("measured", "estimated") for m in data["models"])
    assert all(0 <= t <= 1 for t in data["thresholds"])
    assert data["operating_points"][0]["name"] == "fitted"
    assert data["fitted_on"]["rows"] == 359


def _profile(files: dict[str, Any], *extra: str) -> tuple[int, str, str]:
    return _cli(
        "cascade", "profile", str(files["cascade"]), "--data", str(files["root"] / "test.npz"),
        "--energy-seconds", "0.05", *extra,
    )  # fmt: skip


def test_profile_says_which_point_and_writes_a_gate_profile(
    files: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "profile.json"
    code, stdout, err = _profile(files, "--intensity", "700", "--output", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert "700 g/kWh is above 300" in result["reason"]
    points = json.loads(files["cascade"].read_text())["operating_points"]
    cheapest = min(p["energy_per_1k_j"] for p in points)
    used = next(p for p in points if p["name"] == result["point"])
    assert used["energy_per_1k_j"] == cheapest
    assert sum(result["stage_shares"]) == pytest.approx(1.0)
    profile = json.loads(out.read_text())
    assert profile == result["profile"]
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  max_energy_increase_pct: 1000\n  max_latency_p95_ms: 1000\n")
    code, stdout, err = _cli(
        "gate", "--policy", str(policy), "--candidate", str(out), "--baseline", str(out), "--json"
    )
    assert code == 0, err
    assert json.loads(stdout)["decision"] == "promote"


def test_profile_table_on_a_clean_grid(files: dict[str, Any]) -> None:
    code, stdout, err = _profile(files, "--intensity", "50")
    assert code == 0, err
    assert "operating point fitted" in stdout and "small.skops: answered" in stdout
    assert "J per 1k" in stdout


def _edited(files: dict[str, Any], tmp_path: Path, **changes: object) -> Path:
    data = json.loads(files["cascade"].read_text())
    for m in data["models"]:
        m["path"] = str(files["root"] / m["path"])
    data.update(changes)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"thresholds": [1.5]}, "threshold 1.5 is outside 0..1"),
        ({"version": 2}, "version 2"),
    ],
)
def test_bad_cascade_files_exit_2_with_one_line(
    files: dict[str, Any], tmp_path: Path, change: dict[str, object], needle: str
) -> None:
    path = _edited(files, tmp_path, **change)
    code, stdout, err = _cli(
        "cascade", "profile", str(path), "--data", str(files["root"] / "test.npz")
    )
    assert code == 2 and stdout == ""
    assert needle in err and err.count("\n") == 1


def test_a_changed_model_exits_2_naming_it(files: dict[str, Any], tmp_path: Path) -> None:
    data = json.loads(files["cascade"].read_text())
    changed = tmp_path / "large.skops"
    changed.write_bytes((files["root"] / "large.skops").read_bytes() + b"\0")
    data["models"][0]["path"] = str(files["root"] / "small.skops")
    data["models"][1]["path"] = str(changed)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    code, _, err = _cli("cascade", "profile", str(path), "--data", str(files["root"] / "test.npz"))
    assert code == 2 and "has changed" in err and "large.skops" in err and err.count("\n") == 1
    changed.unlink()
    code, _, err = _cli("cascade", "profile", str(path), "--data", str(files["root"] / "test.npz"))
    assert code == 2 and "large.skops" in err and err.count("\n") == 1


def test_bad_fit_input_exits_2_and_writes_nothing(files: dict[str, Any], tmp_path: Path) -> None:
    root = files["root"]
    out = tmp_path / "c.json"
    code, _, err = _cli(
        "cascade", "fit", str(root / "small.skops"), str(root / "large.skops"),
        "--data", str(root / "narrow.npz"), "--max-accuracy-loss-pts", "0.5", "--output", str(out),
    )  # fmt: skip
    assert code == 2 and "10 feature column" in err and err.count("\n") == 1
    code, _, err = _cli(
        "cascade", "fit", str(root / "small.skops"), str(root / "missing.skops"),
        "--data", str(root / "val.npz"), "--max-accuracy-loss-pts", "0.5", "--output", str(out),
    )  # fmt: skip
    assert code == 2 and "missing.skops" in err and err.count("\n") == 1
    code, _, err = _cli(
        "cascade", "fit", str(root / "small.skops"), str(root / "large.skops"),
        "--data", str(root / "val.npz"), "--max-accuracy-loss-pts", "150", "--output", str(out),
    )  # fmt: skip
    assert code == 2 and "150" in err
    assert list(tmp_path.iterdir()) == []


def test_a_floor_above_every_point_exits_2(files: dict[str, Any]) -> None:
    code, _, err = _profile(files, "--intensity", "900", "--accuracy-floor", "1")
    assert code == 2 and "accuracy floor" in err and err.count("\n") == 1


def test_zone_uses_the_intensity_of_the_hour_and_names_its_source(files: dict[str, Any]) -> None:
    """The lookup `lowcarb serve` makes (the zone's hourly profile), not the annual mean."""
    from datetime import UTC, datetime

    from lowcarb.grid import static_intensity
    from lowcarb.tracking import intensity_for_hours

    hour = datetime(2026, 7, 1, 12, tzinfo=UTC)  # a summer noon: solar
    expected = intensity_for_hours("DE", start=hour, duration_s=3600.0)
    assert expected.intensity_g_per_kwh != static_intensity("DE").intensity_g_per_kwh
    code, stdout, err = _profile(files, "--zone", "DE", "--now", "2026-07-01T12:40:00Z", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["intensity_g_per_kwh"] == pytest.approx(expected.intensity_g_per_kwh)
    assert result["intensity_source"] == expected.source
    assert f"({expected.source})" in result["reason"]
    code, stdout, err = _profile(files, "--zone", "DE", "--now", "2026-07-01T12:40:00Z")
    assert code == 0 and expected.source in stdout


def test_now_without_a_zone_is_refused(files: dict[str, Any]) -> None:
    code, _, err = _profile(files, "--now", "2026-07-01T12:00:00Z")
    assert code == 2 and "--zone" in err and err.count("\n") == 1
