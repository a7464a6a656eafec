"""The job store: jobs kept beside the ledger, claimed by one worker at a time.

Jobs live in the ``lowcarb_jobs`` table of the ledger database (SQLite by default; PostgreSQL for
a team sharing workers). The table belongs to the ledger's schema (Alembic revision 0002), so the
database is opened through :func:`lowcarb.ledger.open_engine`: the ledger is created or upgraded
first and the file stays a lowcarb ledger that the ledger's own checks accept.

Claiming is exactly-once: a worker moves a job from ``queued``/``paused`` to ``running`` with a
conditional update on the row's ``version`` inside one transaction (``BEGIN IMMEDIATE`` on SQLite;
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never wait on or take
the same row). Every later change also bumps ``version``, so a stale worker cannot overwrite a
newer state. :meth:`JobStore.claim_next` picks the job itself, deadlines first and then
round-robin between teams, reading indexes only (:mod:`._fair`): its cost follows the number of
teams with waiting jobs, not the number of jobs or of finished ones.

The queue protocol, for workers that run jobs in their own process (see :class:`JobStore`):
``claim_next`` with a lease; :meth:`~JobStore.heartbeat` well within the lease;
:meth:`~JobStore.complete` when done, which applies only while the claim still holds; and, now
and then, :meth:`~JobStore.requeue_expired`, which re-queues jobs whose worker stopped
renewing its lease. What that guarantees, and what it does not:

* a job is held by one worker at a time: a lease that lapsed is re-queued (``version`` bumped),
  so the worker that lost it can neither complete it nor renew it;
* a completed job is never claimed again, and completes once (its completion is conditional);
* a job whose worker died is re-run only after its lease expired. Delivery is therefore
  *at least once*: a worker killed after its job's work but before ``complete`` leaves that work
  done and the job re-queued, so its next run must tolerate it (idempotent work, or work keyed by
  job id and attempt, as :mod:`._reconcile` keys ledger records). Exactly-once *effects* need the
  job's effect and its completion to commit together, or be deduplicated.

The :class:`~lowcarb.jobs.Worker` runs each job as a process of its own, under the job wrapper
(:mod:`._jobwrap`), which outlives the worker and holds the run's lease itself. What it
guarantees when workers are killed at any point, on one host or several:

* **never two runs at once**: while the wrapper lives it renews the lease (without changing
  ``version``), so no worker re-queues the job; if it cannot renew it (the database unreachable,
  or the job re-queued meanwhile) it kills its command before the lease can lapse (by a margin of
  a quarter of the lease, or the workers' clock tolerance if larger), and the command dies with
  the wrapper (Linux: ``PR_SET_PDEATHSIG``). So a lapsed lease means the run is gone. Not covered:
  processes the command moves out of its process group (double fork and ``setsid``), and a host
  frozen past the lease (a suspended VM), whose run resumes for up to a check interval (0.2 s)
  after it wakes;
* **a run that ended is recorded once and not run again**: the wrapper leaves its result in
  ``result.json`` and in the job's row (``run_result``), so a worker on any host records it;
* **none lost**: a run killed with its wrapper or host, or stopped for want of a lease, is
  re-queued (resumed from its checkpoint if interruptible), after its lease lapsed. Such a run's
  work up to its end may be done twice, one run after the other, never at once.

The Worker adopts a dead worker's live wrappers on the same host, and records runs that ended
while no worker watched them (see :mod:`._worker`). A job's states and their transitions are
:mod:`._job`'s.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from lowcarb._text import check_name, plain
from lowcarb.errors import UsageError
from lowcarb.grid import lookup_zone
from lowcarb.jobs._fair import DueOutlook, due_outlook, pick, requeue_lapsed, take, to_plan
from lowcarb.jobs._job import CANCELLABLE_STATES, Job
from lowcarb.jobs._store_sql import (
    claim_by_id,
    count_jobs,
    finish_run,
    insert_job,
    renew_leases,
    rows_by_prefix,
    select_jobs,
    server_now,
    transaction,
    update_at_version,
)
from lowcarb.ledger import open_engine
from lowcarb.scheduling import JobSpec, check_feasible

__all__ = ["JobStore", "open_job_store"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    """Jobs in a SQL database (see the module docstring). Safe to share between threads.

    Contract (every backend, checked by :mod:`lowcarb.jobs.testing`): a claim succeeds for
    exactly one caller; every change bumps ``version`` and applies only to the version read
    (heartbeats excepted: they renew a lease and change nothing else); :meth:`claim_next` takes
    due jobs deadlines first, then round-robin between teams; a lapsed lease is re-queued only
    after it lapsed, and its old holder can then neither renew nor complete it; a completed job
    is never claimed again; ``latest_start`` follows the deadline and the work left; a job whose
    plan is dropped is not due until planned again; :meth:`jobs_to_plan` and
    :meth:`due_outlook` agree with what :meth:`claim_next` takes; times are stored and returned
    as timezone-aware UTC; listing is oldest first.

    Args:
        engine: A SQLAlchemy engine from :func:`lowcarb.ledger.open_engine` (SQLite honouring
            the ``lowcarb_begin`` execution option, or PostgreSQL), holding ``lowcarb_jobs``.
        clock: Returns the current time (timezone-aware).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._clock = clock or _utc_now

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, *, write: bool = True) -> AbstractContextManager[Connection]:
        """One transaction, its errors made lowcarb's (see :func:`._store_sql.transaction`)."""
        return transaction(self.engine, write=write)

    # -- writes ---------------------------------------------------------------------------------
    def submit(
        self,
        command: Sequence[str],
        spec: JobSpec,
        *,
        zones: Sequence[str],
        now: datetime | None = None,
        cwd: str | Path | None = None,
        state_root: str | Path | None = None,
        team: str | None = None,
        project: str | None = None,
    ) -> Job:
        """Store a new ``queued`` job running ``command`` as ``spec`` describes; return it.

        Args:
            command: The program and its arguments.
            spec: Duration, deadline and pausing of the job, as the planner takes it (build one
                from text with :func:`lowcarb.scheduling.build_job_spec`).
            zones: Candidate zones, the first being home (names or ids; stored as zone ids).
            now: The submission time the deadline must leave room after (default: the store's
                clock); ``created_at`` is always the store's clock.
            cwd: Directory the command runs in (default: the current one).
            state_root: Where job state directories go (default: ``CWD/.lowcarb/jobs``).
            team: Team the runs are attributed to.
            project: Project the runs are attributed to.

        Raises:
            UsageError: Empty command or no zone.
            UnknownNameError: A zone that does not exist.
            InvalidValueError: A deadline that leaves no room for the job after ``now``; a team or
                project name that is empty, too long or has control characters.
        """
        team = check_name(team, what="team")
        project = check_name(project, what="project")
        if not command:
            raise UsageError("no command given; usage: lowcarb submit [OPTIONS] -- COMMAND ...")
        if not zones:
            raise UsageError("give the job a zone (--zone Z)")
        zone_ids = [lookup_zone(z).zone_id for z in zones]
        created = self._clock().astimezone(UTC)
        check_feasible(spec, (now or created).astimezone(UTC))
        job_id = uuid.uuid4().hex[:12]
        workdir = Path(cwd or os.getcwd()).resolve()
        root = Path(state_root or workdir / ".lowcarb" / "jobs").resolve()
        with self._tx() as conn:
            insert_job(
                conn,
                job_id,
                command,
                spec,
                created=created,
                cwd=workdir,
                state_dir=root / job_id,
                zone_ids=zone_ids,
                team=team,
                project=project,
            )
        return self.get(job_id)

    def cancel(self, job_id: str) -> Job:
        """Cancel a ``queued`` or ``paused`` job (a unique id prefix is enough); return it.

        Raises:
            UsageError: No such job, or it is in another state, or it changed meanwhile.
        """
        job = self.get(job_id)
        if job.state not in CANCELLABLE_STATES:
            raise UsageError(
                f"job {plain(job.id)} is {job.state}; only queued or paused jobs cancel"
            )
        cancelled = self.update(job, state="cancelled")
        if cancelled is None:
            raise UsageError(f"job {job.id} changed while cancelling it; try again")
        return cancelled

    def update(self, job: Job, **changes: Any) -> Job | None:
        """Apply ``changes`` if the row is still at ``job.version``; None if someone else
        changed it first (the caller re-reads and decides again).

        Keeps the derived columns: ``latest_start`` follows the deadline, duration and work done;
        dropping the plan (``plan=None``) drops ``planned_start`` and ``planned_at`` too (unless
        given), so the job is not due until planned again, and is planned before any other
        (:meth:`jobs_to_plan`).
        """
        updated_at = self._clock().astimezone(UTC)
        with self._tx() as conn:
            if not update_at_version(conn, job, changes, updated_at=updated_at):
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
        with self._tx() as conn:
            return claim_by_id(
                conn, self.dialect, job_id, worker_id=worker_id, lease_until=lease_until, now=now
            )

    def claim_next(
        self, *, worker_id: str, lease_until: datetime, now: datetime | None = None
    ) -> Job | None:
        """Claim the next due job, if any: deadlines first, then round-robin between teams.

        A job is due when it is ``queued``/``paused`` and its planned start has come (or its
        latest feasible start has); :mod:`lowcarb.jobs._fair` gives the order. Concurrent callers
        never wait on each other's rows and never get the same job.

        Args:
            worker_id: The claiming worker.
            lease_until: The claim lapses then unless renewed by :meth:`heartbeat`.
            now: The worker's time: what is due, and the run's recorded start (default: the
                queue's clock).

        Returns the claimed job (``running``, ``attempts`` counted), or None if none is due.
        """
        now = (now or self._clock()).astimezone(UTC)
        with self._tx() as conn:
            row = pick(conn, self.dialect, now)
            if row is None:
                return None
            return take(conn, row, worker_id=worker_id, lease_until=lease_until, now=now)

    def heartbeat(self, worker_id: str, lease_until: datetime) -> int:
        """Extend the leases of this worker's running jobs; returns how many.

        Only jobs still held by ``worker_id`` are renewed: a job re-queued after its lease lapsed
        is no longer this worker's. Renewing does not change ``version``.
        """
        with self._tx() as conn:
            return renew_leases(conn, worker_id, lease_until)

    def complete(self, job: Job, *, exit_code: int = 0, now: datetime | None = None) -> Job | None:
        """Finish a run this worker claimed: ``succeeded`` (exit code 0) or ``failed``.

        Applies only while the claim holds: the job is still ``running`` for ``job.worker_id``
        at ``job.version`` (the version its claim returned). A worker whose lease lapsed and whose
        job was re-queued (or claimed again) gets None and must drop the run's result.

        Args:
            job: The job as :meth:`claim_next` (or :meth:`claim`) returned it.
            exit_code: The run's exit status.
            now: When the run ended (default: the queue's clock).
        """
        now = (now or self._clock()).astimezone(UTC)
        with self._tx() as conn:
            return finish_run(conn, job, exit_code=exit_code, now=now)

    def requeue_expired(
        self, now: datetime | None = None, *, max_attempts: int | None = None
    ) -> list[str]:
        """Re-queue running jobs whose lease lapsed before ``now``; return their ids.

        For workers that run jobs in their own process, so that a run dies with its worker. An
        interruptible job goes back ``paused`` (it resumes from its checkpoint), another
        ``queued``; with ``max_attempts``, a job already run that many times is ``failed``. Its
        plan is kept, so it is due again at once. ``version`` is bumped: the worker that lost the
        lease can no longer complete or renew it.

        Args:
            now: The caller's time, compared with the leases (default: the queue's clock).
            max_attempts: Fail, rather than re-queue, a job claimed this many times.
        """
        now = (now or self._clock()).astimezone(UTC)
        with self._tx() as conn:
            return requeue_lapsed(conn, self.dialect, now, max_attempts=max_attempts)

    def due_outlook(self, now: datetime | None = None) -> DueOutlook:
        """Whether a queued or paused job is due at ``now``, and when the next one falls due.

        Read from the claim's indexes (no job is loaded): what a worker needs to decide how long
        to sleep. Jobs without a plan are never due (a worker plans them first).

        Args:
            now: The worker's time (default: the queue's clock).
        """
        now = (now or self._clock()).astimezone(UTC)
        with self._tx(write=False) as conn:
            return due_outlook(conn, self.dialect, now)

    def jobs_to_plan(self, stale_before: datetime, *, limit: int) -> list[Job]:
        """Queued or paused jobs never planned, then those planned before ``stale_before``
        (oldest plan first): at most ``limit``, read through an index of the waiting jobs.

        Raises:
            ValueError: ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        with self._tx(write=False) as conn:
            return to_plan(conn, self.dialect, stale_before, limit)

    def database_now(self) -> datetime:
        """The database server's current time (timezone-aware UTC).

        Workers compare it with their own clock (leases are compared across machines).
        """
        with self._tx(write=False) as conn:
            return server_now(conn, self.dialect)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job with this id (a unique prefix is enough).

        Raises:
            UsageError: No such job, or an ambiguous prefix.
        """
        with self._tx(write=False) as conn:
            rows = rows_by_prefix(conn, job_id)
        if len(rows) != 1:
            what = "no job" if not rows else "more than one job"
            raise UsageError(f"{what} with id {job_id!r}; run `lowcarb jobs` to list them")
        return Job._from_row(rows[0])

    def count_jobs(self, states: Sequence[str] | None = None) -> int:
        """How many jobs are in ``states`` (all when None)."""
        with self._tx(write=False) as conn:
            return count_jobs(conn, states)

    def list_jobs(self, states: Sequence[str] | None = None) -> list[Job]:
        """Jobs in ``states`` (all when None), oldest first."""
        with self._tx(write=False) as conn:
            return select_jobs(conn, states)


def open_job_store(
    url: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    clock: Callable[[], datetime] | None = None,
) -> JobStore:
    """Open the job store in the ledger database at ``url`` (creating both if needed).

    Args:
        url: Ledger URL (``sqlite:///PATH``, ``postgresql+psycopg://...`` or a bare path);
            default ``$LOWCARB_LEDGER``, else the config file's, else
            ``sqlite:///.lowcarb/ledger.db``.
        environ: Environment (for ``LOWCARB_LEDGER``).
        clock: Current-time function (tests).

    Raises:
        LedgerError: The database cannot be opened or is not a lowcarb ledger.
    """
    return JobStore(open_engine(url, environ=environ), clock=clock)
