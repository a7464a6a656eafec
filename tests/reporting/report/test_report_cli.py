"""`lowcarb report`: formats, files, --json, and bad input as one line with exit status 2.

The command is registered the way ``lowcarb.cli`` registers every command (``_COMMANDS``), so
these tests run it through the real ``main`` and its error handling.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest

from lowcarb import cli
from lowcarb.cli._common import CliContext

PERIOD = ["--since", "2024-01-01", "--until", "2024-04-01"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = cli.main(["report", *argv], ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_markdown_to_stdout_by_default(world) -> None:
    code, out, err = run("--ledger", world.url, *PERIOD, "--no-verify")
    assert (code, err) == (0, "")
    assert out.startswith("# lowcarb carbon report\n")
    assert "| CO2e, Scope 2 location-based (kg) | 3.365 |" in out
    assert "not verified for this report" in out


def test_html_file_and_a_json_summary(world, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = run("--ledger", world.url, *PERIOD, "--output", str(target), "--json")
    assert (code, err) == (0, "")
    summary = json.loads(out)
    assert summary["format"] == "html" and summary["bytes"] == target.stat().st_size
    assert summary["records"] == 9 and summary["ledger_ok"] is True
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_json_report_on_stdout_is_one_object(world, tmp_path: Path) -> None:
    factors = tmp_path / "factors.yaml"
    factors.write_text(
        "factors:\n  DE: {intensity_g_per_kwh: 500, source: residual mix DE}\n"
        "  FR: {intensity_g_per_kwh: 20, source: 'supplier: green tariff'}\n",
        encoding="utf-8",
    )
    profile = tmp_path / "p.json"
    profile.write_text(
        json.dumps(
            {
                "model": "bert",
                "version": "1",
                "accuracy": 0.8,
                "latency_p95_ms": 3.0,
                "energy_per_1k_j": 90.0,
                "energy_method": "estimated",
                "flops": None,
                "size_bytes": 4096,
                "training_co2e_kg": None,
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run(
        "--ledger",
        world.url,
        *PERIOD,
        "--format",
        "json",
        "--json",
        "--market-factors",
        str(factors),
        "--profile",
        str(profile),
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["scope2"]["market_co2e_g"] == pytest.approx(8.2 * 500 + 0.7 * 20)
    assert doc["scope2"]["market_factors_source"] == str(factors)
    bert = next(m for m in doc["models"] if m["model"] == "bert")
    assert bert["size_bytes"] == 4096 and bert["energy_method"] == "estimated"


def test_csv_format_from_the_output_suffix(world, tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    code, out, _ = run("--ledger", world.url, *PERIOD, "-o", str(target), "--team", "nlp")
    assert code == 0 and out.startswith(f"wrote {target} (csv,")
    assert target.read_text(encoding="utf-8").startswith("section,key,subkey,metric,value,unit\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--team", "visoin"],
            "unknown team 'visoin': no ledger record is charged to it; did "
            "you mean 'vision'? known teams: nlp, vision",
        ),
        (["--project", "x"], "known projects: chat, detector, s1, s2"),
        (
            ["--since", "2024-05-01", "--until", "2024-04-01"],
            "report period ends (2024-04-01T00:00:00Z) before it starts (2024-05-01T00:00:00Z)",
        ),
        (["--since", "last tuesday"], "--since 'last tuesday' is not an ISO 8601 time"),
        (["--since", "2024-01-01T10:00"], "has no time zone; add Z for UTC"),
        (["--since", "1990-01-01", "--until", "2024-01-01"], "longer than the 366 allowed"),
        (["--since", "2024-01-01", "--until", "2024-01-01"], "before it starts"),
        (
            ["--format", "md", "--json"],
            "--json prints one JSON object on stdout, so the md report needs --output FILE",
        ),
        (["--output", "/nonexistent/dir/r.html"], "directory '/nonexistent/dir' does not exist"),
        (["--market-factors", "/nonexistent.yaml"], "/nonexistent.yaml"),
        (["--team", "x" * 300], "report team is 300 characters long"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(world, args: list[str], message: str) -> None:
    code, out, err = run("--ledger", world.url, *args)
    assert code == 2, err
    assert out == "" and err.count("\n") == 1 and err.startswith("lowcarb: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("factors:\n  DE: {intensity_g_per_kwh: -1, source: x}\n", ".yaml", "outside 0..2000"),
        ("factors:\n  DE: {intensity_g_per_kwh: 300}\n", ".yaml", "needs a source"),
        ("factors:\n  DE: {intensity_g_per_kwh: 3e5, source: s}\n", ".yaml", "g/MWh"),
        ("factors:\n  DE: {g: 1, source: s}\n", ".yaml", "unknown key(s) 'g'"),
        ("zone,intensity_g_per_kwh,source\nDE,abc,s\n", ".csv", "is not a number"),
        ("zone,intensity_g_per_kwh,source\nDE,1,s\nDE,2,t\n", ".csv", "given twice"),
        ("zone,value\nDE,1\n", ".csv", "header must be zone,intensity_g_per_kwh,source"),
        ("- just a list\n", ".yaml", "expected a `factors:` mapping"),
        ("factors: {DE: [1, 2]}\n", ".yaml", "must map to"),
    ],
)
def test_a_bad_market_factor_file_is_one_line(
    world, tmp_path: Path, text: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"factors{suffix}"
    path.write_text(text, encoding="utf-8")
    code, _, err = run("--ledger", world.url, *PERIOD, "--market-factors", str(path))
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_no_ledger_there_is_exit_2_and_nothing_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    code, _, err = run("--ledger", f"sqlite:///{path}", *PERIOD)
    assert code == 2 and "lowcarb: error:" in err and not path.exists()


def test_a_tampered_ledger_exits_1_with_the_report_written(world, tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(world.url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("DROP TRIGGER lowcarb_ledger_no_update")
    conn.execute("UPDATE lowcarb_ledger SET prev_hash = hash WHERE seq = 3")
    conn.close()
    target = tmp_path / "r.md"
    code, _, err = run("--ledger", world.url, *PERIOD, "-o", str(target))
    assert code == 1 and "ledger verification failed: record #3" in err
    assert "Note: LEDGER VERIFICATION FAILED: record #3" in target.read_text(encoding="utf-8")
