"""A minimal worker of the job store's queue protocol, run as its own process by tests.

:func:`run_queue_worker` claims, "runs" and completes jobs, logging each step so that a test (or
``benchmarks/job_queue.py``) can kill it with SIGKILL at any point and read back what it did
(:func:`read_queue_log`); :func:`queue_worker_command` is the command line of such a process.
Re-exported by :mod:`lowcarb.jobs.testing`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from lowcarb.errors import LedgerBusyError
from lowcarb.jobs._job import ACTIVE_STATES
from lowcarb.jobs._store import JobStore, open_job_store

__all__ = ["queue_worker_command", "read_queue_log", "run_queue_worker"]

_T = TypeVar("_T")


def run_queue_worker(
    url: str,
    *,
    worker_id: str,
    log_path: str | Path,
    job_s: float = 0.0,
    lease_s: float = 30.0,
    poll_s: float = 0.02,
) -> int:
    """A minimal worker of the store's queue protocol, for tests and benchmarks; returns its runs.

    Until no job is active: claim the next due job with a ``lease_s`` lease, "run" it (sleep
    ``job_s``, renewing the lease every third of it; 0: a no-op), complete it; every quarter of a
    lease, re-queue lapsed leases. Each step is a line of ``log_path`` (see
    :func:`read_queue_log`), written before the next step and line-buffered, so a SIGKILL loses
    none: ``ready - 0 T``, then ``claim ID ATTEMPT T LEASE_T``, ``end ID ATTEMPT T`` and
    ``done ID ATTEMPT T`` (only when the completion applied) per job, times in Unix seconds; and
    ``busy - 0 T`` for each step retried because a SQLite write lock was not granted in time.
    """
    runs = 0
    with (
        open_job_store(url, environ={}) as store,
        open(log_path, "a", buffering=1, encoding="utf-8") as log,
    ):

        def busy_retry(step: Callable[[], _T]) -> _T:
            # A SQLite write lock not granted in time changed nothing: log it, try again.
            while True:
                try:
                    return step()
                except LedgerBusyError:
                    log.write(f"busy - 0 {time.time():.6f}\n")

        log.write(f"ready - 0 {time.time():.6f}\n")
        next_requeue = 0.0
        while True:
            now = datetime.now(UTC)
            if time.monotonic() >= next_requeue:
                busy_retry(lambda: store.requeue_expired(now))  # noqa: B023 (called at once)
                next_requeue = time.monotonic() + lease_s / 4
            lease = now + timedelta(seconds=lease_s)
            job = busy_retry(
                lambda: store.claim_next(worker_id=worker_id, lease_until=lease, now=now)  # noqa: B023
            )
            if job is None:
                if not busy_retry(lambda: store.count_jobs(ACTIVE_STATES)):
                    return runs
                time.sleep(poll_s)
                continue
            log.write(f"claim {job.id} {job.attempts} {time.time():.6f} {lease.timestamp():.6f}\n")
            _pretend_to_work(store, worker_id, job_s=job_s, lease_s=lease_s)
            log.write(f"end {job.id} {job.attempts} {time.time():.6f}\n")
            runs += 1
            claimed = job
            if busy_retry(lambda: store.complete(claimed)) is not None:  # noqa: B023
                log.write(f"done {job.id} {job.attempts} {time.time():.6f}\n")


def _pretend_to_work(store: JobStore, worker_id: str, *, job_s: float, lease_s: float) -> None:
    end = time.monotonic() + job_s
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, lease_s / 3))
        with contextlib.suppress(LedgerBusyError):  # renewed at the next beat, well in time
            store.heartbeat(worker_id, datetime.now(UTC) + timedelta(seconds=lease_s))


def queue_worker_command(url: str, worker_id: str, log_path: Path, **kw: float) -> list[str]:
    """The command line of a process running :func:`run_queue_worker` (``kw``: its options)."""
    args = f"{url!r}, worker_id={worker_id!r}, log_path={str(log_path)!r}, **{kw!r}"
    call = f"run_queue_worker({args})"
    return [sys.executable, "-c", f"from lowcarb.jobs.testing import run_queue_worker; {call}"]


def read_queue_log(path: Path) -> list[tuple[str, str, int, list[float]]]:
    """``(step, job_id, attempt, times)`` per complete line of a :func:`run_queue_worker` log."""
    lines = path.read_text(encoding="utf-8").split("\n")[:-1] if path.exists() else []
    out = []
    for line in lines:
        what, job_id, attempt, *times = line.split()
        out.append((what, job_id, int(attempt), [float(t) for t in times]))
    return out
