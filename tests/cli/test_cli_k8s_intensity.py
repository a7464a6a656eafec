"""`lowcarb k8s intensity-configmap`, and `k8s serve` pointing its scaler at that ConfigMap."""

from __future__ import annotations

import base64
import csv
import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lowcarb.cli import main
from lowcarb.cli._common import CliContext

K8S_VERSION = "1.29.0"
NOW = "2024-05-01T10:20Z"


def _run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ=environ or {}))
    return code, out.getvalue(), err.getvalue()


def _configmap(*argv: str) -> tuple[dict[str, Any], str]:
    code, out, err = _run("k8s", "intensity-configmap", *argv)
    assert code == 0, err
    (doc,) = list(yaml.safe_load_all(out))
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    return doc, err


def _points(cm: dict[str, Any]) -> list[dict[str, Any]]:
    points = json.loads(base64.b64decode(cm["binaryData"]["data"]))
    assert isinstance(points, list)
    return points


@pytest.fixture(scope="module")
def de_trace(grid_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 days of DE 2022 as a two-column file (a temp file, not in the repo)."""
    src = grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv"
    path = tmp_path_factory.mktemp("trace") / "de.csv"
    with src.open() as fh, path.open("w") as out:
        reader = csv.DictReader(fh)
        out.write("time,value\n")
        for i, row in enumerate(reader):
            if i >= 60 * 24:
                break
            out.write(f"{row['datetime_utc']},{row['DE']}\n")
    return path


def test_default_is_the_embedded_profile_and_says_so() -> None:
    cm, err = _configmap("--zone", "DE", "--now", NOW)
    assert (cm["metadata"]["namespace"], cm["metadata"]["name"]) == (
        "kube-system",
        "carbon-intensity",
    )
    assert cm["immutable"] is True
    assert "not live data" in cm["data"]["message"]
    assert "not live data" in cm["metadata"]["annotations"]["lowcarb.dev/source"]
    assert err.count("\n") == 1 and "not live data" in err
    points = _points(cm)
    assert len(points) == 24 and points[0]["timestamp"] == "2024-05-01T11:00:00Z"
    assert {p["duration"] for p in points} == {60}


def test_json_is_one_object_equal_to_the_yaml() -> None:
    code, out, err = _run("k8s", "intensity-configmap", "--zone", "FR", "--now", NOW, "--json")
    assert code == 0, err
    assert out.count("\n") == 1
    assert json.loads(out) == _configmap("--zone", "FR", "--now", NOW)[0]


def test_the_forecast_is_lowcarb_intensity_forecasts(de_trace: Path) -> None:
    args = ("--zone", "DE", "--trace", str(de_trace), "--now", "2022-02-10T07:30Z")
    cm, _ = _configmap(*args, "--horizon", "36h")
    code, out, err = _run("intensity", "forecast", *args, "--horizon", "36h", "--json")
    assert code == 0, err
    expected = json.loads(out)["points"]
    points = _points(cm)
    assert [p["value"] for p in points] == [p["intensity_g_per_kwh"] for p in expected]
    assert [p["timestamp"] for p in points] == [
        datetime.fromisoformat(p["time"]).strftime("%Y-%m-%dT%H:%M:%SZ") for p in expected
    ]
    assert "lag-ridge" in cm["data"]["message"] and "trace:de.csv" in cm["data"]["message"]


def test_a_trace_is_read_only_before_now(de_trace: Path, tmp_path: Path) -> None:
    now = "2022-02-10T07:30Z"
    args = ("--zone", "DE", "--now", now, "--horizon", "48h", "--forecaster", "seasonal-naive")
    honest, _ = _configmap(*args, "--trace", str(de_trace))
    cut = datetime(2022, 2, 10, 7, 30, tzinfo=UTC)
    lines = de_trace.read_text().splitlines()
    tampered = tmp_path / "de.csv"  # same name: same provenance text
    with tampered.open("w") as out:
        out.write(lines[0] + "\n")
        for line in lines[1:]:
            stamp, value = line.split(",")
            future = datetime.fromisoformat(stamp).replace(tzinfo=UTC) >= cut
            out.write(f"{stamp},{'1999' if future else value}\n")
    assert _configmap(*args, "--trace", str(tampered))[0] == honest
    points = _points(honest)
    start = datetime(2022, 2, 10, 8, tzinfo=UTC)
    assert [p["timestamp"] for p in points] == [
        (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(48)
    ]


def test_names_mutable_and_output_file(tmp_path: Path) -> None:
    target = tmp_path / "ci.yaml"
    code, out, err = _run(
        "k8s", "intensity-configmap", "--zone", "aws:eu-central-1", "--now", NOW,
        "--namespace", "carbon", "--name", "ci.forecast", "--mutable", "-o", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert out == "" and str(target) in err
    (cm,) = list(yaml.safe_load_all(target.read_text()))
    kubernetes_validate.validate(cm, K8S_VERSION, strict=True)
    assert (cm["metadata"]["namespace"], cm["metadata"]["name"]) == ("carbon", "ci.forecast")
    assert "immutable" not in cm
    assert cm["metadata"]["annotations"]["lowcarb.dev/zone"] == "DE"  # the region's zone
    target_json = tmp_path / "ci.json"
    code, _, err = _run(
        "k8s", "intensity-configmap", "--zone", "DE", "--now", NOW, "--json", "-o", str(target_json)
    )
    assert code == 0, err
    assert json.loads(target_json.read_text())["kind"] == "ConfigMap"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--zone", "DE\nkind: Secret"], "zone="),
        (["--zone", "$(reboot)"], "zone="),
        (["--zone", "DE", "--name", "Bad_Name"], "'Bad_Name'"),
        (["--zone", "DE", "--namespace", "a.b"], "'a.b'"),
        (["--zone", "DE", "--horizon", "30m"], "--horizon"),
        (["--zone", "DE", "--horizon", "169h"], "--horizon"),
        (["--zone", "DE", "--now", "yesterday-ish"], "--now"),
        (["--zone", "DE", "--forecaster", "lag-ridge"], "needs history"),
        (["--zone", "NOWHERE"], "NOWHERE"),
        (["--zone", "DE", "--trace", "t.csv", "--provider", "ukci"], "not both"),
        (["--zone", "US-CAL-CISO", "--provider", "watttime"], "WATTTIME_USERNAME"),
        (["--zone", "DE", "--output", "/nonexistent-dir/x.yaml"], "x.yaml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], says: str) -> None:
    code, out, err = _run("k8s", "intensity-configmap", "--now", NOW, *argv)
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and says in err


def test_zone_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run("k8s", "intensity-configmap", "--name", "x")
    err = capsys.readouterr().err  # argparse writes its one line to the process's stderr
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--zone" in err


def _scaler(*argv: str) -> dict[str, Any]:
    code, out, err = _run("k8s", "serve", "iris", "--image", "img:1", "--model", "/m.skops", *argv)
    assert code == 0, err
    scaler: dict[str, Any] = list(yaml.safe_load_all(out))[-1]
    assert scaler["kind"] == "CarbonAwareKedaScaler"
    return scaler


def test_serve_points_its_scaler_at_the_configmap_intensity_configmap_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cm, _ = _configmap("--zone", "DE", "--now", NOW)
    ref = _scaler("--carbon-aware-zone", "DE")["spec"]["carbonIntensityForecastDataSource"]
    assert ref["localConfigMap"] == {
        "name": cm["metadata"]["name"],
        "namespace": cm["metadata"]["namespace"],
        "key": next(iter(cm["binaryData"])),
    }
    custom, _ = _configmap("--zone", "DE", "--now", NOW, "--namespace", "carbon", "--name", "ci")
    spec = _scaler("--carbon-aware-zone", "DE", "--forecast-configmap", "carbon/ci")["spec"]
    assert spec["carbonIntensityForecastDataSource"]["localConfigMap"] == {
        "name": custom["metadata"]["name"],
        "namespace": custom["metadata"]["namespace"],
        "key": "data",
    }
    assert _run("k8s", "serve", "--help")[0] == 0
    assert "intensity-configmap" in capsys.readouterr().out  # argparse prints help to sys.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--forecast-configmap", "carbon/ci"], "--carbon-aware-zone"),
        (["--carbon-aware-zone", "DE", "--forecast-configmap", "ci"], "NAMESPACE/NAME"),
        (["--carbon-aware-zone", "DE", "--forecast-configmap", "Carbon/ci"], "'Carbon'"),
    ],
)
def test_serve_bad_forecast_configmap_is_one_line_and_exit_2(argv: list[str], says: str) -> None:
    code, out, err = _run("k8s", "serve", "iris", "--image", "img:1", "--model", "/m", *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and says in err
