"""What a dashboard page shows: whole UTC days, and optionally one team, project, model or kind.

Pages count whole UTC days because their figures come from the daily rollup; a period is given
as dates (``since=2024-05-01``, ``until=2024-06-01``, ``until`` excluded) or midnight UTC times.
Without ``until`` a page ends with today; without ``since`` it starts :data:`DEFAULT_DAYS` days
before ``until``. Times are parsed by lowcarb's one parser (:func:`lowcarb.units.parse_timestamp`)
and names checked by the ledger's rule (length, no control characters), so every refusal names
the parameter and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from lowcarb._text import check_name, plain
from lowcarb.errors import InvalidValueError
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.report import MAX_PERIOD, ReportQuery
from lowcarb.units import parse_timestamp

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "DashboardQuery", "parse_query"]

#: Days a page shows when no period is given.
DEFAULT_DAYS = 30
#: The longest period a page shows (the report's: a leap year).
MAX_DAYS = MAX_PERIOD.days
_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    """A page's period and filters.

    Attributes:
        since: First day, UTC.
        until: Day after the last, UTC (excluded).
        team, project, model, kind: Exact-match filters, or None.
    """

    since: date
    until: date
    team: str | None = None
    project: str | None = None
    model: str | None = None
    kind: str | None = None

    @property
    def since_time(self) -> datetime:
        """``since`` as midnight UTC."""
        return datetime.combine(self.since, time(0), tzinfo=UTC)

    @property
    def until_time(self) -> datetime:
        """``until`` as midnight UTC."""
        return datetime.combine(self.until, time(0), tzinfo=UTC)

    @property
    def days(self) -> int:
        """Days in the period."""
        return (self.until - self.since).days

    def report_query(self) -> ReportQuery:
        """The same period and team/project as a report's query (``lowcarb report``)."""
        return ReportQuery(self.since_time, self.until_time, team=self.team, project=self.project)

    def with_(self, **changes: Any) -> DashboardQuery:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def params(self) -> dict[str, str]:
        """The query as URL parameters (those that are set)."""
        out = {"since": self.since.isoformat(), "until": self.until.isoformat()}
        for name in ("team", "project", "model", "kind"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def link(self, path: str, **changes: Any) -> str:
        """``path`` with this query's parameters (changed by ``changes``; None drops one)."""
        params = {**self.params(), **{k: v for k, v in changes.items()}}
        shown = {k: str(v) for k, v in params.items() if v is not None}
        return f"{path}?{urlencode(shown)}" if shown else path

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "days": self.days,
            "team": self.team,
            "project": self.project,
            "model": self.model,
            "kind": self.kind,
        }


def _day(text: str, what: str) -> date:
    try:
        when = parse_timestamp(text, what=what)
    except InvalidValueError as exc:
        raise DashboardError(400, str(exc), param=what) from None
    if when.time() != time(0):
        raise DashboardError(
            400,
            f"{what} {plain(text)[:64]!r} is not midnight UTC: pages count whole UTC days; "
            f"give a date such as {when.date().isoformat()}",
            param=what,
        )
    return when.date()


def _name(value: str | None, what: str) -> str | None:
    try:
        return check_name(value, what=what)
    except InvalidValueError as exc:
        raise DashboardError(400, str(exc), param=what) from None


def parse_query(
    *,
    since: str | None,
    until: str | None,
    today: date,
    team: str | None = None,
    project: str | None = None,
    model: str | None = None,
    kind: str | None = None,
) -> DashboardQuery:
    """A :class:`DashboardQuery` from a request's parameters (see the module docstring).

    Raises:
        DashboardError: 400 for an unparseable time, a time not at midnight, an inverted or
            oversized period, or a malformed name or kind.
    """
    end = _day(until, "until") if until is not None else None
    start = _day(since, "since") if since is not None else None
    if end is None:
        end = today + timedelta(days=1)
        if start is not None and start >= end:
            end = start + timedelta(days=DEFAULT_DAYS)
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise DashboardError(
            400,
            f"until {end.isoformat()} is not after since {start.isoformat()}: give since "
            "earlier than until (until is excluded)",
            param="until",
        )
    days = (end - start).days
    if days > MAX_DAYS:
        raise DashboardError(
            400,
            f"the period {start.isoformat()}..{end.isoformat()} is {days:,} days, longer than "
            f"the {MAX_DAYS} a page shows; narrow since/until to a year at most",
            param="since",
        )
    if kind is not None and not _KIND.fullmatch(kind):
        raise DashboardError(
            400,
            f"kind {plain(kind)[:64]!r} is not a record kind: lowercase letters, digits, '_', "
            "'.', '-' (e.g. run, inference, decision)",
            param="kind",
        )
    return DashboardQuery(
        since=start,
        until=end,
        team=_name(team, "team"),
        project=_name(project, "project"),
        model=_name(model, "model"),
        kind=kind,
    )
