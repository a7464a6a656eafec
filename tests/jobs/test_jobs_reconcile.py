"""No job lost: runs that end while no worker watches are recorded in the ledger exactly once.

Run on SQLite and on the real PostgreSQL server (the ``ledger_url`` fixture).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lowcarb.energy import FakeMeter
from lowcarb.jobs import JobStore, Worker, WorkerConfig, open_job_store
from lowcarb.jobs._jobrun import alive
from lowcarb.jobs._jobwrap import RESULT_FILE, SCRIPT, read_result
from lowcarb.jobs._reconcile import record_unwatched_run
from lowcarb.ledger import open_ledger
from lowcarb.scheduling import JobSpec

T0 = datetime(2022, 3, 1, 10, tzinfo=UTC)
H = timedelta(hours=1)
TESTS = Path(__file__).parent

WORKER_SCRIPT = r"""
import sys
from datetime import datetime, UTC
from lowcarb.jobs import open_job_store
from lowcarb.jobs import Worker, WorkerConfig
sys.path.insert(0, {tests!r})
from test_jobs_worker import OracleSource, _series
queue = open_job_store({url!r}, environ={{}})
w = Worker(queue, OracleSource(_series()), ledger_url={url!r}, environ={{}},
           clock=lambda: datetime(2022, 3, 1, 13, tzinfo=UTC), config=WorkerConfig(poll_s=0.1))
w.run()
"""


def _until(cond, what: str, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _new_worker(queue: JobStore, url: str, clock_at: datetime) -> Worker:
    sys.path.insert(0, str(TESTS))
    from test_jobs_worker import OracleSource, _series

    return Worker(
        queue,
        OracleSource(_series()),
        ledger_url=url,
        clock=lambda: clock_at,
        environ={},
        config=WorkerConfig(grace_s=10),
        meters=[FakeMeter(power_w={"cpu": 100.0})],
    )


def _records_per_job(url: str) -> Counter[str]:
    with open_ledger(url, environ={}) as ledger:
        return Counter(
            str(r.metadata.get("job_id")) for r in ledger.records() if r.metadata.get("job_id")
        )


def test_jobs_that_end_while_the_worker_is_down_are_recorded_once(
    ledger_url: str, tmp_path: Path
) -> None:
    queue = open_job_store(ledger_url, environ={})
    marks, gate = tmp_path / "marks.txt", tmp_path / "gate"
    jobs = []
    for n in range(3):
        body = (
            f"import os,time\nopen({str(marks)!r},'a').write('job{n}\\n')\n"
            f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
        )
        jobs.append(
            queue.submit(
                [sys.executable, "-c", body],
                JobSpec(duration_h=1, deadline=T0 + 4 * H, power_w=50.0),
                zones=["DE"],
                now=T0,
                cwd=tmp_path,
            )
        )
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT.format(tests=str(TESTS), url=ledger_url))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        _until(
            lambda: (
                all(queue.get(j.id).child_pid is not None for j in jobs)
                and marks.exists()
                and len(marks.read_text().split()) == 3
            ),
            "the worker to start all three jobs",
        )
        os.kill(proc.pid, signal.SIGKILL)  # the worker dies; its jobs' processes live on
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    gate.write_text("go")  # the jobs end while no worker runs
    _until(
        lambda: all(read_result(queue.get(j.id).state_dir) is not None for j in jobs),
        "the jobs' wrappers to leave their results",
    )
    # A wrapper writes its result just before it exits: until it has exited, a new worker
    # rightly adopts the run instead (a busy machine made that window visible).
    _until(
        lambda: (
            not any(
                alive(now.child_pid, now.child_create_time)
                for now in map(queue.get, (j.id for j in jobs))
            )
        ),
        "the jobs' wrappers to exit",
    )
    assert all(queue.get(j.id).state == "running" for j in jobs)  # nobody recorded them yet
    worker = _new_worker(queue, ledger_url, T0 + 3 * H)
    worker.tick()
    worker.tick()  # a second pass must not record them again
    per_job = _records_per_job(ledger_url)
    for job in jobs:
        final = queue.get(job.id)
        assert final.state == "succeeded" and final.exit_code == 0, final
        assert "finished while its worker was down" in final.note
        assert per_job[job.id] == 1 and len(final.record_ids) == 1
    assert sorted(marks.read_text().split()) == ["job0", "job1", "job2"]  # none ran twice
    with open_ledger(ledger_url, environ={}) as ledger:
        record = ledger.get(queue.get(jobs[0].id).record_ids[0])
    assert record.metadata["measured"] is False and record.metadata["exit_code"] == 0
    queue.close()


def _ended_run(
    queue: JobStore, tmp_path: Path, *, attempt: int = 1
) -> tuple[str, dict[str, object]]:
    """A job claimed by a worker that died (elsewhere), whose wrapper left its result."""
    job = queue.submit(
        ["true"], JobSpec(duration_h=1, deadline=T0 + 4 * H), zones=["DE"], now=T0, cwd=tmp_path
    )
    claimed = queue.claim(job.id, worker_id="dead:1:x", lease_until=T0 - H, now=T0)
    assert claimed is not None
    taken = queue.update(claimed, child_pid=2**22 - 7, worker_host="elsewhere")
    assert taken is not None
    state = Path(taken.state_dir)
    state.mkdir(parents=True)
    now = datetime.now(UTC)
    result: dict[str, object] = {
        "job_id": job.id,
        "attempt": attempt,
        "exit_code": 3,
        "started_at": (now - timedelta(seconds=30)).isoformat(),
        "ended_at": now.isoformat(),
        "wall_s": 30.0,
        "cpu_s": 1.0,
    }
    (state / RESULT_FILE).write_text(json.dumps(result))
    return job.id, result


def test_a_crash_between_ledger_append_and_queue_update_does_not_double_record(
    ledger_url: str, tmp_path: Path
) -> None:
    queue = open_job_store(ledger_url, environ={})
    job_id, result = _ended_run(queue, tmp_path)
    # A first reconciler appended the record, then died before updating the queue.
    first = record_unwatched_run(queue.get(job_id), result, ledger_url=ledger_url, environ={})
    assert queue.get(job_id).state == "running"
    worker = _new_worker(queue, ledger_url, T0)
    worker.tick()
    final = queue.get(job_id)
    assert final.state == "failed" and final.exit_code == 3
    assert list(final.record_ids) == [first]
    assert _records_per_job(ledger_url)[job_id] == 1
    queue.close()


def test_an_earlier_attempts_result_is_not_taken_for_this_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    queue = open_job_store(sqlite_url, environ={})
    job_id, _ = _ended_run(queue, tmp_path, attempt=0)  # left by a paused earlier run
    worker = _new_worker(queue, sqlite_url, T0)
    worker.tick()
    job = queue.get(job_id)
    assert job.state != "failed" and "re-queued" in job.note  # its run was lost, not finished
    assert _records_per_job(sqlite_url)[job_id] == 0
    queue.close()


def test_the_wrapper_leaves_a_durable_result(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--state-dir",
            str(state),
            "--cwd",
            str(tmp_path),
            "--env",
            "LOWCARB_JOB_ID=j1",
            "--env",
            "LOWCARB_JOB_ATTEMPT=2",
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(5)",
        ],
        check=False,
        timeout=60,
    )
    assert proc.returncode == 5
    result = read_result(state)
    assert result is not None
    assert (result["job_id"], result["attempt"], result["exit_code"]) == ("j1", 2, 5)
    assert result["wall_s"] >= 0 and result["cpu_s"] >= 0
    assert not list(state.glob(".*.tmp"))  # no temp file left behind
