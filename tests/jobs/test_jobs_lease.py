"""Each run's wrapper holds its lease: a worker killed at any point runs no job twice at once.

The job wrapper outlives its worker; it renews the run's lease in the job store, kills its command
when it cannot (so a lapsed lease means the run is gone), stores its result in the job's row
(so a worker on another host records the run instead of running it again), and takes its
command with it when it dies. Real processes throughout, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from lowcarb.energy import FakeMeter
from lowcarb.errors import ConfigError
from lowcarb.grid import StaticIntensitySource
from lowcarb.jobs import JobStore, Worker, WorkerConfig, open_job_store
from lowcarb.jobs._jobrun import write_lease
from lowcarb.jobs._jobwrap import LEASE_FILE, SCRIPT, read_result
from lowcarb.ledger import open_ledger
from lowcarb.scheduling import JobSpec

S = timedelta(seconds=1)
#: Short, so that the tests are; long enough for a loaded machine to start a wrapper within it.
LEASE_S = 4.0
CONFIG = WorkerConfig(poll_s=0.1, lease_s=LEASE_S, grace_s=5, max_clock_skew_s=0.5)

WORKER_SCRIPT = r"""
from lowcarb.energy import FakeMeter
from lowcarb.grid import StaticIntensitySource
from lowcarb.jobs import Worker, WorkerConfig, open_job_store
queue = open_job_store({url!r}, environ={{}})
config = WorkerConfig(poll_s=0.1, lease_s={lease_s!r}, grace_s=5, max_clock_skew_s=0.5)
Worker(queue, StaticIntensitySource(), ledger_url={url!r}, environ={{}}, config=config,
       meters=[FakeMeter(power_w={{"cpu": 10.0}})]).run()
"""


def _until(cond: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _marking_job(store: JobStore, tmp_path: Path, *, wait_for: Path) -> str:
    """A due job whose command writes ``start``, waits for ``wait_for``, then writes ``end``."""
    marks = tmp_path / "marks.txt"
    body = (
        f"import os, time\nopen({str(marks)!r}, 'a').write('start\\n')\n"
        f"while not os.path.exists({str(wait_for)!r}): time.sleep(0.05)\n"
        f"open({str(marks)!r}, 'a').write('end\\n')\n"
    )
    now = datetime.now(UTC)
    job = store.submit(
        [sys.executable, "-c", body],
        JobSpec(duration_h=0.5, deadline=now + timedelta(hours=4)),
        zones=["DE"],
        now=now,
        cwd=tmp_path,
        team="a",
    )
    plan = {"zone": "DE", "start": now.isoformat(), "slots": []}
    assert store.update(job, plan=plan, planned_start=now - S, planned_at=now) is not None
    return job.id


def _marks(tmp_path: Path) -> list[str]:
    path = tmp_path / "marks.txt"
    return path.read_text().split() if path.exists() else []


def _local_worker(store: JobStore, url: str) -> Worker:
    return Worker(
        store,
        StaticIntensitySource(),
        ledger_url=url,
        environ={},
        config=CONFIG,
        meters=[FakeMeter(power_w={"cpu": 10.0})],
    )


def test_a_worker_killed_mid_run_on_another_host_runs_the_job_once_and_loses_nothing(
    ledger_url: str, tmp_path: Path
) -> None:
    """The audit's case: host B's worker is SIGKILLed while its job's command runs on; no result
    file is readable on host A. Host A must neither re-run the job while it runs, nor lose it."""
    gate = tmp_path / "gate"
    with open_job_store(ledger_url, environ={}) as store:
        job_id = _marking_job(store, tmp_path, wait_for=gate)
        script = tmp_path / "worker.py"
        script.write_text(WORKER_SCRIPT.format(url=ledger_url, lease_s=LEASE_S))
        worker_b = subprocess.Popen([sys.executable, str(script)])
        try:
            _until(
                lambda: store.get(job_id).child_pid is not None and _marks(tmp_path) == ["start"],
                "host B to start the job",
            )
            running = store.get(job_id)
            # Host B, as host A sees it: another host name, a state directory it cannot read.
            elsewhere = store.update(
                running, worker_host="host-b", state_dir=str(tmp_path / "on-host-b")
            )
            assert elsewhere is not None
            os.kill(worker_b.pid, signal.SIGKILL)
            worker_b.wait(10)
        finally:
            if worker_b.poll() is None:
                worker_b.kill()
        worker_a = _local_worker(store, ledger_url)
        end = time.monotonic() + 2.5 * LEASE_S  # well past the lease B's worker last renewed
        while time.monotonic() < end:
            worker_a.tick()
            assert _marks(tmp_path) == ["start"], "the job was started a second time"
            time.sleep(0.1)
        held = store.get(job_id)
        assert held.state == "running" and held.attempts == 1
        assert held.lease_until is not None and held.lease_until > datetime.now(UTC)
        gate.write_text("go")  # the command ends; its worker is still dead
        _until(lambda: (worker_a.tick(), store.get(job_id).state)[1] == "succeeded", "the end")
        done = store.get(job_id)
    assert _marks(tmp_path) == ["start", "end"]  # one run, finished: none twice, none lost
    assert done.attempts == 1 and done.exit_code == 0
    assert "finished while its worker was down" in done.note
    assert done.run_result is not None and done.run_result["attempt"] == 1
    with open_ledger(ledger_url, environ={}) as ledger:
        records = [r for r in ledger.records() if r.metadata.get("job_id") == job_id]
    assert len(records) == 1 and records[0].metadata["reconciled"] is True


def _wrapper(tmp_path: Path, url: str, job_id: str, attempt: int, **lease: float) -> Path:
    """A lease file for the wrapper, as a worker writes it; returns its path."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    database = url.removeprefix("sqlite:///")
    config = {
        "job_id": job_id,
        "attempt": attempt,
        "dialect": "sqlite",
        "database": database,
        "lease_s": LEASE_S,
        "margin_s": LEASE_S / 4,
        "lease_until": time.time() + LEASE_S,
        "clock_offset_s": 0.0,
        **lease,
    }
    path = state / LEASE_FILE
    path.write_text(json.dumps(config))
    return path


def _run_wrapper(lease: Path, tmp_path: Path, command: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, SCRIPT, "--state-dir", str(lease.parent), "--cwd", str(tmp_path)]
    argv += ["--lease", str(lease), "--env", "LOWCARB_JOB_ATTEMPT=1", "--"]
    return subprocess.Popen([*argv, sys.executable, "-c", command])


SLEEPER = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"


def _claimed(store: JobStore, tmp_path: Path) -> str:
    spec = JobSpec(duration_h=1, deadline=datetime.now(UTC) + timedelta(hours=3))
    job = store.submit(["true"], spec, zones=["DE"], cwd=tmp_path)
    claimed = store.claim(job.id, worker_id="w", lease_until=datetime.now(UTC) + LEASE_S * S)
    assert claimed is not None
    return job.id


def test_the_wrapper_renews_the_lease_and_stores_its_result(
    sqlite_url: str, tmp_path: Path
) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        job_id = _claimed(store, tmp_path)
        lease = _wrapper(tmp_path, sqlite_url, job_id, 1)
        proc = _run_wrapper(lease, tmp_path, f"import time; time.sleep({2 * LEASE_S})")
        _until(lambda: not lease.exists(), "the wrapper to read its lease", 10)
        first = store.get(job_id).lease_until
        assert proc.wait(30) == 0
        job = store.get(job_id)
    assert first is not None and job.lease_until is not None
    assert job.lease_until > first + LEASE_S / 2 * S  # renewed while the command ran
    assert job.state == "running" and job.run_result is not None  # the worker finishes it
    assert job.run_result["exit_code"] == 0 and "fenced" not in job.run_result


def test_a_run_whose_job_was_requeued_meanwhile_is_killed_by_its_wrapper(
    sqlite_url: str, tmp_path: Path
) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        job_id = _claimed(store, tmp_path)
        lease = _wrapper(tmp_path, sqlite_url, job_id, 1)
        proc = _run_wrapper(lease, tmp_path, SLEEPER)
        _until(lambda: not lease.exists(), "the wrapper to read its lease", 10)
        assert store.requeue_expired(datetime.now(UTC) + timedelta(hours=1)) == [job_id]
        started = time.monotonic()
        status = proc.wait(30)
        job = store.get(job_id)
    assert status == 128 + signal.SIGKILL and time.monotonic() - started < LEASE_S
    result = read_result(lease.parent)
    assert result is not None and result["fenced"] == "its job was re-queued meanwhile"
    assert job.state == "queued" and job.run_result is None  # a fenced run stores nothing


def test_a_run_that_cannot_renew_its_lease_dies_before_the_lease_lapses(
    sqlite_url: str, tmp_path: Path
) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        job_id = _claimed(store, tmp_path)
    lease_until = time.time() + LEASE_S
    lease = _wrapper(
        tmp_path,
        f"sqlite:///{tmp_path / 'gone' / 'ledger.db'}",  # unreachable: no such directory
        job_id,
        1,
        lease_until=lease_until,
    )
    proc = _run_wrapper(lease, tmp_path, SLEEPER)
    status = proc.wait(30)
    ended = time.time()
    assert status == 128 + signal.SIGKILL
    assert ended < lease_until - LEASE_S / 4 + 0.5  # killed at the margin, before the lapse
    result = read_result(lease.parent)
    assert result is not None and result["fenced"] == "its lease could not be renewed"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_command_dies_with_its_wrapper(sqlite_url: str, tmp_path: Path) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        job_id = _claimed(store, tmp_path)
    lease = _wrapper(tmp_path, sqlite_url, job_id, 1, lease_until=time.time() + 600)
    argv = [sys.executable, SCRIPT, "--state-dir", str(lease.parent), "--cwd", str(tmp_path)]
    argv += ["--lease", str(lease), "--", sys.executable, "-c", SLEEPER]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with proc.stdout:
        command_pid = int(proc.stdout.readline())
    assert psutil.pid_exists(command_pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    _until(
        lambda: (
            not psutil.pid_exists(command_pid)
            or psutil.Process(command_pid).status() == psutil.STATUS_ZOMBIE
        ),
        "the command to die with its wrapper",
        10,
    )


def test_the_lease_file_is_its_owners_only_and_names_the_claim(
    sqlite_url: str, tmp_path: Path
) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        claimed = store.get(_claimed(store, tmp_path))
        runs = _local_worker(store, sqlite_url)._runs  # what the worker gives its runs
        path = Path(
            write_lease(
                claimed,
                store.engine.url,
                lease_s=runs.lease_s,
                margin_s=runs.margin_s,
                clock_offset_s=0.0,
            )
        )
    assert path.name == LEASE_FILE and stat.S_IMODE(path.stat().st_mode) == 0o600
    lease = json.loads(path.read_text())
    assert (lease["job_id"], lease["attempt"], lease["dialect"]) == (claimed.id, 1, "sqlite")
    assert lease["database"] == sqlite_url.removeprefix("sqlite:///")
    assert claimed.lease_until is not None
    assert lease["lease_until"] == claimed.lease_until.timestamp()
    assert (lease["lease_s"], lease["margin_s"]) == (LEASE_S, LEASE_S / 4)


def test_a_lease_shorter_than_twice_the_clock_tolerance_is_refused(sqlite_url: str) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        bad = WorkerConfig(lease_s=8.0, max_clock_skew_s=5.0)
        with pytest.raises(ConfigError, match=r"lease_s 8\.0 must exceed twice"):
            Worker(store, StaticIntensitySource(), environ={}, config=bad)


def test_a_run_stopped_for_want_of_a_lease_is_requeued_not_failed(
    sqlite_url: str, tmp_path: Path
) -> None:
    """What a worker on another host finds after a wrapper fenced its run (its result, in the
    job's row, says so): the job is re-queued with a note, not failed nor recorded as ended."""
    with open_job_store(sqlite_url, environ={}) as store:
        job_id = _claimed(store, tmp_path)
        running = store.get(job_id)
        fenced = {"attempt": 1, "exit_code": 137, "fenced": "its lease could not be renewed"}
        gone = store.update(
            running,
            worker_host="host-b",
            lease_until=datetime.now(UTC) - S,
            run_result=fenced,
        )
        assert gone is not None
        _local_worker(store, sqlite_url).tick()
        job = store.get(job_id)
    # Re-queued (and, planned again at once, claimed again by the same pass): not failed.
    assert job.state in ("queued", "running") and job.exit_code is None
    assert "stopped: its lease could not be renewed; re-queued" in job.note
    assert "finished while its worker was down" not in job.note


def test_a_run_adopted_by_one_worker_is_not_adopted_again_by_another(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Found by the benchmark's kill scenario: adopting a dead worker's run left the dead
    worker's pid on the job, so every other worker on the host adopted it again (and each
    recorded the run in the ledger)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open_job_store(sqlite_url, environ={}) as store:
            running = store.get(_claimed(store, tmp_path))
            orphaned = store.update(
                running,
                worker_pid=dead.pid,
                child_pid=sleeper.pid,
                child_create_time=psutil.Process(sleeper.pid).create_time(),
            )
            assert orphaned is not None
            first, second = _local_worker(store, sqlite_url), _local_worker(store, sqlite_url)
            first.tick()
            second.tick()
            adopted = store.get(running.id)
            assert adopted.worker_id == first.id and adopted.worker_pid == os.getpid()
            assert len(first._runs) == 1 and len(second._runs) == 0
            sleeper.kill()
            _until(lambda: len(first._runs.runs()) == 0, "the adopted run to end")
    finally:
        sleeper.kill()
        sleeper.wait()
