"""`lowcarb backtest`: per-zone policy scores, workload files, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext


def _cli(*args: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=StringIO(), stderr=StringIO(), environ={})
    code = main(list(args), ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """40 days, two zones: A dips every day at 03:00 UTC, B is flat."""
    start = datetime(2022, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(0)
    lines = ["datetime_utc,A,B"]
    for i in range(24 * 40):
        t = start + timedelta(hours=i)
        a = 400 - 300 * (t.hour == 3) + rng.normal(0, 5)
        lines.append(f"{t.isoformat()},{a:.3f},250")
    path = tmp_path / "trace.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_report_per_zone_and_policy(trace: Path) -> None:
    code, out, err = _cli(
        "backtest",
        "--trace",
        str(trace),
        "--duration",
        "1h",
        "--deadline",
        "24h",
        "--duration",
        "2h",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert {z["zone"] for z in report["zones"]} == {"A", "B"}
    assert len(report["zones"]) == 4  # 2 zones x 2 durations
    a1 = next(z for z in report["zones"] if z["zone"] == "A" and z["workload"].startswith("1h"))
    by = {p["policy"]: p for p in a1["policies"]}
    assert set(by) >= {"run-now", "oracle", "threshold(q0.25)", "window:seasonal-naive"}
    assert by["oracle"]["captured_pct"] == pytest.approx(100)
    # The dip is the same every day: a seasonal forecast finds it every time.
    assert by["window:seasonal-naive"]["captured_pct"] > 95
    assert all(p["missed_deadlines"] == 0 for p in a1["policies"])
    b1 = next(z for z in report["zones"] if z["zone"] == "B")
    assert all(p["captured_pct"] is None for p in b1["policies"])  # flat: nothing to capture
    assert report["summary"]


def test_workload_file(tmp_path: Path, trace: Path) -> None:
    work = tmp_path / "jobs.csv"
    work.write_text(
        "submit,duration,deadline,interruptible\n"
        "2022-01-20T09:00Z,2h,2022-01-21T09:00Z,false\n"
        "2022-01-22T09:30Z,3h,20h,true\n"
        "2023-06-01T00:00Z,1h,5h,false\n"  # outside the trace: dropped, counted
    )
    code, out, err = _cli(
        "backtest",
        "--trace",
        str(trace),
        "--zone",
        "A",
        "--workload",
        str(work),
        "--policy",
        "forecast",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["dropped_jobs"] == 1
    policies = report["zones"][0]["policies"]
    assert [p["policy"] for p in policies] == ["run-now", "window:profile-blend(14d)", "oracle"]
    assert all(p["jobs"] == 2 for p in policies)


def test_rich_table(trace: Path) -> None:
    code, out, err = _cli(
        "backtest",
        "--trace",
        str(trace),
        "--zone",
        "A",
        "--duration",
        "1h",
        "--deadline",
        "12h",
        "--every",
        "6h",
    )
    assert code == 0, err
    assert "A: 1h job, deadline 12h" in out and "oracle" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "3h", "--deadline", "2h"], "shorter than --duration"),
        (["--deadline", "2h"], "give --duration and --deadline"),
        (["--duration", "3h", "--deadline", "9h", "--zone", "C"], "no zone 'C'"),
        (["--duration", "3h", "--deadline", "9h", "--threshold-quantile", "2"], "(0, 1)"),
        (["--duration", "3h", "--deadline", "900h"], "no submission fits"),
    ],
)
def test_bad_input_exit_2(trace: Path, args: list[str], message: str) -> None:
    code, out, err = _cli("backtest", "--trace", str(trace), *args)
    assert code == 2 and out == ""
    assert message in err and err.startswith("lowcarb: error: ")
