"""One searched parameter of a space file (:mod:`._space`): a number range or a list of choices,
parsed from its YAML (see that module's docstring for the format) and sampled by a trial."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lowcarb.errors import ConfigError
from lowcarb.tuning._estimators import Family
from lowcarb.tuning._space_values import as_int, as_number, bad_value, no_unknown_keys

if TYPE_CHECKING:
    import optuna

__all__ = [
    "Param",
    "check_minimum",
    "parse_param",
    "suggest_param",
]

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


def parse_param(name: str, raw: Any, source: str, key: str) -> Param:
    """The parameter ``name`` from its YAML ``raw`` (a mapping, a list of choices or a fixed
    scalar), found at ``key`` of the file ``source``.

    Raises:
        ConfigError: An unknown key, a wrong type, an empty or inverted range, repeated choices.
    """
    if isinstance(raw, list):
        raw = {"type": "categorical", "choices": raw}
    elif not isinstance(raw, Mapping):
        raw = {"type": "categorical", "choices": [raw]}  # a scalar: a fixed value
    no_unknown_keys(raw, _PARAM_KEYS, source, f"{key}.")
    kind = raw.get("type", "categorical" if "choices" in raw else None)
    if kind not in ("int", "float", "categorical"):
        raise bad_value(source, f"{key}.type", kind, "int, float or categorical")
    if kind == "categorical":
        extra = [k for k in ("low", "high", "log", "step") if k in raw]
        if extra:
            raise ConfigError(f"{source}: {key}.{extra[0]}: a categorical takes only 'choices'")
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise bad_value(source, f"{key}.choices", choices, "a non-empty list")
        for c in choices:
            if c is not None and not isinstance(c, str | int | float | bool):
                raise bad_value(source, f"{key}.choices", c, "strings, numbers, booleans or null")
        if len({repr(c) for c in choices}) != len(choices):
            raise ConfigError(f"{source}: {key}.choices: {choices!r} repeats a choice; drop it")
        return Param(name, "categorical", choices=tuple(choices))
    if "choices" in raw:
        raise ConfigError(f"{source}: {key}.choices: an {kind} range takes low and high")
    check = as_int if kind == "int" else as_number
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
        raise bad_value(source, f"{key}.log", log, "true or false")
    if log and low <= 0:
        raise ConfigError(f"{source}: {key}.log: a log range needs low > 0, got low ({low})")
    step = raw.get("step")
    if step is not None:
        step = check(step, source, f"{key}.step")
        if step <= 0:
            raise bad_value(source, f"{key}.step", step, "a positive number")
        if log:
            raise ConfigError(f"{source}: {key}.step: a log range cannot have a step; drop one")
    return Param(name, kind, low=low, high=high, log=log, step=step)


def check_minimum(p: Param, family: Family, source: str) -> None:
    """Refuse a value of ``p`` below the least its family takes (:attr:`Family.minimums`)."""
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


def suggest_param(trial: optuna.trial.BaseTrial, p: Param) -> Any:
    """A value of ``p`` sampled by ``trial`` (Optuna's distribution of the same range)."""
    if p.kind == "categorical":
        return trial.suggest_categorical(p.name, list(p.choices))
    assert p.low is not None and p.high is not None  # set by parse_param for numbers
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    step = None if p.step is None else float(p.step)
    return trial.suggest_float(p.name, float(p.low), float(p.high), step=step, log=p.log)
