"""Times in the forms the SDK's WebAPI accepts: lenient in query strings, strict in JSON bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lowcarb.errors import InvalidValueError
from lowcarb.reporting.carbonaware import parse_body_time, parse_query_time
from lowcarb.reporting.carbonaware._times import format_time, format_timespan


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "when", "assumed"),
    [
        ("2022-1-1T04:05:06Z", _utc(2022, 1, 1, 4, 5, 6), False),  # the SDK tests' unpadded date
        ("2022-06-13T6:05:00Z", _utc(2022, 6, 13, 6, 5), False),  # the SDK docs' one-digit hour
        ("2021-12-25T00:00:00+06:00", _utc(2021, 12, 24, 18), False),
        ("2021-12-25T00:00:00.0000000+06:00", _utc(2021, 12, 24, 18), False),  # .NET "O"
        ("2022-01-01T04:05:06.1234567Z", _utc(2022, 1, 1, 4, 5, 6, 123456), False),
        ("2022-03-01T17:30+0200", _utc(2022, 3, 1, 15, 30), False),
        ("2022-03-01 17:30:00-05", _utc(2022, 3, 1, 22, 30), False),
        ("2022-03-01T17:30:00 02:00", _utc(2022, 3, 1, 15, 30), False),  # '+' sent unencoded
        ("2022-03-01t15:30:00z", _utc(2022, 3, 1, 15, 30), False),
        ("  2022-03-01T15:30:00Z  ", _utc(2022, 3, 1, 15, 30), False),
        ("2022-03-01", _utc(2022, 3, 1), True),  # a calendar date: the UTC day
        ("2022-03-01T15:30:00", _utc(2022, 3, 1, 15, 30), True),  # no offset: read as UTC
    ],
)
def test_query_times_in_sdk_forms(text: str, when: datetime, assumed: bool) -> None:
    parsed = parse_query_time(text, what="time")
    assert parsed.when == when and parsed.when.tzinfo is UTC
    assert parsed.assumed_utc is assumed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "now",
        "2022-13-01",
        "2022-02-30T00:00Z",
        "2022-03-01T25:00Z",
        "1960-01-01T00:00Z",
        "2022-03-01T15:30:00+25:00",
        "20220301",
        "2022-03-01T15:30:00Zjunk",
        "9" * 1000,
    ],
)
def test_bad_query_times_say_what_and_how(text: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_query_time(text, what="toTime")
    message = str(info.value)
    assert message.startswith("toTime ") and "ISO 8601" in message and "\n" not in message
    assert len(message) < 300  # a huge value is cut, not echoed


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2022-03-01T15:30:00Z", _utc(2022, 3, 1, 15, 30)),
        ("2022-03-01T17:30:00+02:00", _utc(2022, 3, 1, 15, 30)),
        ("2022-03-01T15:30:00.5Z", _utc(2022, 3, 1, 15, 30, 0, 500000)),
        ("2022-03-01T15:30", _utc(2022, 3, 1, 15, 30)),
        ("2022-03-01", _utc(2022, 3, 1)),
    ],
)
def test_body_times_are_strict_iso_8601(text: str, when: datetime) -> None:
    assert parse_body_time(text, what="startTime").when == when


@pytest.mark.parametrize(
    "value",
    [
        "2022-3-1T15:30:00Z",
        "2021-9-1T08:30:00Z",
        "2022-03-01 15:30:00Z",
        "2022-03-01T6:05:00Z",
        "2022-03-01T15:30:00+0200",
        20220301,
        None,
        ["2022-03-01"],
    ],
)
def test_body_times_refuse_what_system_text_json_refuses(value: object) -> None:
    with pytest.raises(InvalidValueError, match="startTime"):
        parse_body_time(value, what="startTime")


def test_times_are_written_as_the_sdk_writes_them() -> None:
    local = datetime(2022, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(local) == "2022-03-01T15:30:00+00:00"
    assert format_timespan(timedelta(hours=1)) == "01:00:00"
    assert format_timespan(timedelta(days=1, minutes=3, seconds=4)) == "1.00:03:04"
    assert format_timespan(timedelta(minutes=-30)) == "-00:30:00"
