"""One append's batch: its drafts checked, encoded as the bodies it stores, and the records it
returns once chained.

:meth:`~lowcarb.ledger._ledger.Ledger.append_many` settles everything here but the chain position
before it asks for the write lock, so that the lock is held only to chain and store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from lowcarb._text import check_name
from lowcarb.errors import InvalidValueError
from lowcarb.ledger._canonical import figures_of
from lowcarb.ledger._fastbody import encode_draft_body, metadata_json
from lowcarb.ledger._queue_files import Unit
from lowcarb.ledger._record import Record, RecordDraft

if TYPE_CHECKING:
    from lowcarb.ledger._group import Chained

__all__ = ["MAX_METADATA_BYTES", "Figures", "appended_records", "checked_drafts", "encoded_unit"]

#: Largest metadata a new record may carry, as compact JSON (bytes). Metadata is for a command
#: line, an exit code, a few tags; a bound keeps one careless caller from bloating every reader.
MAX_METADATA_BYTES = 64 * 1024
_NAMES_KEPT = 4096
#: ``(energy_kwh, co2e_g, market_co2e_g)`` of a draft's footprint; None without one.
Figures = tuple[float, float, float] | None


def _checked_metadata(draft: RecordDraft) -> str:
    """The draft's metadata as the body holds it, refused past :data:`MAX_METADATA_BYTES`.

    The bound is on compact UTF-8 JSON; the body's text is ASCII-escaped, never shorter (an
    escape is at least as long as the UTF-8 bytes it stands for), so the exact size is only
    computed when the body's text is over the bound.
    """
    text = metadata_json(draft.plain_metadata)
    if len(text) <= MAX_METADATA_BYTES:
        return text
    size = len(json.dumps(draft.plain_metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidValueError(
            f"record metadata is {size} bytes, over the {MAX_METADATA_BYTES}-byte limit; "
            "store large artefacts elsewhere and keep a reference (path, URI, hash) in metadata"
        )
    return text


def checked_drafts(batch: Sequence[RecordDraft], names: set[str]) -> list[str]:
    """Check every draft of ``batch``; return each one's metadata as its body holds it.

    Args:
        batch: The drafts given to one append.
        names: Names already checked by this ledger (teams, projects and models repeat across
            records); the new ones are added (the set is emptied when it grows too large).

    Raises:
        InvalidValueError: An item is not a :class:`RecordDraft`, a name is not acceptable, or
            metadata is over :data:`MAX_METADATA_BYTES`.
    """
    metadata = []
    for d in batch:
        if not isinstance(d, RecordDraft):
            raise InvalidValueError(f"expected a RecordDraft, got {d!r}")
        # Names are checked when written (length, no control characters); records already
        # stored with other names stay readable, and displays escape them.
        for key, value in d.attribution.as_dict().items():
            if value is not None and value not in names:
                check_name(value, what=f"attribution {key}")
                if len(names) >= _NAMES_KEPT:
                    names.clear()
                names.add(value)
        metadata.append(_checked_metadata(d))
    return metadata


def encoded_unit(
    batch: Sequence[RecordDraft],
    *,
    ids: Sequence[str],
    stamp: str,
    signer_id: str | None,
    metadata: Sequence[str],
) -> tuple[list[Figures], Unit]:
    """The figures of each draft and the :class:`Unit` of canonical bodies the store chains."""
    figures = [
        figures_of(d.footprint, d.market) if d.footprint is not None else None for d in batch
    ]
    bodies = [
        encode_draft_body(
            d, record_id=rid, timestamp=stamp, signer=signer_id, figures=f, metadata=m
        )
        for d, rid, f, m in zip(batch, ids, figures, metadata, strict=True)
    ]
    unit = Unit(
        tuple(ids),
        tuple(bodies),
        frozenset(d.corrects for d in batch if d.corrects is not None),
    )
    return figures, unit


def appended_records(
    batch: Sequence[RecordDraft],
    *,
    ids: Sequence[str],
    figures: Sequence[Figures],
    chained: Sequence[Chained],
    timestamp: datetime,
    signer_id: str | None,
) -> list[Record]:
    """The records of ``batch`` as stored, given where the store chained each one."""
    return [
        Record(
            seq,
            rid,
            timestamp,
            d.kind,
            d.attribution,
            d.footprint,
            d.market,
            d.corrects,
            d.metadata,
            signer_id,
            None if f is None else f[0],
            None if f is None else f[1],
            None if f is None or d.market is None else f[2],
            prev,
            digest,
            sig,
        )
        for d, rid, f, (seq, prev, digest, sig) in zip(batch, ids, figures, chained, strict=True)
    ]
