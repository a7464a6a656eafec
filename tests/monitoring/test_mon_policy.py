"""The retraining policy as code: the schema, strict one-line errors, unknown features."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lowcarb.errors import PolicyError, UsageError
from lowcarb.monitoring._policy import (
    DriftTrigger,
    EnergyRegressionRule,
    JobTemplate,
    PerformanceTrigger,
    RetrainPolicy,
)
from lowcarb.monitoring._policy_yaml import (
    load_retrain_policy,
    parse_retrain_policy,
    retrain_policy_from_dict,
)

EXAMPLE = """\
version: 1
name: churn
retrain:
  drift: {max_drift_share: 0.3, features: [hour, lag_1]}
  performance: {max_drop_pts: 2.0, method: cbpe}
  min_gain_pts_per_kwh: 5.0
  cooldown: 7d
  deadline: 24h
  job:
    command: [python, train.py, --epochs, 3]
    duration: 90m
    zones: [DE, fr]
    team: ml
    project: churn
    model: churn-clf
    interruptible: true
    min_chunk: 30m
    power_w: 250
energy_regression: {max_increase_pct: 10, rollback: true}
"""

BASE = """\
retrain:
  drift: {max_drift_share: 0.3, features: [hour, lag_1]}
  deadline: 24h
  job: {command: [python, train.py], duration: 1h, zone: DE}
"""


def _error(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_retrain_policy(text, source="p.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_example_policy_parses_to_its_values() -> None:
    policy = parse_retrain_policy(EXAMPLE, source="monitor.yaml")
    assert policy.name == "churn"
    assert policy.source == "monitor.yaml"
    assert policy.sha256 == hashlib.sha256(EXAMPLE.encode()).hexdigest()
    rule = policy.require_retrain()
    assert rule.drift == DriftTrigger(0.3, ("hour", "lag_1"))
    assert rule.performance == PerformanceTrigger(2.0, "cbpe")
    assert rule.min_gain_pts_per_kwh == 5.0
    assert rule.cooldown_s == 7 * 86400
    assert rule.deadline_s == 24 * 3600
    assert rule.job == JobTemplate(
        command=("python", "train.py", "--epochs", "3"),
        duration_s=5400.0,
        zones=("DE", "FR"),  # zone ids, checked against the catalogue
        team="ml",
        project="churn",
        model="churn-clf",
        interruptible=True,
        min_chunk_s=1800.0,
        power_w=250.0,
    )
    assert rule.job.estimated_energy_kwh() == pytest.approx(0.375)
    assert policy.require_energy_regression() == EnergyRegressionRule(10.0, True, "champion")
    assert policy.to_dict() == {
        "name": "churn",
        "location": "monitor.yaml",
        "sha256": policy.sha256,
    }


def test_defaults_of_a_minimal_policy() -> None:
    policy = parse_retrain_policy(BASE)
    rule = policy.require_retrain()
    assert rule.cooldown_s == 0.0 and rule.min_gain_pts_per_kwh is None
    assert rule.performance is None
    assert (rule.job.team, rule.job.power_w, rule.job.interruptible) == (None, None, False)
    assert policy.energy_regression is None
    with pytest.raises(UsageError, match=r"^policy: has no `energy_regression:` section; add one"):
        policy.require_energy_regression()
    only_energy = parse_retrain_policy("energy_regression: {max_increase_pct: 5}\n")
    with pytest.raises(UsageError, match=r"^policy: has no `retrain:` section; add one"):
        only_energy.require_retrain()
    assert only_energy.require_energy_regression() == EnergyRegressionRule(5.0, False, "champion")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "retrian: {}\n",
            "p.yaml: retrian: unknown key; did you mean 'retrain'? (allowed: version, name, "
            "description, retrain, energy_regression)",
        ),
        (
            BASE.replace("max_drift_share: 0.3", "max_drift: 0.3"),
            "p.yaml: retrain.drift.max_drift: unknown key; did you mean 'max_drift_share'? "
            "(allowed: max_drift_share, features, categorical)",
        ),
        (
            BASE.replace("zone: DE", "zone: DE, comand: [x]"),
            "p.yaml: retrain.job.comand: unknown key; did you mean 'command'? (allowed: command, "
            "duration, zone, zones, team, project, model, interruptible, min_chunk, power_w, cwd)",
        ),
        (
            BASE.replace("0.3", "1.5"),
            "p.yaml: retrain.drift.max_drift_share: must be <= 1 (share of watched features that "
            "may drift, 0..1), got 1.5",
        ),
        (
            BASE.replace("0.3", "high"),
            "p.yaml: retrain.drift.max_drift_share: must be a finite number (share of watched "
            "features that may drift, 0..1), got 'high'",
        ),
        (
            BASE + "  cooldown: soon\n",
            "p.yaml: retrain.cooldown 'soon' is not a duration; use e.g. 90m, 1h30m, 1d12h, "
            "PT1H30M or a number of hours",
        ),
        (
            BASE.replace("duration: 1h", "duration: 0"),
            "p.yaml: retrain.job.duration must be a finite duration > 0, got '0'",
        ),
        (
            BASE.replace("[python, train.py]", "python train.py"),
            "p.yaml: retrain.job.command: must be a list of arguments such as [python, train.py], "
            "got the text 'python train.py' (no shell splits it)",
        ),
        (
            BASE.replace("zone: DE", "zone: NO"),
            "p.yaml: retrain.job.zone: YAML read NO as false; quote the zone ('NO')",
        ),
        (
            BASE.replace("zone: DE", "zone: DEE"),
            "p.yaml: retrain.job.zone: unknown zone 'DEE'; did you mean 'EE', 'DE'? (run "
            "`lowcarb zones` to list known zones and cloud regions)",
        ),
        (
            BASE.replace("zone: DE", "zone: DE, zones: [FR]"),
            "p.yaml: retrain.job: give exactly one of zone: Z or zones: [Z1, Z2]",
        ),
        (
            BASE + "  performance: {max_drop_pts: 2, method: cpbe}\n",
            "p.yaml: retrain.performance.method: must be one of cbpe, realised, any, got 'cpbe'; "
            "did you mean 'cbpe'?",
        ),
        (
            "retrain:\n  deadline: 24h\n  job: {command: [a], duration: 1h, zone: DE}\n",
            "p.yaml: retrain: has no trigger; give drift: and/or performance:",
        ),
        (
            BASE.replace("  deadline: 24h\n", ""),
            "p.yaml: retrain.deadline: is required (the retrain must start within it, e.g. 24h)",
        ),
        (
            BASE.replace("deadline: 24h", "deadline: 366d"),
            "p.yaml: retrain.deadline: plus the job's duration is longer than the 366 days a plan "
            "may look ahead; give a shorter deadline",
        ),
        (
            BASE + "  deadline: 12h\n",
            "p.yaml: key 'deadline' is given twice (line 5: '12h', earlier: '24h'); "
            "contradictory, keep one",
        ),
        (
            BASE.replace("[hour, lag_1]", "[hour, hour]"),
            "p.yaml: retrain.drift.features: names 'hour' twice; keep one",
        ),
        (
            BASE.replace("zone: DE", "zone: DE, power_w: -3"),
            "p.yaml: retrain.job.power_w: must be > 0 (watts), got -3",
        ),
        (
            BASE + "  min_gain_pts_per_kwh: -1\n",
            "p.yaml: retrain.min_gain_pts_per_kwh: must be >= 0 (accuracy points expected per "
            "kWh of retraining), got -1",
        ),
        (
            "energy_regression: {max_increase_pct: 10, rollback: 'yes'}\n",
            "p.yaml: energy_regression.rollback: must be true or false, got 'yes'",
        ),
        (
            "energy_regression: {max_increase_pct: -1}\n",
            "p.yaml: energy_regression.max_increase_pct: must be >= 0 (rise of joules per 1,000 "
            "inferences allowed, percent), got -1",
        ),
        (
            "version: 2\nenergy_regression: {max_increase_pct: 10}\n",
            "p.yaml: version: must be 1 (the only policy version), got 2",
        ),
        ("", "p.yaml: empty policy; it needs a `retrain:` or `energy_regression:`"),
        (
            "- a\n",
            "p.yaml: must be a YAML mapping with `retrain:` and/or `energy_regression:`, got ['a']",
        ),
        (
            "name: x\n",
            "p.yaml: has neither `retrain:` nor `energy_regression:`; nothing to monitor",
        ),
    ],
)
def test_bad_policies_give_one_exact_line(text: str, message: str) -> None:
    assert _error(text) == message


def test_hostile_values_stay_on_one_short_line() -> None:
    message = _error(BASE.replace("zone: DE", 'zone: DE, team: "a\\nb\\u0007"'))
    assert message.startswith("p.yaml: retrain.job.team ")
    assert "control characters" in message
    long_value = "x" * 5000
    message = _error(BASE.replace("0.3", long_value))
    assert len(message) < 300 and message.endswith("...")
    message = _error(BASE.replace("zone: DE", 'zone: DE, "bad\\nkey": 1'))
    assert message.startswith("p.yaml: retrain.job.bad key: unknown key")


def test_check_features_names_the_unknown_ones_and_the_columns() -> None:
    policy = parse_retrain_policy(BASE, source="p.yaml")
    policy.check_features(["lag_1", "hour", "temp"])  # all watched features present
    with pytest.raises(UsageError) as info:
        policy.check_features(["hours", "lag_2", "temp"])
    assert str(info.value) == (
        "p.yaml: retrain.drift.features names unknown feature(s) 'hour', 'lag_1' "
        "(did you mean 'hours'?); the data has columns: hours, lag_2, temp; fix the policy's "
        "feature list or the data"
    )
    many = [f"c{i}" for i in range(30)]
    with pytest.raises(UsageError, match=r"columns: c0, c1, .*, c19, \.\.\. \(10 more\); fix"):
        policy.check_features(many)
    # Without a feature list every column is watched: nothing can be unknown.
    parse_retrain_policy(BASE.replace(", features: [hour, lag_1]", "")).check_features([])
    RetrainPolicy().check_features(["a"])


def test_load_from_a_file_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(EXAMPLE)
    policy = load_retrain_policy(path)
    assert policy.source == str(path) and policy.name == "churn"
    with pytest.raises(PolicyError) as info:
        load_retrain_policy(tmp_path / "missing.yaml")
    assert (
        str(info.value)
        == f"policy {str(tmp_path / 'missing.yaml')!r} does not exist; check the path"
    )
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x00\x01retrain")
    with pytest.raises(PolicyError, match="binary file"):
        load_retrain_policy(binary)
    with pytest.raises(PolicyError, match="larger than 1,048,576 bytes"):
        parse_retrain_policy("#" * (1 << 21))


def test_from_dict_validates_the_same_way() -> None:
    data = {"energy_regression": {"max_increase_pct": 3, "alias": "prod"}}
    policy = retrain_policy_from_dict(data, source="inline")
    assert policy.require_energy_regression() == EnergyRegressionRule(3.0, False, "prod")
    with pytest.raises(PolicyError, match=r"^inline: energy_regression.alias: must be an alias"):
        retrain_policy_from_dict(
            {"energy_regression": {"max_increase_pct": 3, "alias": ""}}, source="inline"
        )


def test_categorical_features_are_a_drift_key() -> None:
    policy = parse_retrain_policy(
        BASE.replace("features: [hour, lag_1]}", "features: [hour, lag_1], categorical: [hour]}"),
        source="p.yaml",
    )
    drift = policy.require_retrain().drift
    assert drift is not None and drift.categorical == ("hour",)
    policy.check_features(["hour", "lag_1"])
    with pytest.raises(UsageError) as info:
        policy.check_features(["hours", "lag_1"])
    assert str(info.value).startswith(
        "p.yaml: retrain.drift.features names unknown feature(s) 'hour' (did you mean 'hours'?)"
    )
    twice = BASE.replace("features: [hour, lag_1]}", "categorical: [hour, hour]}")
    with pytest.raises(PolicyError, match=r"retrain.drift.categorical: names 'hour' twice"):
        parse_retrain_policy(twice, source="p.yaml")
