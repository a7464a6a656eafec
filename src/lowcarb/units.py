"""One parser per kind of value a person types: durations, timestamps and ledger URLs.

Every command and the library use these, so ``90m`` means the same thing to ``plan``, ``submit``
and ``worker``, a timestamp without a time zone is refused the same way everywhere, and a ledger
URL is checked once, before any work runs.

Durations: ``90m``, ``1h30m``, ``1d12h``, ``45s``, ISO 8601 ``PT1H30M`` / ``P1DT2H``, or a bare
number of hours (``1.5``). Timestamps: ISO 8601 with a time zone (``2022-03-01T10:00Z``,
``2022-03-01T10:00+01:00``) or a calendar date (``2022-03-01``, the UTC day); a naive time of
day is refused with the fix (add ``Z``). Where a command has
a "now", a duration after it (``24h``, ``+24h``) is accepted too.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from lowcarb.errors import InvalidValueError, UsageError

__all__ = [
    "MAX_DURATION",
    "parse_duration",
    "parse_duration_h",
    "parse_ledger_url",
    "parse_timestamp",
]

#: The longest duration any command accepts (a year and a day): longer ones are typos or attacks
#: (a deadline of 10**9 hours once made the planner allocate 2.25 GB).
MAX_DURATION = timedelta(days=366)
_MAX_TEXT = 64  # characters: no duration or timestamp a person types is longer
_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)", re.IGNORECASE)
_ISO = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _seconds(raw: str) -> float | None:
    """Seconds in a duration text, or None when it is not one."""
    compact = raw.replace(" ", "")
    if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", compact):
        return float(compact) * 3600.0  # a bare number is hours
    iso = _ISO.fullmatch(compact)
    if iso and any(iso.groupdict().values()) and not compact.upper().endswith("T"):
        return sum(float(v) * _UNIT_S[k] for k, v in iso.groupdict().items() if v)
    parts = _PART.findall(compact)
    if parts and "".join(f"{n}{u}" for n, u in parts).lower() == compact.lower():
        units = [u.lower() for _, u in parts]
        if len(set(units)) == len(units):
            return sum(float(n) * _UNIT_S[u.lower()] for n, u in parts)
    return None


def parse_duration(
    text: str, *, what: str = "duration", maximum: timedelta = MAX_DURATION
) -> timedelta:
    """A positive duration no longer than ``maximum``.

    Raises:
        InvalidValueError: Unparseable, zero, negative, not finite or too long.
    """
    raw = str(text).strip()
    seconds = _seconds(raw) if len(raw) <= _MAX_TEXT else None
    if seconds is None:
        shown = raw if len(raw) <= _MAX_TEXT else raw[:_MAX_TEXT] + "..."
        raise InvalidValueError(
            f"{what} {shown!r} is not a duration; use e.g. 90m, 1h30m, 1d12h, PT1H30M "
            "or a number of hours"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidValueError(f"{what} must be a finite duration > 0, got {raw!r}")
    if seconds > maximum.total_seconds():
        raise InvalidValueError(
            f"{what} {raw!r} is longer than the {_days(maximum)} allowed; give a shorter one"
        )
    return timedelta(seconds=seconds)


def parse_duration_h(
    text: str, *, what: str = "duration", maximum: timedelta = MAX_DURATION
) -> float:
    """The same as :func:`parse_duration`, in hours."""
    return parse_duration(text, what=what, maximum=maximum).total_seconds() / 3600.0


def _days(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds / 3600:g} h"


def parse_timestamp(text: str, *, now: datetime | None = None, what: str = "time") -> datetime:
    """A timezone-aware UTC time from ISO 8601 with a zone or, given ``now``, a duration after it.

    Raises:
        InvalidValueError: Unparseable, naive (no time zone), or outside 1970..2200.
    """
    raw = str(text).strip()
    if len(raw) > _MAX_TEXT:
        raise InvalidValueError(f"{what} is {len(raw)} characters long; give an ISO 8601 time")
    if now is not None and _seconds(raw.lstrip("+")) is not None:
        return now + parse_duration(raw.lstrip("+"), what=what)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raw += "T00:00Z"  # a calendar date is a day in UTC, not a naive time of day
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        hint = " or a duration after now such as 24h" if now is not None else ""
        raise InvalidValueError(
            f"{what} {raw!r} is not an ISO 8601 time (e.g. 2022-03-01T10:00Z){hint}"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidValueError(
            f"{what} {raw!r} has no time zone; add Z for UTC (e.g. {raw}Z) or an offset"
        )
    utc = when.astimezone(UTC)
    if not _EARLIEST <= utc < _LATEST:
        raise InvalidValueError(f"{what} {raw!r} is outside 1970..2199; check the year")
    return utc


_DIALECTS = ("sqlite", "postgresql+psycopg", "postgresql")
_URL_HELP = "use sqlite:///PATH (embedded) or postgresql+psycopg://USER@HOST/DB (shared)"


def parse_ledger_url(text: str, *, what: str = "ledger URL", allow_memory: bool = False) -> str:
    """Check a ledger URL before anything runs; returns it normalised.

    A bare path (no ``://``) is a SQLite file. ``postgresql://`` means ``postgresql+psycopg://``.
    Refused with the fix: unknown dialects (``sqlte://``), ``postgres://`` (SQLAlchemy does not
    know that name), ``sqlite:/x.db`` (two slashes missing), a SQLite URL with a host, a bad port,
    and the in-memory ``sqlite://`` unless ``allow_memory`` (it would keep nothing).

    Raises:
        UsageError: The URL cannot name a ledger lowcarb can keep.
    """
    raw = str(text).strip()
    if not raw:
        raise UsageError(f"{what} is empty; {_URL_HELP}")
    if len(raw) > 4096 or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise UsageError(f"{what} is not a URL (too long or control characters); {_URL_HELP}")
    if "://" not in raw:
        head = raw.split(":", 1)[0].lower()
        if ":" in raw and head in {"sqlite", "postgres", "postgresql"} | set(_DIALECTS):
            rest = raw.split(":", 1)[1].lstrip("/")
            raise UsageError(
                f"{what} {raw!r} is missing slashes; write sqlite:///{rest} (three slashes, "
                f"four for an absolute path)"
            )
        return f"sqlite:///{raw}"
    scheme, rest = raw.split("://", 1)
    scheme_l = scheme.lower()
    if scheme_l.startswith("postgres") and not scheme_l.startswith("postgresql"):
        raise UsageError(
            f"{what} scheme {scheme!r} is not known to SQLAlchemy; write "
            f"postgresql+psycopg://{_hide_password(rest)}"
        )
    if scheme_l == "sqlite":
        if rest in ("", "/:memory:") or rest.startswith("/file::memory:"):
            if allow_memory:
                return raw
            raise UsageError(
                f"{what} {raw!r} is an in-memory database that keeps nothing; "
                "give a file: sqlite:///PATH"
            )
        if not rest.startswith("/"):
            raise UsageError(
                f"{what} {raw!r} names a host; a SQLite ledger is a file: sqlite:///{rest}"
            )
        return raw
    if scheme_l in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        normal = f"postgresql+psycopg://{rest}"
        _check_port(normal, what)
        return normal
    near = [k for k in ("sqlite", "postgresql") if _similar(scheme_l, k) >= 0.75]
    hint = f"did you mean {near[0]}://? " if near else ""
    raise UsageError(f"{what} has unknown dialect {scheme!r}; {hint}{_URL_HELP}")


def _similar(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio()


def _hide_password(rest: str) -> str:
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        return f"{userinfo.split(':', 1)[0]}:***@{host}"
    return rest


def _check_port(url: str, what: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError):
        raise UsageError(f"{what} {_hide_password(url)!r} is malformed; {_URL_HELP}") from None
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"{what} has port {port}, outside 1..65535; fix the port")
