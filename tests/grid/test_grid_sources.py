"""IntensitySource implementations: static and trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lowcarb.errors import InvalidValueError
from lowcarb.grid import (
    IntensitySeries,
    SeasonalNaiveForecaster,
    StaticIntensitySource,
    TraceIntensitySource,
)

T0 = datetime(2022, 5, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_static_source() -> None:
    src = StaticIntensitySource()
    now = T0 + 5.5 * H
    assert src.latest("DE", now=now).intensity_g_per_kwh == pytest.approx(481.5)
    hist = src.history("FR", start=T0, end=T0 + 3 * H)
    assert len(hist) == 3
    assert len(set(hist.values_g_per_kwh)) == 1
    assert hist.kind == "estimated"
    fc = src.forecast("aws:eu-west-3", now=now, horizon_h=5)
    assert fc.zone == "FR"
    assert fc.start == T0 + 6 * H
    assert len(fc) == 5
    with pytest.raises(InvalidValueError, match="must be after"):
        src.history("FR", start=T0, end=T0)
    with pytest.raises(InvalidValueError, match="no time zone"):
        src.latest("FR", now=datetime(2022, 1, 1))


def test_trace_source_uses_only_the_past() -> None:
    values = np.arange(1, 24 * 4 + 1, dtype=float)
    series = IntensitySeries(zone="DE", start=T0, values_g_per_kwh=values, source="t")
    src = TraceIntensitySource(series, forecaster=SeasonalNaiveForecaster())
    latest = src.latest("DE", now=T0 + 50 * H)
    assert latest.time == T0 + 49 * H
    assert latest.intensity_g_per_kwh == 50.0
    with pytest.raises(InvalidValueError, match="no DE data before"):
        src.latest("DE", now=T0)
    assert list(src.history("DE", start=T0 + H, end=T0 + 3 * H).values_g_per_kwh) == [2.0, 3.0]
    fc = src.forecast("DE", now=T0 + 50 * H, horizon_h=3)
    assert list(fc.values_g_per_kwh) == [27.0, 28.0, 29.0]
    with pytest.raises(InvalidValueError, match="holds zone 'DE'"):
        src.latest("FR", now=T0 + 50 * H)


def test_trace_source_reads_files(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "w.csv"
    path.write_text("datetime_utc,DE,FR\n2022-01-01T00:00Z,1,2\n2022-01-01T01:00Z,3,4\n")
    src = TraceIntensitySource(path)
    assert src.latest("FR", now=datetime(2022, 1, 2, tzinfo=UTC)).intensity_g_per_kwh == 4.0
    assert src.series("DE").zone == "DE"
