"""Initial ledger schema: the append-only row table, its meta table and triggers.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

Query indexes are expressions over the canonical body (see ``lowcarb.ledger._schema.field_sql``):
the record id (unique), the timestamp and the team. Every expression index parses each appended
body once more, so only the filters a chargeback needs at scale are indexed; project and model
filters scan. The DDL is written out here, frozen, as a migration must not change after release.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_REFUSE = "lowcarb ledger is append-only"

_SQLITE_INDEXES = (
    "CREATE UNIQUE INDEX ix_lowcarb_ledger_id ON lowcarb_ledger (json_extract(body, '$.id'))",
    "CREATE INDEX ix_lowcarb_ledger_timestamp ON lowcarb_ledger "
    "(json_extract(body, '$.timestamp'))",
    "CREATE INDEX ix_lowcarb_ledger_team ON lowcarb_ledger "
    "(json_extract(body, '$.attribution.team'))",
)
_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER {table}_no_{op_.lower()} BEFORE {op_} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}: {op_} refused'); END"
    for table in ("lowcarb_ledger", "lowcarb_ledger_meta")
    for op_ in ("UPDATE", "DELETE")
)

_PG_INDEXES = (
    "CREATE UNIQUE INDEX ix_lowcarb_ledger_id ON lowcarb_ledger (((body::jsonb) #>> '{id}'))",
    "CREATE INDEX ix_lowcarb_ledger_timestamp ON lowcarb_ledger "
    "((((body::jsonb) #>> '{timestamp}') COLLATE \"C\"))",
    "CREATE INDEX ix_lowcarb_ledger_team ON lowcarb_ledger "
    "(((body::jsonb) #>> '{attribution,team}'))",
)
_PG_FUNCTION = f"""
CREATE FUNCTION lowcarb_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{_REFUSE}: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
_PG_TRIGGERS = tuple(
    f"CREATE TRIGGER {table}_no_{name} BEFORE {ops} ON {table} "
    f"FOR EACH {level} EXECUTE FUNCTION lowcarb_ledger_refuse_change()"
    for table in ("lowcarb_ledger", "lowcarb_ledger_meta")
    for name, ops, level in (
        ("update_delete", "UPDATE OR DELETE", "ROW"),
        ("truncate", "TRUNCATE", "STATEMENT"),
    )
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "lowcarb_ledger",
        # The primary key on seq: two records can never take the same position, so even a
        # writer that bypassed the lock could not fork the chain (the second would fail).
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
    )
    meta = op.create_table(
        "lowcarb_ledger_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    if dialect == "sqlite":
        statements: tuple[str, ...] = _SQLITE_INDEXES + _SQLITE_TRIGGERS
    else:
        statements = (*_PG_INDEXES, _PG_FUNCTION, *_PG_TRIGGERS)
    for statement in statements:
        op.execute(statement)
    op.bulk_insert(
        meta,
        [
            {"key": "format", "value": "lowcarb-ledger"},
            {"key": "ledger_id", "value": str(uuid.uuid4())},
            {"key": "created_at", "value": datetime.now(UTC).isoformat()},
        ],
    )


def downgrade() -> None:
    raise NotImplementedError("the lowcarb ledger is append-only; its schema is never downgraded")
