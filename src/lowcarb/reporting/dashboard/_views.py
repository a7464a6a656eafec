"""Each page's JSON as a view for the HTML template: cards, charts, tables with links, notes.

One template draws every page (``_html``); what differs between pages is chosen here. Values are
plain text (Jinja escapes them); links are paths built by the pages from URL-encoded values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lowcarb.reporting.dashboard._activity import jobs_charts
from lowcarb.reporting.dashboard._charts import UNATTRIBUTED
from lowcarb.reporting.dashboard._grid import grid_charts
from lowcarb.reporting.dashboard._summary import models_charts, summary_charts, teams_charts

__all__ = ["Cell", "Table", "View", "view_for"]


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: text, optionally a link, or a button posting to ``post``."""

    text: str
    href: str | None = None
    numeric: bool = False
    post: str | None = None


@dataclass
class Table:
    """A table: caption, headers and rows of cells."""

    caption: str
    headers: list[str]
    rows: list[list[Cell]]
    id: str = ""


@dataclass
class View:
    """What the page template shows."""

    title: str
    cards: list[Cell] = field(default_factory=list)
    card_labels: list[str] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    paragraphs: list[Cell] = field(default_factory=list)
    filters: bool = True


def num(value: float | None, unit: str = "") -> str:
    """A figure for people: three significant digits when small, never "0.000" for a non-zero."""
    if value is None:
        return "n/a"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.1f}"
    elif abs(value) >= 0.01:
        text = f"{value:,.3f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def pct(share: float | None) -> str:
    """A 0..1 share as a percentage."""
    return "n/a" if share is None else f"{share * 100:.1f}%"


def name(value: object) -> str:
    """A name, or how missing ones are shown."""
    return UNATTRIBUTED if value is None else str(value)


def _n(value: float | None, unit: str = "") -> Cell:
    return Cell(num(value, unit), numeric=True)


def _figure_cells(g: dict[str, Any]) -> list[Cell]:
    return [
        Cell(f"{g['records']:,}", href=(g.get("links") or {}).get("records"), numeric=True),
        _n(g["energy_kwh"]),
        _n(g["co2e_g"] / 1000.0),
        Cell(pct(g["measured_share"]), numeric=True),
        _n(g["intensity_g_per_kwh"]),
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


def _charts(charts: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    return [(cid, json.dumps(fig, separators=(",", ":"), allow_nan=False)) for cid, fig in charts]


def _summary(page: dict[str, Any]) -> View:
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
    view.charts = _charts(summary_charts(page))
    view.tables = [
        _group_table("By team", "team", page["by_team"], "team"),
        _group_table("By project", "project", page["by_project"], "records"),
        _group_table("By model", "model", page["by_model"], "records"),
        _group_table("By kind", "kind", page["by_kind"], "records"),
        _group_table("By grid zone", "zone", page["by_zone"], "grid"),
    ]
    view.notes = list(page["notes"])
    return view


def _teams(page: dict[str, Any]) -> View:
    view = View(title="Teams")
    view.charts = _charts(teams_charts(page))
    view.tables = [_group_table("Teams in the period", "team", page["teams"], "team")]
    return view


def _models(page: dict[str, Any]) -> View:
    view = View(title="Models and versions")
    view.charts = _charts(models_charts(page))
    rows = []
    for m in page["models"]:
        rows.append(
            [
                Cell(name(m["model"]), href=m["links"]["records"]),
                Cell(name(m["version"])),
                _n(m["training"]["energy_kwh"]),
                _n(m["training"]["co2e_g"] / 1000.0),
                Cell(pct(m["training"]["measured_share"]), numeric=True),
                _n(m["inference"]["energy_kwh"]),
                _n(m["inference"]["co2e_g"] / 1000.0),
                _n(m["inferences"]),
                _n(m["energy_per_1k_j"]),
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


def _runs(page: dict[str, Any]) -> View:
    view = View(title="Records")
    rows = [
        [
            Cell(r["time"][:19].replace("T", " ")),
            Cell(r["kind"] or ""),
            Cell(name(r["team"])),
            Cell(name(r["project"])),
            Cell(name(r["model"])),
            Cell(r["version"] or ""),
            _n(r["energy_kwh"]),
            _n(r["co2e_g"]),
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


def _record(page: dict[str, Any]) -> View:
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


def _jobs(page: dict[str, Any]) -> View:
    view = View(title="Jobs")
    view.card_labels = ["jobs", *page["states"].keys()]
    view.cards = [Cell(str(page["total"]))] + [Cell(str(n)) for n in page["states"].values()]
    view.charts = _charts(jobs_charts(page))
    rows = [
        [
            Cell(j["id"][:12]),
            Cell(j["state"]),
            Cell(name(j["team"])),
            Cell(name(j["project"])),
            Cell(", ".join(j["zones"])),
            Cell((j["planned_start"] or "")[:16].replace("T", " ")),
            _n(j["planned_intensity_g_per_kwh"]),
            _n(j["now_intensity_g_per_kwh"]),
            Cell(
                "n/a" if j["forecast_saving_pct"] is None else f"{j['forecast_saving_pct']:.1f}%",
                numeric=True,
            ),
            _n(j["realised_intensity_g_per_kwh"]),
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


def _decisions(page: dict[str, Any]) -> View:
    view = View(title="Decisions")
    view.tables = [
        Table(
            "Decisions by type and outcome",
            ["type", "outcome", "records"],
            [[Cell(c["type"]), Cell(c["outcome"] or ""), _n(c["records"])] for c in page["counts"]],
        ),
        Table(
            "Carbon budgets (latest status a gate saw)",
            ["scope", "period", "from", "limit kg", "spent kg", "used", "state"],
            [
                [
                    Cell(b["scope"]),
                    Cell(b["period"]),
                    Cell(b["period_start"]),
                    _n(b["limit_co2e_kg"]),
                    _n(b["spent_co2e_kg"]),
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


def _grid(page: dict[str, Any]) -> View:
    view = View(title="Grid")
    view.charts = _charts(grid_charts(page))
    rows = []
    for z in page["zones"]:
        latest = z.get("latest") or {}
        rows.append(
            [
                Cell(z["zone"]),
                _n(latest.get("intensity_g_per_kwh")),
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
    "overview": _summary,
    "team": _summary,
    "teams": _teams,
    "models": _models,
    "runs": _runs,
    "record": _record,
    "jobs": _jobs,
    "decisions": _decisions,
    "grid": _grid,
    "tokens": _tokens,
}


def view_for(page: dict[str, Any]) -> View:
    """The view of a page's JSON."""
    return _VIEWS[page["page"]](page)
