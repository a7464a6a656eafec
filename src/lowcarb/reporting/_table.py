"""Rich rendering of a footprint (the ``lowcarb run`` table, also used by the demo)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from lowcarb._text import safe

__all__ = ["format_energy", "print_footprint"]


def format_energy(joules: float) -> str:
    """Human-readable energy: J below 1 Wh, Wh below 0.1 kWh, else kWh."""
    if joules >= 3.6e5:
        return f"{joules / 3.6e6:.3f} kWh"
    if joules >= 3600:
        return f"{joules / 3600:.2f} Wh"
    return f"{joules:.1f} J"


def print_footprint(console: Console, out: Mapping[str, Any], *, title: str) -> None:
    """Print a footprint dict (as made by ``lowcarb.tracking.footprint_to_dict``)."""
    table = Table(title=safe(title), title_justify="left")
    table.add_column("component", overflow="fold")
    table.add_column("energy", justify="right", no_wrap=True)
    table.add_column("method", overflow="fold")
    table.add_column("source", overflow="fold")
    for c in out["components"]:
        table.add_row(
            safe(c["name"]), format_energy(c["energy_j"]), safe(c["method"]), safe(c["source"])
        )
    console.print(table)
    facts: list[tuple[str, str]] = [
        ("duration", f"{out['duration_s']:.2f} s"),
        (
            "energy",
            f"{format_energy(out['energy_kwh'] * 3.6e6)} "
            f"(devices x PUE {out['pue']:g}; {safe(out['method'])})",
        ),
        (
            "grid intensity",
            f"{out['intensity_g_per_kwh']:.0f} gCO2e/kWh, zone {safe(out['zone'])} "
            f"({safe(out['intensity_source'])}, {safe(out['intensity_kind'])})",
        ),
        ("emissions", f"{out['co2e_g']:.4g} gCO2e"),
    ]
    if "exit_code" in out:
        facts.append(("exit code", str(out["exit_code"])))
    if out.get("record_id"):
        facts.append(("ledger record", safe(out["record_id"])))
    # A two-column grid, so a long value (a provenance string) wraps under its own column and
    # the labels stay readable on a narrow (60-column) terminal.
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in facts:
        grid.add_row(label, value)
    console.print(grid)
    for note in [out.get("intensity_note", ""), *out.get("notes", [])]:
        if note:
            console.print(f"note: {safe(note)}", style="yellow")
