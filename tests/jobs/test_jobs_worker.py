"""The worker: starts jobs at planned times, pauses/resumes with checkpoints, survives crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lowcarb.energy import FakeMeter
from lowcarb.errors import ProviderError
from lowcarb.grid import Intensity, IntensitySeries, IntensitySource
from lowcarb.jobs import JobStore, Worker, WorkerConfig, open_job_store
from lowcarb.ledger import open_ledger
from lowcarb.scheduling import JobSpec

T0 = datetime(2022, 3, 1, 10, tzinfo=UTC)
H = timedelta(hours=1)
SERIES_START = T0.replace(hour=0) - timedelta(days=1)


def _series() -> IntensitySeries:
    """500 g/kWh, except two clean hours on T0's day: 13:00 (100) and 16:00 (50)."""
    v = np.full(24 * 4, 500.0)
    base = 24  # T0's day starts at index 24
    v[base + 13] = 100.0
    v[base + 16] = 50.0
    return IntensitySeries(zone="DE", start=SERIES_START, values_g_per_kwh=v, source="test-trace")


class OracleSource(IntensitySource):
    """Forecast = the series itself (deterministic plans); history = the series; can fail."""

    name = "oracle-test"

    def __init__(self, series: IntensitySeries) -> None:
        self.series, self.fail = series, False

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        return self.series.before(now).latest()

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        return self.series.between(start, end)

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        if self.fail:
            raise ProviderError("HTTP 503 from the provider")
        return self.series.between(now, now + horizon_h * H)


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def _worker(queue: JobStore, source: IntensitySource, clock: Clock, url: str) -> Worker:
    # A fake meter: the tests do not depend on this machine's energy counters.
    return Worker(
        queue,
        source,
        ledger_url=url,
        clock=clock,
        environ={},
        config=WorkerConfig(grace_s=10),
        meters=[FakeMeter(power_w={"cpu": 100.0})],
    )


def _wait(worker: Worker, cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        worker.tick()
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_job_starts_at_its_planned_hour_and_is_recorded(ledger_url: str, tmp_path: Path) -> None:
    url = ledger_url
    queue = open_job_store(url, environ={})
    out = tmp_path / "ran.txt"
    job = queue.submit(
        [sys.executable, "-c", f"open({str(out)!r}, 'a').write('ran\\n')"],
        JobSpec(duration_h=1, deadline=T0 + 5 * H),
        zones=["DE"],
        now=T0,
        cwd=tmp_path,
    )
    clock = Clock(T0)
    worker = _worker(queue, OracleSource(_series()), clock, url)
    worker.tick()
    planned = queue.get(job.id)
    assert planned.state == "queued" and planned.planned_start == T0 + 3 * H  # the 100 g hour
    clock.t = T0 + 2 * H + timedelta(minutes=59)
    worker.tick()
    assert queue.get(job.id).state == "queued" and not out.exists()  # not before its time
    clock.t = T0 + 3 * H
    _wait(worker, lambda: queue.get(job.id).state == "succeeded")
    done = queue.get(job.id)
    assert out.read_text() == "ran\n" and done.exit_code == 0
    assert done.realised_intensity_g_per_kwh == pytest.approx(100.0)
    with open_ledger(url, environ={}) as ledger:
        records = [r for r in ledger.records() if r.metadata.get("job_id") == job.id]
        assert len(records) == 1 and ledger.verify().ok
    meta = records[0].metadata
    assert meta["planned_intensity_g_per_kwh"] == pytest.approx(100.0)
    assert meta["realised_intensity_g_per_kwh"] == pytest.approx(100.0)
    assert records[0].footprint is not None
    assert records[0].footprint.intensity.intensity_g_per_kwh == pytest.approx(100.0)
    assert list(done.record_ids) == [records[0].id]
    queue.close()


def test_failed_forecast_starts_no_later_than_the_latest_feasible_start(
    ledger_url: str, tmp_path: Path
) -> None:
    url = ledger_url
    queue = open_job_store(url, environ={})
    job = queue.submit(
        [sys.executable, "-c", "pass"],
        JobSpec(duration_h=2, deadline=T0 + 6 * H),
        zones=["DE"],
        now=T0,
        cwd=tmp_path,
    )
    source = OracleSource(_series())
    source.fail = True
    clock = Clock(T0)
    worker = _worker(queue, source, clock, url)
    worker.tick()
    planned = queue.get(job.id)
    assert planned.plan is not None and "HTTP 503" in planned.plan["fallback"]
    assert planned.planned_start == T0 + 4 * H  # deadline - duration
    clock.t = T0 + 3 * H
    worker.tick()
    assert queue.get(job.id).state == "queued"
    clock.t = T0 + 4 * H
    _wait(worker, lambda: queue.get(job.id).state == "succeeded")
    assert queue.get(job.id).started_at == T0 + 4 * H
    queue.close()


CHECKPOINTING = r"""
import os, pathlib, signal, sys, time
ck = pathlib.Path(os.environ["LOWCARB_CHECKPOINT_DIR"]) / "progress"
log = pathlib.Path(sys.argv[1])
n = int(ck.read_text()) if ck.exists() else 0
with log.open("a") as fh:
    fh.write(f"start {n} resumed={os.environ['LOWCARB_JOB_RESUMED']}\n")
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while n < int(sys.argv[2]):
    if stop:
        ck.write_text(str(n))
        sys.exit(3)
    time.sleep(0.02)
    n += 1
ck.write_text(str(n))
with log.open("a") as fh:
    fh.write("done\n")
"""


def test_interruptible_job_pauses_and_resumes_from_its_checkpoint(
    ledger_url: str, tmp_path: Path
) -> None:
    url = ledger_url
    queue = open_job_store(url, environ={})
    script = tmp_path / "train.py"
    script.write_text(CHECKPOINTING)
    log = tmp_path / "log.txt"
    argv = [sys.executable, str(script), str(log), "100000"]
    spec = JobSpec(duration_h=2, deadline=T0 + 8 * H, interruptible=True)
    job = queue.submit(argv, spec, zones=["DE"], now=T0, cwd=tmp_path)
    clock = Clock(T0)
    worker = _worker(queue, OracleSource(_series()), clock, url)
    worker.tick()
    plan = queue.get(job.id).plan
    assert plan is not None
    assert [s["start"] for s in plan["slots"]] == ["2022-03-01T13:00:00Z", "2022-03-01T16:00:00Z"]
    clock.t = T0 + 3 * H
    _wait(worker, lambda: queue.get(job.id).child_pid is not None)
    time.sleep(0.5)  # let it make progress
    clock.t = T0 + 4 * H  # the slot ends: SIGTERM, it checkpoints and exits
    _wait(worker, lambda: queue.get(job.id).state == "paused")
    paused = queue.get(job.id)
    assert paused.work_done_h == pytest.approx(1.0)
    progress = int((Path(paused.state_dir) / "checkpoint" / "progress").read_text())
    assert progress > 0
    # Make the rest short, then resume in the next clean slot.
    script.write_text(CHECKPOINTING.replace("int(sys.argv[2])", f"{progress + 20}"))
    worker.tick()
    assert queue.get(job.id).planned_start == T0 + 6 * H
    clock.t = T0 + 6 * H
    _wait(worker, lambda: queue.get(job.id).state == "succeeded")
    lines = log.read_text().splitlines()
    assert lines == ["start 0 resumed=0", f"start {progress} resumed=1", "done"]
    final = queue.get(job.id)
    assert final.attempts == 2 and len(final.record_ids) == 2
    queue.close()


WORKER_SCRIPT = r"""
import sys
from datetime import datetime, timedelta, UTC
from lowcarb.jobs import open_job_store
from lowcarb.jobs import Worker, WorkerConfig
sys.path.insert(0, {tests!r})
from test_jobs_worker import OracleSource, _series
queue = open_job_store({url!r}, environ={{}})
w = Worker(queue, OracleSource(_series()), ledger_url={url!r}, environ={{}},
           clock=lambda: datetime(2022, 3, 1, 13, tzinfo=UTC), config=WorkerConfig(poll_s=0.1))
w.run()
"""


def test_killed_worker_loses_no_job_and_runs_none_twice(ledger_url: str, tmp_path: Path) -> None:
    url = ledger_url
    queue = open_job_store(url, environ={})
    marks = tmp_path / "marks.txt"
    gate = tmp_path / "gate"

    def cmd(name: str, wait: bool) -> list[str]:
        body = f"import os,time\nopen({str(marks)!r},'a').write('{name}\\n')\n"
        if wait:
            body += f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
        return [sys.executable, "-c", body]

    long_job = queue.submit(
        cmd("long", True),
        JobSpec(duration_h=1, deadline=T0 + 4 * H),
        zones=["DE"],
        now=T0,
        cwd=tmp_path,
    )
    later = queue.submit(
        cmd("later", False),
        JobSpec(duration_h=1, deadline=T0 + 7 * H),
        zones=["DE"],
        now=T0,
        cwd=tmp_path,
    )
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT.format(tests=str(Path(__file__).parent), url=url))
    proc = subprocess.Popen(
        [sys.executable, str(script)], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    )
    try:
        end = time.monotonic() + 60
        while queue.get(long_job.id).child_pid is None and time.monotonic() < end:
            time.sleep(0.1)
        running = queue.get(long_job.id)
        assert running.state == "running" and running.child_pid is not None
        os.kill(proc.pid, signal.SIGKILL)  # the worker dies; the job's process lives on
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # A new worker (at 16:00: "later" is due at its clean hour) adopts the running job.
    clock = Clock(T0 + 6 * H)
    worker = _worker(queue, OracleSource(_series()), clock, url)
    worker.tick()
    adopted = queue.get(long_job.id)
    assert adopted.state == "running" and adopted.worker_id == worker.id
    assert "adopted" in adopted.note
    gate.write_text("go")
    _wait(worker, lambda: all(queue.get(j.id).state == "succeeded" for j in (long_job, later)))
    assert sorted(marks.read_text().split()) == ["later", "long"]  # each ran exactly once
    assert queue.get(long_job.id).exit_code == 0 and queue.get(long_job.id).attempts == 1
    queue.close()


def test_job_that_finished_while_no_worker_ran_is_not_run_again(
    ledger_url: str, tmp_path: Path
) -> None:
    url = ledger_url
    queue = open_job_store(url, environ={})
    job = queue.submit(
        ["false"], JobSpec(duration_h=1, deadline=T0 + 4 * H), zones=["DE"], now=T0, cwd=tmp_path
    )
    claimed = queue.claim(job.id, worker_id="dead:1:x", lease_until=T0 - H, now=T0)
    assert claimed is not None
    state = Path(claimed.state_dir)
    state.mkdir(parents=True)
    (state / "exit_status").write_text("0\n")  # what the wrapper writes when the command ends
    dead = queue.update(claimed, child_pid=2**22 - 7, worker_host="elsewhere")
    assert dead is not None
    worker = _worker(queue, OracleSource(_series()), Clock(T0), url)
    worker.tick()
    done = queue.get(job.id)
    assert done.state == "succeeded" and done.exit_code == 0 and done.attempts == 1
    assert "finished while its worker was down" in done.note
    # One whose run was killed with its worker (no exit status) is re-queued, not lost.
    job2 = queue.submit(
        ["true"], JobSpec(duration_h=1, deadline=T0 + 4 * H), zones=["DE"], now=T0, cwd=tmp_path
    )
    c2 = queue.claim(job2.id, worker_id="dead:2:y", lease_until=T0 - H, now=T0)
    assert c2 is not None and queue.update(c2, worker_host="elsewhere") is not None
    worker.tick()
    assert queue.get(job2.id).state in ("queued", "running", "succeeded")
    assert "re-queued" in queue.get(job2.id).note
    queue.close()


def test_jobs_json_roundtrip(ledger_url: str) -> None:
    with open_job_store(ledger_url, environ={}) as queue:
        job = queue.submit(["true"], JobSpec(duration_h=1, deadline=T0 + H), zones=["DE"], now=T0)
        assert json.loads(json.dumps(job.to_dict()))["zones"] == ["DE"]


def test_a_run_that_lost_its_claim_does_not_overwrite_the_next_run(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Fencing: a worker whose lease lapsed while its run went on (the job re-queued and claimed
    by another worker) must not save that run's end over the new run's state."""
    queue = open_job_store(sqlite_url, environ={})
    go = tmp_path / "go"
    job = queue.submit(
        [
            sys.executable,
            "-c",
            f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.05)",
        ],
        JobSpec(duration_h=1, deadline=T0 + H),  # no slack: it starts at once
        zones=["DE"],
        now=T0,
        cwd=tmp_path,
    )
    worker = _worker(queue, OracleSource(_series()), Clock(T0), sqlite_url)
    _wait(worker, lambda: queue.get(job.id).child_pid is not None)
    running = queue.get(job.id)
    assert running.state == "running" and running.worker_id == worker.id
    # Its lease lapsed and another worker claimed the job again (attempt 2).
    stolen = queue.update(running, worker_id="other-worker", attempts=running.attempts + 1)
    assert stolen is not None
    go.write_text("")
    end = time.monotonic() + 30
    while worker._runs.runs() and time.monotonic() < end:
        time.sleep(0.05)
    assert not worker._runs.runs()
    after = queue.get(job.id)
    assert after.state == "running" and after.worker_id == "other-worker"
    assert after.attempts == running.attempts + 1 and after.exit_code is None
    assert "lost the claim" in caplog.text
    with open_ledger(sqlite_url, environ={}) as ledger:  # the run itself is still on record
        records = [r for r in ledger.records() if r.metadata.get("job_id") == job.id]
    assert len(records) == 1 and records[0].metadata["attempt"] == running.attempts
    queue.close()


def test_a_lapsed_claim_does_not_mark_the_next_run_paused(sqlite_url: str, tmp_path: Path) -> None:
    import threading

    from lowcarb.jobs._supervisor import Running

    queue = open_job_store(sqlite_url, environ={})
    job = queue.submit(
        [sys.executable, "-c", "pass"],
        JobSpec(duration_h=1, deadline=T0 + H),
        zones=["DE"],
        now=T0,
        cwd=tmp_path,
    )
    worker = _worker(queue, OracleSource(_series()), Clock(T0), sqlite_url)
    claimed = queue.claim(job.id, worker_id=worker.id, lease_until=T0 + H, now=T0)
    assert claimed is not None
    run = Running(job_id=job.id, thread=threading.Thread(), slot_end=None, claim=claimed)
    stolen = queue.update(claimed, worker_id="other-worker", attempts=claimed.attempts + 1)
    assert stolen is not None
    worker._runs.signal_pause(run, stolen)
    after = queue.get(job.id)
    assert after.worker_id == "other-worker" and not after.pause_requested
    assert run.pause_sent is not None  # its own run, lapsed, is still asked to pause
    queue.close()
