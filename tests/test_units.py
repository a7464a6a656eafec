"""The one parser per kind of value: durations, timestamps, ledger URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.units import parse_duration, parse_duration_h, parse_ledger_url, parse_timestamp

NOW = datetime(2022, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("45s", timedelta(seconds=45)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("pt15m", timedelta(minutes=15)),
        ("1.5", timedelta(hours=1.5)),
        (" 2h ", timedelta(hours=2)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration_h(text) == pytest.approx(expected.total_seconds() / 3600)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "not a duration"),
        ("soon", "not a duration"),
        ("nan", "not a duration"),
        ("inf", "not a duration"),
        ("1e400", "finite"),
        ("-1h", "not a duration"),
        ("-1", "> 0"),
        ("0m", "> 0"),
        ("1h1h", "not a duration"),
        ("PT", "not a duration"),
        ("P", "not a duration"),
        ("400d", "longer than the 366 days"),
        ("9" * 5000, "not a duration"),
    ],
)
def test_bad_durations_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(InvalidValueError, match=needle) as info:
        parse_duration(text, what="--duration")
    assert "--duration" in str(info.value) and "\n" not in str(info.value)


def test_duration_maximum_is_a_parameter() -> None:
    assert parse_duration("2h", maximum=timedelta(hours=2)) == timedelta(hours=2)
    with pytest.raises(InvalidValueError, match="longer"):
        parse_duration("3h", maximum=timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-03-01T10:00Z", NOW),
        ("2022-03-01T10:00:00+00:00", NOW),
        ("2022-03-01T11:00+01:00", NOW),
        ("2022-03-01T10:00z", NOW),
        ("2022-03-01", NOW - timedelta(hours=10)),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    when = parse_timestamp(text)
    assert when == expected and when.tzinfo is UTC


def test_relative_timestamps_need_a_now() -> None:
    assert parse_timestamp("24h", now=NOW) == NOW + timedelta(hours=24)
    assert parse_timestamp("+1d12h", now=NOW) == NOW + timedelta(days=1, hours=12)
    with pytest.raises(InvalidValueError, match="not an ISO 8601 time"):
        parse_timestamp("24h")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2022-03-01T10:00", "no time zone; add Z"),
        ("yesterday", "not an ISO 8601 time"),
        ("3000-01-01T00:00Z", "outside 1970..2199"),
        ("1960-01-01T00:00Z", "outside 1970..2199"),
        ("2" * 100, "characters long"),
        ("99999-01-01T00:00Z", "not an ISO 8601 time"),
    ],
)
def test_bad_timestamps_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(InvalidValueError, match=needle):
        parse_timestamp(text, what="--now")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("ledger.db", "sqlite:///ledger.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ],
)
def test_ledger_urls(text: str, expected: str) -> None:
    assert parse_ledger_url(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sqlte:///x.db", "unknown dialect 'sqlte'; did you mean sqlite://?"),
        ("mysql://u@h/db", "unknown dialect 'mysql'"),
        ("postgres://u:secret@h/db", "write postgresql+psycopg://u:***@h/db"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:/x.db", "write sqlite:///x.db"),
        ("sqlite://host/x.db", "names a host"),
        ("postgresql://h:99999/db", "port 99999"),
        ("postgresql://h:abc/db", "malformed"),
        ("", "empty"),
        ("sqlite:///x\x1b[31m.db", "control characters"),
    ],
)
def test_bad_ledger_urls_name_the_fix(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_ledger_url(text)
    assert needle in str(info.value)
    assert "secret" not in str(info.value)


def test_in_memory_ledger_only_on_request() -> None:
    assert parse_ledger_url("sqlite://", allow_memory=True) == "sqlite://"
