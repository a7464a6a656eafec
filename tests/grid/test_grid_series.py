"""IntensitySeries: the hourly UTC grid, slicing and provenance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from lowcarb.errors import InvalidValueError
from lowcarb.grid import IntensitySeries
from lowcarb.grid._series import ceil_hour, floor_hour

T0 = datetime(2022, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def _series(values: list[float], start: datetime = T0) -> IntensitySeries:
    return IntensitySeries(zone="DE", start=start, values_g_per_kwh=np.array(values), source="t")


def test_values_are_read_only_copies() -> None:
    raw = np.array([1.0, 2.0])
    s = _series(list(raw))
    with pytest.raises(ValueError, match="read-only"):
        s.values_g_per_kwh[0] = 5.0
    assert len(s) == 2
    assert s.end == T0 + 2 * H


def test_rejects_bad_values_and_times() -> None:
    with pytest.raises(InvalidValueError):
        _series([1.0, -1.0])
    with pytest.raises(InvalidValueError):
        _series([1.0, float("nan")])
    with pytest.raises(InvalidValueError, match="no time zone"):
        _series([1.0], start=datetime(2022, 1, 1))
    with pytest.raises(InvalidValueError, match="on the hour"):
        _series([1.0], start=T0 + timedelta(minutes=30))


def test_start_is_converted_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    s = _series([1.0], start=datetime(2022, 3, 1, 1, tzinfo=cet))
    assert s.start == T0
    assert s.start.utcoffset() == timedelta(0)


def test_before_keeps_only_hours_stamped_strictly_before() -> None:
    s = _series([10.0, 20.0, 30.0, 40.0])
    assert list(s.before(T0 + 2 * H).values_g_per_kwh) == [10.0, 20.0]
    # 02:30: the hour stamped 02:00 is before it.
    assert list(s.before(T0 + 2.5 * H).values_g_per_kwh) == [10.0, 20.0, 30.0]
    assert len(s.before(T0)) == 0
    assert len(s.before(T0 - 5 * H)) == 0


def test_between_and_at() -> None:
    s = _series([10.0, 20.0, 30.0, 40.0])
    part = s.between(T0 + H, T0 + 3 * H)
    assert part.start == T0 + H
    assert list(part.values_g_per_kwh) == [20.0, 30.0]
    assert s.at(T0 + 1.5 * H).intensity_g_per_kwh == 20.0
    assert s.at(T0 + 1.5 * H).time == T0 + H
    with pytest.raises(InvalidValueError, match="outside"):
        s.at(T0 + 10 * H)


def test_latest_and_iteration_carry_provenance() -> None:
    s = _series([10.0, 20.0]).replace(kind="forecast", notes=("n",))
    last = s.latest()
    assert last.intensity_g_per_kwh == 20.0
    assert last.kind == "forecast"
    assert last.source == "t"
    assert last.note == "n"
    assert [i.time for i in s] == [T0, T0 + H]
    with pytest.raises(InvalidValueError, match="no data"):
        s.before(T0).latest()


def test_hour_rounding() -> None:
    t = datetime(2022, 1, 1, 5, 20, tzinfo=UTC)
    assert floor_hour(t) == datetime(2022, 1, 1, 5, tzinfo=UTC)
    assert ceil_hour(t) == datetime(2022, 1, 1, 6, tzinfo=UTC)
    assert ceil_hour(floor_hour(t)) == floor_hour(t)


def test_times_array() -> None:
    s = _series([1.0, 2.0, 3.0])
    assert str(s.times[2]) == "2022-03-01T02"
