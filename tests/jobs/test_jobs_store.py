"""The job queue: stored in the ledger database, claimed exactly once, versioned updates."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.errors import LedgerCorruptError, UsageError
from lowcarb.ledger import open_ledger
from lowcarb.scheduling._queue import open_queue

T0 = datetime(2022, 3, 1, 10, tzinfo=UTC)


def test_submit_list_get_and_versioned_update(ledger_url: str, tmp_path: Path) -> None:
    with open_queue(ledger_url, environ={}) as queue:
        job = queue.submit(
            ["echo", "hi"], zones=["DE", "FR"], duration_h=2, deadline=T0 + timedelta(hours=9),
            interruptible=True, power_w=(300.0, 200.0), cwd=tmp_path, team="vision",
        )  # fmt: skip
        assert job.state == "queued" and job.version == 0
        assert job.command == ("echo", "hi") and job.zones == ("DE", "FR")
        assert job.deadline == T0 + timedelta(hours=9) and job.power_w == (300.0, 200.0)
        assert job.state_dir.endswith(job.id) and job.cwd == str(tmp_path.resolve())
        assert queue.get(job.id[:6]).id == job.id  # a unique prefix is enough
        moved = queue.update(job, planned_start=T0 + timedelta(hours=3), plan={"zone": "FR"})
        assert moved is not None and moved.version == 1 and moved.plan == {"zone": "FR"}
        assert queue.update(job, state="cancelled") is None  # stale version: refused
        assert queue.get(job.id).state == "queued"
        assert [j.id for j in queue.jobs(["queued"])] == [job.id]
        assert queue.jobs(["succeeded"]) == []
        assert queue.get(job.id).to_dict()["deadline"] == "2022-03-01T19:00:00Z"
        with pytest.raises(UsageError, match="no job"):
            queue.get("nope")
        with pytest.raises(UsageError, match="no command"):
            queue.submit([], zones=["DE"], duration_h=1, deadline=T0)
    # The file is still a lowcarb ledger: the ledger opens and verifies it.
    with open_ledger(ledger_url, environ={}) as ledger:
        assert ledger.verify().ok


def test_claim_is_exactly_once_under_contention(ledger_url: str) -> None:
    with open_queue(ledger_url, environ={}) as queue:
        job = queue.submit(["true"], zones=["DE"], duration_h=1, deadline=T0 + timedelta(hours=5))
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def contend(n: int) -> None:
        with open_queue(ledger_url, environ={}) as q:
            barrier.wait()
            got = q.claim(job.id, worker_id=f"w{n}", lease_until=T0 + timedelta(minutes=2))
            if got is not None:
                winners.append(got.worker_id or "")

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(winners) == 1
    with open_queue(ledger_url, environ={}) as queue:
        claimed = queue.get(job.id)
        assert claimed.state == "running" and claimed.worker_id == winners[0]
        assert claimed.attempts == 1
        # A running job cannot be claimed again.
        assert queue.claim(job.id, worker_id="late", lease_until=T0) is None


def test_queue_refuses_a_file_that_is_not_a_ledger(tmp_path: Path) -> None:
    bogus = tmp_path / "x.db"
    bogus.write_bytes(b"not sqlite at all, just bytes" * 10)
    with pytest.raises(LedgerCorruptError):
        open_queue(f"sqlite:///{bogus}", environ={})
    assert bogus.read_bytes().startswith(b"not sqlite")
