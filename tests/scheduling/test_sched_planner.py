"""Planning over forecasts: hard deadlines, cheapest windows and slots, zones compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lowcarb.errors import ForecastError, InvalidValueError, ProviderError, UsageError
from lowcarb.grid import Intensity, IntensitySeries, IntensitySource
from lowcarb.scheduling import (
    JobSpec,
    ZoneForecast,
    fallback_plan,
    plan_from_source,
    plan_job,
    plan_spatial,
)

T0 = datetime(2022, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def _fc(values: list[float] | np.ndarray, zone: str = "DE", start: datetime = T0) -> ZoneForecast:
    return ZoneForecast(
        zone=zone,
        start=start,
        step_s=3600,
        values_g_per_kwh=np.asarray(values, dtype=float),
        model="test",
        issued_at=start,
    )


def test_contiguous_plan_picks_the_cheapest_window_before_the_deadline() -> None:
    values = [300, 300, 100, 100, 300, 300, 50, 50, 300]
    job = JobSpec(duration_h=2, deadline=T0 + 8 * H)
    plan = plan_job(job, _fc(values), now=T0)
    assert plan.start == T0 + 6 * H and plan.end == T0 + 8 * H
    assert plan.expected_intensity_g_per_kwh == 50
    assert plan.now_intensity_g_per_kwh == 300
    assert plan.expected_savings_pct == pytest.approx(100 * 250 / 300)
    # One hour less of slack and the 50s are out of reach: the deadline is hard.
    plan = plan_job(JobSpec(duration_h=2, deadline=T0 + 7 * H), _fc(values), now=T0)
    assert plan.start == T0 + 2 * H and plan.end <= T0 + 7 * H


def test_power_gives_grams_and_a_curve_weights_hours() -> None:
    values = [100, 400, 400, 100]
    flat = plan_job(JobSpec(duration_h=2, deadline=T0 + 4 * H, power_w=500), _fc(values), now=T0)
    assert flat.expected_co2e_g == pytest.approx(0.5 * (100 + 400))
    assert flat.now_co2e_g == pytest.approx(0.5 * (100 + 400))
    # A job drawing most power in its first hour prefers to start on a clean hour.
    front = JobSpec(duration_h=2, deadline=T0 + 4 * H, power_w=(1000.0, 0.0))
    assert plan_job(front, _fc(values), now=T0).start == T0
    back = JobSpec(duration_h=2, deadline=T0 + 4 * H, power_w=(0.0, 1000.0))
    assert plan_job(back, _fc(values), now=T0).start == T0 + 2 * H


def test_interruptible_plan_uses_cheapest_slots_with_min_chunk() -> None:
    values = [500, 100, 500, 100, 500, 100, 500, 500]
    job = JobSpec(duration_h=3, deadline=T0 + 8 * H, interruptible=True)
    plan = plan_job(job, _fc(values), now=T0)
    assert [(s.start, s.end) for s in plan.slots] == [
        (T0 + H, T0 + 2 * H),
        (T0 + 3 * H, T0 + 4 * H),
        (T0 + 5 * H, T0 + 6 * H),
    ]
    assert plan.expected_intensity_g_per_kwh == 100
    chunked = plan_job(
        JobSpec(duration_h=3, deadline=T0 + 8 * H, interruptible=True, min_chunk_h=2),
        _fc(values),
        now=T0,
    )
    assert all(s.end - s.start >= 2 * H for s in chunked.slots)
    assert sum((s.end - s.start for s in chunked.slots), timedelta()) == 3 * H
    assert "slots" in plan.to_dict() and len(plan.to_dict()["slots"]) == 3


def test_fractional_duration_trims_the_last_slot() -> None:
    job = JobSpec(duration_h=1.5, deadline=T0 + 6 * H, interruptible=True)
    plan = plan_job(job, _fc([500, 100, 500, 100, 500, 500]), now=T0)
    total = sum((s.end - s.start for s in plan.slots), timedelta())
    assert total == timedelta(hours=1.5)
    assert plan.end <= job.deadline


def test_unaligned_now_starts_now_or_on_the_hour() -> None:
    now = T0 + timedelta(minutes=20)
    plan = plan_job(JobSpec(duration_h=1, deadline=now + 3 * H), _fc([100, 300, 300, 300]), now=now)
    assert plan.start == now  # the clean hour holding now
    plan = plan_job(JobSpec(duration_h=1, deadline=now + 3 * H), _fc([300, 100, 300, 300]), now=now)
    assert plan.start == T0 + H
    # The last feasible start is deadline - duration, and never later.
    assert plan.latest_start == now + 2 * H


@pytest.mark.parametrize("seed", range(4))
def test_random_plans_never_miss_the_deadline(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        now = T0 + timedelta(minutes=int(rng.integers(0, 60)))
        duration = float(rng.choice([0.5, 1, 2.5, 4, 7]))
        deadline = now + timedelta(hours=duration + float(rng.integers(0, 30)))
        job = JobSpec(
            duration_h=duration,
            deadline=deadline,
            interruptible=bool(rng.random() < 0.5),
            min_chunk_h=float(rng.choice([1, 2])),
            pause_overhead_h=float(rng.choice([0, 0.25])),
        )
        plan = plan_job(job, _fc(rng.random(40) * 500), now=now)
        assert plan.start >= now and plan.end <= deadline
        total = sum((s.end - s.start for s in plan.slots), timedelta())
        assert abs(total.total_seconds() - duration * 3600) < 1e-6
        assert plan.expected_intensity_g_per_kwh <= plan.now_intensity_g_per_kwh + 1e-9


def test_short_forecast_is_extended_with_a_note() -> None:
    plan = plan_job(
        JobSpec(duration_h=2, deadline=T0 + 30 * H), _fc([300] * 12 + [100] * 12), now=T0
    )
    assert any("repeated" in n for n in plan.notes)
    assert plan.end <= T0 + 30 * H


def test_bad_inputs() -> None:
    with pytest.raises(InvalidValueError, match="not after now"):
        plan_job(JobSpec(duration_h=1, deadline=T0 - H), _fc([1, 2]), now=T0)
    with pytest.raises(InvalidValueError, match="leaves"):
        plan_job(JobSpec(duration_h=3, deadline=T0 + 2 * H), _fc([1, 2, 3]), now=T0)
    with pytest.raises(InvalidValueError, match="> 0"):
        JobSpec(duration_h=0, deadline=T0 + H)
    with pytest.raises(InvalidValueError, match="timezone"):
        JobSpec(duration_h=1, deadline=datetime(2022, 3, 1, 5))
    with pytest.raises(ForecastError, match="covers"):
        plan_job(JobSpec(duration_h=1, deadline=T0 + 40 * H), _fc([1, 2]), now=T0 + 30 * H)


def test_spatial_choice_penalties_and_allowed_list() -> None:
    job = JobSpec(duration_h=1, deadline=T0 + 3 * H, power_w=1000)
    fcs = [_fc([400, 400, 400], "DE"), _fc([100, 100, 100], "FR"), _fc([200, 50, 200], "ES")]
    plan = plan_spatial(job, fcs, now=T0)
    assert plan.zone == "ES" and plan.start == T0 + H
    assert plan.baseline_zone == "DE" and plan.now_intensity_g_per_kwh == 400
    assert {o.zone for o in plan.options} == {"DE", "FR", "ES"}
    # Moving the data to ES costs 60 g: FR (100 g) beats ES (50 + 60 g).
    assert plan_spatial(job, fcs, now=T0, penalties_co2e_g={"ES": 60}).zone == "FR"
    assert plan_spatial(job, fcs, now=T0, allowed_zones=["DE", "FR"]).zone == "FR"
    with pytest.raises(UsageError, match="power"):
        plan_spatial(
            JobSpec(duration_h=1, deadline=T0 + 3 * H), fcs, now=T0, penalties_co2e_g={"ES": 1}
        )
    with pytest.raises(UsageError, match="allowed"):
        plan_spatial(job, fcs, now=T0, allowed_zones=["PL"])


class _FailingSource(IntensitySource):
    name = "failing"

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        raise ProviderError("HTTP 500 from the provider")

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        raise ProviderError("HTTP 500 from the provider")

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        raise ProviderError("HTTP 500 from the provider")


def test_failed_forecast_gives_a_labelled_deadline_safe_fallback() -> None:
    job = JobSpec(duration_h=2, deadline=T0 + 10 * H)
    plan = plan_from_source(job, ["DE"], _FailingSource(), now=T0)
    assert plan.fallback is not None and "HTTP 500" in plan.fallback
    assert plan.start == T0 and plan.end <= job.deadline
    late = plan_from_source(job, ["DE"], _FailingSource(), now=T0, on_forecast_error="latest-start")
    assert late.start == T0 + 8 * H and late.end == job.deadline
    assert late.to_dict()["fallback"].endswith("starting at the latest start")
    with pytest.raises(ProviderError):
        plan_from_source(job, ["DE"], _FailingSource(), now=T0, on_forecast_error="raise")
    direct = fallback_plan(job, zone="DE", now=T0, reason="test", mode="latest-start")
    assert direct.latest_start == T0 + 8 * H


class _SeriesSource(IntensitySource):
    """Replays a series; forecast = the series' values from ``now`` (a perfect forecaster)."""

    name = "series"

    def __init__(self, series: IntensitySeries, fail: set[str]) -> None:
        self.series, self.fail = series, fail

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        return self.series.before(now).latest()

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        return self.series.between(start, end)

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        if zone in self.fail:
            raise ProviderError(f"no data for {zone}")
        return self.series.between(now, now + horizon_h * H).replace(zone=zone)


def test_a_failing_zone_is_left_out_with_a_note() -> None:
    series = IntensitySeries(
        zone="X", start=T0, values_g_per_kwh=np.arange(48.0, 0, -1), source="t"
    )
    job = JobSpec(duration_h=1, deadline=T0 + 5 * H)
    plan = plan_from_source(job, ["DE", "FR"], _SeriesSource(series, {"DE"}), now=T0)
    assert plan.zone == "FR" and plan.start == T0 + 4 * H
    assert any("left out DE" in n for n in plan.notes)
