"""The job queue at scale: worker processes on PostgreSQL, killed at random, fair between teams;
and a worker whose clock disagrees with the database's, which refuses to start."""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.energy import FakeMeter
from lowcarb.errors import ConfigError, LedgerBusyError
from lowcarb.grid import StaticIntensitySource
from lowcarb.jobs import JobStore, Worker, WorkerConfig, open_job_store
from lowcarb.jobs.testing import queue_worker_command, read_queue_log
from lowcarb.ledger import open_engine
from lowcarb.scheduling import JobSpec

H = timedelta(hours=1)
S = timedelta(seconds=1)


def _due_jobs(store: JobStore, cwd: Path, teams: dict[str, int], now: datetime) -> list[str]:
    """Jobs due at ``now`` (planned a second before), ``teams[t]`` of team ``t`` in turn."""
    spec = JobSpec(duration_h=0.01, deadline=now + H)
    ids = []
    for team, count in teams.items():
        for _ in range(count):
            job = store.submit(["true"], spec, zones=["DE"], now=now, cwd=cwd, team=team)
            plan = {"zone": "DE", "start": now.isoformat(), "slots": []}
            assert store.update(job, planned_start=now - S, plan=plan, planned_at=now)
            ids.append(job.id)
    return ids


def _worker(store: JobStore, *, clock=None, config: WorkerConfig | None = None) -> Worker:  # type: ignore[no-untyped-def]
    return Worker(
        store,
        StaticIntensitySource(),
        ledger_url=str(store.engine.url.render_as_string(hide_password=False)),
        clock=clock,
        environ={},
        config=config or WorkerConfig(grace_s=10, max_clock_skew_s=5.0),
        meters=[FakeMeter(power_w={"cpu": 100.0})],
    )


# -- a worker clock that disagrees with the database --------------------------------------------
@pytest.mark.parametrize("skew_s", [-30.0, 600.0])
def test_a_worker_whose_clock_disagrees_with_the_database_refuses_to_start(
    ledger_url: str, tmp_path: Path, skew_s: float
) -> None:
    with open_job_store(ledger_url, environ={}) as store:
        (job_id,) = _due_jobs(store, tmp_path, {"a": 1}, datetime.now(UTC))
        before = store.get(job_id)
        worker = _worker(store, clock=lambda: datetime.now(UTC) + skew_s * S)
        with pytest.raises(ConfigError) as info:
            worker.run(max_ticks=1)
        message = str(info.value)
        way = "behind" if skew_s < 0 else "ahead of"
        assert f" s {way} the database clock " in message and "\n" not in message
        assert message.startswith("worker clock 20") and "(more than 5 s)" in message
        assert "time sync" in message
        assert store.get(job_id) == before  # nothing claimed, nothing lost


def test_a_worker_within_the_tolerance_starts(sqlite_url: str, tmp_path: Path) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        worker = _worker(store, clock=lambda: datetime.now(UTC) + 2 * S)
        assert worker.check_clock(5.0) == pytest.approx(2.0, abs=1.0)
        worker.run(max_ticks=1)  # no error


def test_the_clock_check_is_on_by_default_on_the_system_clock_only(sqlite_url: str) -> None:
    with open_job_store(sqlite_url, environ={}) as store:
        source = StaticIntensitySource()
        assert Worker(store, source, environ={}).max_clock_skew_s == 5.0
        replay = Worker(store, source, environ={}, clock=lambda: datetime(2022, 3, 1, tzinfo=UTC))
        assert replay.max_clock_skew_s is None  # a replay or a test clock: deliberate
        strict = WorkerConfig(max_clock_skew_s=1.0)
        assert Worker(store, source, environ={}, config=strict, clock=replay.clock).max_clock_skew_s
        with pytest.raises(ConfigError, match="behind the database clock"):
            replay.check_clock()


# -- fairness in the worker ---------------------------------------------------------------------
def test_the_worker_starts_due_jobs_round_robin_between_teams(
    sqlite_url: str, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    now = [start]
    with open_job_store(sqlite_url, environ={}) as store:
        a = _due_jobs(store, tmp_path, {"big": 3}, start)
        b = _due_jobs(store, tmp_path, {"small": 1}, start)
        config = WorkerConfig(grace_s=10, max_parallel=1)
        worker = _worker(store, clock=lambda: now[0], config=config)
        order: list[str] = []
        deadline = time.monotonic() + 60
        while len(order) < 4:
            assert time.monotonic() < deadline, f"only {order} started"
            now[0] += S
            worker.tick()
            running = [j.id for j in store.list_jobs(["running"]) if j.id not in order]
            order += running
            time.sleep(0.05)
        assert order == [a[0], b[0], a[1], a[2]]  # the small team is not starved
        end = time.monotonic() + 30
        while store.count_jobs(["succeeded"]) < 4 and time.monotonic() < end:
            now[0] += S
            worker.tick()
            time.sleep(0.05)
        assert store.count_jobs(["succeeded"]) == 4


# -- worker processes on PostgreSQL -------------------------------------------------------------
def _claims(logs: list[Path]) -> list[tuple[float, str, int, float]]:
    """``(claimed_at, job_id, attempt, lease_until)`` of every claim in the logs, in time order."""
    out = []
    for log in logs:
        for what, job_id, attempt, times in read_queue_log(log):
            if what == "claim":
                out.append((times[0], job_id, attempt, times[1]))
    return sorted(out)


def _mid_job(log: Path) -> bool:
    """Whether the worker writing ``log`` holds a claim it has not finished."""
    events = read_queue_log(log)
    return bool(events) and events[-1][0] == "claim"


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_eight_worker_processes_on_postgres_run_every_job_once_and_fairly(
    postgres_url: str, tmp_path: Path
) -> None:
    with open_job_store(postgres_url, environ={}) as store:
        teams = {"bulk": 300, "mid": 80, "few": 20}
        ids = _due_jobs(store, tmp_path, teams, datetime.now(UTC))
        team_of = {j.id: j.team for j in store.list_jobs()}
        logs = [tmp_path / f"w{n}.log" for n in range(8)]
        procs = [
            subprocess.Popen(queue_worker_command(postgres_url, f"w{n}", log, lease_s=30.0))
            for n, log in enumerate(logs)
        ]
        try:
            for proc in procs:
                assert proc.wait(120) == 0
        finally:
            _stop(procs)
        claims = _claims(logs)
        per_job = Counter(job_id for _, job_id, _, _ in claims)
        assert sorted(per_job) == sorted(ids) and set(per_job.values()) == {1}  # no duplicate
        assert store.count_jobs(["succeeded"]) == len(ids)  # none lost
        done = Counter(e[1] for log in logs for e in read_queue_log(log) if e[0] == "done")
        assert set(done.values()) == {1} and len(done) == len(ids)
        # Round-robin: the 20 jobs of the team submitted last do not wait for the 380 before
        # them; strict planned-start order would claim them last (positions 380..399).
        positions = [n for n, (_, job_id, _, _) in enumerate(claims) if team_of[job_id] == "few"]
        assert max(positions) < 150, positions


def test_workers_killed_again_and_again_on_postgres_lose_no_job(
    postgres_url: str, tmp_path: Path
) -> None:
    kills = 5
    with open_job_store(postgres_url, environ={}) as store:
        ids = _due_jobs(store, tmp_path, {"a": 40, "b": 40}, datetime.now(UTC))
        logs: list[Path] = []
        procs: list[subprocess.Popen[bytes]] = []

        def spawn() -> subprocess.Popen[bytes]:
            log = tmp_path / f"w{len(logs)}.log"
            logs.append(log)
            kw = {"job_s": 0.2, "lease_s": 1.0}
            proc = subprocess.Popen(queue_worker_command(postgres_url, log.stem, log, **kw))
            procs.append(proc)
            return proc

        live = [spawn() for _ in range(4)]
        killed = mid_job = 0
        try:
            end = time.monotonic() + 40
            while killed < kills and time.monotonic() < end:
                busy = [p for p in live if p.poll() is None and _mid_job(logs[procs.index(p)])]
                if not busy:
                    time.sleep(0.01)
                    continue
                victim = random.choice(busy)
                time.sleep(random.uniform(0.0, 0.15))  # at a random point before its end (0.2 s)
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                killed += 1
                # Under load the job may have ended before the kill landed: then nothing runs
                # again. Read from the victim's log once it is dead.
                mid_job += _mid_job(logs[procs.index(victim)])
                live.remove(victim)
                live.append(spawn())
            for proc in live:
                assert proc.wait(60) == 0
        finally:
            _stop(procs)
        assert killed == kills
        jobs = {j.id: j for j in store.list_jobs()}
        assert all(j.state == "succeeded" for j in jobs.values()), "a job was lost"
        done = Counter(e[1] for log in logs for e in read_queue_log(log) if e[0] == "done")
        assert set(done) <= set(ids) and max(done.values()) == 1, "a job completed twice"
        claims = _claims(logs)
        by_job: dict[str, list[tuple[int, float, float]]] = {}
        for at, job_id, attempt, lease in claims:
            by_job.setdefault(job_id, []).append((attempt, at, lease))
        for runs in by_job.values():
            runs.sort()
            for (_, _, lease), (_, later, _) in itertools.pairwise(runs):
                assert later >= lease  # re-run only once the earlier claim's lease lapsed
        reruns = sum(j.attempts - 1 for j in jobs.values())
        # Each kill mid-job makes its one job run again, after its lease; a kill between a
        # claim's commit and its log line does too; a kill after a job's end, nothing.
        assert mid_job >= 1 and mid_job <= reruns <= kills
        assert sum(j.attempts for j in jobs.values()) >= len(ids)


def test_a_sqlite_write_lock_held_too_long_is_a_busy_error_to_retry(
    sqlite_url: str, tmp_path: Path
) -> None:
    with JobStore(open_engine(sqlite_url, environ={}, busy_timeout_s=0.2)) as store:
        (job_id,) = _due_jobs(store, tmp_path, {"a": 1}, datetime.now(UTC))
        holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(LedgerBusyError, match="stayed locked by other writers"):
                store.claim_next(worker_id="w", lease_until=datetime.now(UTC) + H)
        finally:
            holder.rollback()
            holder.close()
        claimed = store.claim_next(worker_id="w", lease_until=datetime.now(UTC) + H)
        assert claimed is not None and claimed.id == job_id  # nothing was lost: it retries
