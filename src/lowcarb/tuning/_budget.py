"""A study's energy budget, shared by every worker: reservations taken atomically in the storage.

A trial may not start until it holds a reservation: an amount of the budget set aside for it,
taken atomically so that two workers can never both take the last of it. While it runs, its measured
spend is reported (``heartbeat``); when it nears what it holds it asks for more (``extend``), and
when none is left it is stopped. At the end the reservation is settled at the measured spend and the
rest goes back. A worker that dies leaves an open reservation whose heartbeat stops: any worker
``reclaim``s it after a timeout, charging the last spend it reported and returning the rest, so a
killed worker leaks no budget.

Stores: :class:`MemoryBudgetStore` (one process, for in-memory Optuna studies) and
:class:`SqlBudgetStore` (tables beside Optuna's own in the study's SQLite or PostgreSQL database;
``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on the budget row on PostgreSQL).
"""

from __future__ import annotations

import math
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Literal

from lowcarb.errors import InvalidValueError, UsageError

__all__ = [
    "BudgetState",
    "BudgetStore",
    "EnergyBudget",
    "MemoryBudgetStore",
    "Reservation",
]

BudgetUnit = Literal["kwh", "co2e_kg"]


@dataclass(frozen=True, slots=True)
class EnergyBudget:
    """A hard limit on what a whole study may spend, across all its workers.

    Attributes:
        limit: The limit, in ``unit``.
        unit: ``kwh`` (facility energy, device energy x PUE) or ``co2e_kg``.
    """

    limit: float
    unit: BudgetUnit

    def __post_init__(self) -> None:
        if self.unit not in ("kwh", "co2e_kg"):
            raise InvalidValueError(f"budget unit must be kwh or co2e_kg, got {self.unit!r}")
        if isinstance(self.limit, bool) or not math.isfinite(self.limit) or self.limit <= 0:
            what = "--budget-kwh" if self.unit == "kwh" else "--budget-co2e-kg"
            raise InvalidValueError(f"{what} must be a number > 0, got {self.limit!r}")

    @classmethod
    def of(cls, *, kwh: float | None = None, co2e_kg: float | None = None) -> EnergyBudget:
        """``EnergyBudget.of(kwh=0.5)`` or ``EnergyBudget.of(co2e_kg=0.2)``: exactly one."""
        if (kwh is None) == (co2e_kg is None):
            raise UsageError("give exactly one budget: --budget-kwh or --budget-co2e-kg")
        return cls(kwh, "kwh") if kwh is not None else cls(co2e_kg, "co2e_kg")  # type: ignore[arg-type]

    def label(self, amount: float | None = None) -> str:
        """``0.0123 kWh`` / ``0.0456 kg CO2e`` (the limit when ``amount`` is None)."""
        value = self.limit if amount is None else amount
        return f"{value:.4g} kWh" if self.unit == "kwh" else f"{value:.4g} kg CO2e"


@dataclass(frozen=True, slots=True)
class Reservation:
    """A share of the budget held by one running trial.

    Attributes:
        id: Unique id.
        study: Study name.
        trial: Optuna trial number (-1 until the trial is created).
        worker: Who holds it (host:pid).
        amount: What it holds, in the budget's unit.
        spent: The last measured spend it reported.
    """

    id: str
    study: str
    trial: int
    worker: str
    amount: float
    spent: float = 0.0


@dataclass(frozen=True, slots=True)
class BudgetState:
    """Where a study's budget stands.

    Attributes:
        limit: The budget.
        unit: Its unit.
        spent: Settled spend of finished (or reclaimed) trials.
        reserved: What open reservations hold.
        open: How many reservations are open.
    """

    limit: float
    unit: BudgetUnit
    spent: float
    reserved: float
    open: int

    @property
    def available(self) -> float:
        """What may still be reserved."""
        return max(0.0, self.limit - self.spent - self.reserved)


class BudgetStore(ABC):
    """Where a study's budget and its reservations live.

    Contract: every method is atomic with respect to every other worker using the same store (other
    threads, processes and machines); amounts are in the budget's unit; times are seconds on the
    caller's clock (``time.time()``: the same clock on every machine, within NTP). A study's budget
    is fixed when it is first opened: opening it again with another limit or unit is refused.
    """

    @abstractmethod
    def open(self, study: str, budget: EnergyBudget) -> BudgetState:
        """Create the study's budget, or check that the stored one is the same.

        Raises:
            UsageError: The study already has a different budget.
        """

    @abstractmethod
    def reserve(
        self, study: str, amount: float, *, worker: str, now: float, minimum: float = 0.0
    ) -> Reservation | None:
        """Set aside ``min(amount, available)``; None when less than ``minimum`` is left."""

    @abstractmethod
    def extend(
        self, reservation: Reservation, more: float, *, spent: float, now: float
    ) -> Reservation:
        """Add up to ``more`` (what is left) to a reservation; ``spent`` counts as a heartbeat."""

    @abstractmethod
    def heartbeat(self, reservation: Reservation, *, spent: float, now: float) -> None:
        """Record the measured spend so far (what a reclaim would charge)."""

    @abstractmethod
    def attach(self, reservation: Reservation, trial: int) -> Reservation:
        """Name the Optuna trial the reservation pays for."""

    @abstractmethod
    def settle(self, reservation: Reservation, *, spent: float) -> None:
        """Close the reservation: charge ``spent`` (all of it, even past the amount held)."""

    @abstractmethod
    def reclaim(self, study: str, *, older_than_s: float, now: float) -> list[Reservation]:
        """Close reservations whose last heartbeat is older than ``older_than_s``, charging the
        spend they last reported; returns them."""

    @abstractmethod
    def state(self, study: str) -> BudgetState:
        """The budget's state.

        Raises:
            UsageError: The study has no budget in this store.
        """


@dataclass
class _Open:
    reservation: Reservation
    beat: float


@dataclass
class _Study:
    budget: EnergyBudget
    spent: float = 0.0
    open: dict[str, _Open] = field(default_factory=dict)


class MemoryBudgetStore(BudgetStore):
    """A budget in this process's memory (for in-memory studies; threads share it safely)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, _Study] = {}

    def _study(self, study: str) -> _Study:
        found = self._studies.get(study)
        if found is None:
            raise UsageError(f"study {study!r} has no budget here; open it first")
        return found

    def open(self, study: str, budget: EnergyBudget) -> BudgetState:
        with self._lock:
            found = self._studies.setdefault(study, _Study(budget))
            _same_budget(study, found.budget, budget)
        return self.state(study)

    def reserve(
        self, study: str, amount: float, *, worker: str, now: float, minimum: float = 0.0
    ) -> Reservation | None:
        with self._lock:
            s = self._study(study)
            held = sum(o.reservation.amount for o in s.open.values())
            granted = min(amount, s.budget.limit - s.spent - held)
            if granted <= 0 or granted < minimum:
                return None
            r = Reservation(uuid.uuid4().hex, study, -1, worker, granted)
            s.open[r.id] = _Open(r, now)
            return r

    def extend(
        self, reservation: Reservation, more: float, *, spent: float, now: float
    ) -> Reservation:
        with self._lock:
            s = self._study(reservation.study)
            entry = s.open.get(reservation.id)
            if entry is None:
                return replace(reservation, spent=spent)
            held = sum(o.reservation.amount for o in s.open.values())
            granted = max(0.0, min(more, s.budget.limit - s.spent - held))
            entry.reservation = replace(
                entry.reservation, amount=entry.reservation.amount + granted, spent=spent
            )
            entry.beat = now
            return entry.reservation

    def heartbeat(self, reservation: Reservation, *, spent: float, now: float) -> None:
        with self._lock:
            s = self._study(reservation.study)
            entry = s.open.get(reservation.id)
            if entry is not None:
                entry.reservation = replace(entry.reservation, spent=spent)
                entry.beat = now

    def attach(self, reservation: Reservation, trial: int) -> Reservation:
        with self._lock:
            s = self._study(reservation.study)
            entry = s.open.get(reservation.id)
            attached = replace(reservation, trial=trial)
            if entry is not None:
                entry.reservation = replace(entry.reservation, trial=trial)
            return attached

    def settle(self, reservation: Reservation, *, spent: float) -> None:
        with self._lock:
            s = self._study(reservation.study)
            if s.open.pop(reservation.id, None) is not None:
                s.spent += max(0.0, spent)

    def reclaim(self, study: str, *, older_than_s: float, now: float) -> list[Reservation]:
        with self._lock:
            s = self._study(study)
            stale = [o for o in s.open.values() if now - o.beat > older_than_s]
            for o in stale:
                del s.open[o.reservation.id]
                s.spent += o.reservation.spent
            return [o.reservation for o in stale]

    def state(self, study: str) -> BudgetState:
        with self._lock:
            s = self._study(study)
            held = sum(o.reservation.amount for o in s.open.values())
            return BudgetState(s.budget.limit, s.budget.unit, s.spent, held, len(s.open))


def _same_budget(study: str, stored: EnergyBudget, given: EnergyBudget) -> None:
    if stored != given:
        raise UsageError(
            f"study {study!r} already has a budget of {stored.label()}, not {given.label()}; "
            "use that budget or another --study name"
        )
