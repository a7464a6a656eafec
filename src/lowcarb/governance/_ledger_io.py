"""What governance reads from and writes to the ledger: budget spend and verdicts.

Spend is the location-based CO2e the ledger recorded (corrections applied); training CO2e is
read by :func:`lowcarb.profiling.training_co2e`. A gate verdict is appended as a ``decision``
record carrying the verdict, the SHA-256 of every input it was computed from, and the budget
figures it saw, so an auditor can re-run it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcarb.governance._budget import BudgetStatus, period_bounds
from lowcarb.governance._policy import Budget
from lowcarb.governance._verdict import Verdict
from lowcarb.ledger import (
    Attribution,
    Ledger,
    RecordDraft,
    RecordFilter,
)

__all__ = [
    "GateInput",
    "budget_statuses",
    "decision_draft",
]


@dataclass(frozen=True, slots=True)
class GateInput:
    """One input of a verdict, identified by content.

    Attributes:
        role: ``policy``, ``candidate`` or ``baseline``.
        location: Where it was read (a file path, or ``models:/NAME/VERSION`` for MLflow).
        sha256: SHA-256 of the exact bytes the verdict was computed from, lowercase hex.
    """

    role: str
    location: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        """As plain JSON."""
        return {"location": self.location, "sha256": self.sha256}


def budget_statuses(
    ledger: Ledger, budgets: Iterable[Budget], *, now: datetime
) -> tuple[BudgetStatus, ...]:
    """Spend so far in each budget's current period, from the ledger.

    Raises:
        LedgerError: The ledger cannot be read.
    """
    out = []
    for b in budgets:
        start, end = period_bounds(b.period, now)
        flt = RecordFilter(team=b.team, project=b.project, since=start, until=end)
        total = ledger.totals("team", flt).total
        out.append(
            BudgetStatus(
                budget=b,
                period_start=start,
                period_end=end,
                spent_kg=total.location_co2e_g / 1000.0,
                records=total.records,
                source=f"ledger:{ledger.url}",
            )
        )
    return tuple(out)


def decision_draft(
    verdict: Verdict,
    *,
    inputs: Sequence[GateInput],
    budgets: Sequence[BudgetStatus] = (),
    team: str | None = None,
    project: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RecordDraft:
    """The ``decision`` record of a gate verdict (no footprint: a decision emits nothing itself).

    Metadata: ``{"gate": <verdict JSON>, "inputs": {role: {location, sha256}}, "budgets": [...]}``
    plus ``extra`` (e.g. the MLflow alias move).
    """
    c = verdict.candidate
    metadata: dict[str, Any] = {
        "gate": verdict.to_dict(),
        "inputs": {i.role: i.to_dict() for i in inputs},
        "budgets": [b.to_dict() for b in budgets],
    }
    metadata.update(extra or {})
    return RecordDraft(
        kind="decision",
        attribution=Attribution(
            team=team, project=project, model=c.model, model_version=c.version, stage="gate"
        ),
        metadata=metadata,
    )
