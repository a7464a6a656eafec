"""``lowcarb monitor watch``: the check every period, decided under the retraining policy (see
:mod:`lowcarb.cli.monitor`)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowcarb._files import read_input_bytes
from lowcarb._text import plain
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.cli._monitor_common import (
    MAX_WINDOW_BYTES,
    check_options,
    drift_checker,
    ledger_url,
    model_options,
    warn_unevaluated,
    window_arguments,
)
from lowcarb.errors import LowcarbError, UsageError
from lowcarb.units import parse_duration_h, parse_timestamp

if TYPE_CHECKING:
    from lowcarb.grid import IntensitySource
    from lowcarb.monitoring import CheckOutcome, DriftReport

__all__ = ["register_watch"]


def register_watch(msub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb monitor watch``."""
    w = msub.add_parser(
        "watch",
        help="check periodically under a retraining policy; queue retrains for green windows",
        description=(
            "Every --every, re-read CURRENT, check it against REFERENCE and decide under the "
            "policy (drift and performance triggers, minimum gain per kWh of the last retrain, "
            "cool-down, deadline). A retrain that fires is queued (lowcarb worker runs it) for "
            "the lowest-carbon window that starts within the deadline. Every check, decision "
            "and job is appended to the ledger. SIGTERM or Ctrl-C stops between checks."
        ),
    )
    window_arguments(w)
    w.add_argument("--policy", type=Path, required=True, help="retraining policy YAML")
    model_options(w)
    w.add_argument(
        "--last",
        metavar="D",
        help="a serving log: check the requests of the last D before each check (e.g. 24h)",
    )
    w.add_argument("--every", default="1h", metavar="D", help="check period (default 1h)")
    w.add_argument("--once", action="store_true", help="one check, then exit")
    w.add_argument("--ledger", help="ledger URL (default: LOWCARB_LEDGER or the config file)")
    w.add_argument("--jobs", metavar="URL", help="job queue URL (default: the ledger's)")
    w.add_argument("--trace", metavar="FILE", help="plan retrains on this trace's forecast")
    w.add_argument("--now", metavar="T", help="decision time of a --once check (tests, replays)")
    w.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    w.set_defaults(func=_watch)


def _source(args: argparse.Namespace) -> IntensitySource:
    from lowcarb.grid import TraceIntensitySource, load_trace_table
    from lowcarb.scheduling import ProfileSource

    if args.trace:
        return TraceIntensitySource(load_trace_table(args.trace))
    return ProfileSource()


def _watch(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.governance import GateInput
    from lowcarb.jobs import open_job_store
    from lowcarb.ledger import open_ledger
    from lowcarb.monitoring import (
        RetrainMonitor,
        load_retrain_policy,
        parse_window,
        stop_on_signals,
        watch,
    )
    from lowcarb.profiling import sha256_hex

    policy = load_retrain_policy(args.policy)
    policy.require_retrain()
    every_s = parse_duration_h(args.every, what="--every") * 3600.0
    last_h = parse_duration_h(args.last, what="--last") if args.last is not None else None
    if args.now is not None and not args.once:
        raise UsageError("--now sets the time of a single check; add --once")
    fixed_now = parse_timestamp(args.now, what="--now") if args.now is not None else None
    clock: Callable[[], datetime] = _utc_now if fixed_now is None else (lambda: fixed_now)
    options = check_options(args)
    checker = drift_checker(args, options, policy)
    ref_sha = sha256_hex(
        read_input_bytes(
            args.reference, what="reference window", max_bytes=MAX_WINDOW_BYTES, binary=True
        )
    )
    source = _source(args)
    url = ledger_url(args, ctx)

    with (
        open_ledger(url, environ=ctx.environ) as ledger,
        open_job_store(args.jobs or url, environ=ctx.environ) as store,
    ):
        monitor = RetrainMonitor(policy, ledger=ledger, store=store, source=source)

        def check() -> DriftReport:
            # One read: the window checked is exactly the bytes hashed into the ledger.
            raw = read_input_bytes(
                args.current, what="current window", max_bytes=MAX_WINDOW_BYTES, binary=True
            )
            since = clock() - timedelta(hours=last_h) if last_h is not None else None
            current = parse_window(
                raw,
                source=str(args.current),
                what="current window",
                log=checker.log_columns(since=since),
            )
            monitor.inputs = (
                GateInput("reference", str(args.reference), ref_sha),
                GateInput("current", str(args.current), sha256_hex(raw)),
            )
            return checker.check(current)

        def on_outcome(outcome: CheckOutcome) -> None:
            warn_unevaluated(ctx, outcome.decision.warnings)
            if not args.json:
                _print_outcome(ctx, outcome)

        def on_error(exc: LowcarbError) -> None:
            print(f"lowcarb: check failed: {plain(str(exc))}", file=ctx.stderr)

        stop = threading.Event()
        with stop_on_signals(stop):
            summary = watch(
                check,
                monitor,
                every_s=every_s,
                clock=clock,
                iterations=1 if args.once else None,
                stop=stop,
                on_outcome=on_outcome,
                on_error=None if args.once else on_error,
            )
    if args.json:
        emit_json(ctx, summary.to_dict())
    return 0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _print_outcome(ctx: CliContext, outcome: CheckOutcome) -> None:
    d = outcome.decision
    out = ctx.stdout
    print(f"{d.decided_at.isoformat()}  retrain: {d.status}", file=out)
    for reason in d.reasons:
        print(f"  {plain(reason)}", file=out)
    if outcome.job is not None:
        j = outcome.job.to_dict()
        expected, now = j.get("expected_intensity_g_per_kwh"), j.get("now_intensity_g_per_kwh")
        line = f"  queued job {j.get('id')}: start {j.get('planned_start')} in {j.get('zone')}"
        if isinstance(expected, int | float) and isinstance(now, int | float):
            line += f", expected {expected:.0f} g/kWh vs {now:.0f} now"
            if now > 0:
                line += f" ({(1 - expected / now) * 100:.0f}% less)"
        line += f"; forecast {j.get('forecast_model')}; run it with `lowcarb worker`"
        print(plain(line), file=out)
    print(f"  ledger records: {', '.join(outcome.record_ids)}", file=out)
