"""Pricing follows the hours the work ran: live history, else the profile, else annual factor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lowcarb.errors import ProviderError
from lowcarb.grid import (
    PROFILE_SOURCE,
    Intensity,
    IntensitySeries,
    StaticIntensitySource,
    profile_series,
    profile_values,
    static_intensity,
)
from lowcarb.tracking import hour_weights, intensity_for_hours

NOON = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2024, 1, 15, 0, 0, tzinfo=UTC)


def test_hour_weights_split_a_run_by_the_time_it_spent_in_each_hour() -> None:
    first, weights = hour_weights(NOON + timedelta(minutes=30), 2 * 3600)
    assert first == NOON
    assert weights == pytest.approx((0.25, 0.5, 0.25))
    first, weights = hour_weights(NOON + timedelta(minutes=10), 0.0)
    assert first == NOON and weights == (1.0,)


def test_a_de_run_is_priced_at_the_profile_of_its_hour_not_the_annual_mean() -> None:
    annual = static_intensity("DE").intensity_g_per_kwh
    noon = intensity_for_hours("DE", start=NOON, duration_s=600)
    night = intensity_for_hours("DE", start=MIDNIGHT, duration_s=600)
    expected_noon = profile_series("DE", start=NOON, hours=1).values_g_per_kwh[0]
    assert noon.intensity_g_per_kwh == pytest.approx(expected_noon)
    assert noon.source == PROFILE_SOURCE and noon.kind == "estimated"
    assert "weighted over the 1 UTC hour from 2024-06-03T12:00:00+00:00" in noon.note
    assert "evenly" in noon.note
    # A June noon with solar and a January night differ, and neither is the annual mean.
    assert abs(noon.intensity_g_per_kwh - night.intensity_g_per_kwh) > 20
    assert noon.intensity_g_per_kwh != pytest.approx(annual)


def test_a_run_over_two_hours_is_the_weighted_mean_of_both() -> None:
    start = NOON + timedelta(minutes=45)
    values = profile_series("FR", start=NOON, hours=2).values_g_per_kwh
    priced = intensity_for_hours("FR", start=start, duration_s=3600)
    assert priced.intensity_g_per_kwh == pytest.approx(0.25 * values[0] + 0.75 * values[1])


def test_a_cloud_region_is_priced_at_its_zone_profile() -> None:
    priced = intensity_for_hours("aws:eu-central-1", start=NOON, duration_s=60)
    assert priced.zone == "DE" and priced.source == PROFILE_SOURCE
    assert "aws:eu-central-1" in priced.note


def test_no_zone_is_the_labelled_world_average() -> None:
    priced = intensity_for_hours(None, start=NOON, duration_s=60)
    assert priced == static_intensity(None)


class _Live(StaticIntensitySource):
    name = "live-test"

    def __init__(self, values: list[float] | None) -> None:
        self.values = values
        self.asked: list[tuple[datetime, datetime]] = []

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        self.asked.append((start, end))
        if self.values is None:
            raise ProviderError("live-test: HTTP 503")
        return IntensitySeries(
            zone=zone,
            start=start,
            values_g_per_kwh=np.array(self.values),
            source="live-test:history",
            kind="measured",
        )


def test_a_live_source_history_comes_first() -> None:
    source = _Live([100.0, 300.0])
    priced = intensity_for_hours(
        "DE", start=NOON + timedelta(minutes=30), duration_s=3600, source=source
    )
    assert source.asked == [(NOON, NOON + timedelta(hours=2))]
    assert priced.intensity_g_per_kwh == pytest.approx(200.0)
    assert (priced.source, priced.kind) == ("live-test:history", "measured")


def test_a_failing_live_source_falls_back_to_the_profile_and_says_so() -> None:
    priced = intensity_for_hours("DE", start=NOON, duration_s=60, source=_Live(None))
    assert priced.source == PROFILE_SOURCE
    assert "live-test history unavailable" in priced.note and "503" in priced.note


def test_a_zone_without_a_profile_falls_back_to_the_annual_factor() -> None:
    from lowcarb.grid import profile_zones, zones

    missing = next(z.zone_id for z in zones() if z.zone_id not in set(profile_zones()))
    priced = intensity_for_hours(missing, start=NOON, duration_s=60)
    annual = static_intensity(missing)
    assert isinstance(priced, Intensity)
    assert priced.intensity_g_per_kwh == annual.intensity_g_per_kwh
    assert priced.source == annual.source and priced.year == annual.year
    assert "no hourly profile" in priced.note


def test_pricing_a_run_does_not_load_numpy() -> None:
    # Every Tracker.stop() prices its run: that must stay as light as the tracker itself.
    import subprocess
    import sys

    code = (
        "import sys; from datetime import datetime, UTC; "
        "from lowcarb.tracking import intensity_for_hours; "
        "intensity_for_hours('DE', start=datetime(2024, 6, 3, 12, tzinfo=UTC), duration_s=60); "
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_plain_table_and_the_numpy_series_agree() -> None:
    zone, first, values = profile_values("FR", start=NOON, hours=30)
    series = profile_series("FR", start=NOON, hours=30)
    assert (zone, first) == (series.zone, series.start)
    assert list(values) == series.values_g_per_kwh.tolist()
