"""`lowcarb intensity now|history|forecast`."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext


def _run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ=environ or {})
    code = main(["intensity", *argv], ctx=ctx)
    return code, out.getvalue(), err.getvalue()


def _json(*argv: str, environ: dict[str, str] | None = None) -> dict[str, object]:
    code, out, err = _run(*argv, "--json", environ=environ)
    assert code == 0, err
    assert out.count("\n") == 1
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


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


def test_now_static_zone() -> None:
    data = _json("now", "--zone", "DE")
    assert data["zone"] == "DE"
    assert data["intensity_g_per_kwh"] == 481.5
    assert data["kind"] == "estimated"
    assert data["year"] == 2022
    assert data["source"] == "static:electricitymaps-2022-lca"


def test_now_without_zone_is_a_labelled_world_average() -> None:
    data = _json("now")
    assert data["zone"] == "WORLD"
    assert "no zone configured" in str(data["note"])
    assert _json("now", environ={"LOWCARB_ZONE": "FR"})["zone"] == "FR"
    assert _json("now", "--zone", "GB", environ={"LOWCARB_ZONE": "FR"})["zone"] == "GB"


def test_now_from_trace_uses_only_data_before_now(de_trace: Path) -> None:
    data = _json("now", "--zone", "DE", "--trace", str(de_trace), "--now", "2022-01-02T05:00Z")
    assert data["time"] == "2022-01-02T04:00:00+00:00"
    assert data["age_s"] == 3600.0
    assert data["kind"] == "measured"
    assert data["source"] == "trace:de.csv"


def test_forecast_contract(de_trace: Path) -> None:
    data = _json("forecast", "--zone", "DE", "--trace", str(de_trace), "--now", "2022-02-10T00:00Z")
    assert set(data) >= {"zone", "issued_at", "model", "points"}
    assert data["zone"] == "DE"
    assert data["model"] == "lag-ridge"
    assert data["issued_at"] == "2022-02-10T00:00:00+00:00"
    points = data["points"]
    assert isinstance(points, list)
    assert len(points) == 24
    start = datetime(2022, 2, 10, tzinfo=UTC)
    assert [p["time"] for p in points] == [
        (start + timedelta(hours=i)).isoformat() for i in range(24)
    ]
    assert all(p["intensity_g_per_kwh"] >= 0 for p in points)


def test_forecast_ignores_data_at_and_after_now(de_trace: Path, tmp_path: Path) -> None:
    now = "2022-02-10T07:30Z"
    args = ("forecast", "--zone", "DE", "--now", now, "--horizon", "36h")
    honest = _json(*args, "--trace", str(de_trace))
    lines = de_trace.read_text().splitlines()
    cut = datetime(2022, 2, 10, 7, 30, tzinfo=UTC)
    tampered = tmp_path / "tampered.csv"
    with tampered.open("w") as out:
        out.write(lines[0] + "\n")
        for line in lines[1:]:
            stamp, value = line.split(",")
            future = datetime.fromisoformat(stamp) >= cut
            out.write(f"{stamp},{'1999' if future else value}\n")
    assert _json(*args, "--trace", str(tampered))["points"] == honest["points"]
    assert len(honest["points"]) == 36  # type: ignore[arg-type]
    assert honest["points"][0]["time"] == "2022-02-10T08:00:00+00:00"  # type: ignore[index]


def test_forecast_seasonal_naive_model(de_trace: Path) -> None:
    data = _json(
        "forecast",
        "--zone",
        "DE",
        "--trace",
        str(de_trace),
        "--now",
        "2022-01-03T00:00Z",
        "--model",
        "seasonal-naive",
        "--horizon",
        "2h",
    )
    history = _json(
        "history",
        "--trace",
        str(de_trace),
        "--start",
        "2022-01-02T00:00Z",
        "--end",
        "2022-01-02T02:00Z",
    )
    assert [p["intensity_g_per_kwh"] for p in data["points"]] == [  # type: ignore[attr-defined]
        p["intensity_g_per_kwh"]
        for p in history["points"]  # type: ignore[attr-defined]
    ]


def test_forecast_offers_every_model_of_the_one_registry(de_trace: Path) -> None:
    """``--model`` chooses from lowcarb.grid's registry, so plan's profile-blend works here too."""
    argv = ("forecast", "--zone", "DE", "--trace", str(de_trace), "--now", "2022-01-20T00:00Z")
    data = _json(*argv, "--model", "profile-blend", "--horizon", "3h")
    assert data["model"] == "profile-blend(14d)"
    assert len(data["points"]) == 3  # type: ignore[arg-type]


def test_forecast_offline_uses_the_embedded_profile() -> None:
    data = _json(
        "forecast", "--zone", "aws:eu-central-1", "--now", "2030-01-01T00:00Z", "--horizon", "2d"
    )
    assert data["zone"] == "DE"
    assert data["model"] == "profile(electricitymaps-2022)"
    assert len(data["points"]) == 48  # type: ignore[arg-type]


def test_history_json(de_trace: Path) -> None:
    data = _json(
        "history",
        "--trace",
        str(de_trace),
        "--zone",
        "DE",
        "--start",
        "2022-01-01T00:00Z",
        "--end",
        "2022-01-01T03:00Z",
    )
    assert [p["time"] for p in data["points"]] == [  # type: ignore[attr-defined]
        "2022-01-01T00:00:00+00:00",
        "2022-01-01T01:00:00+00:00",
        "2022-01-01T02:00:00+00:00",
    ]
    assert data["points"][0]["intensity_g_per_kwh"] == 216.56  # type: ignore[index]


def test_rich_output(de_trace: Path) -> None:
    code, out, _ = _run(
        "forecast",
        "--zone",
        "DE",
        "--trace",
        str(de_trace),
        "--now",
        "2022-02-10T00:00Z",
        "--horizon",
        "3h",
    )
    assert code == 0
    assert "2022-02-10 02:00" in out
    lines = out.splitlines()
    assert lines[0].startswith("Carbon intensity forecast: DE (issued 2022-02-10 00:00 UTC)")
    # The provenance is one unwrapped line: model, issue time, history used and its source.
    assert any(
        line.startswith("forecast:lag-ridge; from 2022-02-10T00:00:00+00:00, using")
        and "h of history (trace:" in line
        for line in lines
    )
    code, out, _ = _run("now", "--zone", "FR")
    assert code == 0
    assert "static:electricitymaps-2022-lca" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("now", "--zone", "Germny"), "unknown zone 'Germny'"),
        (("forecast", "--zone", "DE", "--now", "2022-01-01T00:00"), "has no time zone"),
        (("forecast", "--zone", "DE", "--now", "1899-01-01T00:00Z"), "outside 1970..2199"),
        (("forecast", "--zone", "DE", "--horizon", "tomorrow"), "--horizon 'tomorrow'"),
        (("forecast", "--zone", "DE", "--horizon", "200h"), "1h to 168h"),
        (("forecast", "--zone", "DE", "--horizon", "90m"), "whole number of hours"),
        (("forecast", "--zone", "DE", "--horizon", "nan"), "--horizon"),
        (("forecast", "--zone", "DE", "--model", "seasonal-naive"), "needs history"),
        (("forecast",), "needs --zone"),
        (("history", "--zone", "DE"), "needs --start and --end"),
        (("history", "--trace", "/nonexistent.csv"), "does not exist"),
        (("now", "--zone", "DE", "--provider", "electricitymaps"), "ELECTRICITYMAPS_API_TOKEN"),
        (("forecast", "--zone", "X", "--provider", "watttime"), "WATTTIME_USERNAME"),
        (("now", "--provider", "ukci"), "needs --zone"),
        (("now", "--zone", "GB", "--provider", "ukci", "--trace", "x.csv"), "not both"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv: tuple[str, ...], message: str) -> None:
    code, out, err = _run(*argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1
    assert err.startswith("lowcarb: error: ")


def test_forecast_needs_enough_history(de_trace: Path) -> None:
    code, _, err = _run(
        "forecast", "--zone", "DE", "--trace", str(de_trace), "--now", "2022-01-01T05:00Z"
    )
    assert code == 2
    assert "needs at least 24 h" in err


def test_real_console_script_forecast_offline() -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("lowcarb")
    if not exe.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    proc = subprocess.run(
        [
            str(exe),
            "intensity",
            "forecast",
            "--zone",
            "gcp:europe-west4",
            "--now",
            "2031-01-01T00:00Z",
            "--horizon",
            "3h",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["zone"] == "NL"
    assert len(data["points"]) == 3


def test_an_old_trace_reading_is_shown_as_stale_with_its_age(tmp_path: Path) -> None:
    trace = tmp_path / "old.csv"
    trace.write_text("datetime_utc,DE\n1999-01-01T00:00,400\n1999-01-01T01:00,410\n", "utf-8")
    code, out, err = _run(
        "now", "--trace", str(trace), "--zone", "DE", "--now", "2026-01-01T00:00Z"
    )
    assert (code, err) == (0, "")
    assert "STALE" in out
    assert "1999-01-01T01:00:00+00:00" in out
    assert "9862 days old" in " ".join(out.split())
    code, out, err = _run(
        "now", "--trace", str(trace), "--zone", "DE", "--now", "2026-01-01T00:00Z", "--json"
    )
    data = json.loads(out)
    assert data["stale"] is True
    assert data["note"].startswith("STALE: the latest reading is from 1999")


def test_a_recent_trace_reading_is_not_stale(tmp_path: Path) -> None:
    trace = tmp_path / "recent.csv"
    trace.write_text("datetime_utc,DE\n2026-01-01T00:00,400\n", "utf-8")
    code, out, _ = _run("now", "--trace", str(trace), "--zone", "DE", "--now", "2026-01-01T02:00Z")
    assert code == 0
    assert "STALE" not in out
    data = _json("now", "--trace", str(trace), "--zone", "DE", "--now", "2026-01-01T02:00Z")
    assert data["stale"] is False


def test_hostile_zone_names_in_a_trace_are_shown_literally(tmp_path: Path) -> None:
    trace = tmp_path / "hostile.csv"
    name = "[bold red]EVIL[/]\x1b[2J"
    trace.write_text(f"datetime_utc,{name}\n2026-01-01T00:00,400\n", "utf-8")
    for action in ("now", "history"):
        code, out, err = (
            _run(action, "--trace", str(trace), "--zone", name, "--now", "2026-01-01T02:00Z")
            if action == "now"
            else _run(action, "--trace", str(trace), "--zone", name)
        )
        assert (code, err) == (0, "")
        assert "[bold red]EVIL[/]" in out
        assert "\x1b" not in out
