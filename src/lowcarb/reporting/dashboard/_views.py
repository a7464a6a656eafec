"""Each page's JSON as a view for the HTML template: :func:`view_for` picks the page's view.

One template draws every page (``_html``); what differs between pages is chosen by the views: the
summary pages' in ``_summary_views``, the records' in ``_record_views``, jobs and decisions in
``_activity_views``, and the two small ones (the grid, the tokens) here. Their parts (cells,
tables, charts) are in ``_view_parts``. Values are plain text (Jinja escapes them); links are paths
built by the pages from URL-encoded values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lowcarb.reporting.dashboard._activity_views import decisions_view, jobs_view
from lowcarb.reporting.dashboard._grid import grid_charts
from lowcarb.reporting.dashboard._record_views import record_view, runs_view
from lowcarb.reporting.dashboard._summary_views import models_view, summary_view, teams_view
from lowcarb.reporting.dashboard._view_parts import Cell, Table, View, charts_json, name, num_cell

__all__ = ["view_for"]


def _grid(page: dict[str, Any]) -> View:
    view = View(title="Grid")
    view.charts = charts_json(grid_charts(page))
    rows = []
    for z in page["zones"]:
        latest = z.get("latest") or {}
        rows.append(
            [
                Cell(z["zone"]),
                num_cell(latest.get("intensity_g_per_kwh")),
                Cell((latest.get("time") or "")[:16].replace("T", " ")),
                Cell(z.get("kind") or ""),
                Cell(z.get("source") or ""),
                Cell(z.get("forecast_source") or ""),
                Cell("API", href=z["links"]["emissions"]),
                Cell(z.get("error") or z.get("forecast_error") or ""),
            ]
        )
        if z.get("error"):
            view.notes.append(f"{z['zone']}: {z['error']}")
        elif z.get("forecast_error"):
            view.notes.append(f"{z['zone']} forecast: {z['forecast_error']}")
    view.tables = [
        Table(
            f"Zones ({page['zones_from']}); now is {page['now']}",
            [
                "zone",
                "latest gCO2e/kWh",
                "hour (UTC)",
                "kind",
                "source",
                "forecast",
                "numbers",
                "problem",
            ],
            rows,
            id="table-zones",
        )
    ]
    if not page["zones"]:
        view.notes.append("no zone: the period's records name none; ask for one with ?zone=DE")
    return view


def _tokens(page: dict[str, Any]) -> View:
    view = View(title="API tokens", filters=False)
    rows = [
        [
            Cell(t["id"]),
            Cell(name(t["team"]) if not t["admin"] else "(every team)"),
            Cell(", ".join(t["scopes"])),
            Cell(t["created_at"] or ""),
            Cell(t["expires_at"] or "never"),
            Cell(t["state"]),
            Cell("revoke", post=f"/tokens/{t['id']}/revoke")
            if t["state"] == "active"
            else Cell(t["revoked_at"] or ""),
        ]
        for t in page["tokens"]
    ]
    view.tables = [
        Table(
            "Tokens (secrets are never stored; make new ones with `lowcarb tokens create`)",
            ["id", "team", "scopes", "created", "expires", "state", ""],
            rows,
            id="table-tokens",
        )
    ]
    return view


_VIEWS: dict[str, Callable[[dict[str, Any]], View]] = {
    "overview": summary_view,
    "team": summary_view,
    "teams": teams_view,
    "models": models_view,
    "runs": runs_view,
    "record": record_view,
    "jobs": jobs_view,
    "decisions": decisions_view,
    "grid": _grid,
    "tokens": _tokens,
}


def view_for(page: dict[str, Any]) -> View:
    """The view of a page's JSON."""
    return _VIEWS[page["page"]](page)
