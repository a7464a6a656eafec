"""The job store's transactions and its statements, other than those that pick a job.

:class:`~lowcarb.jobs.JobStore` checks its arguments, reads its clock and runs these in one
:func:`transaction` each: a new job's row, a change at the version read (with the columns derived
from it), the claim of a job named by id, lease renewals, a run's completion, reads, and the
database's clock. The SQL of claims in turn, of the jobs a worker plans next, of when the next job
falls due and of lapsed leases is :mod:`._fair`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from lowcarb.errors import LedgerBusyError, LedgerError
from lowcarb.jobs._fair import CLAIMABLE, take
from lowcarb.jobs._job import JOBS, Job, encode_column, latest_start
from lowcarb.scheduling import JobSpec

__all__ = [
    "claim_by_id",
    "count_jobs",
    "finish_run",
    "insert_job",
    "renew_leases",
    "rows_by_prefix",
    "select_jobs",
    "server_now",
    "transaction",
    "update_at_version",
]


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction (SQLite: holding the write lock from its start when ``write``).

    A database error (a read-only file, a lost server, a dropped table) becomes a
    :class:`LedgerError` of one line naming the store; a SQLite write lock not granted within
    the busy timeout, a :class:`LedgerBusyError` (nothing was changed: retry).
    """
    dialect = engine.dialect.name
    options = {"lowcarb_begin": "IMMEDIATE"} if write and dialect == "sqlite" else {}
    try:
        with engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"]
        if dialect == "sqlite" and "database is locked" in cause[0].lower():
            raise LedgerBusyError(
                f"job store at {where!r} stayed locked by other writers past its busy "
                "timeout; retry (many workers on one SQLite file: use PostgreSQL)"
            ) from exc
        raise LedgerError(f"job store at {where!r} failed: {cause[0]}") from exc


# -- writes ---------------------------------------------------------------------------------------
def insert_job(
    conn: Connection,
    job_id: str,
    command: Sequence[str],
    spec: JobSpec,
    *,
    created: datetime,
    cwd: Path,
    state_dir: Path,
    zone_ids: Sequence[str],
    team: str | None,
    project: str | None,
) -> None:
    """Store a new ``queued`` job, its arguments already checked."""
    conn.execute(
        JOBS.insert().values(
            id=job_id,
            version=0,
            state="queued",
            created_at=created,
            updated_at=created,
            command=json.dumps(list(command)),
            cwd=str(cwd),
            state_dir=str(state_dir),
            zones=json.dumps(list(zone_ids)),
            duration_h=spec.duration_h,
            deadline=spec.deadline.astimezone(UTC),
            interruptible=spec.interruptible,
            min_chunk_h=spec.min_chunk_h,
            pause_overhead_h=spec.pause_overhead_h,
            power_w=encode_column("power_w", spec.power_w),
            team=team,
            project=project,
            work_done_h=0.0,
            attempts=0,
            pause_requested=False,
            record_ids="[]",
            note="",
            latest_start=latest_start(spec.deadline, spec.duration_h, 0.0),
        )
    )


def update_at_version(
    conn: Connection, job: Job, changes: Mapping[str, Any], *, updated_at: datetime
) -> bool:
    """Apply ``changes`` (and the columns they derive) if the row is still at ``job.version``;
    whether it was (see :meth:`lowcarb.jobs.JobStore.update`)."""
    values = {k: encode_column(k, v) for k, v in changes.items()}
    if "plan" in changes and changes["plan"] is None:
        # Not due until planned again, and planned again first (see jobs_to_plan).
        values.setdefault("planned_at", None)
        values.setdefault("planned_start", None)
    if {"deadline", "duration_h", "work_done_h"} & changes.keys():
        values["latest_start"] = latest_start(
            changes.get("deadline", job.deadline),
            changes.get("duration_h", job.duration_h),
            changes.get("work_done_h", job.work_done_h),
        )
    values["version"] = job.version + 1
    values["updated_at"] = updated_at
    result = conn.execute(
        update(JOBS).where(JOBS.c.id == job.id, JOBS.c.version == job.version).values(**values)
    )
    return result.rowcount == 1


def claim_by_id(
    conn: Connection,
    dialect: str,
    job_id: str,
    *,
    worker_id: str,
    lease_until: datetime,
    now: datetime,
) -> Job | None:
    """Take job ``job_id`` for ``worker_id`` if it is claimable (see
    :meth:`lowcarb.jobs.JobStore.claim`); None if it is not, or another claim holds its row."""
    query = select(JOBS.c.id, JOBS.c.version, JOBS.c.started_at).where(
        JOBS.c.id == job_id, JOBS.c.state.in_(CLAIMABLE)
    )
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    return (
        None
        if row is None
        else take(conn, row, worker_id=worker_id, lease_until=lease_until, now=now)
    )


def renew_leases(conn: Connection, worker_id: str, lease_until: datetime) -> int:
    """Extend the leases of ``worker_id``'s running jobs (``version`` unchanged); how many."""
    result = conn.execute(
        update(JOBS)
        .where(JOBS.c.worker_id == worker_id, JOBS.c.state == "running")
        .values(lease_until=lease_until.astimezone(UTC))
    )
    return int(result.rowcount)


def finish_run(conn: Connection, job: Job, *, exit_code: int, now: datetime) -> Job | None:
    """End ``job``'s run at ``now`` if its claim still holds; the finished job, else None (see
    :meth:`lowcarb.jobs.JobStore.complete`)."""
    started = job.run_started_at or now
    run_h = max(0.0, (now - started).total_seconds() / 3600.0)
    done_h = job.duration_h if exit_code == 0 else min(job.duration_h, job.work_done_h + run_h)
    result = conn.execute(
        update(JOBS)
        .where(
            JOBS.c.id == job.id,
            JOBS.c.version == job.version,
            JOBS.c.state == "running",
            JOBS.c.worker_id == job.worker_id,
        )
        .values(
            state="succeeded" if exit_code == 0 else "failed",
            version=job.version + 1,
            updated_at=now,
            exit_code=exit_code,
            finished_at=now,
            work_done_h=done_h,
            latest_start=latest_start(job.deadline, job.duration_h, done_h),
            worker_id=None,
            lease_until=None,
            child_pid=None,
            child_create_time=None,
            pause_requested=False,
        )
        .returning(*JOBS.c)
    )
    row = result.mappings().first()
    return None if row is None else Job._from_row(row)


# -- reads ----------------------------------------------------------------------------------------
def server_now(conn: Connection, dialect: str) -> datetime:
    """The database server's current time (timezone-aware UTC)."""
    if dialect == "postgresql":
        value = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    else:
        raw = conn.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        value = datetime.fromisoformat(str(raw))
    if not isinstance(value, datetime):
        raise LedgerError(f"the database answered {value!r} for its current time")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rows_by_prefix(conn: Connection, prefix: str) -> Sequence[RowMapping]:
    """The rows of the jobs whose id starts with ``prefix``."""
    return conn.execute(select(JOBS).where(JOBS.c.id.startswith(prefix))).mappings().all()


def count_jobs(conn: Connection, states: Sequence[str] | None) -> int:
    """How many jobs are in ``states`` (all when None)."""
    query = select(func.count()).select_from(JOBS)
    if states:
        query = query.where(JOBS.c.state.in_(list(states)))
    return int(conn.execute(query).scalar_one())


def select_jobs(conn: Connection, states: Sequence[str] | None) -> list[Job]:
    """Jobs in ``states`` (all when None), oldest first."""
    query = select(JOBS).order_by(JOBS.c.created_at, JOBS.c.id)
    if states:
        query = query.where(JOBS.c.state.in_(list(states)))
    return [Job._from_row(r) for r in conn.execute(query).mappings().all()]
