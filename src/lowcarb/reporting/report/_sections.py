"""The report's text: sections of paragraphs and tables, rendered by Markdown and HTML alike.

One description of the content (this module and ``_sections_actions``) and two renderers
(``_markdown``, ``_html``), so both print the same figures with the same rounding
(``_format``). Text here is plain: each renderer escapes it for its own syntax.
"""

from __future__ import annotations

from collections.abc import Sequence

from lowcarb.reporting.report._blocks import Section, Table, make_table
from lowcarb.reporting.report._figures import GroupRow
from lowcarb.reporting.report._format import NONE, count, kg, kwh, name, num, share
from lowcarb.reporting.report._sections_actions import (
    audit_section,
    decisions_section,
    models_section,
    scheduler_section,
    tuning_section,
)
from lowcarb.reporting.report._types import ReportData

__all__ = ["Section", "Table", "sections", "title"]

#: Rows a group table shows (the JSON and CSV hold every group).
MAX_GROUP_ROWS = 50


def _groups(title: str, rows: Sequence[GroupRow], total_g: float) -> Table:
    shown = rows[:MAX_GROUP_ROWS]
    caption = f"{len(rows)} groups" + (
        f", largest {MAX_GROUP_ROWS} shown" if len(rows) > len(shown) else ""
    )
    return make_table(
        (title, "records", "energy (kWh)", "CO2e (kg)", "share of CO2e", "measured"),
        [
            (
                name(g.key),
                count(g.figures.records),
                kwh(g.figures.energy_kwh),
                kg(g.figures.co2e_g),
                share(g.figures.co2e_g / total_g) if total_g > 0 else NONE,
                share(g.figures.measured_share),
            )
            for g in shown
        ],
        (False, True, True, True, True, True),
        caption,
    )


def _summary(d: ReportData) -> Section:
    t, s2 = d.totals, d.scope2
    market = kg(s2.market_co2e_g) if s2.market_co2e_g is not None else "not available"
    rows = [
        ("records", count(t.records)),
        ("energy (kWh)", kwh(t.energy_kwh)),
        ("CO2e, Scope 2 location-based (kg)", kg(s2.location_co2e_g)),
        ("CO2e, Scope 2 market-based (kg)", market),
        ("measured share of energy", share(t.measured_share)),
        (
            "estimated share of energy",
            share(None if t.measured_share is None else 1 - t.measured_share),
        ),
        ("mean grid intensity (gCO2e/kWh)", num(t.intensity_g_per_kwh)),
    ]
    return Section(
        "summary",
        "Summary",
        paragraphs=tuple(f"Note: {n}" for n in d.notes),
        tables=(make_table(("figure", "value"), rows, (False, True)),),
    )


def _time(d: ReportData) -> Section:
    rows = [
        (
            p.label,
            count(p.figures.records),
            kwh(p.figures.energy_kwh),
            kg(p.figures.co2e_g),
            share(p.figures.measured_share),
        )
        for p in d.weekly
    ]
    return Section(
        "time",
        "Emissions over time",
        paragraphs=("By ISO week (UTC); the daily series is in the CSV and JSON.",),
        tables=(
            make_table(
                ("week", "records", "energy (kWh)", "CO2e (kg)", "measured"),
                rows,
                (False, True, True, True, True),
            ),
        ),
    )


def _breakdown(d: ReportData) -> Section:
    total = d.totals.co2e_g
    return Section(
        "breakdown",
        "By team, project, model and kind",
        paragraphs=(
            "CO2e is Scope 2 location-based; measured: share of energy from hardware counters.",
        ),
        tables=(
            _groups("team", d.by_team, total),
            _groups("project", d.by_project, total),
            _groups("model", d.by_model, total),
            _groups("kind", d.by_kind, total),
        ),
    )


def _scope2(d: ReportData) -> Section:
    s2 = d.scope2
    paras = [
        f"Location-based: {kg(s2.location_co2e_g)} kg CO2e (energy x the grid-average intensity "
        "recorded with each record).",
        (
            f"Market-based: {kg(s2.market_co2e_g)} kg CO2e."
            if s2.market_co2e_g is not None
            else f"Market-based: not available: {s2.market_reason}."
        ),
        f"Energy with a contractual factor: {share(s2.market_covered_share)}"
        + (f" (factors from {s2.market_factors_source})." if s2.market_factors_source else "."),
    ]
    rows = [
        (
            name(z.zone),
            kwh(z.figures.energy_kwh),
            num(z.figures.intensity_g_per_kwh),
            ", ".join(name(s) for s in z.location_sources) or NONE,
            kg(z.figures.co2e_g),
            count(z.figures.market_records),
            num(z.market_intensity_g_per_kwh),
            name(z.market_source) if z.market_source else NONE,
            kg(z.market_co2e_g),
        )
        for z in s2.zones
    ]
    table = make_table(
        (
            "zone",
            "energy (kWh)",
            "location factor (g/kWh)",
            "location sources",
            "location CO2e (kg)",
            "records with own instrument",
            "market factor (g/kWh)",
            "market factor source",
            "market CO2e (kg)",
        ),
        rows,
        (False, True, True, False, True, True, True, False, True),
    )
    return Section("scope2", "Scope 2: location-based and market-based", tuple(paras), (table,))


def sections(d: ReportData) -> tuple[Section, ...]:
    """The report's sections, in order."""
    return (
        _summary(d),
        _time(d),
        _breakdown(d),
        _scope2(d),
        models_section(d),
        scheduler_section(d),
        tuning_section(d),
        decisions_section(d),
        audit_section(d),
    )


def title(d: ReportData) -> tuple[str, str]:
    """The report's title and its one-line scope."""
    q = d.query.to_dict()
    team = name(d.query.team) if d.query.team else "all"
    project = name(d.query.project) if d.query.project else "all"
    scope = (
        f"{q['since']} to {q['until']} ({d.query.days:g} days); team: {team}; "
        f"project: {project}; generated {d.generated_at} from {d.audit.ledger}"
    )
    return "lowcarb carbon report", scope
