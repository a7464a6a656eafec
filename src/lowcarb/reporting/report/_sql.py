"""The report's SQL: one pass over the period's records, every grouping computed by the database.

The ledger keeps each record as canonical JSON text (``lowcarb.ledger._canonical``); queries
read fields with ``json_extract`` (SQLite) or ``jsonb`` operators (PostgreSQL). The period and
team filters are written exactly as the ledger's migration 0001 indexes them (``timestamp``,
``attribution.team``), so the planners use those indexes; project, model and kind filters scan
the period's rows.

:func:`rollup_sql` reads each record of the period once into a materialised CTE (one JSON parse
per record) and groups it several ways in one statement (``UNION ALL`` of ``GROUP BY`` s), so a
report costs one pass over the period, not one per table. Records replaced by a correction are
left out and the correction counted instead, as :meth:`lowcarb.ledger.Ledger.totals` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "AGGREGATES",
    "LEDGER_TABLE",
    "Dialect",
    "Fields",
    "detail_sql",
    "filters",
    "index_choice_sql",
    "period_params",
    "rollup_sql",
]

Dialect = Literal["sqlite", "postgresql"]

#: The ledger's row table (``lowcarb.ledger`` migration 0001).
LEDGER_TABLE = "lowcarb_ledger"
#: Facility joules per kWh.
_J_PER_KWH = 3_600_000.0


@dataclass(frozen=True, slots=True)
class Fields:
    """SQL text for body fields in one dialect.

    ``indexed(name)`` is the exact expression the ledger's migration indexes (for WHERE);
    ``text``/``num`` read a field inside the report's CTE, where PostgreSQL rows are already
    parsed once into a ``jsonb`` column ``b``.
    """

    dialect: Dialect
    #: SQLite: look records up by the team index rather than the timestamp index (see
    #: :func:`filters`). PostgreSQL's planner chooses from its statistics.
    team_first: bool = False

    def indexed(self, name: Literal["id", "timestamp", "team", "corrects", "kind"]) -> str:
        """The WHERE expression for ``name``, as the migrations write it."""
        path = {
            "id": ("id",),
            "timestamp": ("timestamp",),
            "team": ("attribution", "team"),
            "corrects": ("corrects",),
            "kind": ("kind",),
        }[name]
        if self.dialect == "sqlite":
            return f"json_extract(body, '$.{'.'.join(path)}')"
        expr = f"((body::jsonb) #>> '{{{','.join(path)}}}')"
        return f'({expr} COLLATE "C")' if name == "timestamp" else expr

    def raw_text(self, *path: str) -> str:
        """A field as text, read from a raw ledger row (outside the report's CTE)."""
        if self.dialect == "sqlite":
            return f"json_extract(body, '$.{'.'.join(path)}')"
        return f"((body::jsonb) #>> '{{{','.join(path)}}}')"

    def text(self, *path: str) -> str:
        """A field as text (NULL when absent or JSON null)."""
        if self.dialect == "sqlite":
            return f"json_extract(body, '$.{'.'.join(path)}')"
        return f"(b #>> '{{{','.join(path)}}}')"

    def num(self, *path: str) -> str:
        """A numeric field the ledger's canonical format guarantees (a JSON number or null)."""
        if self.dialect == "sqlite":
            return f"json_extract(body, '$.{'.'.join(path)}')"
        return f"((b #>> '{{{','.join(path)}}}')::float8)"

    def free_num(self, *path: str) -> str:
        """A numeric field of free metadata: NULL unless it is a JSON number."""
        if self.dialect == "sqlite":
            where = f"'$.{'.'.join(path)}'"
            return (
                f"(CASE WHEN json_type(body, {where}) IN ('real', 'integer') "
                f"THEN json_extract(body, {where}) END)"
            )
        node = f"(b #> '{{{','.join(path)}}}')"
        return f"(CASE WHEN jsonb_typeof({node}) = 'number' THEN ({node} #>> '{{}}')::float8 END)"

    def component_j(self, method: str) -> str:
        """Device joules of the record's components read by ``method``."""
        if self.dialect == "sqlite":
            return (
                "(SELECT total(json_extract(e.value, '$.energy_j')) FROM "
                "json_each(body, '$.footprint.measurement.components') e "
                f"WHERE json_extract(e.value, '$.method') = '{method}')"
            )
        return (
            "(SELECT coalesce(sum((e ->> 'energy_j')::float8), 0) FROM "
            "jsonb_array_elements(CASE WHEN jsonb_typeof(b #> '{footprint,measurement,components}')"
            " = 'array' THEN b #> '{footprint,measurement,components}' ELSE '[]'::jsonb END) e "
            f"WHERE e ->> 'method' = '{method}')"
        )

    def total(self, expr: str) -> str:
        """A sum that is 0.0, not NULL, over no rows."""
        return f"total({expr})" if self.dialect == "sqlite" else f"coalesce(sum({expr}), 0)"


def filters(f: Fields, *, team: str | None, project: str | None) -> tuple[str, dict[str, Any]]:
    """WHERE conditions on the raw rows for the period (``:since``, ``:until``) and filters.

    Returns the SQL text and the parameters other than ``since``/``until``.
    """
    ts, by_team = f.indexed("timestamp"), f.indexed("team")
    if f.dialect == "sqlite" and team is not None:
        # Without statistics SQLite guesses which index to use, and took the team's (all of its
        # history) for a month of a 1M-record ledger: 4x slower. A unary + keeps an index out.
        ts, by_team = (f"+{ts}", by_team) if f.team_first else (ts, f"+{by_team}")
    conds = [f"{ts} >= :since", f"{ts} < :until"]
    params: dict[str, Any] = {}
    if team is not None:
        conds.append(f"{by_team} = :team")
        params["team"] = team
    if project is not None:
        conds.append(f"{f.raw_text('attribution', 'project')} = :project")
        params["project"] = project
    return " AND ".join(conds), params


def index_choice_sql(f: Fields) -> tuple[str, str]:
    """Two counts the indexes answer alone (no record is read): the team's records in the whole
    ledger (``:team``) and the period's records of every team (``:since``, ``:until``)."""
    ts = f.indexed("timestamp")
    return (
        f"SELECT count(*) FROM {LEDGER_TABLE} WHERE {f.indexed('team')} = :team",
        f"SELECT count(*) FROM {LEDGER_TABLE} WHERE {ts} >= :since AND {ts} < :until",
    )


def period_params(since: datetime, until: datetime) -> dict[str, str]:
    """``since``/``until`` as the ledger writes timestamps (fixed-width UTC text, so text order
    is time order)."""
    return {
        name: value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for name, value in (("since", since), ("until", until))
    }


def _not_superseded(f: Fields) -> str:
    """Records no correction replaces (a one-time scan of corrections, not one per row).

    A correction is appended after the record it corrects, so only corrections appended at or
    after ``since`` can replace a record of the period: the scan uses the timestamp index.
    """
    corrects = f.indexed("corrects")
    return (
        f"{f.text('id')} NOT IN (SELECT {corrects} FROM {LEDGER_TABLE} "
        f"WHERE {f.indexed('timestamp')} >= :since AND {corrects} IS NOT NULL)"
    )


def _source_rows(f: Fields, where: str) -> str:
    """FROM clause over the period's raw rows (PostgreSQL: each body parsed once to ``b``)."""
    if f.dialect == "sqlite":
        return f"{LEDGER_TABLE} WHERE {where}"
    # OFFSET 0 keeps the planner from inlining the cast into every reference of ``b``.
    return (
        f"(SELECT seq, body::jsonb AS b FROM {LEDGER_TABLE} WHERE {where} OFFSET 0) AS rows_ "
        "WHERE true"
    )


#: The aggregate columns every rollup row carries, in order (see :func:`rollup_sql`).
AGGREGATES = (
    "records",
    "energy_kwh",
    "co2e_g",
    "measured_kwh",
    "estimated_kwh",
    "market_records",
    "market_energy_kwh",
    "market_co2e_g",
    "inferences",
)

#: Grouping -> its key columns (up to three; missing ones are NULL). Coarser groupings (the
#: total, days, models, zones, sources) are sums of these few rows, added up by the caller:
#: each grouping here costs the database one sort of the period's records.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "day_team": ("day", "team"),
    "team": ("team",),
    "project": ("project",),
    "kind": ("kind",),
    "model_version": ("model", "model_version", "role"),
    "zone_source": ("zone", "source"),
    "study": ("study",),
    "superseded": (),
}


def rollup_sql(f: Fields, *, team: str | None, project: str | None) -> tuple[str, dict[str, Any]]:
    """One statement: the period's records grouped every way a report shows.

    Rows: ``(grouping, k1, k2, k3, <AGGREGATES>)``; ``grouping`` is a key of ``GROUPINGS``.
    The ``superseded`` row counts the period's records a correction replaces (its other
    aggregates are zero). Parameters ``since``/``until`` come from :func:`period_params`.
    """
    where, params = filters(f, team=team, project=project)
    kind, stage = f.text("kind"), f.text("attribution", "stage")
    energy = f.num("footprint", "energy_kwh")
    pue = f.num("footprint", "pue")
    columns = {
        "day": f"substr({f.text('timestamp')}, 1, 10)",
        "team": f.text("attribution", "team"),
        "project": f.text("attribution", "project"),
        "model": f.text("attribution", "model"),
        "model_version": f.text("attribution", "model_version"),
        "kind": kind,
        "role": (
            f"CASE WHEN {kind} IN ('run', 'correction') AND ({stage} IS NULL OR {stage} IN "
            f"('training', 'train')) THEN 'training' WHEN {kind} = 'inference' "
            "THEN 'inference' ELSE 'other' END"
        ),
        "zone": f.text("footprint", "intensity", "zone"),
        "source": f.text("footprint", "intensity", "source"),
        "study": f"CASE WHEN {kind} = 'trial' THEN {f.text('metadata', 'study')} END",
        "energy_kwh": energy,
        "co2e_g": f.num("footprint", "co2e_g"),
        "market_co2e_g": f.num("footprint", "market", "co2e_g"),
        "measured_kwh": f"{f.component_j('measured')} * {pue} / {_J_PER_KWH}",
        "inferences": (
            f"CASE WHEN {kind} = 'inference' THEN {f.free_num('metadata', 'inferences')} END"
        ),
        "superseded": f"CASE WHEN {_not_superseded(f)} THEN 0 ELSE 1 END",
    }
    select = ",\n    ".join(f"{expr} AS {name}" for name, expr in columns.items())
    # Components are measured or estimated (the ledger refuses other methods), so estimated
    # energy is the rest: one pass over the components instead of two. The same sum in the same
    # order as when the record was written, so an all-measured record leaves exactly 0.
    rest = "energy_kwh - measured_kwh"
    cte = (
        f"WITH r AS MATERIALIZED (\n  SELECT\n    {select}\n"
        f"  FROM {_source_rows(f, where)} AND {energy} IS NOT NULL\n)"
    )
    t = f.total
    aggs = ", ".join(
        f"{expr} AS {name}"
        for name, expr in zip(
            AGGREGATES,
            (
                "count(*)",
                t("energy_kwh"),
                t("co2e_g"),
                t("measured_kwh"),
                t(f"CASE WHEN {rest} > 0 THEN {rest} ELSE 0 END"),
                "count(market_co2e_g)",
                t("CASE WHEN market_co2e_g IS NOT NULL THEN energy_kwh ELSE 0 END"),
                t("market_co2e_g"),
                t("inferences"),
            ),
            strict=True,
        )
    )
    parts = []
    for name, keys in GROUPINGS.items():
        if name == "superseded":
            zeros = ", ".join(f"0 AS {name}" for name in AGGREGATES[1:])
            parts.append(
                "SELECT 'superseded' AS grp, NULL AS k1, NULL AS k2, NULL AS k3, "
                f"count(*) AS records, {zeros} FROM r WHERE superseded = 1"
            )
            continue
        cols = [f"{k} AS k{i}" for i, k in enumerate([*keys, *(["NULL"] * (3 - len(keys)))], 1)]
        where_ = " WHERE superseded = 0"
        if name == "study":
            where_ += " AND kind = 'trial'"
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        parts.append(f"SELECT '{name}' AS grp, {', '.join(cols)}, {aggs} FROM r{where_}{group}")
    return cte + "\n" + "\nUNION ALL ".join(parts), params


def detail_sql(
    f: Fields,
    *,
    team: str | None,
    project: str | None,
    kinds: tuple[str, ...],
    columns: dict[str, str],
    newest_first: bool = False,
    limit: int,
    extra_where: str = "",
) -> tuple[str, dict[str, Any]]:
    """Rows of the period's records of ``kinds`` (not superseded), with ``columns`` (name ->
    expression from :class:`Fields`), plus ``total`` (how many matched, before ``limit``)."""
    where, params = filters(f, team=team, project=project)
    kind_list = ", ".join(f"'{k}'" for k in kinds)
    select = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    order = "DESC" if newest_first else "ASC"
    more = f" AND {extra_where}" if extra_where else ""
    sql = (
        f"SELECT {select}, count(*) OVER () AS total FROM {_source_rows(f, where)} "
        f"AND {f.text('kind')} IN ({kind_list}) AND {_not_superseded(f)}{more} "
        f"ORDER BY seq {order} LIMIT :limit"
    )
    params["limit"] = limit
    return sql, params
