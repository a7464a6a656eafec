"""`lowcarb intensity now|history|forecast`: grid carbon intensity of a zone.

Sources: a trace file (``--trace``), a live API (``--provider``, never used unless asked), or
offline defaults: the static annual table for ``now`` and
``history``, the embedded month x hour profile for ``forecast``. With ``--trace`` and ``--now``
only trace data strictly before ``--now`` is used. The logic lives in :mod:`lowcarb.grid`.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from rich.table import Table

from lowcarb._text import plain, safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import (
    PROVIDER_NAMES,
    Intensity,
    IntensitySeries,
    ProviderForecaster,
    StaticIntensitySource,
    TraceIntensitySource,
    floor_hour,
    forecaster_names,
    lookup_region,
    lookup_zone,
    make_forecaster,
    open_provider,
    resolve_zone,
)
from lowcarb.units import parse_duration, parse_timestamp

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``intensity`` command group."""
    parser = sub.add_parser(
        "intensity",
        help="grid carbon intensity: now, history, forecast",
        description="Grid carbon intensity of a zone, from a trace file or offline defaults.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, helptext in (
        ("now", "the latest value (static annual average without --trace)"),
        ("history", "hourly values from a trace file"),
        ("forecast", "hourly forecast (embedded profile without --trace)"),
    ):
        p = actions.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--zone", help="zone id or cloud region (else LOWCARB_ZONE or config)")
        p.add_argument("--trace", metavar="FILE", help="trace CSV (3 formats, see DESIGN.md)")
        p.add_argument(
            "--trace-tz",
            metavar="TZ",
            help="time zone of naive timestamps in the trace (e.g. UTC, Europe/Berlin)",
        )
        p.add_argument(
            "--scope",
            choices=("lifecycle", "direct"),
            default="lifecycle",
            help="LCA or direct column of an Electricity Maps file (default lifecycle)",
        )
        p.add_argument(
            "--provider",
            choices=PROVIDER_NAMES,
            help="live API instead of offline data (credentials from the environment: "
            "ELECTRICITYMAPS_API_TOKEN; WATTTIME_USERNAME (or WATTTIME_USER) and "
            "WATTTIME_PASSWORD; ukci needs none)",
        )
        p.add_argument("--json", action="store_true", help="print one JSON object")
        if name in ("now", "forecast"):
            p.add_argument(
                "--now", metavar="TIMESTAMP", help="ISO 8601 with offset (default: the clock)"
            )
        if name == "history":
            p.add_argument(
                "--since",
                "--start",
                dest="start",
                metavar="TIMESTAMP",
                help="first hour (ISO 8601)",
            )
            p.add_argument(
                "--until",
                "--end",
                dest="end",
                metavar="TIMESTAMP",
                help="end, exclusive (ISO 8601)",
            )
        if name == "forecast":
            p.add_argument("--horizon", default="24h", help="e.g. 24h, 48h, 2d (default 24h)")
            p.add_argument(
                "--forecaster",
                "--model",
                dest="model",
                choices=sorted(forecaster_names()),
                help="forecaster (default lag-ridge with --trace, profile without)",
            )
        p.set_defaults(func=_handle)


def parse_horizon_h(text: str) -> int:
    """``24h``, ``48``, ``2d``, ``PT36H`` -> whole hours (1..168).

    The duration grammar is :func:`lowcarb.units.parse_duration`'s; a forecast is hourly, so the
    horizon must also be a whole number of hours.
    """
    horizon = parse_duration(text, what="--horizon")
    hours = horizon / timedelta(hours=1)
    if hours != int(hours) or not 1 <= hours <= 168:
        raise InvalidValueError(
            f"--horizon must be a whole number of hours from 1h to 168h (7d), got {text!r}"
        )
    return int(hours)


def _when(text: str | None, what: str, *, now: datetime | None = None) -> datetime | None:
    """A ``--now``/``--start``/``--end`` flag as aware UTC (None when not given)."""
    return None if text is None else parse_timestamp(text, now=now, what=what)


def _zone(args: argparse.Namespace, ctx: CliContext) -> str | None:
    from lowcarb._config import load_settings

    config_zone = load_settings(environ=ctx.environ).zone
    zone = resolve_zone(args.zone, environ=ctx.environ, config_zone=config_zone)
    if zone is not None and args.trace:
        region = lookup_region(zone)  # a cloud region names its zone's trace column
        if region is not None:
            return region.zone_id
    return zone


def _handle(args: argparse.Namespace, ctx: CliContext) -> int:
    zone = _zone(args, ctx)
    now = _when(getattr(args, "now", None), "--now") or datetime.now(UTC)
    if args.provider and args.trace:
        raise UsageError("give either --trace or --provider, not both")
    trace = (
        TraceIntensitySource(args.trace, scope=args.scope, tz=args.trace_tz) if args.trace else None
    )
    if args.provider:
        if zone is None:
            raise UsageError(f"--provider {args.provider} needs --zone (or LOWCARB_ZONE)")
        return _live(args, ctx, zone, now)
    if args.action == "now":
        return _now(args, ctx, zone, now, trace)
    if zone is None and trace is None:
        raise UsageError(f"`intensity {args.action}` needs --zone (or LOWCARB_ZONE) or --trace")
    if args.action == "history":
        return _history(args, ctx, zone, trace)
    return _forecast(args, ctx, zone, now, trace)


def _live(args: argparse.Namespace, ctx: CliContext, zone: str, now: datetime) -> int:
    source = open_provider(args.provider, ctx.environ)
    if args.provider == "electricitymaps":
        zone = lookup_zone(zone).zone_id  # cloud regions -> zone ids
    if args.action == "now":
        return _print_value(args, ctx, source.latest(zone, now=now), now)
    if args.action == "history":
        end = _when(args.end, "--end", now=now) or now
        start = _when(args.start, "--start", now=now) or end - timedelta(hours=24)
        _check_order(start, end)
        return _print_series(args, ctx, source.history(zone, start=start, end=end))
    fc = ProviderForecaster(source).forecast(
        _no_history(zone, now), origin=now, horizon_h=parse_horizon_h(args.horizon)
    )
    return _print_forecast(args, ctx, fc, now)


def _now(
    args: argparse.Namespace,
    ctx: CliContext,
    zone: str | None,
    now: datetime,
    trace: TraceIntensitySource | None,
) -> int:
    if trace is not None:
        value = trace.latest(zone or trace.series().zone, now=now)
    else:
        value = StaticIntensitySource().latest(zone or "", now=now)  # "" -> world, labelled
    return _print_value(args, ctx, value, now)


def _print_value(args: argparse.Namespace, ctx: CliContext, value: Intensity, now: datetime) -> int:
    age_s = (now - value.time).total_seconds() if value.time is not None else None
    payload = {
        "zone": value.zone,
        "intensity_g_per_kwh": value.intensity_g_per_kwh,
        "time": value.time.isoformat() if value.time else None,
        "age_s": age_s,
        "year": value.year,
        "source": value.source,
        "signal": value.signal,
        "scope": value.scope,
        "kind": value.kind,
        "stale": _is_stale(value),
        "note": value.note,
    }
    if args.json:
        emit_json(ctx, payload)
        return 0
    table = Table(title=f"Carbon intensity: {safe(value.zone)}", show_header=False)
    for key, val in payload.items():
        if val is not None and val is not False and val != "":  # 0.0 g/kWh is shown
            table.add_row(key, f"{val:.1f}" if isinstance(val, float) else safe(val))
    console = ctx.console()
    console.print(table)
    if _is_stale(value):
        # The note says it too, but a stale value must not pass for the current one at a glance.
        console.print(f"[bold yellow]warning:[/] {safe(value.note)}", soft_wrap=True)
    return 0


def _is_stale(value: Intensity) -> bool:
    return value.note.startswith("STALE")


def _series_json(series: IntensitySeries) -> list[dict[str, Any]]:
    return [
        {"time": series.time_at(i).isoformat(), "intensity_g_per_kwh": round(float(v), 3)}
        for i, v in enumerate(series.values_g_per_kwh)
    ]


def _series_table(title: str, series: IntensitySeries, ctx: CliContext) -> None:
    # Title and provenance are printed as lines of their own: as a table title and caption Rich
    # would wrap them to the (narrow) table's width.
    table = Table()
    table.add_column("hour (UTC)")
    table.add_column("gCO2e/kWh", justify="right")
    peak = float(series.values_g_per_kwh.max()) if len(series) else 1.0
    table.add_column("")
    for i, v in enumerate(series.values_g_per_kwh):
        bar = "█" * round(20 * float(v) / peak) if peak > 0 else ""
        table.add_row(series.time_at(i).strftime("%Y-%m-%d %H:%M"), f"{v:.1f}", bar)
    console = ctx.console()
    # markup=False already shows names literally; plain() also drops control characters.
    console.print(plain(title), style="bold", markup=False, highlight=False, soft_wrap=True)
    console.print(table)
    console.print(
        plain("; ".join((series.source, *series.notes))),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _check_order(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise UsageError(
            f"--end {end.isoformat()} is not after --start {start.isoformat()}; swap them"
        )


def _history(
    args: argparse.Namespace,
    ctx: CliContext,
    zone: str | None,
    trace: TraceIntensitySource | None,
) -> int:
    start = _when(args.start, "--start")
    end = _when(args.end, "--end")
    _check_order(start, end)
    if trace is not None:
        series = trace.series(zone).between(start, end)
    else:
        if start is None or end is None:
            raise UsageError("without --trace, `intensity history` needs --start and --end")
        series = StaticIntensitySource().history(zone or "", start=start, end=end)
    return _print_series(args, ctx, series)


def _print_series(args: argparse.Namespace, ctx: CliContext, series: IntensitySeries) -> int:
    if args.json:
        emit_json(
            ctx,
            {
                "zone": series.zone,
                "source": series.source,
                "signal": series.signal,
                "scope": series.scope,
                "kind": series.kind,
                "notes": list(series.notes),
                "points": _series_json(series),
            },
        )
        return 0
    _series_table(f"Carbon intensity history: {series.zone}", series, ctx)
    return 0


def _forecast(
    args: argparse.Namespace,
    ctx: CliContext,
    zone: str | None,
    now: datetime,
    trace: TraceIntensitySource | None,
) -> int:
    horizon_h = parse_horizon_h(args.horizon)
    model_name = args.model or ("lag-ridge" if trace is not None else "profile")
    model = make_forecaster(model_name)
    if trace is not None:
        history = trace.series(zone)
    elif model_name != "profile":
        raise UsageError(f"--model {model_name} needs history: give --trace FILE")
    else:
        # The profile needs no history: an empty series only names the zone.
        history = _no_history(lookup_zone(zone or "").zone_id, now)
    fc = model.forecast(history, origin=now, horizon_h=horizon_h)
    return _print_forecast(args, ctx, fc, now)


def _no_history(zone: str, now: datetime) -> IntensitySeries:
    """An empty series that only names the zone (for models that need no history)."""
    return IntensitySeries(
        zone=zone, start=floor_hour(now), values_g_per_kwh=np.zeros(0), source="none"
    )


def _print_forecast(
    args: argparse.Namespace, ctx: CliContext, fc: IntensitySeries, now: datetime
) -> int:
    if args.json:
        emit_json(
            ctx,
            {
                "zone": fc.zone,
                "issued_at": now.isoformat(),
                "model": fc.source.removeprefix("forecast:"),
                "source": fc.source,
                "signal": fc.signal,
                "scope": fc.scope,
                "notes": list(fc.notes),
                "points": _series_json(fc),
            },
        )
        return 0
    _series_table(
        f"Carbon intensity forecast: {fc.zone} (issued {now:%Y-%m-%d %H:%M} UTC)", fc, ctx
    )
    return 0
