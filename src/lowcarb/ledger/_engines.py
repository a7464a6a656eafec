"""Opening a ledger database: URL resolution, a look before touching, engines per dialect.

SQLite files are inspected read-only before anything else: a file that is not SQLite, or a SQLite
database of some other application, raises :class:`LedgerCorruptError` and is never written to.
PostgreSQL connects with a short timeout; an unreachable server raises
:class:`LedgerUnreachableError` with one line saying where and why.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from lowcarb.errors import (
    LedgerCorruptError,
    LedgerError,
    MissingDependencyError,
    UsageError,
)
from lowcarb.ledger._schema import LEDGER_TABLE, META_TABLE, VERSION_TABLE, Dialect

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "connect_read_only",
    "describe",
    "is_read_only",
    "postgres_engine",
    "resolve_url",
    "sqlite_engine",
    "sqlite_path",
]

#: The ledger used when no URL is given and ``LOWCARB_LEDGER`` is unset (relative to the cwd).
DEFAULT_URL = "sqlite:///.lowcarb/ledger.db"
ENV_VAR = "LOWCARB_LEDGER"
_SQLITE_HEADER = b"SQLite format 3\x00"
_OURS = frozenset({LEDGER_TABLE, META_TABLE, VERSION_TABLE})


def resolve_url(url: str | None, environ: Mapping[str, str]) -> tuple[URL, Dialect]:
    """The SQLAlchemy URL to open: ``url``, else ``$LOWCARB_LEDGER``, else the default.

    A bare path (no ``://``) means a SQLite file. ``postgresql://`` means ``postgresql+psycopg``.

    Raises:
        UsageError: Not a URL lowcarb can store a ledger in.
    """
    from lowcarb._config import resolve_ledger_url

    # The one resolver: flag > $LOWCARB_LEDGER > config file > default; it refuses URLs that
    # name no ledger (postgres://, sqlte://, sqlite:/x.db). The library keeps ``sqlite://`` as an
    # in-memory test double; commands refuse it before they get here.
    text = resolve_ledger_url(url or None, environ=environ, allow_memory=True, flag_name="ledger")
    assert text is not None  # a default is always given
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise UsageError(
            f"not a ledger URL: {text!r}; use sqlite:///PATH or postgresql+psycopg://HOST/DB"
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        return parsed, "sqlite"
    if backend == "postgresql" and driver in ("psycopg", "psycopg2"):
        # psycopg2 would also work with SQLAlchemy, but lowcarb's extra installs psycopg 3.
        return parsed.set(drivername="postgresql+psycopg"), "postgresql"
    raise UsageError(
        f"unsupported ledger URL {parsed.render_as_string(hide_password=True)!r}: use "
        "sqlite:///PATH (embedded) or postgresql+psycopg://USER@HOST/DB (shared)"
    )


def describe(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    db = url.database
    if not db or db == ":memory:" or db.startswith("file::memory:"):
        return None
    return Path(db)


def _not_ours(path: Path, why: str) -> LedgerCorruptError:
    return LedgerCorruptError(
        f"{str(path)!r} is not a lowcarb ledger ({why}); it was left untouched: point --ledger "
        f"or {ENV_VAR} at another file"
    )


def preflight_sqlite(path: Path, *, create: bool) -> None:
    """Look at a SQLite ledger file read-only before opening it for writing.

    Raises:
        LedgerCorruptError: The file is not SQLite, is damaged, or belongs to something else.
        LedgerError: It does not exist and ``create`` is false, or cannot be read.
    """
    if path.parent.exists() and not path.parent.is_dir():
        raise LedgerError(
            f"cannot use ledger {str(path)!r}: {str(path.parent)!r} is a file, not a directory"
        )
    if not path.exists() and not path.is_symlink():
        if not create:
            raise LedgerError(
                f"no ledger at {str(path)!r}; it is created by the first writer "
                "(e.g. `lowcarb run --ledger ...`)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"cannot create {str(path.parent)!r}: {exc.strerror}") from None
        return
    if path.is_dir():
        raise _not_ours(path, "it is a directory")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise LedgerError(f"cannot read ledger {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        # Never opened: reading a FIFO would block until some writer came along.
        raise _not_ours(path, "it is not a regular file (a FIFO, socket or device)")
    if path.stat().st_size == 0:
        return  # an empty file: a new database
    # The file is only ever read through SQLite itself, never with open(): on POSIX, closing
    # any descriptor of a file drops every fcntl lock this process holds on it, including
    # those of its own open SQLite connections (a worker's queue connection), and a ledger
    # written by another process while its locks were gone was seen corrupted. SQLite keeps
    # one table of its own descriptors per file and does not have that problem.
    try:
        conn = connect_read_only(path)
        try:
            names = {
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
                )
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise _not_ours(path, "not a SQLite database") from None
        raise _not_ours(path, f"the SQLite file is damaged: {exc}") from None
    if names and not (names & _OURS):
        shown = ", ".join(sorted(names)[:5])
        raise _not_ours(path, f"it holds other tables: {shown}")
    if names & _OURS and not names >= _OURS:
        raise _not_ours(path, "ledger tables are missing: it is damaged")


def is_read_only(path: Path) -> bool:
    """Whether this process cannot write an existing ledger file (or the directory holding it).

    SQLite needs the directory too in WAL mode (its ``-wal`` and ``-shm`` files). Root passes
    every ``os.access`` check, so read-only for root is only ever asked for explicitly.
    """
    return path.exists() and not (
        os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    )


def connect_read_only(
    path: Path, *, timeout_s: float = 5.0, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A read-only SQLite connection to ``path`` that never creates or changes a file.

    ``mode=ro`` first; when SQLite cannot open it that way (a WAL database in a directory this
    process may not write: no ``-shm`` file can be made), ``immutable=1``, which reads the main
    file as it is: fine for a ledger nobody here can write to anyway.
    """
    base = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(
            f"{base}?mode=ro", uri=True, timeout=timeout_s, check_same_thread=check_same_thread
        )
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc).lower():
            raise
    return sqlite3.connect(
        f"{base}?mode=ro&immutable=1",
        uri=True,
        timeout=timeout_s,
        check_same_thread=check_same_thread,
    )


def sqlite_engine(
    url: URL, path: Path | None, *, busy_timeout_s: float, read_only: bool = False
) -> Engine:
    """A SQLite engine whose transactions lowcarb begins itself (``BEGIN IMMEDIATE`` to write).

    pysqlite's own transaction handling is switched off (``isolation_level=None``) so that the
    ``begin`` event can issue ``BEGIN IMMEDIATE`` for appends: the write lock is taken before the
    head is read, so two writers can never read the same head. ``synchronous=FULL`` makes every
    committed append durable (the WAL is fsynced at each commit).

    Why FULL and not NORMAL: in WAL mode NORMAL fsyncs only at checkpoints, so a committed append
    survives an application crash but the last commits can be lost on power loss or an OS crash.
    The ledger promises that an append which returned is on disk, so it pays one fsync per commit
    (what bounds single appends; batched appends share it).

    ``read_only`` opens the file through :func:`connect_read_only`: reads work, every write
    fails with SQLite's "readonly database", which the store reports as read-only.
    """
    if path is None:
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    elif read_only:
        ro_path = path
        engine = create_engine(
            url,
            creator=lambda: connect_read_only(
                ro_path, timeout_s=busy_timeout_s, check_same_thread=False
            ),
        )
    else:
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("lowcarb_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def postgres_engine(url: URL, *, connect_timeout_s: float) -> Engine:
    """A PostgreSQL engine (psycopg 3) with a short connect timeout.

    Raises:
        MissingDependencyError: psycopg is not installed.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise MissingDependencyError("psycopg", "postgres") from None
    connect_args: dict[str, Any] = {"application_name": "lowcarb-ledger"}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = max(1, round(connect_timeout_s))
    return create_engine(url, connect_args=connect_args)
