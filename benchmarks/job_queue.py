"""The job queue at scale: worker processes on one PostgreSQL queue, side by side with SQLite.

Prints ONE JSON line on stdout (progress goes to stderr). Each configuration runs on a fresh
database; ``--configs`` lists them as ``BACKEND:WORKERS[:MODE]`` (default: the protocol at 8 and
1 workers on PostgreSQL and SQLite, then the real Worker and the kill scenario at 8 workers on
PostgreSQL). Modes:

* ``protocol`` (the default): ``--jobs`` jobs (default 10,000) of two teams, ``bulk`` (9 in 10)
  and ``few`` (1 in 10, interleaved), are stored ``queued``; the worker processes start and
  report ready; then the jobs' planned starts are set, spread evenly over the ``--spread-s``
  seconds (default 5) that follow, so all become due within them: a burst far above what any
  configuration here drains in that time, so that the queue always holds due work. Each worker
  is :func:`lowcarb.jobs.testing.run_queue_worker`, a separate Python process following the
  store's queue protocol: ``claim_next`` with a 30 s lease (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite; deadlines first, then round-robin between teams),
  run the job, ``complete`` it (a fenced, conditional update), re-queue lapsed leases every
  7.5 s. **The job is a no-op Python step inside the worker**, so the figures are the queue's
  (claims, completions, lease bookkeeping), not process spawning.
* ``worker``: the same, with ``--worker-jobs`` jobs (default 1,000), run by the real
  :class:`~lowcarb.jobs.Worker` in each worker process (``max_parallel`` 4): every job is a real
  process (``sh -c`` appending its id to a file) under the job wrapper, which holds its lease;
  it is measured (a fake 10 W meter) and recorded in the ledger, in the same database.
* ``kill``: as ``worker`` (each job sleeps ``--kill-job-s``, default 0.3 s), while ``--kills``
  times (default 3) a worker process that is running jobs is SIGKILLed and a new one started.
  The killed workers' jobs keep running under their wrappers and are adopted, or recorded once
  they end; none may run twice or be lost.

What is measured: ``claims_per_s`` (claims over the time from the first claim to the last),
``completions_per_s``, ``duplicates`` (protocol: claims beyond the first of a job; worker and
kill: runs of a job beyond the first, counted from the lines the jobs themselves wrote; must be
0), ``duplicate_completions`` (protocol: applied completions beyond one; worker and kill: ledger
records beyond one; must be 0), ``lost`` (jobs not ``succeeded`` at the end: must be 0), the
lateness of each job's first claim against its planned start (``p50``, ``p95``, ``max``, and
``p95`` per team: the small team is not starved by the big one), ``busy_retries`` (protocol:
steps retried because SQLite's write lock was not granted within its 30 s busy timeout), and
for worker and kill, ``reclaims`` (claims beyond the first: a job whose worker died after
claiming it but before its wrapper started is claimed again; it never ran twice).

``ratios`` compares the configurations; ``checks`` says whether duplicates and lost jobs were 0
everywhere; ``machine`` gives the CPU, its cores and the load average before and after.

This file is ``job_queue.py``, not the ``queue.py`` issue 19 named: a script called ``queue.py``
shadows the standard library's ``queue`` module (which psycopg and ``concurrent.futures`` import)
for every process started from its folder.

Usage::

    python benchmarks/job_queue.py                                  # all default configurations
    python benchmarks/job_queue.py --jobs 2000 --configs pg:8,pg:1  # quick
    python benchmarks/job_queue.py --configs pg:8:worker,pg:8:kill,sqlite:8:worker
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, update

from lowcarb.jobs import JobStore, open_job_store

# The table itself: 10,000 rows in one statement (with the column the store keeps, latest_start).
from lowcarb.jobs._job import JOBS

try:
    from lowcarb.jobs._job import latest_start
except ImportError:  # a checkout from before migration 0004, measured for comparison

    def latest_start(deadline: datetime, duration_h: float, work_done_h: float) -> datetime:
        return deadline - timedelta(hours=max(0.0, duration_h - work_done_h))


from lowcarb.jobs.testing import queue_worker_command, read_queue_log
from lowcarb.ledger import open_ledger

PG_ADMIN = os.environ.get("LOWCARB_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres")
#: Where jobs are planned until every worker is ready (never due before).
FAR = datetime(2100, 1, 1, tzinfo=UTC)
LEASE_S = 30.0


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A URL to a new, empty database (a PostgreSQL database is dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'queue-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    name = f"lowcarb_bench_queue_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{PG_ADMIN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        params = dict(part.split("=", 1) for part in PG_ADMIN.split())
        host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
        yield f"postgresql+psycopg://{params.get('user', 'postgres')}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(f"{PG_ADMIN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version(url: str) -> str | None:
    if not url.startswith("postgresql"):
        return None
    with open_job_store(url, environ={}) as store, store.engine.connect() as conn:
        return str(conn.exec_driver_sql("SHOW server_version").scalar_one())


def store_jobs(
    store: JobStore, n: int, cwd: Path, command: list[str] | None = None
) -> list[tuple[str, str]]:
    """``n`` queued jobs (``bulk``, every tenth ``few``), planned far ahead; ``(id, team)``.

    ``command``: what each job runs (default ``true``, never run by the protocol's workers).
    Each has a plan, made now, so that a real Worker runs it as planned without planning it.
    """
    now = datetime.now(UTC)
    rows, out = [], []
    argv = json.dumps(command or ["true"])
    plan = json.dumps({"zone": "DE", "start": "planned by the benchmark", "slots": []})
    for i in range(n):
        job_id, team = uuid.uuid4().hex[:12], "few" if i % 10 == 9 else "bulk"
        deadline = now + timedelta(hours=6)
        rows.append(
            {
                "id": job_id,
                "version": 0,
                "state": "queued",
                "created_at": now,
                "updated_at": now,
                "command": argv,
                "cwd": str(cwd),
                "state_dir": str(cwd / "jobs" / job_id),
                "zones": '["DE"]',
                "duration_h": 0.001,
                "deadline": deadline,
                "latest_start": latest_start(deadline, 0.001, 0.0),
                "interruptible": False,
                "min_chunk_h": 1.0,
                "pause_overhead_h": 0.0,
                "team": team,
                "work_done_h": 0.0,
                "attempts": 0,
                "planned_at": now,
                "planned_start": FAR,
                "plan": plan,
                "pause_requested": False,
                "record_ids": "[]",
                "note": "",
            }
        )
        out.append((job_id, team))
    if "latest_start" not in JOBS.c:  # a checkout from before migration 0004 (before/after runs)
        for row in rows:
            del row["latest_start"]
    with store.engine.begin() as conn:
        conn.execute(JOBS.insert(), rows)
    return out


def schedule(
    store: JobStore, jobs: list[tuple[str, str]], t0: float, spread_s: float
) -> dict[str, float]:
    """Plan job ``i`` at ``t0 + spread_s * i / n``; return each job's planned start (Unix s)."""
    planned = {job_id: t0 + spread_s * i / len(jobs) for i, (job_id, _) in enumerate(jobs)}
    stmt = (
        update(JOBS)
        .where(JOBS.c.id == bindparam("job_id"))
        .values(planned_start=bindparam("start"))
    )
    params = [
        {"job_id": job_id, "start": datetime.fromtimestamp(t, UTC)} for job_id, t in planned.items()
    ]
    with store.engine.begin() as conn:
        conn.execute(stmt, params)
    return planned


def start_when_ready(
    name: str,
    procs: list[subprocess.Popen[bytes]],
    ready: Callable[[], bool],
    timeout_s: float,
    store: JobStore,
    jobs: list[tuple[str, str]],
    spread_s: float,
) -> tuple[float, dict[str, float]]:
    """Wait until ``ready()`` (every worker started), then make the jobs due from now over
    ``spread_s``: the start time (Unix seconds) and what :func:`schedule` planned."""
    end = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > end or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"{name}: the workers did not start")
        time.sleep(0.05)
    t0 = time.time() + 0.2
    return t0, schedule(store, jobs, t0, spread_s)


def wait_all(name: str, procs: list[subprocess.Popen[bytes]]) -> None:
    """Wait for every worker still running to exit; raise if one failed."""
    for proc in procs:
        if proc.returncode is None and proc.wait(3600) != 0:
            raise RuntimeError(f"{name}: a worker failed ({proc.returncode})")


def kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill and reap every worker still running."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def lateness_fields(
    first_claim: dict[str, float], planned: dict[str, float], team_of: dict[str, str]
) -> dict[str, Any]:
    """Lateness of each job's first claim against its planned start (ms): overall and per team."""
    lateness = {job_id: max(0.0, at - planned[job_id]) for job_id, at in first_claim.items()}
    by_team: dict[str, list[float]] = {}
    for job_id, late in lateness.items():
        by_team.setdefault(team_of[job_id], []).append(late)
    late_all = list(lateness.values())
    return {
        "lateness_p50_ms": round(1000 * percentile(late_all, 0.5), 1),
        "lateness_p95_ms": round(1000 * percentile(late_all, 0.95), 1),
        "lateness_max_ms": round(1000 * max(late_all), 1),
        "lateness_p95_ms_by_team": {
            team: round(1000 * percentile(v, 0.95), 1) for team, v in sorted(by_team.items())
        },
    }


def run_config(backend: str, workers: int, n: int, spread_s: float, tmp: Path) -> dict[str, Any]:
    """The protocol's harness (:func:`run_queue_worker`) in ``workers`` processes."""
    name = f"{'pg' if backend == 'postgres' else 'sqlite'}_{workers}"
    work = tmp / name
    work.mkdir()
    with fresh_database(backend, tmp) as url:
        with open_job_store(url, environ={}) as store:
            t = time.perf_counter()
            jobs = store_jobs(store, n, work)
            log(f"{name}: stored {n} jobs in {time.perf_counter() - t:.1f} s")
            logs = [work / f"w{k}.log" for k in range(workers)]
            procs = [
                subprocess.Popen(queue_worker_command(url, f"w{k}", path, lease_s=LEASE_S))
                for k, path in enumerate(logs)
            ]
            try:
                t0, planned = start_when_ready(
                    name,
                    procs,
                    lambda: all(read_queue_log(path) for path in logs),
                    120,
                    store,
                    jobs,
                    spread_s,
                )
                log(f"{name}: {workers} worker(s) ready; jobs due from now over {spread_s:g} s")
                wait_all(name, procs)
            finally:
                kill_all(procs)
            succeeded = store.count_jobs(["succeeded"])
        events = [e for path in logs for e in read_queue_log(path)]
    claims = [(e[3][0], e[1]) for e in events if e[0] == "claim"]
    done = [(e[3][0], e[1]) for e in events if e[0] == "done"]
    first_claim: dict[str, float] = {}
    for at, job_id in sorted(claims):
        first_claim.setdefault(job_id, at)
    per_job, per_done = Counter(j for _, j in claims), Counter(j for _, j in done)
    start = min(at for at, _ in claims)
    result = {
        "backend": "postgresql" if backend == "postgres" else "sqlite",
        "mode": "protocol",
        "workers": workers,
        "jobs": n,
        "claims": len(claims),
        "claims_per_s": round(len(claims) / (max(at for at, _ in claims) - start), 1),
        "completions_per_s": round(len(done) / (max(at for at, _ in done) - start), 1),
        "duplicates": sum(c - 1 for c in per_job.values()),
        "duplicate_completions": sum(c - 1 for c in per_done.values()),
        "lost": n - succeeded,
        "never_claimed": n - len(per_job),
        "busy_retries": sum(1 for e in events if e[0] == "busy"),
        **lateness_fields(first_claim, planned, dict(jobs)),
        "drain_s": round(max(at for at, _ in done) - t0, 2),
    }
    log(f"{name}: {json.dumps(result)}")
    return result


#: A real Worker in its own process: ``python -c WORKER_CODE URL READY_FILE``.
WORKER_CODE = """
import pathlib, sys
from lowcarb.energy import FakeMeter
from lowcarb.grid import StaticIntensitySource
from lowcarb.jobs import Worker, WorkerConfig, open_job_store
url, ready = sys.argv[1], pathlib.Path(sys.argv[2])
store = open_job_store(url, environ={})
config = WorkerConfig(poll_s=0.5, lease_s=30.0, grace_s=30.0, max_parallel=4)
worker = Worker(store, StaticIntensitySource(), ledger_url=url, environ={}, config=config,
                meters=[FakeMeter(power_w={"cpu": 10.0})])
ready.write_text(worker.id)
worker.run(until_idle=True)
"""


def run_worker_config(
    backend: str,
    workers: int,
    n: int,
    spread_s: float,
    tmp: Path,
    *,
    kills: int = 0,
    job_s: float = 0.0,
) -> dict[str, Any]:
    """The real Worker in ``workers`` processes; with ``kills``, SIGKILL that many mid-run."""
    mode = "kill" if kills else "worker"
    name = f"{'pg' if backend == 'postgres' else 'sqlite'}_{workers}_{mode}"
    work = tmp / name
    work.mkdir()
    runs_file = work / "runs.txt"  # each run appends its job's id: executions, counted
    script = f'echo "$LOWCARB_JOB_ID" >> {runs_file}' + (f"; sleep {job_s:g}" if job_s else "")
    killed = 0
    with fresh_database(backend, tmp) as url:
        with open_job_store(url, environ={}) as store:
            jobs = store_jobs(store, n, work, ["sh", "-c", script])
            procs: list[subprocess.Popen[bytes]] = []

            def spawn() -> Path:
                ready = work / f"ready{len(procs)}"
                argv = [sys.executable, "-c", WORKER_CODE, url, str(ready)]
                procs.append(subprocess.Popen(argv, cwd=work))
                return ready

            readies = [spawn() for _ in range(workers)]
            try:
                t0, planned = start_when_ready(
                    name,
                    procs,
                    lambda: all(r.exists() for r in readies),
                    300,
                    store,
                    jobs,
                    spread_s,
                )
                log(f"{name}: {workers} Worker(s) ready; jobs due from now over {spread_s:g} s")
                while killed < kills:
                    running = {j.worker_pid for j in store.list_jobs(["running"])}
                    busy = [p for p in procs if p.poll() is None and p.pid in running]
                    if not busy:
                        if not store.count_jobs(["queued"]):
                            break  # drained before every kill: report how many there were
                        time.sleep(0.05)
                        continue
                    victim = random.choice(busy)
                    time.sleep(random.uniform(0.0, job_s / 2))
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait()
                    killed += 1
                    log(f"{name}: SIGKILLed worker {victim.pid} mid-run ({killed}/{kills})")
                    spawn()
                    time.sleep(1.0)
                wait_all(name, procs)
            finally:
                kill_all(procs)
            final = {j.id: j for j in store.list_jobs()}
        with open_ledger(url, environ={}) as ledger:
            records = Counter(
                str(r.metadata.get("job_id")) for r in ledger.records() if r.kind == "run"
            )
    executions = Counter(runs_file.read_text().split()) if runs_file.exists() else Counter()
    first_claim = {j.id: j.started_at.timestamp() for j in final.values() if j.started_at}
    finished = [j.finished_at.timestamp() for j in final.values() if j.finished_at]
    start = min(first_claim.values())
    result = {
        "backend": "postgresql" if backend == "postgres" else "sqlite",
        "mode": mode,
        "workers": workers,
        "max_parallel": 4,
        "jobs": n,
        "job": f"sh -c '{script.replace(str(runs_file), 'RUNS')}' under the job wrapper",
        "kills": killed,
        "claims": sum(j.attempts for j in final.values()),
        "claims_per_s": round(len(first_claim) / (max(first_claim.values()) - start), 1),
        "completions_per_s": round(len(finished) / (max(finished) - start), 1),
        "duplicates": sum(c - 1 for c in executions.values() if c > 1),
        "duplicate_completions": sum(c - 1 for c in records.values() if c > 1),
        "lost": sum(1 for j in final.values() if j.state != "succeeded"),
        "never_run": n - len(executions),
        "reclaims": sum(max(0, j.attempts - 1) for j in final.values()),
        **lateness_fields(first_claim, planned, dict(jobs)),
        "drain_s": round(max(finished) - t0, 2),
    }
    log(f"{name}: {json.dumps(result)}")
    return result


DEFAULT_CONFIGS = "pg:8,pg:1,sqlite:8,sqlite:1,pg:8:worker,pg:8:kill"
MODES = ("protocol", "worker", "kill")


def parse_configs(text: str) -> list[tuple[str, int, str]]:
    """``BACKEND:WORKERS[:MODE],...`` as ``(backend, workers, mode)``.

    Raises:
        ValueError: An item that is not one, quoted with what is allowed.
    """
    configs = []
    for item in text.split(","):
        backend, _, rest = item.partition(":")
        count, _, mode = rest.partition(":")
        mode = mode or "protocol"
        if backend not in ("pg", "sqlite") or not count.isdigit() or int(count) < 1:
            raise ValueError(f"{item!r} is not BACKEND:WORKERS[:MODE] (pg:8, sqlite:1:worker)")
        if mode not in MODES:
            raise ValueError(f"{item!r}: mode {mode!r} is not one of {', '.join(MODES)}")
        configs.append(("postgres" if backend == "pg" else "sqlite", int(count), mode))
    return configs


def config_key(backend: str, workers: int, mode: str) -> str:
    """``pg_8_workers`` (the protocol, as before), ``pg_8_workers_real``, ``pg_8_workers_kill``."""
    key = f"{'pg' if backend == 'postgres' else 'sqlite'}_{workers}_worker"
    key += "s" if workers > 1 else ""
    return key + {"protocol": "", "worker": "_real", "kill": "_kill"}[mode]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=10_000, help="jobs per protocol configuration")
    ap.add_argument(
        "--worker-jobs", type=int, default=1_000, help="jobs per worker or kill configuration"
    )
    ap.add_argument("--spread-s", type=float, default=5.0, help="planned starts spread over")
    ap.add_argument("--kills", type=int, default=3, help="workers SIGKILLed in a kill config")
    ap.add_argument("--kill-job-s", type=float, default=0.3, help="each job's run in a kill config")
    ap.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help=f"BACKEND:WORKERS[:MODE], comma-separated (pg, sqlite; {', '.join(MODES)}); "
        f"default {DEFAULT_CONFIGS}",
    )
    args = ap.parse_args(argv)
    try:
        configs = parse_configs(args.configs)
    except ValueError as exc:
        ap.error(f"--configs: {exc}")
    logging.basicConfig(level=logging.WARNING)
    info = machine()
    info["load_average_before"] = load_average()
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lowcarb-queue-") as tmp:
        for backend, workers, mode in configs:
            key = config_key(backend, workers, mode)
            if mode == "protocol":
                results[key] = run_config(backend, workers, args.jobs, args.spread_s, Path(tmp))
            else:
                results[key] = run_worker_config(
                    backend,
                    workers,
                    args.worker_jobs,
                    args.spread_s,
                    Path(tmp),
                    kills=args.kills if mode == "kill" else 0,
                    job_s=args.kill_job_s if mode == "kill" else 0.0,
                )
        if any(b == "postgres" for b, _, _ in configs):
            with fresh_database("postgres", Path(tmp)) as url:
                info["postgresql"] = server_version(url)
    info["load_average_after"] = load_average()
    ratios: dict[str, float] = {}

    def ratio(name: str, a: str, b: str, field: str) -> None:
        if a in results and b in results and results[b][field]:
            ratios[name] = round(results[a][field] / results[b][field], 2)

    counts = sorted({w for _, w, _ in configs if w > 1})
    for backend in ("pg", "sqlite"):
        for w in counts:
            for field in ("claims", "completions"):
                ratio(
                    f"{backend}_{w}_workers_vs_1_worker_{field}",
                    f"{backend}_{w}_workers",
                    f"{backend}_1_worker",
                    f"{field}_per_s",
                )
    for suffix in ("1_worker", *(f"{w}_workers" for w in counts)):
        ratio(f"pg_vs_sqlite_{suffix}_claims", f"pg_{suffix}", f"sqlite_{suffix}", "claims_per_s")
    out = {
        "benchmark": "queue",
        "job": "protocol: a no-op Python step inside each worker process (measures the queue, "
        "not spawning); worker and kill: a real process per job under the real Worker",
        "jobs_per_config": args.jobs,
        "jobs_per_worker_config": args.worker_jobs,
        "spread_s": args.spread_s,
        "lease_s": LEASE_S,
        "teams": {"bulk": 0.9, "few": 0.1},
        **results,
        "ratios": ratios,
        "checks": {
            "duplicates_zero": all(
                r["duplicates"] == 0 and r["duplicate_completions"] == 0 for r in results.values()
            ),
            "lost_zero": all(r["lost"] == 0 for r in results.values()),
            "kills_done": all(
                r["kills"] == args.kills for r in results.values() if r["mode"] == "kill"
            ),
        },
        "total_s": round(time.perf_counter() - started, 1),
        "machine": info,
    }
    out = {"benchmark": out["benchmark"], "ratios": out["ratios"], **out}  # ratios first
    print(json.dumps(out))
    checks = out["checks"]
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
