"""The pages summed from the daily rollup: overview (and a team's), teams, models and versions.

Each function returns the page's JSON (what ``/api/...`` and ``?format=json`` answer); the HTML
view is drawn from the same object. Figures are the report's :class:`Figures` (records with a
footprint, corrected ones replaced; energy split measured vs estimated), so a page and
``lowcarb report --format json`` over the same period show the same numbers; every group links
to the records behind it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._charts import MAX_SERIES, bars, hbars, stacked_bars
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._rollup import RollupRow, RollupStatus
from lowcarb.reporting.dashboard._service import Dashboard
from lowcarb.reporting.report import Figures

__all__ = ["models_page", "overview_page", "teams_page"]

_GROUPINGS = ("team", "project", "model", "kind", "zone")


def _rollup_info(status: RollupStatus) -> dict[str, Any]:
    return {
        "through_seq": status.through_seq,
        "through_hash": status.through_hash,
        "method": "daily rollup of the ledger (UTC days), corrections applied",
    }


def team_link(q: DashboardQuery, team: str | None) -> str | None:
    """The page of one team, keeping the period."""
    if team is None:
        return None
    return q.with_(team=None).link(f"/teams/{quote(team, safe='')}")


class _Acc:
    """Figures, all-records counts and inferences summed per key."""

    def __init__(self) -> None:
        self.figures: dict[Any, Figures] = defaultdict(Figures)
        self.records: dict[Any, int] = defaultdict(int)
        self.inferences: dict[Any, float] = defaultdict(float)

    def add(self, key: Any, row: RollupRow) -> None:
        self.figures[key] = self.figures[key] + row.figures
        self.records[key] += row.all_records
        self.inferences[key] += row.inferences

    def ranked(self) -> list[Any]:
        """Keys, largest CO2e first, then by name (None last)."""
        return sorted(
            self.figures,
            key=lambda k: (-self.figures[k].co2e_g, k is None, str(k) if k is not None else ""),
        )


def _group(name: str, key: str | None, acc: _Acc, links: dict[str, str | None]) -> dict[str, Any]:
    return {
        name: key,
        "all_records": acc.records[key],
        **acc.figures[key].to_dict(),
        "links": links,
    }


def _summary(d: Dashboard, q: DashboardQuery) -> dict[str, Any]:
    """Totals, daily series and groupings of ``q`` (already scoped and checked)."""

    def read(by: tuple[str, ...]) -> list[RollupRow]:
        return d.rollup.groups(by, since=q.since, until=q.until, team=q.team, project=q.project)

    rows = read(_GROUPINGS)
    daily_rows = read(("day", "team"))
    total = _Acc()
    by = {name: _Acc() for name in _GROUPINGS}
    for row in rows:
        total.add(None, row)
        for i, name in enumerate(_GROUPINGS):
            by[name].add(row.keys[i], row)
    day_link = _DayLinks(q)
    days: dict[str, dict[str | None, Figures]] = defaultdict(dict)
    for row in daily_rows:
        day_text, team_key = row.keys
        days[str(day_text)][team_key] = row.figures
    daily = []
    for i in range(q.days):
        day = q.since + timedelta(days=i)
        teams = days.get(day.isoformat(), {})
        fig = sum(teams.values(), Figures())
        daily.append(
            {
                "day": day.isoformat(),
                **fig.to_dict(),
                "co2e_g_by_team": [
                    {"team": t, "co2e_g": f.co2e_g, "link": day_link(day, t)}
                    for t, f in sorted(teams.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
                ],
                "link": day_link(day, None),
            }
        )

    def links(name: str, key: str | None) -> dict[str, str | None]:
        if key is None:
            return {"records": None}
        out: dict[str, str | None] = {"records": q.link("/runs", **{name: key})}
        if name == "team":
            out["team"] = team_link(q, key)
        if name == "zone":
            out = {"grid": q.link("/grid", zone=key)}
        return out

    groups = {
        f"by_{name}": [_group(name, k, acc, links(name, k)) for k in acc.ranked()]
        for name, acc in by.items()
    }
    return {
        "totals": {
            **total.figures[None].to_dict(),
            "all_records": total.records[None],
            "inferences": total.inferences[None],
            "links": {"records": q.link("/runs")},
        },
        "daily": daily,
        **groups,
    }


class _DayLinks:
    """Links to one day's records (of one team): built by string formatting, not one
    ``urlencode`` per link, as a year's overview has a link per day and team."""

    def __init__(self, q: DashboardQuery) -> None:
        rest = {k: v for k, v in q.params().items() if k not in ("since", "until", "team")}
        self._rest = f"&{urlencode(rest)}" if rest else ""
        self._own_team = q.team
        self._teams: dict[str | None, str] = {None: ""}

    def __call__(self, day: date, team: str | None) -> str:
        team = team if team is not None else self._own_team
        part = self._teams.get(team)
        if part is None:
            part = self._teams[team] = f"&team={quote_plus(team or '')}"
        if team is None:
            part = ""
        after = (day + timedelta(days=1)).isoformat()
        return f"/runs?since={day.isoformat()}&until={after}{part}{self._rest}"


def _notes(summary: dict[str, Any]) -> list[str]:
    t = summary["totals"]
    notes = []
    if t["records"] == 0:
        notes.append("no record with energy in this period")
    share = t["measured_share"]
    if share is not None and share < 1.0:
        notes.append(
            f"{(1 - share) * 100:.1f}% of the energy is estimated (power models), not measured"
        )
    return notes


def overview_page(d: Dashboard, q: DashboardQuery, who: Principal) -> dict[str, Any]:
    """The overview (or one team's page, when ``q.team`` is set)."""
    status = d.refresh()
    q = d.scoped(q, who)
    summary = _summary(d, q)
    return {
        "page": "team" if q.team is not None and who.team is None else "overview",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        "rollup": _rollup_info(status),
        **summary,
        "notes": _notes(summary),
    }


def teams_page(d: Dashboard, q: DashboardQuery, who: Principal) -> dict[str, Any]:
    """Every team the asker may read, with its figures for the period."""
    status = d.refresh()
    q = d.scoped(q, who)
    summary = _summary(d, q)
    seen = {g["team"] for g in summary["by_team"]}
    names = [who.team] if who.team is not None else d.known("team")
    idle = [  # teams with no record in the period are listed too, with zeros
        {"team": t, "all_records": 0, **Figures().to_dict(), "links": {"team": team_link(q, t)}}
        for t in names
        if t not in seen and t is not None
    ]
    return {
        "page": "teams",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        "rollup": _rollup_info(status),
        "teams": summary["by_team"] + idle,
        "totals": summary["totals"],
    }


def models_page(d: Dashboard, q: DashboardQuery, who: Principal) -> dict[str, Any]:
    """Model versions: training and inference energy and CO2e, inferences, J per 1,000."""
    status = d.refresh()
    q = d.scoped(q, who)
    extra = {"model": q.model} if q.model is not None else None
    rows = d.rollup.groups(
        ("model", "model_version", "role"),
        since=q.since,
        until=q.until,
        team=q.team,
        project=q.project,
        extra=extra,
    )
    versions: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for row in rows:
        model, version, role = row.keys
        if (model is None and version is None) or not row.figures.records:
            continue  # unattributed, or records without energy (decisions)
        v = versions.setdefault(
            (model, version),
            {"training": Figures(), "inference": Figures(), "other": Figures(), "inferences": 0.0},
        )
        v[str(role)] = v[str(role)] + row.figures
        v["inferences"] += row.inferences
    out = []
    for (model, version), v in sorted(
        versions.items(), key=lambda kv: (kv[0][0] or "", _natural(kv[0][1]))
    ):
        inference: Figures = v["inference"]
        n = v["inferences"]
        out.append(
            {
                "model": model,
                "version": version,
                "training": v["training"].to_dict(),
                "inference": inference.to_dict(),
                "other": v["other"].to_dict(),
                "inferences": n,
                "energy_per_1k_j": inference.energy_kwh * 3.6e6 / n * 1000.0 if n > 0 else None,
                "links": {"records": q.link("/runs", model=model) if model else None},
            }
        )
    return {
        "page": "models",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        "rollup": _rollup_info(status),
        "models": out,
    }


def _natural(text_: str | None) -> tuple[Any, ...]:
    parts = re.split(r"(\d+)", text_ or "")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


# -- charts ---------------------------------------------------------------------------------


def summary_charts(page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(id, figure)`` of an overview or team page."""
    if not page["totals"]["records"]:
        return []
    daily = page["daily"]
    x = [p["day"] for p in daily]
    totals: dict[str | None, float] = defaultdict(float)
    for p in daily:
        for t in p["co2e_g_by_team"]:
            totals[t["team"]] += t["co2e_g"]
    top = [t for t, _ in sorted(totals.items(), key=lambda kv: -kv[1])[:MAX_SERIES]]
    series = []
    for team in top:
        values, links = [], []
        for p in daily:
            hit = next((t for t in p["co2e_g_by_team"] if t["team"] == team), None)
            values.append(hit["co2e_g"] / 1000.0 if hit else 0.0)
            links.append(hit["link"] if hit else None)
        series.append((team, values, links))
    if len(totals) > len(top):
        rest = [
            sum(t["co2e_g"] for t in p["co2e_g_by_team"] if t["team"] not in top) / 1000.0
            for p in daily
        ]
        series.append(("other teams", rest, [p["link"] for p in daily]))
    charts = [
        (
            "chart-daily",
            stacked_bars("CO2e per day by team (kg, location-based)", x, series, y_title="kg"),
        )
    ]
    teams = page["by_team"]
    charts.append(
        (
            "chart-teams",
            hbars(
                "CO2e by team (kg)",
                [g["team"] for g in teams],
                [g["co2e_g"] / 1000.0 for g in teams],
                [g["links"].get("team") for g in teams],
                x_title="kg CO2e",
            ),
        )
    )
    charts.append(
        (
            "chart-provenance",
            bars(
                "Energy by team: measured vs estimated (kWh)",
                [g["team"] for g in teams],
                [
                    ("measured", [g["measured_kwh"] for g in teams]),
                    ("estimated", [g["estimated_kwh"] for g in teams]),
                ],
                links=[g["links"]["records"] for g in teams],
                y_title="kWh",
            ),
        )
    )
    projects = page["by_project"]
    charts.append(
        (
            "chart-projects",
            hbars(
                "CO2e by project (kg)",
                [g["project"] for g in projects],
                [g["co2e_g"] / 1000.0 for g in projects],
                [g["links"]["records"] for g in projects],
                x_title="kg CO2e",
            ),
        )
    )
    return charts


def teams_charts(page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(id, figure)`` of the teams page."""
    teams = [t for t in page["teams"] if t["records"]]
    if not teams:
        return []
    return [
        (
            "chart-teams",
            hbars(
                "CO2e by team (kg)",
                [g["team"] for g in teams],
                [g["co2e_g"] / 1000.0 for g in teams],
                [g["links"].get("team") for g in teams],
                x_title="kg CO2e",
            ),
        )
    ]


def models_charts(page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(id, figure)`` of the models page."""
    models = page["models"][:30]
    if not models:
        return []
    names = [f"{m['model'] or '?'} v{m['version'] or '?'}" for m in models]
    return [
        (
            "chart-models",
            bars(
                "CO2e per model version: training and inference (kg)",
                names,
                [
                    ("training", [m["training"]["co2e_g"] / 1000.0 for m in models]),
                    ("inference", [m["inference"]["co2e_g"] / 1000.0 for m in models]),
                ],
                links=[m["links"]["records"] for m in models],
                y_title="kg CO2e",
            ),
        )
    ]
