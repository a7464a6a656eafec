"""Times as Carbon Aware SDK clients send them, read through lowcarb's one timestamp parser.

The SDK's WebAPI is ASP.NET: query strings are bound with ``DateTimeOffset.Parse``, which is
lenient (unpadded ``2022-1-1T04:05:06Z``, an hour of one digit, seven fraction digits as .NET's
``"O"`` format writes them), while JSON bodies go through ``System.Text.Json``, which wants strict
ISO 8601 (its own integration tests expect ``2021-9-1T08:30:00Z`` in a body to be a 400). Both
are mirrored here: :func:`parse_query_time` and :func:`parse_body_time` only normalise the text,
then call :func:`lowcarb.units.parse_timestamp`, so range checks and messages stay in one place.

A time without an offset is read as UTC (the SDK reads it in its server's zone, which is UTC in its
container image); the caller is told so through ``assumed_utc`` and a response header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lowcarb.errors import InvalidValueError
from lowcarb.units import parse_timestamp

__all__ = ["SdkTime", "format_time", "format_timespan", "parse_body_time", "parse_query_time"]

_MAX_CHARS = 64
_EXAMPLE = "2022-03-01T15:30:00Z"
# Query strings: what DateTimeOffset.Parse accepts in ISO order. A "+" sent unencoded in a query
# string arrives as a space, so " 06:00" after a time is the offset "+06:00".
_LENIENT = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[Tt ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?"
    r"(?P<tz>\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)|\s\d{2}:\d{2})?)?"
)
# JSON bodies: the ISO 8601 profile System.Text.Json reads (padded fields, offset only with a time).
_STRICT = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?"
)


@dataclass(frozen=True, slots=True)
class SdkTime:
    """A time read from a request.

    Attributes:
        when: The instant, timezone-aware UTC.
        assumed_utc: True when the text had no offset and was read as UTC.
    """

    when: datetime
    assumed_utc: bool


def _normalise(match: re.Match[str]) -> tuple[str, bool]:
    g = match.groupdict()
    text = f"{int(g['y']):04d}-{int(g['mo']):02d}-{int(g['d']):02d}"
    if g["h"] is None:
        return text, True  # a calendar date: the UTC day, as lowcarb.units reads it
    text += f"T{int(g['h']):02d}:{g['mi']}:{g['s'] or '00'}"
    if g["f"]:
        text += "." + g["f"][:6].ljust(6, "0")  # .NET writes 7 digits; Python keeps 6
    tz = (g["tz"] or "").strip()
    if not tz:
        return text + "Z", True
    if tz in ("Z", "z"):
        return text + "Z", False
    sign = "-" if tz.startswith("-") else "+"
    digits = tz.lstrip("+-").replace(":", "")
    return f"{text}{sign}{digits[:2]}:{digits[2:4] or '00'}", False


def _parse(text: str, what: str, pattern: re.Pattern[str], forms: str) -> SdkTime:
    raw = str(text).strip()
    shown = raw if len(raw) <= _MAX_CHARS else raw[:_MAX_CHARS] + "..."
    match = pattern.fullmatch(raw) if len(raw) <= _MAX_CHARS else None
    if match is None:
        raise InvalidValueError(f"{what} {shown!r} is not a date and time; {forms}")
    normal, assumed = _normalise(match)
    try:
        when = parse_timestamp(normal, what=what)
    except InvalidValueError:
        raise InvalidValueError(
            f"{what} {shown!r} is not a valid date and time (check the month, day, hour and "
            f"year, 1970..2199); {forms}"
        ) from None
    return SdkTime(when=when, assumed_utc=assumed)


def parse_query_time(text: str, *, what: str) -> SdkTime:
    """A time from a query string, in the forms the SDK's WebAPI binds.

    Accepts ISO 8601 with unpadded fields (``2022-1-1T4:05:06Z``), a space or ``t`` for
    ``T``, seconds and up to seven fraction digits optional, an offset ``Z``, ``+06:00``,
    ``+0600`` or ``+06`` (or none: UTC), and a bare date (the UTC day).

    Raises:
        InvalidValueError: Not such a time, an impossible date, or outside 1970..2199.
    """
    return _parse(
        text, what, _LENIENT, f"use ISO 8601 such as {_EXAMPLE} or 2022-03-01T17:30:00+02:00"
    )


def parse_body_time(text: object, *, what: str) -> SdkTime:
    """A time from a JSON body: strict ISO 8601 (padded fields), as ``System.Text.Json`` reads.

    Raises:
        InvalidValueError: Not a string, not strict ISO 8601, or an impossible date.
    """
    if not isinstance(text, str):
        raise InvalidValueError(
            f"{what} is {type(text).__name__} {str(text)[:_MAX_CHARS]!r}, not a string; "
            f"give an ISO 8601 string such as {_EXAMPLE!r}"
        )
    return _parse(
        text,
        what,
        _STRICT,
        f"JSON bodies take strict ISO 8601 with two-digit fields, such as {_EXAMPLE}",
    )


def format_time(when: datetime) -> str:
    """A time as the SDK's JSON writes a UTC ``DateTimeOffset``: ``2022-01-01T04:00:00+00:00``."""
    return when.astimezone(UTC).isoformat()


def format_timespan(delta: timedelta) -> str:
    """A duration as .NET writes a ``TimeSpan``: ``01:00:00``, ``1.00:00:00`` past a day."""
    total = round(delta.total_seconds())
    sign = "-" if total < 0 else ""
    days, rest = divmod(abs(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    head = f"{days}." if days else ""
    return f"{sign}{head}{hours:02d}:{minutes:02d}:{seconds:02d}"
