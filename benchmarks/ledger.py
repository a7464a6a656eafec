"""Ledger throughput: lowcarb on SQLite and PostgreSQL, side by side with MLflow's SQLite store.

Prints ONE JSON line on stdout (progress goes to stderr):

* ``single_appends_per_s``: durable one-record ``append`` calls (each its own committed,
  fsynced transaction), drafts built beforehand; ``single_end_to_end_per_s`` includes building
  each draft from a footprint (``draft_from_footprint``).
* ``batched_appends_per_s``: ``append_many`` in batches of ``--batch-size`` until the ledger
  holds ``--records`` records, drafts built beforehand; ``batched_end_to_end_per_s`` includes
  building them.
* ``verify_records_per_s``: ``Ledger.verify()`` over those ``--records`` records (median of
  ``--verify-runs``; ``_best`` is the fastest run).
* ``mlflow_sqlite.records_per_s``: the same information (metrics and tags of one record) written
  to MLflow's SQLite tracking store as one run per record (create run, ``log_batch`` of metrics and
  tags, terminate), metrics and tags built beforehand, on ``--mlflow-records`` records.

* ``*_per_cpu_s`` / ``*_cpu_ms``: the same work per second (per record) of this process's CPU
  time, which the machine's other load moves far less than wall time; ``sqlite_settings``: the
  journal mode and ``synchronous`` level the ledger's connections really use.

Single appends and MLflow writes are interleaved in ``--rounds`` rounds, so that both see the same
machine: durable writes are bound by fsync latency, which swings with whatever else the machine
is doing (``load_average`` is reported). Targets (issue 3): SQLite single appends >= 50x MLflow's
rate, batched >= 20,000/s, verification >= 200,000 records/s.

Usage::

    python benchmarks/ledger.py                       # 100,000 records, both backends, MLflow
    python benchmarks/ledger.py --records 20000 --no-postgres --no-mlflow   # quick
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from lowcarb.ledger import Attribution, Ledger, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.ledger.testing import sample_footprint

PG_ADMIN = os.environ.get("LOWCARB_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def make_draft(i: int) -> RecordDraft:
    """A realistic record: a measured run, attributed, with a little metadata."""
    return draft_from_footprint(
        sample_footprint(cpu_j=1000.0 + i, gpu_j=5000.0 + 2 * i, duration_s=60.0 + i % 17),
        attribution=Attribution(
            team=f"team{i % 7}", project=f"proj{i % 13}", model="resnet50", run_id=f"run-{i}"
        ),
        metadata={"exit_code": 0, "argv": ["python", "train.py", f"--seed={i}"]},
    )


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


class Timer:
    """Accumulates timed work (wall and this process's CPU time) and its item count."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.items = 0

    def run(self, fn: Callable[[], object], items: int) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        self.items += items


def single_appends(ledger: Ledger, start: int, n: int, build: Timer, append: Timer) -> None:
    drafts: list[RecordDraft] = []
    build.run(lambda: drafts.extend(make_draft(start + k) for k in range(n)), n)

    def go() -> None:
        for draft in drafts:
            ledger.append(draft)

    append.run(go, n)


def fill_and_verify(ledger: Ledger, start: int, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    build, append = Timer(), Timer()
    done = start
    while done < args.records:
        n = min(args.batch_size, args.records - done)
        drafts: list[RecordDraft] = []
        build.run(lambda: drafts.extend(make_draft(done + k) for k in range(n)), n)  # noqa: B023
        append.run(lambda: ledger.append_many(drafts), n)  # noqa: B023
        done += n
    out["batched_appends_per_s"] = rate(append.items, append.seconds)
    out["batched_appends_per_cpu_s"] = rate(append.items, append.cpu_seconds)
    out["batched_end_to_end_per_s"] = rate(append.items, append.seconds + build.seconds)
    out["batch_size"] = args.batch_size
    log(f"{ledger.url}: batched {out['batched_appends_per_s']}/s")
    runs, cpu_runs = [], []
    for _ in range(args.verify_runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = ledger.verify()
        runs.append(time.perf_counter() - t0)
        cpu_runs.append(time.process_time() - c0)
        if not result.ok or result.entries != args.records:
            raise SystemExit(f"verification failed: {result}")
    out["verify_records_per_s"] = rate(args.records, statistics.median(runs))
    out["verify_records_per_s_best"] = rate(args.records, min(runs))
    out["verify_records_per_cpu_s"] = rate(args.records, statistics.median(cpu_runs))
    out["verified_records"] = args.records
    log(f"{ledger.url}: verify {out['verify_records_per_s']}/s")
    return out


def sqlite_settings(ledger: Ledger) -> dict[str, Any]:
    """The journal mode and synchronous level the ledger's own connections use."""
    raw: Any = ledger._store.engine.raw_connection()  # reporting only, never writing
    try:
        cur = raw.driver_connection.cursor()
        journal = cur.execute("PRAGMA journal_mode").fetchone()[0]
        sync = cur.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        raw.close()
    return {
        "journal_mode": journal,
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, sync),
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"lowcarb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN + " dbname=postgres connect_timeout=3", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    conninfo = dict(p.split("=", 1) for p in PG_ADMIN.split())
    try:
        yield (
            f"postgresql+psycopg://{conninfo.get('user', 'postgres')}@"
            f"{conninfo.get('host', '127.0.0.1')}:{conninfo.get('port', '5432')}/{name}"
        )
    finally:
        with psycopg.connect(PG_ADMIN + " dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MlflowWriter:
    """Writes one ledger record's information as one MLflow run (metrics + tags)."""

    def __init__(self, tmp: Path) -> None:
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        warnings.simplefilter("ignore")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
        self.exp = self.client.create_experiment("bench", artifact_location=str(tmp / "art"))
        self.write(-1, *self.prepare(-1))  # warm-up: schema creation is not part of the rate

    @staticmethod
    def prepare(i: int) -> tuple[list[Any], list[Any]]:
        from mlflow.entities import Metric, RunTag

        d = make_draft(i)
        fp = d.footprint
        assert fp is not None
        ts = int(time.time() * 1000)
        tags = {f"lowcarb.{k}": v for k, v in d.attribution.as_dict().items() if v is not None}
        tags |= {"lowcarb.kind": d.kind, "lowcarb.zone": fp.intensity.zone}
        tags |= {"lowcarb.intensity_source": fp.intensity.source, "lowcarb.record_id": str(i)}
        tags |= {"lowcarb.metadata": json.dumps(d.plain_metadata)}
        for c in fp.measurement.components:
            tags[f"lowcarb.{c.name}.method"] = c.method
            tags[f"lowcarb.{c.name}.source"] = c.source
        metrics = {
            "energy_kwh": fp.energy_kwh,
            "co2e_g": fp.co2e_g,
            "pue": fp.pue,
            "intensity_g_per_kwh": fp.intensity.intensity_g_per_kwh,
            "duration_s": fp.measurement.duration_s,
        }
        metrics |= {f"{c.name}.energy_j": c.energy_j for c in fp.measurement.components}
        return (
            [Metric(k, float(v), ts, 0) for k, v in metrics.items()],
            [RunTag(k, str(v)) for k, v in tags.items()],
        )

    def write(self, i: int, metrics: list[Any], tags: list[Any]) -> None:
        run = self.client.create_run(self.exp, tags={"mlflow.runName": f"record-{i}"})
        self.client.log_batch(run.info.run_id, metrics=metrics, tags=tags)
        self.client.set_terminated(run.info.run_id)

    def records(self, start: int, n: int, timer: Timer) -> None:
        prepared = [self.prepare(start + k) for k in range(n)]

        def go() -> None:
            for k, (metrics, tags) in enumerate(prepared):
                self.write(start + k, metrics, tags)

        timer.run(go, n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=100_000, help="ledger size to verify")
    p.add_argument("--single", type=int, default=1_000, help="single durable appends to time")
    p.add_argument("--batch-size", type=int, default=1_000, help="records per append_many")
    p.add_argument("--verify-runs", type=int, default=3)
    p.add_argument("--mlflow-records", type=int, default=200)
    p.add_argument("--rounds", type=int, default=10, help="interleaving rounds for single writes")
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args(argv)
    if args.single >= args.records or args.rounds < 1:
        p.error("need --single < --records and --rounds >= 1")

    result: dict[str, Any] = {
        "benchmark": "lowcarb.ledger",
        "records": args.records,
        "method": (
            "rates are of the ledger calls alone: drafts (and MLflow's metrics/tags) are built "
            "before timing; *_end_to_end_* include building them; *_per_cpu_s and *_cpu_ms are "
            "this process's CPU time (user+sys), reported because the wall rates swing with "
            "the machine's other load; targets are judged on the wall rates"
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lowcarb-bench-") as tmp_s, ExitStack() as stack:
        tmp = Path(tmp_s)
        sqlite_ledger = open_ledger(f"sqlite:///{tmp / 'ledger.db'}", environ={})
        ledgers = {"sqlite": stack.enter_context(sqlite_ledger)}
        result["sqlite_settings"] = sqlite_settings(sqlite_ledger)
        result["postgresql"] = {"skipped": "--no-postgres"}
        if not args.no_postgres:
            try:
                url = stack.enter_context(postgres_database())
                ledgers["postgresql"] = stack.enter_context(open_ledger(url, environ={}))
            except Exception as exc:  # report, do not hide: the JSON says why it is missing
                result["postgresql"] = {"skipped": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        mlflow = None if args.no_mlflow else MlflowWriter(tmp)

        # Single writes, interleaved round by round so every system sees the same machine.
        timers = {name: (Timer(), Timer()) for name in ledgers}
        mlflow_timer = Timer()
        for r in range(args.rounds):
            lo, hi = args.single * r // args.rounds, args.single * (r + 1) // args.rounds
            for name, ledger in ledgers.items():
                single_appends(ledger, lo, hi - lo, *timers[name])
            if mlflow is not None:
                m_lo = args.mlflow_records * r // args.rounds
                m_hi = args.mlflow_records * (r + 1) // args.rounds
                mlflow.records(m_lo, m_hi - m_lo, mlflow_timer)
        for name, ledger in ledgers.items():
            build, append = timers[name]
            result[name] = {
                "single_appends_per_s": rate(append.items, append.seconds),
                "single_append_cpu_ms": round(1000 * append.cpu_seconds / max(append.items, 1), 3),
                "single_end_to_end_per_s": rate(append.items, append.seconds + build.seconds),
                "single_n": append.items,
            }
            log(f"{name}: single {result[name]['single_appends_per_s']}/s")
            result[name] |= fill_and_verify(ledger, args.single, args)
        if mlflow is None:
            result["mlflow_sqlite"] = {"skipped": "--no-mlflow"}
        else:
            mlflow_rate = rate(mlflow_timer.items, mlflow_timer.seconds)
            result["mlflow_sqlite"] = {
                "records_per_s": mlflow_rate,
                "record_cpu_ms": round(1000 * mlflow_timer.cpu_seconds / mlflow_timer.items, 3),
                "records": mlflow_timer.items,
            }
            log(f"mlflow: {mlflow_rate}/s")

    sq = result["sqlite"]
    mlflow_rate = result["mlflow_sqlite"].get("records_per_s")
    ratios: dict[str, float] = {}
    if mlflow_rate:
        for name in ledgers:
            ratios[f"{name}_single_vs_mlflow"] = round(
                result[name]["single_appends_per_s"] / mlflow_rate, 1
            )
    result["ratios"] = ratios
    vs_mlflow = ratios.get("sqlite_single_vs_mlflow")
    result["targets_met"] = {
        "sqlite_single_ge_50x_mlflow": None if vs_mlflow is None else vs_mlflow >= 50,
        "sqlite_batched_ge_20000_per_s": sq["batched_appends_per_s"] >= 20_000,
        "sqlite_verify_ge_200000_per_s": sq["verify_records_per_s"] >= 200_000,
    }
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
