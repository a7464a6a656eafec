"""`lowcarb compare`: Rich table, Markdown and JSON from profile files; bad input."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext

BASE: dict[str, Any] = {
    "model": "clf",
    "version": "1",
    "accuracy": 0.9,
    "latency_p95_ms": 2.0,
    "energy_per_1k_j": 100.0,
    "energy_method": "measured",
    "flops": 10.0,
    "size_bytes": 10,
    "training_co2e_kg": 1.5,
}


def _files(tmp_path: Path) -> list[str]:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(BASE))
    b.write_text(json.dumps({**BASE, "version": "2", "accuracy": 0.95, "energy_per_1k_j": 80.0}))
    return [str(a), str(b)]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_json(tmp_path: Path) -> None:
    rc, out, _ = _run(["compare", *_files(tmp_path), "--json"])
    assert rc == 0
    data = json.loads(out)
    assert data["reference"] == "clf@1"
    first, second = data["models"]
    assert second["energy_change_pct"] == -20.0
    assert round(second["accuracy_change_pts"], 6) == 5.0
    assert first["training_co2e_kg"] == 1.5
    rc, out2, _ = _run(["compare", *_files(tmp_path), "--format", "json"])
    assert json.loads(out2) == data


def test_markdown_and_table(tmp_path: Path) -> None:
    rc, out, _ = _run(["compare", *_files(tmp_path), "--format", "markdown"])
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("| Model | Accuracy | p95 latency | Training CO2e |")
    assert lines[3] == (
        "| clf@2 | 95.00% | 2.000 ms | 1.5 kg | 80 J (measured) | energy -20.0%, "
        "accuracy +5.00 pts |"
    )
    rc, out, _ = _run(["compare", *_files(tmp_path)])
    assert rc == 0
    assert "model comparison" in out and "clf@2" in out and "reference" in out


def test_bad_input(tmp_path: Path) -> None:
    files = _files(tmp_path)
    Path(files[1]).write_text(json.dumps({**BASE, "acuracy": 0.9}))
    rc, out, err = _run(["compare", *files, "--json"])
    assert rc == 2 and out == ""
    assert "unknown field 'acuracy'; did you mean 'accuracy'?" in err
    rc, _, err = _run(["compare"])
    assert rc == 2 and "give at least one PROFILE" in err
    rc, _, err = _run(["compare", *files, "--versions", "1"])
    assert rc == 2 and "--versions goes with --mlflow-model" in err


@pytest.mark.parametrize("name", ["[/]", "[b]APPROVED", "x\x1b[31my", "=cmd|'/C'!A0"])
@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_hostile_model_names_are_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, fmt: str
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    files = _files(tmp_path)
    for f in files:
        Path(f).write_text(json.dumps({**json.loads(Path(f).read_text()), "model": name}))
    rc, out, err = _run(["compare", *files, "--format", fmt])
    assert rc == 0, err
    assert "\x1b" not in out
    flat = "".join(out.split())  # the table may wrap a long name over lines
    shown = name.replace("|", "\\|") if fmt == "markdown" else name
    if "\x1b" not in name:
        assert "".join(shown.split()) in flat
    if fmt == "table":
        assert max(len(line) for line in out.splitlines()) <= 60, out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"accuracy": 1e400}', "out of range"),
        ('{"model": "a", "model": "b"}', "given twice"),
        ("[" * 5000 + "]" * 5000, "nested"),
        ('{"accuracy": NaN}', "NaN"),
    ],
)
def test_bad_profile_json_is_one_line(tmp_path: Path, content: str, expected: str) -> None:
    files = _files(tmp_path)
    Path(files[1]).write_text(content)
    rc, out, err = _run(["compare", *files])
    assert rc == 2 and out == ""
    assert err.startswith("lowcarb: error: ") and err.count("\n") == 1 and expected in err
