"""`lowcarb zones [--search TEXT] [--json]`: list grid zones and the cloud regions mapped to them.

The listing itself lives in :mod:`lowcarb.grid`; this module only filters and renders it.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from lowcarb._text import plain, safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.grid import CITATIONS, annual_factors, cloud_regions, zones

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``zones`` command."""
    parser = sub.add_parser(
        "zones",
        help="list grid zones and cloud regions",
        description="List Electricity Maps zones (with their static annual intensity) and the "
        "AWS, GCP and Azure regions mapped to them.",
    )
    parser.add_argument(
        "--search", metavar="TEXT", help="only rows whose id, name, region or location contain TEXT"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_handle)


def _matches(text: str | None, *fields: str) -> bool:
    if not text:
        return True
    needle = text.strip().lower()
    return any(needle in f.lower() for f in fields)


def _handle(args: argparse.Namespace, ctx: CliContext) -> int:
    factors = {f.zone_id: f for f in annual_factors()}
    zone_rows = [
        {
            "zone": z.zone_id,
            "name": z.name,
            "country": z.country,
            "kind": z.kind,
            "annual_intensity_g_per_kwh": factors[z.zone_id].intensity_g_per_kwh
            if z.zone_id in factors
            else None,
            "year": factors[z.zone_id].year if z.zone_id in factors else None,
            "source": f"static:{factors[z.zone_id].source}" if z.zone_id in factors else None,
        }
        for z in zones()
        if _matches(args.search, z.zone_id, z.name)
    ]
    region_rows = [
        {"region": r.key, "provider": r.provider, "location": r.location, "zone": r.zone_id}
        for r in cloud_regions()
        if _matches(args.search, r.key, r.location, r.zone_id)
    ]
    if args.json:
        emit_json(ctx, {"zones": zone_rows, "cloud_regions": region_rows})
        return 0
    console = ctx.console()
    if zone_rows:
        table = Table(title="Grid zones (static annual intensity)")
        for col in ("zone", "name", "kind", "gCO2e/kWh", "year"):
            table.add_column(col, justify="right" if col in ("gCO2e/kWh", "year") else "left")
        for row in zone_rows:
            value = row["annual_intensity_g_per_kwh"]
            table.add_row(
                safe(row["zone"]),
                safe(row["name"]),
                safe(row["kind"]),
                "" if value is None else f"{value:.0f}",
                "" if row["year"] is None else str(row["year"]),
            )
        used = sorted({str(r["source"]).removeprefix("static:") for r in zone_rows if r["source"]})
        table.caption = safe("; ".join(f"{tag}: {CITATIONS.get(tag, tag)}" for tag in used))
        console.print(table)
    if region_rows:
        table = Table(title="Cloud regions")
        for col in ("region", "location", "zone"):
            table.add_column(col)
        for r in region_rows:
            table.add_row(safe(r["region"]), safe(r["location"]), safe(r["zone"]))
        console.print(table)
    if not zone_rows and not region_rows:
        print(f"no zone or cloud region matches {plain(args.search)!r}", file=ctx.stderr)
    return 0
