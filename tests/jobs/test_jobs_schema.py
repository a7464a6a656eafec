"""The jobs table in the ledger's migrations (revisions 0002 and 0004), and upgrades to them.

Before 0002 the job queue made ``lowcarb_jobs`` itself with SQLAlchemy ``create_all`` beside a
ledger at 0001. Such databases are built here from the old DDL, written out as it was emitted,
and must upgrade keeping their jobs, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, create_engine, inspect

from lowcarb.jobs import open_job_store
from lowcarb.jobs._job import JOBS
from lowcarb.jobs.testing import T0, sample_spec
from lowcarb.ledger import open_engine, open_ledger
from lowcarb.ledger._migrate import upgrade
from lowcarb.ledger._schema import HEAD_REVISION, META_TABLE, VERSION_TABLE

H = timedelta(hours=1)

# What lowcarb's job queue ran before revision 0002 (``create_all`` of its table), verbatim but
# for the timestamp type: DATETIME on SQLite, TIMESTAMP WITH TIME ZONE on PostgreSQL.
OLD_JOBS_DDL = """
CREATE TABLE lowcarb_jobs (
    id VARCHAR(36) NOT NULL, version INTEGER NOT NULL, state VARCHAR(16) NOT NULL,
    created_at {ts} NOT NULL, updated_at {ts} NOT NULL, command TEXT NOT NULL,
    cwd TEXT NOT NULL, state_dir TEXT NOT NULL, zones TEXT NOT NULL, duration_h FLOAT NOT NULL,
    deadline {ts} NOT NULL, interruptible BOOLEAN NOT NULL, min_chunk_h FLOAT NOT NULL,
    pause_overhead_h FLOAT NOT NULL, power_w TEXT, team VARCHAR(200), project VARCHAR(200),
    work_done_h FLOAT NOT NULL, attempts INTEGER NOT NULL, planned_at {ts},
    planned_start {ts}, "plan" TEXT, worker_id VARCHAR(64), worker_host VARCHAR(255),
    worker_pid INTEGER, child_pid INTEGER, child_create_time FLOAT, lease_until {ts},
    pause_requested BOOLEAN NOT NULL, started_at {ts}, run_started_at {ts}, finished_at {ts},
    exit_code INTEGER, record_ids TEXT NOT NULL, realised_intensity_g_per_kwh FLOAT,
    note TEXT NOT NULL, PRIMARY KEY (id)
)
"""
OLD_JOBS_INDEX = "CREATE INDEX ix_lowcarb_jobs_state ON lowcarb_jobs (state)"
OLD_JOB = {
    "id": "0123456789ab",
    "version": 3,
    "state": "paused",
    "created_at": T0,
    "updated_at": T0,
    "command": '["python", "train.py"]',
    "cwd": "/srv",
    "state_dir": "/srv/.lowcarb/jobs/0123",
    "zones": '["DE", "FR"]',
    "duration_h": 4.0,
    "deadline": datetime(2022, 3, 2, 9, tzinfo=UTC),
    "interruptible": True,
    "min_chunk_h": 1.0,
    "pause_overhead_h": 0.25,
    "power_w": "300.0",
    "team": "vision",
    "project": None,
    "work_done_h": 1.5,
    "attempts": 1,
    "pause_requested": False,
    "plan": '{"zone": "DE", "start": "2022-03-01T13:00:00Z"}',
    "record_ids": '["rec-1"]',
    "note": "paused at the end of its slot",
}


def _plain_engine(url: str) -> Engine:
    """An engine with none of lowcarb's set-up, as an older lowcarb's own would have been."""
    return create_engine(url)


def _old_database(url: str, *, with_jobs: bool) -> str:
    """A ledger at revision 0001, with or without a job table made the old way; its ledger id."""
    engine = _plain_engine(url)
    try:
        with engine.begin() as conn:
            upgrade(conn, "0001")
            if with_jobs:
                ts = "DATETIME" if conn.dialect.name == "sqlite" else "TIMESTAMP WITH TIME ZONE"
                conn.exec_driver_sql(OLD_JOBS_DDL.format(ts=ts))
                conn.exec_driver_sql(OLD_JOBS_INDEX)
                conn.execute(JOBS.insert().values(**OLD_JOB))
            ledger_id = conn.exec_driver_sql(
                f"SELECT value FROM {META_TABLE} WHERE key = 'ledger_id'"
            ).scalar_one()
    finally:
        engine.dispose()
    return str(ledger_id)


def _revision(url: str) -> str:
    engine = _plain_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar())
    finally:
        engine.dispose()


@pytest.mark.parametrize("with_jobs", [False, True], ids=["ledger-only", "with-old-jobs-table"])
def test_a_database_from_before_the_job_store_upgrades_and_keeps_its_jobs(
    ledger_url: str, tmp_path: Path, with_jobs: bool
) -> None:
    ledger_id = _old_database(ledger_url, with_jobs=with_jobs)
    # A reader does not need the upgrade (0002 only added a table beside the ledger's).
    with open_ledger(ledger_url, environ={}, create=False) as ledger:
        assert ledger.verify().ok and ledger.ledger_id == ledger_id
    assert _revision(ledger_url) == "0001"
    with open_job_store(ledger_url, environ={}) as store:
        assert _revision(ledger_url) == HEAD_REVISION
        jobs = store.list_jobs()
        if with_jobs:
            (old,) = jobs
            assert (old.id, old.state, old.version, old.attempts) == (
                "0123456789ab",
                "paused",
                3,
                1,
            )
            assert old.zones == ("DE", "FR") and old.power_w == 300.0
            assert old.deadline == OLD_JOB["deadline"] and old.created_at == T0
            assert old.work_done_h == 1.5 and old.plan == {
                "zone": "DE",
                "start": "2022-03-01T13:00:00Z",
            }
            assert old.record_ids == ("rec-1",) and old.interruptible is True
            assert store.claim(old.id, worker_id="w", lease_until=T0, now=T0) is not None
        else:
            assert jobs == []
        new = store.submit(["true"], sample_spec(), zones=["DE"], now=T0, cwd=tmp_path)
        assert [j.id for j in store.list_jobs()][-1] == new.id
    with open_ledger(ledger_url, environ={}, create=False) as ledger:
        assert ledger.verify().ok and ledger.ledger_id == ledger_id


def _described(engine: Engine, schema: str | None) -> tuple[list[tuple[Any, ...]], set[Any]]:
    """Columns (name, type as DDL, nullable), primary key and indexes (name, definition as the
    database keeps it: expressions and partial predicates included) of ``lowcarb_jobs``."""
    insp = inspect(engine)
    columns = [
        (c["name"], c["type"].compile(dialect=engine.dialect), c["nullable"])
        for c in insp.get_columns(JOBS.name, schema=schema)
    ]
    pk = insp.get_pk_constraint(JOBS.name, schema=schema)["constrained_columns"]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'lowcarb_jobs' AND sql IS NOT NULL"
            ).all()
        else:
            rows = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'lowcarb_jobs' "
                f"AND schemaname = '{schema or 'public'}' AND indexname NOT LIKE '%%pkey'"
            ).all()
    # A Table copied into a schema names its column index ix_<schema>_<table>_<column>.
    prefix = f"ix_{schema}_" if schema else "ix_"
    indexes = set()
    for name, definition in rows:
        name = str(name).replace(prefix, "ix_", 1)
        text = " ".join(str(definition).split()).replace(f"{schema}.", "").replace("public.", "")
        indexes.add((name, text.replace(f"ix_{schema}_", "ix_") if schema else text))
    return columns, {("pk", *pk), *indexes}


def test_the_migration_and_the_table_description_agree(ledger_url: str, tmp_path: Path) -> None:
    """What the migration made and what ``JOBS`` would make reflect as the same table."""
    migrated = open_engine(ledger_url, environ={})
    if migrated.dialect.name == "sqlite":
        described, schema = _plain_engine(f"sqlite:///{tmp_path / 'described.db'}"), None
        JOBS.metadata.create_all(described, tables=[JOBS])
    else:
        described, schema = _plain_engine(ledger_url), "described"
        with described.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        JOBS.to_metadata(MetaData(), schema=schema).create(described)
    try:
        assert _described(migrated, None) == _described(described, schema)
        assert [c[0] for c in _described(migrated, None)[0]] == [c.name for c in JOBS.columns]
    finally:
        migrated.dispose()
        described.dispose()


def test_a_queue_at_0003_upgrades_to_0004_keeping_its_jobs_and_filling_latest_start(
    ledger_url: str, tmp_path: Path
) -> None:
    """Revision 0004 adds ``latest_start`` (filled in for the jobs already there), ``run_result``
    and the claim's indexes; a reader still opens a ledger at 0003 without upgrading it."""
    engine = _plain_engine(ledger_url)
    try:
        with engine.begin() as conn:
            upgrade(conn, "0003")
            before = [c["name"] for c in inspect(conn).get_columns(JOBS.name)]
            waiting = {**OLD_JOB, "planned_start": T0 + 3 * H}  # 2.5 h of work left
            finished = {
                **OLD_JOB,
                "id": "finished0001",
                "state": "succeeded",
                "work_done_h": 4.0,
                "planned_start": T0,
                "run_started_at": T0,
            }
            conn.execute(JOBS.insert(), [waiting, finished])
    finally:
        engine.dispose()
    assert "latest_start" not in before and "run_result" not in before
    with open_ledger(ledger_url, environ={}, create=False) as ledger:  # a reader: no upgrade
        assert ledger.verify().ok
    assert _revision(ledger_url) == "0003"
    with open_job_store(ledger_url, environ={}) as store:
        assert _revision(ledger_url) == HEAD_REVISION == "0004"
        old, done = store.get(str(OLD_JOB["id"])), store.get("finished0001")
        deadline = old.deadline
        assert deadline == OLD_JOB["deadline"]
        assert old.latest_start == deadline - 2.5 * H and old.run_result is None
        assert done.latest_start == deadline  # nothing left to run
        names = {ix for _, ix in _index_names(store.engine)}
        assert {
            "ix_lowcarb_jobs_due",
            "ix_lowcarb_jobs_urgent",
            "ix_lowcarb_jobs_team_claim",
            "ix_lowcarb_jobs_replan",
        } <= names
        # Due through its latest start (deadline - 2.5 h) before its planned start: claimed.
        now = deadline - 2 * H
        claimed = store.claim_next(worker_id="w", lease_until=now + H, now=now)
        assert claimed is not None and claimed.id == OLD_JOB["id"] and claimed.attempts == 2
    with open_ledger(ledger_url, environ={}, create=False) as ledger:
        assert ledger.verify().ok


def _index_names(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
        else:
            sql = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'"
        return [(str(t), str(n)) for t, n in conn.exec_driver_sql(sql)]
