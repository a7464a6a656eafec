"""Alembic environment for the ledger: always online, on the connection lowcarb hands over.

lowcarb runs the migrations itself (``_migrate.upgrade``) inside the transaction that holds the
ledger's write lock, so concurrent first opens cannot both create the schema.
"""

from __future__ import annotations

from alembic import context

from lowcarb.ledger._schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError(
        "the lowcarb ledger migrations run through lowcarb.ledger.open_ledger(), "
        "not the alembic command line"
    )
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
