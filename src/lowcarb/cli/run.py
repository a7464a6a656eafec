"""``lowcarb run``: run a command and report its energy and CO2e."""

from __future__ import annotations

import argparse
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb._text import plain
from lowcarb.cli._common import CliContext, emit_json, positive_float
from lowcarb.reporting import print_footprint
from lowcarb.tracking import (
    CodeCarbonCsvSink,
    Tracker,
    attribution,
    footprint_to_dict,
    run_command,
)
from lowcarb.units import parse_duration

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb run``."""
    p = sub.add_parser(
        "run",
        help="run a command and measure its energy and CO2e",
        description=(
            "Run COMMAND, measure its whole process tree, print its footprint and return its "
            "exit code. The table goes to stderr; with --json, one JSON object goes to stdout and "
            "the command's own stdout is sent to stderr."
        ),
    )
    p.add_argument("--zone", help="grid zone id or cloud region (default: LOWCARB_ZONE or config)")
    p.add_argument("--pue", type=positive_float, help="facility PUE, >= 1.0 (default 1.0)")
    p.add_argument(
        "--ledger",
        help="ledger URL to append the run to (sqlite:///... or postgresql+psycopg://...)",
    )
    p.add_argument("--team", help="team to attribute the run to in the ledger")
    p.add_argument("--project", help="project to attribute the run to in the ledger")
    p.add_argument("--model", help="model name for the ledger record")
    p.add_argument("--model-version", help="model version for the ledger record")
    p.add_argument(
        "--sample-interval",
        type=positive_float,
        metavar="SECONDS",
        help="sampling interval for meters that integrate power (default 1.0)",
    )
    p.add_argument(
        "--emissions-csv",
        type=Path,
        metavar="PATH",
        help="also append a CodeCarbon-compatible row to PATH (e.g. emissions.csv)",
    )
    p.add_argument(
        "--grace",
        default="10s",
        metavar="D",
        help="after a forwarded SIGTERM, how long COMMAND may take to exit before its whole "
        "process tree is killed (a second SIGTERM kills at once; default 10s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    argv = list(args.cmd)
    if argv and argv[0] == "--":
        argv = argv[1:]
    grace_s = parse_duration(args.grace, what="--grace", maximum=timedelta(hours=1)).total_seconds()
    # Checked here so that messages name the flag; the Tracker then opens it before the work.
    ledger = resolve_ledger_url(args.ledger, environ=ctx.environ, default=None)
    csv_sink = CodeCarbonCsvSink(args.emissions_csv) if args.emissions_csv is not None else None
    tracker = Tracker(
        "run",
        zone=args.zone,
        pue=args.pue,
        ledger=ledger,
        attribution=attribution(
            team=args.team,
            project=args.project,
            model=args.model,
            model_version=args.model_version,
        ),
        metadata={"command": argv},
        sinks=[csv_sink] if csv_sink is not None else [],
        sample_interval_s=args.sample_interval,
        environ=ctx.environ,
    )
    result = run_command(
        argv, tracker=tracker, stdout=ctx.stderr if args.json else None, grace_s=grace_s
    )
    for delivery in tracker.deliveries:
        if delivery.sink == CodeCarbonCsvSink.name and delivery.error is not None:
            raise delivery.error
    out = footprint_to_dict(result.footprint)
    out["exit_code"] = result.exit_code
    out["command"] = argv
    if tracker.ledger_url:
        out["ledger"] = tracker.ledger_url
        out["record_id"] = tracker.record_id
        if tracker.ledger_error is not None:
            out["ledger_error"] = str(tracker.ledger_error)
            out["unrecorded_saved_to"] = str(tracker.spooled_to) if tracker.spooled_to else None
    if args.json:
        emit_json(ctx, out)
    else:
        shown = shlex.join(argv).replace("\n", " ")
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        print_footprint(ctx.err_console(), out, title=f"lowcarb run: {shown}")
    if tracker.ledger_error is not None:
        # The work ran and its footprint is spooled: the command's own status is what callers
        # (shells, CI) act on, so it is returned unchanged; the failure is reported on stderr.
        saved = f"; saved to {tracker.spooled_to}" if tracker.spooled_to else ""
        print(
            f"lowcarb: error: run not recorded: {plain(tracker.ledger_error)}{saved}",
            file=ctx.stderr,
        )
    return result.exit_code
