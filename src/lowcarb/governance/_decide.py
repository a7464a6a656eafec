"""Run the gate end to end: read and hash the inputs, check budgets, decide, record the verdict.

Fail-closed rules:

- When a budget applies to the candidate's team or project, spend must be read from the ledger:
  no ledger configured, a ledger that does not exist yet, or one that cannot be reached is an error
  (exit 2), never "nothing spent".
- When a ledger is configured, the verdict must be appended to it; if that fails the gate errors
  (exit 2) and nothing downstream (an MLflow alias move) happens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowcarb._files import read_input_bytes
from lowcarb.errors import DataError, LedgerError, PolicyError, ProfileError, UsageError
from lowcarb.governance._budget import BudgetStatus, applicable_budgets, enforce_budgets
from lowcarb.governance._gate import evaluate_gate
from lowcarb.governance._ledger_io import GateInput, budget_statuses, decision_draft
from lowcarb.governance._policy import Budget, PromotionPolicy
from lowcarb.governance._policy_yaml import parse_policy
from lowcarb.governance._verdict import Verdict
from lowcarb.profiling import Profile, parse_profile, sha256_hex

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger

__all__ = ["GateOutcome", "budget_report", "check_budgets", "decide", "gate_files"]


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """A verdict with its provenance.

    Attributes:
        verdict: The decision and its checks.
        inputs: The inputs, with their SHA-256.
        budgets: The budget figures the verdict saw.
        ledger: The ledger the verdict was recorded in (password hidden), or None.
        record_id: Id of the ``decision`` record, or None when no ledger was configured.
        extra: What else happened (e.g. an MLflow alias move).
    """

    verdict: Verdict
    inputs: tuple[GateInput, ...]
    budgets: tuple[BudgetStatus, ...] = ()
    ledger: str | None = None
    record_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``lowcarb gate --json`` object."""
        out = self.verdict.to_dict()
        out["inputs"] = {i.role: i.to_dict() for i in self.inputs}
        out["budgets"] = [b.to_dict() for b in self.budgets]
        out["ledger"] = self.ledger
        out["record_id"] = self.record_id
        out.update(self.extra)
        return out


def _read(path: str | Path, what: str, error: type[PolicyError] | type[ProfileError]) -> bytes:
    try:
        return read_input_bytes(path, what=what, max_bytes=1 << 20)
    except (DataError, UsageError) as exc:
        raise error(str(exc)) from None


def gate_files(
    *,
    policy: str | Path,
    candidate: str | Path,
    baseline: str | Path,
    ledger_url: str | None = None,
    team: str | None = None,
    project: str | None = None,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> GateOutcome:
    """``lowcarb gate --policy FILE --candidate FILE --baseline FILE``.

    Each file is read once; the verdict is computed from exactly the bytes that are hashed.

    Raises:
        PolicyError, UnknownRuleError: A bad policy.
        ProfileError: A bad profile, or a baseline with zero energy.
        UsageError: A budget applies but no ledger is configured.
        LedgerError: The ledger cannot be opened, read or written.
    """
    raw_policy = _read(policy, "policy", PolicyError)
    raw_candidate = _read(candidate, "candidate profile", ProfileError)
    raw_baseline = _read(baseline, "baseline profile", ProfileError)
    inputs = (
        GateInput("policy", str(policy), sha256_hex(raw_policy)),
        GateInput("candidate", str(candidate), sha256_hex(raw_candidate)),
        GateInput("baseline", str(baseline), sha256_hex(raw_baseline)),
    )
    return decide(
        parse_policy(raw_policy, source=str(policy)),
        parse_profile(raw_candidate, source=f"candidate profile {str(candidate)!r}"),
        parse_profile(raw_baseline, source=f"baseline profile {str(baseline)!r}"),
        inputs=inputs,
        ledger_url=ledger_url,
        team=team,
        project=project,
        now=now,
        environ=environ,
    )


def decide(
    policy: PromotionPolicy,
    candidate: Profile,
    baseline: Profile | None,
    *,
    inputs: tuple[GateInput, ...],
    ledger_url: str | None,
    team: str | None = None,
    project: str | None = None,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
    extra: Callable[[Verdict], Mapping[str, Any]] | None = None,
) -> GateOutcome:
    """Evaluate the gate and record the verdict (see the module docstring for failure rules).

    Args:
        policy: The policy.
        candidate: The candidate profile.
        baseline: The baseline profile, or None for a first version.
        inputs: The hashed inputs, recorded with the verdict.
        ledger_url: Ledger to check budgets in and record the verdict in; None: no ledger.
        team, project: Attribution (default: the candidate profile's ``team``/``project``).
        now: Decision time (default: now, UTC).
        environ: Environment for the ledger (signing key).
        extra: Given the verdict, more metadata to record and report (e.g. an alias move).
    """
    from lowcarb.ledger import open_ledger

    when = now or datetime.now(UTC)
    team = team or candidate.team
    project = project or candidate.project
    charged = applicable_budgets(policy.budgets, team=team, project=project)
    if not ledger_url:
        if charged:
            scopes = "; ".join(b.scope for b in charged)
            raise UsageError(
                f"the policy's carbon budget for {scopes} must be checked against the ledger, but "
                "no ledger is configured; pass --ledger URL or set LOWCARB_LEDGER (the gate "
                "fails closed)"
            )
        verdict = evaluate_gate(policy, candidate, baseline, now=when)
        return GateOutcome(verdict, inputs, extra=dict(extra(verdict)) if extra else {})
    try:
        # An existing ledger is required to prove spend: a typo in the URL must not create an
        # empty ledger that reports nothing spent.
        ledger = open_ledger(
            ledger_url, environ=os.environ if environ is None else environ, create=not charged
        )
    except LedgerError as exc:
        what = (
            f"cannot check the carbon budget for {'; '.join(b.scope for b in charged)}"
            if charged
            else "cannot record the verdict"
        )
        raise type(exc)(f"{what}: {exc}; the gate fails closed") from exc
    with ledger:
        statuses = budget_statuses(ledger, charged, now=when)
        verdict = evaluate_gate(policy, candidate, baseline, now=when, budgets=statuses)
        more = dict(extra(verdict)) if extra else {}
        record = ledger.append(
            decision_draft(
                verdict, inputs=inputs, budgets=statuses, team=team, project=project, extra=more
            )
        )
        return GateOutcome(verdict, inputs, statuses, ledger.url, record.id, more)


def _scopes(budgets: Sequence[Budget]) -> str:
    """The distinct scopes of ``budgets`` (a team with a month and a year budget is named once)."""
    return "; ".join(dict.fromkeys(b.scope for b in budgets))


def _open_for_budgets(
    ledger_url: str | None, scopes: str, environ: Mapping[str, str] | None
) -> Ledger:
    from lowcarb.ledger import open_ledger

    if not ledger_url:
        raise UsageError(
            f"carbon budgets ({scopes}) are read from the ledger, but no ledger is configured; "
            "pass --ledger URL or set LOWCARB_LEDGER"
        )
    try:
        return open_ledger(
            ledger_url, environ=os.environ if environ is None else environ, create=False
        )
    except LedgerError as exc:
        raise type(exc)(f"cannot read carbon budgets ({scopes}): {exc}") from exc


def budget_report(
    policy: PromotionPolicy,
    *,
    ledger_url: str | None,
    team: str | None = None,
    project: str | None = None,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[BudgetStatus, ...]:
    """Status of the policy's budgets (``lowcarb budget status``), optionally for one team/project.

    Raises:
        UsageError: No ledger configured, or the policy has no budgets.
        LedgerError: The ledger does not exist or cannot be read.
    """
    budgets = policy.budgets
    if team is not None or project is not None:
        budgets = tuple(
            b
            for b in budgets
            if (team is None or b.team == team) and (project is None or b.project == project)
        )
    if not budgets:
        raise UsageError(
            "the policy has no carbon budgets"
            + (f" for team={team} project={project}" if team or project else "")
            + "; add a `budgets:` list, e.g. [{team: vision, period: month, co2e_kg: 200}]"
        )
    when = now or datetime.now(UTC)
    with _open_for_budgets(ledger_url, _scopes(budgets), environ) as ledger:
        return budget_statuses(ledger, budgets, now=when)


def check_budgets(
    policy: PromotionPolicy,
    *,
    ledger_url: str | None,
    team: str | None,
    project: str | None,
    co2e_kg: float,
    what: str = "this work",
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[tuple[BudgetStatus, ...], list[str]]:
    """Before a run or submission: warn or refuse when ``co2e_kg`` more would exceed a budget.

    Returns:
        The statuses checked and the warnings of ``on_exceed: warn`` budgets (empty when no
        budget applies to ``team``/``project``: then the ledger is not opened).

    Raises:
        BudgetExceededError: A ``refuse`` budget would be exceeded (exit status 1).
        UsageError: A budget applies but no ledger is configured.
        LedgerError: The ledger does not exist or cannot be read (fail closed).
    """
    charged = applicable_budgets(policy.budgets, team=team, project=project)
    if not charged:
        return (), []
    when = now or datetime.now(UTC)
    with _open_for_budgets(ledger_url, _scopes(charged), environ) as ledger:
        statuses = budget_statuses(ledger, charged, now=when)
    return statuses, enforce_budgets(statuses, co2e_kg=co2e_kg, what=what)
