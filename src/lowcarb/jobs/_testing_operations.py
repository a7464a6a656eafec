"""The job store conformance suite, first half: the contract of each operation.

Submitting, reading, versioned updates, listing, cancelling, exactly-once claims, heartbeats, and
a store reopened. Part of :class:`lowcarb.jobs.testing.JobStoreConformance`.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from lowcarb.errors import InvalidValueError, UnknownNameError, UsageError
from lowcarb.jobs._store import JobStore, open_job_store
from lowcarb.jobs._testing_fixtures import T0, StoreFixtures, sample_spec
from lowcarb.ledger import open_ledger
from lowcarb.scheduling import JobSpec

__all__ = ["OperationsConformance"]

_H = timedelta(hours=1)


class OperationsConformance(StoreFixtures):
    """The contract of each operation of a job store, as pytest tests."""

    def test_submit_stores_a_queued_job_as_given(self, store: JobStore, tmp_path: Path) -> None:
        spec = JobSpec(
            duration_h=2,
            deadline=T0 + 9 * _H,
            interruptible=True,
            min_chunk_h=0.5,
            pause_overhead_h=0.25,
            power_w=(300.0, 200.0),
        )
        job = store.submit(
            ["echo", "hi there"],
            spec,
            zones=["DE", "FR"],
            now=T0,
            cwd=tmp_path,
            team="vision",
            project="det",
        )
        assert job.state == "queued" and job.version == 0 and job.attempts == 0
        assert job.command == ("echo", "hi there") and job.zones == ("DE", "FR")
        assert job.deadline == T0 + 9 * _H and job.deadline.tzinfo is not None
        assert (job.duration_h, job.min_chunk_h, job.pause_overhead_h) == (2, 0.5, 0.25)
        assert job.interruptible is True and job.power_w == (300.0, 200.0)
        assert (job.team, job.project) == ("vision", "det")
        assert job.cwd == str(tmp_path.resolve()) and job.state_dir.endswith(job.id)
        assert job.remaining_spec() == spec
        assert job.to_dict()["deadline"] == "2022-03-01T19:00:00Z"

    def test_submit_refuses_bad_jobs_and_stores_nothing(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        with pytest.raises(UsageError, match="no command"):
            store.submit([], sample_spec(), zones=["DE"], now=T0)
        with pytest.raises(UsageError, match="zone"):
            store.submit(["true"], sample_spec(), zones=[], now=T0)
        with pytest.raises(UnknownNameError, match="Mars"):
            store.submit(["true"], sample_spec(), zones=["Mars"], now=T0)
        with pytest.raises(InvalidValueError, match="leaves"):
            store.submit(["true"], sample_spec(duration_h=3, deadline_h=2), zones=["DE"], now=T0)
        assert store.list_jobs() == []

    def test_get_takes_a_unique_prefix(self, store: JobStore, tmp_path: Path) -> None:
        job_id = self._submit(store, tmp_path)
        assert store.get(job_id[:6]).id == job_id
        with pytest.raises(UsageError, match="no job with id 'nope'"):
            store.get("nope")
        self._submit(store, tmp_path)
        with pytest.raises(UsageError, match="more than one job"):
            store.get("")

    def test_updates_apply_only_to_the_version_read(self, store: JobStore, tmp_path: Path) -> None:
        job = store.get(self._submit(store, tmp_path))
        moved = store.update(job, planned_start=T0 + 3 * _H, plan={"zone": "FR"})
        assert moved is not None and moved.version == 1 and moved.plan == {"zone": "FR"}
        assert moved.planned_start == T0 + 3 * _H
        assert store.update(job, state="cancelled") is None  # stale version: refused
        assert store.get(job.id).state == "queued"

    def test_list_is_oldest_first_and_filters_by_state(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        ids = [self._submit(store, tmp_path) for _ in range(3)]
        assert [j.id for j in store.list_jobs()] == ids
        store.cancel(ids[1])
        assert [j.id for j in store.list_jobs(["queued"])] == [ids[0], ids[2]]
        assert [j.id for j in store.list_jobs(["cancelled", "failed"])] == [ids[1]]
        assert store.list_jobs(["succeeded"]) == []

    def test_cancel_only_queued_or_paused(self, store: JobStore, tmp_path: Path) -> None:
        queued = store.get(self._submit(store, tmp_path))
        assert store.cancel(queued.id[:8]).state == "cancelled"
        with pytest.raises(UsageError, match="is cancelled; only queued or paused jobs cancel"):
            store.cancel(queued.id)
        paused = store.get(self._submit(store, tmp_path))
        assert store.update(paused, state="paused") is not None
        assert store.cancel(paused.id).state == "cancelled"
        running = self._submit(store, tmp_path)
        assert store.claim(running, worker_id="w", lease_until=T0 + _H) is not None
        with pytest.raises(UsageError, match="is running"):
            store.cancel(running)

    def test_claim_takes_queued_or_paused_jobs_once(self, store: JobStore, tmp_path: Path) -> None:
        job_id = self._submit(store, tmp_path)
        claimed = store.claim(job_id, worker_id="w1", lease_until=T0 + _H, now=T0)
        assert claimed is not None and claimed.state == "running" and claimed.attempts == 1
        assert claimed.worker_id == "w1" and claimed.lease_until == T0 + _H
        assert claimed.started_at == T0 and claimed.run_started_at == T0
        assert store.claim(job_id, worker_id="w2", lease_until=T0 + _H) is None
        paused = store.update(claimed, state="paused")
        assert paused is not None
        again = store.claim(job_id, worker_id="w2", lease_until=T0 + 3 * _H, now=T0 + 2 * _H)
        assert again is not None and again.attempts == 2 and again.worker_id == "w2"
        assert again.started_at == T0 and again.run_started_at == T0 + 2 * _H
        store.update(again, state="succeeded")
        assert store.claim(job_id, worker_id="w3", lease_until=T0) is None

    def test_claim_is_exactly_once_under_contention(
        self, job_store_url: str, store: JobStore, tmp_path: Path
    ) -> None:
        job_id = self._submit(store, tmp_path)
        winners: list[str] = []
        barrier = threading.Barrier(6)

        def contend(n: int) -> None:
            with open_job_store(job_store_url, environ={}) as other:
                barrier.wait()
                got = other.claim(job_id, worker_id=f"w{n}", lease_until=T0 + _H)
                if got is not None:
                    winners.append(got.worker_id or "")

        threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(winners) == 1
        claimed = store.get(job_id)
        assert claimed.state == "running" and claimed.worker_id == winners[0]
        assert claimed.attempts == 1

    def test_heartbeat_extends_only_this_workers_running_jobs(
        self, store: JobStore, tmp_path: Path
    ) -> None:
        mine, theirs, idle = (self._submit(store, tmp_path) for _ in range(3))
        store.claim(mine, worker_id="me", lease_until=T0 + _H)
        store.claim(theirs, worker_id="them", lease_until=T0 + _H)
        assert store.heartbeat("me", T0 + 5 * _H) == 1
        assert store.get(mine).lease_until == T0 + 5 * _H
        assert store.get(theirs).lease_until == T0 + _H
        assert store.get(idle).lease_until is None

    def test_jobs_survive_reopening_and_the_ledger_stays_valid(
        self, job_store_url: str, store: JobStore, tmp_path: Path
    ) -> None:
        job_id = self._submit(store, tmp_path)
        with open_job_store(job_store_url, environ={}) as reopened:
            assert [j.id for j in reopened.list_jobs()] == [job_id]
        with open_ledger(job_store_url, environ={}) as ledger:
            assert ledger.verify().ok
