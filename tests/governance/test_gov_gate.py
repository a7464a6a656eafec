"""Gate decisions: boundary semantics, each rule rejecting alone, excuses, overrides, budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lowcarb.errors import ProfileError
from lowcarb.governance import (
    GATE_RULES,
    RULES,
    Budget,
    BudgetStatus,
    PromotionPolicy,
    ThresholdRule,
    evaluate_gate,
    parse_policy,
)
from lowcarb.profiling import Profile, profile_from_dict

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
ALL_RULES = """
rules:
  max_energy_increase_pct: 5
  min_accuracy_gain_pts_to_exceed: 1
  max_flops_increase_pct: 15
  max_latency_p95_ms: 50
  max_training_co2e_kg: 20
  require_measured_energy: true
  min_accuracy: 0.8
  max_accuracy_drop_pts: 0.5
  max_energy_per_1k_j: 5000
  max_size_bytes: 1000000
"""


def _profile(**changes: Any) -> Profile:
    data: dict[str, Any] = {
        "model": "fraud",
        "version": "1",
        "accuracy": 0.9,
        "latency_p95_ms": 10.0,
        "energy_per_1k_j": 1000.0,
        "energy_method": "measured",
        "flops": 1000.0,
        "size_bytes": 1000,
        "training_co2e_kg": 5.0,
    }
    data.update(changes)
    return profile_from_dict(data)


def _decide(policy: str, candidate: Profile, baseline: Profile | None = None, **kw: Any) -> Any:
    return evaluate_gate(
        parse_policy(policy), candidate, _profile() if baseline is None else baseline, now=NOW, **kw
    )


ENERGY = "rules: {max_energy_increase_pct: 5}"
EXCUSE = "rules: {max_energy_increase_pct: 5, min_accuracy_gain_pts_to_exceed: 1}"


@pytest.mark.parametrize(
    ("energy_j", "decision"),
    [
        (1049.0, "promote"),  # +4.9 %
        (1050.0, "promote"),  # +5.0 %: the limit is inclusive
        (1051.0, "reject"),  # +5.1 %
        (900.0, "promote"),  # a decrease
    ],
)
def test_energy_boundary(energy_j: float, decision: str) -> None:
    v = _decide(ENERGY, _profile(version="2", energy_per_1k_j=energy_j))
    assert v.decision == decision
    (check,) = v.checks
    assert check.rule == "max_energy_increase_pct"
    assert check.actual == pytest.approx((energy_j - 1000) / 10)


def test_energy_boundary_survives_float_representation() -> None:
    # 0.1 J baselines: 0.105 / 0.1 - 1 is 0.04999999999999993 or 0.050000000000000044 in floats.
    for base, cand in ((0.1, 0.105), (0.7, 0.735), (3.3, 3.465)):
        v = _decide(
            ENERGY, _profile(version="2", energy_per_1k_j=cand), _profile(energy_per_1k_j=base)
        )
        assert v.decision == "promote", (base, cand, v.checks[0].actual)
        over = _profile(version="2", energy_per_1k_j=cand * 1.001)
        assert _decide(ENERGY, over, _profile(energy_per_1k_j=base)).decision == "reject"


def test_energy_increase_is_excused_by_an_accuracy_gain_at_the_threshold() -> None:
    # 0.57 - 0.56 is 0.009999999999999898 in binary floats: still exactly one point.
    base = _profile(accuracy=0.56)
    v = _decide(EXCUSE, _profile(version="2", energy_per_1k_j=1100.0, accuracy=0.57), base)
    assert v.decision == "promote"
    assert v.checks[0].status == "excused"
    assert "excused by an accuracy gain of +1.00 pts" in v.checks[0].message


def test_an_accuracy_gain_below_the_threshold_does_not_excuse() -> None:
    base = _profile(accuracy=0.56)
    v = _decide(EXCUSE, _profile(version="2", energy_per_1k_j=1100.0, accuracy=0.5699), base)
    assert v.decision == "reject"
    (violation,) = v.violations
    assert violation.rule == "max_energy_increase_pct"
    assert "below the 1 pts that would excuse it" in violation.message


def test_without_an_excuse_rule_accuracy_gains_do_not_excuse() -> None:
    v = _decide(ENERGY, _profile(version="2", energy_per_1k_j=1100.0, accuracy=0.99))
    assert v.decision == "reject"


def test_a_candidate_equal_to_the_baseline_passes_every_rule() -> None:
    v = _decide(ALL_RULES, _profile(version="2"))
    assert v.decision == "promote"
    assert {c.status for c in v.checks} == {"pass"}
    # The excuse threshold is part of the energy check, not a check of its own.
    assert {c.rule for c in v.checks} == set(RULES) - {"min_accuracy_gain_pts_to_exceed"}


@pytest.mark.parametrize(
    ("rule", "changes"),
    [
        ("max_energy_increase_pct", {"energy_per_1k_j": 1051.0}),
        ("max_flops_increase_pct", {"flops": 1151.0}),
        ("max_latency_p95_ms", {"latency_p95_ms": 50.01}),
        ("max_training_co2e_kg", {"training_co2e_kg": 20.001}),
        ("max_training_co2e_kg", {"training_co2e_kg": None}),
        ("require_measured_energy", {"energy_method": "estimated"}),
        ("max_accuracy_drop_pts", {"accuracy": 0.894}),
        ("max_size_bytes", {"size_bytes": 1000001}),
    ],
)
def test_each_limit_rejects_alone(rule: str, changes: dict[str, Any]) -> None:
    v = _decide(ALL_RULES, _profile(version="2", **changes))
    assert v.decision == "reject"
    assert [c.rule for c in v.violations] == [rule]


@pytest.mark.parametrize(
    ("changes", "decision"),
    [
        ({"flops": 1150.0}, "promote"),
        ({"flops": 1150.1}, "reject"),
        ({"latency_p95_ms": 50.0}, "promote"),
        ({"training_co2e_kg": 20.0}, "promote"),
    ],
)
def test_limits_are_inclusive(changes: dict[str, Any], decision: str) -> None:
    policy = "rules: {max_flops_increase_pct: 15, max_latency_p95_ms: 50, max_training_co2e_kg: 20}"
    assert _decide(policy, _profile(version="2", **changes)).decision == decision


def test_absolute_floors_and_caps() -> None:
    assert _decide("rules: {min_accuracy: 0.9}", _profile(accuracy=0.9)).decision == "promote"
    assert _decide("rules: {min_accuracy: 0.9}", _profile(accuracy=0.89)).decision == "reject"
    cap = "rules: {max_energy_per_1k_j: 1000}"
    assert _decide(cap, _profile(energy_per_1k_j=1000.0)).decision == "promote"
    assert _decide(cap, _profile(energy_per_1k_j=1000.5)).decision == "reject"


def test_a_zero_energy_baseline_is_bad_input() -> None:
    with pytest.raises(ProfileError, match="energy_per_1k_j = 0"):
        _decide(ENERGY, _profile(version="2"), _profile(energy_per_1k_j=0.0))


def test_flops_unknown() -> None:
    policy = "rules: {max_flops_increase_pct: 15}"
    v = _decide(policy, _profile(version="2", flops=None))
    assert v.decision == "reject"
    assert "cannot be shown to hold" in v.violations[0].message
    v = _decide(policy, _profile(version="2"), _profile(flops=None))
    assert v.decision == "promote"
    assert v.checks[0].status == "skipped"
    assert any("no FLOPs count" in w for w in v.warnings)
    with pytest.raises(ProfileError, match="flops = 0"):
        _decide(policy, _profile(version="2"), _profile(flops=0.0))


def test_require_measured_energy_names_the_estimated_profile() -> None:
    policy = "rules: {require_measured_energy: true}"
    v = _decide(policy, _profile(version="2"), _profile(energy_method="estimated"))
    assert v.decision == "reject"
    assert "fraud@1" in v.violations[0].message
    v = _decide(
        "rules: {max_energy_increase_pct: 5}",
        _profile(version="2"),
        _profile(energy_method="estimated"),
    )
    assert any("mixes a model with counters" in w for w in v.warnings)


def test_no_baseline_skips_relative_rules() -> None:
    v = evaluate_gate(parse_policy(ALL_RULES), _profile(version="2"), None, now=NOW)
    assert v.decision == "promote"
    skipped = {c.rule for c in v.checks if c.status == "skipped"}
    assert skipped == {"max_energy_increase_pct", "max_flops_increase_pct", "max_accuracy_drop_pts"}


OVERRIDE = """
rules: {max_latency_p95_ms: 50}
overrides:
  - {rule: max_latency_p95_ms, model: fraud, version: "2", approver: alice, reason: OPS-1,
     expires: 2025-06-15}
"""


def test_an_active_override_waives_a_failure_and_is_reported() -> None:
    v = _decide(OVERRIDE, _profile(version="2", latency_p95_ms=80.0))
    assert v.decision == "promote"
    (check,) = v.overridden
    assert check.override is not None and check.override.approver == "alice"
    d = v.to_dict()
    assert d["violations"] == []
    assert d["overrides_applied"] == [
        {
            "rule": "max_latency_p95_ms",
            "approver": "alice",
            "reason": "OPS-1",
            "expires_at": "2025-06-16T00:00:00+00:00",
            "model": "fraud",
            "version": "2",
        }
    ]


def test_an_override_for_another_version_or_expired_does_not_apply() -> None:
    assert _decide(OVERRIDE, _profile(version="3", latency_p95_ms=80.0)).decision == "reject"
    late = datetime(2025, 6, 16, 0, 0, tzinfo=UTC)
    v = evaluate_gate(
        parse_policy(OVERRIDE), _profile(version="2", latency_p95_ms=80.0), _profile(), now=late
    )
    assert v.decision == "reject"
    assert any("expired" in w and "alice" in w for w in v.warnings)


def _status(spent_kg: float, on_exceed: str = "refuse") -> BudgetStatus:
    budget = Budget("vision", None, "month", 100.0, on_exceed, 80.0)  # type: ignore[arg-type]
    return BudgetStatus(budget, NOW, NOW, spent_kg, 3, "test")


def test_budgets_in_the_verdict() -> None:
    policy = "rules: {max_latency_p95_ms: 50}"
    candidate = _profile(version="2")
    assert _decide(policy, candidate, budgets=[_status(99.9)]).decision == "promote"
    v = _decide(policy, candidate, budgets=[_status(100.0)])
    assert v.decision == "reject"
    assert v.violations[0].rule == "budget"
    assert "carbon budget spent: team=vision month" in v.violations[0].message
    soft = _decide(policy, candidate, budgets=[_status(150.0, "warn")])
    assert soft.decision == "promote"
    assert any("carbon budget spent" in w for w in soft.warnings)


def test_verdict_json_shape() -> None:
    d = _decide(ENERGY, _profile(version="2", energy_per_1k_j=1100.0)).to_dict()
    assert d["decision"] == "reject"
    (violation,) = d["violations"]
    assert violation["rule"] == "max_energy_increase_pct"
    assert violation["limit"] == 5.0
    assert violation["actual"] == pytest.approx(10.0)
    assert "message" in violation
    assert d["candidate"] == {"model": "fraud", "version": "2"}
    assert d["baseline"] == {"model": "fraud", "version": "1"}
    assert d["decided_at"] == NOW.isoformat()


class _MaxParams(ThresholdRule):
    """A test-only rule: parameter count at most (unknown fails)."""

    name = "max_params"
    reads = ("params",)

    def value(self, candidate: Profile) -> float | None:
        return candidate.params

    def message(self, value: float, limit: float, ok: bool) -> str:
        return f"{value:g} parameters {'within' if ok else 'above'} the {limit:g} limit"


def test_a_new_rule_is_one_class_and_one_line() -> None:
    rules = (*GATE_RULES, _MaxParams())  # the one line that registers it
    policy = PromotionPolicy(rules={"max_latency_p95_ms": 50, "max_params": 100})
    small, big = _profile(version="2", params=100), _profile(version="2", params=101)
    assert evaluate_gate(policy, small, _profile(), now=NOW, rules=rules).decision == "promote"
    v = evaluate_gate(policy, big, _profile(), now=NOW, rules=rules)
    assert [c.rule for c in v.checks] == ["max_latency_p95_ms", "max_params"]
    (violation,) = v.violations
    assert violation.to_dict() == {
        "rule": "max_params",
        "status": "fail",
        "message": "101 parameters above the 100 limit",
        "limit": 100,
        "actual": 101,
        "unit": "",
    }
    unknown = evaluate_gate(policy, _profile(version="2"), None, now=NOW, rules=rules)
    assert unknown.violations[0].message == (
        "max_params of fraud@2 is unknown, so the 100 limit cannot be shown to hold"
    )
    # Without the rule in the table, the policy key is not applied.
    assert [c.rule for c in evaluate_gate(policy, big, None, now=NOW).checks] == [
        "max_latency_p95_ms"
    ]


def test_every_gate_rule_is_a_policy_rule_and_states_what_it_reads() -> None:
    names = [r.name for r in GATE_RULES]
    assert len(names) == len(set(names))
    profile_fields = set(_profile().to_dict()) | {"flops_note", "params"}
    for rule in GATE_RULES:
        assert rule.name in RULES
        assert set(rule.policy_keys) <= set(RULES)
        assert rule.reads and set(rule.reads) <= profile_fields, rule
    covered = set(names) | {k for r in GATE_RULES for k in r.policy_keys}
    assert covered == set(RULES)
