"""A claim reads indexes, not the table: its work does not grow with the queue's history; and a
worker's pass loads the jobs it acts on, not the whole queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from lowcarb.grid import StaticIntensitySource
from lowcarb.jobs import Job, JobStore, Worker, WorkerConfig, open_job_store
from lowcarb.jobs._job import JOBS, latest_start
from lowcarb.scheduling import JobSpec

H = timedelta(hours=1)
S = timedelta(seconds=1)
#: Finished jobs in the history the claims must not read.
HISTORY = 20_000


def _rows(
    n: int, *, state: str, now: datetime, cwd: Path, planned: datetime
) -> list[dict[str, Any]]:
    """``n`` rows of four teams and the team-less, as the store writes them."""
    rows = []
    for i in range(n):
        job_id = uuid.uuid4().hex[:12]
        deadline = now + 6 * H
        finished = state in ("succeeded", "failed")
        rows.append(
            {
                "id": job_id,
                "version": 2 if finished else 1,
                "state": state,
                "created_at": now - H,
                "updated_at": now,
                "command": '["true"]',
                "cwd": str(cwd),
                "state_dir": str(cwd / job_id),
                "zones": '["DE"]',
                "duration_h": 0.5,
                "deadline": deadline,
                "interruptible": False,
                "min_chunk_h": 1.0,
                "pause_overhead_h": 0.0,
                "team": None if i % 5 == 4 else f"team{i % 5}",
                "work_done_h": 0.5 if finished else 0.0,
                "attempts": 1 if finished else 0,
                "planned_at": now - H,
                "planned_start": planned,
                "run_started_at": now - H + i * S / 100 if finished else None,
                "finished_at": now if finished else None,
                "pause_requested": False,
                "record_ids": "[]",
                "note": "",
                "latest_start": latest_start(deadline, 0.5, 0.5 if finished else 0.0),
            }
        )
    return rows


def _queue(store: JobStore, tmp_path: Path, *, history: int, waiting: int, now: datetime) -> None:
    with store.engine.begin() as conn:
        if history:
            conn.execute(
                JOBS.insert(),
                _rows(history, state="succeeded", now=now, cwd=tmp_path, planned=now - 2 * H),
            )
        if waiting:
            queued = _rows(waiting, state="queued", now=now, cwd=tmp_path, planned=now - S)
            conn.execute(JOBS.insert(), queued)
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            conn.exec_driver_sql("VACUUM ANALYZE lowcarb_jobs")
        else:
            conn.exec_driver_sql("ANALYZE")


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs (statement, parameters) run on ``engine`` inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _claim_buffers(store: JobStore, now: datetime) -> tuple[int, list[str]]:
    """Buffers the SELECTs of one ``claim_next`` at ``now`` touch (EXPLAIN ANALYZE, rolled
    back), and the scans they make on the jobs table."""
    with _statements(store.engine) as selects:
        assert store.claim_next(worker_id="probe", lease_until=now + H, now=now) is not None
    raw: Any = store.engine.raw_connection()
    buffers, scans = 0, []
    try:
        cur = raw.cursor()
        for statement, params in selects:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params)
            (plan,) = cur.fetchone()[0]
            top = plan["Plan"]
            buffers += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
            for node in _plan_nodes(top):
                if node.get("Relation Name") == "lowcarb_jobs":
                    scans.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        raw.rollback()
    finally:
        raw.close()
    return buffers, scans


def test_a_claim_on_postgres_reads_indexes_and_no_more_with_a_long_history(
    postgres_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    with open_job_store(postgres_url, environ={}) as store:
        _queue(store, tmp_path, history=HISTORY, waiting=200, now=now)
        buffers, scans = _claim_buffers(store, now)
    assert scans and not [s for s in scans if "Seq Scan" in s], scans
    assert all("ix_lowcarb_jobs_" in s for s in scans), scans
    # A scan of 20,000 finished rows reads hundreds of pages; the claim's probes read a few per
    # team (five teams here), whatever the history.
    assert buffers < 150, (buffers, scans)


def test_a_claim_on_sqlite_scans_no_table(sqlite_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with open_job_store(sqlite_url, environ={}) as store:
        _queue(store, tmp_path, history=2_000, waiting=50, now=now)
        with _statements(store.engine) as selects:
            assert store.claim_next(worker_id="probe", lease_until=now + H, now=now) is not None
        with store.engine.connect() as conn:
            plans = [
                str(row[3])
                for statement, params in selects
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            ]
    scans = [p for p in plans if p.startswith(("SCAN", "SEARCH")) and "CONSTANT ROW" not in p]
    assert scans, plans
    # A bare "SCAN lowcarb_jobs" (or "SCAN j") reads every row; an index may be walked, in order,
    # only as far as the LIMIT 1 that follows it.
    bare = [p for p in scans if "USING INDEX ix_lowcarb_jobs_" not in p]
    assert all(p in ("SCAN t", "SCAN teams") for p in bare), plans  # the CTE's own rows


@pytest.mark.parametrize("history", [0, 5_000])
def test_claim_order_is_the_same_whatever_the_history(
    sqlite_url: str, tmp_path: Path, history: int
) -> None:
    """Teams in turn (never claimed first, then the oldest last claim), whatever lies finished."""
    now = datetime.now(UTC)
    with open_job_store(sqlite_url, environ={}) as store:
        _queue(store, tmp_path, history=history, waiting=0, now=now)
        for team in ("team0", "new", None):
            job = store.submit(
                ["true"],
                JobSpec(duration_h=0.5, deadline=now + 6 * H),
                zones=["DE"],
                now=now,
                cwd=tmp_path,
                team=team,
            )
            assert store.update(job, planned_start=now - S) is not None
        got = [store.claim_next(worker_id="w", lease_until=now + H, now=now) for _ in range(3)]
    order = [j.team if j else "none" for j in got]
    if history:
        # "new" was never claimed; team0's last claim is older than the team-less jobs' one.
        assert order == ["new", "team0", None]
    else:
        assert order == [None, "new", "team0"]  # none ever claimed: by name, "" first


def test_a_worker_pass_loads_the_jobs_it_acts_on_not_the_whole_queue(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    with open_job_store(sqlite_url, environ={}) as store:
        rows = _rows(3_000, state="queued", now=now, cwd=tmp_path, planned=now + H)
        for row in rows:
            row["planned_at"] = now  # planned just now: nothing to plan, nothing due for an hour
            row["plan"] = '{"zone": "DE", "start": "later", "slots": []}'
        with store.engine.begin() as conn:
            conn.execute(JOBS.insert(), rows)
        loaded: list[str] = []
        original = Job._from_row.__func__  # type: ignore[attr-defined]

        def counting(cls: type[Job], row: Any) -> Job:
            loaded.append(str(row["id"]))
            return original(cls, row)  # type: ignore[no-any-return]

        monkeypatch.setattr(Job, "_from_row", classmethod(counting))
        worker = Worker(
            store,
            StaticIntensitySource(),
            environ={},
            clock=lambda: now,
            config=WorkerConfig(poll_s=600.0),
        )
        sleep_s = worker.tick()
    assert loaded == []  # not one of the 3,000 waiting jobs was read into Python
    assert sleep_s == pytest.approx(600.0)  # the first falls due in an hour: sleep the poll
