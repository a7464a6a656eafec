"""Fitting one scikit-learn model family (:mod:`._estimators`) on a split (:mod:`._datasets`).

:func:`fit` fits the non-iterative families once; the iterative ones epoch by epoch (``mlp``,
``sgd``) or in chunks of :data:`BOOSTING_CHUNK` stages (``gradient_boosting``), scoring the
validation set after each step, calling ``on_step`` and stopping early on a plateau.

Linear models and MLPs see standardised features: the fitted model is then a two-step
``Pipeline(scale, model)`` whose scaler is fitted on the training split only.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lowcarb.errors import InvalidValueError
from lowcarb.tuning._datasets import Split
from lowcarb.tuning._estimators import INFERENCE_KEYS, Family, check_params
from lowcarb.tuning._metrics import Metric, score
from lowcarb.tuning._sklearn import import_module

__all__ = [
    "BOOSTING_CHUNK",
    "FitResult",
    "fit",
]

#: Boosting stages added per step of ``gradient_boosting``.
BOOSTING_CHUNK = 10


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
    cls = getattr(import_module(module), cls_name)
    kwargs = _kwargs(family, params, seed)
    x_train, x_val = split.x_train, split.x_val
    scaler = None
    if family.scaled:
        scaler = import_module("sklearn.preprocessing").StandardScaler().fit(x_train)
        x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)

    def wrap(model: Any) -> Any:
        if scaler is None:
            return model
        pipeline = import_module("sklearn.pipeline").Pipeline
        return pipeline([("scale", scaler), ("model", model)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", import_module("sklearn.exceptions").ConvergenceWarning)
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
