"""The job store conformance suite, second half: the queue as a whole.

Fair claims (deadlines first, then round-robin between teams), what falls due when, the columns
the store keeps, leases that lapse and fence their old worker, and real worker processes killed
with SIGKILL at random points. Part of :class:`lowcarb.jobs.testing.JobStoreConformance`.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.jobs._job import Job
from lowcarb.jobs._store import JobStore, open_job_store
from lowcarb.jobs._testing_fixtures import T0, StoreFixtures, sample_spec
from lowcarb.jobs._testing_worker import queue_worker_command, read_queue_log
from lowcarb.scheduling import JobSpec

__all__ = ["QueueConformance"]

_H = timedelta(hours=1)
_S = timedelta(seconds=1)


class QueueConformance(StoreFixtures):
    """The contract of a job store's queue, as pytest tests."""

    def _due(
        self,
        store: JobStore,
        tmp_path: Path,
        *,
        team: str | None = None,
        planned: datetime = T0,
        spec: JobSpec | None = None,
    ) -> str:
        job = store.submit(
            ["true"], spec or sample_spec(), zones=["DE"], now=T0, cwd=tmp_path, team=team
        )
        assert store.update(job, planned_start=planned) is not None
        return job.id

    def _next(self, store: JobStore, now: datetime, worker: str = "w") -> Job | None:
        return store.claim_next(worker_id=worker, lease_until=now + _H, now=now)

    def test_claim_next_takes_only_due_jobs(self, store: JobStore, tmp_path: Path) -> None:
        later = self._due(store, tmp_path, planned=T0 + 2 * _H)
        self._submit(store, tmp_path)  # never planned: never due
        assert self._next(store, T0 + _H) is None
        got = store.claim_next(worker_id="w1", lease_until=T0 + 3 * _H, now=T0 + 2 * _H)
        assert got is not None and got.id == later and got.state == "running"
        assert got.attempts == 1 and got.worker_id == "w1" and got.lease_until == T0 + 3 * _H
        assert got.run_started_at == T0 + 2 * _H and got == store.get(later)
        assert self._next(store, T0 + 2 * _H) is None  # running: not claimed again
        assert store.count_jobs() == 2 and store.count_jobs(["running"]) == 1
        assert store.count_jobs(["succeeded", "failed"]) == 0

    def test_claim_next_goes_round_robin_between_teams(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        a = [self._due(store, tmp_path, team="a") for _ in range(5)]
        b = [self._due(store, tmp_path, team="b", planned=T0 + 60 * _S) for _ in range(2)]
        loner = self._due(store, tmp_path, planned=T0 + 120 * _S)
        claims = [self._next(store, T0 + _H + k * _S) for k in range(9)]
        got = [c.id if c else None for c in claims]
        # a is due first; then b and the teamless job (never served); then whoever waited longest.
        assert got == [a[0], b[0], loner, a[1], b[1], a[2], a[3], a[4], None]

    def test_claim_next_takes_a_job_about_to_miss_its_deadline_first(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        a = [self._due(store, tmp_path, team="a") for _ in range(2)]
        b = self._due(store, tmp_path, team="b", planned=T0 + 60 * _S)
        tight = sample_spec(duration_h=1, deadline_h=2)  # latest start: T0 + 1 h
        urgent = self._due(store, tmp_path, team="b", planned=T0 + 50 * 60 * _S, spec=tight)
        early = self._next(store, T0 + 59 * 60 * _S)
        assert early is not None and early.id == a[0]  # not urgent yet: a's turn
        claims = [self._next(store, T0 + _H + k * _S) for k in range(3)]
        # Then turns resume: a was served longest ago.
        assert [c.id if c else None for c in claims] == [urgent, a[1], b]

    def test_claim_next_resumes_paused_jobs(self, store: JobStore, tmp_path: Path) -> None:
        job_id = self._due(store, tmp_path)
        first = self._next(store, T0 + _H)
        assert first is not None
        assert store.update(first, state="paused", work_done_h=0.5) is not None
        again = self._next(store, T0 + 2 * _H)
        assert again is not None and again.id == job_id and again.attempts == 2
        assert again.started_at == T0 + _H and again.work_done_h == 0.5

    def test_the_store_keeps_each_jobs_latest_start(self, store: JobStore, tmp_path: Path) -> None:
        job = store.get(self._submit(store, tmp_path))  # 1 h of work due T0 + 5 h
        assert job.latest_start == T0 + 4 * _H
        worked = store.update(job, work_done_h=0.25)
        assert worked is not None and worked.latest_start == T0 + 4.25 * _H
        moved = store.update(worked, deadline=T0 + 9 * _H, duration_h=2.0)
        assert moved is not None and moved.latest_start == T0 + 7.25 * _H
        assert store.update(moved, note="x") is not None
        assert store.get(job.id).latest_start == T0 + 7.25 * _H

    def test_a_job_whose_plan_is_dropped_is_not_due_until_planned_again(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        job_id = self._due(store, tmp_path)
        planned = store.get(job_id)
        dropped = store.update(planned, plan=None)
        assert dropped is not None and dropped.planned_start is None and dropped.planned_at is None
        assert self._next(store, T0 + _H) is None
        assert [j.id for j in store.jobs_to_plan(T0, limit=5)] == [job_id]

    def test_jobs_to_plan_gives_the_unplanned_then_the_oldest_plans_at_most_limit(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        fresh, stale, older, never = (store.get(self._submit(store, tmp_path)) for _ in range(4))
        assert store.update(fresh, plan={"zone": "DE"}, planned_at=T0 + 2 * _H) is not None
        assert store.update(stale, plan={"zone": "DE"}, planned_at=T0 + _H) is not None
        assert store.update(older, plan={"zone": "DE"}, planned_at=T0) is not None
        done = store.get(self._submit(store, tmp_path))
        assert store.update(done, state="succeeded") is not None  # not waiting: never planned
        got = store.jobs_to_plan(T0 + 90 * 60 * _S, limit=10)
        assert [j.id for j in got] == [never.id, older.id, stale.id]
        assert [j.id for j in store.jobs_to_plan(T0 + 90 * 60 * _S, limit=2)] == [
            never.id,
            older.id,
        ]
        with pytest.raises(ValueError, match="at least 1, got 0"):
            store.jobs_to_plan(T0, limit=0)

    def test_due_outlook_says_whether_a_job_is_due_and_when_the_next_one_is(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        empty = store.due_outlook(T0)
        assert (empty.due_now, empty.next_due) == (False, None)
        self._due(store, tmp_path, team="a", planned=T0 + _H)
        self._due(store, tmp_path, planned=T0 + 2 * _H)
        tight = sample_spec(duration_h=1, deadline_h=2.5)  # latest start: T0 + 1.5 h
        self._due(store, tmp_path, team="b", planned=T0 + 3 * _H, spec=tight)
        self._submit(store, tmp_path)  # never planned: never due
        early = store.due_outlook(T0)
        assert (early.due_now, early.next_due) == (False, T0 + _H)
        between = store.due_outlook(T0 + 70 * 60 * _S)
        assert (between.due_now, between.next_due) == (True, T0 + 1.5 * _H)  # the latest start
        late = store.due_outlook(T0 + 2.5 * _H)
        assert (late.due_now, late.next_due) == (True, T0 + 3 * _H)

    def test_claim_next_never_hands_one_job_to_two_workers(
        self, job_store_url: str, store: JobStore, tmp_path: Path
    ) -> None:
        ids = {self._due(store, tmp_path, team=f"t{n % 3}") for n in range(12)}
        got: list[str] = []
        barrier = threading.Barrier(6)

        def drain(n: int) -> None:
            with open_job_store(job_store_url, environ={}) as other:
                barrier.wait()
                while (job := self._next(other, T0 + _H, worker=f"w{n}")) is not None:
                    got.append(job.id)

        threads = [threading.Thread(target=drain, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(got) == sorted(ids)
        assert all(j.state == "running" and j.attempts == 1 for j in store.list_jobs())

    def test_a_lapsed_lease_is_requeued_and_fences_its_old_worker(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        job_id = self._due(store, tmp_path)
        now = T0 + _H
        first = store.claim_next(worker_id="gone", lease_until=now + 60 * _S, now=now)
        assert first is not None
        assert store.requeue_expired(now + 30 * _S) == []  # the lease holds
        assert store.heartbeat("gone", now + 120 * _S) == 1
        assert store.requeue_expired(now + 90 * _S) == []  # renewed
        assert store.requeue_expired(now + 121 * _S) == [job_id]
        requeued = store.get(job_id)
        assert requeued.state == "queued" and requeued.worker_id is None
        assert requeued.lease_until is None and "lease lapsed" in requeued.note
        assert requeued.planned_start == T0 and requeued.version > first.version
        assert store.heartbeat("gone", now + _H) == 0  # no longer its job
        assert store.complete(first, now=now + 122 * _S) is None  # its late result is refused
        again = store.claim_next(worker_id="w2", lease_until=now + _H, now=now + 130 * _S)
        assert again is not None and again.id == job_id and again.attempts == 2
        done = store.complete(again, now=now + 140 * _S)
        assert done is not None and done.state == "succeeded" and done.exit_code == 0
        assert done.finished_at == now + 140 * _S and done.worker_id is None
        assert done.work_done_h == done.duration_h and done.lease_until is None
        assert store.complete(again) is None  # completes once
        assert self._next(store, now + 10 * _H) is None  # never claimed again
        assert store.requeue_expired(now + 10 * _H) == []

    def test_requeue_expired_pauses_interruptible_jobs_and_fails_spent_ones(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        spec = JobSpec(duration_h=1, deadline=T0 + 5 * _H, interruptible=True, min_chunk_h=0.5)
        pausing = self._due(store, tmp_path, spec=spec)
        spent = self._due(store, tmp_path, team="z")
        for _ in range(2):
            assert self._next(store, T0 + _H) is not None
        gone = store.requeue_expired(T0 + 3 * _H, max_attempts=1)
        assert sorted(gone) == sorted([pausing, spent])
        assert store.get(pausing).state == "failed"  # both ran once: the limit
        other = self._due(store, tmp_path, spec=spec)
        assert self._next(store, T0 + 4 * _H) is not None
        assert store.requeue_expired(T0 + 6 * _H) == [other]
        assert store.get(other).state == "paused" and store.get(spent).state == "failed"

    def test_complete_records_a_failed_run(self, store: JobStore, tmp_path: Path) -> None:
        self._due(store, tmp_path)
        job = self._next(store, T0 + _H)
        assert job is not None
        failed = store.complete(job, exit_code=3, now=T0 + _H + 1800 * _S)
        assert failed is not None and failed.state == "failed" and failed.exit_code == 3
        assert failed.work_done_h == 0.5

    def test_database_clock_is_utc_and_agrees_with_this_machine(self, store: JobStore) -> None:
        before = datetime.now(UTC)
        db = store.database_now()
        after = datetime.now(UTC)
        assert db.tzinfo is not None and db.utcoffset() == timedelta(0)
        assert before - 2 * _S <= db <= after + 2 * _S  # a local test database

    def test_killed_workers_lose_no_job_and_complete_none_twice(
        self, job_store_url: str, store: JobStore, tmp_path: Path
    ) -> None:
        now = datetime.now(UTC)
        spec = JobSpec(duration_h=0.01, deadline=now + _H)
        ids = []
        for n in range(30):
            job = store.submit(
                ["true"], spec, zones=["DE"], now=now, cwd=tmp_path, team=f"t{n % 2}"
            )
            assert store.update(job, planned_start=now - _S) is not None
            ids.append(job.id)
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        kw = {"job_s": 0.1, "lease_s": 1.0}
        procs = [
            subprocess.Popen(queue_worker_command(job_store_url, f"w{n}", log, **kw))
            for n, log in enumerate(logs)
        ]
        try:
            victim = procs[0]
            deadline = time.monotonic() + 30
            while not any(e[0] == "claim" for e in read_queue_log(logs[0])):
                assert victim.poll() is None and time.monotonic() < deadline, "no claim"
                time.sleep(0.01)
            # Mid-job, or just after it (claiming the next): any point. Not a secret: S311.
            time.sleep(random.uniform(0.0, 0.12))  # noqa: S311
            os.kill(victim.pid, signal.SIGKILL)
            for proc in procs[1:]:
                assert proc.wait(60) == 0
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        jobs = {j.id: j for j in store.list_jobs()}
        assert all(j.state == "succeeded" for j in jobs.values()), "a job was lost"
        events = [e for log in logs for e in read_queue_log(log)]
        done = Counter(e[1] for e in events if e[0] == "done")
        assert max(done.values()) == 1, "a job completed twice"
        claims: dict[str, list[tuple[int, float, float]]] = {}
        for what, job_id, attempt, times in events:
            if what == "claim":
                claims.setdefault(job_id, []).append((attempt, times[0], times[1]))
        for job_id, runs in claims.items():
            runs.sort()
            assert len(runs) <= jobs[job_id].attempts
            # A second run starts only after the first one's lease lapsed.
            for (_, _, lease_t), (_, later_t, _) in itertools.pairwise(runs):
                assert later_t >= lease_t
        victim_done = {e[1] for e in read_queue_log(logs[0]) if e[0] == "done"}
        assert all(jobs[j].attempts == 1 for j in victim_done)  # never claimed again
        assert sum(j.attempts for j in jobs.values()) <= len(ids) + 1  # one job at most re-ran
