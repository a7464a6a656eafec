"""Opening a store: recognise the database, then create or upgrade the schema under the lock.

A database is ``fresh`` (no ledger tables: created when the caller may create), ``ours`` (a
lowcarb ledger at some schema revision), ``foreign`` (a SQLite file holding other tables, or
tables that say another format) or ``damaged`` (some ledger tables missing). Only ``fresh`` and
``ours`` are ever written to.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from lowcarb.errors import LedgerCorruptError, LedgerError, LedgerSchemaError
from lowcarb.ledger._engines import (
    describe,
    is_read_only,
    postgres_engine,
    preflight_sqlite,
    resolve_url,
    sqlite_engine,
    sqlite_path,
)
from lowcarb.ledger._schema import (
    HEAD_REVISION,
    KNOWN_REVISIONS,
    LEDGER_FORMAT,
    LEDGER_TABLE,
    META_TABLE,
    READABLE_REVISIONS,
    VERSION_TABLE,
)
from lowcarb.ledger._sql import SqlLedgerStore

__all__ = ["ensure_schema", "open_engine", "open_store"]

log = logging.getLogger(__name__)


def _state(store: SqlLedgerStore, conn: Connection) -> tuple[str, str | None, dict[str, str]]:
    """``(state, revision, meta)``; state is ``fresh``, ``ours``, ``foreign`` or ``damaged``."""
    if store.dialect == "sqlite":
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
        )
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    names = {str(r[0]) for r in conn.exec_driver_sql(sql)}
    ours = {LEDGER_TABLE, META_TABLE, VERSION_TABLE}
    present = names & ours
    if not present:
        # A SQLite file is the ledger; a PostgreSQL database may be shared with others.
        return ("foreign" if names and store.dialect == "sqlite" else "fresh"), None, {}
    if present != ours:
        return "damaged", None, {}
    rows = conn.exec_driver_sql(f"SELECT key, value FROM {META_TABLE}")
    meta = {str(k): str(v) for k, v in rows}
    if meta.get("format") != LEDGER_FORMAT:
        return "foreign", None, meta
    revs = [str(r[0]) for r in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")]
    return ("ours", revs[0], meta) if len(revs) == 1 else ("damaged", None, meta)


def _raise_for(store: SqlLedgerStore, state: str, rev: str | None, *, create: bool) -> None:
    where = store.display_url
    if state == "foreign":
        raise LedgerCorruptError(
            f"{where} is not a lowcarb ledger (it holds other tables); it was left untouched: "
            "point --ledger or LOWCARB_LEDGER elsewhere"
        )
    if state == "damaged":
        raise LedgerCorruptError(
            f"{where} is a damaged lowcarb ledger (tables or version missing); it was left "
            "untouched: restore it from a backup"
        )
    if state == "fresh" and not create:
        raise LedgerError(f"no ledger at {where}; the first writer creates it")
    if rev is not None and rev not in KNOWN_REVISIONS:
        raise LedgerSchemaError(
            f"ledger {where} has schema revision {rev!r}, newer than this lowcarb understands "
            f"({HEAD_REVISION!r}); upgrade lowcarb"
        )
    if state == "ours" and rev not in READABLE_REVISIONS and not create:
        raise LedgerSchemaError(
            f"ledger {where} has schema revision {rev!r}; open it once as a writer to upgrade "
            f"it to {HEAD_REVISION!r}"
        )


def ensure_schema(store: SqlLedgerStore, *, create: bool) -> dict[str, str]:
    """Check (and create or upgrade, under the write lock) the schema; return the meta table.

    Raises:
        LedgerCorruptError: Not a lowcarb ledger, or its tables are damaged.
        LedgerSchemaError: Written by a newer lowcarb.
        LedgerError: No ledger there and ``create`` is false.
    """
    with store.errors():
        with store.engine.connect() as conn, conn.begin():
            state, rev, meta = _state(store, conn)
        if state == "ours" and (rev == HEAD_REVISION or (not create and rev in READABLE_REVISIONS)):
            return meta
        _raise_for(store, state, rev, create=create)
        with store.locked() as conn:
            state, rev, meta = _state(store, conn)  # again: another process may have won
            _raise_for(store, state, rev, create=create)
            if state != "ours" or rev != HEAD_REVISION:
                from lowcarb.ledger._migrate import upgrade

                log.info("ledger %s: schema %s -> %s", store.display_url, rev, HEAD_REVISION)
                upgrade(conn)
                state, rev, meta = _state(store, conn)
        if store.sqlite_file and not store.read_only:
            _switch_to_wal(store)
    return meta


def _switch_to_wal(store: SqlLedgerStore, *, timeout_s: float = 30.0) -> None:
    """Put a new SQLite ledger in WAL mode (persistent: the first process to succeed does it).

    Outside any transaction (SQLite refuses the switch inside one), on the driver connection. The
    switch needs the database to itself, and SQLite answers "database is locked" at once, without
    its busy handler, while another process holds it (several ``lowcarb run`` creating one ledger
    at the same moment): so it is retried until another process has switched it or ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    delay_s = 0.005
    while True:
        raw: Any = store.engine.raw_connection()
        try:
            dbc = raw.driver_connection
            mode = dbc.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                dbc.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
        finally:
            raw.close()
        time.sleep(delay_s)
        delay_s = min(delay_s * 2, 0.2)


def open_store(
    url: str | None,
    *,
    environ: Mapping[str, str],
    create: bool,
    busy_timeout_s: float = 30.0,
    connect_timeout_s: float = 3.0,
    read_only: bool | None = None,
) -> tuple[SqlLedgerStore, dict[str, str]]:
    """Open (and if needed create) the store at ``url``; return it with its meta table.

    ``read_only`` (SQLite files): None decides from the file's permissions; True forces it.
    """
    parsed, dialect = resolve_url(url, environ)
    ro = False
    if dialect == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            preflight_sqlite(path, create=create)
            ro = is_read_only(path) if read_only is None else read_only and path.exists()
        engine = sqlite_engine(parsed, path, busy_timeout_s=busy_timeout_s, read_only=ro)
    else:
        engine = postgres_engine(parsed, connect_timeout_s=connect_timeout_s)
    store = SqlLedgerStore(
        engine,
        dialect,
        display_url=describe(parsed),
        busy_timeout_s=busy_timeout_s,
        read_only=ro,
    )
    try:
        meta = ensure_schema(store, create=create and not ro)
    except BaseException:
        store.close()
        raise
    return store, meta


def open_engine(
    url: str | None = None,
    *,
    environ: Mapping[str, str],
    create: bool = True,
    busy_timeout_s: float = 30.0,
    connect_timeout_s: float = 3.0,
) -> Engine:
    """A SQLAlchemy engine on the ledger database at ``url``, for tables kept beside the ledger.

    The database is opened exactly as :func:`lowcarb.ledger.open_ledger` opens it (the same URL
    resolution, SQLite look-before-touching, pragmas and read-only handling, PostgreSQL
    timeouts) and its schema is created or upgraded to the head revision first (when
    ``create``), so every table of the migrations exists. On SQLite, lowcarb begins transactions
    itself: ``DEFERRED``, or what the connection's ``lowcarb_begin`` execution option says
    (``"IMMEDIATE"`` takes the write lock before the first read). The caller disposes of it.

    Raises:
        LedgerError: As :func:`lowcarb.ledger.open_ledger` (not a ledger, unreachable, newer).
    """
    store, _meta = open_store(
        url,
        environ=environ,
        create=create,
        busy_timeout_s=busy_timeout_s,
        connect_timeout_s=connect_timeout_s,
    )
    return store.engine
