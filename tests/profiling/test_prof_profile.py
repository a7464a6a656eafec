"""Profiles: the JSON schema, FLOP/parameter counts, latency percentiles, energy per 1k."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from lowcarb.energy import FakeMeter
from lowcarb.errors import DataError, LowcarbError, ProfileError, UsageError
from lowcarb.profiling import (
    REQUIRED_PROFILE_FIELDS,
    ProfileSettings,
    TrainingCO2e,
    count_complexity,
    load_dataset,
    load_model,
    load_profile,
    measure_latency,
    parse_profile,
    profile_from_dict,
    profile_model,
)

MINIMAL: dict[str, Any] = {
    "model": "m",
    "version": "1",
    "accuracy": 0.9,
    "latency_p95_ms": 1.5,
    "energy_per_1k_j": 12.0,
    "energy_method": "estimated",
    "flops": None,
    "size_bytes": 123,
    "training_co2e_kg": None,
}


@pytest.fixture(scope="module")
def digits() -> tuple[Any, Any, Any, Any]:
    x, y = load_digits(return_X_y=True)
    return tuple(train_test_split(x, y, test_size=0.25, random_state=0))  # type: ignore[return-value]


def test_minimal_profile_round_trips() -> None:
    p = profile_from_dict(MINIMAL)
    assert p.to_dict() == MINIMAL
    assert parse_profile(json.dumps(MINIMAL)) == p


@pytest.mark.parametrize("field", REQUIRED_PROFILE_FIELDS)
def test_a_missing_field_is_named(field: str) -> None:
    data = {k: v for k, v in MINIMAL.items() if k != field}
    with pytest.raises(ProfileError, match=f"missing required field '{field}'"):
        profile_from_dict(data, source="candidate profile 'c.json'")


def test_an_extra_field_is_refused_with_a_hint() -> None:
    with pytest.raises(ProfileError) as info:
        profile_from_dict({**MINIMAL, "energy_per1k_j": 3.0}, source="candidate profile 'c.json'")
    msg = str(info.value)
    assert msg.startswith("candidate profile 'c.json': unknown field 'energy_per1k_j'")
    assert "did you mean 'energy_per_1k_j'?" in msg


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("accuracy", 93.1, "must be <= 1"),
        ("accuracy", "high", "must be a finite number"),
        ("energy_per_1k_j", -1, "must be >= 0"),
        ("energy_method", "guessed", "must be 'measured' or 'estimated'"),
        ("size_bytes", 1.5, "must be a whole number"),
        ("model", "", "must be a non-empty string"),
        ("latency_p95_ms", None, "must not be null"),
        ("flops", True, "must be a finite number"),
    ],
)
def test_bad_values_are_refused(field: str, value: object, reason: str) -> None:
    with pytest.raises(ProfileError, match=f"field '{field}' {reason}"):
        profile_from_dict({**MINIMAL, field: value})


def test_load_profile_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_profile(bad, role="candidate")
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ProfileError, match="must be a JSON object"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "missing.json")


def test_flops_of_linear_and_mlp_models_follow_the_convention(digits: Any) -> None:
    x_train, _, y_train, _ = digits
    lr = LogisticRegression(max_iter=300).fit(x_train, y_train)
    c = count_complexity(lr)
    assert (c.flops, c.params) == (2 * 64 * 10, 64 * 10 + 10)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):  # 5 iterations are deliberately too few
        mlp.fit(x_train, y_train)
    c = count_complexity(mlp)
    assert c.flops == 2 * (64 * 16 + 16 * 10)
    assert c.params == 64 * 16 + 16 + 16 * 10 + 10
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x_train, y_train)
    c = count_complexity(pipe)
    assert (c.flops, c.params) == (2 * 64 + 2 * 64 * 10, 2 * 64 + 64 * 10 + 10)


def test_tree_flops_are_the_expected_path_length(digits: Any) -> None:
    x_train, _, y_train, _ = digits
    tree = DecisionTreeClassifier(random_state=0).fit(x_train, y_train)
    c = count_complexity(tree)
    # On the training rows, the mean number of internal nodes visited equals the weighted depth.
    visited = np.asarray(tree.decision_path(x_train).sum(axis=1)).ravel() - 1
    assert c.flops == pytest.approx(visited.mean())
    t = tree.tree_
    leaves = int((t.children_left == -1).sum())
    assert c.params == (t.node_count - leaves) + leaves * 10
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x_train, y_train)
    per_tree = [count_complexity(e).flops or 0.0 for e in forest.estimators_]
    assert count_complexity(forest).flops == pytest.approx(sum(per_tree) + 5 * 10)
    gb = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(x_train, y_train)
    assert count_complexity(gb).flops is not None
    assert "30 tree(s)" in count_complexity(gb).note


def test_models_without_derivable_flops_say_why(digits: Any) -> None:
    x_train, _, y_train, _ = digits
    c = count_complexity(KNeighborsClassifier().fit(x_train, y_train))
    assert c.flops is None and c.params is None
    assert "KNeighborsClassifier" in c.note


def test_latency_percentiles_with_an_injected_clock() -> None:
    t = [0.0]
    calls = [0]

    def predict(batch: Any) -> None:
        calls[0] += 1
        t[0] += calls[0] / 1000.0  # the n-th call takes n ms

    stats = measure_latency(
        predict, np.zeros((10, 2)), batch_size=4, calls=100, warmup=0, clock=lambda: t[0]
    )
    assert stats.calls == 100
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p95_ms == pytest.approx(95.05)
    assert stats.batch_size == 4


def test_profile_model_with_a_fake_meter(digits: Any) -> None:
    x_train, x_test, y_train, y_test = digits
    model = LogisticRegression(max_iter=300).fit(x_train, y_train)
    settings = ProfileSettings(
        batch_size=32, latency_calls=30, energy_min_duration_s=0.3, energy_min_inferences=200
    )
    p = profile_model(
        model,
        x_test,
        y_test,
        name="lr",
        version="3",
        size_bytes=4321,
        settings=settings,
        zone="DE",
        meters=[FakeMeter(power_w={"cpu": 20.0}, source="fake:cpu")],
        training=TrainingCO2e(0.25, 2, "ledger:test"),
        team="vision",
        environ={},
    )
    assert p.accuracy == pytest.approx(float(np.mean(model.predict(x_test) == y_test)))
    assert p.energy_method == "measured"
    assert p.energy_source == "fake:cpu"
    assert p.energy_inferences is not None and p.energy_inferences >= 200
    assert p.energy_duration_s is not None and p.energy_duration_s >= 0.3
    # 20 W over the window, spread over the inferences it ran.
    expected = 20.0 * p.energy_duration_s / p.energy_inferences * 1000.0
    assert p.energy_per_1k_j == pytest.approx(expected, rel=0.05)
    assert p.flops == 1280 and p.params == 650
    assert p.latency_p50_ms is not None and 0 < p.latency_p50_ms <= p.latency_p95_ms
    assert p.latency_batch_size == 32
    assert (p.training_co2e_kg, p.training_records) == (0.25, 2)
    assert (p.zone, p.team, p.size_bytes, p.n_test) == ("DE", "vision", 4321, len(x_test))
    # The profile is valid profile JSON.
    assert parse_profile(json.dumps(p.to_dict())) == p
    estimated = profile_model(
        model,
        x_test[:50],
        y_test[:50],
        name="lr",
        version="3",
        size_bytes=1,
        settings=ProfileSettings(
            latency_calls=20, energy_min_duration_s=0.05, energy_min_inferences=10
        ),
        meters=[FakeMeter(power_w={"cpu": 5.0}, method="estimated")],
        environ={},
    )
    assert estimated.energy_method == "estimated"
    assert estimated.training_co2e_kg is None
    assert any("training CO2e unknown" in n for n in estimated.notes)


def test_profile_refuses_a_regressor(digits: Any) -> None:
    from sklearn.linear_model import LinearRegression

    x_train, x_test, y_train, y_test = digits
    with pytest.raises(UsageError, match="not a classifier"):
        profile_model(
            LinearRegression().fit(x_train, y_train),
            x_test,
            y_test,
            name="r",
            version="1",
            size_bytes=1,
            environ={},
        )


def test_loading_models_and_data(tmp_path: Path, digits: Any) -> None:
    x_train, x_test, y_train, y_test = digits
    model = LogisticRegression(max_iter=300).fit(x_train, y_train)
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded, size = load_model(path, allow_pickle=True)
    assert size == path.stat().st_size
    assert (loaded.predict(x_test) == model.predict(x_test)).all()
    with pytest.raises(UsageError, match="does not exist"):  # ONNX loads (test_gov_onnx.py)
        load_model(tmp_path / "m.onnx")
    with pytest.raises(UsageError, match="unsupported model file"):
        load_model(tmp_path / "m.h5")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="cannot be loaded"):
        load_model(tmp_path / "junk.pkl", allow_pickle=True)
    np.savez(tmp_path / "d.npz", X=x_test, y=y_test)
    x, y, described = load_dataset(tmp_path / "d.npz")
    assert x.shape == x_test.shape and (y == y_test).all() and "450 rows" in described
    csv_path = tmp_path / "d.csv"
    header = ",".join([f"f{i}" for i in range(64)] + ["label"])
    rows = [",".join(map(str, [*r, int(t)])) for r, t in zip(x_test, y_test, strict=True)]
    csv_path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    x, y, _ = load_dataset(csv_path)
    assert np.allclose(x, x_test) and (y == y_test).all()
    with pytest.raises(DataError, match="no column 'target'"):
        load_dataset(csv_path, target="target")
    np.savez(tmp_path / "e.npz", features=x_test)
    with pytest.raises(DataError, match="needs X and y"):
        load_dataset(tmp_path / "e.npz")


@pytest.mark.parametrize("name", ["m.onnx", "m.skops", "m.pkl", "d.npz", "d.csv"])
def test_fifos_and_directories_are_refused_without_opening(tmp_path: Path, name: str) -> None:
    """Opening a FIFO blocks until a writer comes: the loaders must not even try."""
    import os

    fifo = tmp_path / name
    os.mkfifo(fifo)
    load = load_dataset if name.startswith("d.") else lambda p: load_model(p, allow_pickle=True)
    with pytest.raises(UsageError, match="not a regular file"):
        load(fifo)
    fifo.unlink()
    fifo.mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        load(fifo)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a,b,label\n1,2,0\n3,4\n", "row 3 has 2 cells"),
        (b"a,label\n" + b"x" * 200_000 + b",1\n", "not valid CSV"),
        (b"a,label\nnan,1\n", "NaN or infinity"),
        (b"a,label\n1\x00,1\n", "binary"),
        (b"a,label\n1,caf\xe9\n", "not UTF-8"),
        (b"a,label\n", "at least one data row"),
        (b"a,label\nfoo,1\n", "features must be numbers"),
    ],
)
def test_bad_csv_held_out_sets_are_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    with pytest.raises(LowcarbError, match=expected) as info:
        load_dataset(path)
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


class _Picky:
    """A model without ``n_features_in_`` whose ``predict`` refuses the input."""

    def predict(self, x: Any) -> Any:
        raise ValueError("X has 3 features, but this model was fitted with 7\nsecond line")


def test_a_model_that_cannot_predict_is_a_data_error(digits: Any) -> None:
    _, x_test, _, y_test = digits
    with pytest.raises(DataError, match="cannot predict on the held-out set: X has 3") as info:
        profile_model(
            _Picky(),
            x_test,
            y_test,
            name="p",
            version="1",
            size_bytes=1,
            meters=[FakeMeter(power_w={"cpu": 1.0})],
            environ={},
        )
    assert "\n" not in str(info.value)
