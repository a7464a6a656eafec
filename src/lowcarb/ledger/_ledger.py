"""The ledger: append-only, hash-chained records of who emitted what, in SQLite or PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Literal

from lowcarb.errors import DataError, InvalidValueError, LedgerError, UsageError
from lowcarb.ledger._append_batch import appended_records, checked_drafts, encoded_unit
from lowcarb.ledger._canonical import format_time, record_from_row
from lowcarb.ledger._chain import Checkpoint, VerifyResult, verify_chain
from lowcarb.ledger._query import GroupBy, RecordFilter, Totals, totals_of_bodies
from lowcarb.ledger._record import Record, RecordDraft, new_record_id, utc_now
from lowcarb.ledger._setup import open_store
from lowcarb.ledger._signing import Ed25519Signer, PublicKeys, signature_checker, trusted_keys
from lowcarb.ledger._sql import SqlLedgerStore, StoredRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["SIGNING_KEY_ENV_VAR", "Ledger", "open_ledger"]

#: Environment variable naming a PEM Ed25519 private key: when set, every append is signed.
SIGNING_KEY_ENV_VAR = "LOWCARB_LEDGER_SIGNING_KEY"
ExportFormat = Literal["csv", "jsonl", "parquet"]
_PAGE = 5_000


class Ledger:
    """A tamper-evident, append-only ledger of carbon records.

    Records are only ever appended (:meth:`append`, :meth:`append_many`, :meth:`correct`); there
    is no update or delete. Each record is chained to the previous one by SHA-256 (see
    ``lowcarb.ledger._canonical``), optionally signed by its writer, and :meth:`verify` finds the
    first record that was edited, deleted, inserted or reordered.

    Thread-safe: one ``Ledger`` may be shared by threads; processes each open their own. Appends
    from any number of processes or machines are serialised by the database (SQLite write lock,
    PostgreSQL advisory lock), so the chain never forks. Processes of one machine appending at
    once share transactions and fsyncs (group commit, see ``lowcarb.ledger._group``); an append
    returns only once it is durable.

    Create one with :func:`open_ledger`; close it (or use it as a context manager) when done.
    """

    def __init__(
        self,
        store: SqlLedgerStore,
        *,
        meta: Mapping[str, str],
        signer: Ed25519Signer | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = new_record_id,
    ) -> None:
        self._store = store
        self._meta = dict(meta)
        self._signer = signer
        self._clock = clock
        self._new_id = new_id
        # Names already checked (teams, projects and models repeat across records).
        self._names: set[str] = set()

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._store.display_url

    @property
    def ledger_id(self) -> str | None:
        """This ledger's id (set at creation; checkpoints carry it)."""
        return self._meta.get("ledger_id")

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._store.dialect

    @property
    def read_only(self) -> bool:
        """Opened read-only (a SQLite file this process may not write): appends will fail."""
        return self._store.read_only

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for read-only aggregate queries, e.g. reports and dashboards;
        writes go through :meth:`append` so the hash chain holds)."""
        engine: Engine = self._store.engine
        return engine

    # -- writing ------------------------------------------------------------------------------

    def append(self, draft: RecordDraft) -> Record:
        """Append one record durably and return it (with id, seq and hash).

        Raises:
            InvalidValueError: ``draft.corrects`` names no record in the ledger.
            LedgerError: The database refused or could not be reached.
        """
        return self.append_many([draft])[0]

    def append_many(self, drafts: Iterable[RecordDraft]) -> list[Record]:
        """Append records in one transaction: all of them or none, contiguous in the chain.

        Their timestamp is when the call was made: with other writers appending at once, the
        chain's order and the timestamps' can differ by the time this call waited for its turn.

        Raises:
            InvalidValueError: A draft is not a :class:`RecordDraft`, or corrects an unknown id.
            LedgerError: The database refused or could not be reached.
        """
        batch = list(drafts)
        metadata = checked_drafts(batch, self._names)
        if not batch:
            return []
        now = self._clock()
        if now.tzinfo is None:
            raise InvalidValueError(f"the ledger clock must return aware UTC, got {now!r}")
        # Everything but the position is settled before the write lock is asked for, so that
        # the lock is held only to chain and store; the timestamp is when the append was asked.
        now = now.astimezone(UTC)
        signer_id = self._signer.key_id if self._signer is not None else None
        ids = [self._new_id() for _ in batch]
        figures, unit = encoded_unit(
            batch, ids=ids, stamp=format_time(now), signer_id=signer_id, metadata=metadata
        )
        chained = self._store.append(
            unit, sign=self._signer.sign if self._signer is not None else None
        )
        return appended_records(
            batch, ids=ids, figures=figures, chained=chained, timestamp=now, signer_id=signer_id
        )

    def correct(self, record_id: str, replacement: RecordDraft | None, *, reason: str) -> Record:
        """Append a correction that replaces record ``record_id`` (the original stays).

        Args:
            record_id: Id of the record to correct.
            replacement: The corrected content (its footprint, attribution and metadata); None
                voids the record (it then counts for nothing in totals).
            reason: Why, in words; stored in the correction's metadata as ``correction_reason``.

        Raises:
            LedgerError: No record with that id.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidValueError(f"a correction needs a reason, got {reason!r}")
        original = self.get(record_id)
        base = (
            replacement
            if replacement is not None
            else RecordDraft(attribution=original.attribution)
        )
        draft = RecordDraft(
            kind="correction",
            attribution=base.attribution,
            footprint=base.footprint,
            market=base.market,
            corrects=record_id,
            metadata={**base.metadata, "correction_reason": reason},
        )
        return self.append(draft)

    # -- reading ------------------------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        """The record with this id.

        Raises:
            LedgerError: No such record.
        """
        row = self._store.get(record_id)
        if row is None:
            raise LedgerError(f"no record with id {record_id!r} in ledger {self.url}")
        return record_from_row(*row)

    def records(
        self,
        flt: RecordFilter | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[Record]:
        """Records matching ``flt``, in chain order (or newest first), streamed page by page."""
        if limit is not None and limit < 0:
            raise InvalidValueError(f"limit must be >= 0, got {limit!r}")
        after, before, remaining = 0, None, limit
        while remaining is None or remaining > 0:
            n = _PAGE if remaining is None else min(_PAGE, remaining)
            rows: list[StoredRow] = self._store.page(
                flt, after_seq=after, before_seq=before, limit=n, newest_first=newest_first
            )
            for row in rows:
                yield record_from_row(*row)
            if len(rows) < n:
                return
            if newest_first:
                before = rows[-1][0]
            else:
                after = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def count(self) -> int:
        """Number of records."""
        return self._store.head()[0]

    def checkpoint(self) -> Checkpoint:
        """The current head (hash and count), to publish somewhere the writers cannot edit."""
        count, head = self._store.head()
        return Checkpoint(head_hash=head, count=count, ledger_id=self.ledger_id)

    def verify(
        self,
        public_key: PublicKeys | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> VerifyResult:
        """Check the whole chain; name the first bad record.

        Args:
            public_key: Trusted writer key(s) (:class:`TrustedKey`, PEM bytes or a file path, or
                several): every record must then be signed by one of them.
            checkpoint: A published checkpoint: the ledger must still extend it (detects a
                truncated tail or a recomputed chain).

        Returns:
            ``ok`` False with ``first_bad`` and ``reason`` when the ledger was tampered with.
        """
        check = signature_checker(trusted_keys(public_key)) if public_key is not None else None
        with self._store.chain_rows() as rows:
            result = verify_chain(
                rows, check_signature=check, checkpoint=checkpoint, ledger_id=self.ledger_id
            )
        missing = self._store.missing_triggers()
        if missing:
            warning = (
                "append-only triggers missing or disabled: "
                + ", ".join(missing)
                + " (rows can be edited in place: the chain detects an edited record, but not a "
                "chain recomputed from scratch; keep checkpoints or sign records)"
            )
            result = replace(result, warnings=(*result.warnings, warning))
        return result

    def totals(self, by: GroupBy, flt: RecordFilter | None = None) -> Totals:
        """Energy and Scope 2 CO2e (location- and market-based) grouped by ``by``.

        Corrected records are replaced by their corrections (see
        :func:`~lowcarb.ledger._query.compute_totals`); the ledger is read a page at a time.
        """
        superseded = self._store.corrected_ids()
        return totals_of_bodies(self._store.bodies(flt), by, superseded=superseded)

    def export(
        self,
        fmt: ExportFormat,
        destination: IO[str] | str | Path,
        flt: RecordFilter | None = None,
    ) -> int:
        """Write matching records as CSV, JSON lines or Parquet; return how many.

        Args:
            fmt: ``csv``, ``jsonl`` or ``parquet`` (needs ``pyarrow``: extra ``parquet``).
            destination: A text stream (csv, jsonl) or a file path (any format).
            flt: Which records.
        """
        from lowcarb.ledger._export import export_records

        return export_records(self.records(flt), fmt, destination)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release database connections."""
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.url!r})"


def open_ledger(
    url: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    create: bool = True,
    signer: Ed25519Signer | None = None,
    clock: Callable[[], datetime] = utc_now,
    busy_timeout_s: float = 30.0,
    connect_timeout_s: float = 3.0,
    read_only: bool | None = None,
) -> Ledger:
    """Open the ledger at ``url``, creating it when ``create`` (the default).

    Args:
        url: SQLAlchemy URL: ``sqlite:///PATH`` (embedded), ``postgresql+psycopg://USER@HOST/DB``
            (shared across machines), or a bare file path. ``sqlite://`` is an in-memory ledger
            (a test double for one thread). Default: ``$LOWCARB_LEDGER``, else ``sqlite:///.lowcarb/ledger.db``
            in the working directory.
        environ: Environment to read ``LOWCARB_LEDGER`` and ``LOWCARB_LEDGER_SIGNING_KEY`` from.
        create: Create the ledger (and upgrade its schema) if needed; else only open it.
        signer: Sign every appended record with this key; default: the PEM key named by
            ``$LOWCARB_LEDGER_SIGNING_KEY`` if set, else unsigned.
        clock: Returns the current time, timezone-aware (injected for tests).
        busy_timeout_s: How long a writer waits for the write lock (SQLite busy timeout,
            PostgreSQL lock_timeout on the advisory lock) before LedgerBusyError.
        connect_timeout_s: PostgreSQL connect timeout.
        read_only: Open a SQLite file read-only (reads and verify work, writes raise a one-line
            "read-only" LedgerError). None (the default) decides from the file's permissions.

    Raises:
        LedgerCorruptError: Not a lowcarb ledger, or damaged (never modified).
        LedgerUnreachableError: The database server cannot be reached.
        LedgerSchemaError: Written by a newer lowcarb.
        UsageError: Not a URL lowcarb supports.
        MissingDependencyError: ``psycopg`` (extra ``postgres``) or ``cryptography`` (``signing``).
    """
    if signer is None and environ.get(SIGNING_KEY_ENV_VAR):
        try:
            signer = Ed25519Signer.from_file(environ[SIGNING_KEY_ENV_VAR])
        except (UsageError, DataError) as exc:  # name the variable: no flag named this path
            raise type(exc)(f"{SIGNING_KEY_ENV_VAR}: {exc}") from None
    store, meta = open_store(
        url,
        environ=environ,
        create=create,
        busy_timeout_s=busy_timeout_s,
        connect_timeout_s=connect_timeout_s,
        read_only=read_only,
    )
    return Ledger(store, meta=meta, signer=signer, clock=clock)
