"""``lowcarb estimate``."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

import lowcarb.grid
from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.errors import UnknownZoneError
from lowcarb.grid._types import Intensity


def _run(*argv: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=StringIO(), stderr=StringIO(), environ={})
    code = main(["estimate", *argv], ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


class FakeStatic:
    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def __call__(self, zone: str | None) -> Intensity:
        self.calls.append(zone)
        if zone is None:
            return Intensity(
                "WORLD", 481.0, "static:test-world", note="no zone configured: world average"
            )
        if zone == "FR":
            return Intensity("FR", 56.0, "static:test-fr", year=2022)
        raise UnknownZoneError(zone, ["FR", "DE"])


@pytest.fixture
def fake_static(monkeypatch: pytest.MonkeyPatch) -> FakeStatic:
    fake = FakeStatic()
    monkeypatch.setattr(lowcarb.grid, "static_intensity", fake, raising=False)
    return fake


GPT3 = ("--hardware", "V100", "--count", "10000", "--days", "14.8", "--power-w", "330")


def test_json_gpt3_reproduces_patterson_2021() -> None:
    code, out, err = _run(*GPT3, "--pue", "1.1", "--intensity", "429", "--json")
    assert code == 0, err
    assert out.count("\n") == 1
    data = json.loads(out)
    for key in (
        "energy_kwh",
        "co2e_kg",
        "power_w_per_device",
        "pue",
        "intensity_g_per_kwh",
        "intensity_source",
        "hardware",
        "method",
        "embodied_co2e_kg",
        "assumptions",
    ):
        assert key in data, key
    assert data["energy_kwh"] / 1000 == pytest.approx(1287, rel=0.01)
    assert data["co2e_kg"] / 1000 == pytest.approx(552.1, rel=0.01)
    assert data["power_w_per_device"] == 330
    assert data["pue"] == 1.1
    assert data["intensity_g_per_kwh"] == 429
    assert data["intensity_source"] == "given"
    assert data["hardware"] == "V100-SXM2-32GB"
    assert data["method"] == "estimated"
    assert data["embodied_co2e_kg"] is None
    assert data["hours"] == pytest.approx(355.2)


def test_hours_days_and_duration_agree() -> None:
    _, by_days, _ = _run("--hardware", "T4", "--days", "2", "--intensity", "100", "--json")
    _, by_hours, _ = _run("--hardware", "T4", "--hours", "48", "--intensity", "100", "--json")
    _, by_duration, _ = _run(
        "--hardware", "T4", "--duration", "1d24h", "--intensity", "100", "--json"
    )
    assert json.loads(by_days)["energy_kwh"] == json.loads(by_hours)["energy_kwh"] == 3.36
    assert json.loads(by_duration)["energy_kwh"] == pytest.approx(3.36)


@pytest.mark.parametrize("bad", ["soon", "-1h", "nan", "400d"])
def test_a_bad_duration_is_one_line_exit_2(bad: str) -> None:
    code, out, err = _run("--hardware", "T4", f"--duration={bad}", "--intensity", "100")
    assert (code, out) == (2, "")
    assert err.startswith("lowcarb: error: --duration") and err.count("\n") == 1
    assert repr(bad) in err or "366" in err


def test_zone_uses_static_intensity(fake_static: FakeStatic) -> None:
    code, out, err = _run("--hardware", "A100", "--hours", "10", "--zone", "FR", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert fake_static.calls == ["FR"]
    assert data["intensity_g_per_kwh"] == 56.0
    assert data["intensity_source"] == "static:test-fr"
    assert data["zone"] == "FR"
    assert data["co2e_kg"] == pytest.approx(4.0 * 0.056)


def test_no_zone_uses_labelled_world_average(fake_static: FakeStatic) -> None:
    code, out, _ = _run("--hardware", "A100", "--hours", "10", "--json")
    assert code == 0
    data = json.loads(out)
    assert fake_static.calls == [None]
    assert data["intensity_g_per_kwh"] == 481.0
    assert data["zone"] == "WORLD"
    assert any("world average" in a for a in data["assumptions"])


def test_unknown_zone_exits_2(fake_static: FakeStatic) -> None:
    code, out, err = _run("--hardware", "A100", "--hours", "10", "--zone", "FX")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "unknown zone 'FX'" in err


def test_table_output() -> None:
    code, out, _ = _run(*GPT3, "--pue", "1.1", "--intensity", "429")
    assert code == 0
    assert "lowcarb estimate" in out
    assert "1,289,376.000 kWh" in out
    assert "553,142.304 kg" in out
    assert "power per device: 330 W given" in out


def test_embodied_json_and_table() -> None:
    code, out, _ = _run(
        "--hardware",
        "A100-SXM4-80GB",
        "--count",
        "384",
        "--hours",
        "2820.286458",
        "--intensity",
        "57",
        "--embodied",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["embodied_co2e_kg"] / 1000 == pytest.approx(3.64, rel=0.01)
    assert data["total_co2e_kg"] == pytest.approx(data["co2e_kg"] + data["embodied_co2e_kg"])
    code, out, _ = _run("--hardware", "A100", "--hours", "10", "--intensity", "57", "--embodied")
    assert code == 0
    assert "CO2e (embodied)" in out


def test_embodied_without_figure_warns() -> None:
    code, out, err = _run(
        "--hardware", "H100", "--hours", "1", "--intensity", "1", "--embodied", "--json"
    )
    assert code == 0
    assert json.loads(out)["embodied_co2e_kg"] is None
    assert "no cited embodied-emissions figure for H100-SXM5-80GB" in err


def test_list_hardware() -> None:
    code, out, _ = _run("--list-hardware", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["hardware"]}
    assert rows["A100-SXM4-80GB"]["tdp_w"] == 400
    assert rows["TPU-v3"]["typical_power_w"] == 289
    assert rows["EPYC-7763"]["cores"] == 64
    code, out, _ = _run("--list-hardware")
    assert code == 0
    assert "TPU-v3" in out
    assert "Xeon-Platinum-8259CL" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--hardware", "A100-SXM4-81GB", "--hours", "1", "--intensity", "1"), "did you mean"),
        (("--hardware", "T4", "--hours", "-3", "--intensity", "1"), "must be >= 0"),
        (("--hardware", "T4", "--hours", "three", "--intensity", "1"), "must be a number"),
        (("--hardware", "T4", "--hours", "nan", "--intensity", "1"), "finite"),
        (("--hardware", "T4", "--count", "0", "--hours", "1", "--intensity", "1"), ">= 1"),
        (
            ("--hardware", "T4", "--count", "2.5", "--hours", "1", "--intensity", "1"),
            "whole number",
        ),
        (("--hardware", "T4", "--hours", "1", "--pue", "0.8", "--intensity", "1"), "0.8"),
        (("--hardware", "T4", "--hours", "1", "--utilization", "1.5", "--intensity", "1"), "1.5"),
        (("--hardware", "T4", "--hours", "1", "--power-w", "-1", "--intensity", "1"), ">= 0"),
        (("--hardware", "T4", "--hours", "1", "--intensity", "1", "--zone", "FR"), "not allowed"),
        (("--hardware", "T4", "--hours", "1", "--days", "1", "--intensity", "1"), "not allowed"),
        (("--hardware", "T4", "--intensity", "1"), "--duration 90m, --hours H or --days D"),
        (("--hours", "1", "--intensity", "1"), "--power-w"),
    ],
)
def test_bad_input_one_line_exit_2(
    argv: tuple[str, ...], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(*argv)
    err += capsys.readouterr().err  # argparse's own errors go to sys.stderr
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_real_console_script_exit_2_without_traceback() -> None:
    exe = Path(sys.executable).with_name("lowcarb")
    if not exe.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    proc = subprocess.run(
        [str(exe), "estimate", "--hardware", "V1000", "--hours", "1", "--intensity", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("lowcarb: error: unknown hardware 'V1000'")
    assert "Traceback" not in proc.stderr


def test_zone_and_pue_from_environment(fake_static: FakeStatic) -> None:
    ctx = CliContext(
        stdout=StringIO(), stderr=StringIO(), environ={"LOWCARB_ZONE": "FR", "LOWCARB_PUE": "1.5"}
    )
    code = main(["estimate", "--hardware", "T4", "--hours", "10", "--json"], ctx=ctx)
    assert code == 0
    data = json.loads(ctx.stdout.getvalue())  # type: ignore[attr-defined]
    assert fake_static.calls == ["FR"]
    assert data["pue"] == 1.5
    assert data["energy_kwh"] == pytest.approx(1.05)
    assert "zone 'FR' taken from $LOWCARB_ZONE" in data["assumptions"]
    assert "PUE 1.5 taken from $LOWCARB_PUE" in data["assumptions"]


def test_flags_beat_environment(fake_static: FakeStatic) -> None:
    ctx = CliContext(
        stdout=StringIO(), stderr=StringIO(), environ={"LOWCARB_ZONE": "DE", "LOWCARB_PUE": "1.5"}
    )
    argv = ["estimate", "--hardware", "T4", "--hours", "10", "--intensity", "100", "--pue", "1"]
    code = main([*argv, "--json"], ctx=ctx)
    assert code == 0
    data = json.loads(ctx.stdout.getvalue())  # type: ignore[attr-defined]
    assert fake_static.calls == []
    assert data["pue"] == 1.0
    assert data["intensity_source"] == "given"


def test_table_shows_a_config_path_with_markup_literally(
    fake_static: FakeStatic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project directory named like Rich markup is printed as is, not parsed (a MarkupError)."""
    project = tmp_path / "proj[bold red]x"
    project.mkdir()
    (project / "lowcarb.toml").write_text('zone = "FR"\n')
    monkeypatch.chdir(project)
    code, out, err = _run("--hardware", "T4", "--hours", "10")
    assert (code, err) == (0, "")
    assert f"zone 'FR' taken from {project / 'lowcarb.toml'}" in out
