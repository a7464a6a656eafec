"""Carbon budgets: calendar periods, spend so far, and warn-or-refuse.

Spend is what the ledger records (location-based CO2e of every record with a footprint charged to
the budget's team and/or project, corrections applied) with a timestamp inside the current period.
Periods are calendar periods in UTC: a day, an ISO week from Monday, a month, a quarter, a year.

A budget is *exhausted* when its spend has reached the limit (spent >= limit); new work of
``co2e_kg`` *would exceed* it when spent + co2e_kg > limit. ``on_exceed: refuse`` makes it hard
(gates reject, :func:`enforce_budgets` raises); ``on_exceed: warn`` only warns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from lowcarb.errors import BudgetExceededError, InvalidValueError
from lowcarb.governance._policy import Budget, Period

__all__ = [
    "BudgetState",
    "BudgetStatus",
    "applicable_budgets",
    "enforce_budgets",
    "period_bounds",
]

log = logging.getLogger(__name__)

BudgetState = Literal["ok", "warning", "exhausted"]


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The calendar period containing ``now``, as ``[start, end)`` in UTC.

    Raises:
        InvalidValueError: ``now`` is naive, or ``period`` unknown.
    """
    if now.tzinfo is None:
        raise InvalidValueError(f"now must be timezone-aware, got {now!r}")
    t = now.astimezone(UTC)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        return start, _add_months(start, 1)
    if period == "quarter":
        start = day.replace(day=1, month=3 * ((t.month - 1) // 3) + 1)
        return start, _add_months(start, 3)
    if period == "year":
        start = day.replace(day=1, month=1)
        return start, start.replace(year=start.year + 1)
    raise InvalidValueError(f"period must be day, week, month, quarter or year, got {period!r}")


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    return start.replace(year=start.year + index // 12, month=index % 12 + 1)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """How much of one budget the current period has used.

    Attributes:
        budget: The budget.
        period_start: Start of the current period, UTC (inclusive).
        period_end: End of the current period, UTC (exclusive).
        spent_kg: CO2e recorded in the period, kg.
        records: Ledger records summed.
        source: Where the spend came from (the ledger URL, password redacted).
    """

    budget: Budget
    period_start: datetime
    period_end: datetime
    spent_kg: float
    records: int
    source: str

    @property
    def remaining_kg(self) -> float:
        """Limit minus spend, kg (negative once overspent)."""
        return self.budget.co2e_kg - self.spent_kg

    @property
    def used_pct(self) -> float:
        """Spend as a share of the limit, %."""
        return 100.0 * self.spent_kg / self.budget.co2e_kg

    @property
    def state(self) -> BudgetState:
        """``exhausted`` (spent >= limit), ``warning`` (>= warn_at_pct) or ``ok``."""
        if self.spent_kg >= self.budget.co2e_kg:
            return "exhausted"
        if self.used_pct >= self.budget.warn_at_pct:
            return "warning"
        return "ok"

    def would_exceed(self, co2e_kg: float) -> bool:
        """Whether adding ``co2e_kg`` more takes spend past the limit."""
        return self.spent_kg + co2e_kg > self.budget.co2e_kg

    def describe(self) -> str:
        """One line, e.g. ``team=vision month 2025-06: 180.0 of 200 kg (90%)``."""
        b = self.budget
        return (
            f"{b.scope} {b.period} from {self.period_start:%Y-%m-%d}: "
            f"{self.spent_kg:.3f} of {b.co2e_kg:g} kg CO2e ({self.used_pct:.1f}%)"
        )

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (the rows of ``lowcarb budget status --json``)."""
        b = self.budget
        return {
            "team": b.team,
            "project": b.project,
            "scope": b.scope,
            "period": b.period,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "limit_co2e_kg": b.co2e_kg,
            "spent_co2e_kg": self.spent_kg,
            "remaining_co2e_kg": self.remaining_kg,
            "used_pct": self.used_pct,
            "state": self.state,
            "on_exceed": b.on_exceed,
            "warn_at_pct": b.warn_at_pct,
            "records": self.records,
            "source": self.source,
        }


def applicable_budgets(
    budgets: Iterable[Budget], *, team: str | None, project: str | None
) -> tuple[Budget, ...]:
    """The budgets that work attributed to ``team``/``project`` is charged to."""
    return tuple(b for b in budgets if b.applies_to(team=team, project=project))


def enforce_budgets(
    statuses: Sequence[BudgetStatus], *, co2e_kg: float, what: str = "this work"
) -> list[str]:
    """Refuse or warn when ``co2e_kg`` more would exceed a budget.

    Args:
        statuses: Current status of the budgets the work is charged to.
        co2e_kg: Expected CO2e of the run or submission, kg (0 for "is anything left?").
        what: How to name the work in messages.

    Returns:
        Warnings (for ``on_exceed: warn`` budgets that would be exceeded), also logged.

    Raises:
        BudgetExceededError: A ``refuse`` budget would be exceeded (or is already exhausted).
        InvalidValueError: ``co2e_kg`` negative.
    """
    if not co2e_kg >= 0:
        raise InvalidValueError(f"co2e_kg must be >= 0, got {co2e_kg!r}")
    warnings: list[str] = []
    for s in statuses:
        over = s.would_exceed(co2e_kg) if co2e_kg > 0 else s.state == "exhausted"
        if not over:
            continue
        msg = (
            f"{what} ({co2e_kg:.3f} kg CO2e) would exceed the carbon budget {s.describe()}"
            if co2e_kg > 0
            else f"the carbon budget is spent: {s.describe()}"
        )
        if s.budget.on_exceed == "refuse":
            raise BudgetExceededError(
                msg + "; ask for an approved override or wait for the next period"
            )
        log.warning("%s", msg)
        warnings.append(msg)
    return warnings
