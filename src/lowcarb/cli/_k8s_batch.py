"""`lowcarb k8s job` and `lowcarb k8s release`: parsing and rendering only.

The Job, the spatial choice and the controller are built by :mod:`lowcarb.integrations.k8s`.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb._files import check_output_path, write_atomic
from lowcarb._text import plain
from lowcarb.cli._common import CliContext, emit_json, positive_float, positive_int
from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import (
    PROVIDER_NAMES,
    IntensitySource,
    TraceIntensitySource,
    forecaster_names,
    load_trace_table,
    make_forecaster,
    open_provider,
)
from lowcarb.integrations.k8s import (
    BatchJob,
    ClusterError,
    KeplerEnergy,
    KubeApi,
    ReleaseConfig,
    ReleaseController,
    Resources,
    TickReport,
    connect,
    place_job,
    suspended_job,
    to_yaml,
)
from lowcarb.scheduling import ProfileSource, build_job_spec
from lowcarb.units import parse_timestamp

__all__ = ["register_job", "register_release"]


def _forecast_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trace", metavar="FILE", help="trace CSV to forecast from (3 formats)")
    p.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="a live API's forecasts (credentials from the environment, as `lowcarb plan`)",
    )
    p.add_argument(
        "--forecaster",
        "--model",
        dest="model",
        choices=sorted(forecaster_names()),
        help="forecaster for --trace (default profile-blend)",
    )


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG)")


def _source(args: argparse.Namespace, ctx: CliContext) -> IntensitySource:
    if args.trace and args.provider:
        raise UsageError("give either --trace or --provider, not both")
    if args.provider:
        return open_provider(args.provider, ctx.environ)
    if args.trace:
        forecaster = make_forecaster(args.model or "profile-blend")
        return TraceIntensitySource(load_trace_table(args.trace), forecaster=forecaster)
    if args.model not in (None, "profile"):
        raise UsageError(f"--model {args.model} needs --trace (history to fit it on)")
    return ProfileSource()


def _now(args: argparse.Namespace) -> datetime:
    return parse_timestamp(args.now, what="--now") if args.now else datetime.now(UTC)


# -- k8s job ---------------------------------------------------------------------------------
def register_job(cmds: argparse._SubParsersAction[Any]) -> None:
    """Add ``k8s job``."""
    p = cmds.add_parser(
        "job",
        help="a batch Job created suspended, released at its low-carbon start",
        description="Plan a job of --duration to finish by --deadline at the lowest forecast "
        "intensity, and write it as a batch/v1 Job created with spec.suspend: true and the plan "
        "in its annotations; `lowcarb k8s release` un-suspends it at the planned start. With "
        "several --context CTX=ZONE, the cleanest cluster that meets the deadline is chosen. "
        "Prints the manifest (YAML, or with --json one object with the plan), or with --create "
        "creates it through the Kubernetes API. The command is --command 'CMD ARGS' (split as a "
        "shell would) or, with every option before NAME, `NAME -- CMD ARGS`.",
    )
    p.add_argument("name", metavar="NAME", help="the Job's name (a DNS-1123 label)")
    p.add_argument("--image", required=True, help="container image")
    p.add_argument(
        "--command",
        dest="command_text",
        metavar="CMD",
        help="the command and its arguments, split as a shell would: 'python train.py -e 3'",
    )
    p.add_argument("--duration", required=True, metavar="D", help="run time: 90m, 2h, 1d")
    p.add_argument(
        "--deadline",
        required=True,
        metavar="D",
        help="finish by: a duration after --now (24h) or an ISO time",
    )
    p.add_argument("--zone", metavar="Z", help="grid zone of the (current-context) cluster")
    p.add_argument(
        "--context",
        dest="contexts",
        action="append",
        default=[],
        metavar="CTX=ZONE",
        help="a candidate cluster (kube context) and its grid zone; repeat to choose the "
        "cleanest that meets the deadline (the first is the baseline)",
    )
    p.add_argument("--namespace", default="default", help="(default: default)")
    p.add_argument("--requests-cpu", default="1", help="CPU request (default: 1)")
    p.add_argument("--requests-memory", default="2Gi", help="memory request (default: 2Gi)")
    p.add_argument("--limits-cpu", help="CPU limit (default: the request)")
    p.add_argument("--limits-memory", help="memory limit (default: the request)")
    p.add_argument("--team", help="label lowcarb.dev/team (ledger attribution)")
    p.add_argument("--project", help="label lowcarb.dev/project (ledger attribution)")
    p.add_argument("--backoff-limit", type=int, default=0, help="retries (default: 0)")
    _forecast_flags(p)
    p.add_argument("--now", metavar="TIMESTAMP", help="plan as of this time (default: now)")
    _cluster_flags(p)
    p.add_argument("--create", action="store_true", help="create the Job in the chosen cluster")
    p.add_argument("--json", action="store_true", help="one JSON object: plan and manifest")
    p.add_argument("-o", "--output", type=Path, help="write the YAML here instead of stdout")
    p.add_argument("cmd", nargs="*", metavar="-- CMD ARGS", help="the command (see above)")
    p.set_defaults(func=_job)


def _command(args: argparse.Namespace) -> tuple[str, ...]:
    rest = list(args.cmd)
    if args.command_text and rest:
        raise UsageError("give the command once: --command CMD or after --, not both")
    if args.command_text:
        try:
            rest = shlex.split(args.command_text)
        except ValueError as exc:
            raise InvalidValueError(f"--command {args.command_text!r}: {exc}") from None
    if not rest:
        raise UsageError(
            "give the command the Job runs: --command 'python train.py' (or NAME -- CMD ARGS "
            "with every option before NAME)"
        )
    return tuple(rest)


def _candidates(args: argparse.Namespace) -> list[tuple[str | None, str]]:
    if args.zone and args.contexts:
        raise UsageError("give --zone (one cluster) or --context CTX=ZONE (several), not both")
    if args.zone:
        return [(None, args.zone.strip())]
    out: list[tuple[str | None, str]] = []
    for item in args.contexts:
        context, sep, zone = item.partition("=")
        if not sep or not context.strip() or not zone.strip():
            raise InvalidValueError(
                f"--context must be CTX=ZONE (a kube context and its grid zone), got {item!r}"
            )
        out.append((context.strip(), zone.strip()))
    if not out:
        raise UsageError("give the cluster's grid zone: --zone Z, or --context CTX=ZONE")
    return out


def _job(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.output is not None:
        check_output_path(args.output, what="--output")
    now = _now(args)
    job = BatchJob(
        name=args.name,
        image=args.image,
        command=_command(args),
        namespace=args.namespace,
        resources=Resources(
            cpu_request=args.requests_cpu,
            memory_request=args.requests_memory,
            cpu_limit=args.limits_cpu or args.requests_cpu,
            memory_limit=args.limits_memory or args.requests_memory,
        ),
        team=args.team,
        project=args.project,
        backoff_limit=args.backoff_limit,
    )  # a bad name, image or quantity fails here, before any planning or API call
    spec = build_job_spec(duration=args.duration, deadline=args.deadline, now=now)
    placement = place_job(spec, _candidates(args), _source(args, ctx), now=now)
    manifest = suspended_job(job, placement.plan)
    created = False
    if args.create:
        kube = KubeApi(
            connect(kubeconfig=args.kubeconfig, context=placement.context, environ=ctx.environ)
        )
        try:
            kube.create_job(job.namespace, manifest)
        except ClusterError as exc:
            if "HTTP 409" in str(exc):
                raise ClusterError(
                    f"Job {job.namespace}/{job.name} already exists in "
                    f"{_where(placement.context)}: give another NAME or delete it first"
                ) from None
            raise
        created = True
    plan = placement.plan
    where = _where(placement.context)
    summary = (
        f"lowcarb: Job {job.namespace}/{job.name} {'created suspended' if created else 'planned'}"
        f" in {where}, zone {plan.zone}: release at {plan.to_dict()['start']} (expected "
        f"{_g(plan.expected_intensity_g_per_kwh)} vs {_g(plan.now_intensity_g_per_kwh)} gCO2e/kWh "
        f"now, {plan.forecast_model})"
    )
    if plan.fallback:
        summary += f"; FALLBACK: {plan.fallback}"
    if args.json:
        emit_json(ctx, {**placement.to_dict(), "created": created, "manifest": manifest})
    elif args.output is not None:
        write_atomic(args.output, to_yaml([manifest]))
    elif not created:
        ctx.stdout.write(to_yaml([manifest]))
        ctx.stdout.flush()
    print(plain(summary), file=ctx.stderr if not created or args.json else ctx.stdout)
    return 0


def _where(context: str | None) -> str:
    return f"context {context}" if context else "the current context"


def _g(value: float) -> str:
    return f"{value:.0f}" if value == value else "n/a"  # NaN: unknown


# -- k8s release -----------------------------------------------------------------------------
def register_release(cmds: argparse._SubParsersAction[Any]) -> None:
    """Add ``k8s release``."""
    p = cmds.add_parser(
        "release",
        help="the controller that un-suspends lowcarb Jobs at their planned start",
        description="Watch the Jobs labelled app.kubernetes.io/managed-by=lowcarb and "
        "un-suspend each at its planned start; re-plan with fresher forecasts (never past the "
        "deadline); record every release and re-plan in the ledger, and each finished Job's "
        "energy (estimated from its pods' CPU and memory requests and runtime, or Kepler's "
        "with --prometheus). Run two or more replicas: one holds the Lease and acts, the "
        "others stand by. --once makes one pass and exits.",
    )
    p.add_argument("--namespace", default="default", help="(default: default)")
    _cluster_flags(p)
    p.add_argument("--context", help="kube context (default: the current one)")
    p.add_argument("--lease-name", default="lowcarb-release", help="(default: lowcarb-release)")
    p.add_argument("--identity", help="this controller's identity (default: hostname_random)")
    p.add_argument(
        "--lease-duration", type=positive_int, default=15, metavar="S", help="(default: 15 s)"
    )
    p.add_argument(
        "--renew-every", type=positive_float, default=5.0, metavar="S", help="(default: 5 s)"
    )
    p.add_argument("--ledger", metavar="URL", help="record releases, re-plans and energy here")
    p.add_argument(
        "--prometheus",
        metavar="URL",
        help="a Prometheus that scrapes Kepler: energy from kepler_container_joules_total",
    )
    p.add_argument(
        "--node-cpu",
        metavar="NAME",
        help="the nodes' CPU (`lowcarb estimate --list-hardware`) for the request-based "
        "estimate (default: Cloud Carbon Footprint's unknown-CPU figure)",
    )
    p.add_argument("--pue", type=positive_float, default=1.0, help="facility PUE (default 1.0)")
    _forecast_flags(p)
    p.add_argument("--no-replan", dest="replan", action="store_false", help="never re-plan")
    p.add_argument(
        "--min-gain-pct",
        type=float,
        default=1.0,
        metavar="PCT",
        help="move a Job only for at least this lower intensity (default 1)",
    )
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--now", metavar="TIMESTAMP", help="with --once: act as at this time")
    p.add_argument("--json", action="store_true", help="with --once: the pass as one JSON object")
    p.set_defaults(func=_release)


def _release(args: argparse.Namespace, ctx: CliContext) -> int:
    if (args.now or args.json) and not args.once:
        raise UsageError("--now and --json go with --once (one pass)")
    config = ReleaseConfig(
        namespace=args.namespace,
        lease_name=args.lease_name,
        lease_duration_s=args.lease_duration,
        renew_every_s=args.renew_every,
        min_gain_pct=args.min_gain_pct,
        replan=args.replan,
        pue=args.pue,
        node_cpu=args.node_cpu,
        **({"identity": args.identity} if args.identity else {}),
    )
    source = _source(args, ctx)
    kepler = KeplerEnergy(args.prometheus) if args.prometheus else None
    fixed = parse_timestamp(args.now, what="--now") if args.now else None
    clock: Callable[[], datetime] = (lambda: fixed) if fixed else (lambda: datetime.now(UTC))
    url = resolve_ledger_url(args.ledger, environ=ctx.environ, default=None)
    kube = KubeApi(connect(kubeconfig=args.kubeconfig, context=args.context, environ=ctx.environ))
    ledger = None
    if url is not None:
        from lowcarb.ledger import open_ledger

        ledger = open_ledger(url, environ=ctx.environ)
    # Said after the first API call with --once: an unreachable cluster is then one line alone.
    no_ledger = "lowcarb: no ledger configured (--ledger): releases are not recorded"
    try:
        controller = ReleaseController(
            kube, config=config, clock=clock, ledger=ledger, source=source, kepler=kepler
        )
        if args.once:
            report = controller.tick()
            if args.json:
                emit_json(ctx, report.to_dict())
            else:
                _print_report(ctx, report)
            if ledger is None:
                print(no_ledger, file=ctx.stderr)
            return 0
        if ledger is None:
            print(no_ledger, file=ctx.stderr)
        print(
            f"lowcarb: release controller {plain(config.identity)} on {plain(kube.host)}, "
            f"namespace {config.namespace}, Lease {config.lease_name}",
            file=ctx.stderr,
        )
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            controller.run(stop=stop, on_tick=lambda r: _print_report(ctx, r, quiet=True))
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0
    finally:
        if ledger is not None:
            ledger.close()


def _print_report(ctx: CliContext, report: TickReport, *, quiet: bool = False) -> None:
    lines = []
    if not report.leader and not quiet:
        lines.append(f"standing by: {plain(report.holder)} holds the Lease")
    for name in report.released:
        lines.append(f"released Job {plain(name)}")
    for change in report.replanned:
        lines.append(
            f"re-planned Job {plain(change['job'])}: {change['from']['planned_start']} -> "
            f"{change['to']['planned_start']}"
        )
    for item in report.accounted:
        lines.append(
            f"Job {plain(item['job'])} {item['outcome']}: {item['energy_kwh']:.4g} kWh, "
            f"{item['co2e_g']:.4g} gCO2e ({item['method']})"
        )
    lines.extend(f"problem: {plain(p)}" for p in report.problems)
    if not quiet and report.leader and not lines:
        nxt = "none" if report.next_start is None else report.to_dict()["next_start"]
        lines.append(f"nothing due; next planned start: {nxt}")
    for line in lines:
        print(f"lowcarb: {line}", file=ctx.stderr if quiet else ctx.stdout)
    if lines:
        (ctx.stderr if quiet else ctx.stdout).flush()
