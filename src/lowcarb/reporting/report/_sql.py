"""The report's SQL: one pass over the period's records, each record's fields read by the database.

The ledger keeps each record as canonical JSON text (``lowcarb.ledger._canonical``); queries
read fields with ``json_extract`` (SQLite) or ``jsonb`` operators (PostgreSQL). The period and
team filters are written exactly as the ledger's migration 0001 indexes them (``timestamp``,
``attribution.team``), so the planners use those indexes; project, model and kind filters scan
the period's rows.

:func:`records_sql` reads each record of the period once (one JSON parse per record) into one
compact row: its keys, figures, and what a decision decided or a trial scored; the caller sums
the rows every way a report shows in one pass, so a report costs one pass over the period, not
one per table (nor one sort per grouping). Records replaced by a correction are left out and the
correction counted instead, as :meth:`lowcarb.ledger.Ledger.totals` does (see ``_scan`` for
how the replaced ids are found).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "DECISION_KINDS",
    "GROUPINGS",
    "KEYS",
    "LEDGER_TABLE",
    "RAW_KEY_PATHS",
    "Dialect",
    "Fields",
    "among_sql",
    "filters",
    "index_choice_sql",
    "period_params",
    "records_sql",
    "superseded_sql",
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
            comps = "$.footprint.measurement.components"

            def part(i: int) -> str:
                return (
                    f"(CASE WHEN json_extract(body, '{comps}[{i}].method') = '{method}' THEN "
                    f"coalesce(json_extract(body, '{comps}[{i}].energy_j'), 0.0) ELSE 0.0 END)"
                )

            walk = (
                "(SELECT total(json_extract(e.value, '$.energy_j')) FROM "
                f"json_each(body, '{comps}') e WHERE json_extract(e.value, '$.method') = "
                f"'{method}')"
            )
            # Records have one to a few components: read the first two by index (the body is
            # parsed once per row, so that is cheap) and walk only longer lists. The same sum:
            # 0.0 + e0 + e1 in order, which total() gives for two terms in every SQLite.
            return (
                f"(CASE json_array_length(body, '{comps}') WHEN 0 THEN 0.0 "
                f"WHEN 1 THEN 0.0 + {part(0)} WHEN 2 THEN 0.0 + {part(0)} + {part(1)} "
                f"ELSE {walk} END)"
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


def superseded_sql(f: Fields, *, after: Literal["since", "until"] = "since") -> str:
    """The ids of the records corrections appended at or after ``:since`` (or ``:until``)
    replace.

    A correction is appended after the record it corrects, so only corrections appended at or
    after ``since`` can replace a record of the period: the scan uses the timestamp index.
    """
    corrects = f.indexed("corrects")
    return (
        f"SELECT {corrects} FROM {LEDGER_TABLE} "
        f"WHERE {f.indexed('timestamp')} >= :{after} AND {corrects} IS NOT NULL"
    )


def among_sql(f: Fields, *, team: str | None, project: str | None) -> tuple[str, dict[str, Any]]:
    """How many records of the period (and filters) have an id in ``:ids`` (a JSON array);
    the ledger's id index answers it."""
    where, params = filters(f, team=team, project=project)
    ids = (
        "(SELECT value FROM json_each(:ids))"
        if f.dialect == "sqlite"
        else "(SELECT jsonb_array_elements_text(CAST(:ids AS jsonb)))"
    )
    sql = f"SELECT count(*) FROM {LEDGER_TABLE} WHERE {where} AND {f.indexed('id')} IN {ids}"
    return sql, params


def _source_rows(f: Fields, where: str) -> str:
    """FROM clause over the period's raw rows (PostgreSQL: each body parsed once to ``b``)."""
    if f.dialect == "sqlite":
        return f"{LEDGER_TABLE} WHERE {where}"
    # OFFSET 0 keeps the planner from inlining the cast into every reference of ``b``.
    return (
        f"(SELECT seq, body::jsonb AS b FROM {LEDGER_TABLE} WHERE {where} OFFSET 0) AS rows_ "
        "WHERE true"
    )


#: The fields :func:`records_sql` packs into a record's key, after its UTC day: the record's
#: role and study follow from them (see ``_scan``).
RAW_KEY_PATHS: tuple[tuple[str, ...], ...] = (
    ("attribution", "team"),
    ("attribution", "project"),
    ("attribution", "model"),
    ("attribution", "model_version"),
    ("kind",),
    ("attribution", "stage"),
    ("footprint", "intensity", "zone"),
    ("footprint", "intensity", "source"),
    ("metadata", "study"),
)
#: The key columns of a record's figures (day first), as the groupings name them.
KEYS = (
    "day",
    "team",
    "project",
    "model",
    "model_version",
    "kind",
    "role",
    "zone",
    "source",
    "study",
)
#: The groupings a report shows: name -> its key columns (of :data:`KEYS`). Coarser figures
#: (the total, days, models, zones, sources) are sums of these rows, added up by the caller.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "day_team": ("day", "team"),
    "team": ("team",),
    "project": ("project",),
    "kind": ("kind",),
    "model_version": ("model", "model_version", "role"),
    "zone_source": ("zone", "source"),
    "study": ("study",),
}
#: Record kinds that hold decisions.
DECISION_KINDS = ("decision", "gate", "budget")


def _array(f: Fields, items: list[str]) -> str:
    """A JSON array of ``items`` as text (one value per record instead of ten columns)."""
    if f.dialect == "sqlite":
        return f"json_array({', '.join(items)})"
    return f"(json_build_array({', '.join(items)})::text)"


def records_sql(
    f: Fields, *, team: str | None, project: str | None, newest_first: bool = False
) -> tuple[str, dict[str, Any]]:
    """One statement: a row per record of the period, all a report needs of it.

    Columns: ``keys`` (the UTC day, then the :data:`RAW_KEY_PATHS` values as a JSON array: one
    string to group by), ``id``, ``corrects`` (of a correction: the id it replaces),
    ``energy_kwh``, ``co2e_g``,
    ``market_co2e_g``, ``measured_kwh`` (components a hardware counter read, x PUE), and
    ``inferences`` (of an inference record), ``seq``, and ``detail``: a JSON array of what a
    decision record decided (``ts, id, kind, team, project, model, version, stage, metadata``)
    or of a trial's point (``study, trial, metric``); NULL for other records.

    Parameters: ``since``/``until`` from :func:`period_params`. With ``newest_first`` the rows
    come in descending timestamp order (SQLite reads its timestamp index backwards), so each
    correction comes before the record it replaces.

    Why rows and not ``GROUP BY``: grouping the period's records by a few keys is a sort of
    all of them per grouping in SQLite; the caller sums them in one pass (a dictionary), and the
    decisions and tuning points come from the same pass. The database still reads each record's
    fields (one JSON parse per record); nothing keeps the records in memory.
    """
    where, params = filters(f, team=team, project=project)
    kind, stage = f.text("kind"), f.text("attribution", "stage")
    energy = f.num("footprint", "energy_kwh")
    day = f"substr({f.text('timestamp')}, 1, 10)"
    if f.dialect == "sqlite":  # one call reads every path: the body is walked once
        paths = ", ".join(f"'$.{'.'.join(p)}'" for p in RAW_KEY_PATHS)
        packed = f"{day} || json_extract(body, {paths})"
    else:
        packed = f"{day} || {_array(f, [f.text(*p) for p in RAW_KEY_PATHS])}"
    metadata = (
        "json(json_extract(body, '$.metadata'))" if f.dialect == "sqlite" else "(b -> 'metadata')"
    )
    decision = _array(
        f,
        [
            f.text("timestamp"),
            f.text("id"),
            kind,
            f.text("attribution", "team"),
            f.text("attribution", "project"),
            f.text("attribution", "model"),
            f.text("attribution", "model_version"),
            stage,
            metadata,
        ],
    )
    metric = (
        f"coalesce({f.free_num('metadata', 'result', 'metric')}, "
        f"{f.free_num('metadata', 'metric')})"
    )
    trial = _array(f, [f.text("metadata", "study"), f.free_num("metadata", "trial"), metric])
    decision_kinds = ", ".join(f"'{k}'" for k in DECISION_KINDS)
    columns = {
        "keys": packed,
        "id": f.text("id"),
        "corrects": f"CASE WHEN {kind} = 'correction' THEN {f.text('corrects')} END",
        "energy_kwh": energy,
        "co2e_g": f.num("footprint", "co2e_g"),
        "market_co2e_g": f.num("footprint", "market", "co2e_g"),
        "measured_kwh": (
            f"CASE WHEN {energy} IS NOT NULL THEN "
            f"{f.component_j('measured')} * {f.num('footprint', 'pue')} / {_J_PER_KWH} END"
        ),
        "inferences": (
            f"CASE WHEN {kind} = 'inference' THEN {f.free_num('metadata', 'inferences')} END"
        ),
        "seq": "seq",
        "detail": (
            f"CASE WHEN {kind} IN ({decision_kinds}) THEN {decision} "
            f"WHEN {kind} = 'trial' THEN {trial} END"
        ),
    }
    select = ",\n  ".join(f"{expr} AS {name}" for name, expr in columns.items())
    sql = f"SELECT\n  {select}\nFROM {_source_rows(f, where)}"
    if newest_first:
        sql += f"\nORDER BY {f.indexed('timestamp')} DESC, seq DESC"
    return sql, params
