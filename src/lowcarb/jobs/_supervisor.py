"""Supervising the jobs a worker runs: each one's process, its pause at a slot's end, its record.

A :class:`Supervisor` holds the jobs one worker runs (a :class:`Running` each). It runs a claimed
job's command under the job wrapper (:mod:`._jobwrap`) on a thread, measured by a
:class:`~lowcarb.jobs._jobrun.JobTracker` through :func:`lowcarb.tracking.run_command`;
watches a process adopted from a dead worker to its end; pauses an interruptible job at the end of
its planned slot with SIGTERM (SIGKILL after ``grace_s``); and saves how each run ended in the
queue. Which job to start, and when, the worker decides (:mod:`._worker`).

The checkpoint protocol (what a job sees: where to save its state, whether it resumes) is
:mod:`._wrapper_command`'s; how a wrapper says its run ended, :mod:`._run_result`'s.

Each run (and each chunk of an interruptible job) is appended to the ledger with the planned and
the realised intensity in its metadata; the realised hourly intensity (from the source's history)
prices the footprint when available, else the zone's static annual figure does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from lowcarb.energy import Meter
from lowcarb.errors import LowcarbError
from lowcarb.grid import IntensitySource
from lowcarb.jobs._job import Job
from lowcarb.jobs._jobrun import JobTracker, alive, append_note, hours, kill_tree, write_lease
from lowcarb.jobs._run_result import ended
from lowcarb.jobs._running import Running, still_held
from lowcarb.jobs._store import JobStore
from lowcarb.jobs._wrapper_command import checkpoint_dir, wrapper_argv
from lowcarb.tracking import run_command
from lowcarb.units import parse_timestamp

__all__ = ["Running", "Supervisor"]

log = logging.getLogger(__name__)


class Supervisor:
    """The jobs one worker runs; see the module docstring.

    Thread safety: each job runs on its own thread, which saves the run's end (:meth:`finish`)
    and removes the run under a lock; the worker calls the other methods from its own thread.

    Args:
        queue: The job queue.
        source: Where realised intensities come from.
        clock: Current time, timezone-aware (the worker's clock).
        grace_s: After SIGTERM, how long a pausing job may take before SIGKILL, seconds.
        ledger_url: Ledger to append runs to (None: ``$LOWCARB_LEDGER`` or the default).
        environ: Environment for the Tracker's settings.
        meters: Meters for every run instead of detecting them (None: detect).
        lease_s: How long each renewal of a run's lease lasts, seconds (see :mod:`._jobwrap`:
            each run's wrapper holds its lease).
        margin_s: How long before its lease lapses a run that could not renew it is killed.
    """

    def __init__(
        self,
        queue: JobStore,
        source: IntensitySource,
        *,
        clock: Callable[[], datetime],
        grace_s: float,
        ledger_url: str | None,
        environ: Mapping[str, str],
        meters: Sequence[Meter] | None,
        lease_s: float = 120.0,
        margin_s: float = 30.0,
    ) -> None:
        self.queue = queue
        self.lease_s = lease_s
        self.margin_s = margin_s
        self.source = source
        self.clock = clock
        self.grace_s = grace_s
        self.ledger_url = ledger_url
        self.environ = environ
        self.meters = meters
        self._running: dict[str, Running] = {}
        self._interrupted: set[str] = set()  # jobs killed by interrupt_all, noted as such
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many jobs run now."""
        return len(self._running)

    def runs(self) -> list[Running]:
        """The jobs that run now (a snapshot)."""
        return list(self._running.values())

    # -- starting, pausing, finishing -----------------------------------------------------------
    def start(self, job: Job, now: datetime) -> None:
        """Run ``job``, just claimed by this worker, on a thread (until the end of its slot)."""
        slot_end = None
        if job.interruptible and job.plan:
            for slot in job.plan.get("slots", []):
                if (
                    parse_timestamp(slot["start"])
                    <= now + timedelta(seconds=1)
                    < parse_timestamp(slot["end"])
                ):
                    slot_end = parse_timestamp(slot["end"])
                    break
        thread = threading.Thread(target=self._execute, args=(job, now), daemon=True)
        run = Running(job_id=job.id, thread=thread, slot_end=slot_end, claim=job)
        with self._lock:
            self._running[job.id] = run
        log.info("job %s: started (attempt %d)", job.id, job.attempts)
        thread.start()

    def _execute(self, job: Job, started: datetime) -> None:
        run = self._running[job.id]
        os.makedirs(checkpoint_dir(job), exist_ok=True)
        lease = write_lease(
            job,
            self.queue.engine.url,
            lease_s=self.lease_s,
            margin_s=self.margin_s,
            clock_offset_s=(self.clock() - datetime.now(UTC)).total_seconds(),
        )
        argv = wrapper_argv(job, lease=lease)
        tracker = self._tracker(job, started)
        status: int | None = None
        try:
            with open(os.path.join(job.state_dir, "output.log"), "a", encoding="utf-8") as out:
                status = run_command(argv, tracker=tracker, stdout=out).exit_code
        except LowcarbError as exc:
            log.error("job %s could not run: %s", job.id, exc)
            status = 127
        finally:
            with contextlib.suppress(OSError):  # the wrapper deletes it once read
                os.unlink(lease)
            fenced = ended(job)[1]
            self.finish(job.id, status, tracker, measured=True, claim=job, fenced=fenced)
            run.done.set()

    def watch(self, job: Job, now: datetime, pid: int, created: float | None) -> None:
        """Measure an adopted process on a thread until it ends, then save the run's end.

        Args:
            job: The job, already taken over by this worker.
            now: When it was adopted (worker clock): the measured run starts there.
            pid: The job wrapper's pid, still running.
            created: The wrapper's create time (``psutil`` seconds), to tell it from a reused pid.
        """
        run = Running(job_id=job.id, thread=threading.Thread(), slot_end=None, pid=pid, claim=job)

        def watch() -> None:
            tracker = self._tracker(job, now)
            tracker.start(pid=pid)
            try:
                while alive(pid, created):
                    time.sleep(0.2)
            finally:
                tracker.stop()
                status, fenced = ended(job)
                self.finish(job.id, status, tracker, measured=True, claim=job, fenced=fenced)
                run.done.set()

        run.thread = threading.Thread(target=watch, daemon=True)
        with self._lock:
            self._running[job.id] = run
        log.warning("job %s: adopted its running process %d", job.id, pid)
        run.thread.start()

    def maybe_pause(self, run: Running, now: datetime) -> None:
        """Pause ``run`` if its slot has ended and no next slot follows at once; SIGKILL it if a
        pause has taken longer than ``grace_s``."""
        if run.pid is None:
            return
        if run.pause_sent is not None:
            if time.monotonic() - run.pause_sent > self.grace_s:
                kill_tree(run.pid, signal.SIGKILL)
            return
        if run.slot_end is None or now < run.slot_end:
            return
        job = self.queue.get(run.job_id)
        done_h = job.work_done_h + hours(now - (job.run_started_at or now))
        if done_h >= job.duration_h - 1e-6:
            return  # its work should be done: let it finish
        nxt = [
            parse_timestamp(s["start"])
            for s in (job.plan or {}).get("slots", [])
            if parse_timestamp(s["start"]) >= run.slot_end
        ]
        if nxt and min(nxt) <= run.slot_end:
            run.slot_end = next(
                parse_timestamp(s["end"])
                for s in job.plan["slots"]  # type: ignore[index]
                if parse_timestamp(s["start"]) == min(nxt)
            )
            return  # the next slot follows at once: keep running
        self.signal_pause(run, job)

    def signal_pause(self, run: Running, job: Job) -> None:
        """Ask ``run`` (of ``job``) to pause: mark it in the queue, SIGTERM its wrapper."""
        # Fenced: a run whose claim lapsed is still paused (it is this worker's process), but
        # the job, perhaps another worker's now, is left alone.
        self._save(job.id, claim=run.claim, pause_requested=True)
        run.pause_sent = time.monotonic()
        log.info("job %s: pausing at the end of its slot", job.id)
        if run.pid is not None:
            kill_tree(run.pid, signal.SIGTERM, children=False)

    def interrupt_all(self, *, wait_s: float) -> None:
        """Kill every running job's process tree now, then wait up to ``wait_s`` seconds for
        their runs to be measured and recorded (as failed, noted as interrupted)."""
        runs = self.runs()
        for run in runs:
            self._interrupted.add(run.job_id)
            if run.pid is not None:
                kill_tree(run.pid, signal.SIGKILL)
        deadline = time.monotonic() + wait_s
        for run in runs:
            run.done.wait(max(0.0, deadline - time.monotonic()))

    def finish(
        self,
        job_id: str,
        status: int | None,
        tracker: JobTracker | None,
        *,
        measured: bool,
        record_id: str | None = None,
        claim: Job | None = None,
        fenced: bool = False,
    ) -> None:
        """Save how a run ended: re-queued if its wrapper killed it for want of a lease, paused
        if a pause was asked for and it did not exit 0, else succeeded (exit 0) or failed; then
        forget the run.

        Fenced by ``claim``: the end is saved only while the job is still this run's, ``running``
        for the claim's worker at the claim's attempt. A worker that lost its lease (it stalled
        past it, its job was re-queued and perhaps claimed again) must not overwrite the state
        of the job's next run: it drops the end, with a warning; the run's ledger record stays
        (marked with its job id and attempt, as every run's is).

        Args:
            job_id: The job.
            status: The run's exit status (None: unknown).
            tracker: The run's tracker, stopped (None: the run was not measured by this worker).
            measured: False when the run ended while no worker watched it (noted on the job).
            record_id: The ledger record of a run that was not measured (see ``._reconcile``).
            claim: The job as this worker claimed (or adopted, or took to reconcile) it.
            fenced: The wrapper killed the run: its lease could not be renewed.
        """
        now = self.clock()
        job = self.queue.get(job_id)
        done = job.work_done_h + hours(now - (job.run_started_at or now))
        records = list(job.record_ids)
        if tracker is not None and tracker.record_id:
            records.append(tracker.record_id)
        if record_id is not None and record_id not in records:
            records.append(record_id)
        changes: dict[str, Any] = {
            "record_ids": records,
            "child_pid": None,
            "child_create_time": None,
            "lease_until": None,
            "worker_id": None,
            "pause_requested": False,
        }
        if tracker is not None and tracker.realised is not None:
            changes["realised_intensity_g_per_kwh"] = tracker.realised
        if not measured:
            changes["note"] = append_note(job.note, "finished while its worker was down")
        if job_id in self._interrupted:
            self._interrupted.discard(job_id)
            changes["note"] = append_note(job.note, "interrupted: its worker was told to stop")
        if fenced:
            stopped = "its run was stopped: its lease could not be renewed; re-queued"
            changes.update(
                state="paused" if job.interruptible else "queued",
                plan=None,
                note=append_note(changes.get("note", job.note), stopped),
            )
            log.warning("job %s: %s", job_id, stopped)
        elif job.pause_requested and status != 0:
            changes.update(state="paused", work_done_h=min(done, job.duration_h), plan=None)
            log.info("job %s: paused after %.2f h of work", job_id, done)
        else:
            changes.update(
                state="succeeded" if status == 0 else "failed",
                exit_code=status,
                finished_at=now,
                work_done_h=job.duration_h if status == 0 else done,
            )
            log.info("job %s: %s (exit %s)", job_id, changes["state"], status)
        if self._save(job_id, claim=claim, **changes) is None:
            now_held = self.queue.get(job_id)
            log.warning(
                "job %s: attempt %d ended (exit %s) after its worker lost the claim (now %s, "
                "attempt %d, worker %s); its end is not saved",
                job_id,
                claim.attempts if claim is not None else 0,
                status,
                now_held.state,
                now_held.attempts,
                now_held.worker_id,
            )
        with self._lock:
            self._running.pop(job_id, None)

    def _save(self, job_id: str, *, claim: Job | None = None, **changes: Any) -> Job | None:
        """Apply ``changes`` to the job (retried when it changed concurrently); with ``claim``,
        only while the claim holds (None when it no longer does)."""
        for _ in range(20):
            job = self.queue.get(job_id)
            if claim is not None and not still_held(job, claim):
                return None
            saved = self.queue.update(job, **changes)
            if saved is not None:
                return saved
        raise LowcarbError(f"job {job_id}: could not save its state (changed concurrently)")

    def reap(self) -> None:
        """Forget runs whose thread has ended."""
        with self._lock:
            for job_id, run in list(self._running.items()):
                if not run.thread.is_alive() and run.done.is_set():
                    self._running.pop(job_id, None)

    def _tracker(self, job: Job, started: datetime) -> JobTracker:
        return JobTracker(
            job,
            started,
            source=self.source,
            clock=self.clock,
            ledger_url=self.ledger_url,
            environ=self.environ,
            on_child=lambda pid: self._child_started(job.id, pid),
            meters=self.meters,
        )

    def _child_started(self, job_id: str, pid: int) -> None:
        try:
            created = psutil.Process(pid).create_time()
        except psutil.Error:
            created = None
        run = self._running.get(job_id)
        self._save(
            job_id,
            claim=None if run is None else run.claim,
            child_pid=pid,
            child_create_time=created,
        )
        if run is not None:
            run.pid = pid
