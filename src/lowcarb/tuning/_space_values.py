"""The checks of single values in a space file (:mod:`._space`): each error is one line naming
the file and the key, quoting the value and saying what to use instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lowcarb.errors import ConfigError, close_matches

__all__ = [
    "as_fraction",
    "as_int",
    "as_number",
    "as_string",
    "bad_value",
    "no_unknown_keys",
]


def bad_value(source: str, key: str, value: Any, want: str) -> ConfigError:
    """The error for ``value`` at ``key`` of ``source``, saying to use ``want`` instead."""
    return ConfigError(f"{source}: {key}: got {value!r}; use {want}")


def no_unknown_keys(data: Mapping[Any, Any], known: tuple[str, ...], source: str, at: str) -> None:
    """Refuse a key of ``data`` (under ``at``) that is not in ``known``, naming close matches."""
    for key in data:
        if key not in known:
            hint = close_matches(str(key), known)
            did = f"did you mean {', '.join(repr(h) for h in hint)}? " if hint else ""
            raise ConfigError(
                f"{source}: {at}{key}: unknown key {key!r}; {did}known: {', '.join(known)}"
            )


def as_string(value: Any, source: str, key: str) -> str:
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise bad_value(source, key, value, "a non-empty string")
    return value


def as_int(value: Any, source: str, key: str) -> int:
    """``value`` if it is an integer (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_value(source, key, value, "an integer")
    return value


def as_number(value: Any, source: str, key: str) -> float | int:
    """``value`` if it is an integer or a float (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_value(source, key, value, "a number")
    return value


def as_fraction(value: Any, source: str, key: str) -> float:
    """``value`` as a float, if it is a number strictly between 0 and 1."""
    number = as_number(value, source, key)
    if not 0.0 < number < 1.0:
        raise bad_value(source, key, value, "a fraction between 0 and 1 (exclusive)")
    return float(number)
