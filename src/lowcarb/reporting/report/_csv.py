"""The report as one CSV: a long table, one figure per line, the same numbers as the JSON.

Columns: ``section,key,subkey,metric,value,unit``. ``section`` says what a line belongs to;
``key`` and ``subkey`` identify the row within it (empty: not attributed, or not used);
``metric`` names the figure as in the JSON; ``value`` holds it at full precision (a float as
Python's shortest round-trip text, ``true``/``false``, text, or empty for none); ``unit`` is
derived from the metric's name (``kWh``, ``g``, ``g/kWh``, ``%``, ``fraction``, ...).

Sections and their keys:

=================  ===================  ===================
section            key                  subkey
=================  ===================  ===================
report             (empty)              (empty)
totals             (empty)              (empty)
daily              day (YYYY-MM-DD)     (empty)
daily_team         day                  team
weekly             ISO week (YYYY-Www)  (empty)
weekly_team        ISO week             team
by_team            team                 (empty)
by_project         project              (empty)
by_model           model                (empty)
by_kind            record kind          (empty)
scope2             (empty)              (empty)
scope2_zone        zone                 (empty)
models             model                version
scheduler          (empty)              (empty)
scheduler_team     team                 (empty)
tuning             study                (empty)
tuning_front       study                trial number
decision_counts    decision type        outcome
decisions          record id            (empty)
budgets            budget scope         period and start
audit              (empty)              (empty)
audit_proves       ruled_out, ...       item number
audit_sources      intensity source     (empty)
methodology        item number          (empty)
notes              item number          (empty)
=================  ===================  ===================

Text cells are stripped of control characters and neutralised against spreadsheet formula
injection (a leading ``=``, ``+``, ``-``, ``@`` gets a ``'``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from lowcarb._text import csv_cell, plain
from lowcarb.reporting.report._types import ReportData

__all__ = ["CSV_COLUMNS", "render_csv", "unit_of"]

CSV_COLUMNS = ("section", "key", "subkey", "metric", "value", "unit")
_UNITS = (
    ("_g_per_kwh", "g/kWh"),
    ("_co2e_kg", "kg"),
    ("_kg", "kg"),
    ("_kwh", "kWh"),
    ("_co2e_g", "g"),
    ("co2e_g", "g"),
    ("_per_1k_j", "J per 1,000 inferences"),
    ("_per_1k_j_ledger", "J per 1,000 inferences"),
    ("_pct", "%"),
    ("_share", "fraction"),
    ("_ms", "ms"),
    ("_bytes", "bytes"),
    ("hours", "h"),
)
Row = tuple[str, str, str, str, str, str]


def unit_of(metric: str) -> str:
    """The unit a metric's name states (empty when it has none)."""
    if metric == "accuracy":
        return "fraction"
    for suffix, unit in _UNITS:
        if metric.endswith(suffix):
            return unit
    return ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return str(csv_cell("; ".join(plain(v) for v in value)))
    return str(csv_cell(plain(value)))


def _key(value: Any) -> str:
    return "" if value is None else str(csv_cell(plain(value)))


def _rows(
    section: str, key: Any, subkey: Any, values: Mapping[str, Any], skip: Iterable[str] = ()
) -> Iterable[Row]:
    drop = set(skip)
    for metric, value in values.items():
        if metric in drop or isinstance(value, dict):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            continue
        yield (section, _key(key), _key(subkey), metric, _cell(value), unit_of(metric))


def _all_rows(d: dict[str, Any]) -> Iterable[Row]:
    yield from _rows(
        "report", None, None, {"report": d["report"], "generated_at": d["generated_at"]}
    )
    yield from _rows("report", None, None, d["query"])
    yield from _rows("totals", None, None, d["totals"])
    for name in ("daily", "weekly"):
        for p in d[name]:
            yield from _rows(
                name, p["start"] if name == "daily" else p["label"], None, p, ("label",)
            )
            for t in p["co2e_g_by_team"]:
                key = p["start"] if name == "daily" else p["label"]
                yield from _rows(f"{name}_team", key, t["team"], {"co2e_g": t["co2e_g"]})
    for name in ("by_team", "by_project", "by_model", "by_kind"):
        for g in d[name]:
            yield from _rows(name, g["key"], None, g, ("key",))
    yield from _rows("scope2", None, None, d["scope2"])
    for z in d["scope2"]["zones"]:
        yield from _rows("scope2_zone", z["zone"], None, z, ("zone",))
    for m in d["models"]:
        yield from _rows("models", m["model"], m["version"], m, ("model", "version"))
    yield from _rows("scheduler", None, None, d["scheduler"])
    for t in d["scheduler"]["by_team"]:
        yield from _rows("scheduler_team", t["team"], None, t, ("team",))
    for s in d["tuning"]:
        yield from _rows("tuning", s["study"], None, s, ("study",))
        for p in s["front"]:
            yield from _rows("tuning_front", s["study"], p["trial"], p, ("trial",))
    dec = d["decisions"]
    yield from _rows(
        "decisions", None, None, {"total": dec["total"], "truncated": dec["truncated"]}
    )
    for c in dec["counts"]:
        yield from _rows("decision_counts", c["type"], c["outcome"], {"records": c["records"]})
    for r in dec["rows"]:
        yield from _rows("decisions", r["record_id"], None, r, ("record_id",))
    for b in dec["budgets"]:
        sub = f"{b['period']} {b['period_start']}"
        yield from _rows("budgets", b["scope"], sub, b, ("scope",))
    a = d["audit"]
    yield from _rows("audit", None, None, a)
    verify = a["verify"] or {}
    yield from _rows("audit", None, None, {f"verify_{k}": v for k, v in verify.items()})
    for group, items in a["proves"].items():
        for i, item in enumerate(items, 1):
            yield ("audit_proves", _key(group), str(i), "item", _cell(item), "")
    for s in a["sources"]:
        yield from _rows("audit_sources", s["source"], None, s, ("source",))
    for i, text_ in enumerate(a["methodology"], 1):
        yield ("methodology", str(i), "", "text", _cell(text_), "")
    for i, text_ in enumerate(d["notes"], 1):
        yield ("notes", str(i), "", "text", _cell(text_), "")


def render_csv(data: ReportData) -> str:
    """The report as CSV text (see the module docstring for the layout)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_all_rows(data.to_dict()))
    return out.getvalue()
