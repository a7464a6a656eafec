"""MLflow bridge against a real MLflow with a SQLite tracking store: runs, tags, alias, plugin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import entry_points
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.errors import DataError, UsageError
from lowcarb.governance import GateInput, parse_policy
from lowcarb.grid import Intensity, price
from lowcarb.integrations.mlflow import (
    PROFILE_TAG,
    gate_registered_model,
    log_footprint,
    read_model_version_profile,
    safe_name,
    tag_model_version,
)
from lowcarb.ledger import RecordFilter, open_ledger
from lowcarb.profiling import profile_from_dict, sha256_hex

mlflow = pytest.importorskip("mlflow")

# MLflow's own SQLAlchemy models use a loader SQLAlchemy 2.1 deprecates; not lowcarb's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")

NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
POLICY_TEXT = b"rules: {max_energy_increase_pct: 5, max_latency_p95_ms: 50}\n"


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def client(tracking_uri: str) -> Any:
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@pytest.fixture
def fluent(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fluent API (mlflow.start_run) pointed at the test store through the environment."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _profile(version: str, **changes: Any) -> Any:
    data: dict[str, Any] = {
        "model": "detector",
        "version": version,
        "accuracy": 0.9,
        "latency_p95_ms": 10.0,
        "energy_per_1k_j": 1000.0,
        "energy_method": "measured",
        "flops": 1000.0,
        "size_bytes": 1000,
        "training_co2e_kg": 5.0,
        "team": "vision",
    }
    data.update(changes)
    return profile_from_dict(data)


def _register(client: Any, name: str, profiles: list[Any]) -> None:
    client.create_registered_model(name)
    for p in profiles:
        mv = client.create_model_version(name, source="/tmp/lowcarb-test-model", run_id=None)
        assert str(mv.version) == p.version
        tag_model_version(client, name, str(mv.version), p)


def test_log_footprint_follows_the_naming_schema(client: Any, fluent: None) -> None:
    m = Measurement(
        "run",
        NOW,
        12.5,
        (
            ComponentEnergy("cpu", 7200.0, "measured", "rapl:intel-rapl:0"),
            ComponentEnergy("gpu:0", 3600.0, "estimated", "model:tdp"),
        ),
    )
    fp = price(m, intensity=Intensity("DE", 400.0, "static:test"), pue=1.5)
    window = Measurement("train", NOW, 10.0, (ComponentEnergy("cpu", 360.0, "measured", "x"),))
    with mlflow.start_run() as run:
        assert log_footprint(fp, windows={"train": window}) == run.info.run_id
    data = client.get_run(run.info.run_id).data
    assert data.metrics["lowcarb.energy_kwh"] == pytest.approx(10800 * 1.5 / 3.6e6)
    assert data.metrics["lowcarb.it_energy_kwh"] == pytest.approx(10800 / 3.6e6)
    assert data.metrics["lowcarb.co2e_g"] == pytest.approx(fp.co2e_g)
    assert data.metrics["lowcarb.pue"] == 1.5
    assert data.metrics["lowcarb.duration_s"] == 12.5
    assert data.metrics["lowcarb.intensity_g_per_kwh"] == 400.0
    assert data.metrics["lowcarb.component.gpu_0.energy_kwh"] == pytest.approx(0.001)
    assert data.metrics["lowcarb.window.train.energy_kwh"] == pytest.approx(0.0001)
    assert data.tags["lowcarb.zone"] == "DE"
    assert data.tags["lowcarb.method"] == "estimated"
    assert data.tags["lowcarb.component.gpu_0.method"] == "estimated"
    assert data.tags["lowcarb.component.cpu.source"] == "rapl:intel-rapl:0"
    assert safe_name("gpu:0/a b") == "gpu_0_a_b"


def test_log_footprint_needs_a_run(fluent: None) -> None:
    m = Measurement("run", NOW, 1.0, ())
    with pytest.raises(UsageError, match="no active MLflow run"):
        log_footprint(price(m, intensity=Intensity("DE", 1.0, "t")))


def test_run_context_provider_tags_new_runs(
    client: Any, fluent: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlflow.tracking.context.registry import _run_context_provider_registry as registry

    from lowcarb.integrations.mlflow.mlflow_context import LowcarbRunContextProvider

    empty = LowcarbRunContextProvider(environ={"HOME": str(tmp_path)}, cwd=lambda: tmp_path)
    assert not empty.in_context()
    monkeypatch.chdir(tmp_path)
    for key in ("LOWCARB_CONFIG", "LOWCARB_ZONE", "LOWCARB_PROJECT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("LOWCARB_TEAM", "vision")
    monkeypatch.setenv("LOWCARB_ZONE", "DE")
    registry.register(LowcarbRunContextProvider)  # what the entry point does
    try:
        with mlflow.start_run() as run:
            pass
    finally:
        registry._registry.pop()
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["lowcarb.team"] == "vision"
    assert tags["lowcarb.zone"] == "DE"
    assert "lowcarb.project" not in tags
    monkeypatch.setenv("LOWCARB_CONFIG", str(tmp_path / "missing.toml"))
    assert LowcarbRunContextProvider().tags() == {}  # a bad config never breaks start_run


def test_the_entry_point_when_installed() -> None:
    eps = [e for e in entry_points(group="mlflow.run_context_provider") if e.name == "lowcarb"]
    assert eps, "pyproject.toml declares the entry point: reinstall the package (make test does)"
    from lowcarb.integrations.mlflow.mlflow_context import LowcarbRunContextProvider

    assert eps[0].load() is LowcarbRunContextProvider


def test_profiles_round_trip_through_model_version_tags(client: Any) -> None:
    _register(client, "roundtrip", [_profile("1", notes=["a", "b"])])
    ref = read_model_version_profile(client, "roundtrip", "1")
    assert ref.profile == _profile("1", notes=["a", "b"])
    tags = client.get_model_version("roundtrip", "1").tags
    assert tags[f"{PROFILE_TAG}.sha256"] == sha256_hex(ref.raw)
    assert tags[f"{PROFILE_TAG}.energy_per_1k_j"] == "1000.0"
    assert tags[f"{PROFILE_TAG}.model"] == "detector"
    with pytest.raises(UsageError, match="version '9' not found"):
        read_model_version_profile(client, "roundtrip", "9")
    client.create_model_version("roundtrip", source="/tmp/lowcarb-test-model", run_id=None)
    with pytest.raises(DataError, match=r"has no 'lowcarb\.profile' tag"):
        read_model_version_profile(client, "roundtrip", "2")


def _aliases(client: Any, name: str) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


def _gate(client: Any, name: str, version: str, ledger: str) -> Any:
    return gate_registered_model(
        parse_policy(POLICY_TEXT),
        policy_input=GateInput("policy", "policy.yaml", sha256_hex(POLICY_TEXT)),
        client=client,
        name=name,
        candidate_version=version,
        ledger_url=ledger,
        now=NOW,
        environ={},
    )


def test_the_champion_alias_moves_only_on_promote(client: Any, sqlite_url: str) -> None:
    _register(
        client,
        "gated",
        [
            _profile("1"),
            _profile("2", energy_per_1k_j=1100.0),  # +10 % energy: reject
            _profile("3", energy_per_1k_j=1040.0),  # +4 % energy: promote
        ],
    )
    first = _gate(client, "gated", "1", sqlite_url)  # no champion yet: becomes the first
    assert first.verdict.decision == "promote" and first.verdict.baseline is None
    assert _aliases(client, "gated") == {"champion": "1"}
    rejected = _gate(client, "gated", "2", sqlite_url)
    assert rejected.verdict.decision == "reject"
    assert _aliases(client, "gated") == {"champion": "1"}
    promoted = _gate(client, "gated", "3", sqlite_url)
    assert promoted.verdict.decision == "promote"
    assert str(client.get_model_version_by_alias("gated", "champion").version) == "3"
    assert client.get_model_version("gated", "2").tags["lowcarb.gate.decision"] == "reject"
    assert (
        client.get_model_version("gated", "3").tags["lowcarb.gate.record_id"] == promoted.record_id
    )
    with open_ledger(sqlite_url) as ledger:
        assert ledger.verify().ok
        records = list(ledger.records(RecordFilter(kind="decision")))
    moves = [r.metadata["mlflow"]["alias_moves_to"] for r in records]
    assert moves == ["1", None, "3"]
    assert records[2].metadata["mlflow"]["champion_version"] == "1"
    tag = client.get_model_version("gated", "1").tags[PROFILE_TAG]
    assert records[2].metadata["inputs"]["baseline"] == {
        "location": "models:/gated/1",
        "sha256": sha256_hex(tag.encode()),
    }
    with pytest.raises(UsageError, match="already holds the 'champion' alias"):
        _gate(client, "gated", "3", sqlite_url)


def test_cli_gate_with_mlflow(client: Any, tracking_uri: str, tmp_path: Path) -> None:
    _register(client, "cli-gated", [_profile("1"), _profile("2", latency_p95_ms=51.0)])
    client.set_registered_model_alias("cli-gated", "champion", "1")
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(POLICY_TEXT)
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    out, err = StringIO(), StringIO()
    code = main(
        [
            "gate",
            "--policy",
            str(policy),
            "--mlflow-model",
            "cli-gated",
            "--candidate-version",
            "2",
            "--tracking-uri",
            tracking_uri,
            "--ledger",
            ledger,
            "--json",
        ],
        ctx=CliContext(stdout=out, stderr=err, environ={}),
    )
    assert code == 1, err.getvalue()
    verdict = json.loads(out.getvalue())
    assert verdict["decision"] == "reject"
    assert [v["rule"] for v in verdict["violations"]] == ["max_latency_p95_ms"]
    assert verdict["mlflow"]["alias_moves_to"] is None
    assert _aliases(client, "cli-gated") == {"champion": "1"}
    err = StringIO()
    code = main(
        [
            "gate",
            "--policy",
            str(policy),
            "--mlflow-model",
            "cli-gated",
            "--candidate-version",
            "2",
            "--candidate",
            "x.json",
            "--tracking-uri",
            tracking_uri,
        ],
        ctx=CliContext(stdout=StringIO(), stderr=err, environ={}),
    )
    assert code == 2
    assert "drop --candidate/--baseline" in err.getvalue()


def test_cli_profile_tags_a_version_and_compare_reads_them(
    client: Any, tracking_uri: str, tmp_path: Path
) -> None:
    import pickle

    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    (tmp_path / "tree.pkl").write_bytes(
        pickle.dumps(DecisionTreeClassifier(random_state=0).fit(x, y))
    )
    np.savez(tmp_path / "test.npz", X=x[::3], y=y[::3])
    _register(client, "iris-tree", [_profile("1")])
    client.create_model_version("iris-tree", source="/tmp/lowcarb-test-model", run_id=None)
    out, err = StringIO(), StringIO()
    code = main(
        [
            "profile",
            "--allow-pickle",
            "--model",
            str(tmp_path / "tree.pkl"),
            "--data",
            str(tmp_path / "test.npz"),
            "--name",
            "iris-tree",
            "--version",
            "2",
            "--mlflow-model",
            "iris-tree",
            "--mlflow-version",
            "2",
            "--tracking-uri",
            tracking_uri,
            "--energy-seconds",
            "0.1",
            "--energy-inferences",
            "10",
            "--latency-calls",
            "20",
            "--json",
        ],
        ctx=CliContext(stdout=out, stderr=err, environ={}),
    )
    assert code == 0, err.getvalue()
    tagged = read_model_version_profile(client, "iris-tree", "2").profile
    assert tagged.to_dict() == json.loads(out.getvalue())
    out = StringIO()
    code = main(
        [
            "compare",
            "--mlflow-model",
            "iris-tree",
            "--versions",
            "1",
            "2",
            "--tracking-uri",
            tracking_uri,
            "--json",
        ],
        ctx=CliContext(stdout=out, stderr=StringIO(), environ={}),
    )
    assert code == 0
    rows = json.loads(out.getvalue())["models"]
    assert [(r["model"], r["version"]) for r in rows] == [("detector", "1"), ("iris-tree", "2")]
    assert rows[1]["accuracy"] == tagged.accuracy
