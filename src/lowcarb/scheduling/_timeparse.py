"""Parsing of durations (``90m``, ``2h``, ``1d12h``, ``1.5``) and times (ISO 8601 or relative)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from lowcarb.errors import InvalidValueError

__all__ = ["parse_duration_h", "parse_time"]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_UNIT_H = {"d": 24.0, "h": 1.0, "m": 1 / 60, "s": 1 / 3600}


def parse_duration_h(text: str, *, what: str = "duration") -> float:
    """Hours in ``text``: ``"2h"``, ``"90m"``, ``"1d12h"``, ``"45s"``; a bare number is hours.

    Raises:
        InvalidValueError: Unparseable, zero, negative or not finite.
    """
    raw = text.strip()
    try:
        hours = float(raw)
    except ValueError:
        compact = raw.replace(" ", "")
        parts = _PART.findall(compact)
        if not parts or "".join(f"{n}{u}" for n, u in parts).lower() != compact.lower():
            raise InvalidValueError(
                f"{what} {text!r} is not a duration; use e.g. 90m, 2h, 1d12h or a number of hours"
            ) from None
        hours = sum(float(n) * _UNIT_H[u.lower()] for n, u in parts)
    if not (math.isfinite(hours) and hours > 0):
        raise InvalidValueError(f"{what} must be > 0, got {text!r}")
    return hours


def parse_time(text: str, *, now: datetime | None = None, what: str = "time") -> datetime:
    """A timezone-aware UTC time from ISO 8601 (``2022-03-01T10:00Z``) or, given ``now``, a
    duration after it (``24h``, ``+24h``).

    Raises:
        InvalidValueError: Unparseable, or an ISO time without a time zone.
    """
    raw = text.strip()
    if now is not None:
        try:
            return now + timedelta(hours=parse_duration_h(raw.lstrip("+"), what=what))
        except InvalidValueError:
            pass
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        hint = " or a duration after now such as 24h" if now is not None else ""
        raise InvalidValueError(
            f"{what} {text!r} is not an ISO 8601 time (e.g. 2022-03-01T10:00Z){hint}"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidValueError(
            f"{what} {text!r} has no time zone; add Z for UTC (e.g. {raw}Z) or an offset"
        )
    return when.astimezone(UTC)
