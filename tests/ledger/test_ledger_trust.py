"""Trust: what verify proves and cannot, lock waits that end, safe display, safe exports."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.errors import InvalidValueError, LedgerBusyError, LedgerError, UsageError
from lowcarb.ledger import Attribution, RecordDraft, open_ledger
from lowcarb.ledger._sql import PG_LOCK_KEY
from lowcarb.ledger.testing import sample_draft

HOSTILE = {"team": "[/]", "project": "[bold red]APPROVED", "model": '=HYPERLINK("http://x")'}


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ=environ or {}))
    return rc, out.getvalue(), err.getvalue()


def fill(url: str, n: int = 3, **names: str) -> None:
    with open_ledger(url, environ={}) as ledger:
        for _ in range(n):
            ledger.append(sample_draft(**names))


# -- verify: what was proved, what was not ------------------------------------------------------


def test_verify_states_its_limits(ledger_url: str) -> None:
    fill(ledger_url)
    rc, out, _ = cli("ledger", "verify", "--ledger", ledger_url, "--json")
    result = json.loads(out)
    assert rc == 0 and result["ok"] is True and result["unanchored"] is None
    assert "edit of a record" in result["limits"]["ruled_out"]
    not_ruled = " ".join(result["limits"]["not_ruled_out"])
    assert "truncation of the tail" in not_ruled and "rewrite of the whole chain" in not_ruled
    rc, text, _ = cli("ledger", "verify", "--ledger", ledger_url)
    assert rc == 0 and "not ruled out: truncation of the tail" in text


def test_an_empty_ledger_is_not_reported_intact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    open_ledger(url, environ={}).close()
    rc, out, _ = cli("ledger", "verify", "--ledger", url)
    assert rc == 0 and out.startswith("ledger EMPTY: empty: no records to verify")
    assert "intact" not in out
    rc, out, _ = cli("ledger", "verify", "--ledger", url, "--json")
    result = json.loads(out)
    assert result["entries"] == 0 and "deletion of every record" in " ".join(
        result["limits"]["not_ruled_out"]
    )


def test_records_after_a_checkpoint_are_reported_unanchored(
    ledger_url: str, tmp_path: Path
) -> None:
    fill(ledger_url, 2)
    cp = tmp_path / "cp.json"
    assert cli("ledger", "checkpoint", "--ledger", ledger_url, "--output", str(cp))[0] == 0
    fill(ledger_url, 1)  # a record the checkpoint cannot vouch for (it could be a forgery)
    rc, out, _ = cli("ledger", "verify", "--ledger", ledger_url, "--checkpoint", str(cp), "--json")
    result = json.loads(out)
    assert rc == 0 and result["unanchored"] == 1
    assert "forged records after the checkpoint" in " ".join(result["limits"]["not_ruled_out"])
    rc, text, _ = cli("ledger", "verify", "--ledger", ledger_url, "--checkpoint", str(cp))
    assert "1 record(s) after the checkpoint, NOT covered by it" in text


def test_trigger_warning_does_not_overclaim(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "l.db"
    fill(f"sqlite:///{path}", 1)
    with sqlite3.connect(path) as conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
            conn.execute(f'DROP TRIGGER "{name}"')
    _, _, err = cli("ledger", "verify", "--ledger", f"sqlite:///{path}")
    assert "still detects it" not in err and "not a chain recomputed from scratch" in err


# -- PostgreSQL lock waits end like SQLite's ------------------------------------------------------


@contextmanager
def holding_the_pg_lock(url: str) -> Iterator[None]:
    import psycopg

    u = make_url(url)
    conninfo = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
        yield
        conn.rollback()


def test_postgres_writer_gives_up_after_the_busy_timeout(postgres_url: str) -> None:
    fill(postgres_url, 1)
    with open_ledger(postgres_url, environ={}, busy_timeout_s=0.3) as ledger:
        with holding_the_pg_lock(postgres_url), pytest.raises(LedgerBusyError, match=r"0\.3 s"):
            ledger.append(sample_draft())
        ledger.append(sample_draft())  # the lock is free again: appends work
        assert ledger.verify().entries == 2


def test_sqlite_writer_gives_up_with_the_same_busy_error(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "l.db"
    fill(f"sqlite:///{path}", 1)
    holder = sqlite3.connect(path, isolation_level=None)
    with open_ledger(f"sqlite:///{path}", environ={}, busy_timeout_s=0.2) as ledger:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(LedgerBusyError, match=r"0\.2 s"):
            ledger.append(sample_draft())
        holder.execute("ROLLBACK")
        ledger.append(sample_draft())
        assert ledger.verify().entries == 2
    holder.close()


# -- opening: one-line errors, nothing created ------------------------------------------------


def test_bad_ledger_paths_are_refused_without_creating_anything(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (f"sqlite:///{tmp_path / 'fifo'}", "not a regular file"),
        (f"sqlite:///{tmp_path}", "directory"),
        (f"sqlite:///{tmp_path / 'file' / 'l.db'}", "is a file, not a directory"),
        ("sqlite:////dev/null", "not a regular file"),
    ]
    for url, needle in cases:
        with pytest.raises(LedgerError, match=re.escape(needle)):
            open_ledger(url, environ={})
    for url in ("postgres://u@h/db", "sqlte:///x.db", "sqlite:/x.db"):
        with pytest.raises(UsageError):
            open_ledger(url, environ={})
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_library_honours_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lowcarb.toml").write_text('ledger = "sqlite:///cfg.db"\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    fill_url = f"sqlite:///{tmp_path / 'cfg.db'}"
    fill(fill_url, 2)
    with open_ledger(environ={"HOME": str(tmp_path)}, create=False) as ledger:
        assert ledger.verify().entries == 2
    rc, out, _ = cli("ledger", "verify", "--json", environ={"HOME": str(tmp_path)})
    assert rc == 0 and json.loads(out)["entries"] == 2


# -- names: checked when written, escaped when shown, neutralised in CSV -------------------


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("team", "a\x1b[31mb", "control characters"),
        ("project", "p" * 201, "201 characters"),
        ("model", "two\nlines", "control characters"),
    ],
)
def test_names_are_checked_when_written(
    sqlite_url: str, field: str, value: str, needle: str
) -> None:
    with open_ledger(sqlite_url, environ={}) as ledger:
        with pytest.raises(InvalidValueError, match=needle):
            ledger.append(RecordDraft(kind="decision", attribution=Attribution(**{field: value})))
        assert ledger.verify().entries == 0


@pytest.mark.parametrize("argv", [["show"], ["totals"], ["totals", "--by", "project"]])
def test_markup_in_names_is_shown_literally(ledger_url: str, argv: list[str]) -> None:
    fill(ledger_url, 2, **HOSTILE)
    for _ in range(2):  # "permanently broke" show/totals: run twice
        rc, out, err = cli("ledger", *argv, "--ledger", ledger_url)
        assert rc == 0, err
        assert ("[/]" in out) if argv[-1] != "project" else ("[bold" in out and "APPROV" in out)
        assert "\x1b" not in out


def test_totals_json_keeps_names_as_data(sqlite_url: str) -> None:
    fill(sqlite_url, 1, **HOSTILE)
    rc, out, _ = cli("ledger", "totals", "--ledger", sqlite_url, "--json")
    assert rc == 0 and "[/]" in json.dumps(json.loads(out))


def test_csv_export_neutralises_formulas_and_is_atomic(sqlite_url: str, tmp_path: Path) -> None:
    fill(sqlite_url, 1, **HOSTILE)
    target = tmp_path / "out.csv"
    rc, _, err = cli(
        "ledger", "export", "--ledger", sqlite_url, "--format", "csv", "--output", str(target)
    )
    assert rc == 0, err
    with target.open(newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["model"] == '\'=HYPERLINK("http://x")' and row["team"] == "[/]"
    rc, _, err = cli(
        "ledger",
        "export",
        "--ledger",
        sqlite_url,
        "--format",
        "csv",
        "--output",
        str(tmp_path / "missing" / "x.csv"),
    )
    assert rc == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_keygen_refuses_to_overwrite_or_reuse_one_path(tmp_path: Path) -> None:
    key = str(tmp_path / "k.pem")
    rc, _, err = cli("ledger", "keygen", "--private-key", key, "--public-key", key)
    assert rc == 2 and "same file" in err
    rc, _, err = cli(
        "ledger", "keygen", "--private-key", key, "--public-key", str(tmp_path / "no" / "pub.pem")
    )
    assert rc == 2 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []


def test_preflight_never_opens_the_database_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing any descriptor of a file drops this process's POSIX locks on it, those of its
    own SQLite connections included; a worker's queue connection lost its locks that way and
    the ledger was corrupted. The file must only be read through SQLite."""
    import builtins
    import io as io_module

    url = f"sqlite:///{tmp_path / 'l.db'}"
    fill(url, 1)
    target = str(tmp_path / "l.db")
    real_open, real_io_open = builtins.open, io_module.open

    def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
        assert str(file) != target, "the ledger file was opened outside SQLite"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io_module, "open", guarded)
    with open_ledger(url, environ={}) as ledger:
        ledger.append(sample_draft())
        assert ledger.verify().entries == 2
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(io_module, "open", real_io_open)
    (tmp_path / "junk.db").write_bytes(b"x" * 200)
    with pytest.raises(LedgerError, match="not a SQLite database"):
        open_ledger(f"sqlite:///{tmp_path / 'junk.db'}", environ={})


def test_metadata_is_bounded_when_written(ledger_url: str) -> None:
    with open_ledger(ledger_url, environ={}) as ledger:
        with pytest.raises(InvalidValueError, match="byte limit"):
            ledger.append(sample_draft(metadata={"blob": "x" * (70 * 1024)}))
        ledger.append(sample_draft(metadata={"blob": "x" * 1024}))  # ordinary size is fine
        assert ledger.verify().entries == 1


def test_deeply_nested_metadata_is_one_clear_error() -> None:
    deep: list[object] = []
    for _ in range(5_000):  # far past Python's recursion limit
        deep = [deep]
    with pytest.raises(InvalidValueError, match="nests deeper"):
        sample_draft(metadata={"x": deep})
