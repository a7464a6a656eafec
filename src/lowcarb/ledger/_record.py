"""Ledger records: what a writer drafts and what the chain stores.

A :class:`RecordDraft` is what a writer hands to :meth:`Ledger.append`: the kind, who to attribute
it to, the footprint (energy per component with provenance, PUE, grid intensity), an optional
market-based emission factor, an optional reference to a corrected record, and free JSON metadata.
The ledger adds the id, the UTC timestamp, the sequence number, the previous hash and the hash, and
returns a :class:`Record`.

The figures a record reports (``energy_kwh``, ``co2e_g``, ``market_co2e_g``) are the ones computed
when it was written and stored in its body; they are read back, never recomputed, so an audit sees
exactly what was recorded whatever Python or numpy version reads it later.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from lowcarb.errors import InvalidValueError
from lowcarb.grid import Footprint

__all__ = [
    "KNOWN_KINDS",
    "Attribution",
    "MarketFactor",
    "Record",
    "RecordDraft",
    "draft_from_footprint",
]

#: Kinds lowcarb itself writes. Other kinds are allowed if they match ``[a-z][a-z0-9_.-]*``.
KNOWN_KINDS = (
    "run",
    "inference",
    "trial",
    "decision",
    "schedule",
    "gate",
    "budget",
    "correction",
)
_KIND_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# Sorted: the canonical body lists keys in sorted order and is encoded without re-sorting.
_ATTRIBUTION_FIELDS = ("model", "model_version", "project", "run_id", "stage", "team", "user")


def _check_text(value: object, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"{what} must be a non-empty string or None, got {value!r}")


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who a record is charged to. Every field is optional; unknown means ``None``.

    Attributes:
        team: Team charged (chargeback key).
        project: Project or cost centre.
        model: Model name.
        model_version: Model version or registry stage version.
        run_id: Id of the training/inference run (e.g. an MLflow run id).
        stage: Lifecycle stage, e.g. ``"training"``, ``"evaluation"``, ``"serving"``.
        user: Who started the work.
    """

    team: str | None = None
    project: str | None = None
    model: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    stage: str | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        for name in _ATTRIBUTION_FIELDS:
            _check_text(getattr(self, name), f"attribution {name}")

    def as_dict(self) -> dict[str, str | None]:
        """The attribution as a plain mapping (every key present, keys sorted)."""
        return {name: getattr(self, name) for name in _ATTRIBUTION_FIELDS}


@dataclass(frozen=True, slots=True)
class MarketFactor:
    """A contractual emission factor for the market-based Scope 2 method.

    The GHG Protocol Scope 2 Guidance (WRI/WBCSD, 2015, ch. 6) reports market-based emissions
    from contractual instruments (PPAs, energy attribute certificates, supplier-specific rates).

    Attributes:
        intensity_g_per_kwh: gCO2e per kWh the instrument conveys (0 for a bundled renewable PPA).
        source: The instrument, e.g. ``"ppa:windco-2024"``, ``"supplier:acme-green-tariff"``.
    """

    intensity_g_per_kwh: float
    source: str

    def __post_init__(self) -> None:
        v = self.intensity_g_per_kwh
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0 or math.isinf(v):
            raise InvalidValueError(
                f"market emission factor must be a finite number of gCO2e/kWh >= 0, got {v!r}"
            )
        _check_text(self.source, "market factor source")


#: How deeply metadata may nest: far more than any real use, and well inside Python's recursion
#: limit, so a hostile nesting is one clear error rather than a RecursionError traceback.
MAX_METADATA_DEPTH = 100


def _plain_json(value: Any, where: str, depth: int = 0) -> Any:
    """Return ``value`` as plain JSON types, refusing what would not round-trip exactly."""
    if depth > MAX_METADATA_DEPTH:
        raise InvalidValueError(
            f"metadata nests deeper than {MAX_METADATA_DEPTH} levels at {where[:80]!r}; flatten it"
        )
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"metadata {where} must be finite, got {value!r}")
        return float(value)
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise InvalidValueError(f"metadata keys must be strings, got {k!r} in {where}")
        # Sorted, as in the canonical body (which is then encoded without re-sorting).
        return {k: _plain_json(value[k], f"{where}.{k}", depth + 1) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_plain_json(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise InvalidValueError(
        f"metadata {where} must be JSON (str, number, bool, None, list, mapping), got {value!r}"
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Turn frozen metadata (mapping proxies, tuples) back into plain JSON types."""
    kind = type(value)
    if kind is MappingProxyType or kind is dict:
        return {k: thaw(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [thaw(v) for v in value]
    return value


def _validate_footprint(fp: Footprint) -> None:
    if not isinstance(fp, Footprint):
        raise InvalidValueError(f"footprint must be a lowcarb.grid.Footprint, got {fp!r}")
    if not (isinstance(fp.pue, int | float) and fp.pue >= 1.0 and math.isfinite(fp.pue)):
        raise InvalidValueError(f"footprint PUE must be a finite number >= 1.0, got {fp.pue!r}")
    m = fp.measurement
    if m.started_at.tzinfo is None:
        raise InvalidValueError(
            f"measurement started_at must be timezone-aware UTC, got {m.started_at!r}"
        )
    if not (m.duration_s >= 0 and math.isfinite(m.duration_s)):
        raise InvalidValueError(f"measurement duration_s must be >= 0, got {m.duration_s!r}")
    for c in m.components:
        if not (c.energy_j >= 0 and math.isfinite(c.energy_j)):
            raise InvalidValueError(
                f"component {c.name!r} energy_j must be >= 0, got {c.energy_j!r}"
            )
        if c.method not in ("measured", "estimated"):
            raise InvalidValueError(
                f"component {c.name!r} method must be 'measured' or 'estimated', got {c.method!r}"
            )
    if fp.intensity.time is not None and fp.intensity.time.tzinfo is None:
        raise InvalidValueError(f"intensity time must be timezone-aware, got {fp.intensity.time!r}")


@dataclass(frozen=True, slots=True)
class RecordDraft:
    """A record before the ledger gives it an id, a timestamp and a place in the chain.

    Attributes:
        kind: ``run``, ``inference``, ``decision``, ``schedule``, ``correction``, ... (see
            :data:`KNOWN_KINDS`; any ``[a-z][a-z0-9_.-]*`` is accepted).
        attribution: Who the record is charged to.
        footprint: Energy and location-based CO2e, or None for records without emissions
            (a gate verdict, a schedule decision, a correction that voids a record).
        market: Contractual emission factor for market-based CO2e (needs a footprint).
        corrects: Id of the record this one corrects; required exactly when ``kind`` is
            ``"correction"``. A correction replaces the corrected record in totals.
        metadata: Free JSON (string keys; finite numbers); stored and returned read-only.
        plain_metadata: The same metadata as plain, key-sorted JSON types (derived; read it,
            never set it).
    """

    kind: str = "run"
    attribution: Attribution = field(default_factory=Attribution)
    footprint: Footprint | None = None
    market: MarketFactor | None = None
    corrects: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The metadata as plain, key-sorted JSON types, for serialising without a conversion.
    plain_metadata: dict[str, Any] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _KIND_RE.fullmatch(self.kind):
            raise InvalidValueError(
                f"record kind must match [a-z][a-z0-9_.-]* (e.g. {', '.join(KNOWN_KINDS)}), "
                f"got {self.kind!r}"
            )
        if not isinstance(self.attribution, Attribution):
            raise InvalidValueError(f"attribution must be an Attribution, got {self.attribution!r}")
        if self.footprint is not None:
            _validate_footprint(self.footprint)
        if self.market is not None and self.footprint is None:
            raise InvalidValueError("a market-based factor needs a footprint to apply to")
        if (self.kind == "correction") != (self.corrects is not None):
            raise InvalidValueError(
                "a record corrects another exactly when its kind is 'correction' "
                f"(kind={self.kind!r}, corrects={self.corrects!r})"
            )
        _check_text(self.corrects, "corrects")
        if not isinstance(self.metadata, Mapping):
            raise InvalidValueError(f"metadata must be a mapping, got {self.metadata!r}")
        plain = _plain_json(self.metadata, "metadata")
        object.__setattr__(self, "plain_metadata", plain)
        object.__setattr__(self, "metadata", _freeze(plain))


def draft_from_footprint(
    footprint: Footprint,
    *,
    kind: str = "run",
    attribution: Attribution | None = None,
    metadata: Mapping[str, Any] | None = None,
    market: MarketFactor | None = None,
) -> RecordDraft:
    """Draft a ledger record for a priced measurement (what ``lowcarb run`` and the Tracker write).

    Args:
        footprint: The measurement priced with a grid intensity and PUE.
        kind: Record kind, ``"run"`` by default (``"inference"`` for serving batches).
        attribution: Team, project, model, ... to charge; all unknown when omitted.
        metadata: Free JSON, e.g. the command line or exit code.
        market: Contractual emission factor for market-based CO2e, if the site has one.

    Returns:
        A draft to pass to :meth:`Ledger.append`.

    Raises:
        InvalidValueError: A non-finite or negative figure, a naive datetime, bad metadata.
    """
    return RecordDraft(
        kind=kind,
        attribution=attribution if attribution is not None else Attribution(),
        footprint=footprint,
        market=market,
        metadata=dict(metadata or {}),
    )


@dataclass(frozen=True, slots=True)
class Record:
    """One appended ledger entry, as stored. Immutable: there is no update or delete.

    Attributes:
        seq: Position in the chain, 1-based, contiguous.
        id: Unique id: UUID text, version 7 (time-ordered, RFC 9562) by default.
        timestamp: When it was appended, UTC.
        kind: See :class:`RecordDraft`.
        attribution: Who it is charged to.
        footprint: Energy, intensity and PUE as recorded (None for records without emissions).
        market: Contractual emission factor, if any.
        corrects: Id of the corrected record (kind ``correction``), else None.
        metadata: Free JSON (read-only mapping).
        signer: Key id of the writer's Ed25519 key when the record is signed, else None.
        energy_kwh: Facility energy (device energy x PUE) as recorded, kWh; None without footprint.
        co2e_g: Location-based CO2e as recorded, grams; None without footprint.
        market_co2e_g: Market-based CO2e as recorded, grams; None without a market factor.
        prev_hash: Hash of the previous record (64 zeros for the first).
        hash: SHA-256 of this record's canonical form chained to ``prev_hash``.
        signature: Base64 Ed25519 signature of ``hash`` by ``signer``, or None.
    """

    seq: int
    id: str
    timestamp: datetime
    kind: str
    attribution: Attribution
    footprint: Footprint | None
    market: MarketFactor | None
    corrects: str | None
    metadata: Mapping[str, Any]
    signer: str | None
    energy_kwh: float | None
    co2e_g: float | None
    market_co2e_g: float | None
    prev_hash: str
    hash: str
    signature: str | None = None


def new_record_id() -> str:
    """A UUID version 7 (RFC 9562, 2024): 48-bit Unix milliseconds, then 74 random bits.

    Time-ordered ids keep the ledger's unique id index append-mostly, which is measurably
    cheaper to maintain at scale than random UUID4s; they are as unique (74 random bits/ms).
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default ledger clock)."""
    return datetime.now(UTC)
