"""The records behind the figures: the run list, one record, and notes on a record.

These read the ledger itself, not the rollup: a list is a page of records (newest first,
filtered like the figures that link to it), a record page is the record exactly as stored
(with its hash), and a note is a new ledger record (kind ``note``) that names the record it is
about, so the audit trail keeps who said what.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lowcarb._text import plain
from lowcarb.errors import LedgerError
from lowcarb.ledger import RecordDraft, record_dict
from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._service import NOTE_KIND, Dashboard
from lowcarb.reporting.dashboard._summary import team_link

__all__ = ["MAX_NOTE_CHARS", "add_note", "record_page", "runs_page"]

#: Longest note, characters.
MAX_NOTE_CHARS = 2000
#: Records per page of the run list, at most.
MAX_LIMIT = 500
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


def _field(dialect: str, *path: str) -> str:
    if dialect == "sqlite":
        return f"json_extract(body, '$.{'.'.join(path)}')"
    expr = f"((body::jsonb) #>> '{{{','.join(path)}}}')"
    return f'({expr} COLLATE "C")' if path == ("timestamp",) else expr


def record_link(record_id: str) -> str:
    """The page of one record."""
    return f"/records/{quote(record_id, safe='')}"


def runs_page(
    d: Dashboard, q: DashboardQuery, who: Principal, *, before: int | None, limit: int
) -> dict[str, Any]:
    """A page of the records ``q`` selects, newest first (``before``: a ``seq`` cursor)."""
    q = d.scoped(q, who)
    dialect = d.ledger.dialect
    ts = _field(dialect, "timestamp")
    conds = [f"{ts} >= :since", f"{ts} < :until"]
    params: dict[str, Any] = {
        "since": q.since_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "until": q.until_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "limit": limit + 1,
    }
    paths = {
        "team": ("attribution", "team"),
        "project": ("attribution", "project"),
        "model": ("attribution", "model"),
        "kind": ("kind",),
    }
    for name, path in paths.items():
        value = getattr(q, name)
        if value is not None:
            conds.append(f"{_field(dialect, *path)} = :{name}")
            params[name] = value
    if before is not None:
        conds.append("seq < :before")
        params["before"] = before
    columns = {
        "rid": ("id",),
        "ts": ("timestamp",),
        "kind": ("kind",),
        "team": ("attribution", "team"),
        "project": ("attribution", "project"),
        "model": ("attribution", "model"),
        "version": ("attribution", "model_version"),
        "stage": ("attribution", "stage"),
        "energy": ("footprint", "energy_kwh"),
        "co2e": ("footprint", "co2e_g"),
        "zone": ("footprint", "intensity", "zone"),
        "corrects": ("corrects",),
    }
    select = ", ".join(f"{_field(dialect, *p)} AS {n}" for n, p in columns.items() if n != "ts")
    select += f", {_field(dialect, 'timestamp')} AS ts"
    sql = (
        f"SELECT seq, {select} FROM lowcarb_ledger WHERE {' AND '.join(conds)} "
        "ORDER BY seq DESC LIMIT :limit"
    )
    try:
        with d.ledger.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"]
        raise LedgerError(f"ledger {d.ledger.url}: {cause[0]}") from None
    more = len(rows) > limit
    rows = rows[:limit]
    records = [
        {
            "seq": int(r.seq),
            "id": str(r.rid),
            "time": str(r.ts),
            "kind": r.kind,
            "team": r.team,
            "project": r.project,
            "model": r.model,
            "version": r.version,
            "stage": r.stage,
            "energy_kwh": None if r.energy is None else float(r.energy),
            "co2e_g": None if r.co2e is None else float(r.co2e),
            "zone": r.zone,
            "corrects": r.corrects,
            "links": {
                "record": record_link(str(r.rid)),
                "corrects": record_link(str(r.corrects)) if r.corrects else None,
            },
        }
        for r in rows
    ]
    next_link = None
    if more and records:
        next_link = q.link("/runs", before=records[-1]["seq"], limit=limit)
    return {
        "page": "runs",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        "records": records,
        "limit": limit,
        "before": before,
        "links": {"next": next_link},
    }


def _check_id(record_id: str) -> None:
    if not _RECORD_ID.fullmatch(record_id):
        raise DashboardError(
            400,
            f"record id {plain(record_id)[:100]!r} is malformed: letters, digits, '.', ':', "
            "'_' and '-' (at most 100); take it from a run list",
            param="record_id",
        )


def _visible(d: Dashboard, record_id: str, who: Principal) -> Any:
    """The record, if it exists and ``who`` may read it (else 404, the same either way)."""
    _check_id(record_id)
    try:
        record = d.ledger.get(record_id)
    except LedgerError as exc:
        if "no record with id" not in str(exc):
            raise
        record = None
    if record is None or not who.may_read(record.attribution.team):
        raise DashboardError(
            404,
            f"no record {record_id!r} that this token can read; take ids from the run list",
            param="record_id",
        )
    return record


def record_page(d: Dashboard, record_id: str, who: Principal) -> dict[str, Any]:
    """One record exactly as the ledger stores it (body, seq, hashes, signature)."""
    record = _visible(d, record_id, who)
    body = record_dict(record)
    team = record.attribution.team
    day = record.timestamp.astimezone(UTC).date()
    q = DashboardQuery(since=day, until=day.fromordinal(day.toordinal() + 1), team=team)
    return {
        "page": "record",
        "viewer": who.to_dict(),
        "record": body,
        "links": {
            "corrects": record_link(record.corrects) if record.corrects else None,
            "team": team_link(q, team),
            "same_day": q.link("/runs"),
        },
    }


def add_note(d: Dashboard, record_id: str, note: str, who: Principal) -> dict[str, Any]:
    """Append a ``note`` record about ``record_id`` (charged like it); return the new record."""
    record = _visible(d, record_id, who)
    if not isinstance(note, str) or not note.strip():
        raise DashboardError(400, "the note is empty; give some text", param="text")
    if len(note) > MAX_NOTE_CHARS:
        raise DashboardError(
            400,
            f"the note is {len(note):,} characters; the limit is {MAX_NOTE_CHARS:,}",
            param="text",
        )
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", note):
        raise DashboardError(
            400, "the note contains control characters; use printable text", param="text"
        )
    draft = RecordDraft(
        kind=NOTE_KIND,
        attribution=record.attribution,
        metadata={"note": note, "about": record.id, "token": who.token_id},
    )
    written = d.ledger.append(draft)
    return {
        "page": "note",
        "record": record_dict(written),
        "links": {"record": record_link(written.id), "about": record_link(record.id)},
    }
