"""Bad input to ``gate`` and ``budget``: exit 2, one line naming the problem, nothing recorded.

Each case is something a user or an attacker can hand the commands: policy YAML (alias bombs,
duplicate keys, 5,000-digit numbers, binary or non-UTF-8 files), profile JSON (``1e400``,
``NaN``, duplicate keys, deep nesting, values out of range) and ledger URLs (typos, ``postgres://``,
in-memory SQLite, an unreachable server, a directory). Also: hostile names in the budget table,
and tables that stay readable at 60 columns.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext

PROFILE: dict[str, Any] = {
    "model": "fraud",
    "version": "6",
    "accuracy": 0.9,
    "latency_p95_ms": 10.0,
    "energy_per_1k_j": 1000.0,
    "energy_method": "measured",
    "flops": 1000.0,
    "size_bytes": 1000,
    "training_co2e_kg": 5.0,
}
POLICY = "rules:\n  max_energy_increase_pct: 5\n"
BUDGETS = "budgets:\n  - {team: vision, period: month, co2e_kg: 10, on_exceed: refuse}\n"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def _one_line_error(rc: int, out: str, err: str, expected: str) -> None:
    assert rc == 2, err
    assert out == ""
    assert err.startswith("lowcarb: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert expected in err, err


@pytest.fixture
def gate_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("policy.yaml").write_text(POLICY, encoding="utf-8")
    Path("candidate.json").write_text(json.dumps({**PROFILE, "version": "7"}))
    Path("baseline.json").write_text(json.dumps(PROFILE))
    return [
        "gate",
        "--policy",
        "policy.yaml",
        "--candidate",
        "candidate.json",
        "--baseline",
        "baseline.json",
    ]


POLICY_CASES: list[tuple[bytes, str]] = [
    (b"a: &x [1, 2]\nrules: *x\n", "aliases"),
    (b"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b]\n", "alias"),
    (b"rules: {}\nrules: {}\n", "given twice"),
    (b"rules: {max_energy_increase_pct: " + b"9" * 5000 + b"}\n", "numbers are limited"),
    (b"rules: {max_energy_increase_pct: .nan}\n", "not a finite number"),
    (b"rules: {max_energy_increase_pct: .inf}\n", "not a finite number"),
    (b"- rules\n", "must be a YAML mapping"),
    (b"just text\n", "must be a YAML mapping"),
    (b"", "empty policy"),
    (b"rules:\x00\x01\x02", "binary file"),
    (b"name: caf\xe9\nrules: {}\n", "not UTF-8"),
    (b"#" * ((1 << 20) + 1), "limit"),
    (b"rules: [unclosed\n", "policy.yaml"),
    (b"rules: {max_energy_increase_pct: 5}\nrulez: {}\n", "unknown key"),
]


@pytest.mark.parametrize(("content", "expected"), POLICY_CASES)
def test_gate_refuses_bad_policy_files(gate_argv: list[str], content: bytes, expected: str) -> None:
    Path("policy.yaml").write_bytes(content)
    _one_line_error(*_run([*gate_argv, "--ledger", "sqlite:///ledger.db"]), expected)
    assert not Path("ledger.db").exists() or _records("sqlite:///ledger.db") == 0


PROFILE_CASES: list[tuple[str, str]] = [
    ('{"accuracy": 1e400}', "out of range"),
    ('{"accuracy": NaN}', "NaN"),
    ('{"accuracy": Infinity}', "Infinity"),
    ('{"model": "a", "model": "b"}', "given twice"),
    ("[" * 10_000 + "]" * 10_000, "nested"),
    ("[1, 2]", "must be a JSON object"),
    ('"text"', "must be a JSON object"),
    ("{not json", "candidate"),
    ("", "candidate"),
]


@pytest.mark.parametrize(("content", "expected"), PROFILE_CASES)
def test_gate_refuses_bad_profile_json(gate_argv: list[str], content: str, expected: str) -> None:
    Path("candidate.json").write_text(content, encoding="utf-8")
    _one_line_error(*_run(gate_argv), expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accuracy", 5.0),
        ("accuracy", -0.1),
        ("latency_p95_ms", -3.0),
        ("energy_per_1k_j", -1.0),
        ("size_bytes", -1),
        ("flops", -1.0),
        ("flops", 1e300),
        ("latency_p95_ms", 1e12),
        ("training_co2e_kg", 1e200),
        ("intensity_g_per_kwh", 5000.0),
        ("size_bytes", 2**60),
        ("energy_method", "guessed"),
        ("model", ""),
        ("model", "x" * 5000),
    ],
)
def test_gate_refuses_profile_values_out_of_range(
    gate_argv: list[str], field: str, value: object
) -> None:
    Path("candidate.json").write_text(json.dumps({**PROFILE, "version": "7", field: value}))
    _one_line_error(*_run(gate_argv), field)


def test_gate_refuses_an_oversized_profile(gate_argv: list[str]) -> None:
    data = {**PROFILE, "version": "7", "notes": ["x" * 1000] * 20_000}
    Path("candidate.json").write_text(json.dumps(data))
    _one_line_error(*_run(gate_argv), "candidate")


def _records(url: str) -> int:
    from lowcarb.ledger import open_ledger

    with open_ledger(url, environ={}, create=False) as ledger:
        return ledger.verify().entries


LEDGER_CASES: list[tuple[str, str]] = [
    ("sqlte:///x.db", "unknown dialect 'sqlte'"),
    ("postgres://u@127.0.0.1/db", "postgresql+psycopg://"),
    ("sqlite://", "in-memory"),
    ("sqlite:/x.db", "--ledger"),
    ("postgresql+psycopg://x@127.0.0.1:1/none", "cannot reach"),
    ("postgresql+psycopg://x@127.0.0.1:99999/none", "port"),
    ("sqlite:///a_directory", "directory"),
    ("a_directory", "directory"),
]


@pytest.mark.parametrize(("url", "expected"), LEDGER_CASES)
def test_gate_refuses_a_bad_ledger_before_deciding(
    gate_argv: list[str], url: str, expected: str
) -> None:
    """A verdict computed and then lost would look like a pass to CI: refuse first."""
    Path("a_directory").mkdir()
    rc, out, err = _run([*gate_argv, "--ledger", url])
    _one_line_error(rc, out, err, expected)
    assert "PROMOTE" not in err and not Path("x.db").exists()


@pytest.mark.parametrize(("url", "expected"), LEDGER_CASES)
@pytest.mark.parametrize("action", ["status", "check"])
def test_budget_refuses_a_bad_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str, url: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a_directory").mkdir()
    Path("policy.yaml").write_text(BUDGETS, encoding="utf-8")
    argv = ["budget", action, "--policy", "policy.yaml", "--team", "vision", "--ledger", url]
    _one_line_error(*_run(argv), expected)
    assert not Path("x.db").exists()


@pytest.mark.parametrize(("content", "expected"), POLICY_CASES[:12])
def test_budget_refuses_bad_budget_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("policy.yaml").write_bytes(content)
    argv = ["budget", "check", "--policy", "policy.yaml", "--ledger", "sqlite:///ledger.db"]
    _one_line_error(*_run(argv), expected)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ("{team: vision, period: month, co2e_kg: " + "9" * 5000 + "}", "numbers are limited"),
        ("{team: vision, period: month, co2e_kg: .nan}", "not a finite number"),
        ("{team: vision, period: month, co2e_kg: -1}", "co2e_kg"),
        ("{team: vision, period: fortnight, co2e_kg: 1}", "period"),
        ("{team: vision, period: month, co2e_kg: 1, on_exceed: explode}", "on_exceed"),
        ("{period: month, co2e_kg: 1}", "team"),
    ],
)
def test_budget_refuses_bad_budget_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("policy.yaml").write_text(f"budgets:\n  - {budget}\n", encoding="utf-8")
    argv = ["budget", "status", "--policy", "policy.yaml", "--ledger", "sqlite:///ledger.db"]
    _one_line_error(*_run(argv), expected)


def test_the_gate_table_is_readable_at_60_columns(
    gate_argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    Path("candidate.json").write_text(
        json.dumps({**PROFILE, "version": "7", "energy_per_1k_j": 2000.0})
    )
    rc, out, err = _run(gate_argv)
    assert rc == 1, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 60, out
    assert "REJECT" in out and "max_energy" in out


def test_budget_table_shows_hostile_team_names_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "60")
    Path("policy.yaml").write_text(
        'budgets:\n  - {team: "[/]", period: month, co2e_kg: 10}\n'
        '  - {team: "[b]OK", period: month, co2e_kg: 10}\n',
        encoding="utf-8",
    )
    from lowcarb.ledger import open_ledger

    with open_ledger("sqlite:///ledger.db", environ={}):
        pass
    rc, out, err = _run(
        ["budget", "status", "--policy", "policy.yaml", "--ledger", "sqlite:///ledger.db"]
    )
    assert rc == 0, err
    assert "[/]" in out and "[b]OK" in out and "\x1b" not in out
    assert max(len(line) for line in out.splitlines()) <= 60, out


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "-1", "9" * 5000, "ten"])
def test_budget_check_refuses_bad_amounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("policy.yaml").write_text(BUDGETS, encoding="utf-8")
    argv = ["budget", "check", "--policy", "policy.yaml", "--team", "vision", f"--co2e-kg={value}"]
    rc, out, err = _run(argv)
    err += capsys.readouterr().err  # argparse reports on sys.stderr
    assert rc == 2 and out == "" and "--co2e-kg" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "now", ["yesterday", "2025-06-01T12:00:00", "9999-01-01T00:00:00Z", "1" * 5000, "NaN"]
)
@pytest.mark.parametrize("command", ["gate", "budget"])
def test_bad_now_is_refused_before_deciding(gate_argv: list[str], command: str, now: str) -> None:
    Path("budgets.yaml").write_text(BUDGETS, encoding="utf-8")
    argv = (
        [*gate_argv, "--ledger", "sqlite:///ledger.db"]
        if command == "gate"
        else ["budget", "status", "--policy", "budgets.yaml", "--ledger", "sqlite:///ledger.db"]
    )
    _one_line_error(*_run([*argv, "--now", now]), "--now")
    assert not Path("ledger.db").exists()
