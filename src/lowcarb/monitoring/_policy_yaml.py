"""Parsing and validating a monitoring policy (the schema is in :mod:`lowcarb.monitoring._policy`).

Like the promotion policy (:mod:`lowcarb.governance`): a key given twice, an unknown key (named
with the known ones and a close match), a wrong type or an out-of-range value is refused with one
line naming the key path (``retrain.job.duration``) and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard, get_args

from lowcarb._files import read_input_bytes
from lowcarb._formats import load_yaml
from lowcarb._text import check_name, plain
from lowcarb.errors import (
    DataError,
    InvalidValueError,
    PolicyError,
    UnknownZoneError,
    UsageError,
    close_matches,
)
from lowcarb.grid import lookup_zone
from lowcarb.monitoring._policy import (
    DriftTrigger,
    EnergyRegressionRule,
    JobTemplate,
    PerformanceMethod,
    PerformanceTrigger,
    RetrainPolicy,
    RetrainRule,
)
from lowcarb.profiling import sha256_hex
from lowcarb.units import MAX_DURATION, parse_duration

__all__ = [
    "MAX_POLICY_BYTES",
    "load_retrain_policy",
    "parse_retrain_policy",
    "retrain_policy_from_dict",
]

#: The largest policy file read (a policy is a page of YAML).
MAX_POLICY_BYTES = 1 << 20
#: The most arguments a job command and the most features a drift trigger may list.
MAX_ITEMS = 1024

_TOP_KEYS = ("version", "name", "description", "retrain", "energy_regression")
_RETRAIN_KEYS = ("drift", "performance", "min_gain_pts_per_kwh", "cooldown", "deadline", "job")
_DRIFT_KEYS = ("max_drift_share", "features", "categorical")
_PERFORMANCE_KEYS = ("max_drop_pts", "method")
_JOB_KEYS = (
    "command",
    "duration",
    "zone",
    "zones",
    "team",
    "project",
    "model",
    "interruptible",
    "min_chunk",
    "power_w",
    "cwd",
)
_REGRESSION_KEYS = ("max_increase_pct", "rollback", "alias")
_METHODS: tuple[PerformanceMethod, ...] = get_args(PerformanceMethod)
_YAML_BOOL_ZONES = {False: "NO", True: "YES"}  # YAML 1.1 reads `zone: NO` (Norway) as false


class _Checker:
    """Validation helpers that name the policy file in every message."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, reason: str) -> PolicyError:
        return PolicyError(f"{self.source}: {key}: {reason}")

    def mapping(self, key: str, raw: object, known: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(raw, Mapping):
            shown = ", ".join(known)
            raise self.fail(key, f"must be a mapping with keys among {shown}, got {_r(raw)}")
        for k in raw:
            if k not in known:
                hints = close_matches(str(k), known)
                hint = f"; did you mean {hints[0]!r}?" if hints else ""
                name = plain(k)[:60]
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key{hint} (allowed: {', '.join(known)})")
        return raw

    def number(
        self,
        key: str,
        value: object,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        what: str,
    ) -> float:
        if not _is_number(value):
            raise self.fail(key, f"must be a finite number ({what}), got {_r(value)}")
        num = float(value)
        if lo is not None and (num <= lo if lo_open else num < lo):
            bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
            raise self.fail(key, f"must be {bound} ({what}), got {_r(value)}")
        if hi is not None and num > hi:
            raise self.fail(key, f"must be <= {hi:g} ({what}), got {_r(value)}")
        return num

    def duration_s(self, key: str, value: object, *, allow_zero: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(key, f"must be a duration such as 90m, 24h or 7d, got {_r(value)}")
        if allow_zero and str(value).strip() in {"0", "0.0", "0s", "0m", "0h", "0d"}:
            return 0.0
        try:
            return parse_duration(str(value), what=key).total_seconds()
        except InvalidValueError as exc:
            raise PolicyError(f"{self.source}: {exc}") from None

    def flag(self, key: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {_r(value)}")
        return value

    def name(self, key: str, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be text, got {_r(value)}")
        try:
            return check_name(value, what=key)
        except InvalidValueError as exc:
            raise PolicyError(f"{self.source}: {exc}") from None

    def texts(self, key: str, raw: object, *, what: str) -> tuple[str, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(key, f"must be a non-empty list of {what}, got {_r(raw)}")
        if len(raw) > MAX_ITEMS:
            raise self.fail(key, f"lists {len(raw)} items; at most {MAX_ITEMS} are allowed")
        out: list[str] = []
        for i, item in enumerate(raw):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.fail(f"{key}[{i}]", f"must be text, got {_r(item)}")
            text = str(item)
            if not text.strip() or "\x00" in text:
                raise self.fail(f"{key}[{i}]", f"must be non-empty text, got {_r(item)}")
            out.append(text)
        return tuple(out)


def _r(value: object) -> str:
    """``repr(value)``, cut to a length one error line can carry."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(v: object) -> TypeGuard[float]:  # an int narrows to float as mypy promotes it
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _drift(c: _Checker, raw: object) -> DriftTrigger:
    data = c.mapping("retrain.drift", raw, _DRIFT_KEYS)
    if "max_drift_share" not in data:
        raise c.fail("retrain.drift.max_drift_share", "is required (share of features, 0..1)")
    share = c.number(
        "retrain.drift.max_drift_share",
        data["max_drift_share"],
        lo=0,
        hi=1,
        what="share of watched features that may drift, 0..1",
    )
    features = None
    if data.get("features") is not None:
        features = _unique(c, "retrain.drift.features", data["features"])
    categorical: tuple[str, ...] = ()
    if data.get("categorical") is not None:
        categorical = _unique(c, "retrain.drift.categorical", data["categorical"])
    return DriftTrigger(share, features, categorical)


def _unique(c: _Checker, key: str, raw: object) -> tuple[str, ...]:
    names = c.texts(key, raw, what="feature names")
    seen: set[str] = set()
    for f in names:
        if f in seen:
            raise c.fail(key, f"names {_r(f)} twice; keep one")
        seen.add(f)
    return names


def _performance(c: _Checker, raw: object) -> PerformanceTrigger:
    data = c.mapping("retrain.performance", raw, _PERFORMANCE_KEYS)
    if "max_drop_pts" not in data:
        raise c.fail("retrain.performance.max_drop_pts", "is required (percentage points)")
    drop = c.number(
        "retrain.performance.max_drop_pts",
        data["max_drop_pts"],
        lo=0,
        hi=100,
        what="accuracy drop allowed, percentage points",
    )
    method = data.get("method", "any")
    if method not in _METHODS:
        hints = close_matches(str(method), _METHODS)
        hint = f"; did you mean {hints[0]!r}?" if hints else ""
        raise c.fail(
            "retrain.performance.method",
            f"must be one of {', '.join(_METHODS)}, got {_r(method)}{hint}",
        )
    return PerformanceTrigger(drop, method)


def _zones(c: _Checker, data: Mapping[str, Any]) -> tuple[str, ...]:
    if ("zone" in data) == ("zones" in data):
        raise c.fail("retrain.job", "give exactly one of zone: Z or zones: [Z1, Z2]")
    key = "retrain.job.zone" if "zone" in data else "retrain.job.zones"
    raw = [data["zone"]] if "zone" in data else data["zones"]
    if not isinstance(raw, list) or not raw:
        raise c.fail(key, f"must be a non-empty list of zones, got {_r(raw)}")
    out: list[str] = []
    for value in raw:
        if isinstance(value, bool):
            raise c.fail(
                key,
                f"YAML read {_YAML_BOOL_ZONES[value]} as {str(value).lower()}; quote the zone "
                f"('{_YAML_BOOL_ZONES[value]}')",
            )
        if not isinstance(value, str) or not value.strip():
            raise c.fail(key, f"must be a zone id such as DE, got {_r(value)}")
        try:
            out.append(lookup_zone(value).zone_id)
        except UnknownZoneError as exc:
            raise PolicyError(f"{c.source}: {key}: {exc}") from None
    return tuple(out)


def _job(c: _Checker, raw: object) -> JobTemplate:
    data = c.mapping("retrain.job", raw, _JOB_KEYS)
    for key in ("command", "duration"):
        if key not in data:
            raise c.fail(f"retrain.job.{key}", "is required")
    if isinstance(data["command"], str):
        raise c.fail(
            "retrain.job.command",
            f"must be a list of arguments such as [python, train.py], got the text "
            f"{_r(data['command'])} (no shell splits it)",
        )
    command = c.texts("retrain.job.command", data["command"], what="program arguments")
    power = data.get("power_w")
    return JobTemplate(
        command=command,
        duration_s=c.duration_s("retrain.job.duration", data["duration"]),
        zones=_zones(c, data),
        team=c.name("retrain.job.team", data.get("team")),
        project=c.name("retrain.job.project", data.get("project")),
        model=c.name("retrain.job.model", data.get("model")),
        interruptible=c.flag("retrain.job.interruptible", data.get("interruptible", False)),
        min_chunk_s=c.duration_s("retrain.job.min_chunk", data.get("min_chunk", "1h")),
        power_w=None
        if power is None
        else c.number("retrain.job.power_w", power, lo=0, lo_open=True, hi=1e9, what="watts"),
        cwd=c.name("retrain.job.cwd", data.get("cwd")),
    )


def _retrain(c: _Checker, raw: object) -> RetrainRule:
    data = c.mapping("retrain", raw, _RETRAIN_KEYS)
    drift = None if data.get("drift") is None else _drift(c, data["drift"])
    performance = None if data.get("performance") is None else _performance(c, data["performance"])
    if drift is None and performance is None:
        raise c.fail("retrain", "has no trigger; give drift: and/or performance:")
    if data.get("job") is None:
        raise c.fail("retrain.job", "is required (the command to run, its duration and zone)")
    if "deadline" not in data:
        raise c.fail("retrain.deadline", "is required (the retrain must start within it, e.g. 24h)")
    gain = data.get("min_gain_pts_per_kwh")
    job = _job(c, data["job"])
    deadline_s = c.duration_s("retrain.deadline", data["deadline"])
    if deadline_s + job.duration_s > MAX_DURATION.total_seconds():
        raise c.fail(
            "retrain.deadline",
            f"plus the job's duration is longer than the {MAX_DURATION.days} days a plan may "
            "look ahead; give a shorter deadline",
        )
    return RetrainRule(
        job=job,
        deadline_s=deadline_s,
        drift=drift,
        performance=performance,
        min_gain_pts_per_kwh=None
        if gain is None
        else c.number(
            "retrain.min_gain_pts_per_kwh",
            gain,
            lo=0,
            what="accuracy points expected per kWh of retraining",
        ),
        cooldown_s=c.duration_s("retrain.cooldown", data.get("cooldown", 0), allow_zero=True),
    )


def _regression(c: _Checker, raw: object) -> EnergyRegressionRule:
    data = c.mapping("energy_regression", raw, _REGRESSION_KEYS)
    if "max_increase_pct" not in data:
        raise c.fail("energy_regression.max_increase_pct", "is required (percent)")
    alias = data.get("alias", "champion")
    if not isinstance(alias, str) or not alias.strip() or len(alias) > 255:
        raise c.fail("energy_regression.alias", f"must be an alias name, got {_r(alias)}")
    return EnergyRegressionRule(
        max_increase_pct=c.number(
            "energy_regression.max_increase_pct",
            data["max_increase_pct"],
            lo=0,
            what="rise of joules per 1,000 inferences allowed, percent",
        ),
        rollback=c.flag("energy_regression.rollback", data.get("rollback", False)),
        alias=alias.strip(),
    )


def retrain_policy_from_dict(
    data: object, *, source: str = "policy", sha256: str = ""
) -> RetrainPolicy:
    """Validate a decoded policy mapping (see :mod:`lowcarb.monitoring._policy` for the schema).

    Raises:
        PolicyError: A bad key or value; the message names it and says how to fix it.
    """
    c = _Checker(source)
    if data is None:
        raise PolicyError(f"{source}: empty policy; it needs a `retrain:` or `energy_regression:`")
    if not isinstance(data, Mapping):
        raise PolicyError(
            f"{source}: must be a YAML mapping with `retrain:` and/or `energy_regression:`, "
            f"got {_r(data)}"
        )
    top = c.mapping("", data, _TOP_KEYS)
    version = top.get("version", 1)
    if version != 1 or isinstance(version, bool):
        raise c.fail("version", f"must be 1 (the only policy version), got {_r(version)}")
    if top.get("retrain") is None and top.get("energy_regression") is None:
        raise PolicyError(
            f"{source}: has neither `retrain:` nor `energy_regression:`; nothing to monitor"
        )
    name = c.name("name", top.get("name")) or "policy"
    description = top.get("description") or ""
    if not isinstance(description, str):
        raise c.fail("description", f"must be text, got {_r(description)}")
    return RetrainPolicy(
        retrain=None if top.get("retrain") is None else _retrain(c, top["retrain"]),
        energy_regression=None
        if top.get("energy_regression") is None
        else _regression(c, top["energy_regression"]),
        name=name,
        description=description,
        source=source,
        sha256=sha256,
    )


def parse_retrain_policy(text: str | bytes, *, source: str = "policy") -> RetrainPolicy:
    """Parse and validate monitoring-policy YAML.

    Raises:
        PolicyError: Too large, not YAML, a duplicate key, or a bad key or value.
    """
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}: larger than {MAX_POLICY_BYTES:,} bytes; is it a policy?")
    raw = text.encode() if isinstance(text, str) else text
    try:
        data = load_yaml(text, source=source)
    except DataError as exc:
        raise PolicyError(str(exc)) from None
    return retrain_policy_from_dict(data, source=source, sha256=sha256_hex(raw))


def load_retrain_policy(path: str | Path) -> RetrainPolicy:
    """Read and validate a monitoring-policy file.

    Raises:
        PolicyError: Unreadable, not YAML, or invalid (naming the key and the reason).
    """
    p = Path(path)
    try:
        raw = read_input_bytes(p, what="policy", max_bytes=MAX_POLICY_BYTES)
    except (DataError, UsageError) as exc:
        raise PolicyError(str(exc)) from None
    return parse_retrain_policy(raw, source=str(p))
