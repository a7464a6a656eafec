"""The read half of a ledger's SQL store (SQLite or PostgreSQL), and its error translation.

:class:`~lowcarb.ledger._sql.SqlLedgerStore` adds the writes. Reads take connections from
SQLAlchemy's pool and never the write lock; every database error leaves as a one-line
:class:`~lowcarb.errors.LedgerError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from lowcarb.errors import (
    LedgerBusyError,
    LedgerCorruptError,
    LedgerError,
    LedgerUnreachableError,
)
from lowcarb.ledger._canonical import GENESIS_HASH, format_time
from lowcarb.ledger._chain import ChainRow
from lowcarb.ledger._query import RecordFilter
from lowcarb.ledger._schema import LEDGER_TABLE, META_TABLE, Dialect, field_sql

__all__ = ["COLUMNS", "HEAD_SQL", "SqlLedgerReader", "StoredRow", "first_line"]

#: A stored row as text: seq, prev_hash, hash, body, signature.
StoredRow = tuple[int, str, str, str, str | None]

COLUMNS = "seq, prev_hash, hash, body, signature"
_EXPECTED_TRIGGERS: dict[Dialect, frozenset[str]] = {
    "sqlite": frozenset(
        f"{t}_no_{op}" for t in (LEDGER_TABLE, META_TABLE) for op in ("update", "delete")
    ),
    "postgresql": frozenset(
        f"{t}_no_{op}" for t in (LEDGER_TABLE, META_TABLE) for op in ("update_delete", "truncate")
    ),
}
_CHAIN_SQL: dict[Dialect, str] = {
    # Bytes, not text: verification hashes exactly what is stored, even a damaged body (SQLite
    # reads text as bytes through ``text_factory``; PostgreSQL text is always valid UTF-8).
    "sqlite": f"SELECT seq, prev_hash, hash, body, signature FROM {LEDGER_TABLE} ORDER BY seq",
    "postgresql": "SELECT seq, convert_to(prev_hash, 'UTF8'), convert_to(hash, 'UTF8'), "
    "convert_to(body, 'UTF8'), convert_to(signature, 'UTF8') "
    f"FROM {LEDGER_TABLE} ORDER BY seq",
}
HEAD_SQL = f"SELECT seq, hash FROM {LEDGER_TABLE} ORDER BY seq DESC LIMIT 1"


class SqlLedgerReader:
    """Reads of one ledger's rows, and the translation of database errors (see
    :class:`~lowcarb.ledger._sql.SqlLedgerStore` for the whole contract)."""

    def __init__(
        self, engine: Engine, dialect: Dialect, *, display_url: str, busy_timeout_s: float
    ) -> None:
        self.engine = engine
        #: How long a writer waits for the ledger's write lock before giving up (both dialects:
        #: SQLite's busy timeout and the group-commit queue, PostgreSQL's ``lock_timeout``).
        self.busy_timeout_s = busy_timeout_s
        self.dialect: Dialect = dialect
        self.display_url = display_url
        self._dbapi_error: type[BaseException] = engine.dialect.loaded_dbapi.Error
        self._integrity_error: type[BaseException] = engine.dialect.loaded_dbapi.IntegrityError

    # -- errors -------------------------------------------------------------------------------

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Translate database errors raised inside the block into one-line ledger errors."""
        try:
            yield
        except (IntegrityError, self._integrity_error) as exc:
            orig = exc.orig if isinstance(exc, IntegrityError) else exc
            raise LedgerError(
                f"append to {self.display_url} refused by the database ({first_line(orig)}): "
                "another writer bypassed the ledger lock"
            ) from None
        except (DBAPIError, self._dbapi_error) as exc:
            raise self._translate(exc) from None
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger {self.display_url}: {first_line(exc)}") from None

    def busy_error(self) -> LedgerBusyError:
        """The error for a write lock not granted within :attr:`busy_timeout_s` (spool, retry)."""
        return LedgerBusyError(
            f"ledger {self.display_url} stayed locked by another writer for more than "
            f"{self.busy_timeout_s:g} s; retry"
        )

    def _translate(self, exc: BaseException) -> LedgerError:
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        msg = first_line(orig)
        where = self.display_url
        name = type(orig).__name__
        if self.dialect == "sqlite":
            low = msg.lower()
            if "readonly" in low or "read-only" in low:
                return self.read_only_error()
            if "locked" in low or "busy" in low:
                return self.busy_error()  # as PostgreSQL's lock timeout: callers spool either way
            if "not a database" in low or "malformed" in low or "disk image" in low:
                return LedgerCorruptError(
                    f"ledger {where} is damaged ({msg}); it was left untouched: restore it from a "
                    "backup and check it with `lowcarb ledger verify`"
                )
            if "unable to open" in low:
                return LedgerUnreachableError(f"cannot open ledger {where}: {msg}")
            return LedgerError(f"ledger {where}: {msg}")
        if getattr(orig, "sqlstate", None) == "55P03" or "lock timeout" in msg.lower():
            return self.busy_error()
        if name in ("OperationalError", "InterfaceError") or "connection" in msg.lower():
            return LedgerUnreachableError(f"cannot reach ledger database {where}: {msg}")
        return LedgerError(f"ledger {where}: {msg}")

    def read_only_error(self) -> LedgerError:
        """The one-line error for a write to a ledger opened read-only."""
        return LedgerError(
            f"ledger {self.display_url} is read-only here: it can be verified and read, not "
            "written; give this user write permission on the file and its directory, or use "
            "another ledger"
        )

    # -- reads --------------------------------------------------------------------------------

    @contextmanager
    def chain_rows(self, *, chunk: int = 20_000) -> Iterator[Iterator[ChainRow]]:
        """All rows as bytes, by ``seq``, streamed from one consistent snapshot."""
        with self.errors(), self.engine.connect() as conn, conn.begin():
            dbapi: Any = conn.connection.driver_connection
            if self.dialect == "sqlite":
                cur = dbapi.cursor()
                dbapi.text_factory = bytes
            else:
                cur = dbapi.cursor(name="lowcarb_chain", binary=True)
                cur.itersize = chunk
            try:
                cur.execute(_CHAIN_SQL[self.dialect])
                yield iter(cur)
            finally:
                cur.close()
                if self.dialect == "sqlite":
                    dbapi.text_factory = str

    def page(
        self,
        flt: RecordFilter | None,
        *,
        after_seq: int = 0,
        before_seq: int | None = None,
        limit: int = 5_000,
        newest_first: bool = False,
    ) -> list[StoredRow]:
        """Up to ``limit`` rows matching ``flt`` with ``after_seq < seq < before_seq``."""
        conds, params = ["seq > :after"], {"after": after_seq, "limit": limit}
        if before_seq is not None:
            conds.append("seq < :before")
            params["before"] = before_seq
        conds += self._filter_sql(flt, params)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {COLUMNS} FROM {LEDGER_TABLE} WHERE {' AND '.join(conds)} "
            f"ORDER BY seq {order} LIMIT :limit"
        )
        with self.errors(), self.engine.connect() as conn:
            return [
                (int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4])
                for r in conn.execute(text(sql), params)
            ]

    def bodies(self, flt: RecordFilter | None, *, page: int = 10_000) -> Iterator[tuple[int, str]]:
        """``(seq, body)`` of the records matching ``flt``, by ``seq``, a page at a time (keyset
        pages: memory stays flat whatever the ledger's size, and no read holds a snapshot)."""
        after = 0
        while True:
            params: dict[str, Any] = {"after": after, "limit": page}
            conds = ["seq > :after", *self._filter_sql(flt, params)]
            sql = (
                f"SELECT seq, body FROM {LEDGER_TABLE} WHERE {' AND '.join(conds)} "
                "ORDER BY seq LIMIT :limit"
            )
            with self.errors(), self.engine.connect() as conn:
                rows = conn.execute(text(sql), params).all()
            yield from ((int(r[0]), str(r[1])) for r in rows)
            if len(rows) < page:
                return
            after = int(rows[-1][0])

    def _filter_sql(self, flt: RecordFilter | None, params: dict[str, Any]) -> list[str]:
        if flt is None:
            return []
        conds = []
        for name in ("team", "project", "model", "kind"):
            value = getattr(flt, name)
            if value is not None:
                conds.append(f"{field_sql(self.dialect, name)} = :{name}")
                params[name] = value
        ts = field_sql(self.dialect, "timestamp")
        if flt.since is not None:
            conds.append(f"{ts} >= :since")
            params["since"] = format_time(flt.since)
        if flt.until is not None:
            conds.append(f"{ts} < :until")
            params["until"] = format_time(flt.until)
        return conds

    def get(self, record_id: str) -> StoredRow | None:
        """The row with this record id, or None."""
        sql = f"SELECT {COLUMNS} FROM {LEDGER_TABLE} WHERE {field_sql(self.dialect, 'id')} = :i"
        with self.errors(), self.engine.connect() as conn:
            r = conn.execute(text(sql), {"i": record_id}).first()
        return None if r is None else (int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4])

    def corrected_ids(self) -> set[str]:
        """Ids that some correction record replaces."""
        corrects, kind = field_sql(self.dialect, "corrects"), field_sql(self.dialect, "kind")
        sql = f"SELECT {corrects} FROM {LEDGER_TABLE} WHERE {kind} = 'correction'"
        with self.errors(), self.engine.connect() as conn:
            return {str(r[0]) for r in conn.exec_driver_sql(sql) if r[0] is not None}

    def head(self) -> tuple[int, str]:
        """``(count, head hash)``."""
        with self.errors(), self.engine.connect() as conn:
            row = conn.exec_driver_sql(HEAD_SQL).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def meta(self) -> dict[str, str]:
        """The meta table (``format``, ``ledger_id``, ``created_at``)."""
        with self.errors(), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT key, value FROM {META_TABLE}")
            return {str(k): str(v) for k, v in rows}

    def missing_triggers(self) -> list[str]:
        """Append-only triggers that are missing (or disabled, on PostgreSQL)."""
        if self.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            sql = (
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
                f"AND tgrelid IN ('{LEDGER_TABLE}'::regclass, '{META_TABLE}'::regclass)"
            )
        with self.errors(), self.engine.connect() as conn:
            present = {str(r[0]) for r in conn.exec_driver_sql(sql)}
        return sorted(_EXPECTED_TRIGGERS[self.dialect] - present)


def first_line(exc: BaseException | None) -> str:
    text_ = str(exc).strip() if exc is not None else ""
    return (text_.splitlines() or ["unknown error"])[0]
