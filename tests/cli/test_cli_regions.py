"""`lowcarb regions rank`: Terraform's `external` data source contract, and the ranking itself.

The contract (hashicorp/terraform-provider-external, docs/data-sources/external.md, "External
Program Protocol"): the program reads a JSON object of strings (the `query`; `{}` without one)
on stdin; prints one JSON object whose values are all strings on stdout and exits 0; on error
prints a human-readable line on stderr and exits non-zero. There is no terraform binary here, so
the command is run as Terraform runs it: a child process, the query on its stdin.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.errors import InvalidValueError, UnknownZoneError, UsageError
from lowcarb.grid import (
    StaticIntensitySource,
    TraceIntensitySource,
    load_trace_table,
    make_forecaster,
)
from lowcarb.scheduling import parse_regions, rank_regions

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "terraform" / "main.tf"
NOW = "2022-03-10T10:00:00Z"
T_NOW = datetime(2022, 3, 10, 10, tzinfo=UTC)
ZONES = {"aws:eu-west-1": "IE", "aws:eu-north-1": "SE-SE3", "gcp:europe-west3": "DE"}
KEYS = {
    "region",
    "provider",
    "candidate",
    "location",
    "zone",
    "intensity_g_per_kwh",
    "source",
    "kind",
    "basis",
    "window_h",
    "now",
    "reason",
    "ranked",
    "ranked_intensities_g_per_kwh",
}


def _program(*args: str) -> list[str]:
    """The command line Terraform runs: ``lowcarb ARGS``."""
    return [sys.executable, "-m", "lowcarb", *args]


def _as_terraform(query: dict[str, object] | str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``lowcarb regions rank --json ARGS`` with ``query`` on stdin, as Terraform does."""
    stdin = query if isinstance(query, str) else json.dumps(query)
    return subprocess.run(
        _program("regions", "rank", "--json", *args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    ctx = CliContext(stdout=StringIO(), stderr=StringIO(), environ={})
    if stdin is not None:
        ctx.stdin = StringIO(stdin)  # type: ignore[attr-defined]
    code = main(["regions", "rank", *args], ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


def _flat_strings(stdout: str) -> dict[str, str]:
    out = json.loads(stdout)
    assert isinstance(out, dict) and stdout.count("\n") == 1  # one object, one line
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items()), out
    return out


@pytest.fixture(scope="module")
def trace(grid_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three candidates' zones from the real 2022 trace, January to March."""
    table = load_trace_table(grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv")
    data = {z: table.series(z).values_g_per_kwh[: 24 * 90] for z in ZONES.values()}
    return _write(tmp_path_factory.mktemp("regions") / "t.csv", data)


def _write(path: Path, data: dict[str, np.ndarray]) -> Path:
    start = datetime(2022, 1, 1, tzinfo=UTC)
    zones = list(data)
    lines = ["datetime_utc," + ",".join(zones)]
    for i in range(len(data[zones[0]])):
        t = (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        lines.append(t + "," + ",".join(f"{data[z][i]:.6f}" for z in zones))
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the external data source contract ----------------------------------------------------------
def _main_tf() -> tuple[str, str, dict[str, object]]:
    """The example's data block, its program and the query Terraform would send for the
    variables' defaults (a minimal reading of this file's HCL, not a general parser)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    block = re.search(r'data "external" "(\w+)" \{(.*?)\n\}', text, re.S)
    assert block is not None, 'main.tf has no data "external" block'
    defaults = {
        name: json.loads(value)
        for name, value in re.findall(r'variable "(\w+)" \{.*?default\s*=\s*(.+?)\n', text, re.S)
    }
    query = {
        "candidates": ",".join(defaults["allowed_regions"]),  # join(",", var.allowed_regions)
        "window": defaults["window"],
    }
    return block.group(1), block.group(2), query


def test_the_example_module_calls_the_command_as_the_data_source_needs() -> None:
    name, body, _ = _main_tf()
    program = re.search(r"program\s*=\s*(\[.*?\])", body)
    assert program is not None and json.loads(program.group(1)) == [
        "lowcarb",
        "regions",
        "rank",
        "--json",
    ]
    assert re.search(r'candidates\s*=\s*join\(",", var\.allowed_regions\)', body)
    assert re.search(r"window\s*=\s*var\.window", body)
    # Every result key the module reads is one the command prints.
    used = set(re.findall(rf"data\.external\.{name}\.result\.(\w+)", EXAMPLE.read_text()))
    assert used and used <= KEYS, used - KEYS


def test_terraform_query_on_stdin_gives_one_flat_object_of_strings() -> None:
    _, _, query = _main_tf()
    done = _as_terraform(query)
    assert done.returncode == 0, done.stderr
    out = _flat_strings(done.stdout)
    assert set(out) == KEYS
    assert out["candidate"] in str(query["candidates"]).split(",")
    assert out["ranked"].split(",")[0] == out["candidate"]
    assert sorted(out["ranked"].split(",")) == sorted(str(query["candidates"]).split(","))
    assert out["kind"] == "estimated" and out["source"].startswith("profile:")  # said, not hidden
    assert float(out["intensity_g_per_kwh"]) >= 0 and out["window_h"] == "0"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"candidates": "aws:eu-west-1,aws:mars-9"}, "unknown zone 'aws:mars-9'"),
        ({"candidates": "aws:eu-west-1,DE"}, "'DE' is a grid zone, not a cloud region"),
        ({}, "no candidate region given"),
        ({"candidates": " , "}, "no candidate region given"),
        ({"candidates": "aws:eu-west-1", "windw": "24h"}, "unknown query key 'windw'"),
        ({"candidates": ["aws:eu-west-1"]}, "must be a string"),
        ({"candidates": "aws:eu-west-1", "window": "400h"}, "0 (now) to 168 hours"),
        ("[1, 2]", "must be a JSON object of strings"),
        ("candidates=aws:eu-west-1", "is not JSON"),
    ],
)
def test_errors_are_one_line_on_stderr_and_a_nonzero_exit(
    query: dict[str, object] | str, message: str
) -> None:
    stdin = query if isinstance(query, str) else json.dumps(query)
    code, out, err = _cli("--json", stdin=stdin)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("lowcarb: error: ") and message in err


def test_an_error_as_terraform_sees_it() -> None:
    done = _as_terraform({"candidates": "aws:eu-west-1,azure:nowhere"})
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "unknown zone 'azure:nowhere'" in done.stderr


def test_flags_need_no_stdin_and_win_over_it() -> None:
    code, out, err = _cli("--candidates", "aws:eu-north-1", "--json", stdin="not json at all")
    assert code == 0, err
    assert _flat_strings(out)["candidate"] == "aws:eu-north-1"


# -- the ranking --------------------------------------------------------------------------------
def test_ranks_by_the_latest_value_before_now(trace: Path) -> None:
    candidates = ",".join(ZONES)
    code, out, err = _cli("--candidates", candidates, "--trace", str(trace), "--now", NOW, "--json")
    assert code == 0, err
    got = _flat_strings(out)
    table = load_trace_table(trace)
    latest = {
        r: table.series(z).before(T_NOW).latest().intensity_g_per_kwh for r, z in ZONES.items()
    }
    order = sorted(ZONES, key=lambda r: latest[r])
    assert got["ranked"] == ",".join(order)
    assert got["ranked_intensities_g_per_kwh"] == ",".join(f"{latest[r]:.1f}" for r in order)
    best = order[0]
    assert got["candidate"] == best and got["zone"] == ZONES[best]
    assert got["provider"] == best.split(":")[0] and got["region"] == best.split(":")[1]
    assert got["intensity_g_per_kwh"] == f"{latest[best]:.1f}"
    assert got["source"].startswith("trace:") and got["now"] == NOW
    assert got["basis"] == "latest intensity" and best in got["reason"]


def test_data_at_or_after_now_cannot_change_the_ranking(trace: Path, tmp_path: Path) -> None:
    table = load_trace_table(trace)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    cut = int((T_NOW - start).total_seconds() // 3600)
    data = {}
    for zone in ZONES.values():
        values = table.series(zone).values_g_per_kwh.copy()
        values[cut:] = 0.0 if zone == "DE" else 1999.0  # the future flips the order
        data[zone] = values
    future = _write(tmp_path / "t.csv", data)  # the same name: the same source label
    args = ("--candidates", ",".join(ZONES), "--now", NOW, "--json")
    before, after = _cli(*args, "--trace", str(trace)), _cli(*args, "--trace", str(future))
    assert after[0] == 0, after[2]
    assert before[1] == after[1]


def test_a_window_ranks_by_the_mean_forecast(trace: Path) -> None:
    stdin = json.dumps({"candidates": ",".join(ZONES), "window": "24h"})
    code, out, err = _cli("--trace", str(trace), "--now", NOW, "--json", stdin=stdin)
    assert code == 0, err
    got = _flat_strings(out)
    source = TraceIntensitySource(
        load_trace_table(trace), forecaster=make_forecaster("profile-blend")
    )
    means = {
        r: source.forecast(z, now=T_NOW, horizon_h=24).mean_g_per_kwh() for r, z in ZONES.items()
    }
    order = sorted(ZONES, key=lambda r: means[r])
    assert got["ranked"] == ",".join(order) and got["window_h"] == "24"
    assert got["intensity_g_per_kwh"] == f"{means[order[0]]:.1f}"
    assert got["basis"] == "mean forecast intensity over the next 24 h"
    assert "mean of 24 hourly values" in got["reason"]


def test_a_tie_goes_to_the_first_listed_region() -> None:
    both_de = "gcp:europe-west3,aws:eu-central-1"  # both in Frankfurt, zone DE
    code, out, err = _cli("--candidates", both_de, "--now", NOW, "--json")
    assert code == 0, err
    got = _flat_strings(out)
    assert got["ranked"] == both_de and got["candidate"] == "gcp:europe-west3"
    assert "a tie: the first listed wins" in got["reason"]


def test_without_json_a_table(trace: Path) -> None:
    code, out, err = _cli("--candidates", ",".join(ZONES), "--trace", str(trace), "--now", NOW)
    assert code == 0 and err == ""
    assert "Cloud regions by latest intensity" in out and "aws:eu-north-1" in out


def test_parse_regions_dedupes_and_names_the_problem() -> None:
    regions = parse_regions(["aws:eu-west-1, aws:eu-north-1", "aws:eu-west-1", "europe-west4"])
    assert [r.key for r in regions] == ["aws:eu-west-1", "aws:eu-north-1", "gcp:europe-west4"]
    with pytest.raises(UsageError, match="no candidate region"):
        parse_regions("")
    with pytest.raises(InvalidValueError, match="its regions are aws:eu-west-2, gcp:europe-west2"):
        parse_regions("GB")
    with pytest.raises(UnknownZoneError, match=r"did you mean .*'aws:eu-west-1'"):
        parse_regions("aws:eu-west-l")
    with pytest.raises(InvalidValueError, match="at most 200"):
        parse_regions(",".join(["aws:eu-west-1"] * 201))


def test_rank_regions_on_the_static_table() -> None:
    ranking = rank_regions(["aws:eu-west-3", "aws:ap-south-1"], StaticIntensitySource(), now=T_NOW)
    assert [r.region.key for r in ranking.ranked] == ["aws:eu-west-3", "aws:ap-south-1"]
    assert ranking.chosen.source.startswith("static:") and ranking.chosen.kind == "estimated"
    flat = ranking.to_flat_dict()
    assert set(flat) == KEYS and all(isinstance(v, str) for v in flat.values())
    with pytest.raises(InvalidValueError, match="0 \\(now\\) to 168 hours"):
        rank_regions("aws:eu-west-3", StaticIntensitySource(), now=T_NOW, window_h=169)
