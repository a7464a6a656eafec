"""Policy as code: the schema, its error messages, contradictions, budgets and overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lowcarb.errors import ConfigError, PolicyError, UnknownNameError, UnknownRuleError
from lowcarb.governance import RULES, load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"


def _error(text: str) -> str:
    with pytest.raises((PolicyError, UnknownRuleError)) as info:
        parse_policy(text, source="p.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_example_policy_is_valid_and_complete() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.name == "production"
    assert policy.rules == {
        "max_energy_increase_pct": 5.0,
        "min_accuracy_gain_pts_to_exceed": 1.0,
        "max_flops_increase_pct": 15.0,
        "max_latency_p95_ms": 50.0,
        "max_training_co2e_kg": 20.0,
        "require_measured_energy": False,
    }
    vision, chatbot = policy.budgets
    assert (vision.team, vision.project, vision.period, vision.co2e_kg) == (
        "vision",
        None,
        "month",
        200.0,
    )
    assert (vision.on_exceed, vision.warn_at_pct) == ("refuse", 80.0)
    assert (chatbot.team, chatbot.project, chatbot.on_exceed) == (None, "chatbot", "warn")
    (override,) = policy.overrides
    assert override.rule == "max_latency_p95_ms"
    assert override.version == "7"
    # A bare date is valid through the end of that day, UTC.
    assert override.expires_at == datetime(2027, 7, 1, tzinfo=UTC)


def test_the_design_md_rules_are_all_understood() -> None:
    for name in (
        "max_energy_increase_pct",
        "min_accuracy_gain_pts_to_exceed",
        "max_flops_increase_pct",
        "max_latency_p95_ms",
        "max_training_co2e_kg",
        "require_measured_energy",
    ):
        assert name in RULES


def test_unknown_rule_names_the_key_and_suggests_the_close_match() -> None:
    msg = _error("rules:\n  max_energy_increse_pct: 5\n")
    assert "unknown policy rule 'max_energy_increse_pct'" in msg
    assert "did you mean 'max_energy_increase_pct'" in msg
    assert "p.yaml: rules.max_energy_increse_pct" in msg
    with pytest.raises(UnknownNameError):
        parse_policy("rules: {max_latncy_p95_ms: 3}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: {max_latency_p95_ms: -1}", "rules.max_latency_p95_ms: must be > 0"),
        ("rules: {max_latency_p95_ms: fast}", "rules.max_latency_p95_ms: must be a finite number"),
        ("rules: {max_latency_p95_ms: .nan}", ".nan on line 1 is not a finite number"),
        ("rules: {max_latency_p95_ms: true}", "rules.max_latency_p95_ms: must be a finite number"),
        ("rules: {require_measured_energy: 1}", "rules.require_measured_energy: must be true or"),
        ("rules: {min_accuracy: 93}", "rules.min_accuracy: must be <= 1"),
        (
            "rules: {max_energy_increase_pct: -150}",
            "rules.max_energy_increase_pct: must be >= -100",
        ),
        ("rules: {max_size_bytes: 1.5}", "rules.max_size_bytes: must be a whole number"),
        ("rules: [max_latency_p95_ms]", "p.yaml: rules: must be a mapping"),
        ("rulez: {max_latency_p95_ms: 3}", "rulez: unknown key; did you mean 'rules'?"),
        ("version: 2\nrules: {}", "version: must be 1"),
        ("name: x", "has neither `rules:` nor `budgets:`"),
        ("", "empty policy"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("rules: {max_latency_p95_ms: [1\n", "not valid YAML"),
    ],
)
def test_bad_values_name_the_key_and_the_reason(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_a_rule_given_twice_is_contradictory() -> None:
    msg = _error("rules:\n  max_energy_increase_pct: 5\n  max_energy_increase_pct: 10\n")
    assert "'max_energy_increase_pct' is given twice" in msg
    assert "contradictory" in msg
    assert "line 3" in msg


def test_an_excuse_without_the_rule_it_excuses_is_contradictory() -> None:
    msg = _error("rules: {min_accuracy_gain_pts_to_exceed: 1}")
    assert "rules.min_accuracy_gain_pts_to_exceed" in msg
    assert "max_energy_increase_pct is not set" in msg
    assert "contradictory" in msg


def test_a_zero_excuse_threshold_is_refused() -> None:
    # A 0-point threshold would excuse any energy rise with unchanged accuracy.
    msg = _error("rules: {max_energy_increase_pct: 5, min_accuracy_gain_pts_to_exceed: 0}")
    assert "rules.min_accuracy_gain_pts_to_exceed: must be > 0" in msg


def test_budgets_are_validated() -> None:
    ok = "rules: {}\nbudgets:\n"
    assert "budgets[0]: needs a team, a project or both" in _error(
        ok + "  - {period: month, co2e_kg: 1}\n"
    )
    assert "budgets[0].period: must be one of day, week, month" in _error(
        ok + "  - {team: a, period: mnth, co2e_kg: 1}\n"
    )
    assert "did you mean 'month'" in _error(ok + "  - {team: a, period: mnth, co2e_kg: 1}\n")
    assert "budgets[0].co2e_kg: must be a number > 0" in _error(
        ok + "  - {team: a, period: month, co2e_kg: 0}\n"
    )
    assert "budgets[0].on_exceed: must be 'warn' or 'refuse'" in _error(
        ok + "  - {team: a, period: month, co2e_kg: 1, on_exceed: block}\n"
    )
    assert "budgets[0].teem: unknown key; did you mean 'team'?" in _error(
        ok + "  - {teem: a, period: month, co2e_kg: 1}\n"
    )
    msg = _error(
        ok + "  - {team: a, period: month, co2e_kg: 1}\n  - {team: a, period: month, co2e_kg: 2}\n"
    )
    assert "budgets[1]: same scope (team=a) and period (month) as budgets[0]" in msg
    assert "contradictory" in msg


def test_a_team_may_have_budgets_for_different_periods() -> None:
    policy = parse_policy(
        "budgets:\n  - {team: a, period: month, co2e_kg: 10}\n"
        "  - {team: a, period: year, co2e_kg: 100, on_exceed: warn}\n"
    )
    assert [(b.period, b.on_exceed) for b in policy.budgets] == [
        ("month", "refuse"),
        ("year", "warn"),
    ]
    assert policy.budgets[0].applies_to(team="a", project="anything")
    assert not policy.budgets[0].applies_to(team="b", project=None)


def test_overrides_need_approver_reason_and_expiry() -> None:
    base = "rules: {max_latency_p95_ms: 10}\noverrides:\n  - "
    for missing in ("approver", "reason", "expires"):
        fields = {
            "rule": "max_latency_p95_ms",
            "approver": "a",
            "reason": "r",
            "expires": "2030-01-01",
        }
        del fields[missing]
        item = "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"
        assert f"overrides[0].{missing}: is required" in _error(base + item + "\n")


def test_overrides_are_parsed_with_times_and_versions() -> None:
    policy = parse_policy(
        "rules: {max_latency_p95_ms: 10}\noverrides:\n"
        "  - {rule: max_latency_p95_ms, approver: a, reason: r,"
        " expires: '2030-01-01T12:00:00+02:00', model: m, version: 3}\n"
    )
    (o,) = policy.overrides
    assert o.expires_at == datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    assert o.version == "3"  # a YAML number is a version string
    assert o.matches(rule="max_latency_p95_ms", model="m", version="3")
    assert not o.matches(rule="max_latency_p95_ms", model="m", version="4")
    assert o.active(datetime(2030, 1, 1, 9, 59, tzinfo=UTC))
    assert not o.active(datetime(2030, 1, 1, 10, 0, tzinfo=UTC))


def test_bad_overrides_are_refused() -> None:
    base = "rules: {max_latency_p95_ms: 10}\noverrides:\n  - "
    msg = _error(base + "{rule: max_latncy_p95_ms, approver: a, reason: r, expires: 2030-01-01}\n")
    assert "did you mean 'max_latency_p95_ms'" in msg
    msg = _error(
        base + "{rule: max_flops_increase_pct, approver: a, reason: r, expires: 2030-01-01}\n"
    )
    assert "overrides[0].rule: 'max_flops_increase_pct' is not set in this policy" in msg
    msg = _error(base + "{rule: budget, approver: a, reason: r, expires: 2030-01-01}\n")
    assert "'budget' is not set in this policy" in msg
    msg = _error(base + "{rule: max_latency_p95_ms, approver: a, reason: r, expires: soon}\n")
    assert "overrides[0].expires: must be an ISO 8601 date or time, got 'soon'" in msg
    msg = _error(
        base + "{rule: max_latency_p95_ms, approver: '', reason: r, expires: 2030-01-01}\n"
    )
    assert "overrides[0].approver: must be a non-empty string" in msg


def test_policy_errors_are_config_errors_with_exit_status_2(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_policy(tmp_path / "missing.yaml")
    assert "does not exist" in str(info.value)
    assert info.value.exit_code == 2
    assert UnknownRuleError("x", RULES).exit_code == 2
