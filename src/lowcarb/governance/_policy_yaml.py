"""Parsing and validating policy YAML (the schema is in :mod:`lowcarb.governance._policy`).

PyYAML keeps the last of two equal keys silently; here a key given twice is refused as
contradictory. Every error names the key path (``budgets[1].period``) and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, TypeGuard, overload

from lowcarb._files import read_text_file
from lowcarb._formats import load_yaml
from lowcarb.errors import DataError, PolicyError, UnknownRuleError, UsageError, close_matches
from lowcarb.governance._policy import (
    _PERIODS,
    BUDGET_RULE,
    RULES,
    Budget,
    Override,
    PromotionPolicy,
)

__all__ = ["load_policy", "parse_policy", "policy_from_dict"]

_OVERRIDE_KEYS = ("rule", "model", "version", "approver", "reason", "expires")
_BUDGET_KEYS = ("team", "project", "period", "co2e_kg", "on_exceed", "warn_at_pct")
_TOP_KEYS = ("version", "name", "description", "rules", "budgets", "overrides")


#: The largest policy file read (a policy is a page of YAML).
MAX_POLICY_BYTES = 1 << 20


# -- validation --------------------------------------------------------------------------------
def _fail(source: str, key: str, reason: str) -> PolicyError:
    return PolicyError(f"{source}: {key}: {reason}")


def _unknown_key(source: str, where: str, key: object, known: tuple[str, ...]) -> PolicyError:
    hints = close_matches(str(key), known)
    hint = f"; did you mean {hints[0]!r}?" if hints else ""
    return _fail(source, f"{where}{key}", f"unknown key{hint} (allowed: {', '.join(known)})")


def _is_number(v: object) -> TypeGuard[float]:  # an int narrows to float as mypy promotes it
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _rule_value(source: str, name: str, value: object) -> float | bool:
    spec = RULES[name]
    key = f"rules.{name}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise _fail(source, key, f"must be true or false, got {value!r}")
        return value
    if spec.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise _fail(source, key, f"must be a whole number, got {value!r}")
    if not _is_number(value):
        raise _fail(source, key, f"must be a finite number, got {value!r}")
    num = float(value)
    if spec.lo is not None and (num <= spec.lo if spec.lo_open else num < spec.lo):
        bound = f"> {spec.lo:g}" if spec.lo_open else f">= {spec.lo:g}"
        raise _fail(source, key, f"must be {bound} ({spec.doc}), got {value!r}")
    if spec.hi is not None and num > spec.hi:
        raise _fail(source, key, f"must be <= {spec.hi:g} ({spec.doc}), got {value!r}")
    return int(num) if spec.kind == "int" else num


def _parse_rules(source: str, raw: object) -> dict[str, float | bool]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _fail(source, "rules", f"must be a mapping of rule name to limit, got {raw!r}")
    rules: dict[str, float | bool] = {}
    for name, value in raw.items():
        if name not in RULES:
            raise UnknownRuleError(
                str(name),
                RULES,
                hint=f"{source}: rules.{name}; known rules: {', '.join(RULES)}",
            )
        rules[name] = _rule_value(source, name, value)
    if "min_accuracy_gain_pts_to_exceed" in rules and "max_energy_increase_pct" not in rules:
        raise _fail(
            source,
            "rules.min_accuracy_gain_pts_to_exceed",
            "excuses an energy increase, but rules.max_energy_increase_pct is not set: "
            "contradictory; set the energy limit or remove the excuse",
        )
    return rules


@overload
def _text(source: str, key: str, value: object, *, required: Literal[True]) -> str: ...
@overload
def _text(source: str, key: str, value: object, *, required: bool) -> str | None: ...
def _text(source: str, key: str, value: object, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and key.endswith("version"):
        return str(value)  # `version: 7` in YAML is a number; versions are text
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, key, f"must be a non-empty string, got {value!r}")
    return value.strip()


def _mapping_items(source: str, key: str, raw: object) -> list[Mapping[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail(source, key, f"must be a list of mappings, got {raw!r}")
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise _fail(source, f"{key}[{i}]", f"must be a mapping, got {item!r}")
    return raw


def _parse_budgets(source: str, raw: object) -> tuple[Budget, ...]:
    budgets: list[Budget] = []
    for i, item in enumerate(_mapping_items(source, "budgets", raw)):
        where = f"budgets[{i}]."
        for k in item:
            if k not in _BUDGET_KEYS:
                raise _unknown_key(source, where, k, _BUDGET_KEYS)
        team = _text(source, where + "team", item.get("team"), required=False)
        project = _text(source, where + "project", item.get("project"), required=False)
        if team is None and project is None:
            raise _fail(source, f"budgets[{i}]", "needs a team, a project or both")
        period = item.get("period")
        if period not in _PERIODS:
            hints = close_matches(str(period), _PERIODS)
            hint = f"; did you mean {hints[0]!r}?" if hints else ""
            raise _fail(
                source,
                where + "period",
                f"must be one of {', '.join(_PERIODS)}, got {period!r}{hint}",
            )
        limit: Any = item.get("co2e_kg")
        if not _is_number(limit) or limit <= 0:
            raise _fail(source, where + "co2e_kg", f"must be a number > 0 (kg CO2e), got {limit!r}")
        action = item.get("on_exceed", "refuse")
        if action not in ("warn", "refuse"):
            raise _fail(source, where + "on_exceed", f"must be 'warn' or 'refuse', got {action!r}")
        warn_at: Any = item.get("warn_at_pct", 80.0)
        if not _is_number(warn_at) or not 0 < warn_at <= 100:
            raise _fail(source, where + "warn_at_pct", f"must be in (0, 100], got {warn_at!r}")
        budget = Budget(team, project, period, float(limit), action, float(warn_at))
        for j, other in enumerate(budgets):
            if (other.team, other.project, other.period) == (team, project, period):
                raise _fail(
                    source,
                    f"budgets[{i}]",
                    f"same scope ({budget.scope}) and period ({period}) as budgets[{j}] with "
                    f"{other.co2e_kg:g} kg: contradictory, keep one",
                )
        budgets.append(budget)
    return tuple(budgets)


def _expiry(source: str, key: str, value: object) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                datetime.fromisoformat(text)
                if "T" in text or " " in text
                else date.fromisoformat(text)
            )
        except ValueError:
            raise _fail(source, key, f"must be an ISO 8601 date or time, got {text!r}") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):  # a date is valid through the end of that day (UTC)
        return datetime.combine(value, time(0), tzinfo=UTC) + timedelta(days=1)
    raise _fail(source, key, f"must be a date (2025-07-01) or an ISO 8601 time, got {value!r}")


def _parse_overrides(
    source: str, raw: object, rules: Mapping[str, object], budgets: tuple[Budget, ...]
) -> tuple[Override, ...]:
    out: list[Override] = []
    allowed = (*RULES, BUDGET_RULE)
    for i, item in enumerate(_mapping_items(source, "overrides", raw)):
        where = f"overrides[{i}]."
        for k in item:
            if k not in _OVERRIDE_KEYS:
                raise _unknown_key(source, where, k, _OVERRIDE_KEYS)
        for k in ("rule", "approver", "reason", "expires"):
            if item.get(k) is None:
                raise _fail(
                    source,
                    where + k,
                    "is required (an override records rule, approver, reason and expiry)",
                )
        rule = _text(source, where + "rule", item["rule"], required=True)
        assert rule is not None
        if rule not in allowed:
            raise UnknownRuleError(rule, allowed, hint=f"{source}: {where}rule")
        if (rule == BUDGET_RULE and not budgets) or (rule != BUDGET_RULE and rule not in rules):
            raise _fail(
                source,
                where + "rule",
                f"{rule!r} is not set in this policy, so overriding it has no effect: "
                "contradictory; remove the override or set the rule",
            )
        out.append(
            Override(
                rule=rule,
                approver=_text(source, where + "approver", item["approver"], required=True),
                reason=_text(source, where + "reason", item["reason"], required=True),
                expires_at=_expiry(source, where + "expires", item["expires"]),
                model=_text(source, where + "model", item.get("model"), required=False),
                version=_text(source, where + "version", item.get("version"), required=False),
            )
        )
    return tuple(out)


def policy_from_dict(data: object, *, source: str = "policy") -> PromotionPolicy:
    """Validate a decoded policy mapping (see the module docstring for the schema).

    Raises:
        PolicyError: A bad or contradictory key; the message names it and says why.
        UnknownRuleError: A rule name that does not exist, with close matches.
    """
    if data is None:
        raise PolicyError(f"{source}: empty policy; it needs at least a `rules:` mapping")
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: must be a YAML mapping with a `rules:` key, got {data!r}")
    for k in data:
        if k not in _TOP_KEYS:
            raise _unknown_key(source, "", k, _TOP_KEYS)
    version = data.get("version", 1)
    if version != 1 or isinstance(version, bool):
        raise _fail(source, "version", f"must be 1 (the only policy version), got {version!r}")
    if "rules" not in data and "budgets" not in data:
        raise PolicyError(f"{source}: has neither `rules:` nor `budgets:`; nothing to enforce")
    rules = _parse_rules(source, data.get("rules"))
    budgets = _parse_budgets(source, data.get("budgets"))
    overrides = _parse_overrides(source, data.get("overrides"), rules, budgets)
    name = _text(source, "name", data.get("name"), required=False) or "policy"
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise _fail(source, "description", f"must be text, got {description!r}")
    return PromotionPolicy(rules, budgets, overrides, name, description)


def parse_policy(text: str | bytes, *, source: str = "policy") -> PromotionPolicy:
    """Parse and validate policy YAML.

    Raises:
        PolicyError: Not YAML, a duplicate key, or a bad or contradictory key.
        UnknownRuleError: An unknown rule name.
    """
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}: larger than {MAX_POLICY_BYTES:,} bytes; is it a policy?")
    try:
        data = load_yaml(text, source=source)
    except DataError as exc:
        raise PolicyError(str(exc)) from None
    return policy_from_dict(data, source=source)


def load_policy(path: str | Path) -> PromotionPolicy:
    """Read and validate a policy file.

    Raises:
        PolicyError: Unreadable, not YAML, or invalid (naming the key and the reason).
        UnknownRuleError: An unknown rule name.
    """
    p = Path(path)
    try:
        raw = read_text_file(p, what="policy", max_bytes=MAX_POLICY_BYTES)
    except (DataError, UsageError) as exc:
        raise PolicyError(str(exc)) from None
    return parse_policy(raw, source=str(p))
