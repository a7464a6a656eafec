"""The views of the activity pages: jobs and decisions."""

from __future__ import annotations

from typing import Any

from lowcarb.reporting.dashboard._activity import jobs_charts
from lowcarb.reporting.dashboard._view_parts import Cell, Table, View, charts_json, name, num_cell

__all__ = ["decisions_view", "jobs_view"]


def jobs_view(page: dict[str, Any]) -> View:
    """Jobs of the period: state, planned vs immediate vs realised intensity."""
    view = View(title="Jobs")
    view.card_labels = ["jobs", *page["states"].keys()]
    view.cards = [Cell(str(page["total"]))] + [Cell(str(n)) for n in page["states"].values()]
    view.charts = charts_json(jobs_charts(page))
    rows = [
        [
            Cell(j["id"][:12]),
            Cell(j["state"]),
            Cell(name(j["team"])),
            Cell(name(j["project"])),
            Cell(", ".join(j["zones"])),
            Cell((j["planned_start"] or "")[:16].replace("T", " ")),
            num_cell(j["planned_intensity_g_per_kwh"]),
            num_cell(j["now_intensity_g_per_kwh"]),
            Cell(
                "n/a" if j["forecast_saving_pct"] is None else f"{j['forecast_saving_pct']:.1f}%",
                numeric=True,
            ),
            num_cell(j["realised_intensity_g_per_kwh"]),
            Cell(
                f"{len(j['records'])} record(s)" if j["records"] else "",
                href=j["records"][0]["link"] if j["records"] else None,
            ),
        ]
        for j in page["jobs"]
    ]
    view.tables = [
        Table(
            "Jobs, newest planned start first (intensities in gCO2e/kWh: planned and now are the "
            "forecast at planning time, realised what the hours it ran had)",
            [
                "job",
                "state",
                "team",
                "project",
                "zones",
                "planned start",
                "planned",
                "now",
                "saving",
                "realised",
                "records",
            ],
            rows,
            id="table-jobs",
        )
    ]
    if page["truncated"]:
        view.notes.append(f"{page['total']} jobs; the table shows the latest {len(rows)}")
    return view


def decisions_view(page: dict[str, Any]) -> View:
    """Decisions by type and outcome, carbon budgets, and the decision records."""
    view = View(title="Decisions")
    view.tables = [
        Table(
            "Decisions by type and outcome",
            ["type", "outcome", "records"],
            [
                [Cell(c["type"]), Cell(c["outcome"] or ""), num_cell(c["records"])]
                for c in page["counts"]
            ],
        ),
        Table(
            "Carbon budgets (latest status a gate saw)",
            ["scope", "period", "from", "limit kg", "spent kg", "used", "state"],
            [
                [
                    Cell(b["scope"]),
                    Cell(b["period"]),
                    Cell(b["period_start"]),
                    num_cell(b["limit_co2e_kg"]),
                    num_cell(b["spent_co2e_kg"]),
                    Cell("n/a" if b["used_pct"] is None else f"{b['used_pct']:.1f}%"),
                    Cell(b["state"] or ""),
                ]
                for b in page["budgets"]
            ],
        ),
        Table(
            "Decision records, newest first",
            [
                "time (UTC)",
                "type",
                "outcome",
                "team",
                "project",
                "model",
                "version",
                "why",
                "record",
            ],
            [
                [
                    Cell(r["time"][:19].replace("T", " ")),
                    Cell(r["type"]),
                    Cell(r["outcome"] or ""),
                    Cell(name(r["team"])),
                    Cell(name(r["project"])),
                    Cell(name(r["model"])),
                    Cell(r["version"] or ""),
                    Cell(r["summary"]),
                    Cell(r["record_id"][:13] + "...", href=r["links"]["record"]),
                ]
                for r in page["rows"]
            ],
            id="table-decisions",
        ),
    ]
    if page["truncated"]:
        shown = len(page["rows"])
        view.notes.append(f"{page['total']} decisions; the table shows the latest {shown}")
    return view
