"""The views of the summary pages: the overview (and a team's), the teams, the models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lowcarb.reporting.dashboard._summary import models_charts, summary_charts, teams_charts
from lowcarb.reporting.dashboard._view_parts import (
    Cell,
    Table,
    View,
    charts_json,
    name,
    num,
    num_cell,
    pct,
)

__all__ = ["models_view", "summary_view", "teams_view"]


def _figure_cells(g: dict[str, Any]) -> list[Cell]:
    return [
        Cell(f"{g['records']:,}", href=(g.get("links") or {}).get("records"), numeric=True),
        num_cell(g["energy_kwh"]),
        num_cell(g["co2e_g"] / 1000.0),
        Cell(pct(g["measured_share"]), numeric=True),
        num_cell(g["intensity_g_per_kwh"]),
    ]


_FIGURE_HEADERS = ["records", "kWh", "kg CO2e", "measured", "gCO2e/kWh"]


def _group_table(caption: str, key: str, rows: Sequence[dict[str, Any]], link: str) -> Table:
    return Table(
        caption,
        [key, *_FIGURE_HEADERS],
        [
            [Cell(name(g[key]), href=(g.get("links") or {}).get(link)), *_figure_cells(g)]
            for g in rows
        ],
        id=f"table-{key}",
    )


def summary_view(page: dict[str, Any]) -> View:
    """The overview, or a team's: totals, charts, figures by team, project, model, kind, zone."""
    t = page["totals"]
    team = page["query"]["team"]
    view = View(title=f"Team {team}" if page["page"] == "team" else "Overview")
    view.card_labels = [
        "records with energy",
        "kg CO2e (location-based)",
        "kWh (facility)",
        "measured energy",
        "gCO2e/kWh (energy-weighted)",
        "records of every kind",
    ]
    records = t["links"]["records"]
    view.cards = [
        Cell(f"{t['records']:,}", href=records),
        Cell(num(t["co2e_g"] / 1000.0), href=records),
        Cell(num(t["energy_kwh"]), href=records),
        Cell(pct(t["measured_share"]), href=records),
        Cell(num(t["intensity_g_per_kwh"]), href=records),
        Cell(f"{t['all_records']:,}", href=records),
    ]
    view.charts = charts_json(summary_charts(page))
    view.tables = [
        _group_table("By team", "team", page["by_team"], "team"),
        _group_table("By project", "project", page["by_project"], "records"),
        _group_table("By model", "model", page["by_model"], "records"),
        _group_table("By kind", "kind", page["by_kind"], "records"),
        _group_table("By grid zone", "zone", page["by_zone"], "grid"),
    ]
    view.notes = list(page["notes"])
    return view


def teams_view(page: dict[str, Any]) -> View:
    """Every team of the period with its figures."""
    view = View(title="Teams")
    view.charts = charts_json(teams_charts(page))
    view.tables = [_group_table("Teams in the period", "team", page["teams"], "team")]
    return view


def models_view(page: dict[str, Any]) -> View:
    """Model versions: training and inference energy and CO2e, J per 1,000 inferences."""
    view = View(title="Models and versions")
    view.charts = charts_json(models_charts(page))
    rows = []
    for m in page["models"]:
        rows.append(
            [
                Cell(name(m["model"]), href=m["links"]["records"]),
                Cell(name(m["version"])),
                num_cell(m["training"]["energy_kwh"]),
                num_cell(m["training"]["co2e_g"] / 1000.0),
                Cell(pct(m["training"]["measured_share"]), numeric=True),
                num_cell(m["inference"]["energy_kwh"]),
                num_cell(m["inference"]["co2e_g"] / 1000.0),
                num_cell(m["inferences"]),
                num_cell(m["energy_per_1k_j"]),
            ]
        )
    view.tables = [
        Table(
            "Model versions (training: runs of stage training; inference: serving records)",
            [
                "model",
                "version",
                "training kWh",
                "training kg CO2e",
                "training measured",
                "inference kWh",
                "inference kg CO2e",
                "inferences",
                "J per 1k inferences",
            ],
            rows,
            id="table-models",
        )
    ]
    return view
