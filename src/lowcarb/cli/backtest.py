"""``lowcarb backtest``: replay a trace, submit jobs, and score scheduling policies."""

from __future__ import annotations

import argparse
import statistics
from datetime import timedelta
from typing import Any

import numpy as np
from rich.table import Table

from lowcarb._text import safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import UsageError
from lowcarb.grid import IntensitySeries, TraceTable, forecaster_names, load_trace_table
from lowcarb.scheduling import (
    POLICY_NAMES,
    Workload,
    ZoneBacktest,
    backtest_jobs,
    backtest_workload,
    history_needed,
    load_workload,
    make_policies,
    to_sim_jobs,
)
from lowcarb.units import parse_duration_h, parse_timestamp

__all__ = ["register"]

_HOUR = timedelta(hours=1)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb backtest``."""
    p = sub.add_parser(
        "backtest",
        help="score scheduling policies on a trace (savings, share of the oracle's, deadlines)",
        description=(
            "Submit a job every --every hours of a trace (or the jobs of a --workload file) in "
            "each zone, let each policy place it using only data known at each decision, price "
            "the placements on the true trace, and report per zone and policy: emissions, saving "
            "versus run-now, the share of the oracle's saving captured, missed deadlines."
        ),
    )
    p.add_argument("--trace", required=True, metavar="FILE", help="trace CSV (any DESIGN format)")
    p.add_argument(
        "--zone", action="append", default=[], metavar="Z", help="zone(s) (default: all in FILE)"
    )
    p.add_argument(
        "--duration", action="append", default=[], metavar="D", help="job length(s), e.g. 1h 8h"
    )
    p.add_argument(
        "--deadline",
        action="append",
        default=[],
        metavar="D",
        help="deadline(s) after submission, e.g. 24h (every duration x deadline is run)",
    )
    p.add_argument("--interruptible", action="store_true", help="jobs may pause and resume")
    p.add_argument(
        "--workload",
        metavar="FILE",
        help="CSV of submissions (submit,duration,deadline[,interruptible]) instead of --every",
    )
    p.add_argument(
        "--policy",
        action="append",
        choices=POLICY_NAMES,
        default=[],
        help="policies to compare (default: all); run-now and oracle are always included",
    )
    p.add_argument(
        "--forecaster",
        "--model",
        dest="model",
        choices=forecaster_names(),
        default="profile-blend",
        help="forecast behind the forecast and rolling policies",
    )
    p.add_argument(
        "--threshold-quantile",
        type=float,
        default=0.25,
        metavar="Q",
        help="threshold policy: run below this quantile of the trailing week (default 0.25)",
    )
    p.add_argument("--every", default="1h", metavar="D", help="submission interval (default 1h)")
    p.add_argument(
        "--since", "--from", dest="start", metavar="T", help="first submission (ISO 8601)"
    )
    p.add_argument("--until", "--to", dest="end", metavar="T", help="last submission (ISO 8601)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_backtest)


def _policy_names(chosen: list[str]) -> list[str]:
    names = list(dict.fromkeys(chosen or POLICY_NAMES))
    if "run-now" not in names:
        names.insert(0, "run-now")
    if "oracle" not in names:
        names.append("oracle")
    return names


def _workloads(args: argparse.Namespace) -> list[Workload]:
    if not args.duration or not args.deadline:
        raise UsageError("give --duration and --deadline (or --workload FILE)")
    out = []
    for d in args.duration:
        duration = parse_duration_h(d, what="--duration")
        for dl in args.deadline:
            deadline = parse_duration_h(dl, what="--deadline")
            if deadline < duration:
                raise UsageError(
                    f"--deadline {dl} is shorter than --duration {d}; a deadline is measured "
                    "from submission and must leave time for the job"
                )
            out.append(Workload(duration, deadline - duration, interruptible=args.interruptible))
    return out


def _submits(
    args: argparse.Namespace, series: IntensitySeries, workload: Workload, need: int
) -> np.ndarray:
    every = max(1, round(parse_duration_h(args.every, what="--every")))
    span = int(np.floor(workload.duration_h + workload.slack_h + 1e-9))
    first, last = need, len(series) - span
    if args.start:
        first = max(first, series.index_of(parse_timestamp(args.start, what="--from")))
    if args.end:
        last = min(last, series.index_of(parse_timestamp(args.end, what="--to")))
    return np.arange(first, last + 1, every, dtype=np.int64)


def _zones(args: argparse.Namespace, table: TraceTable) -> list[str]:
    return list(args.zone) if args.zone else list(table.zones)


def _backtest(args: argparse.Namespace, ctx: CliContext) -> int:
    table = load_trace_table(args.trace)
    names = _policy_names(args.policy)
    if not 0 < args.threshold_quantile < 1:
        raise UsageError(f"--threshold-quantile must be in (0, 1), got {args.threshold_quantile}")
    results: list[ZoneBacktest] = []
    dropped = 0
    for zone in _zones(args, table):
        series = table.series(zone)
        policies = make_policies(
            names, model=args.model, series=series, threshold_quantile=args.threshold_quantile
        )
        x = series.values_g_per_kwh
        if args.workload:
            jobs, lost = to_sim_jobs(load_workload(args.workload), series)
            dropped += lost
            need = history_needed(policies, 24)
            jobs = [j for j in jobs if j.submit >= need]
            if not jobs:
                raise UsageError(f"no job of {args.workload} fits the {zone} trace")
            results.append(backtest_jobs(x, policies, jobs, zone=series.zone, label="workload"))
            continue
        for workload in _workloads(args):
            need = history_needed(policies, 24)
            submits = _submits(args, series, workload, need)
            if submits.size == 0:
                raise UsageError(
                    f"no submission fits the {zone} trace ({len(series)} h; the policies need "
                    f"{need} h of history and a job window of "
                    f"{workload.duration_h + workload.slack_h:g} h)"
                )
            results.append(
                backtest_workload(x, policies, workload, zone=series.zone, submits=submits)
            )
    summary = _summary(results)
    if args.json:
        emit_json(
            ctx,
            {
                "trace": str(args.trace),
                "zones": [r.to_dict() for r in results],
                "summary": summary,
                "dropped_jobs": dropped,
            },
        )
    else:
        _render(ctx, results, summary)
    return 0


def _summary(results: list[ZoneBacktest]) -> list[dict[str, Any]]:
    """Per workload and policy: mean and median over zones of saving and captured share."""
    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in results:
        for p in r.results:
            agg = rows.setdefault((r.workload, p.policy), {"s": [], "c": [], "m": []})
            if p.savings_pct is not None:
                agg["s"].append(p.savings_pct)
            if p.captured_pct is not None:
                agg["c"].append(p.captured_pct)
            agg["m"].append(float(p.missed_deadlines))
    out = []
    for (workload, policy), agg in rows.items():
        out.append(
            {
                "workload": workload,
                "policy": policy,
                "zones": len(agg["m"]),
                "mean_savings_pct": statistics.fmean(agg["s"]) if agg["s"] else None,
                "mean_captured_pct": statistics.fmean(agg["c"]) if agg["c"] else None,
                "median_captured_pct": statistics.median(agg["c"]) if agg["c"] else None,
                "missed_deadlines": int(sum(agg["m"])),
            }
        )
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _render(ctx: CliContext, results: list[ZoneBacktest], summary: list[dict[str, Any]]) -> None:
    console = ctx.console()
    for r in results:
        table = Table(title=f"{safe(r.zone)}: {safe(r.workload)}")
        for col in ("policy", "jobs", "kgCO2e", "saving", "of oracle", "missed", "mean wait"):
            table.add_column(col, justify="left" if col == "policy" else "right")
        for p in r.results:
            table.add_row(
                safe(p.policy),
                str(p.jobs),
                f"{p.emissions_g / 1000:.1f}",
                _pct(p.savings_pct),
                _pct(p.captured_pct),
                str(p.missed_deadlines),
                f"{p.mean_wait_h:.1f} h",
            )
        console.print(table)
    if len(results) > 1:
        table = Table(title="over zones")
        for col in ("workload", "policy", "zones", "mean saving", "mean of oracle", "median"):
            table.add_column(col)
        for row in summary:
            table.add_row(
                safe(row["workload"]),
                safe(row["policy"]),
                str(row["zones"]),
                _pct(row["mean_savings_pct"]),
                _pct(row["mean_captured_pct"]),
                _pct(row["median_captured_pct"]),
            )
        console.print(table)
