"""The promotion gate: a candidate profile against a baseline, under a policy.

Boundary semantics (every limit is inclusive):

- ``max_energy_increase_pct: 5`` promotes +5.0 % and rejects anything above; an energy rise past
  the limit is *excused* when the accuracy gain, in percentage points, is at least
  ``min_accuracy_gain_pts_to_exceed`` (a gain exactly at the threshold excuses).
- ``max_flops_increase_pct``, ``max_latency_p95_ms``, ``max_training_co2e_kg``,
  ``max_energy_per_1k_j``, ``max_size_bytes``, ``min_accuracy``, ``max_accuracy_drop_pts`` each
  reject on their own.
- A candidate whose FLOPs or training CO2e is unknown (null) fails the rule that needs it: the
  gate cannot show it is within the limit. A baseline with unknown FLOPs skips the FLOPs rule
  (nothing to compare with), with a warning.
- A baseline with zero energy or zero FLOPs makes a percent change undefined: that is bad input
  (:class:`~lowcarb.errors.ProfileError`), not a verdict.
- A failed rule with an active, matching override is *overridden* (recorded with approver,
  reason and expiry) and does not reject; an expired override is ignored with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lowcarb.errors import InvalidValueError, ProfileError
from lowcarb.governance._budget import BudgetStatus
from lowcarb.governance._policy import BUDGET_RULE, Policy
from lowcarb.governance._profile import Profile
from lowcarb.governance._verdict import Check, CheckStatus, Decision, Verdict

__all__ = ["evaluate_gate"]


# Profiles carry binary floats: (1050.0 - 1000.0) / 1000.0 * 100 may come out as
# 5.000000000000004, and 0.57 - 0.56 as 0.009999999999999898. A value "at" a limit must decide as
# the policy says, not as the representation error says, so comparisons allow 1e-9 relative slack,
# far below any difference a profile can measure.
_REL_TOL = 1e-9


def _above(value: float, limit: float) -> bool:
    return value > limit + _REL_TOL * max(1.0, abs(limit))


def _below(value: float, limit: float) -> bool:
    return value < limit - _REL_TOL * max(1.0, abs(limit))


def _pct_change(candidate: float, baseline: float) -> float:
    return (candidate - baseline) / baseline * 100.0


def _energy_checks(policy: Policy, c: Profile, b: Profile | None) -> list[Check]:
    out: list[Check] = []
    if policy.rules.get("require_measured_energy") is True:
        estimated = [p.label for p in (c, b) if p is not None and p.energy_method != "measured"]
        if estimated:
            out.append(
                Check(
                    "require_measured_energy", "fail",
                    f"energy of {', '.join(estimated)} is estimated (a power model); the policy "
                    "requires measured energy (hardware counters such as RAPL or NVML)",
                    True, c.energy_method,
                )
            )  # fmt: skip
        else:
            out.append(
                Check(
                    "require_measured_energy", "pass", "energy is measured", True, c.energy_method
                )
            )
    limit = policy.rules.get("max_energy_increase_pct")
    if isinstance(limit, float | int) and not isinstance(limit, bool):
        if b is None:
            out.append(
                Check("max_energy_increase_pct", "skipped", "no baseline to compare with", limit)
            )
        else:
            if b.energy_per_1k_j == 0:
                raise ProfileError(
                    f"baseline {b.label} has energy_per_1k_j = 0, so a percent change is "
                    "undefined; re-profile the baseline (`lowcarb profile`) with a longer window"
                )
            pct = _pct_change(c.energy_per_1k_j, b.energy_per_1k_j)
            change = (
                f"energy per 1k inferences {pct:+.2f}% ({b.energy_per_1k_j:.4g} J -> "
                f"{c.energy_per_1k_j:.4g} J)"
            )
            if not _above(pct, limit):
                out.append(
                    Check(
                        "max_energy_increase_pct", "pass", f"{change}, within the {limit:g}% limit",
                        limit, pct, "%",
                    )
                )  # fmt: skip
            else:
                excuse = policy.rules.get("min_accuracy_gain_pts_to_exceed")
                gain = (c.accuracy - b.accuracy) * 100.0
                if isinstance(excuse, float | int) and not _below(gain, float(excuse)):
                    out.append(
                        Check(
                            "max_energy_increase_pct", "excused",
                            f"{change}, above the {limit:g}% limit but excused by an accuracy "
                            f"gain of {gain:+.2f} pts (>= {excuse:g} pts)",
                            limit, pct, "%",
                        )
                    )  # fmt: skip
                else:
                    why = (
                        f"; the accuracy gain of {gain:+.2f} pts is below the {excuse:g} pts "
                        "that would excuse it"
                        if isinstance(excuse, float | int)
                        else ""
                    )
                    out.append(
                        Check(
                            "max_energy_increase_pct", "fail",
                            f"{change}, above the {limit:g}% limit{why}", limit, pct, "%",
                        )
                    )  # fmt: skip
    cap = policy.rules.get("max_energy_per_1k_j")
    if isinstance(cap, float | int) and not isinstance(cap, bool):
        v = c.energy_per_1k_j
        ok = not _above(v, cap)
        out.append(
            Check(
                "max_energy_per_1k_j", "pass" if ok else "fail",
                f"energy per 1k inferences {v:.4g} J {'within' if ok else 'above'} the "
                f"{cap:g} J limit", cap, v, "J",
            )
        )  # fmt: skip
    return out


def _flops_check(limit: float, c: Profile, b: Profile | None) -> tuple[Check, str | None]:
    rule = "max_flops_increase_pct"
    if b is None:
        return Check(rule, "skipped", "no baseline to compare with", limit), None
    if c.flops is None:
        return (
            Check(
                rule, "fail",
                f"FLOPs of {c.label} are unknown ({c.flops_note or 'not derivable'}), so the "
                f"{limit:g}% limit cannot be shown to hold", limit, None, "%",
            ),
            None,
        )  # fmt: skip
    if b.flops is None:
        msg = f"baseline {b.label} has no FLOPs count; the FLOPs rule was not applied"
        return Check(rule, "skipped", msg, limit), msg
    if b.flops == 0:
        raise ProfileError(
            f"baseline {b.label} has flops = 0, so a percent change is undefined; use null for "
            "models whose FLOPs are not derivable"
        )
    pct = _pct_change(c.flops, b.flops)
    ok = not _above(pct, limit)
    return (
        Check(
            rule, "pass" if ok else "fail",
            f"FLOPs per inference {pct:+.2f}% ({b.flops:.4g} -> {c.flops:.4g}), "
            f"{'within' if ok else 'above'} the {limit:g}% limit", limit, pct, "%",
        ),
        None,
    )  # fmt: skip


def _absolute_checks(policy: Policy, c: Profile, b: Profile | None) -> list[Check]:
    out: list[Check] = []
    r = policy.rules
    if (lim := r.get("max_latency_p95_ms")) is not None:
        v = c.latency_p95_ms
        ok = not _above(v, float(lim))
        out.append(
            Check(
                "max_latency_p95_ms", "pass" if ok else "fail",
                f"p95 latency {v:.3f} ms {'within' if ok else 'above'} the {lim:g} ms limit",
                lim, v, "ms",
            )
        )  # fmt: skip
    if (lim := r.get("max_training_co2e_kg")) is not None:
        t = c.training_co2e_kg
        if t is None:
            out.append(
                Check(
                    "max_training_co2e_kg", "fail",
                    f"training CO2e of {c.label} is unknown (no ledger records), so the "
                    f"{lim:g} kg limit cannot be shown to hold", lim, None, "kg",
                )
            )  # fmt: skip
        else:
            ok = not _above(t, float(lim))
            out.append(
                Check(
                    "max_training_co2e_kg", "pass" if ok else "fail",
                    f"training CO2e {t:.4g} kg {'within' if ok else 'above'} the {lim:g} kg limit",
                    lim, t, "kg",
                )
            )  # fmt: skip
    if (lim := r.get("min_accuracy")) is not None:
        ok = not _below(c.accuracy, float(lim))
        out.append(
            Check(
                "min_accuracy", "pass" if ok else "fail",
                f"accuracy {c.accuracy:.4f} {'meets' if ok else 'below'} the {lim:g} floor",
                lim, c.accuracy,
            )
        )  # fmt: skip
    if (lim := r.get("max_accuracy_drop_pts")) is not None:
        if b is None:
            out.append(Check("max_accuracy_drop_pts", "skipped", "no baseline", lim))
        else:
            drop = (b.accuracy - c.accuracy) * 100.0
            ok = not _above(drop, float(lim))
            out.append(
                Check(
                    "max_accuracy_drop_pts", "pass" if ok else "fail",
                    f"accuracy change {-drop:+.2f} pts ({b.accuracy:.4f} -> {c.accuracy:.4f}), "
                    f"{'within' if ok else 'beyond'} the {lim:g} pts allowed drop",
                    lim, drop, "pts",
                )
            )  # fmt: skip
    if (lim := r.get("max_size_bytes")) is not None:
        ok = not _above(c.size_bytes, float(lim))
        out.append(
            Check(
                "max_size_bytes", "pass" if ok else "fail",
                f"size {c.size_bytes} bytes {'within' if ok else 'above'} the {lim:g} limit",
                lim, c.size_bytes, "bytes",
            )
        )  # fmt: skip
    return out


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
    policy: Policy,
    candidate: Profile,
    baseline: Profile | None,
    *,
    now: datetime,
    budgets: Sequence[BudgetStatus] = (),
) -> Verdict:
    """Decide whether ``candidate`` may replace ``baseline`` (see the module docstring).

    Args:
        policy: The validated policy.
        candidate: The candidate's profile.
        baseline: The current model's profile; None when there is none (relative rules skip).
        now: Decision time (timezone-aware), used for override expiry.
        budgets: Status of the carbon budgets the candidate's team/project is charged to.

    Returns:
        The verdict; ``reject`` when any check fails.

    Raises:
        ProfileError: The baseline's energy or FLOPs is zero (a percent change is undefined).
        InvalidValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise InvalidValueError(f"now must be timezone-aware, got {now!r}")
    warnings: list[str] = []
    checks = _energy_checks(policy, candidate, baseline)
    flops_limit = policy.rules.get("max_flops_increase_pct")
    if flops_limit is not None:
        check, warning = _flops_check(float(flops_limit), candidate, baseline)
        checks.append(check)
        if warning:
            warnings.append(warning)
    checks += _absolute_checks(policy, candidate, baseline)
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
    check: Check, policy: Policy, candidate: Profile, now: datetime, warnings: list[str]
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
