"""Reliability: concurrent writers, a writer killed mid-append, damaged files, a dead server."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import warnings
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.errors import LedgerCorruptError, LedgerUnreachableError
from lowcarb.ledger import open_ledger
from lowcarb.ledger.testing import sample_draft

WRITER = """
import os, sys, time
from lowcarb.ledger import open_ledger
from lowcarb.ledger.testing import sample_draft
url, n, go, who = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ledger = open_ledger(url, environ={})
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
for i in range(n):
    ledger.append(sample_draft(team=who, metadata={"i": i}))
ledger.close()
"""

CREATOR = """
import os, sys, time
from lowcarb.ledger import open_ledger
from lowcarb.ledger.testing import sample_draft
url, go, who = sys.argv[1], sys.argv[2], sys.argv[3]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
with open_ledger(url, environ={}) as ledger:  # every process races to create the same new file
    ledger.append(sample_draft(team=who))
"""

KILLED_MID_APPEND = """
import sys, time
from lowcarb.ledger import _sql, open_ledger
from lowcarb.ledger.testing import sample_draft
ledger = open_ledger(sys.argv[1], environ={})
ledger.append_many([sample_draft(team="before") for _ in range(100)])
original = _sql.WriteTransaction.insert
def insert_then_hang(self, rows):
    original(self, rows)  # the rows are in the open transaction, not yet committed
    print("inserted", len(rows), flush=True)
    time.sleep(120)
_sql.WriteTransaction.insert = insert_then_hang
ledger.append_many([sample_draft(team="killed") for _ in range(50)])
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_concurrent_writers_never_lose_or_fork_a_record(ledger_url: str, tmp_path: Path) -> None:
    procs_n, per_proc = 8, 500
    with open_ledger(ledger_url, environ={}) as ledger:
        assert ledger.count() == 0  # created up front: the race under test is appending
    go = tmp_path / "go"
    procs = [_spawn(WRITER, ledger_url, str(per_proc), str(go), f"w{i}") for i in range(procs_n)]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with open_ledger(ledger_url, environ={}, create=False) as ledger:
        result = ledger.verify()
        assert result.ok, result.reason
        assert result.entries == procs_n * per_proc
        records = list(ledger.records())
    assert [r.seq for r in records] == list(range(1, procs_n * per_proc + 1))
    assert Counter(r.attribution.team for r in records) == {f"w{i}": per_proc for i in range(8)}
    per_writer: dict[str | None, list[int]] = {}
    for r in records:
        per_writer.setdefault(r.attribution.team, []).append(int(r.metadata["i"]))
    assert all(v == list(range(per_proc)) for v in per_writer.values())  # each writer in order


def test_processes_creating_one_new_sqlite_ledger_at_once_all_append(tmp_path: Path) -> None:
    """The switch to WAL needs the file to itself: racing creators retry instead of failing."""
    go = tmp_path / "go"
    for attempt in range(2):  # new files: the race is only on creation
        path = tmp_path / f"new{attempt}.db"
        procs = [_spawn(CREATOR, f"sqlite:///{path}", str(go), f"c{i}") for i in range(8)]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [(p.communicate(timeout=120), p.returncode) for p in procs]
        go.unlink()
        assert all(rc == 0 for _, rc in outputs), [err for (_, err), rc in outputs if rc]
        with open_ledger(f"sqlite:///{path}", environ={}, create=False) as ledger:
            result = ledger.verify()
            assert result.ok and result.entries == 8
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_switch_to_wal_waits_for_a_reader_instead_of_failing(tmp_path: Path) -> None:
    """SQLite refuses the switch at once while another connection reads; it is retried."""
    import threading

    from lowcarb.ledger._engines import sqlite_engine
    from lowcarb.ledger._setup import _switch_to_wal
    from lowcarb.ledger._sql import SqlLedgerStore

    path = tmp_path / "rollback.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x)")
        setup.execute("INSERT INTO t VALUES (1)")
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM t").fetchall()  # holds a shared lock until it commits
    store = SqlLedgerStore(
        sqlite_engine(f"sqlite:///{path}", path, busy_timeout_s=0.1),
        "sqlite",
        display_url=str(path),
    )
    release = threading.Timer(0.3, lambda: reader.execute("COMMIT"))
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _switch_to_wal(store, timeout_s=0.3)  # the reader outlasts the timeout
        release.start()
        _switch_to_wal(store, timeout_s=10.0)  # succeeds once the reader is done
    finally:
        release.cancel()
        if release.is_alive():
            release.join()
        reader.close()
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_writer_killed_mid_append_leaves_no_partial_record(ledger_url: str) -> None:
    proc = _spawn(KILLED_MID_APPEND, ledger_url)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "inserted 50", proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with open_ledger(ledger_url, environ={}, busy_timeout_s=10) as ledger:
        result = ledger.verify()
        assert (result.ok, result.entries) == (True, 100), result.reason
        assert {r.attribution.team for r in ledger.records()} == {"before"}
        # The lock died with the writer: the next append goes through and chains on.
        rec = ledger.append(sample_draft(team="after"))
        assert rec.seq == 101
        assert ledger.verify().ok


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _other_app_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    conn.execute("INSERT INTO invoices (amount) VALUES (12.5)")
    conn.commit()
    conn.close()


def _truncated_ledger(path: Path) -> None:
    with open_ledger(f"sqlite:///{path}", environ={}) as ledger:
        ledger.append_many([sample_draft(metadata={"pad": "x" * 2000}) for _ in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.write_bytes(os.urandom(8192)), id="random-bytes"),
        pytest.param(lambda p: p.write_text("team,co2e_g\nvision,12\n"), id="csv-text"),
        pytest.param(lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 500), id="bad"),
        pytest.param(_other_app_db, id="other-app-sqlite"),
        pytest.param(_truncated_ledger, id="truncated-ledger"),
    ],
)
def test_a_damaged_or_foreign_file_is_refused_and_never_touched(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ledger.db"
    make(path)
    before = _sha(path), sorted(os.listdir(tmp_path))
    url = f"sqlite:///{path}"
    for argv in (["verify"], ["show"], ["totals"], ["export", "--format", "jsonl"]):
        err = StringIO()
        rc = main(["ledger", *argv, "--ledger", url], ctx=CliContext(StringIO(), err, {}))
        assert rc == 2, argv
        assert err.getvalue().startswith("lowcarb: error: ")
        assert err.getvalue().count("\n") == 1
        assert "left untouched" in err.getvalue() or "damaged" in err.getvalue()
    with pytest.raises(LedgerCorruptError):  # a writer (create=True) must not "repair" it either
        with open_ledger(url, environ={}) as ledger:
            ledger.append(sample_draft())
    assert _sha(path) == before[0]
    # A WAL-mode file gets SQLite's -wal/-shm companions when read; nothing may be written to
    # the WAL (it would later be checkpointed into the file).
    sidecars = {"ledger.db-wal", "ledger.db-shm"}
    assert sorted(set(os.listdir(tmp_path)) - sidecars) == before[1]
    wal = tmp_path / "ledger.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_directory_is_not_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerCorruptError, match="directory"):
        open_ledger(f"sqlite:///{tmp_path}", environ={})


def test_an_unreachable_postgres_fails_with_one_line() -> None:
    url = "postgresql+psycopg://lowcarb:s3cret@127.0.0.1:1/ledger"
    with pytest.raises(LedgerUnreachableError) as info:
        open_ledger(url, environ={})
    message = str(info.value)
    assert "\n" not in message
    assert "127.0.0.1" in message
    assert "s3cret" not in message
    err = StringIO()
    rc = main(["ledger", "verify", "--ledger", url], ctx=CliContext(StringIO(), err, {}))
    assert rc == 2
    assert err.getvalue().startswith("lowcarb: error: cannot reach ledger database")


def test_a_file_sqlite_ledger_keeps_its_write_connection_and_drops_a_failed_one(
    tmp_path: Path,
) -> None:
    from lowcarb.errors import InvalidValueError
    from lowcarb.ledger import RecordDraft

    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        store = ledger._store
        ledger.append(sample_draft())
        kept = store._writer
        assert kept is not None
        ledger.append(sample_draft())
        assert store._writer is kept  # reused, not handed back to the pool
        with pytest.raises(InvalidValueError, match="cannot correct unknown record id"):
            ledger.append(RecordDraft(kind="correction", corrects="no-such-record"))
        assert store._writer is None  # a write that failed gives its connection back
        ledger.append(sample_draft())
        result = ledger.verify()
        assert result.ok and result.entries == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_appends_on_its_own_connection(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        ledger.append(sample_draft())  # the parent now holds a kept write connection
        with warnings.catch_warnings():  # Python 3.12+ warns about fork() with threads running
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            try:
                ledger.append(sample_draft())
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        ledger.append(sample_draft())  # the parent's connection still works after the child's
        result = ledger.verify()
        assert result.ok and result.entries == 3
