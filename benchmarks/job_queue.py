"""The job queue at scale: worker processes on one PostgreSQL queue, side by side with SQLite.

Prints ONE JSON line on stdout (progress goes to stderr). For each configuration (default: 8
worker processes on PostgreSQL, 1 on PostgreSQL, 8 on SQLite, 1 on SQLite), on a fresh database:

* ``--jobs`` jobs (default 10,000) of two teams, ``bulk`` (9 in 10) and ``few`` (1 in 10,
  interleaved), are stored ``queued``; ``--workers`` processes start and report ready; then the
  jobs' planned starts are set, spread evenly over the ``--spread-s`` seconds (default 5) that
  follow, so all become due within them: a burst far above what any configuration here drains
  in that time, so that the queue always holds due work.
* Each worker is :func:`lowcarb.jobs.testing.run_queue_worker`, a separate Python process
  following the store's queue protocol: ``claim_next`` with a 30 s lease (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite; deadlines first, then round-robin
  between teams), run the job, ``complete`` it (a fenced, conditional update), re-queue lapsed
  leases every 7.5 s. **The job is a no-op Python step inside the worker**, so the figures are
  the queue's (claims, completions, lease bookkeeping), not process spawning: the
  :class:`~lowcarb.jobs.Worker` runs each job as a measured process, tens of milliseconds each.
* Every claim, run end and applied completion is a line in the worker's log, written before its
  next step. From those and the jobs table: ``claims_per_s`` (claims over the time from the first
  claim to the last), ``completions_per_s``, ``duplicates`` (claims beyond the first of a job:
  must be 0), ``duplicate_completions`` (must be 0), ``lost`` (jobs not ``succeeded`` at the
  end: must be 0), the lateness of each job's claim against its planned start (``p50``,
  ``p95``, ``max``, and ``p95`` per team: the small team is not starved by the big one), and
  ``busy_retries``: steps a worker retried because SQLite's write lock was not granted within
  its 30 s busy timeout (SQLite serialises writers; its busy handler is not fair).

``ratios`` compares the configurations; ``checks`` says whether duplicates and lost jobs were 0
everywhere; ``machine`` gives the CPU, its cores and the load average before and after.

Usage::

    python benchmarks/job_queue.py                            # 10,000 jobs x 4 configurations
    python benchmarks/job_queue.py --jobs 2000 --configs pg:8,pg:1   # quick
"""

from __future__ import annotations

import os
import sys

# This file shares its name with the standard library's ``queue`` (which psycopg imports): run as
# a script, its own folder must not come first on the path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import bindparam, update  # noqa: E402

from lowcarb.jobs import JobStore, open_job_store  # noqa: E402
from lowcarb.jobs._job import JOBS  # noqa: E402  (the table itself: 10,000 rows in one statement)
from lowcarb.jobs.testing import queue_worker_command, read_queue_log  # noqa: E402

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


def store_jobs(store: JobStore, n: int, cwd: Path) -> list[tuple[str, str]]:
    """``n`` queued jobs (``bulk``, every tenth ``few``), planned far ahead; ``(id, team)``."""
    now = datetime.now(UTC)
    rows, out = [], []
    for i in range(n):
        job_id, team = uuid.uuid4().hex[:12], "few" if i % 10 == 9 else "bulk"
        rows.append(
            {
                "id": job_id,
                "version": 0,
                "state": "queued",
                "created_at": now,
                "updated_at": now,
                "command": '["true"]',
                "cwd": str(cwd),
                "state_dir": str(cwd / job_id),
                "zones": '["DE"]',
                "duration_h": 0.001,
                "deadline": now + timedelta(hours=6),
                "interruptible": False,
                "min_chunk_h": 1.0,
                "pause_overhead_h": 0.0,
                "team": team,
                "work_done_h": 0.0,
                "attempts": 0,
                "planned_at": now,
                "planned_start": FAR,
                "pause_requested": False,
                "record_ids": "[]",
                "note": "",
            }
        )
        out.append((job_id, team))
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


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_config(backend: str, workers: int, n: int, spread_s: float, tmp: Path) -> dict[str, Any]:
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
                end = time.monotonic() + 120
                while not all(read_queue_log(path) for path in logs):
                    if time.monotonic() > end or any(p.poll() is not None for p in procs):
                        raise RuntimeError(f"{name}: the workers did not start")
                    time.sleep(0.05)
                t0 = time.time() + 0.2
                planned = schedule(store, jobs, t0, spread_s)
                log(f"{name}: {workers} worker(s) ready; jobs due from now over {spread_s:g} s")
                for proc in procs:
                    if proc.wait(1800) != 0:
                        raise RuntimeError(f"{name}: a worker failed ({proc.returncode})")
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            succeeded = store.count_jobs(["succeeded"])
        events = [e for path in logs for e in read_queue_log(path)]
    claims = [(e[3][0], e[1]) for e in events if e[0] == "claim"]
    done = [(e[3][0], e[1]) for e in events if e[0] == "done"]
    first_claim = {}
    for at, job_id in sorted(claims):
        first_claim.setdefault(job_id, at)
    per_job, per_done = Counter(j for _, j in claims), Counter(j for _, j in done)
    start = min(at for at, _ in claims)
    lateness = {job_id: max(0.0, first_claim[job_id] - planned[job_id]) for job_id in first_claim}
    team_of = dict(jobs)
    by_team: dict[str, list[float]] = {}
    for job_id, late in lateness.items():
        by_team.setdefault(team_of[job_id], []).append(late)
    late_all = list(lateness.values())
    result = {
        "backend": "postgresql" if backend == "postgres" else "sqlite",
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
        "lateness_p50_ms": round(1000 * percentile(late_all, 0.5), 1),
        "lateness_p95_ms": round(1000 * percentile(late_all, 0.95), 1),
        "lateness_max_ms": round(1000 * max(late_all), 1),
        "lateness_p95_ms_by_team": {
            team: round(1000 * percentile(v, 0.95), 1) for team, v in sorted(by_team.items())
        },
        "drain_s": round(max(at for at, _ in done) - t0, 2),
    }
    log(f"{name}: {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=10_000, help="jobs per configuration")
    ap.add_argument("--spread-s", type=float, default=5.0, help="planned starts spread over")
    ap.add_argument(
        "--configs",
        default="pg:8,pg:1,sqlite:8,sqlite:1",
        help="backend:workers, comma-separated (backends: pg, sqlite)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    configs = []
    for item in args.configs.split(","):
        backend, _, count = item.partition(":")
        if backend not in ("pg", "sqlite") or not count.isdigit() or int(count) < 1:
            ap.error(f"--configs: {item!r} is not BACKEND:WORKERS (pg:8, sqlite:1)")
        configs.append(("postgres" if backend == "pg" else "sqlite", int(count)))
    info = machine()
    info["load_average_before"] = load_average()
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lowcarb-queue-") as tmp:
        for backend, workers in configs:
            key = f"{'pg' if backend == 'postgres' else 'sqlite'}_{workers}_worker"
            key += "s" if workers > 1 else ""
            results[key] = run_config(backend, workers, args.jobs, args.spread_s, Path(tmp))
        if any(b == "postgres" for b, _ in configs):
            with fresh_database("postgres", Path(tmp)) as url:
                info["postgresql"] = server_version(url)
    info["load_average_after"] = load_average()
    ratios: dict[str, float] = {}

    def ratio(name: str, a: str, b: str, field: str) -> None:
        if a in results and b in results and results[b][field]:
            ratios[name] = round(results[a][field] / results[b][field], 2)

    counts = sorted({w for _, w in configs if w > 1})
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
        "job": "no-op Python step inside each worker process (measures the queue, not spawning)",
        "jobs_per_config": args.jobs,
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
        },
        "total_s": round(time.perf_counter() - started, 1),
        "machine": info,
    }
    print(json.dumps(out))
    return 0 if out["checks"]["duplicates_zero"] and out["checks"]["lost_zero"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
