"""Rolling the champion alias back on an energy regression, against a real MLflow registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lowcarb.errors import UsageError
from lowcarb.governance import GateInput, parse_policy
from lowcarb.integrations.mlflow import (
    ROLLBACK_TAG,
    AliasRollback,
    MlflowAliasRollback,
    gate_registered_model,
    previous_champion,
    rollback_alias,
    tag_model_version,
)
from lowcarb.ledger import open_ledger
from lowcarb.monitoring._policy_yaml import parse_retrain_policy
from lowcarb.monitoring._regression import (
    act_on_regression,
    check_energy_regression,
    energy_from_metrics,
    energy_from_profile,
)
from lowcarb.profiling import profile_from_dict, sha256_hex
from lowcarb.serving._metrics import ServingMetrics

mlflow = pytest.importorskip("mlflow")

# MLflow's own SQLAlchemy models use a loader SQLAlchemy 2.1 deprecates; not lowcarb's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")

NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
GATE_POLICY = b"rules: {max_energy_increase_pct: 5}\n"
MONITOR_POLICY = "energy_regression: {max_increase_pct: 10, rollback: true}\n"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _profile(name: str, version: str, energy: float) -> Any:
    return profile_from_dict(
        {
            "model": name,
            "version": version,
            "accuracy": 0.9,
            "latency_p95_ms": 5.0,
            "energy_per_1k_j": energy,
            "energy_method": "measured",
            "flops": None,
            "size_bytes": 1000,
            "training_co2e_kg": None,
        }
    )


def _gated(client: Any, name: str, energies: list[float], ledger_url: str) -> list[str]:
    """Register one version per energy figure and gate each in turn; return the decisions."""
    client.create_registered_model(name)
    decisions = []
    for energy in energies:
        mv = client.create_model_version(name, source="/tmp/lowcarb-test-model", run_id=None)
        tag_model_version(client, name, str(mv.version), _profile(name, str(mv.version), energy))
        outcome = gate_registered_model(
            parse_policy(GATE_POLICY),
            policy_input=GateInput("policy", "gate.yaml", sha256_hex(GATE_POLICY)),
            client=client,
            name=name,
            candidate_version=str(mv.version),
            ledger_url=ledger_url,
            now=NOW,
            environ={},
        )
        decisions.append(outcome.verdict.decision)
    return decisions


def _champion(client: Any, name: str) -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


def test_a_served_regression_rolls_the_champion_back(client: Any, sqlite_url: str) -> None:
    # v1 promoted, v2 promoted (+4 %), v3 rejected (+5.8 %), v4 promoted (+4.8 % on v2).
    decisions = _gated(client, "churn", [1000.0, 1040.0, 1100.0, 1090.0], sqlite_url)
    assert decisions == ["promote", "promote", "reject", "promote"]
    assert _champion(client, "churn") == "4"
    assert previous_champion(client, "churn", before="4") == "2"  # the rejected v3 never was

    # In production v4 costs far more than its profile said: the served metrics show it.
    served = ServingMetrics()
    served.energy_j.labels(model="churn", stage="default", method="measured").inc(1500.0)
    served.inferences.labels(model="churn", stage="default").inc(1000)
    candidate = energy_from_metrics(
        served.render(), model="churn", version="4", location="http://serve/metrics"
    )
    baseline = energy_from_profile(_profile("churn", "2", 1040.0), location="models:/churn/2")
    policy = parse_retrain_policy(MONITOR_POLICY, source="monitor.yaml")
    regression = check_energy_regression(candidate, baseline, policy.require_energy_regression())
    assert regression.alert and regression.increase_pct == pytest.approx(44.23, abs=0.01)

    with open_ledger(sqlite_url, environ={}) as ledger:
        out = act_on_regression(
            regression, policy, ledger=ledger, rollback=MlflowAliasRollback(client)
        )
        check, rolled = list(ledger.records())[-2:]
        assert ledger.verify().ok
    assert _champion(client, "churn") == "2"
    assert out.rollback == {
        "registry": "mlflow",
        "model": "churn",
        "alias": "champion",
        "uri": "models:/churn@champion",
        "from_version": "4",
        "to_version": "2",
        "applied": True,
        "reason": regression.message,
        "note": "",
    }
    assert check.metadata["rollback"] == "requested"
    assert (
        rolled.attribution.stage == "rollback" and rolled.metadata["rollback"]["to_version"] == "2"
    )
    tags = client.get_model_version("churn", "4").tags
    assert tags[f"{ROLLBACK_TAG}.reason"] == regression.message
    assert tags[f"{ROLLBACK_TAG}.to_version"] == "2"

    # Rolling back again goes one champion further back; a demoted version is never chosen.
    again = rollback_alias(client, "churn", reason="v2 regressed too", version="2")
    assert (again.from_version, again.to_version, again.applied) == ("2", "1", True)
    assert previous_champion(client, "churn", before="2") == "1"
    with pytest.raises(UsageError) as info:
        rollback_alias(client, "churn", reason="and again")
    assert str(info.value) == (
        "models:/churn@champion is on version 1 and no earlier version was promoted by a lowcarb "
        "gate; give the version to roll back to"
    )


def test_the_alias_moves_only_if_the_regressed_version_holds_it(
    client: Any, sqlite_url: str
) -> None:
    _gated(client, "moved", [1000.0, 1010.0], sqlite_url)
    assert _champion(client, "moved") == "2"
    done = MlflowAliasRollback(client, name="moved")(model="served-name", version="1", reason="x")
    assert done == AliasRollback(
        "moved",
        "champion",
        "2",
        "2",
        False,
        "x",
        "the 'champion' alias is on version 2, not 1: nothing rolled back",
    )
    assert _champion(client, "moved") == "2"
    explicit = rollback_alias(client, "moved", reason="pinned", to_version="1")
    assert explicit.applied and _champion(client, "moved") == "1"


def test_bad_rollbacks_are_one_line(client: Any) -> None:
    with pytest.raises(UsageError, match=r"^MLflow registered model 'nope' not found: "):
        rollback_alias(client, "nope", reason="x")
    client.create_registered_model("no-alias")
    client.create_model_version("no-alias", source="/tmp/lowcarb-test-model", run_id=None)
    with pytest.raises(UsageError) as info:
        rollback_alias(client, "no-alias", reason="x")
    assert str(info.value) == (
        "models:/no-alias@champion is not set: there is no champion to roll back; check the "
        "registered model's aliases"
    )
    client.set_registered_model_alias("no-alias", "champion", "1")
    with pytest.raises(
        UsageError, match=r"^MLflow model 'no-alias' has no version '7' to roll back to$"
    ):
        rollback_alias(client, "no-alias", reason="x", to_version="7")
