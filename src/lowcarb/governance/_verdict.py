"""Gate verdicts: one :class:`Check` per rule, and the :class:`Verdict` they add up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from lowcarb.governance._policy import Override
from lowcarb.profiling import Profile

__all__ = ["Check", "CheckStatus", "Decision", "Verdict"]

Decision = Literal["promote", "reject"]
#: ``pass``; ``fail`` (rejects); ``excused`` (energy rise paid for by accuracy); ``overridden``
#: (an approved override); ``skipped`` (cannot apply, e.g. no baseline); ``warn`` (a soft budget).
CheckStatus = Literal["pass", "fail", "excused", "overridden", "skipped", "warn"]


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one rule.

    Attributes:
        rule: Rule name (``budget`` for a carbon budget).
        status: See :data:`CheckStatus`.
        message: One human sentence saying what was compared and why it passed or failed.
        limit: The policy's limit, if the rule has one.
        actual: The candidate's value the limit was compared with.
        unit: Unit of ``limit`` and ``actual`` (``%``, ``ms``, ``kg``, ``pts``, ...).
        override: The override that waived a failure, for ``overridden``.
    """

    rule: str
    status: CheckStatus
    message: str
    limit: float | bool | None = None
    actual: float | str | None = None
    unit: str = ""
    override: Override | None = None

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "status": self.status,
            "message": self.message,
            "limit": self.limit,
            "actual": self.actual,
            "unit": self.unit,
        }
        if self.override is not None:
            out["override"] = self.override.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """A gate decision with the checks that produced it.

    Attributes:
        decision: ``promote`` or ``reject``.
        checks: One per rule evaluated, in policy order.
        candidate: The candidate profile.
        baseline: The baseline profile (None when there is none yet, e.g. a first version).
        policy_name: Name of the policy applied.
        decided_at: When the verdict was made, UTC.
        warnings: Caveats that do not change the decision.
    """

    decision: Decision
    checks: tuple[Check, ...]
    candidate: Profile
    baseline: Profile | None
    policy_name: str
    decided_at: datetime
    warnings: tuple[str, ...] = field(default=())

    @property
    def violations(self) -> tuple[Check, ...]:
        """The failed checks (the reasons for a reject)."""
        return tuple(c for c in self.checks if c.status == "fail")

    @property
    def overridden(self) -> tuple[Check, ...]:
        """Failed checks waived by an approved override."""
        return tuple(c for c in self.checks if c.status == "overridden")

    def to_dict(self) -> dict[str, Any]:
        """The ``lowcarb gate --json`` object: ``decision``, ``violations`` and the detail."""
        b = self.baseline
        return {
            "decision": self.decision,
            "violations": [
                {k: v for k, v in c.to_dict().items() if k != "status"} for c in self.violations
            ],
            "checks": [c.to_dict() for c in self.checks],
            "overrides_applied": [c.override.to_dict() for c in self.overridden if c.override],
            "warnings": list(self.warnings),
            "candidate": {"model": self.candidate.model, "version": self.candidate.version},
            "baseline": None if b is None else {"model": b.model, "version": b.version},
            "policy": self.policy_name,
            "decided_at": self.decided_at.isoformat(),
        }
