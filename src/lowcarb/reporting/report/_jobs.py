"""Scheduler savings from the job table beside the ledger (``lowcarb_jobs``, see
:mod:`lowcarb.jobs`): each planned job keeps its plan, with the forecast intensity at the
chosen start and for starting at once, and, once run, the intensity of the hours it ran.

Jobs are selected by their planned start, in the report's period; grouped in SQL per team.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, inspect, text

from lowcarb.reporting.report._query import ReportQuery
from lowcarb.reporting.report._sql import Dialect
from lowcarb.reporting.report._types import SchedulerSavings

__all__ = ["JOBS_TABLE", "read_scheduler"]

#: The job store's table (created by the ledger's migration 0002).
JOBS_TABLE = "lowcarb_jobs"


def _plan(dialect: Dialect, key: str) -> str:
    if dialect == "sqlite":
        return (
            f"(CASE WHEN json_type(plan, '$.{key}') IN ('real', 'integer') "
            f"THEN json_extract(plan, '$.{key}') END)"
        )
    node = f"(plan::jsonb -> '{key}')"
    return f"(CASE WHEN jsonb_typeof({node}) = 'number' THEN ({node} #>> '{{}}')::float8 END)"


def _sql(dialect: Dialect, query: ReportQuery) -> tuple[str, dict[str, Any]]:
    expected = _plan(dialect, "expected_intensity_g_per_kwh")
    now = _plan(dialect, "now_intensity_g_per_kwh")
    saved = f"({_plan(dialect, 'now_co2e_g')} - {_plan(dialect, 'expected_co2e_g')})"
    conds = [
        "plan IS NOT NULL",
        "planned_start >= :since",
        "planned_start < :until",
    ]
    params: dict[str, Any] = {"since": query.since, "until": query.until}
    for name in ("team", "project"):
        value = getattr(query, name)
        if value is not None:
            conds.append(f"{name} = :{name}")
            params[name] = value
    both = f"{expected} IS NOT NULL AND {now} IS NOT NULL"
    real = f"{both} AND realised_intensity_g_per_kwh IS NOT NULL"
    sql = (
        "SELECT team, count(*) AS jobs, "
        f"sum(CASE WHEN {both} THEN duration_h END) AS hours, "
        f"sum(CASE WHEN {both} THEN duration_h * {expected} END) AS planned, "
        f"sum(CASE WHEN {both} THEN duration_h * {now} END) AS immediate, "
        f"count({saved}) AS with_saved, sum({saved}) AS saved, "
        f"count(CASE WHEN {real} THEN 1 END) AS realised_jobs, "
        f"sum(CASE WHEN {real} THEN duration_h END) AS realised_hours, "
        f"sum(CASE WHEN {real} THEN duration_h * realised_intensity_g_per_kwh END) AS realised, "
        f"sum(CASE WHEN {real} THEN duration_h * {now} END) AS realised_immediate "
        f"FROM {JOBS_TABLE} WHERE {' AND '.join(conds)} GROUP BY team"
    )
    return sql, params


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _saving(planned: float | None, immediate: float | None) -> float | None:
    return (1.0 - planned / immediate) * 100.0 if planned is not None and immediate else None


def read_scheduler(conn: Connection, dialect: Dialect, query: ReportQuery) -> SchedulerSavings:
    """Planned vs immediate (and realised) intensity of the period's planned jobs."""
    if not inspect(conn).has_table(JOBS_TABLE):
        return SchedulerSavings(
            available=False,
            reason=f"this ledger has no job table ({JOBS_TABLE}): no job was ever submitted",
        )
    sql, params = _sql(dialect, query)
    stmt = text(sql).bindparams(
        bindparam("since", type_=DateTime(timezone=True)),
        bindparam("until", type_=DateTime(timezone=True)),
    )
    teams: list[dict[str, Any]] = []
    sums = dict.fromkeys(
        (
            "jobs",
            "hours",
            "planned",
            "immediate",
            "with_saved",
            "saved",
            "realised_jobs",
            "realised_hours",
            "realised",
            "realised_immediate",
        ),
        0.0,
    )
    for r in conn.execute(stmt, params).mappings():
        for key in sums:
            sums[key] += float(r[key] or 0.0)
        hours = float(r["hours"] or 0.0)
        planned = _ratio(r["planned"], hours)
        immediate = _ratio(r["immediate"], hours)
        teams.append(
            {
                "team": r["team"],
                "jobs": int(r["jobs"]),
                "hours": hours,
                "planned_intensity_g_per_kwh": planned,
                "immediate_intensity_g_per_kwh": immediate,
                "savings_pct": _saving(planned, immediate),
            }
        )
    teams.sort(key=lambda t: (-t["jobs"], t["team"] or ""))
    planned = _ratio(sums["planned"], sums["hours"])
    immediate = _ratio(sums["immediate"], sums["hours"])
    realised = _ratio(sums["realised"], sums["realised_hours"])
    realised_now = _ratio(sums["realised_immediate"], sums["realised_hours"])
    return SchedulerSavings(
        available=True,
        reason=None if sums["jobs"] else "no job was planned to start in this period",
        jobs=int(sums["jobs"]),
        hours=sums["hours"],
        planned_intensity_g_per_kwh=planned,
        immediate_intensity_g_per_kwh=immediate,
        savings_pct=_saving(planned, immediate),
        forecast_saved_co2e_g=sums["saved"] if sums["with_saved"] else None,
        realised_jobs=int(sums["realised_jobs"]),
        realised_intensity_g_per_kwh=realised,
        realised_savings_pct=_saving(realised, realised_now),
        by_team=tuple(teams),
    )
