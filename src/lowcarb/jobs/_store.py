"""The job queue: jobs stored next to the ledger, claimed by one worker at a time.

Jobs live in a ``lowcarb_jobs`` table of the ledger database (SQLite by default; PostgreSQL for a
team sharing workers). The ledger is opened (and created) first, so the file stays a lowcarb
ledger that the ledger's own checks accept.

Claiming is exactly-once: a worker moves a job from ``queued``/``paused`` to ``running`` with a
conditional update on the row's ``version`` inside one transaction (``BEGIN IMMEDIATE`` on SQLite;
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never wait on or take
the same row). Every later change also bumps ``version``, so a stale worker cannot overwrite a
newer state.

States::

    queued ──claim──► running ──exit 0──► succeeded
      ▲                 │  └──exit ≠ 0──► failed
      │                 └──paused by the worker (SIGTERM)──► paused ──claim──► running ...
      └── a run killed with its worker is re-queued (resumed from its checkpoint if it has one)
    queued/paused ──cancel──► cancelled
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import make_url

from lowcarb.errors import LedgerError, LowcarbError, UsageError
from lowcarb.scheduling._job import ACTIVE_STATES, JOBS, Job, JobState, encode_column

__all__ = ["ACTIVE_STATES", "Job", "JobQueue", "JobState", "open_queue"]

DEFAULT_URL = "sqlite:///.lowcarb/ledger.db"  # the ledger's default (lowcarb.ledger.DEFAULT_URL)


class JobQueue:
    """Jobs in a SQL database (see the module docstring). Safe to share between threads.

    Args:
        engine: A SQLAlchemy engine (SQLite with ``BEGIN IMMEDIATE`` transactions, or PostgreSQL).
        clock: Returns the current time (timezone-aware).
    """

    def __init__(self, engine: Engine, *, clock: Any = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._clock = clock or (lambda: datetime.now(UTC))
        JOBS.metadata.create_all(engine, tables=[JOBS], checkfirst=True)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        options = {"lowcarb_begin": "IMMEDIATE"} if self.dialect == "sqlite" else {}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn

    # -- writes ---------------------------------------------------------------------------------
    def submit(
        self,
        command: Sequence[str],
        *,
        zones: Sequence[str],
        duration_h: float,
        deadline: datetime,
        interruptible: bool = False,
        min_chunk_h: float = 1.0,
        pause_overhead_h: float = 0.0,
        power_w: float | tuple[float, ...] | None = None,
        cwd: str | Path | None = None,
        state_root: str | Path | None = None,
        team: str | None = None,
        project: str | None = None,
    ) -> Job:
        """Store a new ``queued`` job and return it.

        Raises:
            UsageError: Empty command or no zone.
        """
        if not command:
            raise UsageError("no command given; usage: lowcarb submit [OPTIONS] -- COMMAND ...")
        if not zones:
            raise UsageError("give the job a zone (--zone Z)")
        now = self._clock().astimezone(UTC)
        deadline = deadline.astimezone(UTC)
        job_id = uuid.uuid4().hex[:12]
        root = Path(state_root or Path(cwd or os.getcwd()) / ".lowcarb" / "jobs").resolve()
        with self._tx() as conn:
            conn.execute(
                JOBS.insert().values(
                    id=job_id,
                    version=0,
                    state="queued",
                    created_at=now,
                    updated_at=now,
                    command=json.dumps(list(command)),
                    cwd=str(Path(cwd or os.getcwd()).resolve()),
                    state_dir=str(root / job_id),
                    zones=json.dumps(list(zones)),
                    duration_h=duration_h,
                    deadline=deadline,
                    interruptible=interruptible,
                    min_chunk_h=min_chunk_h,
                    pause_overhead_h=pause_overhead_h,
                    power_w=json.dumps(power_w) if power_w is not None else None,
                    team=team,
                    project=project,
                    work_done_h=0.0,
                    attempts=0,
                    pause_requested=False,
                    record_ids="[]",
                    note="",
                )
            )
        return self.get(job_id)

    def update(self, job: Job, **changes: Any) -> Job | None:
        """Apply ``changes`` if the row is still at ``job.version``; None if someone else
        changed it first (the caller re-reads and decides again)."""
        values = {k: encode_column(k, v) for k, v in changes.items()}
        values["version"] = job.version + 1
        values["updated_at"] = self._clock().astimezone(UTC)
        with self._tx() as conn:
            result = conn.execute(
                update(JOBS)
                .where(JOBS.c.id == job.id, JOBS.c.version == job.version)
                .values(**values)
            )
            if result.rowcount != 1:
                return None
        return self.get(job.id)

    def claim(
        self, job_id: str, *, worker_id: str, lease_until: datetime, now: datetime | None = None
    ) -> Job | None:
        """Atomically move a ``queued``/``paused`` job to ``running`` for this worker.

        Args:
            job_id: The job.
            worker_id: The claiming worker.
            lease_until: The claim lapses then unless renewed by :meth:`heartbeat`.
            now: The worker's time, recorded as the run's start (default: the queue's clock).

        Returns the claimed job, or None if another worker got it or its state changed.
        """
        now = (now or self._clock()).astimezone(UTC)
        lease_until = lease_until.astimezone(UTC)
        with self._tx() as conn:
            query = select(JOBS.c.id, JOBS.c.version, JOBS.c.started_at).where(
                JOBS.c.id == job_id, JOBS.c.state.in_(("queued", "paused"))
            )
            if self.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            result = conn.execute(
                update(JOBS)
                .where(JOBS.c.id == job_id, JOBS.c.version == row.version)
                .values(
                    state="running",
                    version=row.version + 1,
                    updated_at=now,
                    worker_id=worker_id,
                    worker_host=socket.gethostname(),
                    worker_pid=os.getpid(),
                    lease_until=lease_until,
                    pause_requested=False,
                    child_pid=None,
                    child_create_time=None,
                    started_at=row.started_at or now,
                    run_started_at=now,
                    attempts=JOBS.c.attempts + 1,
                )
            )
            if result.rowcount != 1:
                return None
        return self.get(job_id)

    def heartbeat(self, worker_id: str, lease_until: datetime) -> int:
        """Extend the leases of this worker's running jobs; returns how many."""
        with self._tx() as conn:
            result = conn.execute(
                update(JOBS)
                .where(JOBS.c.worker_id == worker_id, JOBS.c.state == "running")
                .values(lease_until=lease_until.astimezone(UTC))
            )
            return int(result.rowcount)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job with this id (a unique prefix is enough).

        Raises:
            UsageError: No such job, or an ambiguous prefix.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(select(JOBS).where(JOBS.c.id.startswith(job_id))).mappings().all()
        if len(rows) != 1:
            what = "no job" if not rows else "more than one job"
            raise UsageError(f"{what} with id {job_id!r}; run `lowcarb jobs` to list them")
        return Job._from_row(rows[0])

    def jobs(self, states: Sequence[str] | None = None) -> list[Job]:
        """Jobs in ``states`` (all when None), oldest first."""
        query = select(JOBS).order_by(JOBS.c.created_at, JOBS.c.id)
        if states:
            query = query.where(JOBS.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            return [Job._from_row(r) for r in conn.execute(query).mappings().all()]


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # lowcarb issues BEGIN itself
        dbapi_conn.execute("PRAGMA busy_timeout = 30000")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("lowcarb_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def open_queue(
    url: str | None = None, *, environ: Mapping[str, str] = os.environ, clock: Any = None
) -> JobQueue:
    """Open the job queue in the ledger database at ``url`` (creating both if needed).

    Args:
        url: Ledger URL (``sqlite:///PATH`` or ``postgresql+psycopg://...``); default
            ``$LOWCARB_LEDGER``, else ``sqlite:///.lowcarb/ledger.db``.
        environ: Environment (for ``LOWCARB_LEDGER``).
        clock: Current-time function (tests).

    Raises:
        LedgerError: The database cannot be opened or is not a lowcarb ledger.
    """
    from lowcarb.ledger import open_ledger

    text = url or environ.get("LOWCARB_LEDGER") or DEFAULT_URL
    if "://" not in text:
        text = f"sqlite:///{text}"
    with open_ledger(text, environ=environ):
        pass  # creates the ledger first, and refuses files that are not lowcarb ledgers
    parsed = make_url(text)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(text)
        else:
            engine = create_engine(parsed.set(drivername="postgresql+psycopg"))
        return JobQueue(engine, clock=clock)
    except LowcarbError:
        raise
    except Exception as exc:  # SQLAlchemy errors: one line, with the cause
        raise LedgerError(f"cannot open the job queue at {text!r}: {exc}".splitlines()[0]) from exc
