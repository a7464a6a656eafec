"""Policy as code: promotion rules, carbon budgets and recorded overrides, from YAML.

A policy file (DESIGN.md, ``lowcarb gate``)::

    version: 1
    name: production
    rules:
      max_energy_increase_pct: 5          # energy per 1k inferences may rise at most 5 % ...
      min_accuracy_gain_pts_to_exceed: 1  # ... unless accuracy gains >= 1 percentage point
      max_flops_increase_pct: 15
      max_latency_p95_ms: 50
      max_training_co2e_kg: 20
      require_measured_energy: false
    budgets:
      - {team: vision, period: month, co2e_kg: 200, on_exceed: refuse}
    overrides:
      - rule: max_latency_p95_ms
        model: detector
        version: "7"
        approver: alice@example.com
        reason: latency SLO renegotiated, ticket OPS-123
        expires: 2025-07-01

Validation is strict: an unknown key or rule is refused with a close-match hint; a key given
twice, an excuse threshold without the energy rule it excuses, two budgets for one scope and
period, or an override of a rule the policy does not set is refused as contradictory. Every
message names the key (``rules.max_latency_p95_ms``) and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from lowcarb.errors import UnknownRuleError

__all__ = [
    "BUDGET_RULE",
    "RULES",
    "Budget",
    "BudgetAction",
    "Override",
    "Period",
    "PromotionPolicy",
]

Period = Literal["day", "week", "month", "quarter", "year"]
BudgetAction = Literal["warn", "refuse"]
_PERIODS: tuple[Period, ...] = ("day", "week", "month", "quarter", "year")

#: The pseudo-rule name overrides use to waive a carbon budget.
BUDGET_RULE = "budget"


@dataclass(frozen=True, slots=True)
class _RuleSpec:
    kind: Literal["number", "int", "bool"]
    lo: float | None
    hi: float | None
    lo_open: bool
    doc: str


#: Every rule a policy may set: name -> what it means. Relative rules compare with the baseline.
RULES: dict[str, _RuleSpec] = {
    "max_energy_increase_pct": _RuleSpec(
        "number", -100, None, False, "energy per 1k inferences may rise at most this many %"
    ),
    "min_accuracy_gain_pts_to_exceed": _RuleSpec(
        "number", 0, 100, True, "accuracy gain (percentage points) that excuses an energy rise"
    ),
    "max_flops_increase_pct": _RuleSpec(
        "number", -100, None, False, "FLOPs per inference may rise at most this many %"
    ),
    "max_latency_p95_ms": _RuleSpec("number", 0, None, True, "p95 latency at batch 1, ms"),
    "max_training_co2e_kg": _RuleSpec("number", 0, None, False, "training CO2e, kg"),
    "require_measured_energy": _RuleSpec(
        "bool", None, None, False, "energy must come from hardware counters, not a model"
    ),
    "min_accuracy": _RuleSpec("number", 0, 1, False, "held-out accuracy floor, 0..1"),
    "max_accuracy_drop_pts": _RuleSpec(
        "number", 0, 100, False, "accuracy may fall at most this many percentage points"
    ),
    "max_energy_per_1k_j": _RuleSpec("number", 0, None, True, "energy per 1k inferences, J"),
    "max_size_bytes": _RuleSpec("int", 0, None, True, "model size on disk, bytes"),
}


@dataclass(frozen=True, slots=True)
class Budget:
    """A carbon budget for a team and/or a project over a calendar period (UTC).

    Attributes:
        team: Team charged, or None for any team.
        project: Project charged, or None for any project (at least one of the two is set).
        period: ``day``, ``week`` (ISO, from Monday), ``month``, ``quarter`` or ``year``.
        co2e_kg: Limit for one period, kg CO2e (location-based, as recorded in the ledger).
        on_exceed: ``refuse`` (a hard budget: gates reject, submissions are refused) or ``warn``.
        warn_at_pct: Share of the limit from which status reports a warning, %.
    """

    team: str | None
    project: str | None
    period: Period
    co2e_kg: float
    on_exceed: BudgetAction = "refuse"
    warn_at_pct: float = 80.0

    @property
    def scope(self) -> str:
        """Human-readable scope, e.g. ``team=vision`` or ``team=vision,project=detector``."""
        parts = [f"team={self.team}"] if self.team else []
        if self.project:
            parts.append(f"project={self.project}")
        return ", ".join(parts)

    def applies_to(self, *, team: str | None, project: str | None) -> bool:
        """Whether work attributed to ``team``/``project`` is charged to this budget."""
        if self.team is not None and self.team != team:
            return False
        return self.project is None or self.project == project


@dataclass(frozen=True, slots=True)
class Override:
    """An approved, recorded, expiring exception to one rule.

    Attributes:
        rule: The rule waived (a name in :data:`RULES`, or ``budget``).
        approver: Who approved it.
        reason: Why (a ticket, a justification).
        expires_at: When it stops applying, UTC. A bare date means the end of that day, UTC.
        model: Model it applies to, or None for any model.
        version: Model version it applies to, or None for any version.
    """

    rule: str
    approver: str
    reason: str
    expires_at: datetime
    model: str | None = None
    version: str | None = None

    def matches(self, *, rule: str, model: str, version: str) -> bool:
        """Whether this override is for ``rule`` on ``model@version`` (ignoring expiry)."""
        return (
            self.rule == rule
            and (self.model is None or self.model == model)
            and (self.version is None or self.version == version)
        )

    def active(self, now: datetime) -> bool:
        """Whether it has not expired at ``now``."""
        return now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON."""
        return {
            "rule": self.rule,
            "approver": self.approver,
            "reason": self.reason,
            "expires_at": self.expires_at.isoformat(),
            "model": self.model,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    """A validated policy.

    Attributes:
        rules: Rule name -> limit (numbers) or flag (``require_measured_energy``).
        budgets: Carbon budgets.
        overrides: Recorded exceptions.
        name: Policy name (for reports and the ledger).
        description: Free text.
    """

    rules: Mapping[str, float | bool] = field(default_factory=dict)
    budgets: tuple[Budget, ...] = ()
    overrides: tuple[Override, ...] = ()
    name: str = "policy"
    description: str = ""

    def rule(self, name: str) -> float | bool | None:
        """The rule's value, or None when the policy does not set it."""
        if name not in RULES:
            raise UnknownRuleError(name, RULES)
        return self.rules.get(name)
