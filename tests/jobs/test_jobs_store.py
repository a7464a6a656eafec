"""The job store: the library's conformance suite on SQLite and PostgreSQL, and what is SQLite's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lowcarb.errors import LedgerCorruptError, LedgerError
from lowcarb.jobs import open_job_store
from lowcarb.jobs.testing import JobStoreConformance


class TestJobStore(JobStoreConformance):
    """Every test of the suite, once per backend (``ledger_url``: sqlite, postgres)."""

    @pytest.fixture
    def job_store_url(self, ledger_url: str) -> str:
        return ledger_url


def test_store_refuses_a_file_that_is_not_a_ledger(tmp_path: Path) -> None:
    bogus = tmp_path / "x.db"
    bogus.write_bytes(b"not sqlite at all, just bytes" * 10)
    with pytest.raises(LedgerCorruptError):
        open_job_store(f"sqlite:///{bogus}", environ={})
    assert bogus.read_bytes().startswith(b"not sqlite")


def test_a_bare_path_is_a_sqlite_ledger(tmp_path: Path) -> None:
    with open_job_store(str(tmp_path / "jobs.db"), environ={}) as store:
        assert store.dialect == "sqlite" and store.list_jobs() == []
    assert (tmp_path / "jobs.db").is_file()


def test_database_errors_are_one_line_ledger_errors(tmp_path: Path) -> None:
    with open_job_store(f"sqlite:///{tmp_path / 'l.db'}", environ={}) as store:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE lowcarb_jobs")
        with pytest.raises(LedgerError, match=r"job store at .* failed: no such table") as info:
            store.list_jobs()
        assert "\n" not in str(info.value)
