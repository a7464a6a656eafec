"""``lowcarb monitor``: is a retrain needed at all? ``check``, ``watch`` and ``energy``.

- ``check REFERENCE CURRENT``: drift of the current window against the reference, per feature and
  for the dataset (exit 1 when the dataset drifted, as a negative verdict); ``--html FILE`` writes
  the self-contained drift report. Windows are CSV, Parquet or a serving log (the JSON Lines of
  ``lowcarb serve --log-features``; ``--model``, ``--since``, ``--until`` select its requests).
  ``--score-columns``/``--label-column``/``--prediction-column`` name the model's columns (never
  drift features): the check then measures accuracy (realised with labels, CBPE without).
- ``watch REFERENCE CURRENT --policy FILE``: the check every ``--every``, decided under the
  retraining policy; a retrain that fires is queued for its lowest-carbon window before the
  deadline; every check, decision and job is appended to the ledger.
- ``energy --policy FILE --baseline PROFILE (--candidate PROFILE | --metrics URL --model NAME
  [--version V] [--previous SCRAPE])``: an energy regression of joules per 1,000 inferences
  (exit 1 on an alert), optionally rolling an MLflow alias back.

A policy rule that cannot be evaluated for lack of input (a performance trigger or a gain rule
without scores or labels) is named on stderr in one ``lowcarb: warning:`` line, in the JSON's
``warnings`` and, for ``watch``, in the recorded decision.

The logic lives in :mod:`lowcarb.monitoring` (and :mod:`lowcarb.integrations.mlflow`).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from lowcarb._config import resolve_ledger_url
from lowcarb._files import check_output_path, read_input_bytes, write_atomic
from lowcarb._text import check_name, plain, safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import LowcarbError, UsageError
from lowcarb.units import parse_duration_h, parse_timestamp

if TYPE_CHECKING:
    from lowcarb.grid import IntensitySource
    from lowcarb.monitoring import (
        CheckOptions,
        CheckOutcome,
        DriftChecker,
        DriftReport,
        RetrainPolicy,
    )

__all__ = ["register"]

#: The largest window file read (both windows are parsed in memory).
MAX_WINDOW_BYTES = 256 << 20


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb monitor``."""
    p = sub.add_parser(
        "monitor",
        help="drift checks, the retraining policy and energy regressions",
        description=(
            "Detect drift between a reference and a current window (CSV or Parquet), decide "
            "under a retraining policy whether a retrain is worth its energy and queue it for a "
            "low-carbon window, and catch energy regressions of a served model."
        ),
    )
    msub = p.add_subparsers(dest="monitor_command", metavar="{check,watch,energy}")
    msub.required = True

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
    _windows(c)
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
    _model_options(c)
    c.add_argument("--since", metavar="T", help="a serving log: requests at or after T (ISO 8601)")
    c.add_argument("--until", metavar="T", help="a serving log: requests before T")
    c.add_argument("--html", type=Path, metavar="FILE", help="write the HTML drift report here")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=_check)

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
    _windows(w)
    w.add_argument("--policy", type=Path, required=True, help="retraining policy YAML")
    _model_options(w)
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

    e = msub.add_parser(
        "energy",
        help="energy regression of a model version against the champion (exit 1 on an alert)",
        description=(
            "Compare joules per 1,000 inferences of a candidate (a profile, or a serving "
            "/metrics scrape, since the server started or since a --previous scrape) with the "
            "baseline profile under the policy's energy_regression "
            "rule; record the check in the ledger, and with rollback: true move the MLflow "
            "alias back to the previous champion. Exit 0 within tolerance, 1 alert."
        ),
    )
    e.add_argument("--policy", type=Path, required=True, help="policy YAML (energy_regression)")
    e.add_argument("--baseline", type=Path, required=True, help="the champion's profile JSON")
    e.add_argument("--candidate", type=Path, help="the candidate's profile JSON")
    e.add_argument("--metrics", metavar="URL_OR_FILE", help="a /metrics URL or a saved scrape")
    e.add_argument("--model", metavar="NAME", help="the served model label in --metrics")
    e.add_argument(
        "--version", metavar="V", help="the served version behind --metrics (ledger, rollback)"
    )
    e.add_argument(
        "--previous",
        metavar="URL_OR_FILE",
        help="an earlier scrape of --metrics: the figure covers the requests between the two",
    )
    e.add_argument("--mlflow-model", metavar="NAME", help="registered model to roll back")
    e.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    e.add_argument("--ledger", help="ledger URL (default: LOWCARB_LEDGER or the config file)")
    e.add_argument("--team", help="team charged")
    e.add_argument("--project", help="project charged")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    e.set_defaults(func=_energy)


def _windows(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "reference", type=Path, metavar="REFERENCE", help="reference window (.csv, .parquet)"
    )
    p.add_argument(
        "current",
        type=Path,
        metavar="CURRENT",
        help="current window (.csv, .parquet, or a serving log .jsonl of lowcarb serve "
        "--log-features)",
    )


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--categorical", metavar="A,B", help="features compared as categories (integer codes)"
    )
    p.add_argument(
        "--score-columns",
        metavar="A,B",
        help="the model's class probabilities, in class order (binary: the positive class' "
        "alone will do); with --label-column on the reference, accuracy is estimated by CBPE",
    )
    p.add_argument(
        "--label-column", metavar="C", help="true labels (reference; current when they arrived)"
    )
    p.add_argument(
        "--prediction-column", metavar="C", help="the model's predictions (default: from scores)"
    )
    p.add_argument(
        "--classes", metavar="A,B", help="class labels in score-column order (default: sorted)"
    )
    p.add_argument("--model", metavar="NAME", help="a serving log: the served model to read")


def _feature_list(text: str | None, flag: str = "--features") -> list[str] | None:
    if text is None:
        return None
    names = [f.strip() for f in text.split(",")]
    if not all(names):
        raise UsageError(f"{flag} {text!r} has an empty name; give e.g. {flag} a,b")
    return names


def _options(args: argparse.Namespace, *, features: list[str] | None = None) -> CheckOptions:
    from lowcarb.monitoring import CheckOptions, ModelColumns

    scores = _feature_list(args.score_columns, "--score-columns") or []
    classes = _feature_list(args.classes, "--classes")
    columns = ModelColumns(
        scores=tuple(scores),
        label=args.label_column,
        prediction=args.prediction_column,
        classes=None if classes is None else tuple(classes),
    )
    return CheckOptions(
        features=None if features is None else tuple(features),
        categorical=tuple(_feature_list(args.categorical, "--categorical") or ()),
        statistic=getattr(args, "statistic", None),
        drift_share=getattr(args, "drift_share", None),
        columns=columns,
        model=args.model,
    )


def _checker(
    args: argparse.Namespace, options: CheckOptions, policy: RetrainPolicy | None
) -> DriftChecker:
    from lowcarb.monitoring import DriftChecker, read_window

    reference = read_window(
        args.reference,
        what="reference window",
        max_bytes=MAX_WINDOW_BYTES,
        log=DriftChecker.reference_log_columns(options),
    )
    return DriftChecker(reference, options=options, policy=policy)


def _warn(ctx: CliContext, warnings: tuple[str, ...] | list[str]) -> None:
    """The policy rules not evaluated, in one line (the JSON and the ledger list each)."""
    if warnings:
        text = "; ".join(warnings)
        if "figure" in text or "labels" in text:  # missing input, not a method mismatch
            text += "; name the model's columns with --score-columns, --label-column"
        print(f"lowcarb: warning: {plain(text)}", file=ctx.stderr)


def _check(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.monitoring import drift_html, load_retrain_policy, read_window, unevaluated_rules

    if args.html is not None:
        check_output_path(args.html, what="--html")  # before any work
    options = _options(args, features=_feature_list(args.features))
    since = parse_timestamp(args.since, what="--since") if args.since is not None else None
    until = parse_timestamp(args.until, what="--until") if args.until is not None else None
    if since is not None and until is not None and until <= since:
        raise UsageError(f"--until {args.until!r} is not after --since {args.since!r}")
    policy = load_retrain_policy(args.policy) if args.policy is not None else None
    checker = _checker(args, options, policy)
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
    _warn(ctx, warnings)
    if args.json:
        emit_json(ctx, {"reference": str(args.reference), "current": str(args.current),
                        **report.to_dict(), "warnings": list(warnings)})  # fmt: skip
    else:
        _print_report(ctx, report, args)
    return 1 if report.drift else 0


def _print_report(ctx: CliContext, report: DriftReport, args: argparse.Namespace) -> None:
    table = Table(title=f"lowcarb monitor check: {safe(str(args.current))} vs reference")
    for col in ("feature", "kind", "statistic", "value", "drift when", "drift", "missing %",
                "new categories"):  # fmt: skip
        table.add_column(col, justify="right" if col in ("value", "missing %") else "left")
    for f in report.features:
        test = f.statistic in ("ks", "chi2")
        value = f"{f.value:.3g}" if test else f"{f.value:.4g}"
        when = f"< {f.threshold:g}" if test else f"> {f.threshold:g}"
        new = ", ".join(safe(c) for c in f.new_categories[:3])
        if len(f.new_categories) > 3:
            new += f" +{len(f.new_categories) - 3}"
        missing = f"{f.missing_share_reference:.1%} -> {f.missing_share_current:.1%}"
        table.add_row(safe(f.name), f.kind, f.statistic, value, when,
                      "yes" if f.drift else "no", missing, new)  # fmt: skip
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


def _ledger(args: argparse.Namespace, ctx: CliContext) -> str:
    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    assert url is not None  # without default=None the resolver always answers
    return url


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
    options = _options(args)
    checker = _checker(args, options, policy)
    ref_sha = sha256_hex(read_input_bytes(args.reference, what="reference window",
                                          max_bytes=MAX_WINDOW_BYTES, binary=True))  # fmt: skip
    source = _source(args)
    url = _ledger(args, ctx)

    with (
        open_ledger(url, environ=ctx.environ) as ledger,
        open_job_store(args.jobs or url, environ=ctx.environ) as store,
    ):
        monitor = RetrainMonitor(policy, ledger=ledger, store=store, source=source)

        def check() -> DriftReport:
            # One read: the window checked is exactly the bytes hashed into the ledger.
            raw = read_input_bytes(args.current, what="current window",
                                   max_bytes=MAX_WINDOW_BYTES, binary=True)  # fmt: skip
            since = clock() - timedelta(hours=last_h) if last_h is not None else None
            current = parse_window(raw, source=str(args.current), what="current window",
                                   log=checker.log_columns(since=since))  # fmt: skip
            monitor.inputs = (
                GateInput("reference", str(args.reference), ref_sha),
                GateInput("current", str(args.current), sha256_hex(raw)),
            )
            return checker.check(current)

        def on_outcome(outcome: CheckOutcome) -> None:
            _warn(ctx, outcome.decision.warnings)
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


def _energy(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.ledger import open_ledger
    from lowcarb.monitoring import (
        act_on_regression,
        check_energy_regression,
        energy_from_metrics,
        energy_from_profile,
        load_retrain_policy,
    )
    from lowcarb.profiling import load_profile

    check_name(args.team, what="--team")
    check_name(args.project, what="--project")
    policy = load_retrain_policy(args.policy)
    rule = policy.require_energy_regression()
    if (args.candidate is None) == (args.metrics is None):
        raise UsageError("give either --candidate PROFILE or --metrics URL_OR_FILE --model NAME")
    if rule.rollback and not args.mlflow_model:
        raise UsageError(
            "the policy says rollback: true; give --mlflow-model NAME (and --tracking-uri), or "
            "set rollback: false"
        )
    baseline = energy_from_profile(
        load_profile(args.baseline, role="baseline"), location=str(args.baseline)
    )
    if args.candidate is not None:
        if args.version is not None or args.previous is not None:
            raise UsageError(
                "--version and --previous go with --metrics; a --candidate profile carries its "
                "own version and covers its own run"
            )
        candidate = energy_from_profile(
            load_profile(args.candidate, role="candidate"), location=str(args.candidate)
        )
    else:
        if not args.model:
            raise UsageError("--metrics needs --model NAME (the served model's label)")
        if args.version is not None:
            check_name(args.version, what="--version")
        text = _scrape(args.metrics, what="--metrics")
        previous = _scrape(args.previous, what="--previous") if args.previous else None
        candidate = energy_from_metrics(
            text, model=args.model, version=args.version, previous=previous,
            location=args.metrics,
        )  # fmt: skip
    regression = check_energy_regression(candidate, baseline, rule)
    rollback = None
    if args.mlflow_model:
        from lowcarb.integrations.mlflow import MlflowAliasRollback, mlflow_client

        uri = args.tracking_uri or ctx.environ.get("MLFLOW_TRACKING_URI")
        rollback = MlflowAliasRollback(mlflow_client(uri), name=args.mlflow_model,
                                       alias=rule.alias)  # fmt: skip
    with open_ledger(_ledger(args, ctx), environ=ctx.environ) as ledger:
        outcome = act_on_regression(
            regression, policy, ledger=ledger, rollback=rollback, team=args.team,
            project=args.project,
        )  # fmt: skip
    if args.json:
        emit_json(ctx, outcome.to_dict())
    else:
        print(("ALERT: " if regression.alert else "ok: ") + plain(regression.message),
              file=ctx.stdout)  # fmt: skip
        for note in regression.notes:
            print(f"note: {plain(note)}", file=ctx.stdout)
    return 1 if regression.alert else 0


def _scrape(where: str, *, what: str) -> bytes:
    from lowcarb.monitoring import fetch_metrics

    if where.startswith(("http://", "https://")):
        return fetch_metrics(where)
    return read_input_bytes(Path(where), what=what)
