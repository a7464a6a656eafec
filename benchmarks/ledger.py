"""Ledger throughput, each figure beside its physical limit measured in the same run.

Prints ONE JSON line on stdout (progress goes to stderr). ``ratios`` comes first: each is the
ledger's rate over a reference that does the same physical work with nothing of the ledger in
it, measured back to back on the same database (same file or server, same settings, same rows and
bytes), so it holds on any machine:

* ``<b>_single_vs_raw_commit``: durable one-record ``append`` calls against raw one-row committed
  transactions of the same rows (SQLite: ``BEGIN IMMEDIATE``/``INSERT``/``COMMIT`` on a
  ``sqlite3`` connection, WAL, ``synchronous=FULL``; PostgreSQL: one autocommit ``INSERT`` on a
  psycopg connection): the fsync bound. Interleaved round by round.
* ``<b>_batched_vs_raw_executemany``: ``append_many`` of ``--batch-size`` records against a raw
  ``executemany`` of the same rows in one transaction per batch. Interleaved batch by batch.
* ``<b>_verify_vs_raw_read_and_hash``: ``Ledger.verify()`` against reading the same rows with the
  driver and ``hashlib.sha256`` over the same canonical bytes (the best of the raw ways tried).
* ``<b>_8_writers_vs_1_writer``: durable appends per second of 8 processes appending at once
  against one process alone (1, 2, 4 and 8 writers are reported, each beside raw one-row
  transactions from as many processes: what the database itself reaches on this machine).
* ``<b>_single_vs_mlflow``: context, not a target: single appends against the same information
  written to MLflow's SQLite tracking store as one run per record (``--no-mlflow`` skips it).

``targets`` and ``targets_met`` are keyed by ratio name (issue 20): batched >= 0.5 of raw
``executemany``, single >= 0.8 of the raw committed transaction, verification >= 0.5 of raw
read-and-hash, 8 writers >= 4x one writer; on both backends.

The raw reference tables are copies of the ledger table with its indexes (the same DDL), in the
same database. Absolute rates follow per backend, each section with the load average (1 min)
before and after it; ``machine`` names the CPU and cores. ``sigkill``: 8 writers appending are
killed with SIGKILL at random moments; every append acknowledged to them must be in the ledger
and the chain must verify. ``scale`` (``--scale-records``, default 1,000,000): ``verify`` and
``totals`` over a ledger of that size, each in a fresh process, with its peak RSS, beside the
same at the size the other sections used: streaming means a flat peak.

Usage::

    python benchmarks/ledger.py                     # both backends, 1,000,000-record scale
    python benchmarks/ledger.py --records 20000 --scale-records 0 --no-mlflow   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import random
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lowcarb.ledger import Attribution, Ledger, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.ledger._canonical import chain_hash, format_time
from lowcarb.ledger._fastbody import encode_draft_body
from lowcarb.ledger._record import new_record_id
from lowcarb.ledger.testing import sample_footprint

PG_ADMIN = os.environ.get("LOWCARB_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres")
PREFIX = b"lowcarb-ledger/1\n"
RAW, RAW_MANY = "bench_raw_ledger", "bench_raw_ledger_writers"
FLOOR = "bench_python_floor"  # SQLite: the Python floor's own copy of the ledger table
COLUMNS = "seq, prev_hash, hash, body, signature"
WRITERS = (1, 2, 4, 8)
TARGETS = {
    "batched_vs_raw_executemany": 0.5,
    "single_vs_raw_commit": 0.8,
    "verify_vs_raw_read_and_hash": 0.5,
    "8_writers_vs_1_writer": 4.0,
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def make_draft(i: int) -> RecordDraft:
    """A realistic record: a measured run, attributed, with a little metadata."""
    return draft_from_footprint(
        sample_footprint(cpu_j=1000.0 + i, gpu_j=5000.0 + 2 * i, duration_s=60.0 + i % 17),
        attribution=Attribution(
            team=f"team{i % 7}", project=f"proj{i % 13}", model="resnet50", run_id=f"run-{i}"
        ),
        metadata={"exit_code": 0, "argv": ["python", "train.py", f"--seed={i}"]},
    )


def rate(n: float, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


# -- the raw references --------------------------------------------------------------------------


class Raw:
    """The same database as a ledger, written and read without lowcarb (the references)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.conn = self.connect()
        self.p = "?" if self.dialect == "sqlite" else "%s"
        if not create:
            return
        if self.dialect == "sqlite":
            ddl = [
                str(r[0])
                for r in self.conn.execute(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'lowcarb_ledger' "
                    "AND type IN ('table', 'index') AND sql IS NOT NULL"
                )
            ]
            for table in (RAW, RAW_MANY, FLOOR):
                for stmt in ddl:
                    self.conn.execute(
                        stmt.replace("ix_lowcarb_ledger", f"ix_{table}").replace(
                            "lowcarb_ledger", table
                        )
                    )
        else:
            with self.conn.transaction():
                for table in (RAW, RAW_MANY):
                    self.conn.execute(f"CREATE TABLE {table} (LIKE lowcarb_ledger INCLUDING ALL)")
                self.conn.execute(f"CREATE SEQUENCE {RAW_MANY}_seq")
                self.conn.execute(
                    f"ALTER TABLE {RAW_MANY} ALTER seq SET DEFAULT nextval('{RAW_MANY}_seq')"
                )

    def connect(self) -> Any:
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("PRAGMA synchronous = FULL")  # as the ledger's connections
            conn.execute("PRAGMA busy_timeout = 30000")
            return conn
        import psycopg

        return psycopg.connect(pg_conninfo(self.url), autocommit=True)

    def rows(self, lo: int, hi: int) -> list[tuple[Any, ...]]:
        """The ledger's stored rows ``lo < seq <= hi``: the same rows and bytes."""
        sql = f"SELECT {COLUMNS} FROM lowcarb_ledger WHERE seq > {lo} AND seq <= {hi} ORDER BY seq"
        return [tuple(r) for r in self.conn.execute(sql).fetchall()]

    def insert_sql(self, table: str = RAW) -> str:
        return f"INSERT INTO {table} ({COLUMNS}) VALUES ({', '.join([self.p] * 5)})"

    def statement(
        self, rows: list[tuple[Any, ...]], table: str
    ) -> tuple[str, list[tuple[Any, ...]]]:
        """The INSERT and its rows: as given into ``RAW``; into ``RAW_MANY`` without ``seq``
        (new positions from its sequence)."""
        if table != RAW_MANY:
            return self.insert_sql(), rows
        p = self.p
        cols = "prev_hash, hash, body, signature"
        return f"INSERT INTO {table} ({cols}) VALUES ({p}, {p}, {p}, {p})", [r[1:] for r in rows]

    def single(self, rows: list[tuple[Any, ...]], *, table: str = RAW) -> None:
        """One committed (fsynced) transaction per row (``table`` ``RAW_MANY``: new positions)."""
        c = self.conn
        sql, rows = self.statement(rows, table)
        if self.dialect == "sqlite":
            for row in rows:
                c.execute("BEGIN IMMEDIATE")
                c.execute(sql, row)
                c.execute("COMMIT")
        else:
            for row in rows:
                c.execute(sql, row, prepare=True)

    def batch(self, rows: list[tuple[Any, ...]], *, table: str = RAW) -> None:
        """All rows in one transaction, ``executemany`` (``table`` as :meth:`single`)."""
        c = self.conn
        sql, rows = self.statement(rows, table)
        if self.dialect == "sqlite":
            c.execute("BEGIN IMMEDIATE")
            c.executemany(sql, rows)
            c.execute("COMMIT")
        else:
            with c.transaction(), c.cursor() as cur:
                cur.executemany(sql, rows)  # pipelined by psycopg 3

    def floor(self, drafts: list[RecordDraft], *, one_by_one: bool) -> None:
        """The Python floor (SQLite): the least work that writes the ledger's bytes, with
        lowcarb's own encoder: encode each body (id, timestamp), read the head, chain
        (SHA-256), insert, commit (one transaction per record, or one for all); nothing of
        validation, group commit or the returned records."""
        c = self.conn
        ins = f"INSERT INTO {FLOOR} ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        head = f"SELECT seq, hash FROM {FLOOR} ORDER BY seq DESC LIMIT 1"
        batches = [[d] for d in drafts] if one_by_one else [drafts]
        for batch in batches:
            stamp = format_time(datetime.now(UTC))
            bodies = [
                encode_draft_body(
                    d, record_id=new_record_id(), timestamp=stamp, signer=None, figures=None
                )
                for d in batch
            ]
            c.execute("BEGIN IMMEDIATE")
            seq, prev = c.execute(head).fetchone() or (0, "0" * 64)
            rows = []
            for body in bodies:
                seq += 1
                digest = chain_hash(seq, prev, body)
                rows.append((seq, prev, digest, body, None))
                prev = digest
            c.executemany(ins, rows)
            c.execute("COMMIT")

    def read_and_hash(self) -> dict[str, tuple[int, float]]:
        """Read every ledger row and hash its canonical bytes; ``{way: (rows, seconds)}``."""
        out = {}
        sha256 = hashlib.sha256
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            conn.text_factory = bytes
            t0, n = time.perf_counter(), 0
            for seq, prev, _h, body, _s in conn.execute(
                f"SELECT {COLUMNS} FROM lowcarb_ledger ORDER BY seq"
            ):
                sha256(b"%s%d\n%s\n%s" % (PREFIX, seq, prev, body)).hexdigest()
                n += 1
            out["sqlite3_cursor"] = (n, time.perf_counter() - t0)
            conn.close()
            return out
        import psycopg

        sql = (
            "SELECT seq, convert_to(prev_hash, 'UTF8'), convert_to(hash, 'UTF8'), "
            "convert_to(body, 'UTF8'), signature FROM lowcarb_ledger ORDER BY seq"
        )
        with psycopg.connect(pg_conninfo(self.url)) as conn:
            for way in ("server_cursor", "client_cursor"):
                t0, n = time.perf_counter(), 0
                if way == "server_cursor":
                    cur = conn.cursor(name="raw", binary=True)
                    cur.itersize = 20_000
                else:
                    cur = conn.cursor(binary=True)
                cur.execute(sql)
                for seq, prev, _h, body, _s in cur:
                    sha256(b"%s%d\n%s\n%s" % (PREFIX, seq, prev, body)).hexdigest()
                    n += 1
                cur.close()
                conn.rollback()
                out[way] = (n, time.perf_counter() - t0)
        return out

    def close(self) -> None:
        self.conn.close()


def pg_conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


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


# -- sections --------------------------------------------------------------------------------


class Timer:
    """Accumulated wall and CPU seconds of timed work, and its item count."""

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0
        self.items = 0

    def run(self, fn: Callable[[], object], items: int) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        self.items += items

    @property
    def per_s(self) -> float:
        return rate(self.items, self.seconds)


def singles(
    ledger: Ledger, raw: Raw, n: int, rounds: int, mlflow: MlflowWriter | None, mlflow_n: int
) -> dict[str, Any]:
    """Single durable appends against raw one-row commits (and MLflow), round by round."""
    lt, rt, mt, ft = Timer(), Timer(), Timer(), Timer()
    floor = raw.dialect == "sqlite"
    start = ledger.count()
    for i in range(20):  # warm-up, untimed: connections, prepared statements, the queue
        ledger.append(make_draft(i))
    raw.single(raw.rows(start, start + 20))
    l0 = load()
    for r in range(rounds):
        k = n * (r + 1) // rounds - n * r // rounds
        drafts = [make_draft(i) for i in range(k)]
        start = ledger.count()
        # Who goes first alternates: a durable write right after other writes (MLflow's,
        # the other side's) pays for their share of the file system's journal.
        if r % 2:
            rows = raw.rows(start - k, start)  # the same size and bytes, rewritten raw
            rt.run(lambda: raw.single(rows, table=RAW_MANY), k)  # noqa: B023
        lt.run(lambda: [ledger.append(d) for d in drafts], k)  # noqa: B023
        if not r % 2:
            rows = raw.rows(start, start + k)
            rt.run(lambda: raw.single(rows), k)  # noqa: B023
        if floor:
            ft.run(lambda: raw.floor(drafts, one_by_one=True), k)  # noqa: B023
        if mlflow is not None:
            m = mlflow_n * (r + 1) // rounds - mlflow_n * r // rounds
            mlflow.records(m, mt)
    out: dict[str, Any] = {
        "single_appends_per_s": lt.per_s,
        "raw_commits_per_s": rt.per_s,
        "single_append_cpu_ms": round(1000 * lt.cpu_seconds / lt.items, 3),
        "raw_commit_cpu_ms": round(1000 * rt.cpu_seconds / rt.items, 3),
        "single_n": lt.items,
        "load_average": [l0, load()],
    }
    if floor:
        out["python_floor_single_per_s"] = ft.per_s
    if mlflow is not None:
        out["mlflow_records_per_s"] = mt.per_s
    return out


def batched(ledger: Ledger, raw: Raw, total: int, batch_size: int) -> dict[str, Any]:
    """``append_many`` against raw ``executemany`` of the same rows, batch by batch."""
    lt, rt, build, ft = Timer(), Timer(), Timer(), Timer()
    floor = raw.dialect == "sqlite"
    l0 = load()
    r = 0
    while (done := ledger.count()) < total:
        k = min(batch_size, total - done)
        drafts: list[RecordDraft] = []
        build.run(lambda: drafts.extend(make_draft(done + i) for i in range(k)), k)  # noqa: B023
        if r % 2 and done >= k:  # who goes first alternates, as for single appends
            rows = raw.rows(done - k, done)
            rt.run(lambda: raw.batch(rows, table=RAW_MANY), k)  # noqa: B023
        lt.run(lambda: ledger.append_many(drafts), k)  # noqa: B023
        if not (r % 2 and done >= k):
            rows = raw.rows(done, done + k)
            rt.run(lambda: raw.batch(rows), k)  # noqa: B023
        if floor and r < 20:  # enough to measure it; the floor's table need not grow as big
            ft.run(lambda: raw.floor(drafts, one_by_one=False), k)  # noqa: B023
        r += 1
    out = {
        "batched_appends_per_s": lt.per_s,
        "raw_executemany_rows_per_s": rt.per_s,
        "batched_end_to_end_per_s": rate(lt.items, lt.seconds + build.seconds),
        "batch_size": batch_size,
        "load_average": [l0, load()],
    }
    if floor:
        out["python_floor_batched_per_s"] = ft.per_s
    return out


def verification(ledger: Ledger, raw: Raw, runs: int) -> dict[str, Any]:
    """``verify()`` against reading and hashing the same rows raw, run by run."""
    lt: list[float] = []
    ways: dict[str, list[float]] = {}
    l0 = load()
    entries = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = ledger.verify()
        lt.append(time.perf_counter() - t0)
        if not result.ok:
            raise SystemExit(f"verification failed: {result.reason}")
        entries = result.entries
        for way, (n, s) in raw.read_and_hash().items():
            if n != entries:
                raise SystemExit(f"raw read {n} rows, the ledger holds {entries}")
            ways.setdefault(way, []).append(s)
    raw_rates = {w: rate(entries, statistics.median(s)) for w, s in ways.items()}
    best = max(raw_rates, key=lambda w: raw_rates[w])
    return {
        "verify_records_per_s": rate(entries, statistics.median(lt)),
        "raw_read_and_hash_per_s": raw_rates[best],
        "raw_read_and_hash_way": best,
        "raw_read_and_hash_all_ways_per_s": raw_rates,
        "verified_records": entries,
        "load_average": [l0, load()],
    }


# -- concurrent writers (child processes) -----------------------------------------------------


def child_writer(url: str, mode: str) -> None:
    """A writer process: on each ``[start, end]`` line, append until ``end``; print the count."""
    drafts = [make_draft(i) for i in range(200)]
    ledger = open_ledger(url, environ={}) if mode == "ledger" else None
    raw = Raw(url, create=False)
    # A row of the ledger's size (about 900 bytes of body), its id unique per insert.
    body = json.dumps({"id": "x", "pad": "y" * 900})
    sql = f"INSERT INTO {RAW_MANY} (prev_hash, hash, body) VALUES ({raw.p}, {raw.p}, {raw.p})"
    n_total = 0
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        start, end = json.loads(line)
        while time.monotonic() < start:
            time.sleep(0.001)
        n = 0
        while time.monotonic() < end:
            if ledger is not None:
                ledger.append(drafts[n % len(drafts)])
            else:
                row = ("0" * 64, "0" * 64, body.replace('"x"', f'"{os.getpid()}-{n_total}"'))
                if raw.dialect == "sqlite":
                    raw.conn.execute("BEGIN IMMEDIATE")
                    raw.conn.execute(sql, row)
                    raw.conn.execute("COMMIT")
                else:
                    raw.conn.execute(sql, row, prepare=True)
            n += 1
            n_total += 1
        print(json.dumps([n, time.monotonic()]), flush=True)
    if ledger is not None:
        ledger.close()
    raw.close()


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-P", __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def writers(url: str, ledger: Ledger, seconds: float, reps: int) -> dict[str, Any]:
    """1, 2, 4, 8 ledger writer processes, each beside as many raw ones; interleaved."""
    pools = {
        m: [spawn("--child", "writer", url, m) for _ in range(max(WRITERS))]
        for m in ("ledger", "raw")
    }
    for procs in pools.values():
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    before = ledger.count()
    counts: dict[str, dict[int, list[float]]] = {"ledger": {}, "raw": {}}
    l0 = load()
    for _ in range(reps):
        for n in WRITERS:
            for mode in ("ledger", "raw"):
                start = time.monotonic() + 0.3
                end = start + seconds
                for p in pools[mode][:n]:
                    assert p.stdin is not None
                    p.stdin.write(json.dumps([start, end]) + "\n")
                    p.stdin.flush()
                done = [json.loads(p.stdout.readline()) for p in pools[mode][:n] if p.stdout]
                total, last = sum(d[0] for d in done), max(d[1] for d in done)
                counts[mode].setdefault(n, []).append(total / (last - start))
                log(f"{mode} x{n}: {total / (last - start):.0f}/s")
    for procs in pools.values():
        for p in procs:
            p.communicate("quit\n", timeout=60)
    result = ledger.verify()
    appended = ledger.count() - before
    out: dict[str, Any] = {
        f"{n}": {
            "appends_per_s": round(statistics.median(counts["ledger"][n]), 1),
            "raw_commits_per_s": round(statistics.median(counts["raw"][n]), 1),
        }
        for n in WRITERS
    }
    out |= {
        "seconds_per_run": seconds,
        "runs": reps,
        "chain_ok_after": result.ok,
        "appended": appended,
        "load_average": [l0, load()],
    }
    return out


def child_killed(url: str) -> None:
    """A writer that prints each acknowledged record id until it is killed."""
    ledger = open_ledger(url, environ={})
    drafts = [make_draft(i) for i in range(50)]
    print("ready", flush=True)
    n = 0
    while True:
        rec = ledger.append(drafts[n % len(drafts)])
        print(rec.id, flush=True)
        n += 1


def sigkill(url: str, ledger: Ledger) -> dict[str, Any]:
    """8 writers killed with SIGKILL at random moments: nothing acknowledged may be lost."""
    procs = [spawn("--child", "killed", url) for _ in range(8)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    rng = random.Random(0)
    time.sleep(0.5)
    for p in rng.sample(procs, len(procs)):
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(p.pid, signal.SIGKILL)
    acked: set[str] = set()
    for p in procs:
        assert p.stdout is not None
        out = p.stdout.read()  # after "ready" (communicate() would skip what readline buffered)
        p.communicate(timeout=60)  # the rest: stderr, and closing the pipes
        acked |= set(out.split())
    result = ledger.verify()
    stored = {r.id for r in ledger.records()} if acked else set()
    return {
        "writers_killed": len(procs),
        "acknowledged": len(acked),
        "acknowledged_lost": len(acked - stored),
        "chain_ok": result.ok,
        "entries": result.entries,
    }


# -- scale: verify and totals in fresh processes -----------------------------------------------


def child_measure(url: str, what: str) -> None:
    """Open the ledger, run ``verify`` or ``totals``; print seconds, entries, RSS (MB)."""
    ledger = open_ledger(url, environ={}, create=False)
    entries, ok = ledger.count(), True
    base = reset_peak_rss_mb()
    t0 = time.perf_counter()
    if what == "verify":
        result = ledger.verify()
        ok = result.ok and result.entries == entries
    else:
        ledger.totals("team")
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    print(
        json.dumps({"seconds": seconds, "entries": entries, "ok": ok, "base": base, "peak": peak})
    )


def peak_rss_mb() -> float:
    """This process's peak RSS, MB: ``VmHWM`` (ru_maxrss would include the parent's, inherited
    across fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss_mb() -> float:
    """Reset the peak to the current RSS (Linux ``clear_refs`` 5); return it, MB."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return peak_rss_mb()


def measure(url: str, what: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-P", __file__, "--child", what, url],
        check=True,
        capture_output=True,
        text=True,
    )
    d = json.loads(out.stdout.strip().splitlines()[-1])
    if not d["ok"]:
        raise SystemExit(f"{what} failed on {d['entries']} records")
    return {
        "records": d["entries"],
        f"{what}_records_per_s": rate(d["entries"], d["seconds"]),
        f"{what}_seconds": round(d["seconds"], 2),
        f"{what}_peak_rss_mb": round(d["peak"], 1),
        f"{what}_rss_growth_mb": round(d["peak"] - d["base"], 1),
    }


def scale(url: str, ledger: Ledger, records: int) -> dict[str, Any]:
    """``verify`` and ``totals`` at the current size, then at ``records``."""
    out: dict[str, Any] = {}
    l0 = load()
    small = ledger.count()
    out[f"at_{small}"] = measure(url, "verify") | measure(url, "totals")
    drafts = [make_draft(i) for i in range(10_000)]
    t0 = time.perf_counter()
    while (done := ledger.count()) < records:
        ledger.append_many(drafts[: min(len(drafts), records - done)])
        if done // 100_000 != ledger.count() // 100_000:
            log(f"{ledger.url}: {ledger.count()} records")
    fill_s = time.perf_counter() - t0
    big = measure(url, "verify") | measure(url, "totals")
    out[f"at_{records}"] = big
    out["fill_appends_per_s"] = rate(records - small, fill_s)
    for what in ("verify", "totals"):
        out[f"{what}_peak_rss_large_vs_small"] = ratio(
            big[f"{what}_peak_rss_mb"], out[f"at_{small}"][f"{what}_peak_rss_mb"]
        )
    out["load_average"] = [l0, load()]
    return out


# -- MLflow (context) ---------------------------------------------------------------------------


class MlflowWriter:
    """Writes one ledger record's information as one MLflow run (metrics + tags)."""

    def __init__(self, tmp: Path) -> None:
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        warnings.simplefilter("ignore")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
        self.exp = self.client.create_experiment("bench", artifact_location=str(tmp / "art"))
        self.done = 0
        self.write(*self.prepare(-1))  # warm-up: schema creation is not part of the rate

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

    def write(self, metrics: list[Any], tags: list[Any]) -> None:
        run = self.client.create_run(self.exp, tags={"mlflow.runName": f"record-{self.done}"})
        self.client.log_batch(run.info.run_id, metrics=metrics, tags=tags)
        self.client.set_terminated(run.info.run_id)
        self.done += 1

    def records(self, n: int, timer: Timer) -> None:
        prepared = [self.prepare(self.done + k) for k in range(n)]
        timer.run(lambda: [self.write(m, t) for m, t in prepared], n)


# -- main ---------------------------------------------------------------------------------------


def backend(
    name: str, url: str, args: argparse.Namespace, mlflow: MlflowWriter | None
) -> dict[str, Any]:
    run = set(args.sections.split(","))
    out: dict[str, Any] = {}
    with open_ledger(url, environ={}) as ledger:
        raw = Raw(url)
        try:
            if "single" in run:
                out |= singles(ledger, raw, args.single, args.rounds, mlflow, args.mlflow_records)
                log(
                    f"{name}: single {out['single_appends_per_s']}/s, raw commits "
                    f"{out['raw_commits_per_s']}/s"
                )
            if "batched" in run:
                out |= batched(ledger, raw, args.records, args.batch_size)
                log(
                    f"{name}: batched {out['batched_appends_per_s']}/s, raw executemany "
                    f"{out['raw_executemany_rows_per_s']}/s"
                )
            if "verify" in run:
                out["verify"] = verification(ledger, raw, args.verify_runs)
                log(
                    f"{name}: verify {out['verify']['verify_records_per_s']}/s, raw "
                    f"read-and-hash {out['verify']['raw_read_and_hash_per_s']}/s"
                )
        finally:
            raw.close()
        if "writers" in run:
            out["writers"] = writers(url, ledger, args.writer_seconds, args.writer_runs)
        if "sigkill" in run:
            out["sigkill"] = sigkill(url, ledger)
            log(f"{name}: sigkill {out['sigkill']}")
        if "scale" in run and args.scale_records:
            out["scale"] = scale(url, ledger, args.scale_records)
            log(f"{name}: scale {out['scale']}")
    return out


def ratios_of(name: str, r: dict[str, Any]) -> dict[str, float]:
    out = {}
    if "batched_appends_per_s" in r:
        out[f"{name}_batched_vs_raw_executemany"] = ratio(
            r["batched_appends_per_s"], r["raw_executemany_rows_per_s"]
        )
    if "single_appends_per_s" in r:
        out[f"{name}_single_vs_raw_commit"] = ratio(
            r["single_appends_per_s"], r["raw_commits_per_s"]
        )
    for kind, raw_key in (
        ("batched", "raw_executemany_rows_per_s"),
        ("single", "raw_commits_per_s"),
    ):
        if f"python_floor_{kind}_per_s" in r:  # context: how near the floor, and the floor's own
            floor = r[f"python_floor_{kind}_per_s"]
            out[f"{name}_{kind}_vs_python_floor"] = ratio(r[f"{kind}_appends_per_s"], floor)
            ref = "raw_commit" if kind == "single" else "raw_executemany"
            out[f"{name}_python_floor_{kind}_vs_{ref}"] = ratio(floor, r[raw_key])
    if "verify" in r:
        v = r["verify"]
        out[f"{name}_verify_vs_raw_read_and_hash"] = ratio(
            v["verify_records_per_s"], v["raw_read_and_hash_per_s"]
        )
    if "writers" in r:
        w = r["writers"]
        out[f"{name}_8_writers_vs_1_writer"] = ratio(
            w["8"]["appends_per_s"], w["1"]["appends_per_s"]
        )
        out[f"{name}_raw_8_writers_vs_raw_1_writer"] = ratio(
            w["8"]["raw_commits_per_s"], w["1"]["raw_commits_per_s"]
        )
    if "mlflow_records_per_s" in r:
        out[f"{name}_single_vs_mlflow"] = ratio(
            r["single_appends_per_s"], r["mlflow_records_per_s"]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    # Standalone scripts live beside this one (benchmarks/queue.py among them): none may shadow
    # a standard module for the drivers imported below (psycopg imports ``queue``).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        what, url, *rest = argv[1:]
        {"writer": lambda: child_writer(url, rest[0]), "killed": lambda: child_killed(url)}.get(
            what, lambda: child_measure(url, what)
        )()
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=100_000, help="ledger size for batched/verify")
    p.add_argument("--single", type=int, default=1_000, help="single durable appends to time")
    p.add_argument("--batch-size", type=int, default=1_000, help="records per append_many")
    p.add_argument("--rounds", type=int, default=10, help="interleaving rounds for singles")
    p.add_argument("--verify-runs", type=int, default=3)
    p.add_argument("--writer-seconds", type=float, default=2.0, help="per writer-count run")
    p.add_argument("--writer-runs", type=int, default=2, help="runs per writer count")
    p.add_argument("--scale-records", type=int, default=1_000_000, help="0 skips the scale run")
    p.add_argument("--mlflow-records", type=int, default=200)
    p.add_argument(
        "--sections",
        default="single,batched,verify,writers,sigkill,scale",
        help="comma-separated subset of the default",
    )
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--no-mlflow", action="store_true")
    args = p.parse_args(argv)
    if args.single >= args.records or args.rounds < 1:
        p.error("need --single < --records and --rounds >= 1")
    machine: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lowcarb-bench-") as tmp_s, ExitStack() as stack:
        tmp = Path(tmp_s)
        mlflow = None if args.no_mlflow else MlflowWriter(tmp)
        urls = {"sqlite": f"sqlite:///{tmp / 'ledger.db'}"}
        if not args.no_postgres:
            try:
                urls["postgresql"] = stack.enter_context(postgres_database())
            except Exception as exc:  # report, do not hide: the JSON says why it is missing
                results["postgresql"] = {"skipped": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        for name, url in urls.items():  # MLflow beside SQLite's singles only
            results[name] = backend(name, url, args, mlflow if name == "sqlite" else None)
            if name == "postgresql":
                import psycopg

                with psycopg.connect(pg_conninfo(url)) as c:
                    machine["postgresql"] = c.execute("SHOW server_version").fetchone()[0]
    ratios: dict[str, float] = {}
    for name in urls:
        ratios |= ratios_of(name, results[name])
    targets = {f"{name}_{k}": v for name in urls for k, v in TARGETS.items()}
    machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out = {
        "benchmark": "lowcarb.ledger",
        "ratios": ratios,
        "targets": targets,
        "targets_met": {k: ratios[k] >= v for k, v in targets.items() if k in ratios},
        "machine": machine,
        "records": args.records,
        **results,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
