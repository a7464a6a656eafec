"""The views of the records: a page of them (``/runs``) and one as the ledger stores it."""

from __future__ import annotations

import json
from typing import Any

from lowcarb.reporting.dashboard._view_parts import Cell, Table, View, name, num_cell

__all__ = ["record_view", "runs_view"]


def runs_view(page: dict[str, Any]) -> View:
    """A page of records, newest first, with a link to the older ones."""
    view = View(title="Records")
    rows = [
        [
            Cell(r["time"][:19].replace("T", " ")),
            Cell(r["kind"] or ""),
            Cell(name(r["team"])),
            Cell(name(r["project"])),
            Cell(name(r["model"])),
            Cell(r["version"] or ""),
            num_cell(r["energy_kwh"]),
            num_cell(r["co2e_g"]),
            Cell(r["zone"] or ""),
            Cell(r["id"], href=r["links"]["record"]),
        ]
        for r in page["records"]
    ]
    view.tables = [
        Table(
            f"{len(rows)} records, newest first",
            [
                "time (UTC)",
                "kind",
                "team",
                "project",
                "model",
                "version",
                "kWh",
                "g CO2e",
                "zone",
                "record",
            ],
            rows,
            id="table-records",
        )
    ]
    nxt = page["links"]["next"]
    if nxt:
        view.paragraphs.append(Cell("Older records", href=nxt))
    if not rows:
        view.notes.append("no record matches these filters")
    return view


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, value))


def record_view(page: dict[str, Any]) -> View:
    """One record, field by field, as the ledger stores it."""
    r = page["record"]
    view = View(title=f"Record {r['id']}", filters=False)
    fields: list[tuple[str, Any]] = []
    _flatten("", r, fields)
    rows = []
    for key, value in fields:
        text = value if isinstance(value, str) else json.dumps(value)
        href = page["links"]["corrects"] if key == "corrects" and value else None
        rows.append([Cell(key), Cell(text[:2000], href=href)])
    view.tables = [Table("The record as the ledger stores it", ["field", "value"], rows)]
    for label, key in (("Team page", "team"), ("Records of the same day", "same_day")):
        if page["links"].get(key):
            view.paragraphs.append(Cell(label, href=page["links"][key]))
    return view
