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

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lowcarb._files import check_input_file, read_text_file
from lowcarb._formats import load_yaml
from lowcarb.errors import ConfigError, LowcarbError, close_matches
from lowcarb.tuning._estimators import (
    BUNDLED_DATASETS,
    ESTIMATORS,
    INFERENCE_KEYS,
    METRICS,
    DatasetSpec,
    Family,
    check_params,
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
#: Header bytes read from a CSV to check its target column at load time.
_CSV_HEADER_BYTES = 1 << 20
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
_PARAM_KEYS = ("type", "low", "high", "log", "step", "choices")

Kind = Literal["int", "float", "categorical"]


@dataclass(frozen=True, slots=True)
class Param:
    """One searched parameter: a number range or a list of choices."""

    name: str
    kind: Kind
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()


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
    _no_unknown(data, _TOP_KEYS, source, "")
    for key in ("estimator", "dataset"):
        if key not in data:
            raise ConfigError(f"{source}: {key}: missing; add it (see examples/tuning/)")
    name = _string(data["estimator"], source, "estimator")
    raw_params = data.get("params") or {}
    if not isinstance(raw_params, Mapping):
        raise _bad(source, "params", raw_params, "a mapping of parameter name to range")
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
    params = tuple(_param(str(k), v, source, f"params.{k}") for k, v in raw_params.items())
    for p in params:
        _check_minimum(p, family, source)
    metric = _string(data.get("metric", "accuracy"), source, "metric")
    if metric not in METRICS:
        raise _bad(source, "metric", metric, f"one of: {', '.join(METRICS)}")
    test_size = _fraction(data.get("test_size", 0.2), source, "test_size")
    validation_size = _fraction(data.get("validation_size", 0.2), source, "validation_size")
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
        dataset=_dataset(data["dataset"], source, base_dir),
        metric=metric,
        test_size=test_size,
        validation_size=validation_size,
        seed=_int(data.get("seed", 0), source, "seed"),
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
    out: dict[str, Any] = {p.name: _suggest_one(trial, p) for p in space.params}
    out["quantize"] = trial.suggest_categorical("quantize", list(space.inference.quantize))
    ratio = space.inference.prune_ratio
    out["prune_ratio"] = 0.0 if ratio is None else _suggest_one(trial, ratio)
    return out


def _suggest_one(trial: optuna.trial.BaseTrial, p: Param) -> Any:
    if p.kind == "categorical":
        return trial.suggest_categorical(p.name, list(p.choices))
    assert p.low is not None and p.high is not None  # set by _param for numbers
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    step = None if p.step is None else float(p.step)
    return trial.suggest_float(p.name, float(p.low), float(p.high), step=step, log=p.log)


# -- validation helpers -----------------------------------------------------------------------


def _bad(source: str, key: str, value: Any, want: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: got {value!r}; use {want}")


def _no_unknown(data: Mapping[Any, Any], known: tuple[str, ...], source: str, at: str) -> None:
    for key in data:
        if key not in known:
            hint = close_matches(str(key), known)
            did = f"did you mean {', '.join(repr(h) for h in hint)}? " if hint else ""
            raise ConfigError(
                f"{source}: {at}{key}: unknown key {key!r}; {did}known: {', '.join(known)}"
            )


def _string(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(source, key, value, "a non-empty string")
    return value


def _int(value: Any, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(source, key, value, "an integer")
    return value


def _number(value: Any, source: str, key: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(source, key, value, "a number")
    return value


def _fraction(value: Any, source: str, key: str) -> float:
    number = _number(value, source, key)
    if not 0.0 < number < 1.0:
        raise _bad(source, key, value, "a fraction between 0 and 1 (exclusive)")
    return float(number)


def _param(name: str, raw: Any, source: str, key: str) -> Param:
    if isinstance(raw, list):
        raw = {"type": "categorical", "choices": raw}
    elif not isinstance(raw, Mapping):
        raw = {"type": "categorical", "choices": [raw]}  # a scalar: a fixed value
    _no_unknown(raw, _PARAM_KEYS, source, f"{key}.")
    kind = raw.get("type", "categorical" if "choices" in raw else None)
    if kind not in ("int", "float", "categorical"):
        raise _bad(source, f"{key}.type", kind, "int, float or categorical")
    if kind == "categorical":
        extra = [k for k in ("low", "high", "log", "step") if k in raw]
        if extra:
            raise ConfigError(f"{source}: {key}.{extra[0]}: a categorical takes only 'choices'")
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _bad(source, f"{key}.choices", choices, "a non-empty list")
        for c in choices:
            if c is not None and not isinstance(c, str | int | float | bool):
                raise _bad(source, f"{key}.choices", c, "strings, numbers, booleans or null")
        if len({repr(c) for c in choices}) != len(choices):
            raise ConfigError(f"{source}: {key}.choices: {choices!r} repeats a choice; drop it")
        return Param(name, "categorical", choices=tuple(choices))
    if "choices" in raw:
        raise ConfigError(f"{source}: {key}.choices: an {kind} range takes low and high")
    check = _int if kind == "int" else _number
    bounds = []
    for end in ("low", "high"):
        if end not in raw:
            raise ConfigError(f"{source}: {key}.{end}: missing; an {kind} range needs it")
        bounds.append(check(raw[end], source, f"{key}.{end}"))
    low, high = bounds
    if low >= high:
        raise ConfigError(f"{source}: {key}: low ({low}) must be below high ({high})")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise _bad(source, f"{key}.log", log, "true or false")
    if log and low <= 0:
        raise ConfigError(f"{source}: {key}.log: a log range needs low > 0, got low ({low})")
    step = raw.get("step")
    if step is not None:
        step = check(step, source, f"{key}.step")
        if step <= 0:
            raise _bad(source, f"{key}.step", step, "a positive number")
        if log:
            raise ConfigError(f"{source}: {key}.step: a log range cannot have a step; drop one")
    return Param(name, kind, low=low, high=high, log=log, step=step)


def _check_minimum(p: Param, family: Family, source: str) -> None:
    least = dict(family.minimums).get(p.name)
    if least is None:
        return
    values = p.choices if p.kind == "categorical" else (p.low,)
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool) and v < least:
            raise ConfigError(
                f"{source}: params.{p.name}: {v!r} is below the least {p.name} ({least:g}); "
                "raise it"
            )


def _dataset(raw: Any, source: str, base_dir: Path | None) -> DatasetSpec:
    if isinstance(raw, str):
        if raw not in BUNDLED_DATASETS:
            hint = close_matches(raw, BUNDLED_DATASETS)
            did = f"did you mean {', '.join(repr(h) for h in hint)}? " if hint else ""
            raise ConfigError(
                f"{source}: dataset: unknown dataset {raw!r}; {did}use one of: "
                f"{', '.join(BUNDLED_DATASETS)}, or {{csv: FILE, target: COLUMN}}"
            )
        return DatasetSpec(name=raw)
    if not isinstance(raw, Mapping):
        raise _bad(source, "dataset", raw, "a bundled set name or {csv: FILE, target: COLUMN}")
    _no_unknown(raw, ("csv", "target"), source, "dataset.")
    if "csv" not in raw:
        raise ConfigError(f"{source}: dataset.csv: missing; give the CSV file's path")
    path = Path(_string(raw["csv"], source, "dataset.csv"))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    target = raw.get("target")
    if target is not None:
        target = _string(target, source, "dataset.target")
    try:
        check_input_file(path, what="dataset CSV")
        header = _csv_header(path)
    except LowcarbError as exc:
        raise ConfigError(f"{source}: dataset.csv: {exc}") from None
    column = header[-1] if target is None else target
    if column not in header or len(header) < 2:
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
        raise ConfigError(
            f"{source}: dataset.target: {column!r} is not a column of {str(path)!r} "
            f"(columns: {shown}); name the label column, with at least one feature beside it"
        )
    return DatasetSpec(name=None, csv=path, target=target)


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open("rb") as fh:
            first = fh.readline(_CSV_HEADER_BYTES)
    except OSError as exc:
        raise ConfigError(f"{str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{str(path)!r} is not UTF-8 text; save it as UTF-8") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ConfigError(f"{str(path)!r} is not valid CSV: {exc}") from None
    if not rows or not rows[0]:
        raise ConfigError(f"{str(path)!r} has no header row; add one naming the columns")
    return rows[0]


def _inference(raw: Any, family: Family, source: str) -> InferenceSpace:
    if raw is None:
        return InferenceSpace()
    if not isinstance(raw, Mapping):
        raise _bad(source, "inference", raw, "a mapping with quantize and/or prune_ratio")
    _no_unknown(raw, INFERENCE_KEYS, source, "inference.")
    quantize = raw.get("quantize", ["fp32"])
    if isinstance(quantize, str):
        quantize = [quantize]
    if not isinstance(quantize, list) or not quantize:
        raise _bad(source, "inference.quantize", quantize, "a non-empty list of fp32, int8")
    for q in quantize:
        if q not in PRECISIONS:
            raise _bad(source, "inference.quantize", q, f"one of: {', '.join(PRECISIONS)}")
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
        ratio = _param("prune_ratio", raw_ratio, source, "inference.prune_ratio")
        values = ratio.choices if ratio.kind == "categorical" else (ratio.low, ratio.high)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v < 1.0:
                raise _bad(source, "inference.prune_ratio", v, "ratios in [0, 1)")
    return InferenceSpace(quantize=tuple(quantize), prune_ratio=ratio)


def _objectives(data: Mapping[str, Any], source: str) -> tuple[tuple[str, ...], Reward | None]:
    raw_reward = data.get("reward")
    if raw_reward is not None:
        if "objectives" in data:
            raise ConfigError(
                f"{source}: reward: a reward is the single objective; drop 'objectives' or it"
            )
        if not isinstance(raw_reward, Mapping):
            raise _bad(source, "reward", raw_reward, "{alpha: A, beta: B, gamma: G}")
        _no_unknown(raw_reward, ("alpha", "beta", "gamma"), source, "reward.")
        weights = {}
        for k, default in (("alpha", 1.0), ("beta", 0.0), ("gamma", 0.0)):
            w = _number(raw_reward.get(k, default), source, f"reward.{k}")
            if w < 0:
                raise _bad(source, f"reward.{k}", w, "a weight >= 0")
            weights[k] = float(w)
        return ("reward",), Reward(**weights)
    raw = data.get("objectives", ["metric", "energy"])
    if not isinstance(raw, list) or not raw:
        raise _bad(source, "objectives", raw, f"a non-empty list of: {', '.join(OBJECTIVES)}")
    for o in raw:
        if o not in OBJECTIVES:
            raise _bad(source, "objectives", o, f"any of: {', '.join(OBJECTIVES)}")
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{source}: objectives: {raw!r} repeats an objective; drop it")
    return tuple(raw), None


def _steps(data: Mapping[str, Any], key: str, family: Family, source: str) -> int | None:
    if data.get(key) is None:
        return None
    value = _int(data[key], source, key)
    if value < 1:
        raise _bad(source, key, value, "an integer >= 1")
    if not family.iterative:
        able = ", ".join(f.name for f in ESTIMATORS.values() if f.iterative)
        raise ConfigError(
            f"{source}: {key}: {family.name} trains in one step (it applies to: {able}); drop it"
        )
    return value
