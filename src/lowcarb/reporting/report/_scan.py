"""One pass over the period's records: every grouping's sums, the decisions, the tuning points.

The database reads each record's fields (:func:`~lowcarb.reporting.report._sql.records_sql`,
one JSON parse per record) and hands over one compact row per record; this module sums the
rows by their keys in a dictionary, once, and then sums those few groups every way a report
shows. Sorting the records once per grouping, as ``GROUP BY`` does in SQLite, cost more than
reading them. The decision records and trial points come from the same pass: the newest
:data:`MAX_DECISIONS` decisions and the first :data:`MAX_TRIAL_POINTS` trials (by ``seq``),
kept in bounded heaps, so memory does not grow with the period.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from lowcarb.reporting.report._figures import Figures
from lowcarb.reporting.report._query import ReportQuery
from lowcarb.reporting.report._sql import (
    GROUPINGS,
    KEYS,
    Fields,
    among_sql,
    period_params,
    records_sql,
    superseded_sql,
)

__all__ = ["MAX_DECISIONS", "MAX_TRIAL_POINTS", "Scan", "scan"]

log = logging.getLogger(__name__)

#: Decision records a report reads (the latest); counts beyond are reported as a total only.
MAX_DECISIONS = 1000
#: Trials with a metric a report reads to draw fronts (the first, by ``seq``).
MAX_TRIAL_POINTS = 100_000

Key = tuple[str | None, str | None, str | None]
#: A decision: ``(ts, id, kind, team, project, model, version, stage, metadata)``.
DecisionFields = tuple[Any, ...]
_INDEX = {name: i for i, name in enumerate(KEYS)}
_DECISION_FIELDS = 9


@dataclass
class Scan:
    """What one pass over the period found.

    Attributes:
        groups: Grouping name (of ``GROUPINGS``) -> ``(key, figures, inferences)`` rows.
        superseded: Records of the period (with a footprint) that corrections replace.
        decisions: The newest decision records, newest first (at most ``MAX_DECISIONS``).
        decisions_total: Every decision record of the period.
        trials: Study -> ``(trial, metric, energy_kwh)`` of its trials with a metric.
        trials_total: Every trial with a metric and energy in the period.
        trials_truncated: More trials than ``MAX_TRIAL_POINTS``: the fronts use the first.
    """

    groups: dict[str, list[tuple[Key, Figures, float]]] = field(default_factory=dict)
    superseded: int = 0
    decisions: list[DecisionFields] = field(default_factory=list)
    decisions_total: int = 0
    trials: dict[str | None, list[tuple[int | None, float, float]]] = field(default_factory=dict)
    trials_total: int = 0
    trials_truncated: bool = False


def _ids(conn: Connection, sql: str, params: dict[str, Any]) -> set[str]:
    return {str(r[0]) for r in conn.execute(text(sql), params)}


def _figures(a: list[float]) -> Figures:
    return Figures(
        records=int(a[0]),
        energy_kwh=a[1],
        co2e_g=a[2],
        measured_kwh=a[3],
        estimated_kwh=a[4],
        market_records=int(a[5]),
        market_energy_kwh=a[6],
        market_co2e_g=a[7],
    )


def _add(into: dict[Any, list[float]], key: Any, s: list[float]) -> None:
    a = into.get(key)
    if a is None:
        into[key] = list(s)
        return
    a[0] += s[0]
    a[1] += s[1]
    a[2] += s[2]
    a[3] += s[3]
    a[4] += s[4]
    a[5] += s[5]
    a[6] += s[6]
    a[7] += s[7]
    a[8] += s[8]


def _role(kind: Any, stage: Any) -> str:
    """What a model version's figures count a record as: training runs (and corrections of
    them), inference, or other work (tuning trials, evaluation, ...)."""
    if kind in ("run", "correction") and stage in (None, "training", "train"):
        return "training"
    return "inference" if kind == "inference" else "other"


def _name(value: Any) -> Any:
    """A study name as a key: free metadata may hold any JSON, shown as its (canonical) text."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _keys(packed: str) -> tuple[Any, ...]:
    """A record's :data:`KEYS` from its packed key (its UTC day, then ``RAW_KEY_PATHS``)."""
    team, project, model, version, kind, stage, zone, source, study = json.loads(packed[10:])
    trial_study = _name(study) if kind == "trial" else None
    role = _role(kind, stage)
    return (packed[:10], team, project, model, version, kind, role, zone, source, trial_study)


def _group(fine: dict[str, list[float]]) -> dict[str, list[tuple[Key, Figures, float]]]:
    """Each grouping's rows, summed from the per-key sums.

    The per-key sums number a few hundred a day; summed first without their day (a few
    hundred in all), the groupings other than ``day_team`` then add up only those.
    """
    day, team = _INDEX["day"], _INDEX["team"]
    by_day_team: dict[Key, list[float]] = {}
    undated: dict[tuple[str | None, ...], list[float]] = {}
    for packed, sums in fine.items():
        keys = _keys(packed)
        _add(by_day_team, (keys[day], keys[team], None), sums)
        _add(undated, keys[1:], sums)  # KEYS[0] is the day
    coarse: dict[str, dict[Key, list[float]]] = {"day_team": by_day_team}
    kind = _INDEX["kind"] - 1
    for name, columns in GROUPINGS.items():
        if name == "day_team":
            continue
        where = [_INDEX[c] - 1 for c in columns]
        rows: dict[Key, list[float]] = {}
        for keys, sums in undated.items():
            if name == "study" and keys[kind] != "trial":
                continue
            picked = [keys[i] for i in where]
            _add(rows, (*picked, *([None] * (3 - len(picked)))), sums)
        coarse[name] = rows
    return {
        name: [(k, _figures(a), a[8]) for k, a in rows.items()] for name, rows in coarse.items()
    }


def scan(conn: Connection, f: Fields, query: ReportQuery) -> Scan:
    """One pass over the period's records (see the module docstring).

    Records that corrections replace are left out. On SQLite, over every team and project,
    the pass reads the records newest first, so each correction comes before the record it
    replaces and the replaced ids are learnt on the way (plus those of corrections appended
    after the period, read first: an empty index range for a period that ends now). A count by
    the id index then checks that every replaced record of the period was indeed left out;
    should one have come before its correction (a clock set back), the pass is made again with
    every replaced id read first, which is how PostgreSQL's pass (and a filtered one) runs.
    """
    params = period_params(query.since, query.until)
    # With a team or project filter the pass would not see corrections charged elsewhere.
    if f.dialect == "sqlite" and query.team is None and query.project is None:
        later = _ids(conn, superseded_sql(f, after="until"), params)
        out, replaced, left_out = _pass(conn, f, query, later, learn=True)
        sql, among = among_sql(f, team=query.team, project=query.project)
        among.update(params, ids=json.dumps(sorted(replaced)))
        if int(conn.execute(text(sql), among).scalar_one()) == left_out:
            return out
        log.info("a correction is older than the record it replaces; reading the report again")
    replaced = _ids(conn, superseded_sql(f), params)
    return _pass(conn, f, query, replaced, learn=False)[0]


def _pass(
    conn: Connection, f: Fields, query: ReportQuery, replaced: set[str], *, learn: bool
) -> tuple[Scan, set[str], int]:
    """``(what the pass found, the replaced ids, how many records of the period it left out)``;
    with ``learn``, rows come newest first and each correction adds the id it replaces."""
    sql, params = records_sql(f, team=query.team, project=query.project, newest_first=learn)
    params.update(period_params(query.since, query.until))
    # Per key: records, energy, CO2e, measured, estimated, market records, market energy,
    # market CO2e, inferences (the order of ``Figures`` and then inferences).
    fine: dict[str, list[float]] = {}
    out = Scan()
    left_out = 0
    newest: list[tuple[int, DecisionFields]] = []  # min-heap on seq: the newest kept
    # min-heap on -seq: the first trials kept, as (-seq, study, trial, metric, energy)
    first: list[tuple[int, Any, Any, float, float]] = []
    rows = conn.execute(text(sql), params)
    for packed, rid, corrects, energy, co2e, market, measured, inferences, seq, detail in rows:
        if learn and corrects is not None:
            replaced.add(str(corrects))  # even when this correction is replaced in turn
        if rid in replaced:
            left_out += 1
            if energy is not None:
                out.superseded += 1
            continue
        if energy is not None:
            acc = fine.get(packed)
            if acc is None:
                fine[packed] = acc = [0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0]
            acc[0] += 1
            acc[1] += energy
            acc[2] += co2e
            acc[3] += measured
            # Components are measured or estimated (the ledger refuses other methods), so
            # estimated energy is the rest: an all-measured record leaves exactly 0.
            rest = energy - measured
            if rest > 0:
                acc[4] += rest
            if market is not None:
                acc[5] += 1
                acc[6] += energy
                acc[7] += market
            if inferences is not None:
                acc[8] += inferences
        if detail is None:
            continue
        fields = json.loads(detail)
        if len(fields) == _DECISION_FIELDS:  # a decision record
            out.decisions_total += 1
            item = (int(seq), tuple(fields))
            if len(newest) < MAX_DECISIONS:
                heapq.heappush(newest, item)
            elif item[0] > newest[0][0]:
                heapq.heapreplace(newest, item)
            continue
        study, trial, metric = fields  # a trial: a point when it has its metric and energy
        if metric is None or energy is None:
            continue
        out.trials_total += 1
        point = (-int(seq), _name(study), trial, float(metric), energy)
        if len(first) < MAX_TRIAL_POINTS:
            heapq.heappush(first, point)
        elif point[0] > first[0][0]:
            heapq.heapreplace(first, point)
    out.groups = _group(fine)
    out.decisions = [d for _, d in sorted(newest, key=lambda x: -x[0])]
    by_study: dict[str | None, list[tuple[int | None, float, float]]] = defaultdict(list)
    for _, study, trial, metric, energy in sorted(first, key=lambda x: -x[0]):
        by_study[study].append((None if trial is None else int(trial), metric, energy))
    out.trials = dict(by_study)
    out.trials_truncated = out.trials_total > MAX_TRIAL_POINTS
    return out, replaced, left_out
