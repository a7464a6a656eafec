"""The ledger's SQL schema: table names, versions, and query expressions over the body.

Rows are ``(seq, prev_hash, hash, body, signature)``. The record body (canonical JSON text, see
``_canonical``) is the only copy of a record's fields. Filters and indexes use expressions over
it (``json_extract`` in SQLite, ``jsonb`` operators in PostgreSQL) instead of separate columns,
so no queryable field can be edited without breaking the record's hash. The schema itself is
created and upgraded by the Alembic migrations in ``_migrations/versions``;
:data:`KNOWN_REVISIONS` lists them oldest first.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "HEAD_REVISION",
    "KNOWN_REVISIONS",
    "LEDGER_FORMAT",
    "LEDGER_TABLE",
    "META_TABLE",
    "READABLE_REVISIONS",
    "VERSION_TABLE",
    "Dialect",
    "field_sql",
]

Dialect = Literal["sqlite", "postgresql"]

LEDGER_TABLE = "lowcarb_ledger"
META_TABLE = "lowcarb_ledger_meta"
#: Alembic's version table, named for lowcarb so it never collides with an application's own
#: ``alembic_version`` in a shared PostgreSQL database.
VERSION_TABLE = "lowcarb_ledger_version"
#: Value of the ``format`` key in the meta table: how a lowcarb ledger recognises itself.
LEDGER_FORMAT = "lowcarb-ledger"
#: Alembic revisions this lowcarb knows, oldest first; the last one is the current schema.
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004")
HEAD_REVISION = KNOWN_REVISIONS[-1]
#: Revisions whose ledger tables are the head's (later revisions only added tables beside them,
#: such as the job store's ``lowcarb_jobs`` in 0002, the dashboard's tokens and rollup in 0003,
#: the job store's claim indexes in 0004): a reader opens them without an upgrade.
READABLE_REVISIONS = ("0001", "0002", "0003", "0004")

#: Body fields that filters use, as JSON paths.
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "kind": ("kind",),
    "timestamp": ("timestamp",),
    "corrects": ("corrects",),
    "team": ("attribution", "team"),
    "project": ("attribution", "project"),
    "model": ("attribution", "model"),
}


def field_sql(dialect: Dialect, name: str) -> str:
    """SQL text extracting body field ``name`` (a key of ``FIELDS``) as text.

    The text is exactly what the migrations index, so the planners use those indexes.
    Timestamps compare in the ``C`` collation on PostgreSQL (byte order, which for the
    fixed-width UTC format is time order whatever the database's default collation).
    """
    path = FIELDS[name]
    if dialect == "sqlite":
        return f"json_extract(body, '$.{'.'.join(path)}')"
    expr = f"((body::jsonb) #>> '{{{','.join(path)}}}')"
    return f'({expr} COLLATE "C")' if name == "timestamp" else expr
