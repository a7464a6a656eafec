"""Forecasters: no look-ahead, seasonal-naive exactness, lag-ridge skill, the profile table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lowcarb.errors import ForecastError, InvalidValueError, UnknownZoneError
from lowcarb.grid import (
    Forecaster,
    IntensitySeries,
    LagRidgeForecaster,
    ProfileForecaster,
    SeasonalNaiveForecaster,
    load_trace,
    profile_series,
    profile_zones,
)

T0 = datetime(2022, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


def _synthetic(days: int, seed: int = 0) -> IntensitySeries:
    """A daily cycle plus a slowly wandering level plus noise."""
    rng = np.random.default_rng(seed)
    n = days * 24
    hours = np.arange(n)
    level = 300 + np.cumsum(rng.normal(0, 3, n))
    values = np.clip(level + 80 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 5, n), 1, None)
    return IntensitySeries(zone="XX", start=T0, values_g_per_kwh=values, source="synthetic")


@pytest.fixture(scope="module")
def de_2022(grid_data_dir: Path) -> IntensitySeries:
    return load_trace(
        grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv", zone="DE"
    )


def test_seasonal_naive_is_same_hour_yesterday() -> None:
    s = _synthetic(3)
    origin = T0 + 48 * H
    fc = SeasonalNaiveForecaster().forecast(s, origin=origin, horizon_h=30)
    assert fc.start == origin
    assert fc.kind == "forecast"
    assert fc.source == "forecast:seasonal-naive"
    y = s.values_g_per_kwh
    assert np.array_equal(fc.values_g_per_kwh[:24], y[24:48])
    assert np.array_equal(fc.values_g_per_kwh[24:], y[24:30])


@pytest.mark.parametrize(
    "model", [SeasonalNaiveForecaster(), LagRidgeForecaster(), ProfileForecaster()]
)
def test_no_data_at_or_after_the_origin_is_used(model: Forecaster) -> None:
    s = _synthetic(40)
    origin = T0 + 30 * 24 * H + 7 * H
    honest = model.forecast(s.before(origin).replace(zone="DE"), origin=origin)
    # Replace every value from the origin on with garbage: the forecast must not change.
    tampered_values = s.values_g_per_kwh.copy()
    tampered_values[s.index_of(origin) :] = 1e6
    tampered = s.replace(values_g_per_kwh=tampered_values, zone="DE")
    assert np.array_equal(
        model.forecast(tampered, origin=origin).values_g_per_kwh, honest.values_g_per_kwh
    )


def test_origin_between_hours_starts_at_the_next_hour() -> None:
    s = _synthetic(3)
    fc = SeasonalNaiveForecaster().forecast(s, origin=T0 + 40.5 * H, horizon_h=2)
    assert fc.start == T0 + 41 * H
    # History includes the hour stamped 40:00 (before 40:30): yesterday's 41:00 is index 17.
    assert fc.values_g_per_kwh[0] == s.values_g_per_kwh[17]


def test_forecast_errors() -> None:
    s = _synthetic(3)
    with pytest.raises(ForecastError, match="at least 24 h"):
        SeasonalNaiveForecaster().forecast(s, origin=T0 + 10 * H)
    with pytest.raises(InvalidValueError, match="horizon"):
        SeasonalNaiveForecaster().forecast(s, origin=T0 + 48 * H, horizon_h=0)
    with pytest.raises(InvalidValueError, match="horizon"):
        SeasonalNaiveForecaster().forecast(s, origin=T0 + 48 * H, horizon_h=169)
    with pytest.raises(ForecastError, match="ends at"):
        SeasonalNaiveForecaster().forecast(s, origin=T0 + 500 * H)
    with pytest.raises(InvalidValueError, match="no time zone"):
        SeasonalNaiveForecaster().forecast(s, origin=datetime(2022, 1, 3))


def test_lag_ridge_falls_back_on_short_history_and_says_so() -> None:
    s = _synthetic(3)
    fc = LagRidgeForecaster().forecast(s, origin=T0 + 72 * H)
    assert "fallback:seasonal-naive" in fc.source
    full = LagRidgeForecaster().forecast(_synthetic(30), origin=T0 + 29 * 24 * H)
    assert full.source == "forecast:lag-ridge"


def test_lag_ridge_handles_a_gap_before_the_origin() -> None:
    s = _synthetic(30)
    fc = LagRidgeForecaster().forecast(s, origin=s.end + 5 * H, horizon_h=24)
    assert fc.start == s.end + 5 * H
    assert len(fc) == 24
    assert np.isfinite(fc.values_g_per_kwh).all()


def test_lag_ridge_handles_a_constant_series() -> None:
    s = IntensitySeries(zone="HK", start=T0, values_g_per_kwh=np.full(60 * 24, 700.0), source="c")
    fc = LagRidgeForecaster().forecast(s, origin=s.end)
    assert fc.values_g_per_kwh == pytest.approx(np.full(24, 700.0), rel=1e-6)


def _mape(model: Forecaster, series: IntensitySeries, origins: list[datetime]) -> float:
    errors = []
    for origin in origins:
        fc = model.forecast(series, origin=origin)
        truth = series.between(origin, origin + 24 * H).values_g_per_kwh
        errors.append(np.mean(np.abs(fc.values_g_per_kwh - truth) / truth))
    return float(np.mean(errors))


def test_lag_ridge_beats_seasonal_naive_on_germany_2022(de_2022: IntensitySeries) -> None:
    origins = [T0 + timedelta(days=d) for d in range(40, 360, 8)]
    naive = _mape(SeasonalNaiveForecaster(), de_2022, origins)
    ridge = _mape(LagRidgeForecaster(), de_2022, origins)
    assert ridge < 0.85 * naive


def test_lag_ridge_default_loss_shrugs_off_spikes() -> None:
    """The default absolute-relative loss (IRLS) is not dragged by rare spikes; ridge alone is."""
    clean = _synthetic(70, seed=3)
    rng = np.random.default_rng(4)
    spiky = clean.values_g_per_kwh.copy()
    spikes = rng.choice(len(spiky), size=len(spiky) // 30, replace=False)
    spiky[spikes] *= 4.0
    series = clean.replace(values_g_per_kwh=spiky)
    origins = [T0 + timedelta(days=d, hours=h) for d in range(40, 69, 2) for h in (0, 12)]

    def clean_mape(model: Forecaster) -> float:
        errors = []
        for origin in origins:
            fc = model.forecast(series, origin=origin).values_g_per_kwh
            truth = clean.between(origin, origin + 24 * H).values_g_per_kwh
            errors.append(np.mean(np.abs(fc - truth) / truth))
        return float(np.mean(errors))

    assert LagRidgeForecaster().irls_iterations > 0
    robust = clean_mape(LagRidgeForecaster())
    squared = clean_mape(LagRidgeForecaster(irls_iterations=0))
    assert robust < 0.8 * squared


def test_lag_ridge_refits_a_zone_from_a_year_of_history(de_2022: IntensitySeries) -> None:
    # How long the refit takes is measured by benchmarks/forecast.py, not asserted here.
    model = LagRidgeForecaster()
    fc = model.forecast(de_2022, origin=T0 + timedelta(days=300), horizon_h=48)
    assert len(fc) == 48
    assert np.isfinite(fc.values_g_per_kwh).all() and (fc.values_g_per_kwh >= 0).all()


def test_profile_matches_the_embedded_table(de_2022: IntensitySeries) -> None:
    assert "DE" in profile_zones()
    assert len(profile_zones()) == 125
    june = profile_series("DE", start=datetime(2024, 6, 1, 13, tzinfo=UTC), hours=1)
    mask = (de_2022.times.astype("datetime64[M]").astype(int) % 12 == 5) & (
        (de_2022.times - de_2022.times.astype("datetime64[D]")).astype(int) == 13
    )
    assert june.values_g_per_kwh[0] == pytest.approx(
        de_2022.values_g_per_kwh[mask].mean(), abs=0.06
    )
    assert june.source == "profile:electricitymaps-2022"


def test_profile_forecaster_needs_no_history() -> None:
    empty = IntensitySeries(zone="FR", start=T0, values_g_per_kwh=np.zeros(0), source="none")
    origin = datetime(2030, 7, 1, 22, tzinfo=UTC)
    fc = ProfileForecaster().forecast(empty, origin=origin, horizon_h=4)
    assert fc.start == origin
    assert list(fc.values_g_per_kwh) == list(
        profile_series("FR", start=origin, hours=4).values_g_per_kwh
    )
    assert fc.source == "forecast:profile(electricitymaps-2022)"
    with pytest.raises(ForecastError, match="no embedded profile for zone 'WORLD'"):
        ProfileForecaster().forecast(empty.replace(zone="WORLD"), origin=origin)
    with pytest.raises(UnknownZoneError):
        profile_series("Atlantis", start=origin, hours=1)


def test_lag_ridge_aggregates_use_only_earlier_hours() -> None:
    """Each aggregate at index i summarises hours before i, exactly as documented."""
    from lowcarb.grid._forecast_ridge import _Lags

    y = np.random.default_rng(5).uniform(50, 500, 30 * 24)
    lags = _Lags.build(y)
    for i in (200, 400, 24 * 30 - 1):
        same = y[i - 24 * np.arange(1, 8)]
        assert lags.same7[i] == pytest.approx(same.mean())
        assert lags.med7[i] == pytest.approx(np.median(same))
        assert lags.same28[i] == pytest.approx(y[i - 24 * np.arange(1, 29)[: i // 24]].mean())
        assert lags.last6[i] == pytest.approx(y[i - 6 : i].mean())
        assert lags.last24[i] == pytest.approx(y[i - 24 : i].mean())
        assert lags.last168[i] == pytest.approx(y[i - 168 : i].mean())
    # Before seven same-hour values exist, the median falls back to the mean of those there are.
    assert lags.med7[50] == pytest.approx(np.mean([y[26], y[2]]))
    assert lags.last168[100] == pytest.approx(y[76:100].mean())
