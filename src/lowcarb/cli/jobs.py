"""``lowcarb submit``, ``lowcarb worker`` and ``lowcarb jobs``: the local carbon-aware job queue."""

from __future__ import annotations

import argparse
import math
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, get_args

from rich.table import Table

from lowcarb._config import load_settings, resolve_ledger_url
from lowcarb._text import check_name, plain, safe
from lowcarb.cli._common import CliContext, emit_json, positive_int
from lowcarb.cli.plan import add_provider_flag
from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import (
    IntensitySource,
    TraceIntensitySource,
    load_trace_table,
    lookup_zone,
    make_forecaster,
    open_provider,
)
from lowcarb.jobs import Job, JobState, ReplayClock, Worker, WorkerConfig, open_job_store
from lowcarb.scheduling import ProfileSource, build_job_spec
from lowcarb.units import parse_duration_h, parse_timestamp

#: The fastest replay clock (3600 replays an hour a second; a million, 11 days a second).
MAX_SPEED = 1e6
#: The most jobs one worker runs at once (each is a process tree it measures).
MAX_PARALLEL = 1024
#: The longest --poll and --grace: a worker that sleeps or waits longer is a typo.
MAX_WAIT = timedelta(days=1)

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb submit``, ``lowcarb worker`` and ``lowcarb jobs``."""
    s = sub.add_parser(
        "submit",
        help="queue a command to run at its lowest-carbon time before a deadline",
        description=(
            "Store a job in the queue (in the ledger database). `lowcarb worker` plans it, starts "
            "it at its planned time, measures it and appends it to the ledger. Interruptible jobs "
            "are paused with SIGTERM between planned slots: they find LOWCARB_CHECKPOINT_DIR (a "
            "directory kept across pauses) and LOWCARB_JOB_RESUMED=1 when resumed, and must exit "
            "with a non-zero status when paused (0 means finished)."
        ),
    )
    s.add_argument(
        "--deadline",
        required=True,
        metavar="T",
        help="finish by: an ISO time (2022-03-02T09:00Z) or a duration after now (24h)",
    )
    s.add_argument("--duration", metavar="D", help="expected run time (default 1h; give it)")
    s.add_argument("--zone", action="append", default=[], metavar="Z", help="candidate zone(s)")
    s.add_argument("--interruptible", action="store_true", help="may be paused and resumed")
    s.add_argument("--min-chunk", default="1h", metavar="D", help="shortest run between pauses")
    s.add_argument("--pause-overhead", default="0", metavar="D", help="extra time per resume")
    s.add_argument("--power-w", type=float, metavar="W", help="job power, watts")
    s.add_argument("--now", metavar="T", help="submission time for relative deadlines (tests)")
    _common(s)
    s.add_argument("--team", help="team to attribute the runs to")
    s.add_argument("--project", help="project to attribute the runs to")
    s.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")
    s.set_defaults(func=_submit)

    w = sub.add_parser(
        "worker",
        help="run queued jobs at their planned times",
        description=(
            "Plan queued jobs on forecasts, start each at its planned time (or its latest feasible "
            "start if forecasts fail), pause and resume interruptible ones, measure every run and "
            "append it to the ledger. A killed worker can be restarted: running jobs are adopted, "
            "jobs that ended meanwhile are recorded once and not run again. SIGTERM: stop "
            "claiming jobs and let running ones finish within --grace (interruptible ones "
            "pause); a second SIGTERM kills them at once and records them as interrupted."
        ),
    )
    _common(w)
    w.add_argument("--trace", metavar="FILE", help="replay this trace as the intensity source")
    add_provider_flag(w)
    w.add_argument(
        "--forecaster",
        "--model",
        dest="model",
        default="profile-blend",
        choices=("profile-blend", "lag-ridge", "seasonal-naive", "profile"),
        help="forecast model for --trace",
    )
    w.add_argument("--now", metavar="T", help="start a replay clock at T (with --speed)")
    w.add_argument("--speed", type=float, default=1.0, help="replay clock speed (3600: 1 h/s)")
    w.add_argument("--poll", default="30s", metavar="D", help="longest sleep between passes")
    w.add_argument("--grace", default="60s", metavar="D", help="SIGTERM-to-SIGKILL delay")
    w.add_argument(
        "--max-parallel", type=_max_parallel, default=4, help=f"jobs at once (1..{MAX_PARALLEL})"
    )
    w.add_argument(
        "--on-forecast-error",
        choices=("latest-start", "start-now"),
        default="latest-start",
        help="start of a job that cannot be planned (default: its latest feasible start)",
    )
    w.add_argument("--once", action="store_true", help="one pass, then exit")
    w.add_argument("--until-idle", action="store_true", help="exit when no job is left")
    w.set_defaults(func=_worker)

    j = sub.add_parser("jobs", help="list queued, running and finished jobs")
    _common(j)
    j.add_argument(
        "--state",
        action="append",
        default=[],
        choices=get_args(JobState),
        help="only jobs in this state (repeatable)",
    )
    j.add_argument("--cancel", metavar="ID", help="cancel a queued or paused job")
    j.set_defaults(func=_jobs)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ledger", metavar="URL", help="ledger database holding the queue")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _ledger_url(args: argparse.Namespace, ctx: CliContext) -> str:
    """The one ledger resolver (flag > LOWCARB_LEDGER > config > default), checked, not opened."""
    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    if url is None:  # not reached: a default is given
        raise UsageError("no ledger: give --ledger URL or set LOWCARB_LEDGER")
    return url


def _max_parallel(text: str) -> int:
    value = positive_int(text)
    if value > MAX_PARALLEL:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PARALLEL}, got {text!r}")
    return value


def _speed(text: float) -> float:
    if not (math.isfinite(text) and 0 < text <= MAX_SPEED):
        raise InvalidValueError(
            f"--speed must be a number > 0 and <= {MAX_SPEED:g}, got {text!r}; e.g. --speed 3600"
        )
    return text


def _submit(args: argparse.Namespace, ctx: CliContext) -> int:
    argv = list(args.cmd)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("no command given; usage: lowcarb submit --deadline T [...] -- COMMAND")
    url = _ledger_url(args, ctx)
    team = check_name(args.team, what="--team")
    project = check_name(args.project, what="--project")
    now = parse_timestamp(args.now, what="--now") if args.now is not None else datetime.now(UTC)
    settings = load_settings(environ=ctx.environ)
    zones = [z.strip() for z in args.zone] or [settings.zone or ""]
    if not zones[0]:
        raise UsageError("give --zone Z (or set LOWCARB_ZONE / zone in lowcarb.toml)")
    zones = [lookup_zone(z).zone_id for z in zones]  # checked before the ledger is opened
    spec = build_job_spec(
        duration=args.duration or "1h",
        deadline=args.deadline,
        now=now,
        interruptible=args.interruptible,
        min_chunk=args.min_chunk,
        pause_overhead=args.pause_overhead,
        power_w=args.power_w,
    )
    with open_job_store(url, environ=ctx.environ) as store:
        job = store.submit(
            argv,
            spec,
            zones=zones,
            now=now,
            team=team or settings.team,
            project=project or settings.project,
        )
    if args.duration is None:
        print("lowcarb: no --duration given: planned as 1h", file=ctx.stderr)
    if args.json:
        emit_json(ctx, job.to_dict())
    else:
        command = plain(" ".join(argv))
        print(
            f"queued job {job.id}: {command} (deadline {job.to_dict()['deadline']})",
            file=ctx.stdout,
        )
    return 0


def _worker(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.provider and args.trace:
        raise UsageError("give either --trace or --provider, not both")
    if args.speed != 1.0 and args.now is None:
        raise UsageError("--speed needs --now (a replay starts at a given time)")
    speed = _speed(args.speed)
    config = WorkerConfig(
        poll_s=parse_duration_h(args.poll, what="--poll", maximum=MAX_WAIT) * 3600,
        grace_s=parse_duration_h(args.grace, what="--grace", maximum=MAX_WAIT) * 3600,
        max_parallel=args.max_parallel,
        on_forecast_error=args.on_forecast_error,
    )
    clock = (
        ReplayClock(parse_timestamp(args.now, what="--now"), speed=speed)
        if args.now is not None
        else None
    )
    url = _ledger_url(args, ctx)
    # Opened before anything else runs: a bad ledger fails here, with no job started.
    store = open_job_store(url, environ=ctx.environ)
    try:
        source = _worker_source(args, ctx)
        worker = Worker(
            store, source, ledger_url=url, config=config, clock=clock, environ=ctx.environ
        )
        signals = _run_worker(worker, args)
    finally:
        store.close()
    if args.json:
        emit_json(ctx, {"worker": worker.id, "stopped_by_signal": signals > 0})
    return 0


def _worker_source(args: argparse.Namespace, ctx: CliContext) -> IntensitySource:
    if args.provider:
        return open_provider(args.provider, ctx.environ)
    if args.trace:
        forecaster = make_forecaster(args.model)
        return TraceIntensitySource(load_trace_table(args.trace), forecaster=forecaster)
    return ProfileSource()


def _run_worker(worker: Worker, args: argparse.Namespace) -> int:
    """Run ``worker`` until done or told to stop; returns how many stop signals arrived.

    The first SIGTERM (or SIGINT) stops claiming jobs and lets the running ones finish within the
    grace period (interruptible ones are paused); a second one terminates the running jobs at
    once, records them as interrupted and exits.
    """
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        worker.stopping.set()
        if len(received) > 1:
            worker.terminating.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = (
        {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
    )
    try:
        worker.run(until_idle=args.until_idle, max_ticks=1 if args.once else None)
        if received:
            worker.shutdown()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return len(received)


def _jobs(args: argparse.Namespace, ctx: CliContext) -> int:
    with open_job_store(_ledger_url(args, ctx), environ=ctx.environ) as store:
        if args.cancel:
            store.cancel(args.cancel)
        jobs = store.list_jobs(args.state or None)
    if args.json:
        emit_json(ctx, {"jobs": [j.to_dict() for j in jobs]})
        return 0
    _render(ctx, jobs)
    return 0


def _short(t: datetime | None) -> str:
    return "-" if t is None else t.strftime("%m-%d %H:%MZ")


def _render(ctx: CliContext, jobs: list[Job]) -> None:
    table = Table(title="lowcarb jobs")
    table.add_column("id", no_wrap=True, min_width=12)
    for col in ("state", "zone", "deadline", "start", "g/kWh plan", "g/kWh real", "runs", "exit"):
        table.add_column(col, no_wrap=col in ("state", "deadline", "start"))
    table.add_column("command", overflow="ellipsis", no_wrap=True, max_width=30)
    for job in jobs:
        plan = job.plan or {}
        planned = plan.get("expected_intensity_g_per_kwh")
        real = job.realised_intensity_g_per_kwh
        table.add_row(
            safe(job.id),
            job.state,
            safe(plan.get("zone") or job.zones[0]),
            _short(job.deadline),
            _short(job.planned_start),
            "-" if planned is None else f"{planned:.0f}",
            "-" if real is None else f"{real:.0f}",
            str(job.attempts),
            "-" if job.exit_code is None else str(job.exit_code),
            safe(" ".join(job.command)),
        )
    ctx.console().print(table)
