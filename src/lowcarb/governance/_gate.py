"""The promotion gate: a candidate profile against a baseline, under a policy.

The gate walks a table of rules (:data:`~lowcarb.governance.GATE_RULES`, one small class per
rule; their boundary semantics are in :mod:`lowcarb.governance._rules`), then the carbon budgets.

- A failed rule with an active, matching override is *overridden* (recorded with approver,
  reason and expiry) and does not reject; an expired override is ignored with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lowcarb.errors import InvalidValueError
from lowcarb.governance._budget import BudgetStatus
from lowcarb.governance._policy import BUDGET_RULE, PromotionPolicy
from lowcarb.governance._rule import GateRule
from lowcarb.governance._rules import GATE_RULES
from lowcarb.governance._verdict import Check, CheckStatus, Decision, Verdict
from lowcarb.profiling import Profile

__all__ = ["evaluate_gate"]


def _rule_checks(
    rules: Sequence[GateRule], policy: PromotionPolicy, c: Profile, b: Profile | None
) -> tuple[list[Check], list[str]]:
    checks: list[Check] = []
    warnings: list[str] = []
    for rule in rules:
        limit = policy.rules.get(rule.name)
        if limit is None or not rule.applies(limit):
            continue
        result = rule.check(limit, c, b, policy.rules)
        checks.append(result.check)
        if result.warning:
            warnings.append(result.warning)
    return checks, warnings


def _budget_checks(statuses: Sequence[BudgetStatus]) -> list[Check]:
    out: list[Check] = []
    for s in statuses:
        b = s.budget
        state = s.state
        if state == "exhausted":
            status: CheckStatus = "fail" if b.on_exceed == "refuse" else "warn"
            msg = f"carbon budget spent: {s.describe()}"
        elif state == "warning":
            status, msg = "warn", f"carbon budget nearly spent: {s.describe()}"
        else:
            status, msg = "pass", f"carbon budget {s.describe()}"
        out.append(Check(BUDGET_RULE, status, msg, b.co2e_kg, s.spent_kg, "kg"))
    return out


def evaluate_gate(
    policy: PromotionPolicy,
    candidate: Profile,
    baseline: Profile | None,
    *,
    now: datetime,
    budgets: Sequence[BudgetStatus] = (),
    rules: Sequence[GateRule] = GATE_RULES,
) -> Verdict:
    """Decide whether ``candidate`` may replace ``baseline`` (see the module docstring).

    Args:
        policy: The validated policy.
        candidate: The candidate's profile.
        baseline: The current model's profile; None when there is none (relative rules skip).
        now: Decision time (timezone-aware), used for override expiry.
        budgets: Status of the carbon budgets the candidate's team/project is charged to.
        rules: The rules to apply, in order (default :data:`GATE_RULES`).

    Returns:
        The verdict; ``reject`` when any check fails.

    Raises:
        ProfileError: The baseline's energy or FLOPs is zero (a percent change is undefined).
        InvalidValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise InvalidValueError(f"now must be timezone-aware, got {now!r}")
    checks, warnings = _rule_checks(rules, policy, candidate, baseline)
    checks += _budget_checks(budgets)
    checks = [_apply_overrides(c, policy, candidate, now, warnings) for c in checks]
    warnings += [c.message for c in checks if c.status == "warn"]
    if baseline is not None and baseline.energy_method != candidate.energy_method:
        warnings.append(
            f"energy of {candidate.label} is {candidate.energy_method} but of {baseline.label} "
            f"is {baseline.energy_method}: the comparison mixes a model with counters"
        )
    if (
        baseline is not None
        and baseline.host
        and candidate.host
        and baseline.host != candidate.host
    ):
        warnings.append(
            f"profiles were measured on different machines ({baseline.host} and "
            f"{candidate.host}); energy and latency may not be comparable"
        )
    decision: Decision = "reject" if any(c.status == "fail" for c in checks) else "promote"
    return Verdict(decision, tuple(checks), candidate, baseline, policy.name, now, tuple(warnings))


def _apply_overrides(
    check: Check, policy: PromotionPolicy, candidate: Profile, now: datetime, warnings: list[str]
) -> Check:
    if check.status != "fail":
        return check
    for o in policy.overrides:
        if not o.matches(rule=check.rule, model=candidate.model, version=candidate.version):
            continue
        if not o.active(now):
            warnings.append(
                f"override of {o.rule} approved by {o.approver} expired at "
                f"{o.expires_at.isoformat()}; not applied"
            )
            continue
        return Check(
            check.rule,
            "overridden",
            f"{check.message}; overridden by {o.approver} until {o.expires_at.isoformat()}: "
            f"{o.reason}",
            check.limit,
            check.actual,
            check.unit,
            o,
        )
    return check
