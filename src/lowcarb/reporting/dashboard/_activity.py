"""What the system did: scheduled jobs (planned vs immediate intensity, state) and decisions.

Jobs come from the job store beside the ledger (:class:`lowcarb.jobs.JobStore`): each planned
job keeps the forecast intensity at its chosen start and for starting at once, and, once run,
the intensity of the hours it ran. Decisions (gate verdicts, budgets, retrain decisions) are
read by the report's :func:`lowcarb.reporting.report.collect` for the same period and team, so
the dashboard and ``lowcarb report`` interpret them alike.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from lowcarb.jobs import Job
from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._charts import bars, label
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._records import record_link
from lowcarb.reporting.dashboard._service import Dashboard
from lowcarb.reporting.report import collect

__all__ = ["MAX_JOBS", "decisions_page", "jobs_charts", "jobs_page"]

#: Jobs a page lists (the latest).
MAX_JOBS = 500
_CHART_JOBS = 30


def _number(plan: dict[str, Any] | None, key: str) -> float | None:
    value = (plan or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _when(job: Job) -> datetime:
    return job.planned_start or job.created_at


def _job(job: Job) -> dict[str, Any]:
    planned = _number(job.plan, "expected_intensity_g_per_kwh")
    now = _number(job.plan, "now_intensity_g_per_kwh")
    saving = (1.0 - planned / now) * 100.0 if planned is not None and now else None

    def iso(t: datetime | None) -> str | None:
        return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "id": job.id,
        "state": job.state,
        "team": job.team,
        "project": job.project,
        "zones": list(job.zones),
        "command": " ".join(job.command)[:500],
        "duration_h": job.duration_h,
        "work_done_h": job.work_done_h,
        "interruptible": job.interruptible,
        "created_at": iso(job.created_at),
        "deadline": iso(job.deadline),
        "planned_start": iso(job.planned_start),
        "planned_zone": (job.plan or {}).get("zone"),
        "planned_intensity_g_per_kwh": planned,
        "now_intensity_g_per_kwh": now,
        "forecast_saving_pct": saving,
        "realised_intensity_g_per_kwh": job.realised_intensity_g_per_kwh,
        "intensity_kind": "forecast (planned, now); measured or estimated by the grid source "
        "(realised)",
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "exit_code": job.exit_code,
        "note": job.note,
        "records": [{"id": r, "link": record_link(r)} for r in job.record_ids],
    }


def jobs_page(d: Dashboard, q: DashboardQuery, who: Principal) -> dict[str, Any]:
    """Jobs planned (or, unplanned, submitted) in the period, newest first."""
    q = d.scoped(q, who)
    jobs = [
        j
        for j in d.jobs.list_jobs()
        if (q.team is None or j.team == q.team)
        and (q.project is None or j.project == q.project)
        and q.since_time <= _when(j) < q.until_time
    ]
    jobs.sort(key=lambda j: (_when(j), j.id), reverse=True)
    states = Counter(j.state for j in jobs)
    return {
        "page": "jobs",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        "total": len(jobs),
        "truncated": len(jobs) > MAX_JOBS,
        "states": dict(sorted(states.items())),
        "jobs": [_job(j) for j in jobs[:MAX_JOBS]],
    }


def jobs_charts(page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Planned vs immediate (and realised) intensity of the latest planned jobs."""
    planned = [j for j in page["jobs"] if j["planned_intensity_g_per_kwh"] is not None]
    shown = planned[:_CHART_JOBS][::-1]
    if not shown:
        return []
    names = [f"{label(j['team'])} {j['id'][:8]}" for j in shown]
    link = [j["records"][0]["link"] if j["records"] else None for j in shown]
    return [
        (
            "chart-jobs",
            bars(
                "Planned vs immediate intensity per job (gCO2e/kWh)",
                names,
                [
                    ("now (forecast)", [j["now_intensity_g_per_kwh"] for j in shown]),
                    ("planned (forecast)", [j["planned_intensity_g_per_kwh"] for j in shown]),
                    ("realised", [j["realised_intensity_g_per_kwh"] for j in shown]),
                ],
                links=link,
                y_title="gCO2e/kWh",
                mode="group",
            ),
        )
    ]


def decisions_page(d: Dashboard, q: DashboardQuery, who: Principal) -> dict[str, Any]:
    """Gate, budget and retrain decisions of the period, newest first, with budget status."""
    q = d.scoped(q, who)
    if q.team is not None and q.team not in d.known("team"):
        # A team token whose team has no record yet: nothing to read (collect() would call
        # the name unknown).
        decisions: dict[str, Any] = {
            "total": 0,
            "truncated": False,
            "counts": [],
            "rows": [],
            "budgets": [],
        }
    else:
        data = collect(d.ledger, q.report_query(), verify=False, clock=d.now)
        decisions = data.decisions.to_dict()
    for row in decisions["rows"]:
        row["links"] = {"record": record_link(row["record_id"])}
    return {
        "page": "decisions",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        **decisions,
    }
