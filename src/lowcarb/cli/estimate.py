"""``lowcarb estimate``: energy and CO2e of a job described, not run."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rich.table import Table

from lowcarb._config import load_settings
from lowcarb._text import safe
from lowcarb.cli._common import CliContext, emit_json, non_negative_float, positive_int
from lowcarb.energy import EstimateResult, known_hardware
from lowcarb.errors import UsageError
from lowcarb.tracking import estimate
from lowcarb.units import parse_duration_h

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb estimate``."""
    p = sub.add_parser(
        "estimate",
        help="estimate the energy and CO2e of a job described, not run",
        description=(
            "Energy = count x power x utilization x hours x PUE; CO2e = energy x grid intensity. "
            "Power per device comes from --power-w or the hardware table (--list-hardware)."
        ),
    )
    p.add_argument("--hardware", metavar="NAME", help="device name or alias (see --list-hardware)")
    p.add_argument(
        "--count", type=positive_int, default=1, metavar="N", help="number of devices (default 1)"
    )
    span = p.add_mutually_exclusive_group()
    span.add_argument("--hours", type=non_negative_float, metavar="H", help="hours each device ran")
    span.add_argument("--days", type=non_negative_float, metavar="D", help="days each device ran")
    span.add_argument(
        "--duration",
        metavar="D",
        help="how long each device ran, as in plan and submit (90m, 1h30m, 14d, PT2H)",
    )
    p.add_argument(
        "--power-w",
        type=non_negative_float,
        metavar="W",
        help="average power per device in watts (overrides the table's figure)",
    )
    p.add_argument(
        "--utilization",
        type=non_negative_float,
        default=1.0,
        metavar="U",
        help="fraction of that power drawn on average, 0..1 (default 1)",
    )
    p.add_argument(
        "--pue",
        type=non_negative_float,
        metavar="X",
        help="facility PUE, >= 1 (default: LOWCARB_PUE, config file, else 1)",
    )
    grid = p.add_mutually_exclusive_group()
    grid.add_argument(
        "--intensity", type=non_negative_float, metavar="G", help="grid intensity, gCO2e/kWh"
    )
    grid.add_argument(
        "--zone",
        metavar="Z",
        help="zone id or cloud region (default: LOWCARB_ZONE, config file, else world average)",
    )
    p.add_argument(
        "--embodied", action="store_true", help="add amortised manufacturing emissions (cited)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--list-hardware", action="store_true", help="list the hardware table and exit")
    p.set_defaults(func=_estimate)


def _estimate(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.list_hardware:
        return _list_hardware(args, ctx)
    if args.duration is not None:
        hours = parse_duration_h(args.duration, what="--duration")
    elif args.hours is not None:
        hours = float(args.hours)
    elif args.days is not None:
        hours = float(args.days) * 24.0
    else:
        raise UsageError("give the job's duration with --duration 90m, --hours H or --days D")
    # Same precedence as `lowcarb run`: flag > environment > config file > default.
    settings = load_settings(environ=ctx.environ)
    origin = settings.origin or {}
    notes: list[str] = []
    zone = args.zone
    if zone is not None and not zone.strip():
        raise UsageError(
            "--zone is empty; give a zone id such as DE or aws:eu-west-1, or leave the flag out"
        )
    if zone is None and args.intensity is None and settings.zone:
        zone = settings.zone
        notes.append(f"zone {zone!r} taken from {origin.get('zone', 'settings')}")
    pue = args.pue
    if pue is None:
        pue = settings.pue
        if "pue" in origin:
            notes.append(f"PUE {pue:g} taken from {origin['pue']}")
    result = estimate(
        hardware=args.hardware,
        count=args.count,
        hours=hours,
        power_w=args.power_w,
        utilization=args.utilization,
        pue=pue,
        intensity_g_per_kwh=args.intensity,
        zone=zone,
        embodied=args.embodied,
    )
    if notes:
        result = dataclasses.replace(result, assumptions=(*result.assumptions, *notes))
    if args.embodied and result.embodied_co2e_kg is None:
        print(
            f"lowcarb: no cited embodied-emissions figure for {result.hardware or 'this device'}; "
            "embodied_co2e_kg is null",
            file=ctx.stderr,
        )
    if args.json:
        emit_json(ctx, result.to_dict())
    else:
        _render(result, ctx)
    return 0


def _render(result: EstimateResult, ctx: CliContext) -> None:
    table = Table(title="lowcarb estimate (method: estimated)", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("hardware", result.hardware or "(power given)"),
        ("devices x hours", f"{result.count} x {result.hours:,.2f} h"),
        ("power per device", f"{result.power_w_per_device:,.1f} W ({result.power_source})"),
        ("utilization", f"{result.utilization:g}"),
        ("PUE", f"{result.pue:g}"),
        ("energy", f"{result.energy_kwh:,.3f} kWh"),
        (
            "grid intensity",
            f"{result.intensity_g_per_kwh:,.1f} gCO2e/kWh ({result.intensity_source})",
        ),
        ("CO2e (operational)", f"{result.co2e_kg:,.3f} kg"),
    ]
    if result.embodied_co2e_kg is not None:
        rows.append(("CO2e (embodied)", f"{result.embodied_co2e_kg:,.3f} kg"))
        rows.append(("CO2e (total)", f"{result.total_co2e_kg:,.3f} kg"))
    for name, value in rows:
        table.add_row(name, safe(value))  # hardware names and sources come from tables and flags
    console = ctx.console()
    console.print(table)
    for line in result.assumptions:  # may quote a config file's path or an install hint
        console.print(f"- {safe(line)}", soft_wrap=True)


def _list_hardware(args: argparse.Namespace, ctx: CliContext) -> int:
    specs = known_hardware()
    if args.json:
        emit_json(
            ctx,
            {
                "hardware": [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "aliases": list(s.aliases),
                        "tdp_w": s.tdp_w,
                        "typical_power_w": s.typical_power_w,
                        "cores": s.cores,
                        "threads": s.threads,
                        "embodied_kg": s.embodied_kg,
                        "source": s.source,
                        "typical_power_source": s.typical_power_source or None,
                        "embodied_source": s.embodied_source or None,
                    }
                    for s in specs
                ]
            },
        )
        return 0
    table = Table(title="lowcarb hardware table", show_header=True)
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    for col in ("TDP W", "typical W", "embodied kg"):
        table.add_column(col, justify="right")
    table.add_column("aliases", overflow="fold")
    for s in specs:
        table.add_row(
            s.name,
            s.kind,
            f"{s.tdp_w:g}",
            "" if s.typical_power_w is None else f"{s.typical_power_w:g}",
            "" if s.embodied_kg is None else f"{s.embodied_kg:g}",
            ", ".join([a for a in s.aliases if " " not in a][:3]),
        )
    ctx.console().print(table)
    return 0
