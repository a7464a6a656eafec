"""The bad-input harness: every case runs ``lowcarb`` in-process in a world of good files and a
ledger with records, and must end with one line on stderr, the right exit status, no traceback,
nothing on stdout, no file created or changed, and the ledger's rows exactly as they were."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import open_ledger
from lowcarb.ledger.testing import sample_draft

ROOT = Path(__file__).resolve().parents[2]
PROFILE: dict[str, object] = {
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
#: A trace with 20 days of hourly values from 2022-01-01 (enough for every forecaster).
TRACE_START = datetime(2022, 1, 1, tzinfo=UTC)
NOW = "2022-01-19T00:00Z"


@dataclass(frozen=True)
class Case:
    """One bad input: the argv, the exit status and a text the one-line message must contain.

    ``setup`` writes extra files into the world first; ``env`` adds environment variables;
    ``allowed`` names files the command may create (none by default).
    """

    argv: tuple[str, ...]
    needle: str
    code: int = 2
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    root: Path
    env: dict[str, str]

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.db"


def _write_world(root: Path) -> None:
    (root / "policy.yaml").write_text((ROOT / "examples" / "policy.yaml").read_text())
    (root / "candidate.json").write_text(json.dumps({**PROFILE, "version": "7"}))
    (root / "baseline.json").write_text(json.dumps(PROFILE))
    rows = [
        f"{(TRACE_START + timedelta(hours=i)).strftime('%Y-%m-%dT%H:%MZ')},{200 + (i % 24) * 3}"
        for i in range(24 * 20)
    ]
    (root / "trace.csv").write_text("time,value\n" + "\n".join(rows) + "\n")
    with open_ledger(f"sqlite:///{root / 'ledger.db'}", environ={}) as ledger:
        for team in ("vision", "nlp", "vision"):
            ledger.append(sample_draft(team=team))


def _snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file, SQLite side files and the ledger itself left out (compared by rows)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = str(path.relative_to(root))
            if rel.startswith("ledger.db") or rel.endswith(("-wal", "-shm", "-journal")):
                continue
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif not path.is_dir() and not path.is_symlink():
            out[str(path.relative_to(root))] = "special"  # a FIFO made by the case
    return out


def ledger_rows(path: Path) -> list[tuple[object, ...]]:
    """Every row of the ledger table, read-only."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.execute("SELECT * FROM lowcarb_ledger ORDER BY seq"))
    finally:
        conn.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    root = tmp_path / "w"
    root.mkdir()
    _write_world(root)
    monkeypatch.chdir(root)
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "XDG_CACHE_HOME": str(tmp_path / "home" / ".cache"),
        "LOWCARB_LEDGER": f"sqlite:///{root / 'ledger.db'}",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return World(root=root, env=env)


def check_case(world: World, case: Case) -> None:
    """Run ``case`` and assert everything the bad-input contract promises."""
    if case.setup is not None:
        case.setup(world.root)
    before_files = _snapshot(world.root)
    before_rows = ledger_rows(world.ledger)
    out, err = io.StringIO(), io.StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ={**world.env, **case.env})
    real_stderr = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(real_stderr):  # argparse writes its errors to sys.stderr
        code = main(list(case.argv), ctx=ctx)
    stderr = err.getvalue() + real_stderr.getvalue()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == case.code, f"exit {code}, expected {case.code}: {stderr!r}"
    assert "Traceback" not in stderr and "Traceback" not in out.getvalue()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {stderr!r}"
    assert lines[0].startswith("lowcarb") and "error" in lines[0], lines[0]
    assert case.needle.lower() in lines[0].lower(), f"{case.needle!r} not in {lines[0]!r}"
    assert "\x1b" not in stderr, "a control character reached the terminal"
    assert out.getvalue() == "", f"stdout not empty: {out.getvalue()[:200]!r}"
    assert _snapshot(world.root) == before_files, "a file was created or changed"
    assert ledger_rows(world.ledger) == before_rows, "the ledger changed"
