"""Bounded readers for the structured text people hand to lowcarb: JSON and YAML.

Both refuse what a plain ``json.loads`` / ``yaml.safe_load`` accepts silently or dies on with a
traceback: duplicate keys (the last one would win silently), ``NaN``/``Infinity``/``1e400``,
numbers with thousands of digits (Python refuses to convert them past 4,300 digits with a
ValueError), nesting deep enough to exhaust the stack, and YAML aliases (a "billion laughs" alias
bomb of a few hundred bytes took 3.2 GB). Each is refused with one line naming the problem.
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

from lowcarb.errors import DataError

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "load_json", "load_yaml"]

#: Deepest nesting accepted (profiles, policies and provider answers need under 10).
MAX_DEPTH = 64
#: Longest number literal accepted: ~40 characters holds any float or a 128-bit integer.
MAX_NUMBER_CHARS = 40


def _number(text: str, source: str) -> float | int:
    if len(text) > MAX_NUMBER_CHARS:
        raise DataError(
            f"{source}: a number with {len(text)} characters ({text[:12]}...); "
            f"numbers are limited to {MAX_NUMBER_CHARS} characters"
        )
    value: float | int = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"{source}: number {text} is out of range (not finite); fix it")
    return value


def _depth(value: Any, source: str, level: int = 0) -> None:
    if level > MAX_DEPTH:
        raise DataError(f"{source}: nested more than {MAX_DEPTH} levels deep; flatten it")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, source, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, source, level + 1)


def load_json(text: str | bytes, *, source: str) -> Any:
    """Parse JSON text, refusing duplicate keys, non-finite or huge numbers and deep nesting.

    Raises:
        DataError: Not valid JSON or any of the above, in one line naming ``source``.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise DataError(f"{source}: key {key!r} is given twice; keep one")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise DataError(f"{source}: {name} is not a number JSON allows; give a finite number")

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not UTF-8 text (bad byte at {exc.start})") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _raw_depth(text) > MAX_DEPTH:
        raise DataError(f"{source}: nested more than {MAX_DEPTH} levels deep; flatten it")
    try:
        return json.loads(
            text,
            object_pairs_hook=pairs,
            parse_constant=constant,
            parse_int=lambda t: _number(t, source),
            parse_float=lambda t: _number(t, source),
        )
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise DataError(f"{source}: nested too deeply; flatten it") from None


def _raw_depth(text: str) -> int:
    """Deepest bracket nesting outside strings, without building anything."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys, non-finite or huge numbers."""

    source = "YAML"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event: Any = self.peek_event()  # type: ignore[no-untyped-call]
            raise DataError(
                f"{self.source}: YAML aliases (*{event.anchor}, line {event.start_mark.line + 1}) "
                "are not allowed; write the value out"
            )
        if len(self.anchors) > 10_000:  # pragma: no cover - anchors alone are harmless
            raise DataError(f"{self.source}: too many anchors")
        return super().compose_node(parent, index)


def _mapping(loader: _BoundedLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        try:
            seen = key in out
        except TypeError:
            raise DataError(f"{loader.source}: a mapping key must be plain text") from None
        if seen:
            line = key_node.start_mark.line + 1
            raise DataError(
                f"{loader.source}: key {key!r} is given twice (line {line}: {value!r}, "
                f"earlier: {out[key]!r}); contradictory, keep one"
            )
        out[key] = value
    return out


def _scalar_number(loader: _BoundedLoader, node: yaml.ScalarNode) -> Any:
    text = str(node.value)
    if len(text) > MAX_NUMBER_CHARS:
        raise DataError(
            f"{loader.source}: a number with {len(text)} characters on line "
            f"{node.start_mark.line + 1}; numbers are limited to {MAX_NUMBER_CHARS} characters"
        )
    if node.tag.endswith(":int"):
        return loader.construct_yaml_int(node)
    value = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise DataError(
            f"{loader.source}: {text} on line {node.start_mark.line + 1} is not a finite number"
        )
    return value


_BoundedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _scalar_number)
_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _scalar_number)


def load_yaml(text: str | bytes, *, source: str) -> Any:
    """Parse YAML safely and boundedly (no aliases, duplicate keys, huge or non-finite numbers).

    Raises:
        DataError: Not valid YAML or any of the above, in one line naming ``source``.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{source}: not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}); "
                "save it as UTF-8"
            ) from None
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # reads the first bytes: a bad encoding fails here
        loader.source = source
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{source}: not valid YAML: {reason}") from None
    except RecursionError:
        raise DataError(f"{source}: nested too deeply; flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()
    _depth(data, source)
    return data
