"""What a report covers: a period, and optionally one team or one project."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lowcarb._text import check_name
from lowcarb.errors import InvalidValueError
from lowcarb.units import parse_timestamp

__all__ = ["DEFAULT_PERIOD", "MAX_PERIOD", "ReportQuery", "query_from_text"]

#: The longest period one report covers: a leap year. Longer ranges are split into yearly
#: reports, so a typo (``--since 1970``) cannot make a report scan a ledger's whole history.
MAX_PERIOD = timedelta(days=366)
#: The period when neither end is given: the 30 days before now.
DEFAULT_PERIOD = timedelta(days=30)


def _fmt(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """The records a report covers: appended in ``[since, until)``, of one team or project.

    Records are selected by the time they were appended to the ledger (their ``timestamp``),
    the same rule as :class:`lowcarb.ledger.RecordFilter`.

    Attributes:
        since: Start of the period, inclusive, timezone-aware.
        until: End of the period, exclusive, timezone-aware; at most :data:`MAX_PERIOD` after
            ``since``.
        team: Only records charged to this team (exact match), or every team.
        project: Only records of this project (exact match), or every project.

    Raises:
        InvalidValueError: A naive time, ``until`` not after ``since``, a period longer than
            :data:`MAX_PERIOD`, or a team/project name that no record could carry.
    """

    since: datetime
    until: datetime
    team: str | None = None
    project: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise InvalidValueError(
                    f"report {name} must be a timezone-aware datetime, got {value!r}; "
                    "add a time zone (e.g. 2024-05-01T00:00Z)"
                )
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.until <= self.since:
            raise InvalidValueError(
                f"report period ends ({_fmt(self.until)}) before it starts ({_fmt(self.since)}); "
                "give --since earlier than --until"
            )
        if self.until - self.since > MAX_PERIOD:
            days = (self.until - self.since).total_seconds() / 86400
            raise InvalidValueError(
                f"report period {_fmt(self.since)}..{_fmt(self.until)} is {days:,.0f} days, "
                f"longer than the {MAX_PERIOD.days} allowed; make one report per year"
            )
        check_name(self.team, what="report team")
        check_name(self.project, what="report project")

    @property
    def days(self) -> float:
        """Length of the period, days."""
        return (self.until - self.since).total_seconds() / 86400.0

    def to_dict(self) -> dict[str, str | None]:
        """Plain JSON: times as ISO 8601 UTC with ``Z``."""
        return {
            "since": _fmt(self.since),
            "until": _fmt(self.until),
            "team": self.team,
            "project": self.project,
        }


def query_from_text(
    since: str | None,
    until: str | None,
    *,
    team: str | None = None,
    project: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReportQuery:
    """A :class:`ReportQuery` from what a person typed (``--since``, ``--until``).

    Times are ISO 8601 with a zone or calendar dates (UTC days, see
    :func:`lowcarb.units.parse_timestamp`). A missing ``until`` is now; a missing ``since`` is
    :data:`DEFAULT_PERIOD` before ``until``.

    Raises:
        InvalidValueError: An unparseable or naive time, an inverted or oversized period.
    """
    end = parse_timestamp(until, what="--until") if until is not None else clock()
    start = parse_timestamp(since, what="--since") if since is not None else end - DEFAULT_PERIOD
    return ReportQuery(since=start, until=end, team=team, project=project)
