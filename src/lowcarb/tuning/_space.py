"""The search space file (YAML) of ``lowcarb tune``, and how a trial samples it.

A space file names one estimator family, its data, the parameters to search, and the inference
knobs (quantization, structured pruning) whose energy the search also weighs::

    estimator: mlp                  # a family of lowcarb.tuning._estimators.ESTIMATORS
    dataset: digits                 # digits | breast_cancer | wine | iris, or
                                    # {csv: data.csv, target: label}  (path relative to this file;
                                    # target defaults to the last column)
    metric: accuracy                # accuracy | balanced_accuracy | f1_macro  (default accuracy)
    test_size: 0.2                  # held out for the final report          (default 0.2)
    validation_size: 0.2            # scored after each step / trial         (default 0.2)
    seed: 0                         #                                        (default 0)
    params:                         # the family's parameters (may be empty)
      hidden_layers: {type: int, low: 1, high: 3}
      hidden_width: {type: int, low: 16, high: 128, log: true}
      learning_rate_init: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
      activation: [relu, tanh]      # a list: a categorical parameter
      batch_size: 64                # a scalar: a fixed value
    inference:                      # optional
      quantize: [fp32, int8]        # precisions to try (default [fp32]); int8: mlp only
      prune_ratio: {low: 0.0, high: 0.5, step: 0.1}   # share of trees/units/stages cut
    objectives: [metric, energy]    # any of metric, energy (training kWh), inference_energy
                                    # (J per 1,000 predictions), flops (default [metric, energy])
    reward: {alpha: 1.0, beta: 0.0, gamma: 0.01}      # instead of objectives: one scalar,
                                    # alpha*metric - beta*flops - gamma*energy_j
    max_steps: 50                   # iterative families only: epochs / boosting chunks
    patience: 5                     # stop after this many steps without improvement

A parameter mapping takes ``type`` (``int``, ``float`` or ``categorical``), ``low`` and ``high``
(``low < high``), ``log`` (needs ``low > 0``; not with ``step``) and ``step`` for numbers, or
``choices`` (a non-empty list of distinct scalars) for a categorical. Every error is one line
naming the file and key, e.g. ``space.yaml: params.max_depth: low (5) must be below high (3)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowcarb._files import check_input_file, read_text_file
from lowcarb._formats import load_yaml
from lowcarb.errors import ConfigError
from lowcarb.tuning._datasets import DatasetSpec
from lowcarb.tuning._estimators import ESTIMATORS, INFERENCE_KEYS, Family, check_params
from lowcarb.tuning._metrics import METRICS
from lowcarb.tuning._param import Param, check_minimum, parse_param, suggest_param
from lowcarb.tuning._space_dataset import parse_dataset
from lowcarb.tuning._space_values import (
    as_fraction,
    as_int,
    as_number,
    as_string,
    bad_value,
    no_unknown_keys,
)

if TYPE_CHECKING:
    import optuna

__all__ = [
    "OBJECTIVES",
    "PRECISIONS",
    "DatasetSpec",
    "InferenceSpace",
    "Param",
    "Reward",
    "SearchSpace",
    "load_space",
    "parse_space",
    "suggest",
]

#: Largest space file read, bytes.
MAX_SPACE_BYTES = 1 << 20
OBJECTIVES: tuple[str, ...] = ("metric", "energy", "inference_energy", "flops")
PRECISIONS: tuple[str, ...] = ("fp32", "int8")
_TOP_KEYS = (
    "estimator",
    "dataset",
    "metric",
    "test_size",
    "validation_size",
    "seed",
    "params",
    "inference",
    "objectives",
    "reward",
    "max_steps",
    "patience",
)


@dataclass(frozen=True, slots=True)
class InferenceSpace:
    """Inference knobs searched with the estimator: precisions and a pruning ratio range."""

    quantize: tuple[str, ...] = ("fp32",)
    prune_ratio: Param | None = None


@dataclass(frozen=True, slots=True)
class Reward:
    """A scalar reward ``alpha*metric - beta*flops - gamma*energy_j`` (one objective)."""

    alpha: float = 1.0
    beta: float = 0.0
    gamma: float = 0.0


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """A parsed, validated space file (see the module docstring for the format).

    ``objectives`` is ``("reward",)`` when ``reward`` is given; ``max_steps`` and ``patience``
    apply to iterative families only.
    """

    estimator: str
    params: tuple[Param, ...]
    dataset: DatasetSpec
    metric: str = "accuracy"
    test_size: float = 0.2
    validation_size: float = 0.2
    seed: int = 0
    inference: InferenceSpace = InferenceSpace()
    objectives: tuple[str, ...] = ("metric", "energy")
    reward: Reward | None = None
    max_steps: int | None = None
    patience: int | None = None


def load_space(path: Path) -> SearchSpace:
    """Read and validate a space file; a CSV path in it is relative to the file's directory.

    Raises:
        UsageError: The file is missing or not a regular file.
        DataError: Too large, not UTF-8, or not valid YAML.
        ConfigError: Any invalid content, in one line naming the file and key.
    """
    p = Path(path)
    check_input_file(p, what="space file")
    text = read_text_file(p, what="space file", max_bytes=MAX_SPACE_BYTES)
    data = load_yaml(text, source=str(p))
    return parse_space(data, source=str(p), base_dir=p.parent)


def parse_space(
    data: Mapping[str, Any] | Any, *, source: str, base_dir: Path | None = None
) -> SearchSpace:
    """Validate parsed YAML ``data`` into a :class:`SearchSpace`; ``source`` names it in errors.

    Raises:
        ConfigError: Unknown keys, wrong types, empty or inverted ranges, an unknown estimator,
            parameter, dataset, metric or objective, a CSV without its target column.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: a space file is a mapping with at least 'estimator' and 'dataset', "
            f"got {type(data).__name__}"
        )
    no_unknown_keys(data, _TOP_KEYS, source, "")
    for key in ("estimator", "dataset"):
        if key not in data:
            raise ConfigError(f"{source}: {key}: missing; add it (see examples/tuning/)")
    name = as_string(data["estimator"], source, "estimator")
    raw_params = data.get("params") or {}
    if not isinstance(raw_params, Mapping):
        raise bad_value(source, "params", raw_params, "a mapping of parameter name to range")
    try:
        family = check_params(name, raw_params)
    except ConfigError as exc:
        at = "" if name in ESTIMATORS else "estimator: "  # a parameter error names its key
        raise ConfigError(f"{source}: {at}{exc}") from None
    for key in raw_params:
        if key in INFERENCE_KEYS:
            raise ConfigError(
                f"{source}: params.{key}: {key!r} is an inference knob; move it under 'inference'"
            )
    params = tuple(parse_param(str(k), v, source, f"params.{k}") for k, v in raw_params.items())
    for p in params:
        check_minimum(p, family, source)
    metric = as_string(data.get("metric", "accuracy"), source, "metric")
    if metric not in METRICS:
        raise bad_value(source, "metric", metric, f"one of: {', '.join(METRICS)}")
    test_size = as_fraction(data.get("test_size", 0.2), source, "test_size")
    validation_size = as_fraction(data.get("validation_size", 0.2), source, "validation_size")
    if test_size + validation_size >= 1.0:
        raise ConfigError(
            f"{source}: validation_size: test_size + validation_size "
            f"({test_size} + {validation_size}) must be below 1; shrink one"
        )
    objectives, reward = _objectives(data, source)
    max_steps = _steps(data, "max_steps", family, source)
    patience = _steps(data, "patience", family, source)
    return SearchSpace(
        estimator=name,
        params=params,
        dataset=parse_dataset(data["dataset"], source, base_dir),
        metric=metric,
        test_size=test_size,
        validation_size=validation_size,
        seed=as_int(data.get("seed", 0), source, "seed"),
        inference=_inference(data.get("inference"), family, source),
        objectives=objectives,
        reward=reward,
        max_steps=max_steps,
        patience=patience,
    )


def suggest(trial: optuna.trial.BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Sample the estimator parameters and the inference knobs of ``space`` for ``trial``.

    The result holds every parameter of ``space.params`` plus ``"quantize"`` (always suggested,
    so every trial records it) and ``"prune_ratio"`` (``0.0`` when the space has no range).
    """
    out: dict[str, Any] = {p.name: suggest_param(trial, p) for p in space.params}
    out["quantize"] = trial.suggest_categorical("quantize", list(space.inference.quantize))
    ratio = space.inference.prune_ratio
    out["prune_ratio"] = 0.0 if ratio is None else suggest_param(trial, ratio)
    return out


def _inference(raw: Any, family: Family, source: str) -> InferenceSpace:
    if raw is None:
        return InferenceSpace()
    if not isinstance(raw, Mapping):
        raise bad_value(source, "inference", raw, "a mapping with quantize and/or prune_ratio")
    no_unknown_keys(raw, INFERENCE_KEYS, source, "inference.")
    quantize = raw.get("quantize", ["fp32"])
    if isinstance(quantize, str):
        quantize = [quantize]
    if not isinstance(quantize, list) or not quantize:
        raise bad_value(source, "inference.quantize", quantize, "a non-empty list of fp32, int8")
    for q in quantize:
        if q not in PRECISIONS:
            raise bad_value(source, "inference.quantize", q, f"one of: {', '.join(PRECISIONS)}")
    if len(set(quantize)) != len(quantize):
        raise ConfigError(f"{source}: inference.quantize: {quantize!r} repeats a precision")
    if "int8" in quantize and not family.quantizable:
        able = ", ".join(f.name for f in ESTIMATORS.values() if f.quantizable)
        raise ConfigError(
            f"{source}: inference.quantize: int8 does not apply to {family.name} (its ONNX "
            f"graph has no MatMul weights to quantize; it does to: {able}); use [fp32]"
        )
    ratio = None
    if raw.get("prune_ratio") is not None:
        if not family.prunable:
            able = ", ".join(f.name for f in ESTIMATORS.values() if f.prunable)
            raise ConfigError(
                f"{source}: inference.prune_ratio: pruning does not apply to {family.name} "
                f"(it does to: {able}); drop prune_ratio"
            )
        raw_ratio = raw["prune_ratio"]
        if isinstance(raw_ratio, Mapping) and "type" not in raw_ratio:
            raw_ratio = {"type": "float", **raw_ratio}
        ratio = parse_param("prune_ratio", raw_ratio, source, "inference.prune_ratio")
        values = ratio.choices if ratio.kind == "categorical" else (ratio.low, ratio.high)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v < 1.0:
                raise bad_value(source, "inference.prune_ratio", v, "ratios in [0, 1)")
    return InferenceSpace(quantize=tuple(quantize), prune_ratio=ratio)


def _objectives(data: Mapping[str, Any], source: str) -> tuple[tuple[str, ...], Reward | None]:
    raw_reward = data.get("reward")
    if raw_reward is not None:
        if "objectives" in data:
            raise ConfigError(
                f"{source}: reward: a reward is the single objective; drop 'objectives' or it"
            )
        if not isinstance(raw_reward, Mapping):
            raise bad_value(source, "reward", raw_reward, "{alpha: A, beta: B, gamma: G}")
        no_unknown_keys(raw_reward, ("alpha", "beta", "gamma"), source, "reward.")
        weights = {}
        for k, default in (("alpha", 1.0), ("beta", 0.0), ("gamma", 0.0)):
            w = as_number(raw_reward.get(k, default), source, f"reward.{k}")
            if w < 0:
                raise bad_value(source, f"reward.{k}", w, "a weight >= 0")
            weights[k] = float(w)
        return ("reward",), Reward(**weights)
    raw = data.get("objectives", ["metric", "energy"])
    if not isinstance(raw, list) or not raw:
        raise bad_value(source, "objectives", raw, f"a non-empty list of: {', '.join(OBJECTIVES)}")
    for o in raw:
        if o not in OBJECTIVES:
            raise bad_value(source, "objectives", o, f"any of: {', '.join(OBJECTIVES)}")
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{source}: objectives: {raw!r} repeats an objective; drop it")
    return tuple(raw), None


def _steps(data: Mapping[str, Any], key: str, family: Family, source: str) -> int | None:
    if data.get(key) is None:
        return None
    value = as_int(data[key], source, key)
    if value < 1:
        raise bad_value(source, key, value, "an integer >= 1")
    if not family.iterative:
        able = ", ".join(f.name for f in ESTIMATORS.values() if f.iterative)
        raise ConfigError(
            f"{source}: {key}: {family.name} trains in one step (it applies to: {able}); drop it"
        )
    return value
