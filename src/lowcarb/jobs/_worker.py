"""The job worker: plans queued jobs, starts them on time, recovers jobs of a worker that died.

Each :meth:`Worker.tick`:

1. **Recovers** jobs left ``running`` by a worker that died (on this host: its process is gone;
   on another: its lease lapsed, which means its run is gone too, as each run's wrapper holds
   the lease itself and kills its command if it cannot, see :mod:`._jobwrap`): a job whose
   process still runs here is adopted (watched and measured to its end, never started again);
   one whose wrapper left its result (in its state directory, or in the job's row where a worker
   on another host finds it) is recorded in the ledger exactly once (:mod:`._reconcile`) and
   finished with it; one killed with its worker (no result), or stopped for want of a lease, is
   re-queued with a note (an interruptible job resumes from its checkpoint), or failed with the
   reason after ``max_attempts``.
2. **Plans** queued and paused jobs on fresh forecasts (again every ``replan_every_s``), at most
   ``plan_batch`` per pass, never planned first, then the oldest plans. If the forecast fails, a
   job keeps its previous plan, or gets a labelled fallback that starts it no later than its
   latest feasible start.
3. **Starts** due jobs (planned start, or latest feasible start, come), up to ``max_parallel``,
   claiming each atomically with :meth:`JobStore.claim_next` (see :mod:`._store`): jobs about to
   miss their deadline first, then round-robin between teams (:mod:`._fair`). Each runs under a
   :class:`lowcarb.Tracker` through :func:`lowcarb.tracking.run_command`. It then sleeps until
   the next job falls due (:meth:`JobStore.due_outlook`, read from indexes), a slot ends, or
   ``poll_s``: a pass loads only the jobs it acts on, never the whole queue.
4. **Pauses** interruptible jobs at the end of their planned slot with SIGTERM (SIGKILL after
   ``grace_s``); they are re-planned and resumed later.

Before its first tick, :meth:`Worker.run` compares the worker's clock with the database's and
refuses to start if they disagree by more than ``max_clock_skew_s`` (leases are compared across
workers: a clock that runs ahead would take jobs that still run elsewhere; one behind would keep
dead workers' jobs). Nothing is claimed before the check, so nothing is lost when it fails.

Running, pausing and recording each job (and the checkpoint protocol a job sees) is the
:class:`~lowcarb.jobs._supervisor.Supervisor`'s (:mod:`._supervisor`); this module holds the
loop that decides what to recover, plan and start, and when.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from lowcarb.energy import Meter
from lowcarb.errors import ConfigError, LowcarbError
from lowcarb.grid import IntensitySource
from lowcarb.jobs._clock_check import DEFAULT_MAX_CLOCK_SKEW_S, clock_skew_s
from lowcarb.jobs._job import ACTIVE_STATES, Job
from lowcarb.jobs._jobrun import alive, append_note, find_wrapper, iso
from lowcarb.jobs._reconcile import record_unwatched_run
from lowcarb.jobs._run_result import attempt_result
from lowcarb.jobs._store import JobStore
from lowcarb.jobs._supervisor import Supervisor
from lowcarb.jobs._worker_config import WorkerConfig
from lowcarb.scheduling import plan_from_source
from lowcarb.units import parse_timestamp

__all__ = ["Worker", "WorkerConfig"]

log = logging.getLogger(__name__)

#: After killing its jobs, how long a terminating worker waits for their runs to be recorded, s.
_RECORD_WAIT_S = 15.0


class Worker:
    """Runs the queue's jobs; see the module docstring.

    Args:
        queue: The job queue.
        source: Where forecasts (and realised intensities) come from.
        ledger_url: Ledger to append runs to (None: ``$LOWCARB_LEDGER`` or the default).
        config: Settings.
        clock: Current time, timezone-aware (injected: tests and trace replays run faster).
        environ: Environment for the Tracker's settings.
        meters: Meters for every run instead of detecting them (tests, fixed setups).
    """

    def __init__(
        self,
        queue: JobStore,
        source: IntensitySource,
        *,
        ledger_url: str | None = None,
        config: WorkerConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        environ: Mapping[str, str] | None = None,
        meters: Sequence[Meter] | None = None,
    ) -> None:
        self.queue = queue
        self.meters = meters
        self.source = source
        self.ledger_url = ledger_url
        self.config = config or WorkerConfig()
        self.clock = clock or (lambda: datetime.now(UTC))
        skew_s = self.config.max_clock_skew_s
        #: Tolerance of the start-up clock check, seconds (None: no check).
        self.max_clock_skew_s = (
            DEFAULT_MAX_CLOCK_SKEW_S if skew_s is None and clock is None else skew_s
        )
        lease_s = self.config.lease_s
        tolerance_s = self.max_clock_skew_s or 0.0
        if self.config.plan_batch < 1:
            raise ConfigError(f"plan_batch must be at least 1, got {self.config.plan_batch!r}")
        if not lease_s > 2 * tolerance_s:
            raise ConfigError(
                f"lease_s {lease_s!r} must exceed twice the clock tolerance ({tolerance_s:g} s): a "
                "run that cannot renew its lease is killed that long before it lapses"
            )
        self.environ = dict(os.environ if environ is None else environ)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._runs = Supervisor(
            queue,
            source,
            clock=self.clock,
            grace_s=self.config.grace_s,
            ledger_url=ledger_url,
            environ=self.environ,
            meters=meters,
            lease_s=lease_s,
            # Killed before another host's clock, up to the tolerance ahead, sees the lease lapse.
            margin_s=min(lease_s / 2, max(lease_s / 4, tolerance_s)),
        )
        #: Set to stop claiming jobs (a first SIGTERM).
        self.stopping = threading.Event()
        #: Set to kill the running jobs at once (a second SIGTERM); see :meth:`shutdown`.
        self.terminating = threading.Event()

    # -- the loop -------------------------------------------------------------------------------
    def run(self, *, until_idle: bool = False, max_ticks: int | None = None) -> None:
        """Check the clock, then tick until stopped (or, with ``until_idle``, until no job is
        left to act on).

        Raises:
            ConfigError: The worker's clock disagrees with the database's (see
                :meth:`check_clock`); no job was touched.
        """
        if self.max_clock_skew_s is not None:
            self.check_clock(self.max_clock_skew_s)
        ticks = 0
        while not self.stopping.is_set():
            wait_s = self.tick()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            if until_idle and len(self._runs) == 0 and not self.queue.count_jobs(ACTIVE_STATES):
                break
            self.stopping.wait(wait_s)

    def check_clock(self, max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S) -> float:
        """How far the worker's clock is ahead of the database's, seconds (negative: behind).

        The database is read between two readings of the worker's clock, and compared with
        their midpoint; half the round trip is allowed on top of ``max_skew_s``.

        Raises:
            ConfigError: They differ by more than that, naming both clocks.
        """
        return clock_skew_s(self.clock, self.queue.database_now, max_skew_s)

    def tick(self) -> float:
        """One pass over the queue; returns how long to sleep (seconds) before the next.

        Its cost follows what it acts on, not the queue's size: it loads the jobs it recovers
        (running ones), the ones it plans (at most ``plan_batch``) and the ones it claims, and
        reads when the rest fall due from the claim's indexes (:meth:`JobStore.due_outlook`).
        """
        now = self.clock()
        self._runs.reap()
        self._recover(now)
        stale_before = now - timedelta(seconds=self.config.replan_every_s)
        batch = self.queue.jobs_to_plan(stale_before, limit=self.config.plan_batch)
        for waiting in batch:
            self._ensure_plan(waiting, now)
        while len(self._runs) < self.config.max_parallel and self._start_next(now):
            pass
        wake = now + timedelta(seconds=self.config.poll_s)
        outlook = self.queue.due_outlook(now)
        if outlook.next_due is not None:
            wake = min(wake, outlook.next_due)
        if len(batch) == self.config.plan_batch:
            wake = now  # more jobs to plan
        elif outlook.due_now and len(self._runs) >= self.config.max_parallel:
            wake = now  # due jobs wait for a free slot
        for run in self._runs.runs():
            self._runs.maybe_pause(run, now)
            if run.slot_end is not None and run.pause_sent is None:
                wake = min(wake, max(run.slot_end, now))
        self.queue.heartbeat(self.id, now + timedelta(seconds=self.config.lease_s))
        return max(0.05, min(self.config.poll_s, (wake - now).total_seconds() / self._speed()))

    def _speed(self) -> float:
        """Worker-clock seconds per real second (1 unless the clock is a faster replay)."""
        return float(getattr(self.clock, "speed", 1.0))

    def shutdown(self, *, wait_s: float | None = None) -> None:
        """Stop claiming jobs; pause running interruptible jobs and let the others finish.

        Waits up to ``wait_s`` (default: the grace period) for the running jobs; those still
        running afterwards are left running (a later worker adopts them, or records them from
        their wrapper's result). If :attr:`terminating` is set (a second SIGTERM), before or
        during the wait, every running job is killed at once and recorded as interrupted.
        """
        self.stopping.set()
        for run in self._runs.runs():
            job = self.queue.get(run.job_id)
            if job.interruptible and run.pid is not None and run.pause_sent is None:
                self._runs.signal_pause(run, job)
        deadline = time.monotonic() + (self.config.grace_s if wait_s is None else wait_s)
        while time.monotonic() < deadline and not self.terminating.is_set():
            pending = [run for run in self._runs.runs() if not run.done.is_set()]
            if not pending:
                return
            pending[0].done.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        if self.terminating.is_set():
            self._runs.interrupt_all(wait_s=_RECORD_WAIT_S)

    # -- planning -------------------------------------------------------------------------------
    def _ensure_plan(self, job: Job, now: datetime) -> Job | None:
        fresh = job.planned_at is not None and (now - job.planned_at).total_seconds() < (
            self.config.replan_every_s
        )
        if job.plan is not None and fresh:
            return job
        remaining = job.remaining_h
        if job.deadline - now < timedelta(hours=remaining):
            # Late (e.g. the worker was down): run at once, best effort, and say so.
            if job.plan is not None and (job.plan.get("fallback") or "").startswith("late"):
                # Considered again: not before the next re-plan (planned_at orders the planning).
                return self.queue.update(job, planned_at=now)
            late = "late: the deadline can no longer be met; starting at once"
            plan_dict = {"zone": job.zones[0], "start": iso(now), "fallback": late, "slots": []}
            return self.queue.update(job, plan=plan_dict, planned_start=now, planned_at=now)
        spec = job.remaining_spec()
        try:
            plan = plan_from_source(
                spec,
                list(job.zones),
                self.source,
                now=now,
                on_forecast_error=self.config.on_forecast_error,
            )
        except LowcarbError as exc:
            log.error("job %s cannot be planned: %s", job.id, exc)
            return self.queue.update(job, state="failed", note=f"cannot be planned: {exc}")
        if plan.fallback and job.plan is not None and not job.plan.get("fallback"):
            old_start = parse_timestamp(job.plan["start"])
            if old_start + timedelta(hours=remaining) <= job.deadline:
                log.warning("job %s: forecast failed; keeping its plan (%s)", job.id, plan.fallback)
                return self.queue.update(job, planned_at=now)  # tried again at the next re-plan
        data = plan.to_dict()
        data["slots"] = [s.to_dict() for s in plan.slots]
        return self.queue.update(job, plan=data, planned_start=plan.start, planned_at=now)

    # -- starting -------------------------------------------------------------------------------
    def _start_next(self, now: datetime) -> bool:
        """Claim and start the next due job (in :mod:`._fair`'s order); False if none was."""
        lease = now + timedelta(seconds=self.config.lease_s)
        claimed = self.queue.claim_next(worker_id=self.id, lease_until=lease, now=now)
        if claimed is None:
            return False  # none due, or other workers took them
        self._runs.start(claimed, now)
        return True

    # -- recovery -------------------------------------------------------------------------------
    def _recover(self, now: datetime) -> None:
        host = socket.gethostname()
        for job in self.queue.list_jobs(["running"]):
            if job.worker_id == self.id:
                continue
            owner_dead = job.worker_host == host and not alive(job.worker_pid, None)
            expired = job.lease_until is not None and job.lease_until < now
            if not (owner_dead or (expired and job.worker_host != host)):
                continue
            pid = job.child_pid if alive(job.child_pid, job.child_create_time) else None
            if job.worker_host == host and pid is None:
                pid = find_wrapper(job.id)  # started, but its pid was not saved before the crash
            if job.worker_host == host and pid is not None:
                self._adopt(job, now, pid)
                continue
            # Its wrapper's result: from its state directory on this host, else from the row,
            # where the wrapper stored it too (a worker on another host finds it there).
            result = attempt_result(job)
            fenced = result is not None and result.get("fenced")
            if result is not None and not fenced:
                self._reconcile(job, result)
                continue
            note = (
                "its run was stopped: its lease could not be renewed"
                if fenced
                else "its run was killed with its worker"
            )
            if job.attempts >= self.config.max_attempts:
                self.queue.update(
                    job, state="failed", note=append_note(job.note, note), worker_id=None
                )
                continue
            requeued = self.queue.update(
                job,
                state="paused" if job.interruptible else "queued",
                plan=None,
                worker_id=None,
                child_pid=None,
                lease_until=None,
                note=append_note(job.note, f"{note}; re-queued"),
            )
            if requeued is not None:  # else another worker acted on it first
                log.warning("job %s: %s; re-queued", job.id, note)

    def _reconcile(self, job: Job, result: Mapping[str, Any]) -> None:
        """Record a run that ended while no worker watched it (once), then finish its job."""
        taken = self.queue.update(job, **self._holder())
        if taken is None:
            return  # another worker reconciles it
        record_id = None
        if self.ledger_url:
            try:
                record_id = record_unwatched_run(
                    taken, result, ledger_url=self.ledger_url, environ=self.environ
                )
            except LowcarbError as exc:
                # Hand it back: the next pass (of this worker or another) tries again.
                log.error("job %s: its ended run could not be recorded yet: %s", job.id, exc)
                self.queue.update(
                    taken,
                    worker_id=job.worker_id,
                    worker_host=job.worker_host,
                    worker_pid=job.worker_pid,
                )
                return
        self._runs.finish(
            job.id,
            int(result["exit_code"]),
            None,
            measured=False,
            record_id=record_id,
            claim=taken,
        )

    def _holder(self) -> dict[str, Any]:
        """The columns that say a job is this worker's: its id, and the host and process other
        workers check (a job whose holder's process is gone is recovered; so the holder must be
        this process, or every worker on the host would adopt the same run again)."""
        host = socket.gethostname()
        return {"worker_id": self.id, "worker_host": host, "worker_pid": os.getpid()}

    def _adopt(self, job: Job, now: datetime, pid: int) -> None:
        try:
            created: float | None = psutil.Process(pid).create_time()
        except psutil.Error:
            return
        taken = self.queue.update(
            job,
            **self._holder(),
            lease_until=now + timedelta(seconds=self.config.lease_s),
            child_pid=pid,
            child_create_time=created,
            note=append_note(job.note, "adopted by a new worker after its worker died"),
        )
        if taken is None:
            return
        self._runs.watch(taken, now, pid, created)
