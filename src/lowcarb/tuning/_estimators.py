"""The scikit-learn model families a search space may name.

- :data:`ESTIMATORS`: family name -> :class:`Family` (class path, tunable parameters, whether it
  trains step by step, whether :func:`lowcarb.compression.prune` and int8 apply).
- :func:`check_params`: the family of a name, after checking the parameters it is given.

Loading and splitting the data is :mod:`._datasets`, fitting a family :mod:`._fitting`, and scoring
a fitted model :mod:`._metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lowcarb.errors import ConfigError, close_matches

__all__ = [
    "ESTIMATORS",
    "INFERENCE_KEYS",
    "Family",
    "check_params",
]

#: Trial parameters that are inference knobs, not estimator arguments (:func:`._fitting.fit`
#: skips them).
INFERENCE_KEYS: tuple[str, ...] = ("quantize", "prune_ratio")

_TREE_PARAMS = (
    "n_estimators",
    "max_depth",
    "min_samples_split",
    "min_samples_leaf",
    "max_features",
    "bootstrap",
    "criterion",
    "class_weight",
)


@dataclass(frozen=True, slots=True)
class Family:
    """One scikit-learn model family.

    Attributes:
        name: The name a space file uses (``random_forest``).
        class_path: The scikit-learn class, ``module.Class``.
        params: The parameters a space may tune (architecture knobs included).
        iterative: Trains step by step (epochs or boosting chunks) with ``on_step`` reports.
        scaled: Standardise features first (linear models, MLPs).
        prunable: :func:`lowcarb.compression.prune` applies (trees, units, stages).
        quantizable: Dynamic int8 quantization has weights to quantize (MatMul/Gemm in ONNX).
        fixed: Arguments always passed (seeded, single-threaded, no built-in early stopping).
        max_steps: Steps when neither the space nor the parameters bound them.
        minimums: Smallest value of numeric parameters that have one (sizes, counts).
    """

    name: str
    class_path: str
    params: tuple[str, ...]
    iterative: bool = False
    scaled: bool = False
    prunable: bool = False
    quantizable: bool = False
    fixed: tuple[tuple[str, Any], ...] = ()
    max_steps: int = 1
    minimums: tuple[tuple[str, float], ...] = ()


_TREE_MINIMUMS = (("n_estimators", 1), ("max_depth", 1), ("min_samples_split", 2))
ESTIMATORS: Mapping[str, Family] = {
    f.name: f
    for f in (
        Family(
            "logistic_regression",
            "sklearn.linear_model.LogisticRegression",
            ("C", "tol", "max_iter", "fit_intercept", "class_weight"),
            scaled=True,
            minimums=(("max_iter", 1),),
        ),
        Family(
            "random_forest",
            "sklearn.ensemble.RandomForestClassifier",
            _TREE_PARAMS,
            prunable=True,
            fixed=(("n_jobs", 1),),
            minimums=_TREE_MINIMUMS,
        ),
        Family(
            "extra_trees",
            "sklearn.ensemble.ExtraTreesClassifier",
            _TREE_PARAMS,
            prunable=True,
            fixed=(("n_jobs", 1),),
            minimums=_TREE_MINIMUMS,
        ),
        Family(
            "gradient_boosting",
            "sklearn.ensemble.GradientBoostingClassifier",
            (
                "n_estimators",
                "learning_rate",
                "max_depth",
                "subsample",
                "min_samples_split",
                "min_samples_leaf",
                "max_features",
            ),
            iterative=True,
            prunable=True,
            max_steps=10,
            minimums=_TREE_MINIMUMS,
        ),
        Family(
            "mlp",
            "sklearn.neural_network.MLPClassifier",
            (
                "hidden_layers",
                "hidden_width",
                "activation",
                "alpha",
                "learning_rate_init",
                "batch_size",
                "max_iter",
            ),
            iterative=True,
            scaled=True,
            prunable=True,
            quantizable=True,
            max_steps=100,
            minimums=(("hidden_layers", 1), ("hidden_width", 1), ("max_iter", 1)),
        ),
        Family(
            "sgd",
            "sklearn.linear_model.SGDClassifier",
            ("loss", "penalty", "alpha", "l1_ratio", "learning_rate", "eta0", "max_iter"),
            iterative=True,
            scaled=True,
            max_steps=50,
            minimums=(("max_iter", 1),),
        ),
    )
}


def check_params(name: str, params: Mapping[str, Any] | Any, *, where: str = "params") -> Family:
    """Return the family ``name`` after checking that it accepts every name in ``params``.

    Raises:
        ConfigError: An unknown family or parameter, with close matches and the known names.
    """
    family = ESTIMATORS.get(name)
    if family is None:
        hint = close_matches(name, ESTIMATORS)
        did = f"did you mean {', '.join(repr(h) for h in hint)}? " if hint else ""
        raise ConfigError(
            f"unknown estimator {name!r}; {did}known: {', '.join(sorted(ESTIMATORS))}"
        )
    for key in params:
        if key in INFERENCE_KEYS:
            continue
        if key not in family.params:
            hint = close_matches(str(key), family.params)
            did = f"did you mean {', '.join(repr(h) for h in hint)}? " if hint else ""
            raise ConfigError(
                f"{where}.{key}: {name} has no parameter {key!r}; {did}"
                f"it takes: {', '.join(family.params)}"
            )
    return family
