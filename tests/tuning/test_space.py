"""The search space file: a good file parses; a bad one is one line naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from lowcarb.errors import ConfigError, DataError, LowcarbError, UsageError
from lowcarb.tuning._space import (
    DatasetSpec,
    InferenceSpace,
    Param,
    Reward,
    SearchSpace,
    load_space,
    parse_space,
    suggest,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tuning" / "digits_space.yaml"

GOOD = """\
estimator: random_forest
dataset: wine
metric: f1_macro
seed: 7
params:
  n_estimators: {type: int, low: 10, high: 200, log: true}
  max_depth: {type: int, low: 2, high: 12, step: 2}
  max_features: [sqrt, log2]
  bootstrap: true
inference:
  prune_ratio: {low: 0.0, high: 0.5}
objectives: [metric, energy, flops]
"""


def _write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _base(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"estimator": "mlp", "dataset": "digits", "params": {}}
    data.update(over)
    return data


def test_good_file_parses(tmp_path: Path) -> None:
    space = load_space(_write(tmp_path, GOOD))
    assert space.estimator == "random_forest"
    assert space.dataset == DatasetSpec(name="wine")
    assert (space.metric, space.seed, space.test_size, space.validation_size) == (
        "f1_macro",
        7,
        0.2,
        0.2,
    )
    assert space.params == (
        Param("n_estimators", "int", low=10, high=200, log=True),
        Param("max_depth", "int", low=2, high=12, step=2),
        Param("max_features", "categorical", choices=("sqrt", "log2")),
        Param("bootstrap", "categorical", choices=(True,)),
    )
    assert space.inference == InferenceSpace(
        quantize=("fp32",), prune_ratio=Param("prune_ratio", "float", low=0.0, high=0.5)
    )
    assert space.objectives == ("metric", "energy", "flops")
    assert space.reward is None and space.max_steps is None and space.patience is None


def test_example_file_parses() -> None:
    space = load_space(EXAMPLE)
    assert space.estimator == "mlp"
    assert space.inference.quantize == ("fp32", "int8")
    assert 3 <= len(space.params) + 2 <= 5


def test_defaults_and_reward() -> None:
    space = parse_space(
        _base(reward={"alpha": 1, "gamma": 0.01}, max_steps=20, patience=3), source="s.yaml"
    )
    assert space.objectives == ("reward",)
    assert space.reward == Reward(alpha=1.0, beta=0.0, gamma=0.01)
    assert (space.max_steps, space.patience, space.metric) == (20, 3, "accuracy")
    assert parse_space(_base(), source="s.yaml").objectives == ("metric", "energy")


def test_csv_dataset_relative_to_the_space_file(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,x\n3,4,y\n", encoding="utf-8")
    space = load_space(_write(tmp_path, "estimator: sgd\ndataset: {csv: d.csv, target: label}\n"))
    assert space.dataset == DatasetSpec(name=None, csv=tmp_path / "d.csv", target="label")


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        (_base(learning_rate=0.1), "learning_rate", "unknown key 'learning_rate'"),
        (_base(estimator="random_forrest"), "estimator", "did you mean 'random_forest'"),
        (_base(params={"max_depth": 3}), "params.max_depth", "mlp has no parameter"),
        (
            _base(params={"hidden_width": {"type": "int", "low": 5, "high": 3}}),
            "params.hidden_width",
            "low (5) must be below high (3)",
        ),
        (
            _base(params={"alpha": {"type": "float", "low": 0, "high": 1, "log": True}}),
            "params.alpha.log",
            "low > 0",
        ),
        (
            _base(params={"alpha": {"type": "float", "low": "a", "high": 1}}),
            "params.alpha.low",
            "'a'",
        ),
        (
            _base(params={"hidden_width": {"type": "int", "low": 1.5, "high": 3}}),
            "params.hidden_width.low",
            "an integer",
        ),
        (
            _base(params={"activation": {"type": "categorical", "choices": []}}),
            "params.activation.choices",
            "non-empty list",
        ),
        (
            _base(params={"alpha": {"type": "float", "low": 1, "high": 2, "scale": 3}}),
            "params.alpha.scale",
            "unknown key",
        ),
        (
            _base(params={"hidden_width": {"type": "int", "low": 0, "high": 3}}),
            "params.hidden_width",
            "0 is below the least hidden_width (1)",
        ),
        (_base(params={"hidden_layers": [2, 0]}), "params.hidden_layers", "0 is below"),
        (_base(dataset="mnist"), "dataset", "unknown dataset 'mnist'"),
        (_base(metric="auc"), "metric", "'auc'"),
        (_base(objectives=["metric", "latency"]), "objectives", "'latency'"),
        (_base(reward={"alpha": 1}, objectives=["metric"]), "reward", "drop 'objectives'"),
        (_base(test_size=1.5), "test_size", "between 0 and 1"),
        (_base(test_size=0.6, validation_size=0.5), "validation_size", "below 1"),
        (_base(estimator="random_forest", patience=3), "patience", "one step"),
        (_base(max_steps=0), "max_steps", ">= 1"),
        (
            _base(estimator="sgd", inference={"prune_ratio": {"low": 0.0, "high": 0.5}}),
            "inference.prune_ratio",
            "does not apply to sgd",
        ),
        (
            _base(inference={"prune_ratio": {"low": 0.0, "high": 1.0}}),
            "inference.prune_ratio",
            "[0, 1)",
        ),
        (
            _base(estimator="random_forest", inference={"quantize": ["int8"]}),
            "inference.quantize",
            "int8 does not apply to random_forest",
        ),
        (_base(inference={"quantize": ["fp16"]}), "inference.quantize", "'fp16'"),
        (_base(params={"quantize": ["fp32"]}), "params.quantize", "move it under 'inference'"),
    ],
)
def test_bad_space_is_one_line_naming_file_and_key(
    data: dict[str, Any], key: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(data, source="space.yaml")
    msg = str(info.value)
    assert msg.startswith(f"space.yaml: {key}: "), msg
    assert fragment in msg
    assert "\n" not in msg


def test_csv_without_target_column(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,x\n", encoding="utf-8")
    path = _write(tmp_path, "estimator: sgd\ndataset: {csv: d.csv, target: y}\n")
    with pytest.raises(ConfigError, match=r"space\.yaml: dataset\.target: 'y' is not a column"):
        load_space(path)


def test_missing_csv_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "estimator: sgd\ndataset: {csv: nope.csv}\n")
    with pytest.raises(ConfigError, match=r"space\.yaml: dataset\.csv: .*does not exist"):
        load_space(path)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_space(tmp_path / "missing.yaml")
    with pytest.raises(DataError, match="not valid YAML"):
        load_space(_write(tmp_path, "estimator: [mlp\n"))
    with pytest.raises(ConfigError, match=r"space\.yaml: a space file is a mapping"):
        load_space(_write(tmp_path, "- mlp\n"))
    with pytest.raises(ConfigError, match=r"space\.yaml: dataset: missing"):
        load_space(_write(tmp_path, "estimator: mlp\n"))
    assert issubclass(ConfigError, LowcarbError)


def _space() -> SearchSpace:
    return parse_space(
        _base(
            params={
                "hidden_layers": {"type": "int", "low": 1, "high": 3},
                "learning_rate_init": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                "activation": ["relu", "tanh"],
            },
            inference={"quantize": ["fp32", "int8"], "prune_ratio": [0.0, 0.25]},
        ),
        source="s.yaml",
    )


def test_suggest_with_fixed_trial() -> None:
    values = {
        "hidden_layers": 2,
        "learning_rate_init": 0.01,
        "activation": "tanh",
        "quantize": "int8",
        "prune_ratio": 0.25,
    }
    assert suggest(optuna.trial.FixedTrial(values), _space()) == values


def test_suggest_in_a_study_stays_in_range() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: list[dict[str, Any]] = []

    def objective(trial: optuna.trial.Trial) -> float:
        seen.append(suggest(trial, _space()))
        return 0.0

    study.optimize(objective, n_trials=10)
    for s in seen:
        assert 1 <= s["hidden_layers"] <= 3
        assert 1e-4 <= s["learning_rate_init"] <= 1e-1
        assert s["activation"] in ("relu", "tanh")
        assert s["quantize"] in ("fp32", "int8") and s["prune_ratio"] in (0.0, 0.25)


def test_suggest_without_inference_knobs() -> None:
    space = parse_space(_base(), source="s.yaml")
    out = suggest(optuna.trial.FixedTrial({"quantize": "fp32"}), space)
    assert out == {"quantize": "fp32", "prune_ratio": 0.0}
