"""Energy regressions: figures from profiles and serving metrics, alerts, rollbacks, the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from lowcarb.errors import DataError, ProviderError, UsageError
from lowcarb.ledger import open_ledger
from lowcarb.monitoring._energy_figures import (
    EnergyFigure,
    energy_from_metrics,
    energy_from_profile,
    fetch_metrics,
)
from lowcarb.monitoring._policy import EnergyRegressionRule
from lowcarb.monitoring._policy_yaml import parse_retrain_policy
from lowcarb.monitoring._regression import act_on_regression, check_energy_regression
from lowcarb.profiling import profile_from_dict
from lowcarb.serving._metrics import ServingMetrics

RULE = EnergyRegressionRule(max_increase_pct=10.0)
POLICY = "energy_regression: {max_increase_pct: 10, rollback: true}\n"


def _profile(version: str, energy: float, method: str = "measured") -> Any:
    return profile_from_dict(
        {
            "model": "churn",
            "version": version,
            "accuracy": 0.9,
            "latency_p95_ms": 3.0,
            "energy_per_1k_j": energy,
            "energy_method": method,
            "flops": None,
            "size_bytes": 1000,
            "training_co2e_kg": None,
        }
    )


def _figure(version: str, energy: float, method: str = "measured") -> EnergyFigure:
    return energy_from_profile(_profile(version, energy, method), location=f"v{version}.json")


def test_figures_from_profiles() -> None:
    fig = _figure("7", 120.0)
    assert fig == EnergyFigure("churn", "7", 120.0, "measured", "v7.json")
    assert fig.label == "churn@7"


def _metrics() -> ServingMetrics:
    m = ServingMetrics()
    m.energy_j.labels(model="churn-v2", stage="small", method="measured").inc(30.0)
    m.energy_j.labels(model="churn-v2", stage="big", method="measured").inc(90.0)
    m.inferences.labels(model="churn-v2", stage="small").inc(700)
    m.inferences.labels(model="churn-v2", stage="big").inc(300)
    m.energy_j.labels(model="churn-v1", stage="default", method="estimated").inc(50.0)
    m.inferences.labels(model="churn-v1", stage="default").inc(1000)
    return m


def test_figures_from_the_serving_apps_metrics() -> None:
    m = _metrics()
    page = m.render()
    v2 = energy_from_metrics(page, model="churn-v2", version="2", location="http://x/metrics")
    assert v2.energy_per_1k_j == pytest.approx(120.0)  # 120 J over 1,000 rows, both stages
    assert (v2.method, v2.inferences, v2.version, v2.source) == (
        "measured",
        1000,
        "2",
        "http://x/metrics",
    )
    v1 = energy_from_metrics(page.decode(), model="churn-v1")
    assert v1.energy_per_1k_j == pytest.approx(50.0) and v1.method == "estimated"
    # Between two scrapes: only what changed counts.
    m.energy_j.labels(model="churn-v2", stage="big", method="estimated").inc(40.0)
    m.inferences.labels(model="churn-v2", stage="big").inc(200)
    window = energy_from_metrics(m.render(), model="churn-v2", previous=page)
    assert window.energy_per_1k_j == pytest.approx(200.0) and window.inferences == 200
    assert window.method == "estimated"  # the joules of the window were estimated


def _restarted() -> ServingMetrics:
    m = ServingMetrics()
    m.energy_j.labels(model="churn-v2", stage="small", method="measured").inc(1.0)
    m.inferences.labels(model="churn-v2", stage="small").inc(10)
    return m


def test_bad_metrics_are_one_line() -> None:
    page = _metrics().render()
    with pytest.raises(DataError) as info:
        energy_from_metrics(page, model="churn-v3", location="m.txt")
    assert (
        str(info.value)
        == "m.txt: no inferences for model 'churn-v3'; models in it: 'churn-v1', 'churn-v2'"
    )
    with pytest.raises(DataError, match=r"^m.txt: counters for 'churn-v2' went down since the"):
        energy_from_metrics(
            _restarted().render(), model="churn-v2", previous=page, location="m.txt"
        )
    with pytest.raises(
        DataError, match=r"^m.txt: has no lowcarb_energy_joules_total or lowcarb_inferences_total"
    ):
        energy_from_metrics(b"# HELP up x\n# TYPE up gauge\nup 1\n", model="a", location="m.txt")
    with pytest.raises(
        DataError, match=r"^m.txt: not Prometheus text exposition \(.*\); give a /metrics page$"
    ):
        energy_from_metrics(b'lowcarb_inferences_total{model="a" 1\n', model="a", location="m.txt")
    with pytest.raises(DataError, match="not UTF-8"):
        energy_from_metrics(b"\xff\xfe", model="a", location="m.txt")
    unmetered = ServingMetrics()
    unmetered.inferences.labels(model="a", stage="default").inc(10)
    with pytest.raises(
        DataError, match=r"no lowcarb_energy_joules_total for model 'a' \(served unmetered\?\)"
    ):
        energy_from_metrics(unmetered.render(), model="a", location="m.txt")


def test_alert_above_the_tolerance_only() -> None:
    up = check_energy_regression(_figure("2", 112.0), _figure("1", 100.0), RULE)
    assert up.alert and up.increase_pct == pytest.approx(12.0)
    assert up.message == (
        "churn@2: 112 J per 1k inferences (measured) vs churn@1: 100 J (measured), +12.0 %, "
        "above the 10 % allowed"
    )
    within = check_energy_regression(_figure("2", 110.0), _figure("1", 100.0), RULE)
    assert not within.alert and within.notes == ()
    down = check_energy_regression(_figure("2", 80.0, "estimated"), _figure("1", 100.0), RULE)
    assert not down.alert and down.increase_pct == pytest.approx(-20.0)
    assert down.notes == (
        "the candidate's figure is estimated and the baseline's measured: compare like with like "
        "where you can",
    )
    assert down.to_dict()["candidate"]["method"] == "estimated"
    with pytest.raises(DataError) as info:
        check_energy_regression(_figure("2", 1.0), _figure("1", 0.0), RULE)
    assert str(info.value) == (
        "the baseline churn@1 (v1.json) uses 0.0 J per 1k inferences; a rise cannot be measured "
        "from it: give a metered baseline"
    )


@dataclass
class RecordingRollback:
    """A Rollback that records its calls (the MLflow one is tested against a real registry)."""

    fail: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, *, model: str, version: str | None, reason: str) -> Done:
        self.calls.append({"model": model, "version": version, "reason": reason})
        if self.fail:
            raise UsageError("models:/churn@champion is not set: there is no champion to roll back")
        return Done()


@dataclass(frozen=True)
class Done:
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "to_version": "1"}


def test_an_alert_rolls_back_and_both_are_recorded(sqlite_url: str) -> None:
    policy = parse_retrain_policy(POLICY, source="monitor.yaml")
    rollback = RecordingRollback()
    regression = check_energy_regression(_figure("2", 150.0), _figure("1", 100.0), RULE)
    with open_ledger(sqlite_url, environ={}) as ledger:
        out = act_on_regression(
            regression, policy, ledger=ledger, rollback=rollback, team="ml", project="churn"
        )
        assert rollback.calls == [{"model": "churn", "version": "2", "reason": regression.message}]
        check, rolled = ledger.records()
        assert ledger.verify().ok
    assert [r.id for r in (check, rolled)] == list(out.record_ids)
    assert (check.kind, check.attribution.stage, check.attribution.model_version) == (
        "decision",
        "energy-regression",
        "2",
    )
    assert check.attribution.team == "ml" and check.metadata["rollback"] == "requested"
    assert check.metadata["energy_regression"]["alert"] is True
    assert check.metadata["energy_regression"]["increase_pct"] == pytest.approx(50.0)
    assert check.metadata["policy"]["name"] == "policy"
    assert (rolled.attribution.stage, rolled.metadata["regression_record"]) == (
        "rollback",
        check.id,
    )
    assert rolled.metadata["rollback"] == {"applied": True, "to_version": "1"}
    assert rolled.metadata["error"] is None
    assert out.to_dict()["rollback"] == {"applied": True, "to_version": "1"}


def test_no_alert_no_rollback_but_recorded(sqlite_url: str) -> None:
    rollback = RecordingRollback()
    regression = check_energy_regression(_figure("2", 101.0), _figure("1", 100.0), RULE)
    with open_ledger(sqlite_url, environ={}) as ledger:
        out = act_on_regression(
            regression, parse_retrain_policy(POLICY), ledger=ledger, rollback=rollback
        )
        (check,) = ledger.records()
    assert rollback.calls == [] and out.rollback is None
    assert (
        check.metadata["rollback"] is None and check.metadata["energy_regression"]["alert"] is False
    )


def test_a_failed_rollback_is_recorded_then_raised(sqlite_url: str) -> None:
    regression = check_energy_regression(_figure("2", 150.0), _figure("1", 100.0), RULE)
    with open_ledger(sqlite_url, environ={}) as ledger:
        with pytest.raises(UsageError, match="no champion to roll back"):
            act_on_regression(
                regression,
                parse_retrain_policy(POLICY),
                ledger=ledger,
                rollback=RecordingRollback(fail=True),
            )
        check, rolled = ledger.records()
    assert check.metadata["rollback"] == "requested"
    assert rolled.metadata["rollback"] is None
    assert (
        rolled.metadata["error"]
        == "models:/churn@champion is not set: there is no champion to roll back"
    )


def test_rollback_asked_for_but_not_given_fails_before_recording(sqlite_url: str) -> None:
    regression = check_energy_regression(_figure("2", 150.0), _figure("1", 100.0), RULE)
    with open_ledger(sqlite_url, environ={}) as ledger:
        with pytest.raises(UsageError) as info:
            act_on_regression(
                regression, parse_retrain_policy(POLICY, source="m.yaml"), ledger=ledger
            )
        assert ledger.count() == 0
    assert str(info.value) == (
        "m.yaml: energy_regression.rollback is true but no registry was given to roll back; name "
        "the registered model (e.g. --mlflow-model NAME) or set rollback: false"
    )
    without = parse_retrain_policy("energy_regression: {max_increase_pct: 10}\n")
    with open_ledger(sqlite_url, environ={}) as ledger:
        assert act_on_regression(regression, without, ledger=ledger).rollback is None


def test_fetching_a_metrics_page() -> None:
    page = _metrics().render()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics":
            return httpx.Response(200, content=page)
        return httpx.Response(503)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        assert fetch_metrics("http://serve:8080/metrics", client=client) == page
        with pytest.raises(ProviderError, match=r"^GET http://serve:8080/nope answered HTTP 503$"):
            fetch_metrics("http://serve:8080/nope", client=client)
    with pytest.raises(UsageError, match="must start with http:// or https://"):
        fetch_metrics("file:///etc/passwd")
    with pytest.raises(ProviderError, match=r"^GET http://127.0.0.1:9/metrics failed: "):
        fetch_metrics("http://127.0.0.1:9/metrics", timeout_s=2)
