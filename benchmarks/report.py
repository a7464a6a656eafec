"""`lowcarb report` over a year of records: the HTML report must build in < 30 s (issue 18).

Builds a SQLite ledger in a temporary directory through the ledger's own append path
(``Ledger.append_many``, one transaction per day, a valid hash chain): by default 100,000
records over the 365 days of 2023, attributed like a real organisation (6 teams with their own
home grid zone, 2-3 projects each, 2 models per project, 3 versions each; 70% training runs,
15% inference batches, 15% tuning trials with their metric; CPU measured, GPU measured or
estimated; 1% with a contractual instrument), plus 300 gate and retrain decisions, 100
corrections and 500 planned jobs in the job table. Then times, over a few runs each:

- the HTML report end to end as ``lowcarb report`` makes it (``collect`` with the chain
  verified, plus ``build_report``), p50 against the 30 s target;
- ``collect`` without verification (what a dashboard overview would call) and verification alone;
- the Markdown, CSV and JSON renderings of the same data;
- the reference, in the same run: SQLite parsing every record's body once in one aggregate
  statement (``json_extract`` in C, nothing handed to Python), the least any report that reads
  its records' fields must do; ``ratios.collect_vs_sqlite_one_parse_per_record`` is that time
  over ``collect``'s (1.0: the report costs no more than the parse itself).

    .venv/bin/python benchmarks/report.py                    # about 1 minute on 2 cores
    .venv/bin/python benchmarks/report.py --records 20000    # quicker
    .venv/bin/python benchmarks/report.py --records 1000000 --keep /tmp/bench-1m.db
    .venv/bin/python benchmarks/report.py --ledger sqlite:////tmp/bench-1m.db   # time it again

``--keep`` leaves the ledger it built at that path; ``--ledger`` times a ledger built before
(by this script: the figures assume its year, 2023) instead of building one.

Prints one JSON line on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.jobs import open_job_store
from lowcarb.ledger import (
    Attribution,
    MarketFactor,
    RecordDraft,
    draft_from_footprint,
    open_ledger,
)
from lowcarb.reporting.report import ReportQuery, build_report, collect
from lowcarb.scheduling import build_job_spec

TARGET_S = 30.0
START = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 365
ZONES = {  # home zone of each team, gCO2e/kWh (annual means of the embedded table, rounded)
    "vision": ("DE", 381.0),
    "nlp": ("FR", 56.0),
    "speech": ("GB", 226.0),
    "recsys": ("US-CAL-CISO", 261.0),
    "ads": ("PL", 762.0),
    "search": ("SE-SE3", 29.0),
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _catalogue(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for team in ZONES:
        for p in range(rng.choice((2, 3))):
            for m in range(2):
                out.append((team, f"{team}-p{p}", f"{team}-p{p}-m{m}"))
    return out


def _record(rng: random.Random, when: datetime, owner: tuple[str, str, str]) -> RecordDraft:
    team, project, model = owner
    zone, g = ZONES[team]
    roll = rng.random()
    kind, stage, metadata = "run", "training", {}
    if roll < 0.15:
        kind, stage, metadata = "inference", "serving", {"inferences": rng.randint(1_000, 100_000)}
    elif roll < 0.30:
        study = f"{project}-study-{when.month}"
        metadata = {"study": study, "trial": rng.randint(0, 500), "metric": rng.uniform(0.6, 0.95)}
        kind, stage = "trial", None
    gpu_method = "measured" if rng.random() < 0.6 else "estimated"
    comps = (
        ComponentEnergy("cpu", rng.uniform(5e4, 2e6), "measured", "rapl:intel-rapl:0"),
        ComponentEnergy("gpu:0", rng.uniform(1e5, 2e7), gpu_method, "nvml:total_energy"),
    )
    m = Measurement("run", when, rng.uniform(60, 7200), comps)
    fp = price(m, intensity=Intensity(zone, g, "static:electricitymaps-2022-lca"), pue=1.2)
    return draft_from_footprint(
        fp,
        kind=kind,
        attribution=Attribution(
            team=team,
            project=project,
            model=None if kind == "trial" else model,
            model_version=None if kind == "trial" else str(rng.randint(1, 3)),
            stage=stage,
        ),
        market=MarketFactor(0.0, "ppa:windco-2023") if rng.random() < 0.01 else None,
        metadata=metadata,
    )


def _decision(rng: random.Random, owner: tuple[str, str, str], n: int) -> RecordDraft:
    team, project, model = owner
    if n % 3 == 0:
        meta = {"retrain": {"decision": rng.choice(("retrain", "wait")), "reason": "drift"}}
        who = Attribution(team=team, project=project, model=model, stage="retrain")
    else:
        outcome = rng.choice(("promote", "reject"))
        violations = [] if outcome == "promote" else [{"rule": "budget", "message": "spent"}]
        meta = {"gate": {"decision": outcome, "violations": violations}, "budgets": []}
        who = Attribution(
            team=team, project=project, model=model, model_version=str(n), stage="gate"
        )
    return RecordDraft(kind="decision", attribution=who, metadata=meta)


def build(url: str, records: int, workdir: Path, seed: int = 7) -> None:
    """Append ``records`` records over 2023 (one transaction per day), decisions, corrections."""
    rng = random.Random(seed)
    owners = _catalogue(rng)
    per_day = [records // DAYS + (1 if d < records % DAYS else 0) for d in range(DAYS)]
    decisions_on = set(rng.sample(range(DAYS), 300))
    appended: list[str] = []
    for day in range(DAYS):
        when = START + timedelta(days=day, hours=12)
        drafts = [_record(rng, when, rng.choice(owners)) for _ in range(per_day[day])]
        if day in decisions_on:
            drafts.append(_decision(rng, rng.choice(owners), day))
        with open_ledger(url, clock=lambda when=when: when, environ={}) as ledger:
            out = ledger.append_many(drafts)
            appended.extend(r.id for r in out[:1])
            if day % 3 == 0 and len(appended) > 1:
                ledger.correct(appended[-2], None, reason="double-counted run")
    _jobs(url, rng, workdir)


def _jobs(url: str, rng: random.Random, workdir: Path) -> None:
    now = START
    with open_job_store(url, environ={}, clock=lambda: now) as store:
        for i in range(500):
            team = rng.choice(list(ZONES))
            spec = build_job_spec(duration="2h", deadline="2023-12-31T00:00Z", now=now)
            job = store.submit(
                ["python", "train.py"],
                spec,
                zones=[ZONES[team][0]],
                now=now,
                cwd=workdir,
                team=team,
                project=f"{team}-p0",
            )
            immediate = ZONES[team][1] * rng.uniform(0.9, 1.3)
            plan = {
                "zone": ZONES[team][0],
                "expected_intensity_g_per_kwh": immediate * rng.uniform(0.6, 1.0),
                "now_intensity_g_per_kwh": immediate,
            }
            start = START + timedelta(hours=i * 17)
            store.update(job, planned_at=start, planned_start=start, plan=plan)


def _p50(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


#: The reference: every record's body parsed once by SQLite, in C, the result an aggregate.
RAW_PARSE_SQL = "SELECT count(*), count(json_extract(body, '$.kind')) FROM lowcarb_ledger"


def raw_parse(file: Path) -> int:
    """Run :data:`RAW_PARSE_SQL` on the SQLite ledger at ``file``; the records it parsed."""
    conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        rows, parsed = conn.execute(RAW_PARSE_SQL).fetchone()
    finally:
        conn.close()
    if rows != parsed:
        raise RuntimeError(f"{file}: {rows - parsed} record(s) without a kind")
    return int(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records over the year")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (p50)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, metavar="FILE", help="build the ledger at FILE, kept")
    where.add_argument(
        "--ledger", metavar="URL", help="time a ledger this script built before (no build)"
    )
    args = parser.parse_args(argv)
    query = ReportQuery(START, START + timedelta(days=DAYS))
    with tempfile.TemporaryDirectory(prefix="lowcarb-report-bench-") as tmp:
        db = args.keep.resolve() if args.keep else Path(tmp) / "ledger.db"
        url = args.ledger or f"sqlite:///{db}"
        build_s = None
        if args.ledger is None:
            if db.exists():
                parser.error(f"--keep {db} exists; remove it or time it with --ledger")
            log(f"appending {args.records:,} records over {DAYS} days to {url}")
            t0 = time.perf_counter()
            build(url, args.records, Path(tmp))
            build_s = round(time.perf_counter() - t0, 1)
            log(f"built in {build_s:.1f} s")
        log(f"timing the HTML report ({args.runs} runs)")
        with open_ledger(url, create=False, environ={}) as ledger:
            html_s, html = _p50(lambda: build_report(collect(ledger, query), "html"), args.runs)
            collect_s, data = _p50(lambda: collect(ledger, query, verify=False), args.runs)
            verify_s, result = _p50(ledger.verify, args.runs)
            entries = ledger.count()
        file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        raw_s: float | None = None
        raw_rows = None
        if file is not None:
            raw_s, raw_rows = _p50(lambda: raw_parse(file), args.runs)
        renders = {
            fmt: _p50(lambda fmt=fmt: build_report(data, fmt), args.runs)[0]
            for fmt in ("md", "csv", "json")
        }
        db_bytes = (
            sum(f.stat().st_size for f in file.parent.glob(file.name + "*")) if file else None
        )
    ratios = {}
    if raw_s is not None:
        ratios["collect_vs_sqlite_one_parse_per_record"] = round(raw_s / collect_s, 3)
    line = {
        "benchmark": "report",
        "ratios": ratios,
        "reference": {
            "sqlite_one_parse_per_record_p50_s": None if raw_s is None else round(raw_s, 3),
            "rows": raw_rows,
            "sql": RAW_PARSE_SQL,
        },
        "records_in_period": data.totals.records,
        "ledger_entries": entries,
        "days": DAYS,
        "decisions": data.decisions.total,
        "jobs_planned": data.scheduler.jobs,
        "html_report_p50_s": round(html_s, 3),
        "target_s": TARGET_S,
        "within_target": html_s < TARGET_S,
        "html_bytes": len(html.encode()),
        "collect_without_verify_p50_s": round(collect_s, 3),
        "verify_p50_s": round(verify_s, 3),
        "chain_ok": result.ok,
        "render_p50_s": {k: round(v, 3) for k, v in renders.items()},
        "build_ledger_s": build_s,
        "ledger_db_bytes": db_bytes,
        "runs": args.runs,
        "append_path": "Ledger.append_many, one transaction per day",
        "sqlite": sqlite3.sqlite_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(line))
    return 0 if html_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
