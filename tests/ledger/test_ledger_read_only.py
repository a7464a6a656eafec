"""A ledger this process may not write is read-only, never "damaged": reads and verify work."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.errors import LedgerError
from lowcarb.ledger import open_ledger
from lowcarb.ledger.testing import sample_draft

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ={}))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def ledger_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ro" / "ledger.db"
    with open_ledger(f"sqlite:///{path}", environ={}) as ledger:
        for _ in range(3):
            ledger.append(sample_draft())
    yield path
    for p in (path, path.parent):  # let pytest clean up
        p.chmod(0o755)


def test_a_forced_read_only_ledger_reads_verifies_and_refuses_writes(ledger_file: Path) -> None:
    url = f"sqlite:///{ledger_file}"
    before = ledger_file.read_bytes()
    with open_ledger(url, environ={}, read_only=True) as ledger:
        assert ledger.read_only
        result = ledger.verify()
        assert result.ok and result.entries == 3
        assert len(list(ledger.records())) == 3
        with pytest.raises(LedgerError, match="read-only") as info:
            ledger.append(sample_draft())
    message = str(info.value)
    assert "\n" not in message and "damaged" not in message and "corrupt" not in message
    # The database file is untouched (SQLite's usual -wal/-shm readers' files may appear).
    assert ledger_file.read_bytes() == before
    with open_ledger(url, environ={}) as ledger:
        assert not ledger.read_only and ledger.verify().entries == 3


def test_read_only_is_decided_from_permissions(
    ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root passes every permission check, so the decision itself is forced here; the chmod
    # test below exercises the real permissions when not run as root.
    monkeypatch.setattr("lowcarb.ledger._setup.is_read_only", lambda path: True)
    url = f"sqlite:///{ledger_file}"
    for argv in (["verify", "--json"], ["show", "--json"], ["totals", "--json"]):
        rc, out, err = cli("ledger", *argv, "--ledger", url)
        assert rc == 0, err
        assert json.loads(out)
    rc, out, _ = cli("ledger", "verify", "--ledger", url, "--json")
    assert json.loads(out)["ok"] is True and json.loads(out)["entries"] == 3


@pytest.mark.skipif(
    AS_ROOT, reason="root ignores file permissions, so chmod cannot make it read-only"
)
@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_chmod_read_only_ledger_is_not_reported_damaged(ledger_file: Path, what: str) -> None:
    url = f"sqlite:///{ledger_file}"
    (ledger_file if what == "file" else ledger_file.parent).chmod(
        0o555 if what != "file" else 0o444
    )
    rc, out, err = cli("ledger", "verify", "--ledger", url, "--json")
    assert rc == 0, err
    assert json.loads(out)["entries"] == 3
    with open_ledger(url, environ={}) as ledger:
        with pytest.raises(LedgerError, match="read-only") as info:
            ledger.append(sample_draft())
    assert "damaged" not in str(info.value)
