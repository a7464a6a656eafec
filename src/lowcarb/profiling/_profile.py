"""The efficiency profile of one model version: the JSON that gates and registries compare.

A profile file is one JSON object (DESIGN.md, ``lowcarb gate``). The required fields are the
contract; the optional ones are what ``lowcarb profile`` adds. Any other field is refused with a
close-match hint, so a typo (``energy_per1k_j``) cannot silently drop a number from a gate.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from lowcarb._files import read_text_file
from lowcarb._formats import load_json
from lowcarb._text import MAX_NAME_CHARS
from lowcarb.errors import DataError, ProfileError, UsageError, close_matches

__all__ = [
    "OPTIONAL_PROFILE_FIELDS",
    "PROFILE_SCHEMA",
    "REQUIRED_PROFILE_FIELDS",
    "Profile",
    "load_profile",
    "parse_profile",
    "profile_from_dict",
    "sha256_hex",
]

#: Schema identifier written into every profile ``lowcarb profile`` emits.
PROFILE_SCHEMA = "lowcarb.profile/1"

EnergyMethod = Literal["measured", "estimated"]


@dataclass(frozen=True, slots=True)
class Profile:
    """Size, cost and quality of one model version, measured on one machine.

    Required (the DESIGN.md contract):

    Attributes:
        model: Model name.
        version: Model version (text; registries number versions, files may not).
        accuracy: Held-out accuracy, 0..1.
        latency_p95_ms: 95th-percentile latency of one inference at batch size 1, milliseconds.
        energy_per_1k_j: Energy of 1,000 inferences, joules.
        energy_method: ``measured`` (hardware counters) or ``estimated`` (a power model).
        flops: Floating-point operations per inference, or None where not derivable.
        size_bytes: Size of the serialized model on disk, bytes.
        training_co2e_kg: CO2e of training as recorded in the ledger, kg; None when unknown.

    Optional (written by ``lowcarb profile``; every one may be absent):

    Attributes:
        schema: ``lowcarb.profile/1``.
        params: Parameter count (weights, biases, split thresholds, leaf values).
        flops_note: How FLOPs and params were counted, or why they are missing.
        latency_p50_ms: Median latency at batch size 1, ms.
        latency_batch_size: The larger batch size timed.
        latency_batch_p50_ms, latency_batch_p95_ms: Latency of one call at that batch size, ms.
        energy_source: Meters behind ``energy_per_1k_j`` (e.g. ``rapl:intel-rapl:0``).
        energy_inferences: Inferences run while measuring energy.
        energy_duration_s: Length of the energy window, seconds.
        energy_batch_size: Batch size used while measuring energy.
        training_co2e_source: Where ``training_co2e_kg`` came from (the ledger URL, redacted).
        training_records: Number of ledger records summed into ``training_co2e_kg``.
        team, project: Attribution (budgets are charged per team and project).
        zone, intensity_g_per_kwh: Grid zone and intensity used to price energy.
        dataset: Held-out dataset description.
        n_test: Held-out rows.
        model_class: Python class of the estimator.
        framework: ``scikit-learn``, ...
        created_at: ISO 8601 UTC time the profile was made.
        host: Machine the profile was measured on.
        lowcarb_version: lowcarb version that made the profile.
        notes: Caveats.
    """

    model: str
    version: str
    accuracy: float
    latency_p95_ms: float
    energy_per_1k_j: float
    energy_method: EnergyMethod
    flops: float | None
    size_bytes: int
    training_co2e_kg: float | None
    schema: str | None = None
    params: int | None = None
    flops_note: str | None = None
    latency_p50_ms: float | None = None
    latency_batch_size: int | None = None
    latency_batch_p50_ms: float | None = None
    latency_batch_p95_ms: float | None = None
    energy_source: str | None = None
    energy_inferences: int | None = None
    energy_duration_s: float | None = None
    energy_batch_size: int | None = None
    training_co2e_source: str | None = None
    training_records: int | None = None
    team: str | None = None
    project: str | None = None
    zone: str | None = None
    intensity_g_per_kwh: float | None = None
    dataset: str | None = None
    n_test: int | None = None
    model_class: str | None = None
    framework: str | None = None
    created_at: str | None = None
    host: str | None = None
    lowcarb_version: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The profile as its JSON object: required fields always, optional ones when set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in REQUIRED_PROFILE_FIELDS:
                out[f.name] = value
            elif f.name == "notes":
                if value:
                    out["notes"] = list(value)
            elif value is not None:
                out[f.name] = value
        return out

    @property
    def label(self) -> str:
        """``model@version``."""
        return f"{self.model}@{self.version}"


REQUIRED_PROFILE_FIELDS = (
    "model",
    "version",
    "accuracy",
    "latency_p95_ms",
    "energy_per_1k_j",
    "energy_method",
    "flops",
    "size_bytes",
    "training_co2e_kg",
)
OPTIONAL_PROFILE_FIELDS = tuple(
    f.name for f in fields(Profile) if f.name not in REQUIRED_PROFILE_FIELDS
)

_Check = Callable[[Any], str | None]  # returns the reason a value is bad, or None


# Upper bounds far past any real model, so a value beyond them is a unit mix-up or a forged file,
# not a measurement: they keep arithmetic on profiles finite and tables readable.
_MAX_COUNT = 2**53  # integers a JSON reader keeps exactly as a float
_MAX_MS = 86_400_000.0  # a day per inference
_MAX_J = 1e12  # about 280 MWh per 1,000 inferences
_MAX_FLOPS = 1e18  # per inference; large language models are ~1e12 per token
_MAX_KG = 1e8  # 100 kt CO2e of training; GPT-3 was estimated at 552 t (Patterson et al., 2021)
_MAX_G_PER_KWH = 2000.0  # above any grid: lignite plants emit about 1,100 g/kWh


def _number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> _Check:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return "must be a finite number"
        if lo is not None and (v <= lo if lo_open else v < lo):
            return f"must be {'>' if lo_open else '>='} {lo:g}" + (
                f" and <= {hi:g}" if hi is not None else ""
            )
        if hi is not None and v > hi:
            return f"must be <= {hi:g}" + (f" (and >= {lo:g})" if lo is not None else "")
        return None

    return check


def _integer(lo: int, hi: int = _MAX_COUNT) -> _Check:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be a whole number"
        return f"must be >= {lo} and <= {hi:,}" if not lo <= v <= hi else None

    return check


def _text(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a non-empty string"


def _name(v: Any) -> str | None:
    # Names end up in ledger records and tables: the same bound as names written anywhere.
    if isinstance(v, str) and len(v) > MAX_NAME_CHARS:
        return f"is {len(v)} characters long; the limit is {MAX_NAME_CHARS}"
    return _text(v)


def _method(v: Any) -> str | None:
    return None if v in ("measured", "estimated") else "must be 'measured' or 'estimated'"


def _text_list(v: Any) -> str | None:
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return None
    return "must be a list of strings"


# field -> (check, nullable)
_SPEC: dict[str, tuple[_Check, bool]] = {
    "model": (_name, False),
    "version": (_name, False),
    "accuracy": (_number(0.0, 1.0), False),
    "latency_p95_ms": (_number(0.0, _MAX_MS), False),
    "energy_per_1k_j": (_number(0.0, _MAX_J), False),
    "energy_method": (_method, False),
    "flops": (_number(0.0, _MAX_FLOPS), True),
    "size_bytes": (_integer(0), False),
    "training_co2e_kg": (_number(0.0, _MAX_KG), True),
    "schema": (_text, True),
    "params": (_integer(0), True),
    "flops_note": (_text, True),
    "latency_p50_ms": (_number(0.0, _MAX_MS), True),
    "latency_batch_size": (_integer(1), True),
    "latency_batch_p50_ms": (_number(0.0, _MAX_MS), True),
    "latency_batch_p95_ms": (_number(0.0, _MAX_MS), True),
    "energy_source": (_text, True),
    "energy_inferences": (_integer(1), True),
    "energy_duration_s": (_number(0.0, _MAX_MS / 1000.0), True),
    "energy_batch_size": (_integer(1), True),
    "training_co2e_source": (_text, True),
    "training_records": (_integer(0), True),
    "team": (_name, True),
    "project": (_name, True),
    "zone": (_text, True),
    "intensity_g_per_kwh": (_number(0.0, _MAX_G_PER_KWH), True),
    "dataset": (_text, True),
    "n_test": (_integer(1), True),
    "model_class": (_text, True),
    "framework": (_text, True),
    "created_at": (_text, True),
    "host": (_text, True),
    "lowcarb_version": (_text, True),
    "notes": (_text_list, True),
}
assert set(_SPEC) == set(REQUIRED_PROFILE_FIELDS) | set(OPTIONAL_PROFILE_FIELDS)


def profile_from_dict(data: Mapping[str, Any], *, source: str = "profile") -> Profile:
    """Validate a decoded profile object and build a :class:`Profile`.

    Args:
        data: The decoded JSON object.
        source: How to name the profile in error messages (e.g. ``"candidate profile c.json"``).

    Raises:
        ProfileError: A missing required field, an unknown field (with a close-match hint), or
            a value of the wrong type or out of range; the message names the field.
    """
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: must be a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED_PROFILE_FIELDS if k not in data]
    if missing:
        raise ProfileError(
            f"{source}: missing required field {missing[0]!r}"
            + (f" (and {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
            + "; a profile needs "
            + ", ".join(REQUIRED_PROFILE_FIELDS)
        )
    for key in data:
        if key not in _SPEC:
            hints = close_matches(str(key), _SPEC)
            hint = f"; did you mean {hints[0]!r}?" if hints else ""
            raise ProfileError(
                f"{source}: unknown field {key!r}{hint} (known fields: see `lowcarb profile "
                "--help`; remove it or fix its name)"
            )
    for key, value in data.items():
        check, nullable = _SPEC[key]
        if value is None and nullable:
            continue
        reason = "must not be null" if value is None else check(value)
        if reason is not None:
            raise ProfileError(f"{source}: field {key!r} {reason}, got {value!r}")
    kwargs = dict(data)
    if "notes" in kwargs:
        kwargs["notes"] = tuple(kwargs["notes"] or ())
    for key in ("accuracy", "latency_p95_ms", "energy_per_1k_j"):
        kwargs[key] = float(kwargs[key])
    return Profile(**kwargs)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex (the hash recorded with gate verdicts)."""
    return hashlib.sha256(data).hexdigest()


def parse_profile(raw: bytes | str, *, source: str = "profile") -> Profile:
    """Decode and validate profile JSON text.

    Raises:
        ProfileError: Not JSON, not an object, or a bad field.
    """
    try:
        data = load_json(raw, source=source)
    except DataError as exc:
        raise ProfileError(str(exc)) from None
    return profile_from_dict(data, source=source)


def load_profile(path: str | Path, *, role: str = "profile") -> Profile:
    """Read and validate a profile file.

    Args:
        path: The JSON file.
        role: Word used in messages, e.g. ``"candidate"`` or ``"baseline"``.

    Raises:
        ProfileError: The file cannot be read or is not a valid profile.
    """
    p = Path(path)
    try:
        raw = read_text_file(p, what=f"{role} profile", max_bytes=MAX_PROFILE_BYTES)
    except (DataError, UsageError) as exc:
        raise ProfileError(str(exc)) from None
    return parse_profile(raw, source=f"{role} profile {str(p)!r}")


#: The largest profile file read (a profile is a few hundred bytes of JSON).
MAX_PROFILE_BYTES = 1 << 20
