"""The scikit-learn model families a search space may name, the data they train on, and fitting.

- :data:`ESTIMATORS`: family name -> :class:`Family` (class path, tunable parameters, whether it
  trains step by step, whether :func:`lowcarb.compression.prune` and int8 apply).
- :func:`load_data`: a bundled scikit-learn set (``digits``, ``breast_cancer``, ``wine``,
  ``iris``; no download) or a user CSV, split into train / validation / test, seeded.
- :func:`fit`: one fit for the non-iterative families; epoch by epoch (``mlp``, ``sgd``) or in
  chunks of :data:`BOOSTING_CHUNK` stages (``gradient_boosting``) for the iterative ones, scoring
  the validation set after each step, calling ``on_step`` and stopping early on a plateau.

Linear models and MLPs see standardised features: the fitted model is then a two-step
``Pipeline(scale, model)`` whose scaler is fitted on the training split only.
"""

from __future__ import annotations

import copy
import importlib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lowcarb.errors import (
    ConfigError,
    DataError,
    InvalidValueError,
    MissingDependencyError,
    close_matches,
)

__all__ = [
    "BOOSTING_CHUNK",
    "BUNDLED_DATASETS",
    "ESTIMATORS",
    "INFERENCE_KEYS",
    "METRICS",
    "DatasetSpec",
    "Family",
    "FitResult",
    "Metric",
    "Split",
    "check_params",
    "fit",
    "load_data",
    "score",
    "score_predictions",
]

Metric = Literal["accuracy", "balanced_accuracy", "f1_macro"]
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "f1_macro")
BUNDLED_DATASETS: tuple[str, ...] = ("digits", "breast_cancer", "wine", "iris")
#: Trial parameters that are inference knobs, not estimator arguments (:func:`fit` skips them).
INFERENCE_KEYS: tuple[str, ...] = ("quantize", "prune_ratio")
#: Boosting stages added per step of ``gradient_boosting``.
BOOSTING_CHUNK = 10

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


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """A bundled scikit-learn set (``name``) or a CSV file (``csv``, labels in ``target``, the
    last column when None). Defined here, beside :func:`load_data`, and re-exported by
    ``_space`` (which imports this module, not the other way round)."""

    name: str | None
    csv: Path | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Split:
    """A dataset split three ways (``x_*`` are 2-D float arrays, ``y_*`` 1-D labels)."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    feature_count: int
    name: str


@dataclass(frozen=True, slots=True)
class FitResult:
    """A fitted model and how its training went.

    Attributes:
        model: The fitted estimator (a ``Pipeline(scale, model)`` for scaled families); for an
            iterative family, the best model seen on the validation set.
        val_score: Its validation metric.
        steps: Steps run (1 for non-iterative families).
        stopped_early: Training stopped before its last step (plateau or ``on_step``).
    """

    model: Any
    val_score: float
    steps: int
    stopped_early: bool


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], "tune") from None


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


def _kwargs(family: Family, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    kwargs = {k: v for k, v in params.items() if k not in INFERENCE_KEYS}
    if family.name == "mlp":
        layers = int(kwargs.pop("hidden_layers", 1))
        width = int(kwargs.pop("hidden_width", 100))
        if layers < 1 or width < 1:
            raise InvalidValueError(
                f"mlp needs hidden_layers >= 1 and hidden_width >= 1, got {layers} and {width}"
            )
        kwargs["hidden_layer_sizes"] = (width,) * layers
    kwargs.update(family.fixed)
    kwargs["random_state"] = seed
    if family.iterative:
        kwargs.pop("max_iter", None)
        kwargs.pop("n_estimators", None)
    return kwargs


def _step_cap(family: Family, params: Mapping[str, Any], max_steps: int | None) -> int:
    if family.name == "gradient_boosting" and "n_estimators" in params:
        own = max(1, -(-int(params["n_estimators"]) // BOOSTING_CHUNK))
    elif "max_iter" in params:
        own = max(1, int(params["max_iter"]))
    else:
        own = family.max_steps
    return own if max_steps is None else min(own, max_steps)


def fit(
    name: str,
    params: Mapping[str, Any],
    split: Split,
    *,
    on_step: Callable[[int, float], bool] | None = None,
    max_steps: int | None = None,
    patience: int | None = None,
    metric: Metric = "accuracy",
    seed: int = 0,
) -> FitResult:
    """Fit the family ``name`` with ``params`` on ``split``, scoring the validation set.

    Non-iterative families fit once and report step 1. Iterative ones run up to ``max_steps``
    steps (an MLP or SGD epoch, or :data:`BOOSTING_CHUNK` boosting stages; the parameters'
    ``max_iter`` / ``n_estimators`` bound them too) and call ``on_step(step, val_score)`` after
    each: ``False`` stops training; an exception it raises propagates. Training also stops when
    the validation metric has not improved for ``patience`` steps. Keys of
    :data:`INFERENCE_KEYS` in ``params`` are ignored. Seeded by ``seed``: the same inputs give
    the same model.

    Raises:
        ConfigError: An unknown family or parameter.
        InvalidValueError: ``max_steps`` or ``patience`` below 1.
    """
    family = check_params(name, params)
    for label, value in (("max_steps", max_steps), ("patience", patience)):
        if value is not None and value < 1:
            raise InvalidValueError(f"{label} must be at least 1, got {value!r}")
    module, _, cls_name = family.class_path.rpartition(".")
    cls = getattr(_import(module), cls_name)
    kwargs = _kwargs(family, params, seed)
    x_train, x_val = split.x_train, split.x_val
    scaler = None
    if family.scaled:
        scaler = _import("sklearn.preprocessing").StandardScaler().fit(x_train)
        x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)

    def wrap(model: Any) -> Any:
        if scaler is None:
            return model
        pipeline = _import("sklearn.pipeline").Pipeline
        return pipeline([("scale", scaler), ("model", model)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _import("sklearn.exceptions").ConvergenceWarning)
        if not family.iterative:
            model = cls(**kwargs).fit(x_train, split.y_train)
            val = score(model, x_val, split.y_val, metric)
            if on_step is not None:
                on_step(1, val)
            return FitResult(wrap(model), val, 1, False)
        return _fit_steps(
            family,
            cls(**kwargs),
            (x_train, split.y_train, x_val, split.y_val),
            cap=_step_cap(family, params, max_steps),
            stages=int(params.get("n_estimators", 1 << 30)),
            on_step=on_step,
            patience=patience,
            metric=metric,
            wrap=wrap,
        )


def _fit_steps(
    family: Family,
    model: Any,
    data: tuple[Any, Any, Any, Any],
    *,
    cap: int,
    stages: int,
    on_step: Callable[[int, float], bool] | None,
    patience: int | None,
    metric: Metric,
    wrap: Callable[[Any], Any],
) -> FitResult:
    x_train, y_train, x_val, y_val = data
    classes = np.unique(y_train)
    if family.name == "gradient_boosting":
        model.set_params(warm_start=True, n_estimators=0)
    best: tuple[float, Any] | None = None
    since_best = 0
    step = 0
    stopped = False
    while step < cap:
        step += 1
        if family.name == "gradient_boosting":
            model.set_params(n_estimators=min(model.n_estimators + BOOSTING_CHUNK, stages))
            model.fit(x_train, y_train)
        else:
            model.partial_fit(x_train, y_train, classes=classes)
        val = score(model, x_val, y_val, metric)
        if best is None or val > best[0]:
            best = (val, copy.deepcopy(model))
            since_best = 0
        else:
            since_best += 1
        keep_going = True if on_step is None else on_step(step, val)
        if keep_going is False or (patience is not None and since_best >= patience):
            stopped = step < cap
            break
    assert best is not None  # cap >= 1, so the loop ran at least once
    return FitResult(wrap(best[1]), best[0], step, stopped)


def score_predictions(y_true: Any, y_pred: Any, metric: Metric) -> float:
    """The metric of predicted labels ``y_pred`` against ``y_true`` (higher is better).

    Raises:
        InvalidValueError: An unknown metric.
    """
    metrics = _import("sklearn.metrics")
    with warnings.catch_warnings():
        # balanced_accuracy warns when a class is missing from a small validation set.
        warnings.simplefilter("ignore", UserWarning)
        if metric == "accuracy":
            return float(metrics.accuracy_score(y_true, y_pred))
        if metric == "balanced_accuracy":
            return float(metrics.balanced_accuracy_score(y_true, y_pred))
        if metric == "f1_macro":
            return float(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0))
    raise InvalidValueError(f"unknown metric {metric!r}; use one of: {', '.join(METRICS)}")


def score(model: Any, x: Any, y: Any, metric: Metric) -> float:
    """The metric of ``model.predict(x)`` against labels ``y``."""
    return score_predictions(y, model.predict(x), metric)


def load_data(spec: DatasetSpec, *, test_size: float, validation_size: float, seed: int) -> Split:
    """Load a bundled set or a CSV and split it (stratified, seeded) into train/val/test.

    A CSV is read with :func:`lowcarb.profiling.load_dataset` (bounded size, numeric features,
    the ``target`` column as labels, the last column when ``target`` is None).

    Raises:
        InvalidValueError: Sizes outside (0, 1) or summing to 1 or more.
        DataError: An unreadable or malformed CSV, or too few rows to split.
        ConfigError: An unknown bundled set.
    """
    for label, value in (("test_size", test_size), ("validation_size", validation_size)):
        if not 0.0 < value < 1.0:
            raise InvalidValueError(f"{label} must be between 0 and 1, got {value!r}")
    if test_size + validation_size >= 1.0:
        raise InvalidValueError(
            f"test_size + validation_size must be below 1, got {test_size + validation_size!r}"
        )
    x, y, name = _read(spec)
    selection = _import("sklearn.model_selection")
    try:
        x_rest, x_test, y_rest, y_test = _split(selection, x, y, test_size, seed)
        x_train, x_val, y_train, y_val = _split(
            selection, x_rest, y_rest, validation_size / (1.0 - test_size), seed
        )
    except ValueError as exc:
        raise DataError(f"dataset {name!r} ({len(y)} rows) cannot be split: {exc}") from None
    return Split(x_train, y_train, x_val, y_val, x_test, y_test, int(x.shape[1]), name)


def _split(selection: Any, x: Any, y: Any, size: float, seed: int) -> Any:
    try:
        return selection.train_test_split(x, y, test_size=size, random_state=seed, stratify=y)
    except ValueError:
        # A class too rare to stratify: split at random rather than refuse the data set.
        return selection.train_test_split(x, y, test_size=size, random_state=seed)


def _read(spec: DatasetSpec) -> tuple[Any, Any, str]:
    if spec.csv is not None:
        from lowcarb.profiling import load_dataset

        x, y, _ = load_dataset(Path(spec.csv), target=spec.target)
        return np.asarray(x, dtype=np.float64), np.asarray(y), Path(spec.csv).name
    if spec.name not in BUNDLED_DATASETS:
        raise ConfigError(
            f"unknown dataset {spec.name!r}; use one of: {', '.join(BUNDLED_DATASETS)}, "
            "or {csv: FILE, target: COLUMN}"
        )
    datasets = _import("sklearn.datasets")
    x, y = getattr(datasets, f"load_{spec.name}")(return_X_y=True)
    return np.asarray(x, dtype=np.float64), np.asarray(y), str(spec.name)
