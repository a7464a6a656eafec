"""Tuning studies from the ledger: each trial is a ``trial`` record (``lowcarb.tuning``).

A trial record carries its study (``metadata.study``), trial number (``metadata.trial``) and
energy. Its objective value is read from ``metadata.result.metric`` or ``metadata.metric``
when the writer recorded it; a study whose trials carry none gets no front, and says why (the
values then live only in the Optuna storage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, text

from lowcarb.reporting.report._figures import Figures
from lowcarb.reporting.report._query import ReportQuery
from lowcarb.reporting.report._sql import Fields, detail_sql, period_params
from lowcarb.reporting.report._types import ParetoPoint, TuningStudy

__all__ = ["MAX_TRIAL_POINTS", "pareto_front", "read_tuning"]

#: Trials with a metric a report reads to draw fronts.
MAX_TRIAL_POINTS = 100_000
NO_METRIC = (
    "no trial record of this study carries its objective value (metadata.result.metric or "
    "metadata.metric); the values are in the study's Optuna storage"
)


def pareto_front(points: Iterable[ParetoPoint]) -> tuple[ParetoPoint, ...]:
    """The points no other point beats on both metric (higher) and energy (lower).

    O(n log n): sorted by energy, a point is on the front when its metric beats every cheaper
    point's. Equal points are all kept.
    """
    ordered = sorted(points, key=lambda p: (p.energy_kwh, -p.metric))
    front: list[ParetoPoint] = []
    for p in ordered:
        if not front or p.metric > front[-1].metric:
            front.append(p)
        elif (p.metric, p.energy_kwh) == (front[-1].metric, front[-1].energy_kwh):
            front.append(p)  # a tie with the last point on the front
    return tuple(front)


def read_tuning(
    conn: Connection,
    f: Fields,
    query: ReportQuery,
    studies: Sequence[tuple[str | None, Figures]],
    *,
    limit: int = MAX_TRIAL_POINTS,
) -> tuple[tuple[TuningStudy, ...], bool]:
    """Studies with their fronts; the flag is True when more than ``limit`` points existed."""
    if not studies:
        return (), False
    metric = (
        f"coalesce({f.free_num('metadata', 'result', 'metric')}, "
        f"{f.free_num('metadata', 'metric')})"
    )
    columns = {
        "study": f.text("metadata", "study"),
        "trial": f.free_num("metadata", "trial"),
        "energy": f.num("footprint", "energy_kwh"),
        "metric": metric,
    }
    sql, params = detail_sql(
        f,
        team=query.team,
        project=query.project,
        kinds=("trial",),
        columns=columns,
        limit=limit,
        extra_where=f"{metric} IS NOT NULL AND {f.num('footprint', 'energy_kwh')} IS NOT NULL",
    )
    params.update(period_params(query.since, query.until))
    points: dict[str | None, list[ParetoPoint]] = defaultdict(list)
    total = 0
    for r in conn.execute(text(sql), params):
        total = int(r.total)
        trial = int(r.trial) if r.trial is not None else None
        points[r.study].append(ParetoPoint(trial, float(r.metric), float(r.energy)))
    out = []
    for study, figures in studies:
        mine = points.get(study, [])
        front = pareto_front(mine)
        out.append(TuningStudy(study, figures, len(mine), front, None if mine else NO_METRIC))
    out.sort(key=lambda s: (-s.figures.energy_kwh, s.study or ""))
    return tuple(out), total > limit
