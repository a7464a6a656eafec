"""``lowcarb plan``: when (and where) to run a job so that it emits least, by its deadline."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from lowcarb._text import safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import (
    PROVIDER_NAMES,
    IntensitySource,
    TraceIntensitySource,
    forecaster_names,
    load_trace_table,
    lookup_zone,
    make_forecaster,
    open_provider,
)
from lowcarb.scheduling import (
    OnForecastError,
    Plan,
    ProfileSource,
    ZoneSources,
    build_job_spec,
    plan_from_source,
)
from lowcarb.units import parse_timestamp

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb plan``."""
    p = sub.add_parser(
        "plan",
        help="plan when (and where) to run a job for the lowest CO2e by its deadline",
        description=(
            "Find the start (and zone) with the lowest forecast emissions that still finishes by "
            "the deadline. With --trace and --now, the trace is replayed as of --now: only hours "
            "that ended before the hour holding --now are used, so a backtest can be trusted. "
            "Without --trace, the embedded month x hour-of-day profile is used (offline)."
        ),
    )
    p.add_argument(
        "--zone",
        action="append",
        required=True,
        metavar="Z",
        help="candidate zone (repeat for a spatial choice; the first is the baseline)",
    )
    p.add_argument("--duration", required=True, metavar="D", help="job length: 90m, 2h, 1d")
    p.add_argument(
        "--deadline",
        required=True,
        metavar="D",
        help="finish by: a duration after --now (24h) or an ISO time (2022-03-02T09:00Z)",
    )
    p.add_argument("--interruptible", action="store_true", help="the job may pause and resume")
    p.add_argument(
        "--min-chunk",
        default="1h",
        metavar="D",
        help="interruptible: shortest run between pauses (default 1h)",
    )
    p.add_argument(
        "--pause-overhead",
        default="0",
        metavar="D",
        help="interruptible: extra run time each resume costs (default 0)",
    )
    p.add_argument(
        "--power-w",
        metavar="W",
        help="job power in watts, or a comma-separated curve spread over the run (300,250,200)",
    )
    p.add_argument(
        "--penalty",
        action="append",
        default=[],
        metavar="ZONE=GRAMS",
        help="extra gCO2e of running in ZONE (e.g. data transfer); needs --power-w",
    )
    p.add_argument(
        "--trace",
        action="append",
        default=[],
        metavar="FILE",
        help="trace CSV (one for all zones, or one per --zone in order)",
    )
    p.add_argument("--now", metavar="TIMESTAMP", help="decision time, ISO 8601 (default: now)")
    add_provider_flag(p)
    p.add_argument(
        "--forecaster",
        "--model",
        dest="model",
        choices=forecaster_names(),
        default=None,
        help="forecast model for --trace (default profile-blend)",
    )
    p.add_argument(
        "--on-forecast-error",
        choices=("start-now", "latest-start", "error"),
        default=None,
        help="when no forecast can be had: a labelled fallback plan, or exit 2 "
        "(default: error with --trace, start-now otherwise)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_plan)


def add_provider_flag(p: argparse.ArgumentParser) -> None:
    """``--provider``: a live forecast source (shared with ``lowcarb worker``)."""
    p.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="live forecasts (ELECTRICITYMAPS_API_TOKEN, WATTTIME_USERNAME/PASSWORD; ukci needs "
        "no key); failures fall back to the embedded profile, labelled",
    )


def _power(text: str | None) -> float | tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InvalidValueError(
            f"--power-w must be watts or a comma-separated list of watts, got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def _penalties(items: list[str], zones: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        zone, sep, grams = item.partition("=")
        try:
            value = float(grams)
        except ValueError:
            value = float("nan")
        if not sep or not zone or not value >= 0:
            raise InvalidValueError(f"--penalty must be ZONE=GRAMS with GRAMS >= 0, got {item!r}")
        if zone.strip() not in zones:
            raise InvalidValueError(
                f"--penalty names zone {zone.strip()!r}, which is not a candidate; give one of "
                f"the --zone values ({', '.join(zones)})"
            )
        out[zone.strip()] = value
    return out


def _source(args: argparse.Namespace, zones: list[str], ctx: CliContext) -> IntensitySource:
    if args.provider:
        if args.trace:
            raise UsageError("give either --trace or --provider, not both")
        return open_provider(args.provider, ctx.environ)
    if not args.trace:
        if args.model not in (None, "profile"):
            raise UsageError(f"--model {args.model} needs --trace (history to fit it on)")
        for zone in zones:
            lookup_zone(zone)  # unknown zones fail here, with suggestions
        return ProfileSource()
    forecaster = make_forecaster(args.model or "profile-blend")
    if len(args.trace) == 1:
        return TraceIntensitySource(load_trace_table(args.trace[0]), forecaster=forecaster)
    if len(args.trace) != len(zones):
        raise UsageError(
            f"give one --trace for all zones or one per --zone; got {len(args.trace)} traces "
            f"for {len(zones)} zones"
        )
    return ZoneSources(
        {
            z: TraceIntensitySource(load_trace_table(t), forecaster=forecaster)
            for z, t in zip(zones, args.trace, strict=True)
        }
    )


def _plan(args: argparse.Namespace, ctx: CliContext) -> int:
    now = parse_timestamp(args.now, what="--now") if args.now is not None else datetime.now(UTC)
    zones = [z.strip() for z in args.zone]
    job = build_job_spec(
        duration=args.duration,
        deadline=args.deadline,
        now=now,
        interruptible=bool(args.interruptible),
        min_chunk=args.min_chunk,
        pause_overhead=args.pause_overhead,
        power_w=_power(args.power_w),
    )
    mode = args.on_forecast_error or ("error" if args.trace else "start-now")
    on_error: OnForecastError = (
        "raise" if mode == "error" else "latest-start" if mode == "latest-start" else "start-now"
    )
    plan = plan_from_source(
        job,
        zones,
        _source(args, zones, ctx),
        now=now,
        penalties_co2e_g=_penalties(args.penalty, zones),
        on_forecast_error=on_error,
    )
    if args.json:
        emit_json(ctx, plan.to_dict())
    else:
        render_plan(ctx, plan)
    return 0


def _hours(plan: Plan) -> str:
    return f"{plan.wait.total_seconds() / 3600:.1f} h"


def render_plan(ctx: CliContext, plan: Plan) -> None:
    """A Rich table of the plan on stdout."""
    d = plan.to_dict()
    table = Table(title=f"lowcarb plan: run in {safe(plan.zone)}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("start", f"{d['start']} (wait {_hours(plan)})")
    table.add_row("end", d["end"])
    table.add_row("latest start", d["latest_start"])
    if plan.interruptible:
        table.add_row("slots", "\n".join(f"{s['start']} .. {s['end']}" for s in d["slots"]))

    def g(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} gCO2e/kWh"

    table.add_row("expected intensity", g(d["expected_intensity_g_per_kwh"]))
    table.add_row(f"if started now ({safe(plan.baseline_zone)})", g(d["now_intensity_g_per_kwh"]))
    if d["expected_savings_pct"] is not None:
        table.add_row("expected saving", f"{d['expected_savings_pct']:.1f}%")
    if plan.expected_co2e_g is not None:
        table.add_row("expected CO2e", f"{plan.expected_co2e_g:.1f} g")
    for o in plan.options:
        table.add_row(
            f"option {safe(o.zone)}", f"{g(o.expected_intensity_g_per_kwh)}, {o.start:%H:%M}Z"
        )
    table.add_row("forecast", safe(plan.forecast_model))
    if plan.fallback:
        table.add_row("FALLBACK", safe(plan.fallback))
    for note in plan.notes:
        table.add_row("note", safe(note))
    ctx.console().print(table)
