"""The budget store in the study's own database (SQLite or PostgreSQL), beside Optuna's tables.

Two tables, ``lowcarb_tuning_budgets`` (one row per study: limit, unit, settled spend) and
``lowcarb_tuning_reservations`` (open and closed reservations). Every change runs in one
transaction that first locks the study's budget row: ``BEGIN IMMEDIATE`` on SQLite (one writer at a
time for the whole file), ``SELECT ... FOR UPDATE`` on PostgreSQL (one writer per study). So
"how much is left" and "take it" happen together, whichever machine asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lowcarb.errors import LedgerUnreachableError, UsageError
from lowcarb.tuning._budget import (
    BudgetState,
    BudgetStore,
    EnergyBudget,
    Reservation,
    _same_budget,
)

__all__ = ["SqlBudgetStore"]

# The advisory lock under which a PostgreSQL storage's budget tables are created (any fixed
# 64-bit number no other code uses: "lowcarbT" in ASCII).
_DDL_LOCK_KEY = int.from_bytes(b"lowcarbT", "big") & 0x7FFF_FFFF_FFFF_FFFF


class SqlBudgetStore(BudgetStore):
    """Budgets in the tables of a SQLAlchemy database shared by a study's workers.

    Args:
        url: SQLAlchemy URL of the study's storage (``sqlite:///study.db``,
            ``postgresql+psycopg://...``); the same URL as the Optuna RDB storage.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.exc import SQLAlchemyError

        self.url = url
        self._sa = sa
        meta = sa.MetaData()
        self._budgets = sa.Table(
            "lowcarb_tuning_budgets",
            meta,
            sa.Column("study", sa.String(512), primary_key=True),
            sa.Column("limit_value", sa.Float, nullable=False),
            sa.Column("unit", sa.String(16), nullable=False),
            sa.Column("spent", sa.Float, nullable=False, default=0.0),
        )
        self._reservations = sa.Table(
            "lowcarb_tuning_reservations",
            meta,
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("study", sa.String(512), nullable=False, index=True),
            sa.Column("trial", sa.Integer, nullable=False),
            sa.Column("worker", sa.String(256), nullable=False),
            sa.Column("amount", sa.Float, nullable=False),
            sa.Column("spent", sa.Float, nullable=False, default=0.0),
            sa.Column("beat", sa.Float, nullable=False),
            sa.Column("state", sa.String(16), nullable=False, index=True),
        )
        self._sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self._sqlite:
            # The driver's own transaction handling is switched off so that BEGIN IMMEDIATE,
            # issued below, takes the write lock before anything is read.
            kwargs["connect_args"] = {"timeout": 60, "isolation_level": None}
        try:
            self._engine = sa.create_engine(url, **kwargs)
            self._create_tables(meta)
        except SQLAlchemyError as exc:
            raise LedgerUnreachableError(
                f"the study storage {url!r} cannot hold the budget: {str(exc).splitlines()[0]}; "
                "check --storage"
            ) from None

    def _create_tables(self, meta: Any) -> None:
        """Create the tables where missing, one process at a time: workers that open a new
        storage at once would otherwise all see no table (the check and the ``CREATE`` are two
        statements) and all but one fail on "already exists"."""
        with self._write() as conn:
            if conn.dialect.name == "postgresql":  # DDL is transactional there
                conn.execute(
                    self._sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY}
                )
            meta.create_all(conn, checkfirst=True)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction; on SQLite it holds the database's write lock from its start
        (``BEGIN IMMEDIATE``), so what it reads no other writer changes before it commits."""
        with self._engine.connect() as conn:
            if not self._sqlite:
                with conn.begin():
                    yield conn
                return
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.exec_driver_sql("COMMIT")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def __enter__(self) -> SqlBudgetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _locked(self, study: str) -> Iterator[Any]:
        """A transaction that holds the study's budget row (SQLite: the database) for writing."""
        sa = self._sa
        with self._write() as conn:
            if not self._sqlite:
                conn.execute(
                    sa.select(self._budgets.c.study)
                    .where(self._budgets.c.study == study)
                    .with_for_update()
                )
            yield conn

    def _budget_row(self, conn: Any, study: str) -> Any:
        row = conn.execute(
            self._sa.select(self._budgets).where(self._budgets.c.study == study)
        ).first()
        if row is None:
            raise UsageError(f"study {study!r} has no budget in {self.url}; open it first")
        return row

    def _held(self, conn: Any, study: str) -> tuple[float, int]:
        sa = self._sa
        r = self._reservations
        held, count = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(r.c.amount), 0.0), sa.func.count()).where(
                r.c.study == study, r.c.state == "open"
            )
        ).one()
        return float(held), int(count)

    def open(self, study: str, budget: EnergyBudget) -> BudgetState:
        from sqlalchemy.exc import IntegrityError

        b = self._budgets
        stored: EnergyBudget | None = None
        try:
            with self._locked(study) as conn:
                row = conn.execute(self._sa.select(b).where(b.c.study == study)).first()
                if row is None:
                    conn.execute(
                        b.insert().values(
                            study=study, limit_value=budget.limit, unit=budget.unit, spent=0.0
                        )
                    )
                else:
                    stored = EnergyBudget(float(row.limit_value), row.unit)
        except IntegrityError:  # another worker created it first (PostgreSQL: no row to lock yet)
            with self._engine.connect() as conn:
                row = self._budget_row(conn, study)
            stored = EnergyBudget(float(row.limit_value), row.unit)
        if stored is not None:
            _same_budget(study, stored, budget)
        return self.state(study)

    def reserve(
        self, study: str, amount: float, *, worker: str, now: float, minimum: float = 0.0
    ) -> Reservation | None:
        import uuid

        with self._locked(study) as conn:
            row = self._budget_row(conn, study)
            held, _ = self._held(conn, study)
            granted = min(amount, row.limit_value - row.spent - held)
            if granted <= 0 or granted < minimum:
                return None
            reservation = Reservation(uuid.uuid4().hex, study, -1, worker, granted)
            conn.execute(
                self._reservations.insert().values(
                    id=reservation.id,
                    study=study,
                    trial=-1,
                    worker=worker[:256],
                    amount=granted,
                    spent=0.0,
                    beat=now,
                    state="open",
                )
            )
            return reservation

    def extend(
        self, reservation: Reservation, more: float, *, spent: float, now: float
    ) -> Reservation:
        r = self._reservations
        with self._locked(reservation.study) as conn:
            row = self._budget_row(conn, reservation.study)
            current = conn.execute(
                self._sa.select(r.c.amount, r.c.state).where(r.c.id == reservation.id)
            ).first()
            if current is None or current.state != "open":
                return reservation
            held, _ = self._held(conn, reservation.study)
            granted = max(0.0, min(more, row.limit_value - row.spent - held))
            amount = float(current.amount) + granted
            conn.execute(
                r.update()
                .where(r.c.id == reservation.id)
                .values(amount=amount, spent=spent, beat=now)
            )
            return Reservation(
                reservation.id,
                reservation.study,
                reservation.trial,
                reservation.worker,
                amount,
                spent,
            )

    def heartbeat(self, reservation: Reservation, *, spent: float, now: float) -> None:
        r = self._reservations
        with self._engine.begin() as conn:
            conn.execute(
                r.update()
                .where(r.c.id == reservation.id, r.c.state == "open")
                .values(spent=spent, beat=now)
            )

    def attach(self, reservation: Reservation, trial: int) -> Reservation:
        r = self._reservations
        with self._engine.begin() as conn:
            conn.execute(r.update().where(r.c.id == reservation.id).values(trial=trial))
        return Reservation(
            reservation.id,
            reservation.study,
            trial,
            reservation.worker,
            reservation.amount,
            reservation.spent,
        )

    def settle(self, reservation: Reservation, *, spent: float) -> None:
        r = self._reservations
        b = self._budgets
        with self._locked(reservation.study) as conn:
            closed = conn.execute(
                r.update()
                .where(r.c.id == reservation.id, r.c.state == "open")
                .values(state="settled", spent=max(0.0, spent))
            ).rowcount
            if closed:
                conn.execute(
                    b.update()
                    .where(b.c.study == reservation.study)
                    .values(spent=b.c.spent + max(0.0, spent))
                )

    def reclaim(self, study: str, *, older_than_s: float, now: float) -> list[Reservation]:
        r = self._reservations
        b = self._budgets
        with self._locked(study) as conn:
            stale = conn.execute(
                self._sa.select(r).where(
                    r.c.study == study, r.c.state == "open", r.c.beat < now - older_than_s
                )
            ).all()
            out = []
            for row in stale:
                conn.execute(r.update().where(r.c.id == row.id).values(state="reclaimed"))
                conn.execute(
                    b.update().where(b.c.study == study).values(spent=b.c.spent + row.spent)
                )
                out.append(Reservation(row.id, study, row.trial, row.worker, row.amount, row.spent))
            return out

    def state(self, study: str) -> BudgetState:
        with self._engine.connect() as conn:
            row = self._budget_row(conn, study)
            held, count = self._held(conn, study)
        return BudgetState(float(row.limit_value), row.unit, float(row.spent), held, count)
