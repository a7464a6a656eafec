"""Estimator families: each fits; iterative ones stop on a plateau or when told; data loading."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from lowcarb.errors import ConfigError, DataError, InvalidValueError
from lowcarb.tuning._datasets import Split, load_data
from lowcarb.tuning._estimators import ESTIMATORS, check_params
from lowcarb.tuning._fitting import fit
from lowcarb.tuning._metrics import score, score_predictions
from lowcarb.tuning._space import DatasetSpec


def _small(split: Split, n: int) -> Split:
    return dataclasses.replace(split, x_train=split.x_train[:n], y_train=split.y_train[:n])


@pytest.fixture(scope="module")
def digits() -> Split:
    return _small(load_data(DatasetSpec("digits"), test_size=0.2, validation_size=0.2, seed=0), 500)


@pytest.fixture(scope="module")
def wine() -> Split:
    return load_data(DatasetSpec("wine"), test_size=0.25, validation_size=0.25, seed=0)


PARAMS = {
    "logistic_regression": {"C": 1.0},
    "random_forest": {"n_estimators": 15, "max_depth": 8},
    "extra_trees": {"n_estimators": 15},
    "gradient_boosting": {"n_estimators": 20, "max_depth": 2},
    "mlp": {"hidden_layers": 2, "hidden_width": 32, "max_iter": 20, "learning_rate_init": 0.01},
    "sgd": {"alpha": 1e-4, "max_iter": 10},
}


def test_registry_covers_the_families() -> None:
    assert set(PARAMS) <= set(ESTIMATORS)
    assert {n for n, f in ESTIMATORS.items() if f.iterative} == {"mlp", "sgd", "gradient_boosting"}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_each_family_fits_wine(name: str, wine: Split) -> None:
    result = fit(name, PARAMS[name], wine, seed=1)
    assert result.val_score > 0.7, (name, result.val_score)
    assert result.val_score == pytest.approx(
        score(result.model, wine.x_val, wine.y_val, "accuracy")
    )
    assert result.steps >= 1
    assert result.model.predict(wine.x_test).shape == wine.y_test.shape


def test_mlp_architecture_knobs(digits: Split) -> None:
    result = fit("mlp", {"hidden_layers": 3, "hidden_width": 8, "max_iter": 2}, digits)
    assert result.model[-1].hidden_layer_sizes == (8, 8, 8)
    assert result.steps == 2 and not result.stopped_early


def test_fit_is_deterministic(digits: Split) -> None:
    a = fit("mlp", PARAMS["mlp"], digits, seed=3)
    b = fit("mlp", PARAMS["mlp"], digits, seed=3)
    assert a.val_score == b.val_score and a.steps == b.steps
    assert np.array_equal(a.model.predict(digits.x_test), b.model.predict(digits.x_test))


def test_on_step_reports_every_step_and_false_stops(digits: Split) -> None:
    seen: list[tuple[int, float]] = []

    def on_step(step: int, val: float) -> bool:
        seen.append((step, val))
        return step < 3

    result = fit("sgd", {"max_iter": 50}, digits, on_step=on_step)
    assert [s for s, _ in seen] == [1, 2, 3]
    assert all(0.0 <= v <= 1.0 for _, v in seen)
    assert result.steps == 3 and result.stopped_early
    assert result.val_score == max(v for _, v in seen)  # the best model seen is kept


def test_on_step_exception_propagates(digits: Split) -> None:
    class OverBudgetError(Exception):
        pass

    def on_step(step: int, val: float) -> bool:
        raise OverBudgetError

    with pytest.raises(OverBudgetError):
        fit("gradient_boosting", {"n_estimators": 30, "max_depth": 1}, digits, on_step=on_step)


def test_patience_stops_on_a_plateau(digits: Split) -> None:
    seen: list[float] = []

    def on_step(step: int, val: float) -> bool:
        seen.append(val)
        return True

    result = fit(
        "mlp",
        {"hidden_layers": 1, "hidden_width": 16, "learning_rate_init": 0.05},
        digits,
        on_step=on_step,
        max_steps=200,
        patience=2,
    )
    assert result.stopped_early and result.steps < 200
    best = seen.index(max(seen))
    assert len(seen) - 1 - best == 2  # two steps without improvement after the best
    assert result.val_score == max(seen)


def test_max_steps_bounds_iterations(digits: Split) -> None:
    result = fit("gradient_boosting", {"n_estimators": 100, "max_depth": 1}, digits, max_steps=2)
    assert result.steps == 2 and not result.stopped_early
    assert result.model.n_estimators_ == 20


def test_boosting_stops_at_its_stage_count(digits: Split) -> None:
    result = fit("gradient_boosting", {"n_estimators": 15, "max_depth": 1}, digits)
    assert result.steps == 2 and result.model.n_estimators_ == 15


def test_non_iterative_reports_one_step(digits: Split) -> None:
    seen: list[int] = []
    result = fit(
        "extra_trees", {"n_estimators": 5}, digits, on_step=lambda s, v: bool(seen.append(s))
    )
    assert seen == [1] and result.steps == 1 and not result.stopped_early


def test_unknown_family_and_parameter() -> None:
    with pytest.raises(ConfigError, match="did you mean 'random_forest'"):
        check_params("random_forrest", {})
    with pytest.raises(ConfigError, match=r"params\.hidden_size: mlp has no parameter"):
        check_params("mlp", {"hidden_size": 3})
    assert check_params("mlp", {"quantize": "int8", "prune_ratio": 0.2}).name == "mlp"


def test_metrics() -> None:
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 0, 0])
    assert score_predictions(y, pred, "accuracy") == 0.75
    assert score_predictions(y, pred, "balanced_accuracy") == 0.5
    assert score_predictions(y, pred, "f1_macro") == pytest.approx((6 / 7 + 0) / 2)
    with pytest.raises(InvalidValueError, match="'auc'"):
        score_predictions(y, pred, "auc")  # type: ignore[arg-type]


def test_bundled_sets_split_three_ways() -> None:
    for name in ("iris", "breast_cancer"):
        split = load_data(DatasetSpec(name), test_size=0.2, validation_size=0.2, seed=0)
        total = len(split.y_train) + len(split.y_val) + len(split.y_test)
        assert split.name == name and split.feature_count == split.x_train.shape[1]
        assert len(split.y_test) == pytest.approx(0.2 * total, abs=1)
        assert len(split.y_val) == pytest.approx(0.2 * total, abs=1)


def test_bad_split_sizes() -> None:
    with pytest.raises(InvalidValueError, match="below 1"):
        load_data(DatasetSpec("iris"), test_size=0.5, validation_size=0.5, seed=0)
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'"):
        load_data(DatasetSpec("mnist"), test_size=0.2, validation_size=0.2, seed=0)


def _csv(tmp_path: Path, text: str) -> DatasetSpec:
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    return DatasetSpec(name=None, csv=path, target="label")


def test_csv_loads_and_fits(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["f1,label,f2"]
    for i in range(60):
        cls = i % 2
        rows.append(f"{rng.normal(cls * 3):.3f},{'ab'[cls]},{rng.normal():.3f}")
    split = load_data(
        _csv(tmp_path, "\n".join(rows) + "\n"), test_size=0.2, validation_size=0.2, seed=0
    )
    assert split.feature_count == 2 and split.name == "d.csv"
    assert fit("logistic_regression", {}, split).val_score > 0.8


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("f1,label\n1,a\nx,b\n", "features must be numbers"),
        ("f1,f2\n1,2\n3,4\n", "no column 'label'"),
        ("f1,label\n1,a\n2\n", "row 3 has 1 cells"),
        ("f1,label\n", "header row and at least one data row"),
    ],
)
def test_bad_csv_is_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        load_data(_csv(tmp_path, text), test_size=0.2, validation_size=0.2, seed=0)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_csv_too_small_to_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot be split"):
        load_data(
            _csv(tmp_path, "f1,label\n1,a\n2,b\n"), test_size=0.2, validation_size=0.2, seed=0
        )
