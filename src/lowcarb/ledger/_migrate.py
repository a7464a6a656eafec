"""Schema versioning with Alembic, run programmatically.

Why Alembic: it is the migration tool of SQLAlchemy (which the stores already use), it runs from
code on a connection we hand it (no ``alembic.ini`` or command line needed by users), and one
revision file serves both SQLite and PostgreSQL, branching on the dialect only where the DDL
differs (expression indexes, triggers). lowcarb calls :func:`upgrade` inside the transaction
that holds the ledger's write lock, so two processes opening a fresh ledger at once cannot both
create it. Alembic is imported only when a schema is created or upgraded, keeping ``lowcarb``
start-up fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "script_revisions", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the schema on ``connection`` (inside the caller's transaction) to ``revision``."""
    from alembic import command

    command.upgrade(_config(connection), revision)


def script_revisions() -> list[str]:
    """Revision ids of the migration files, oldest first (tests compare with KNOWN_REVISIONS)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]
