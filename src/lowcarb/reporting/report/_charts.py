"""The HTML report's charts: Plotly figures, as ``<div>`` s that the page's one plotly.js draws.

Names from records are data: Plotly renders a subset of HTML in labels (``<b>``, ``<a href>``),
so every label is entity-escaped here; Plotly's JSON encoder escapes ``<`` and ``/`` inside the
page's ``<script>``, so no name can close it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from lowcarb._text import plain
from lowcarb.errors import MissingDependencyError
from lowcarb.reporting.report._figures import GroupRow
from lowcarb.reporting.report._format import UNATTRIBUTED
from lowcarb.reporting.report._types import ReportData

__all__ = ["charts", "plotly_js"]

#: Teams drawn one by one in the time chart; the rest are summed as "other".
MAX_SERIES = 8
#: Bars in a group chart (the largest).
MAX_BARS = 15
_CONFIG = {"displaylogo": False, "responsive": True}


def _plotly(module: str) -> Any:
    try:
        return import_module(module)
    except ImportError:
        raise MissingDependencyError("plotly", "report") from None


def plotly_js() -> str:
    """The plotly.js bundle shipped with the installed plotly (embedded once per page)."""
    js: str = _plotly("plotly.offline").get_plotlyjs()
    return js


def _label(value: object) -> str:
    """A name as Plotly label text: shown as typed, never as Plotly's HTML-like markup."""
    text = UNATTRIBUTED if value is None else plain(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _div(fig: Any, div_id: str) -> str:
    html: str = _plotly("plotly.io").to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config=_CONFIG,
        default_height="420px",
    )
    return html


def _layout(title: str, **more: Any) -> dict[str, Any]:
    return {
        "title": {"text": _label(title)},
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        **more,
    }


def _time(d: ReportData, go: Any) -> Any:
    totals: dict[str | None, float] = defaultdict(float)
    for p in d.daily:
        for team, g in p.co2e_g_by_team:
            totals[team] += g
    top = [t for t, _ in sorted(totals.items(), key=lambda kv: -kv[1])[:MAX_SERIES]]
    x = [p.start.isoformat() for p in d.daily]
    fig = go.Figure()
    for team in top:
        y = [dict(p.co2e_g_by_team).get(team, 0.0) / 1000.0 for p in d.daily]
        fig.add_trace(go.Bar(x=x, y=y, name=_label(team)))
    if len(totals) > len(top):
        rest = [sum(g for t, g in p.co2e_g_by_team if t not in top) / 1000.0 for p in d.daily]
        fig.add_trace(go.Bar(x=x, y=rest, name="other teams"))
    fig.update_layout(
        **_layout("CO2e per day by team (kg, location-based)", barmode="stack"),
        yaxis_title="kg CO2e",
    )
    return fig


def _groups(title: str, rows: Sequence[GroupRow], go: Any) -> Any:
    shown = list(rows[:MAX_BARS])[::-1]
    fig = go.Figure(
        go.Bar(
            x=[g.figures.co2e_g / 1000.0 for g in shown],
            y=[_label(g.key) for g in shown],
            orientation="h",
        )
    )
    fig.update_layout(**_layout(title), xaxis_title="kg CO2e")
    return fig


def _provenance(d: ReportData, go: Any) -> Any:
    shown = list(d.by_team[:MAX_BARS])
    names = [_label(g.key) for g in shown]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[g.figures.measured_kwh for g in shown], name="measured"))
    fig.add_trace(go.Bar(x=names, y=[g.figures.estimated_kwh for g in shown], name="estimated"))
    fig.update_layout(
        **_layout("Energy by team: measured vs estimated (kWh)", barmode="stack"),
        yaxis_title="kWh",
    )
    return fig


def _scope2(d: ReportData, go: Any) -> Any:
    zones = list(d.scope2.zones[:MAX_BARS])
    names = [_label(z.zone) for z in zones]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=names, y=[z.figures.co2e_g / 1000.0 for z in zones], name="location-based")
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[None if z.market_co2e_g is None else z.market_co2e_g / 1000.0 for z in zones],
            name="market-based (absent: no contractual factor)",
        )
    )
    fig.update_layout(**_layout("Scope 2 by zone (kg CO2e)", barmode="group"), yaxis_title="kg")
    return fig


def _scheduler(d: ReportData, go: Any) -> Any:
    teams = list(d.scheduler.by_team[:MAX_BARS])
    names = [_label(t["team"]) for t in teams]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=names, y=[t["immediate_intensity_g_per_kwh"] for t in teams], name="immediate")
    )
    fig.add_trace(
        go.Bar(x=names, y=[t["planned_intensity_g_per_kwh"] for t in teams], name="planned")
    )
    fig.update_layout(
        **_layout("Planned vs immediate intensity by team (g/kWh)", barmode="group"),
        yaxis_title="gCO2e/kWh",
    )
    return fig


def _tuning(d: ReportData, go: Any) -> Any:
    fig = go.Figure()
    for study in d.tuning[:MAX_SERIES]:
        if not study.front:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p.energy_kwh for p in study.front],
                y=[p.metric for p in study.front],
                text=[f"trial {p.trial}" for p in study.front],
                mode="lines+markers",
                line={"shape": "hv"},
                name=_label(study.study),
            )
        )
    fig.update_layout(
        **_layout("Tuning Pareto fronts (metric up, energy down)"),
        xaxis_title="kWh",
        yaxis_title="metric",
    )
    return fig


def charts(d: ReportData) -> dict[str, list[str]]:
    """Section id -> the chart ``<div>`` s to show in it (empty sections get none)."""
    go = _plotly("plotly.graph_objects")
    out: dict[str, list[str]] = defaultdict(list)
    if d.totals.records:
        out["time"].append(_div(_time(d, go), "chart-time"))
        for i, (title, rows) in enumerate(
            (
                ("CO2e by team (kg)", d.by_team),
                ("CO2e by project (kg)", d.by_project),
                ("CO2e by model (kg)", d.by_model),
            )
        ):
            out["breakdown"].append(_div(_groups(title, rows, go), f"chart-group-{i}"))
        out["breakdown"].append(_div(_provenance(d, go), "chart-provenance"))
        out["scope2"].append(_div(_scope2(d, go), "chart-scope2"))
    if d.scheduler.by_team:
        out["scheduler"].append(_div(_scheduler(d, go), "chart-scheduler"))
    if any(s.front for s in d.tuning):
        out["tuning"].append(_div(_tuning(d, go), "chart-tuning"))
    return dict(out)
