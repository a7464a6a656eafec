"""Canonical serialisation of a record and the SHA-256 hash chain (format version 1).

Body
    A JSON object encoded by ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=True, allow_nan=False)``: keys sorted, no whitespace, ASCII only (other
    characters escaped as ``\\uXXXX``, so the text survives any database encoding unchanged),
    no NaN or infinity, floats in Python's shortest round-trip ``repr``, datetimes as
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, fixed width, so text order is time order). Every key
    is always present (``null`` when unknown)::

        {"attribution": {"model", "model_version", "project", "run_id", "stage", "team", "user"},
         "corrects": id | null,
         "footprint": null | {
             "co2e_g", "energy_kwh",
             "intensity": {"intensity_g_per_kwh", "kind", "note", "scope", "signal", "source",
                           "time", "year", "zone"},
             "it_energy_kwh",
             "market": null | {"co2e_g", "intensity_g_per_kwh", "source"},
             "measurement": {"components": [{"detail", "energy_j", "method", "name", "source"}],
                             "duration_s", "name", "notes", "started_at"},
             "pue"},
         "id", "kind", "metadata": {...}, "signer": key id | null, "timestamp", "v": 1}

    Units: energy in kWh (``energy_kwh`` is facility energy, IT energy x PUE) or joules
    (``energy_j``), CO2e in grams, intensity in gCO2e/kWh, durations in seconds. ``co2e_g`` is
    location-based Scope 2; ``market.co2e_g`` market-based. Figures are computed once, when the
    record is written, and read back as stored.

Chain
    ``hash = sha256(b"lowcarb-ledger/1\\n" + str(seq) + b"\\n" + prev_hash + b"\\n" + body)``
    as lowercase hex, where ``seq`` is the 1-based position and ``prev_hash`` the previous
    record's hash (:data:`GENESIS_HASH`, 64 zeros, for the first). Position and predecessor are
    inside the hash, so an edited, deleted, inserted or reordered record breaks the chain at or
    right after the damage.

Storage
    The body text is stored verbatim (a TEXT column) and verification hashes the stored bytes;
    nothing is re-serialised, so how a database stores floats (SQLite REAL, PostgreSQL double
    precision) can never change a hash, and a verifier in any language needs only SHA-256.
    Query columns are expressions over the body (see ``_schema``), so there is no second copy
    of a field that could be edited without breaking the hash.

Signature
    Optional: Ed25519 over the 64 ASCII characters of ``hash``, base64, stored next to the row.
    The signer's key id is inside the body, so it cannot be swapped without breaking the hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.errors import InvalidValueError, LedgerCorruptError
from lowcarb.grid import Footprint, Intensity
from lowcarb.ledger._record import Attribution, MarketFactor, Record, RecordDraft

__all__ = [
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "body_dict",
    "chain_hash",
    "encode_body",
    "figures_of",
    "format_time",
    "record_dict",
    "record_from_row",
]

FORMAT_VERSION = 1
#: ``prev_hash`` of the first record.
GENESIS_HASH = "0" * 64
CHAIN_PREFIX = b"lowcarb-ledger/1\n"


def chain_hash(seq: int, prev_hash: str, body: str) -> str:
    """SHA-256 (hex) of a record at position ``seq`` after ``prev_hash`` with canonical ``body``."""
    material = b"%s%d\n%s\n%s" % (CHAIN_PREFIX, seq, prev_hash.encode("ascii"), body.encode())
    return hashlib.sha256(material).hexdigest()


def format_time(value: datetime) -> str:
    """A timezone-aware datetime as fixed-width UTC text (``2024-05-01T12:00:00.000000Z``)."""
    if value.tzinfo is None:
        raise InvalidValueError(f"datetimes in the ledger must be timezone-aware, got {value!r}")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # What ``isoformat(timespec="microseconds")`` writes for the date and time (two times faster).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _footprint(fp: Footprint, market: MarketFactor | None, figures: tuple[float, ...]) -> Any:
    # Keys are written in sorted order (the canonical order) so that encoding needs no sort;
    # ``float()`` makes 1 and 1.0 encode alike; non-finite values are refused by the encoder.
    energy_kwh, co2e_g, market_co2e_g = figures
    m, it = fp.measurement, fp.intensity
    return {
        "co2e_g": co2e_g,
        "energy_kwh": energy_kwh,
        "intensity": {
            "intensity_g_per_kwh": float(it.intensity_g_per_kwh),
            "kind": it.kind,
            "note": it.note,
            "scope": it.scope,
            "signal": it.signal,
            "source": it.source,
            "time": None if it.time is None else format_time(it.time),
            "year": it.year,
            "zone": it.zone,
        },
        "it_energy_kwh": float(fp.it_energy_kwh),
        "market": None
        if market is None
        else {
            "co2e_g": market_co2e_g,
            "intensity_g_per_kwh": float(market.intensity_g_per_kwh),
            "source": market.source,
        },
        "measurement": {
            "components": [
                {
                    "detail": c.detail,
                    "energy_j": float(c.energy_j),
                    "method": c.method,
                    "name": c.name,
                    "source": c.source,
                }
                for c in m.components
            ],
            "duration_s": float(m.duration_s),
            "name": m.name,
            "notes": list(m.notes),
            "started_at": format_time(m.started_at),
        },
        "pue": float(fp.pue),
    }


def figures_of(fp: Footprint, market: MarketFactor | None) -> tuple[float, float, float]:
    """``(energy_kwh, co2e_g, market_co2e_g)`` of a footprint, as a record stores them."""
    energy_kwh = float(fp.energy_kwh)
    factor = market.intensity_g_per_kwh if market is not None else 0.0
    return energy_kwh, float(fp.co2e_g), energy_kwh * factor


def body_dict(
    draft: RecordDraft,
    *,
    record_id: str,
    timestamp: datetime | str,
    signer: str | None,
    figures: tuple[float, float, float] | None = None,
) -> dict[str, Any]:
    """The body of a record as plain JSON types, every mapping's keys in sorted order.

    ``timestamp`` may be given already formatted (:func:`format_time`). ``figures`` are
    ``(energy_kwh, co2e_g, market_co2e_g)`` as recorded; computed from the footprint when
    omitted (at write time).
    """
    fp = draft.footprint
    footprint = None
    if fp is not None:
        footprint = _footprint(fp, draft.market, figures or figures_of(fp, draft.market))
    return {
        "attribution": draft.attribution.as_dict(),  # sorted keys
        "corrects": draft.corrects,
        "footprint": footprint,
        "id": record_id,
        "kind": draft.kind,
        "metadata": draft.plain_metadata,
        "signer": signer,
        "timestamp": timestamp if isinstance(timestamp, str) else format_time(timestamp),
        "v": FORMAT_VERSION,
    }


_ENCODERS = {
    presorted: json.JSONEncoder(sort_keys=not presorted, separators=(",", ":"), allow_nan=False)
    for presorted in (False, True)
}


def encode_body(body: dict[str, Any], *, presorted: bool = False) -> str:
    """The canonical text of a body (see the module docstring).

    ``presorted``: every mapping in ``body`` already has its keys in sorted order (as
    :func:`body_dict` builds them, metadata included), so the encoder may skip sorting.
    """
    try:
        return _ENCODERS[presorted].encode(body)
    except ValueError as exc:
        raise InvalidValueError(f"a ledger record must hold finite numbers only: {exc}") from None


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _require_time(text: str) -> datetime:
    if not isinstance(text, str):
        raise TypeError(f"expected a timestamp, got {text!r}")
    return datetime.fromisoformat(text)


def record_from_row(
    seq: int, prev_hash: str, hash_: str, body: str, signature: str | None
) -> Record:
    """Rebuild a :class:`Record` from a stored row.

    Raises:
        LedgerCorruptError: The body is not a lowcarb record (run ``lowcarb ledger verify``).
    """
    try:
        d = json.loads(body)
        fp_d = d["footprint"]
        footprint = market = None
        energy_kwh = co2e_g = market_co2e_g = None
        if fp_d is not None:
            m, it = fp_d["measurement"], fp_d["intensity"]
            measurement = Measurement(
                name=m["name"],
                started_at=_require_time(m["started_at"]),
                duration_s=m["duration_s"],
                components=tuple(
                    ComponentEnergy(
                        name=c["name"],
                        energy_j=c["energy_j"],
                        method=c["method"],
                        source=c["source"],
                        detail=c["detail"],
                    )
                    for c in m["components"]
                ),
                notes=tuple(m["notes"]),
            )
            intensity = Intensity(
                zone=it["zone"],
                intensity_g_per_kwh=it["intensity_g_per_kwh"],
                source=it["source"],
                signal=it["signal"],
                scope=it["scope"],
                kind=it["kind"],
                time=_parse_time(it["time"]),
                year=it["year"],
                note=it["note"],
            )
            footprint = Footprint(measurement=measurement, pue=fp_d["pue"], intensity=intensity)
            energy_kwh, co2e_g = fp_d["energy_kwh"], fp_d["co2e_g"]
            mk = fp_d["market"]
            if mk is not None:
                market = MarketFactor(mk["intensity_g_per_kwh"], source=mk["source"])
                market_co2e_g = mk["co2e_g"]
        draft = RecordDraft(
            kind=d["kind"],
            attribution=Attribution(**d["attribution"]),
            corrects=d["corrects"],
            metadata=d["metadata"],
        )
        timestamp = _require_time(d["timestamp"])
    except (ValueError, KeyError, TypeError, InvalidValueError) as exc:
        raise LedgerCorruptError(
            f"ledger record #{seq} is not a readable lowcarb record ({exc!r}); "
            "run `lowcarb ledger verify` to find where the ledger was damaged"
        ) from None
    return Record(
        seq=seq,
        id=d["id"],
        timestamp=timestamp,
        kind=draft.kind,
        attribution=draft.attribution,
        footprint=footprint,
        market=market,
        corrects=draft.corrects,
        metadata=draft.metadata,
        signer=d["signer"],
        energy_kwh=energy_kwh,
        co2e_g=co2e_g,
        market_co2e_g=market_co2e_g,
        prev_hash=prev_hash,
        hash=hash_,
        signature=signature,
    )


def record_dict(record: Record) -> dict[str, Any]:
    """A record as plain JSON types: the body's fields plus seq, hashes and signature."""
    draft = RecordDraft(
        kind=record.kind,
        attribution=record.attribution,
        footprint=record.footprint,
        market=record.market,
        corrects=record.corrects,
        metadata=record.metadata,
    )
    figures = None
    if record.footprint is not None:
        figures = (record.energy_kwh or 0.0, record.co2e_g or 0.0, record.market_co2e_g or 0.0)
    out: dict[str, Any] = {"seq": record.seq}
    out.update(
        body_dict(
            draft,
            record_id=record.id,
            timestamp=record.timestamp,
            signer=record.signer,
            figures=figures,
        )
    )
    out.update(prev_hash=record.prev_hash, hash=record.hash, signature=record.signature)
    return out
