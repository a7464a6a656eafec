"""`lowcarb plan`: the DESIGN.md contract, no look-ahead with --trace/--now, bad input exits 2."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.grid import load_trace_table

NOW = "2022-03-10T10:00:00Z"
T_NOW = datetime(2022, 3, 10, 10, tzinfo=UTC)


def _cli(*args: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=StringIO(), stderr=StringIO(), environ={})
    code = main(list(args), ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def real(grid_data_dir: Path) -> dict[str, np.ndarray]:
    table = load_trace_table(grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv")
    return {z: table.series(z).values_g_per_kwh[: 24 * 90] for z in ("DE", "FR", "PL")}


def _write(path: Path, data: dict[str, np.ndarray]) -> Path:
    start = datetime(2022, 1, 1, tzinfo=UTC)
    zones = list(data)
    lines = ["datetime_utc," + ",".join(zones)]
    for i in range(len(data[zones[0]])):
        t = (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        lines.append(t + "," + ",".join(f"{data[z][i]:.6f}" for z in zones))
    path.write_text("\n".join(lines) + "\n")
    return path


def _plan_json(trace: Path, *extra: str) -> dict:
    code, out, err = _cli(
        "plan",
        "--zone",
        "DE",
        "--duration",
        "3h",
        "--deadline",
        "30h",
        "--trace",
        str(trace),
        "--now",
        NOW,
        "--json",
        *extra,
    )
    assert code == 0, err
    return json.loads(out)


def test_json_contract(tmp_path: Path, real: dict[str, np.ndarray]) -> None:
    trace = _write(tmp_path / "t.csv", real)
    out = _plan_json(trace)
    assert {"zone", "start", "expected_intensity_g_per_kwh", "now_intensity_g_per_kwh"} <= set(out)
    assert out["zone"] == "DE" and out["fallback"] is None
    start = datetime.fromisoformat(out["start"].replace("Z", "+00:00"))
    assert T_NOW <= start <= T_NOW + timedelta(hours=27)
    assert out["start"].endswith("Z")
    assert out["expected_intensity_g_per_kwh"] <= out["now_intensity_g_per_kwh"]
    inter = _plan_json(trace, "--interruptible", "--power-w", "400")
    assert inter["slots"] and all(s["start"] < s["end"] for s in inter["slots"])
    hours = (
        sum(
            (
                datetime.fromisoformat(s["end"][:-1]) - datetime.fromisoformat(s["start"][:-1])
            ).seconds
            for s in inter["slots"]
        )
        / 3600
    )
    assert hours == pytest.approx(3.0)
    assert inter["expected_co2e_g"] == pytest.approx(1.2 * inter["expected_intensity_g_per_kwh"])


def test_data_at_or_after_now_cannot_change_the_plan(
    tmp_path: Path, real: dict[str, np.ndarray]
) -> None:
    cut = int((T_NOW - datetime(2022, 1, 1, tzinfo=UTC)) / timedelta(hours=1))
    rng = np.random.default_rng(7)
    future = {z: v.copy() for z, v in real.items()}
    for v in future.values():
        v[cut:] = rng.uniform(0, 1000, size=v.size - cut)  # wildly different future
    a = _plan_json(_write(tmp_path / "a.csv", real))
    b = _plan_json(_write(tmp_path / "b.csv", future))
    a.pop("notes"), b.pop("notes")
    assert a == b
    for model in ("lag-ridge", "seasonal-naive"):
        a = _plan_json(tmp_path / "a.csv", "--model", model, "--interruptible")
        b = _plan_json(tmp_path / "b.csv", "--model", model, "--interruptible")
        assert {k: v for k, v in a.items() if k != "notes"} == {
            k: v for k, v in b.items() if k != "notes"
        }
    # The same edit one day earlier (data the plan may use) does change it: the test can fail.
    past = {z: v.copy() for z, v in real.items()}
    past["DE"][cut - 24 : cut] = 5.0
    c = _plan_json(_write(tmp_path / "c.csv", past))
    assert c["expected_intensity_g_per_kwh"] != a["expected_intensity_g_per_kwh"]


def test_spatial_choice_and_penalty(tmp_path: Path, real: dict[str, np.ndarray]) -> None:
    trace = _write(tmp_path / "t.csv", real)
    code, out, err = _cli(
        "plan",
        "--zone",
        "PL",
        "--zone",
        "FR",
        "--duration",
        "2h",
        "--deadline",
        "12h",
        "--trace",
        str(trace),
        "--now",
        NOW,
        "--json",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["zone"] == "FR" and plan["baseline_zone"] == "PL"
    assert {o["zone"] for o in plan["options"]} == {"PL", "FR"}
    code, out, err = _cli(
        "plan",
        "--zone",
        "PL",
        "--zone",
        "FR",
        "--duration",
        "2h",
        "--deadline",
        "12h",
        "--trace",
        str(trace),
        "--now",
        NOW,
        "--json",
        "--power-w",
        "1000",
        "--penalty",
        "FR=1e6",
    )
    assert code == 0, err
    assert json.loads(out)["zone"] == "PL"


def test_offline_profile_plan_and_rich_output() -> None:
    code, out, err = _cli(
        "plan", "--zone", "DE", "--duration", "1h", "--deadline", "24h", "--now", NOW
    )
    assert code == 0, err
    assert "lowcarb plan: run in DE" in out and "profile:electricitymaps-2022" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--zone", "DEE"], "unknown zone 'DEE'"),
        (["--deadline", "2h"], "leaves 2.00 h but the job takes 3 h"),
        (["--deadline", "2022-03-01T00:00Z"], "is not after now"),
        (["--now", "2022-03-10T10:00"], "has no time zone"),
        (["--duration", "0h"], "> 0"),
        (["--duration", "nan"], "--duration"),
        (["--duration", "1e300"], "--duration"),
        (["--deadline", "1000000000h"], "--deadline"),
        (["--deadline", "2199-12-31T00:00Z"], "at most 366 days ahead"),
        (["--deadline", "2022-02-01T00:00Z"], "is not after now"),
        (["--duration", "soon"], "is not a duration"),
        (["--penalty", "FR"], "ZONE=GRAMS"),
        (["--model", "lag-ridge"], "needs --trace"),
        (["--provider", "watttime"], "needs WATTTIME_USERNAME and WATTTIME_PASSWORD"),
        (["--provider", "ukci", "--trace", "x.csv"], "either --trace or --provider"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    base = {"--zone": "DE", "--duration": "3h", "--deadline": "24h", "--now": NOW}
    flags = dict(base)
    extra: list[str] = []
    for i in range(0, len(args), 2):
        if args[i] in flags:
            flags[args[i]] = args[i + 1]
        else:
            extra += args[i : i + 2]
    argv = ["plan"] + [x for kv in flags.items() for x in kv] + extra
    code, out, err = _cli(*argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("lowcarb: error: ")


def test_trace_errors_exit_2(tmp_path: Path, real: dict[str, np.ndarray]) -> None:
    trace = _write(tmp_path / "t.csv", real)
    code, _, err = _cli(
        "plan",
        "--zone",
        "ES",
        "--duration",
        "1h",
        "--deadline",
        "5h",
        "--trace",
        str(trace),
        "--now",
        NOW,
    )
    assert code == 2 and "no zone 'ES'" in err
    # --now long after the trace ends: the forecast would be stale, so it is refused.
    code, _, err = _cli(
        "plan",
        "--zone",
        "DE",
        "--duration",
        "1h",
        "--deadline",
        "5h",
        "--trace",
        str(trace),
        "--now",
        "2022-12-01T00:00Z",
    )
    assert code == 2 and "give recent data" in err
    # ...unless a labelled fallback is asked for.
    code, out, err = _cli(
        "plan",
        "--zone",
        "DE",
        "--duration",
        "1h",
        "--deadline",
        "5h",
        "--trace",
        str(trace),
        "--now",
        "2022-12-01T00:00Z",
        "--json",
        "--on-forecast-error",
        "latest-start",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["fallback"] and plan["start"] == "2022-12-01T04:00:00Z"


def test_real_binary(tmp_path: Path, real: dict[str, np.ndarray]) -> None:
    trace = _write(tmp_path / "t.csv", {"DE": real["DE"]})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lowcarb.cli",
            "plan",
            "--zone",
            "DE",
            "--duration",
            "90m",
            "--deadline",
            "2022-03-11T06:00Z",
            "--trace",
            str(trace),
            "--now",
            NOW,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["deadline"] == "2022-03-11T06:00:00Z"
    assert plan["end"] <= plan["deadline"]
