"""The SQL store behind a ledger: SQLite or PostgreSQL through SQLAlchemy 2 Core (its reads and
error translation in :mod:`lowcarb.ledger._sql_read`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from lowcarb.errors import LedgerCorruptError, LedgerUnreachableError
from lowcarb.ledger._canonical import GENESIS_HASH, chain_hash
from lowcarb.ledger._committer import Committer, CommitterClient
from lowcarb.ledger._group import Chained, Sign, group_append, lead
from lowcarb.ledger._handoff import HAVE_FLOCK, AppendQueue
from lowcarb.ledger._pgwrite import PG_LOCK_KEY, pg_append_one, pg_commit, pg_durable, pg_lock
from lowcarb.ledger._queue_files import Unit, queue_dir, server_queue_dir
from lowcarb.ledger._schema import LEDGER_TABLE, Dialect, field_sql
from lowcarb.ledger._sql_read import COLUMNS, HEAD_SQL, SqlLedgerReader, StoredRow, first_line

__all__ = ["PG_LOCK_KEY", "SqlLedgerStore", "StoredRow", "WriteTransaction"]

_INSERT_SQL = f"INSERT INTO {LEDGER_TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"


class WriteTransaction:
    """One transaction holding the ledger's write lock (see :meth:`SqlLedgerStore.write`).

    It works on the driver's cursor directly: an append is a handful of statements, and
    SQLAlchemy's per-statement machinery would cost more than the work itself. On PostgreSQL
    the statements are pipelined (psycopg pipeline mode): the lock and the head travel in one
    round trip, the rows and the commit in the next.
    """

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cur = cursor
        self._dialect = dialect
        self._p = "?" if dialect == "sqlite" else "%s"

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last record, ``(0, GENESIS_HASH)`` when empty."""
        self._cur.execute(HEAD_SQL)
        row = self._cur.fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def existing_ids(self, ids: Collection[str]) -> set[str]:
        """Which of ``ids`` are already in the ledger."""
        if not ids:
            return set()
        expr = field_sql(self._dialect, "id")
        marks = ", ".join([self._p] * len(ids))
        self._cur.execute(f"SELECT {expr} FROM {LEDGER_TABLE} WHERE {expr} IN ({marks})", list(ids))
        return {str(r[0]) for r in self._cur.fetchall()}

    def insert(self, rows: list[tuple[int, str, str, str, str | None]]) -> None:
        """Insert rows ``(seq, prev_hash, hash, body, signature)`` in one batch."""
        p = self._p  # psycopg 3 pipelines executemany
        sql = f"INSERT INTO {LEDGER_TABLE} ({COLUMNS}) VALUES ({p}, {p}, {p}, {p}, {p})"
        self._cur.executemany(sql, rows)


class SqlLedgerStore(SqlLedgerReader):
    """Rows of one ledger in SQLite or PostgreSQL.

    Contract:
        * The only write is :meth:`write` (and :meth:`append`, which uses it): one transaction
          that first takes the ledger's write lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL
          ``pg_advisory_xact_lock``), so appends from any number of threads, processes or
          machines are serialised and each sees the head the previous one committed. The
          primary key on ``seq`` makes a fork impossible even for a writer that skipped the lock
          (two records cannot take one position).
        * An append returns once it is durable (SQLite ``synchronous=FULL``; PostgreSQL
          ``synchronous_commit`` as configured on the server, ``on`` by default). Concurrent
          appends share that cost (group commit): on a SQLite file, processes that find the
          ledger busy queue their records for the next writer, which chains them all in one
          transaction (:mod:`lowcarb.ledger._group`), or, while the ledger stays contended,
          hand them to the committer thread one of them runs (:mod:`lowcarb.ledger._committer`;
          PostgreSQL ledgers too, for this user's processes on one machine); on PostgreSQL,
          a writer that others wait for commits without waiting for its fsync, releases the
          lock, then waits for the fsync outside it, so queued writers' commits share fsyncs.
          Other readers may see such a record a moment before its writer's call returns; a
          server crash in that moment can lose it (its writer then gets an error, never an
          acknowledgement), and every later record with it, so the chain stays whole.
        * Rows are never updated or deleted; triggers in the database refuse it.
        * Thread-safe: one write at a time per store; reads take connections from SQLAlchemy's
          pool. The write connection is kept between writes (file SQLite, PostgreSQL).
        * Database errors surface as :class:`LedgerError` subclasses with one-line messages.
    """

    def __init__(
        self,
        engine: Engine,
        dialect: Dialect,
        *,
        display_url: str,
        busy_timeout_s: float = 30.0,
        read_only: bool = False,
        group: bool = True,
    ) -> None:
        super().__init__(engine, dialect, display_url=display_url, busy_timeout_s=busy_timeout_s)
        #: Opened read-only (a SQLite file this process may not write): reads work, writes
        #: raise a one-line "read-only" LedgerError.
        self.read_only = read_only
        database = engine.url.database
        #: A SQLite database in a file (not in memory): WAL mode, and a kept write connection.
        self.sqlite_file = dialect == "sqlite" and database not in (None, "", ":memory:")
        #: The group-commit queue of a writable SQLite file (None otherwise).
        self.queue: AppendQueue | None = None
        mode_of: Path | None = None
        if not group:
            pass  # a committer's own store (it holds the queue's lock itself)
        elif HAVE_FLOCK and self.sqlite_file and not read_only and database is not None:
            mode_of = Path(database)
            self.queue = AppendQueue(queue_dir(mode_of), mode_of=mode_of)
        elif HAVE_FLOCK and dialect == "postgresql":
            shared = server_queue_dir(engine.url.render_as_string(hide_password=True))
            self.queue = None if shared is None else AppendQueue(shared)
        #: The committer this process starts when the ledger is contended, and its client.
        self.committer: Committer | None = None
        self._client: CommitterClient | None = None
        if self.queue is not None:
            self.committer = Committer(self.queue.directory, self._committer_store, mode_of=mode_of)
            self._client = CommitterClient(self.queue.directory, self.queue.lock_fd)
        self._keeps_writer = self.sqlite_file or dialect == "postgresql"
        self._writer_lock = threading.RLock()
        self._writer: Any = None
        self._writer_pid = 0
        self._inherited: list[Any] = []

    # -- writes -------------------------------------------------------------------------------

    def append(self, unit: Unit, *, sign: Sign | None = None) -> list[Chained]:
        """Chain and durably store ``unit``'s records; return ``(seq, prev_hash, hash, sig)``.

        Through the group-commit queue when there is one (a SQLite file; PostgreSQL for this
        user's processes on this machine): when the lock is free, this process leads and
        chains what others queued with its own; else it queues its records for the next
        leader. Alone on PostgreSQL, one record, unsigned and correcting nothing, travels in
        one round trip (:meth:`append_alone`). Otherwise one :meth:`write` transaction.

        Raises:
            InvalidValueError: It corrects an unknown record id.
            LedgerBusyError: The write lock was not granted within :attr:`busy_timeout_s`.
            LedgerError: The database refused or could not be reached.
        """
        if self.read_only:
            raise self.read_only_error()
        with self.errors(), self._writer_lock:
            if self.queue is not None:
                return group_append(
                    self,
                    self.queue,
                    unit,
                    sign=sign,
                    client=self._client,
                    contended=self.committer.start if self.committer is not None else None,
                )
            return self.append_alone(unit, sign=sign) or lead(self, None, own=unit, sign=sign) or []

    def append_alone(self, unit: Unit, *, sign: Sign | None = None) -> list[Chained] | None:
        """Append ``unit``, nothing else being queued, the quickest way the backend allows;
        None when it cannot (then :func:`lead` it).

        One record correcting nothing: on PostgreSQL (unsigned) in one round trip; on a SQLite
        file in one transaction on the kept connection, straight on the driver (what a durable
        single append costs beyond SQLite's own transaction is Python: on a machine with a quick
        fsync, every layer skipped here shows).
        """
        if unit.corrects or len(unit.bodies) != 1:
            return None
        if self.dialect == "sqlite":
            return [self._sqlite_append_one(unit.bodies[0], sign)] if self.sqlite_file else None
        return None if sign is not None else [self._pg_append_one(unit.bodies[0])]

    def _sqlite_append_one(self, body: str, sign: Sign | None) -> Chained:
        """:meth:`write` and :func:`~lowcarb.ledger._group.chain_units` for one record that
        corrects nothing, without their layers (the caller holds the writer lock)."""
        with self._connection() as dbc:
            dbc.execute("BEGIN IMMEDIATE")
            try:
                head = dbc.execute(HEAD_SQL).fetchall()
                seq, prev = (int(head[0][0]) + 1, str(head[0][1])) if head else (1, GENESIS_HASH)
                digest = chain_hash(seq, prev, body)
                sig = None if sign is None else sign(digest)
                dbc.execute(_INSERT_SQL, (seq, prev, digest, body, sig))
            except BaseException:
                dbc.rollback()
                raise
            dbc.commit()
        return seq, prev, digest, sig

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """The driver connection for writes, under this store's write lock.

        On file SQLite and PostgreSQL it is kept for the next write (per process, one write at a
        time) instead of going back to the pool: the checkout, reset and return cost a SQLite
        durable append about 7% of its time (interleaved A/B, 280 vs 299 us), and a PostgreSQL
        one a round trip (the pool's rollback on return). A connection that saw an error is
        returned to the pool, not reused.
        """
        with self.errors(), self._writer_lock:
            raw = self._checkout_writer()
            clean = False
            try:
                yield raw.driver_connection
                clean = True
            finally:
                if clean and self._keeps_writer:
                    self._writer, self._writer_pid = raw, os.getpid()
                elif self.dialect == "postgresql":
                    raw.invalidate()  # its session state is unknown: never back to the pool
                else:
                    raw.close()

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """A transaction holding the ledger's write lock; commits when the block exits normally.

        The commit is durable when the block returns (see the class contract).
        """
        if self.read_only:
            raise self.read_only_error()
        with self._connection() as dbc:
            if self.dialect == "sqlite":
                cur = dbc.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield WriteTransaction(cur, self.dialect)
                except BaseException:
                    dbc.rollback()
                    raise
                finally:
                    cur.close()  # no statement may outlive the transaction on a kept connection
                dbc.commit()
                return
            with dbc.pipeline():
                # Wait for the lock no longer than SQLite would: then the caller spools.
                lock = pg_lock(dbc, wait=self._pg_wait())
                yield WriteTransaction(dbc.cursor(), self.dialect)
                later = pg_commit(dbc, lock)
            if later:
                self._pg_durable(dbc)

    def _pg_append_one(self, body: str) -> Chained:
        with self._connection() as dbc:
            (seq, prev, digest), later = pg_append_one(dbc, body, wait=self._pg_wait())
            if later:
                self._pg_durable(dbc)
        if chain_hash(seq, prev, body) != digest:  # the server's SHA-256 must be ours
            raise LedgerCorruptError(
                f"ledger {self.display_url}: the database hashed record #{seq} differently from "
                "lowcarb; run `lowcarb ledger verify` and report this"
            )
        return seq, prev, digest, None

    def _pg_durable(self, dbc: Any) -> None:
        try:
            pg_durable(dbc)
        except self._dbapi_error as exc:
            raise LedgerUnreachableError(
                f"ledger {self.display_url}: the append was committed but the connection failed "
                f"before it was confirmed durable ({first_line(exc)}); it may be recorded: look "
                "for it before appending it again"
            ) from None

    def _pg_wait(self) -> str:
        return f"{max(1, round(self.busy_timeout_s * 1000))}ms"

    def _checkout_writer(self) -> Any:
        kept, self._writer = self._writer, None
        if kept is not None:
            if self._writer_pid == os.getpid():
                return kept
            # Inherited across fork(): the parent's connection must not be used or closed here.
            self._inherited.append(kept)
        return self.engine.raw_connection()

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        """A SQLAlchemy connection in a transaction holding the write lock (for migrations)."""
        if self.read_only:
            raise self.read_only_error()
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(lowcarb_begin="IMMEDIATE")
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(
                        text("SELECT set_config('lock_timeout', :t, true)"), {"t": self._pg_wait()}
                    )
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
                yield conn

    def chained(self, ids: Collection[str]) -> dict[str, tuple[int, str, str]]:
        """``{id: (seq, prev_hash, hash)}`` of the stored records among ``ids``."""
        expr = field_sql(self.dialect, "id")
        marks = ", ".join(["?" if self.dialect == "sqlite" else "%s"] * len(ids))
        sql = f"SELECT {expr}, seq, prev_hash, hash FROM {LEDGER_TABLE} WHERE {expr} IN ({marks})"
        with self._connection() as dbc:
            cur = dbc.cursor()
            try:
                cur.execute(sql, list(ids))
                rows = cur.fetchall()
            finally:
                cur.close()
            if self.dialect == "postgresql":
                dbc.rollback()  # end the read's transaction on the kept connection
        return {str(r[0]): (int(r[1]), str(r[2]), str(r[3])) for r in rows}

    def existing_ids(self, ids: Collection[str]) -> set[str]:
        """Which of ``ids`` are stored."""
        return set(self.chained(ids)) if ids else set()

    def _committer_store(self) -> tuple[SqlLedgerStore, Callable[[], None]]:
        """The store a committer writes through: this engine, its own connection and lock."""
        store = SqlLedgerStore(
            self.engine,
            self.dialect,
            display_url=self.display_url,
            busy_timeout_s=self.busy_timeout_s,
            group=False,
        )
        return store, store.close_writer

    def close_writer(self) -> None:
        """Release the kept write connection."""
        with self._writer_lock:
            kept, self._writer = self._writer, None
            if kept is not None and self._writer_pid == os.getpid():
                kept.close()

    def close(self) -> None:
        """Stop this process's committer; release the kept write connection, the pooled ones
        and the group-commit lock."""
        if self.committer is not None:
            self.committer.stop()
        if self._client is not None:
            self._client.close()
        self.close_writer()
        with self._writer_lock:
            if self.queue is not None:
                self.queue.close()
        self.engine.dispose()
