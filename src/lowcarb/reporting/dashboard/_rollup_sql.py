"""The rollup's SQL: each ledger record's keys and figures, read from its canonical body.

The expressions are those of the report's pass (``lowcarb.reporting.report``): ``json_extract``
in SQLite, ``jsonb`` operators in PostgreSQL (each body parsed once per statement), measured
energy summed from the components a hardware counter read, estimated energy the rest. Records are
added (``:sign`` 1) or taken out (-1, the originals a correction replaces) grouped by key, with
an upsert (``ON CONFLICT ... DO UPDATE``), which both databases understand.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "COUNTS",
    "KEYS",
    "LEDGER_TABLE",
    "ROLLUP_TABLE",
    "STATE_TABLE",
    "SUMS",
    "SUPERSEDED_TABLE",
    "Dialect",
    "raw_field",
    "upsert_sql",
]

Dialect = Literal["sqlite", "postgresql"]
LEDGER_TABLE = "lowcarb_ledger"
ROLLUP_TABLE = "lowcarb_rollup_daily"
STATE_TABLE = "lowcarb_rollup_state"
SUPERSEDED_TABLE = "lowcarb_rollup_superseded"
#: Key columns, in primary-key order (ledger migration 0003). ``''`` stands for "none".
KEYS = ("day", "team", "project", "model", "model_version", "kind", "role", "zone", "source")
#: Summed columns: counts, then sums.
COUNTS = ("records", "footprint_records", "market_records")
SUMS = (
    "energy_kwh",
    "co2e_g",
    "measured_kwh",
    "estimated_kwh",
    "market_energy_kwh",
    "market_co2e_g",
    "inferences",
)
_J_PER_KWH = 3_600_000.0


def _path(dialect: Dialect, *path: str) -> str:
    if dialect == "sqlite":
        return f"json_extract(body, '$.{'.'.join(path)}')"
    return f"(b #>> '{{{','.join(path)}}}')"


def _num(dialect: Dialect, *path: str) -> str:
    expr = _path(dialect, *path)
    return expr if dialect == "sqlite" else f"({expr})::float8"


def _free_num(dialect: Dialect, *path: str) -> str:
    """A metadata number: NULL unless it is a JSON number (metadata is free-form)."""
    if dialect == "sqlite":
        where = f"'$.{'.'.join(path)}'"
        return (
            f"(CASE WHEN json_type(body, {where}) IN ('real', 'integer') "
            f"THEN json_extract(body, {where}) END)"
        )
    node = f"(b #> '{{{','.join(path)}}}')"
    return f"(CASE WHEN jsonb_typeof({node}) = 'number' THEN ({node} #>> '{{}}')::float8 END)"


def _measured_j(dialect: Dialect) -> str:
    if dialect == "sqlite":
        return (
            "(SELECT total(json_extract(e.value, '$.energy_j')) FROM "
            "json_each(body, '$.footprint.measurement.components') e "
            "WHERE json_extract(e.value, '$.method') = 'measured')"
        )
    return (
        "(SELECT coalesce(sum((e ->> 'energy_j')::float8), 0) FROM "
        "jsonb_array_elements(CASE WHEN jsonb_typeof(b #> '{footprint,measurement,components}')"
        " = 'array' THEN b #> '{footprint,measurement,components}' ELSE '[]'::jsonb END) e "
        "WHERE e ->> 'method' = 'measured')"
    )


def raw_field(dialect: Dialect, *path: str) -> str:
    """A body field of a raw ledger row (for WHERE clauses: the expressions the ledger indexes)."""
    if dialect == "sqlite":
        return f"json_extract(body, '$.{'.'.join(path)}')"
    return f"((body::jsonb) #>> '{{{','.join(path)}}}')"


def _per_record(dialect: Dialect, where: str) -> str:
    """One row per ledger record matching ``where``: its keys and figures."""
    kind = _path(dialect, "kind")
    stage = _path(dialect, "attribution", "stage")
    energy = _num(dialect, "footprint", "energy_kwh")
    measured = f"{_measured_j(dialect)} * {_num(dialect, 'footprint', 'pue')} / {_J_PER_KWH}"

    def key(*path: str) -> str:
        return f"coalesce({_path(dialect, *path)}, '')"

    columns = {
        "day": f"substr({_path(dialect, 'timestamp')}, 1, 10)",
        "team": key("attribution", "team"),
        "project": key("attribution", "project"),
        "model": key("attribution", "model"),
        "model_version": key("attribution", "model_version"),
        "kind": kind,
        # As the report counts it (its ``_scan._role``): what a version's training and
        # inference figures sum.
        "role": (
            f"CASE WHEN {kind} IN ('run', 'correction') AND ({stage} IS NULL OR {stage} IN "
            f"('training', 'train')) THEN 'training' WHEN {kind} = 'inference' "
            "THEN 'inference' ELSE 'other' END"
        ),
        "zone": key("footprint", "intensity", "zone"),
        "source": key("footprint", "intensity", "source"),
        "energy_kwh": energy,
        "co2e_g": _num(dialect, "footprint", "co2e_g"),
        "market_co2e_g": _num(dialect, "footprint", "market", "co2e_g"),
        "measured_kwh": measured,
        "inferences": (
            f"CASE WHEN {kind} = 'inference' AND {energy} IS NOT NULL "
            f"THEN {_free_num(dialect, 'metadata', 'inferences')} END"
        ),
    }
    select = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    if dialect == "sqlite":
        source = f"{LEDGER_TABLE} WHERE {where}"
    else:  # each body parsed once (OFFSET 0 keeps the planner from inlining the cast)
        source = (
            f"(SELECT seq, body::jsonb AS b FROM {LEDGER_TABLE} WHERE {where} OFFSET 0) AS rows_"
        )
    return f"SELECT {select} FROM {source}"


def upsert_sql(dialect: Dialect, where: str) -> str:
    """Add (``:sign`` 1) or take out (-1) the records matching ``where``, grouped by key."""

    def total(expr: str) -> str:
        return f"total({expr})" if dialect == "sqlite" else f"coalesce(sum({expr}), 0)"

    # Estimated energy is the rest of each record's energy after its measured part (the
    # ledger allows only those two methods), summed in the same order as the report does.
    rest = "(energy_kwh - measured_kwh)"
    aggregates = {
        "records": "count(*)",
        "footprint_records": "count(energy_kwh)",
        "market_records": "count(market_co2e_g)",
        "energy_kwh": total("energy_kwh"),
        "co2e_g": total("co2e_g"),
        "measured_kwh": total("measured_kwh"),
        "estimated_kwh": total(f"CASE WHEN {rest} > 0 THEN {rest} ELSE 0 END"),
        "market_energy_kwh": total(
            "CASE WHEN market_co2e_g IS NOT NULL THEN energy_kwh ELSE 0 END"
        ),
        "market_co2e_g": total("market_co2e_g"),
        "inferences": total("inferences"),
    }
    keys = ", ".join(KEYS)
    names = ", ".join(aggregates)
    values = ", ".join(f":sign * {expr}" for expr in aggregates.values())
    updates = ", ".join(f"{n} = {ROLLUP_TABLE}.{n} + excluded.{n}" for n in aggregates)
    # MATERIALIZED: each record's fields (and its component walk) are read once, not once per
    # aggregate that uses them (SQLite would otherwise flatten the subquery into them).
    return (
        f"WITH r AS MATERIALIZED ({_per_record(dialect, where)}) "
        f"INSERT INTO {ROLLUP_TABLE} ({keys}, {names}) "
        f"SELECT {keys}, {values} FROM r "
        # SQLite needs a WHERE before ON CONFLICT after a SELECT (a parsing ambiguity).
        f"WHERE true GROUP BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )
