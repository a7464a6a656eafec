"""The daily rollup: the ledger's figures summed per UTC day and attribution, kept up to date.

Why a rollup: a dashboard overview sums every record of its period, and a busy ledger appends
thousands a day. Summing the records themselves costs one JSON parse per record per request
(seconds at a million records); the rollup sums them once, as they arrive, into one row per
day and attribution (team, project, model, version, kind, role, zone, intensity source), so a
30-day overview reads a few thousand rows.

Why here, and its table in the ledger's migrations: the tables (``lowcarb_rollup_daily``,
``lowcarb_rollup_state``, ``lowcarb_rollup_superseded``; ledger migration 0003) live beside the
ledger as the job store's does, so one database holds everything and one migration path
upgrades it; the code that fills them reads the ledger's canonical body with the same SQL
expressions as ``lowcarb report`` (whose figures it must reproduce) and is used only by the
dashboard, so it lives with the dashboard.

How it stays right: records are append-only and numbered (``seq``), so a refresh sums only the
records after the last one it rolled up (``last_seq``), in chunks, each chunk one transaction
that also moves ``last_seq``: a crash leaves either the whole chunk or none of it. A correction
takes the record it replaces out of that record's row (once: ``lowcarb_rollup_superseded``) and
counts itself, exactly as the report's SQL does. Refreshes are serialised by the database
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``FOR UPDATE`` on the state row), so two dashboards on
one ledger never count a record twice. If the record at ``last_seq`` no longer has the hash it
had (the ledger file was replaced), the rollup is rebuilt from scratch. The rollup is a cache,
not audit data: pages say through which record (and hash) their figures go, record lists and
record pages are read from the ledger itself, and the report's own pass over the ledger
(:func:`lowcarb.reporting.report.collect`) is what the tests compare it with, grouping by
grouping, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from lowcarb.errors import LedgerError
from lowcarb.reporting.dashboard._rollup_sql import (
    COUNTS,
    KEYS,
    LEDGER_TABLE,
    ROLLUP_TABLE,
    STATE_TABLE,
    SUMS,
    SUPERSEDED_TABLE,
    Dialect,
    raw_field,
    upsert_sql,
)
from lowcarb.reporting.report import Figures

__all__ = [
    "KEYS",
    "ROLLUP_TABLE",
    "DailyRollup",
    "RollupRow",
    "RollupStatus",
]

log = logging.getLogger(__name__)

#: Records rolled up per transaction (a SQLite chunk holds the write lock for about a second).
DEFAULT_CHUNK = 100_000


# -- types ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollupStatus:
    """What a refresh did.

    Attributes:
        through_seq: The last ledger record the rollup includes (0: none).
        through_hash: That record's hash ('' when none): what the figures are pinned to.
        rolled: Records added by this refresh.
        rebuilt: The rollup was started again from scratch (its last record had changed).
        seconds: Wall time of the refresh.
    """

    through_seq: int
    through_hash: str
    rolled: int
    rebuilt: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "through_seq": self.through_seq,
            "through_hash": self.through_hash,
            "rolled": self.rolled,
            "rebuilt": self.rebuilt,
            "seconds": round(self.seconds, 6),
        }


@dataclass(frozen=True, slots=True)
class RollupRow:
    """Sums of one group of rollup rows.

    Attributes:
        keys: The group's key values (None where the records have none).
        all_records: Every record of the group, with or without a footprint (decisions too).
        figures: The records with a footprint, as the report sums them.
        inferences: Inferences the group's inference records report.
    """

    keys: tuple[str | None, ...]
    all_records: int
    figures: Figures
    inferences: float


def _row(keys: Iterable[Any], r: Any) -> RollupRow:
    footprint = int(r.footprint_records)

    def f(name: str) -> float:
        # A group whose records were all taken out by corrections sums to float residue.
        return float(getattr(r, name)) if footprint else 0.0

    return RollupRow(
        keys=tuple(None if k in (None, "") else str(k) for k in keys),
        all_records=int(r.records),
        figures=Figures(
            records=footprint,
            energy_kwh=f("energy_kwh"),
            co2e_g=f("co2e_g"),
            measured_kwh=f("measured_kwh"),
            estimated_kwh=f("estimated_kwh"),
            market_records=int(r.market_records),
            market_energy_kwh=f("market_energy_kwh"),
            market_co2e_g=f("market_co2e_g"),
        ),
        inferences=f("inferences"),
    )


# -- the rollup -----------------------------------------------------------------------------


class DailyRollup:
    """The daily rollup of one ledger database (see the module docstring).

    Thread-safe: refreshes in one process take a lock (and the database serialises processes);
    reads need none. Database failures raise :class:`~lowcarb.errors.LedgerError`.

    Args:
        engine: The ledger's engine (schema at revision 0003 or later).
        chunk: Records rolled up per transaction.
        clock: Monotonic seconds (the refresh's duration).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        chunk: int = DEFAULT_CHUNK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise LedgerError(f"the rollup needs SQLite or PostgreSQL, not {name!r}")
        self.engine = engine
        self.dialect: Dialect = "sqlite" if name == "sqlite" else "postgresql"
        self.chunk = chunk
        self._clock = clock
        self._lock = threading.Lock()
        #: The last ``through_seq`` a refresh saw (-1: none yet): caches are valid for it.
        self._seen_seq = -1
        self._distinct: dict[tuple[str, str | None], tuple[int, list[str]]] = {}
        where = "seq > :after AND seq <= :upto"
        self._add_sql = text(upsert_sql(self.dialect, where))
        id_ = raw_field(self.dialect, "id")
        self._take_out_sql = text(upsert_sql(self.dialect, f"{id_} IN :ids")).bindparams(
            bindparam("ids", expanding=True)
        )
        kind, corrects = raw_field(self.dialect, "kind"), raw_field(self.dialect, "corrects")
        self._corrections_sql = text(
            f"SELECT {corrects} FROM {LEDGER_TABLE} WHERE seq > :after AND seq <= :upto "
            f"AND {kind} = 'correction' AND {corrects} IS NOT NULL"
        )
        self._known_superseded_sql = text(
            f"SELECT id FROM {SUPERSEDED_TABLE} WHERE id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))

    def _errors(self, exc: SQLAlchemyError) -> LedgerError:
        where = self.engine.url.render_as_string(hide_password=True)
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"]
        low = cause[0].lower()
        if "readonly" in low or "read-only" in low:
            return LedgerError(
                f"ledger {where} is read-only here; the dashboard keeps its rollup in the ledger's "
                "database, so it needs write access to it"
            )
        if ROLLUP_TABLE in cause[0] or STATE_TABLE in cause[0]:
            return LedgerError(
                f"ledger {where} has no rollup table (schema before 0003); open it once as a "
                f"writer to upgrade it ({cause[0]})"
            )
        return LedgerError(f"rollup of ledger {where} failed: {cause[0]}")

    # -- refresh ------------------------------------------------------------------------------

    def refresh(self, *, upto: int | None = None) -> RollupStatus:
        """Roll up every record appended since the last refresh (up to ``upto``, for tests).

        Returns quickly when nothing was appended: two indexed reads.
        """
        started = self._clock()
        rolled, rebuilt = 0, False
        with self._lock:
            try:
                while True:
                    step = self._step(upto)
                    rolled += step[2]
                    rebuilt = rebuilt or step[3]
                    if step[2] == 0:
                        break
            except SQLAlchemyError as exc:
                self._seen_seq = -1
                raise self._errors(exc) from None
            self._seen_seq = -1 if rebuilt else step[0]
        return RollupStatus(step[0], step[1], rolled, rebuilt, self._clock() - started)

    def rebuild(self) -> RollupStatus:
        """Forget everything and roll up the whole ledger again."""
        with self._lock:
            try:
                with self._transaction() as conn:
                    self._state(conn)
                    self._clear(conn)
            except SQLAlchemyError as exc:
                raise self._errors(exc) from None
        status = self.refresh()
        return RollupStatus(status.through_seq, status.through_hash, status.rolled, True, 0.0)

    def _transaction(self) -> Any:
        conn = self.engine.connect()
        if self.dialect == "sqlite":
            conn = conn.execution_options(lowcarb_begin="IMMEDIATE")
        return _Tx(conn)

    def _state(self, conn: Connection) -> tuple[int, str]:
        lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
        row = conn.execute(
            text(f"SELECT last_seq, last_hash FROM {STATE_TABLE} WHERE name = 'daily'{lock}")
        ).one()
        return int(row[0]), str(row[1])

    def _clear(self, conn: Connection) -> None:
        conn.execute(text(f"DELETE FROM {ROLLUP_TABLE}"))
        conn.execute(text(f"DELETE FROM {SUPERSEDED_TABLE}"))
        conn.execute(
            text(f"UPDATE {STATE_TABLE} SET last_seq = 0, last_hash = '' WHERE name = 'daily'")
        )

    def _step(self, upto: int | None) -> tuple[int, str, int, bool]:
        """One chunk in one transaction: ``(through_seq, through_hash, rolled, rebuilt)``."""
        with self._transaction() as conn:
            last, last_hash = self._state(conn)
            head_row = conn.execute(
                text(f"SELECT seq, hash FROM {LEDGER_TABLE} ORDER BY seq DESC LIMIT 1")
            ).first()
            head = 0 if head_row is None else int(head_row[0])
            rebuilt = False
            if last:
                row = conn.execute(
                    text(f"SELECT hash FROM {LEDGER_TABLE} WHERE seq = :s"), {"s": last}
                ).first()
                if row is None or str(row[0]) != last_hash:
                    log.warning(
                        "ledger record %d is no longer the one the rollup last saw; rebuilding",
                        last,
                    )
                    self._clear(conn)
                    last, last_hash, rebuilt = 0, "", True
            target = head if upto is None else min(head, upto)
            if target <= last:
                return last, last_hash, 0, rebuilt
            end = min(target, last + self.chunk)
            span = {"after": last, "upto": end}
            conn.execute(self._add_sql, {**span, "sign": 1})
            corrected = {str(r[0]) for r in conn.execute(self._corrections_sql, span)}
            if corrected:
                known = {
                    str(r[0])
                    for r in conn.execute(self._known_superseded_sql, {"ids": sorted(corrected)})
                }
                fresh = sorted(corrected - known)
                if fresh:
                    conn.execute(
                        text(f"INSERT INTO {SUPERSEDED_TABLE} (id) VALUES (:id)"),
                        [{"id": i} for i in fresh],
                    )
                    conn.execute(self._take_out_sql, {"ids": fresh, "sign": -1})
            end_hash = str(
                conn.execute(
                    text(f"SELECT hash FROM {LEDGER_TABLE} WHERE seq = :s"), {"s": end}
                ).scalar_one()
            )
            conn.execute(
                text(
                    f"UPDATE {STATE_TABLE} SET last_seq = :s, last_hash = :h, "
                    "updated_at = CURRENT_TIMESTAMP WHERE name = 'daily'"
                ),
                {"s": end, "h": end_hash},
            )
            return end, end_hash, end - last, rebuilt

    def status(self) -> tuple[int, str]:
        """``(through_seq, through_hash)`` as stored, without refreshing."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(f"SELECT last_seq, last_hash FROM {STATE_TABLE} WHERE name = 'daily'")
                ).one()
        except SQLAlchemyError as exc:
            raise self._errors(exc) from None
        return int(row[0]), str(row[1])

    # -- reads --------------------------------------------------------------------------------

    def groups(
        self,
        by: tuple[str, ...],
        *,
        since: date,
        until: date,
        team: str | None = None,
        project: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> list[RollupRow]:
        """Sums over days ``since <= day < until``, grouped by the key columns ``by``.

        Args:
            by: Key columns (of :data:`KEYS`) to group by; () for one total.
            since, until: Days, UTC (``until`` excluded).
            team, project: Only these (exact match).
            extra: More exact-match filters on key columns (e.g. ``{"kind": "run"}``).
        """
        for name in (*by, *(extra or {})):
            if name not in KEYS:
                raise ValueError(f"not a rollup key column: {name!r}")
        conds = ["day >= :since", "day < :until"]
        params: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat()}
        filters = {"team": team, "project": project, **(extra or {})}
        for name, value in filters.items():
            if value is not None:
                conds.append(f"{name} = :f_{name}")
                params[f"f_{name}"] = value
        sums = ", ".join(f"sum({c}) AS {c}" for c in (*COUNTS, *SUMS))
        cols = ", ".join(by)
        sql = f"SELECT {cols + ', ' if by else ''}{sums} FROM {ROLLUP_TABLE} "
        sql += f"WHERE {' AND '.join(conds)}"
        if by:
            sql += f" GROUP BY {cols}"
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text(sql), params).all()
        except SQLAlchemyError as exc:
            raise self._errors(exc) from None
        out = []
        for r in rows:
            if r.records is None or (int(r.records) == 0 and int(r.footprint_records) == 0):
                continue  # no rows, or every record taken out by corrections
            out.append(_row(r[: len(by)], r))
        return out

    def distinct(self, column: str, *, team: str | None = None) -> list[str]:
        """Every value of a key column across the whole rollup (of one team when given).

        Cached until the rollup moves on (a scan of the whole rollup, asked by every page for
        its name checks and filter choices).
        """
        if column not in KEYS:
            raise ValueError(f"not a rollup key column: {column!r}")
        seq = self._seen_seq
        cached = self._distinct.get((column, team))
        if cached is not None and cached[0] == seq and seq >= 0:
            return list(cached[1])
        names = self._distinct_query(column, team)
        self._distinct[(column, team)] = (seq, names)
        return list(names)

    def _distinct_query(self, column: str, team: str | None) -> list[str]:
        sql = f"SELECT DISTINCT {column} FROM {ROLLUP_TABLE} WHERE {column} <> ''"
        params: dict[str, Any] = {}
        if team is not None:
            sql += " AND team = :team"
            params["team"] = team
        try:
            with self.engine.connect() as conn:
                return sorted(str(r[0]) for r in conn.execute(text(sql), params))
        except SQLAlchemyError as exc:
            raise self._errors(exc) from None


class _Tx:
    """A connection in one transaction (committed on success), as a context manager."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def __enter__(self) -> Connection:
        self._tx = self._conn.begin()
        return self._conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                self._tx.commit()
            else:
                self._tx.rollback()
        finally:
            self._conn.close()
