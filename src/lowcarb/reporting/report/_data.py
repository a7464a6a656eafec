"""``collect``: the figures of a report, read by the database in one pass, as typed dataclasses.

One pass over the period's records (``_scan``: the database reads each record's fields, the
rows are summed by key as they stream) gives every grouping, the decisions and the tuning
points; jobs are one small query; the rest is the sum of a few hundred group rows. The records
are never held in memory, so the same function serves a report over a year of a million records
(``benchmarks/report.py``) and a dashboard's overview.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

from lowcarb.errors import UsageError, close_matches
from lowcarb.ledger import Ledger, MarketFactor, SqlLedgerStore, VerifyResult
from lowcarb.profiling import Profile
from lowcarb.reporting.report._audit import METHODOLOGY, source_rows
from lowcarb.reporting.report._decisions import decisions_from
from lowcarb.reporting.report._figures import Figures, GroupRow, SeriesPoint
from lowcarb.reporting.report._jobs import JOBS_TABLE, read_scheduler
from lowcarb.reporting.report._query import ReportQuery
from lowcarb.reporting.report._scan import scan
from lowcarb.reporting.report._scope2 import scope2
from lowcarb.reporting.report._sql import (
    LEDGER_TABLE,
    Dialect,
    Fields,
    index_choice_sql,
    period_params,
)
from lowcarb.reporting.report._tuning import tuning_from
from lowcarb.reporting.report._types import Audit, Decisions, ModelRow, ReportData

__all__ = ["collect"]

Key = tuple[str | None, str | None, str | None]
_KNOWN_SHOWN = 20


def _parts(source: Ledger | Engine) -> tuple[Engine, Ledger]:
    if isinstance(source, Engine):
        if source.dialect.name not in ("sqlite", "postgresql"):
            raise UsageError(
                f"a report reads a SQLite or PostgreSQL ledger, not {source.dialect.name!r}"
            )
        dialect: Dialect = "sqlite" if source.dialect.name == "sqlite" else "postgresql"
        store = SqlLedgerStore(
            source, dialect, display_url=source.url.render_as_string(hide_password=True)
        )
        return source, Ledger(store, meta=store.meta())
    if isinstance(source, Ledger):
        return source.engine, source
    raise UsageError(f"collect() needs a lowcarb Ledger or a SQLAlchemy Engine, got {source!r}")


def _name_expr(f: Fields, field: str) -> str:
    return f.indexed("team") if field == "team" else f.raw_text("attribution", "project")


def _known(conn: Connection, f: Fields, field: str, *, jobs: bool) -> list[str]:
    expr = _name_expr(f, field)
    sql = f"SELECT DISTINCT {expr} AS k FROM {LEDGER_TABLE} WHERE {expr} IS NOT NULL"
    names = {str(r.k) for r in conn.execute(text(sql))}
    if jobs:
        sql = f"SELECT DISTINCT {field} FROM {JOBS_TABLE} WHERE {field} IS NOT NULL"
        names |= {str(r[0]) for r in conn.execute(text(sql))}
    return sorted(names)


def _check_names(conn: Connection, f: Fields, query: ReportQuery) -> None:
    """Refuse a team or project no record (or job) carries, listing the known ones."""
    has_jobs = inspect(conn).has_table(JOBS_TABLE)
    for field, value in (("team", query.team), ("project", query.project)):
        if value is None:
            continue
        expr = _name_expr(f, field)
        sql = f"SELECT 1 FROM {LEDGER_TABLE} WHERE {expr} = :v LIMIT 1"
        hit = conn.execute(text(sql), {"v": value}).first()
        if hit is None and has_jobs:
            sql = f"SELECT 1 FROM {JOBS_TABLE} WHERE {field} = :v LIMIT 1"
            hit = conn.execute(text(sql), {"v": value}).first()
        if hit is not None:
            continue
        known = _known(conn, f, field, jobs=has_jobs)
        near = close_matches(value, known)
        hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
        listed = ", ".join(known[:_KNOWN_SHOWN]) + (
            f" (and {len(known) - _KNOWN_SHOWN} more)" if len(known) > _KNOWN_SHOWN else ""
        )
        raise UsageError(
            f"unknown {field} {value!r}: no ledger record is charged to it; {hint}"
            + (f"known {field}s: {listed}" if known else f"no record names a {field} yet")
        )


def _fields_for(conn: Connection, f: Fields, query: ReportQuery) -> Fields:
    """On SQLite with a team filter: read by whichever index holds fewer records."""
    if f.dialect != "sqlite" or query.team is None:
        return f
    team_sql, period_sql = index_choice_sql(f)
    team_rows = conn.execute(text(team_sql), {"team": query.team}).scalar_one()
    period = period_params(query.since, query.until)
    period_rows = conn.execute(text(period_sql), period).scalar_one()
    return Fields("sqlite", team_first=int(team_rows) < int(period_rows))


def _sum(items: Iterable[Figures]) -> Figures:
    total = Figures()
    for item in items:
        total = total + item
    return total


def _groups(rows: Iterable[tuple[str | None, Figures]]) -> tuple[GroupRow, ...]:
    merged: dict[str | None, Figures] = defaultdict(Figures)
    for key, fig in rows:
        merged[key] = merged[key] + fig
    out = [GroupRow(k, v) for k, v in merged.items()]
    out.sort(key=lambda g: (-g.figures.co2e_g, g.key is None, g.key or ""))
    return tuple(out)


def _days(query: ReportQuery) -> list[date]:
    first = query.since.date()
    last = (query.until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _series(
    query: ReportQuery, day_team: Sequence[tuple[Key, Figures]]
) -> tuple[tuple[SeriesPoint, ...], tuple[SeriesPoint, ...]]:
    by_day: dict[str, dict[str | None, Figures]] = defaultdict(dict)
    for (day, team, _), fig in day_team:
        by_day[str(day)][team] = fig
    daily, weekly = [], []
    week_acc: dict[date, dict[str | None, Figures]] = {}
    for d in _days(query):
        teams = by_day.get(d.isoformat(), {})
        order = sorted(teams.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        daily.append(
            SeriesPoint(
                d,
                d.isoformat(),
                _sum(teams.values()),
                tuple((t, fig.co2e_g) for t, fig in order),
            )
        )
        monday = d - timedelta(days=d.weekday())
        acc = week_acc.setdefault(monday, {})
        for team, fig in teams.items():
            acc[team] = acc.get(team, Figures()) + fig
    for monday, teams in week_acc.items():
        iso = monday.isocalendar()
        order = sorted(teams.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        weekly.append(
            SeriesPoint(
                monday,
                f"{iso.year}-W{iso.week:02d}",
                _sum(teams.values()),
                tuple((t, fig.co2e_g) for t, fig in order),
            )
        )
    return tuple(daily), tuple(weekly)


def _version_key(text_: str | None) -> tuple[Any, ...]:
    """Natural order: ``2`` before ``10``."""
    parts = re.split(r"(\d+)", text_ or "")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _models(
    rows: Sequence[tuple[Key, Figures, float]],
    profiles: Sequence[Profile],
    decisions: Decisions,
) -> tuple[ModelRow, ...]:
    by_version: dict[tuple[str | None, str | None], dict[str, Figures]] = defaultdict(dict)
    inferences: dict[tuple[str | None, str | None], float] = defaultdict(float)
    for (model, version, role), fig, n in rows:
        key = (model, version)
        roles = by_version[key]
        roles[str(role)] = roles.get(str(role), Figures()) + fig
        inferences[key] += n
    given: dict[tuple[str | None, str | None], Profile] = {
        (p.model, p.version): p for p in profiles
    }
    gates: dict[tuple[str | None, str | None], str | None] = {}
    for d in decisions.rows:  # newest first: the first seen is the latest
        if d.type == "gate":
            gates.setdefault((d.model, d.version), d.outcome)
    keys = [k for k in by_version if k[0] is not None or k[1] is not None]
    keys += [k for k in given if k not in by_version]
    keys += [k for k in gates if k not in by_version and k not in given]
    out = []
    for key in keys:
        roles = by_version.get(key, {})
        inference = roles.get("inference", Figures())
        n = inferences.get(key, 0.0)
        profile = given.get(key)
        out.append(
            ModelRow(
                model=key[0],
                version=key[1],
                training=roles.get("training", Figures()),
                inference=inference,
                inferences=n,
                energy_per_1k_j_ledger=inference.energy_kwh * 3.6e6 / n * 1000.0 if n > 0 else None,
                profile=profile.to_dict() if profile is not None else None,
                gate=gates.get(key),
            )
        )
    out.sort(key=lambda m: (m.model or "", _version_key(m.version)))
    return tuple(out)


def collect(
    source: Ledger | Engine,
    query: ReportQuery,
    *,
    market_factors: Mapping[str, MarketFactor] | None = None,
    profiles: Sequence[Profile] = (),
    verify: bool = True,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReportData:
    """The figures of a report for ``query``, read in one pass over the ledger (see ``_scan``).

    Args:
        source: An open :class:`lowcarb.ledger.Ledger`, or a SQLAlchemy engine on a ledger
            database (SQLite or PostgreSQL; e.g. from :func:`lowcarb.ledger.open_engine`).
        query: Period and filters.
        market_factors: Contractual factors per zone for market-based Scope 2 (see
            :func:`load_market_factors`); None: only records' own instruments count.
        profiles: Efficiency profiles (size, FLOPs, latency, J per 1k, accuracy) to show beside
            the ledger's figures of each model version.
        verify: Verify the whole hash chain for the audit section (a pass over every record;
            a dashboard overview passes False).
        clock: Returns now, timezone-aware (the report's ``generated_at``).

    Raises:
        UsageError: The team or project names no record (the message lists the known ones).
        LedgerError: The database cannot be read.
    """
    engine, ledger = _parts(source)
    f = Fields("sqlite" if engine.dialect.name == "sqlite" else "postgresql")
    store = SqlLedgerStore(engine, f.dialect, display_url=ledger.url)
    with store.errors(), engine.connect() as conn:
        _check_names(conn, f, query)
        f = _fields_for(conn, f, query)
        found = scan(conn, f, query)
        scheduler = read_scheduler(conn, f.dialect, query)
    groups = found.groups
    decisions = decisions_from(found.decisions, total=found.decisions_total)
    studies = [(k[0], fig) for k, fig, _ in groups["study"]]
    tuning = tuning_from(found.trials, studies)
    tuning_truncated = found.trials_truncated
    pairs = {name: [(k, fig) for k, fig, _ in rows] for name, rows in groups.items()}
    daily, weekly = _series(query, pairs.get("day_team", []))
    zone_source = [((k[0], k[1]), fig) for k, fig in pairs.get("zone_source", [])]
    factors = market_factors if market_factors is not None else {}
    factors_source = getattr(market_factors, "source", None) if market_factors is not None else None
    if market_factors is not None and factors_source is None:
        factors_source = "given by the caller"
    s2 = scope2(zone_source, factors, factors_source=factors_source)
    by_source: dict[str | None, Figures] = defaultdict(Figures)
    for (_, src), fig in zone_source:
        by_source[src] = by_source[src] + fig
    superseded = found.superseded
    result: VerifyResult | None = ledger.verify() if verify else None
    checkpoint = ledger.checkpoint()
    audit = Audit(
        ledger=ledger.url,
        ledger_id=ledger.ledger_id,
        entries=checkpoint.count,
        head_hash=checkpoint.head_hash,
        verified=result is not None,
        verify=result.to_dict() if result is not None else None,
        proves=(result.limits or {})
        if result is not None
        else {
            "ruled_out": [],
            "not_ruled_out": ["everything: the chain was not verified for this report"],
        },
        sources=source_rows(by_source.items()),
        methodology=METHODOLOGY,
        superseded=superseded,
    )
    totals = _sum(fig for _, fig in pairs.get("kind", []))
    notes = _notes(totals, s2.market_reason, decisions, tuning_truncated, result, superseded)
    return ReportData(
        query=query,
        generated_at=clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        totals=totals,
        daily=daily,
        weekly=weekly,
        by_team=_groups((k[0], fig) for k, fig in pairs.get("team", [])),
        by_project=_groups((k[0], fig) for k, fig in pairs.get("project", [])),
        by_model=_groups((k[0], fig) for k, fig in pairs.get("model_version", [])),
        by_kind=_groups((k[0], fig) for k, fig in pairs.get("kind", [])),
        scope2=s2,
        models=_models(groups.get("model_version", []), profiles, decisions),
        scheduler=scheduler,
        tuning=tuning,
        decisions=decisions,
        audit=audit,
        notes=notes,
    )


def _notes(
    totals: Figures,
    market_reason: str | None,
    decisions: Decisions,
    tuning_truncated: bool,
    result: VerifyResult | None,
    superseded: int,
) -> tuple[str, ...]:
    notes = []
    if result is not None and not result.ok:
        notes.append(f"LEDGER VERIFICATION FAILED: {result.reason}")
    if totals.records == 0:
        notes.append("no record with energy in this period")
    share = totals.measured_share
    if share is not None and share < 1.0:
        notes.append(
            f"{(1 - share) * 100:.1f}% of the energy is estimated (power models), not measured"
        )
    if market_reason:
        notes.append(f"market-based Scope 2 not available: {market_reason}")
    if superseded:
        notes.append(f"{superseded} record(s) of the period are replaced by corrections")
    if decisions.truncated:
        notes.append(
            f"{decisions.total} decision records; the table and counts show the latest "
            f"{len(decisions.rows)}"
        )
    if tuning_truncated:
        notes.append("tuning fronts are drawn from the first trials only (too many to read)")
    return tuple(notes)
