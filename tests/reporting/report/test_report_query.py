"""ReportQuery and the text a person types for it; the package's public names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import lowcarb.reporting.report as report
from lowcarb.errors import InvalidValueError
from lowcarb.reporting.report import MAX_PERIOD, ReportQuery, query_from_text

NOW = datetime(2024, 6, 15, 10, 30, tzinfo=UTC)


def test_defaults_are_the_30_days_before_now() -> None:
    q = query_from_text(None, None, clock=lambda: NOW)
    assert (q.since, q.until) == (NOW - timedelta(days=30), NOW)
    q = query_from_text("2024-06-01", None, clock=lambda: NOW)
    assert q.since == datetime(2024, 6, 1, tzinfo=UTC) and q.until == NOW


def test_times_are_normalised_to_utc() -> None:
    q = query_from_text("2024-06-01T02:00+02:00", "2024-06-02", team="vision")
    assert q.since == datetime(2024, 6, 1, tzinfo=UTC) and q.since.tzinfo is UTC
    assert q.to_dict() == {
        "since": "2024-06-01T00:00:00Z",
        "until": "2024-06-02T00:00:00Z",
        "team": "vision",
        "project": None,
    }
    assert q.days == 1.0


def test_a_leap_year_is_the_longest_period() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert ReportQuery(start, start + MAX_PERIOD).days == 366
    with pytest.raises(InvalidValueError, match="367 days, longer than the 366 allowed"):
        ReportQuery(start, start + MAX_PERIOD + timedelta(days=1))


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), "before it starts"),
        (datetime(2024, 1, 1), datetime(2024, 1, 2, tzinfo=UTC), "timezone-aware"),
        ("2024-01-01", datetime(2024, 1, 2, tzinfo=UTC), "timezone-aware"),
    ],
)
def test_bad_periods_are_refused(since: object, until: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        ReportQuery(since, until)  # type: ignore[arg-type]


def test_names_are_bounded_and_printable() -> None:
    t = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(InvalidValueError, match="control characters"):
        ReportQuery(t, t + timedelta(days=1), team="a\x1b[31mb")
    with pytest.raises(InvalidValueError, match="201 characters long"):
        ReportQuery(t, t + timedelta(days=1), project="p" * 201)


def test_public_names_are_exactly_the_exports() -> None:
    public = {n for n in dir(report) if not n.startswith("_")}
    assert set(report.__all__) == public - {"annotations"}
    assert {"ReportQuery", "ReportData", "collect", "build_report", "load_market_factors"} <= public
