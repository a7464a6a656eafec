"""``lowcarb monitor check``: drift of the current window against the reference (see
:mod:`lowcarb.cli.monitor`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from lowcarb._files import check_output_path, write_atomic
from lowcarb._text import plain, safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.cli._monitor_common import (
    MAX_WINDOW_BYTES,
    check_options,
    drift_checker,
    feature_list,
    model_options,
    warn_unevaluated,
    window_arguments,
)
from lowcarb.errors import UsageError
from lowcarb.units import parse_timestamp

if TYPE_CHECKING:
    from lowcarb.monitoring import DriftReport

__all__ = ["register_check"]


def register_check(msub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb monitor check``."""
    c = msub.add_parser(
        "check",
        help="drift of CURRENT against REFERENCE (exit 1 when the dataset drifted)",
        description=(
            "Compare the current window with the reference feature by feature (PSI, "
            "Kolmogorov-Smirnov, chi-squared, Jensen-Shannon, Wasserstein; SciPy) and decide "
            "dataset drift from the share of drifted features. Exit 0 no drift, 1 drift, 2 bad "
            "input."
        ),
    )
    window_arguments(c)
    c.add_argument("--features", metavar="A,B", help="features to check (default: every column)")
    c.add_argument(
        "--statistic",
        choices=("psi", "ks", "chi2", "jensen_shannon", "wasserstein"),
        help="one statistic for every feature (default: by kind and sample size)",
    )
    c.add_argument(
        "--drift-share",
        type=float,
        metavar="X",
        help="dataset drift when more than this share of features drifted (default 0.5; "
        "0: any; the policy's max_drift_share with --policy)",
    )
    c.add_argument(
        "--policy", type=Path, help="retraining policy: its watched and categorical features"
    )
    model_options(c)
    c.add_argument("--since", metavar="T", help="a serving log: requests at or after T (ISO 8601)")
    c.add_argument("--until", metavar="T", help="a serving log: requests before T")
    c.add_argument("--html", type=Path, metavar="FILE", help="write the HTML drift report here")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=_check)


def _check(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.monitoring import drift_html, load_retrain_policy, read_window, unevaluated_rules

    if args.html is not None:
        check_output_path(args.html, what="--html")  # before any work
    options = check_options(args, features=feature_list(args.features))
    since = parse_timestamp(args.since, what="--since") if args.since is not None else None
    until = parse_timestamp(args.until, what="--until") if args.until is not None else None
    if since is not None and until is not None and until <= since:
        raise UsageError(f"--until {args.until!r} is not after --since {args.since!r}")
    policy = load_retrain_policy(args.policy) if args.policy is not None else None
    checker = drift_checker(args, options, policy)
    current = read_window(
        args.current,
        what="current window",
        max_bytes=MAX_WINDOW_BYTES,
        log=checker.log_columns(since=since, until=until),
    )
    report = checker.check(current)
    warnings = unevaluated_rules(report, policy) if policy is not None else ()
    if args.html is not None:
        write_atomic(args.html, drift_html(report, reference=checker.reference, current=current))
    warn_unevaluated(ctx, warnings)
    if args.json:
        emit_json(
            ctx,
            {
                "reference": str(args.reference),
                "current": str(args.current),
                **report.to_dict(),
                "warnings": list(warnings),
            },
        )
    else:
        _print_report(ctx, report, args)
    return 1 if report.drift else 0


def _print_report(ctx: CliContext, report: DriftReport, args: argparse.Namespace) -> None:
    table = Table(title=f"lowcarb monitor check: {safe(str(args.current))} vs reference")
    for col in (
        "feature",
        "kind",
        "statistic",
        "value",
        "drift when",
        "drift",
        "missing %",
        "new categories",
    ):
        table.add_column(col, justify="right" if col in ("value", "missing %") else "left")
    for f in report.features:
        test = f.statistic in ("ks", "chi2")
        value = f"{f.value:.3g}" if test else f"{f.value:.4g}"
        when = f"< {f.threshold:g}" if test else f"> {f.threshold:g}"
        new = ", ".join(safe(c) for c in f.new_categories[:3])
        if len(f.new_categories) > 3:
            new += f" +{len(f.new_categories) - 3}"
        missing = f"{f.missing_share_reference:.1%} -> {f.missing_share_current:.1%}"
        table.add_row(
            safe(f.name), f.kind, f.statistic, value, when, "yes" if f.drift else "no", missing, new
        )
    console = ctx.console()
    console.print(table)
    drifted = sum(1 for f in report.features if f.drift)
    console.print(
        f"dataset drift: {'yes' if report.drift else 'no'} ({drifted} of {len(report.features)} "
        f"features, share {report.drift_share:.2f}, drift above {report.drift_share_threshold:g});"
        f" {report.reference_rows} reference rows, {report.current_rows} current rows",
        markup=False,
    )
    perf = report.performance
    if perf is not None:
        line = f"performance: {perf.method} {perf.metric} {perf.value:.4f} over {perf.rows} rows"
        if perf.reference_value is not None and perf.drop_pts is not None:
            line += f" (reference {perf.reference_value:.4f}, drop {perf.drop_pts:.2f} pts)"
        console.print(line, markup=False)
    for note in report.notes:
        console.print(f"note: {plain(note)}", markup=False)
    if args.html is not None:
        console.print(f"HTML report written to {safe(str(args.html))}", markup=False)
