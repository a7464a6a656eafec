"""The many-origins path of lowcarb.grid forecasters (what backtests use): only the past,
oracles, the anchored adapter, the registry, the live-provider adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lowcarb.errors import ForecastError, InvalidValueError
from lowcarb.grid import (
    FORECAST_MODELS,
    AnchoredForecaster,
    Forecaster,
    IntensitySeries,
    LagRidgeForecaster,
    NoisyOracleForecaster,
    OracleForecaster,
    ProfileBlendForecaster,
    ProviderForecaster,
    SeasonalNaiveForecaster,
    SeriesForecaster,
    StaticIntensitySource,
    forecaster_names,
    load_trace_table,
    make_forecaster,
)


@pytest.fixture(scope="module")
def de_2022(grid_data_dir: Path) -> IntensitySeries:
    path = grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv"
    return load_trace_table(path).series("DE")


def test_forecast_models_use_only_the_past() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(24 * 25) * 300
    origins = np.array([24 * 15, 24 * 17 + 5, 24 * 20])
    for model in (SeasonalNaiveForecaster(), ProfileBlendForecaster()):
        before = model.matrix(x, origins, 30)
        for i, o in enumerate(origins):
            y = x.copy()
            y[o:] = rng.random(y.size - o) * 1000  # the future changes...
            assert np.array_equal(
                model.matrix(y, origins[i : i + 1], 30)[0], before[i]
            )  # ...not it
    naive = SeasonalNaiveForecaster().forecast_values(np.arange(48.0), 3)
    assert naive.tolist() == [24.0, 25.0, 26.0]
    with pytest.raises(ForecastError):
        ProfileBlendForecaster().forecast_values(np.ones(30), 5)


def test_noisy_oracle_with_zero_error_is_the_oracle() -> None:
    x = np.arange(100.0)
    origins = np.array([3, 40])
    exact = OracleForecaster(x).matrix(x, origins, 5)
    assert np.array_equal(NoisyOracleForecaster(x, error=0.0, seed=1).matrix(x, origins, 5), exact)
    noisy = NoisyOracleForecaster(x, error=0.05, seed=1).matrix(x, origins, 5)
    assert not np.array_equal(noisy, OracleForecaster(x).matrix(x, origins, 5))
    assert np.abs(noisy - OracleForecaster(x).matrix(x, origins, 5)).max() < 0.05 * x.mean() * 6


def test_anchored_forecaster_agrees_with_the_vectorised_path(de_2022: IntensitySeries) -> None:
    x = de_2022.values_g_per_kwh[: 24 * 10]
    origins = np.array([48, 100, 200])
    grid = AnchoredForecaster(SeasonalNaiveForecaster(), start=de_2022.start, zone="DE")
    naive = SeasonalNaiveForecaster().matrix(x, origins, 24)
    assert np.allclose(grid.matrix(x, origins, 24), naive)


def test_the_registry_builds_every_model_by_name() -> None:
    assert forecaster_names() == ("profile-blend", "lag-ridge", "seasonal-naive", "profile")
    assert tuple(FORECAST_MODELS) == forecaster_names()
    for name in forecaster_names():
        model = make_forecaster(name)
        assert isinstance(model, Forecaster)
        assert model.name == name
    assert make_forecaster("profile-blend").label == "profile-blend(14d)"
    assert make_forecaster("profile-blend") is not make_forecaster("profile-blend")
    with pytest.raises(InvalidValueError, match="choose one of"):
        make_forecaster("prophet")
    with pytest.raises(TypeError):
        FORECAST_MODELS["x"] = LagRidgeForecaster  # type: ignore[index]


def test_both_paths_of_a_vectorised_model_agree(de_2022: IntensitySeries) -> None:
    x = de_2022.values_g_per_kwh[: 24 * 20]
    series = IntensitySeries(zone="DE", start=de_2022.start, values_g_per_kwh=x, source="t")
    for model in (SeasonalNaiveForecaster(), ProfileBlendForecaster()):
        fc = model.forecast(series, origin=series.end, horizon_h=30)
        assert np.allclose(fc.values_g_per_kwh, model.forecast_values(x, 30))
        assert fc.source == f"forecast:{model.label}"


def test_timestamped_models_need_an_anchor_for_many_origins(de_2022: IntensitySeries) -> None:
    x = de_2022.values_g_per_kwh[: 24 * 10]
    with pytest.raises(ForecastError, match="AnchoredForecaster"):
        LagRidgeForecaster().matrix(x, np.array([200]), 24)
    anchored = AnchoredForecaster(LagRidgeForecaster(), start=de_2022.start, zone="DE")
    row = anchored.matrix(x, np.array([200]), 24)[0]
    series = IntensitySeries(zone="DE", start=de_2022.start, values_g_per_kwh=x, source="t")
    direct = LagRidgeForecaster().forecast(series, origin=de_2022.start + timedelta(hours=200))
    assert np.allclose(row, direct.values_g_per_kwh)
    assert anchored.label == "lag-ridge"


def test_series_forecaster_wraps_a_callable() -> None:
    model = SeriesForecaster("last", lambda h, n: np.full(n, h[-1]), min_history=2)
    assert model.matrix(np.arange(10.0), np.array([2, 5]), 3).tolist() == [[1.0] * 3, [4.0] * 3]
    with pytest.raises(ForecastError):
        model.matrix(np.arange(10.0), np.array([1]), 3)


def test_a_provider_forecast_goes_through_the_forecaster_interface() -> None:
    now = datetime(2022, 6, 1, 10, 30, tzinfo=UTC)
    source = StaticIntensitySource()
    empty = IntensitySeries(
        zone="DE", start=now.replace(minute=0), values_g_per_kwh=np.zeros(0), source="none"
    )
    fc = ProviderForecaster(source).forecast(empty, origin=now, horizon_h=3)
    direct = source.forecast("DE", now=now, horizon_h=3)
    assert (fc.start, fc.source, fc.notes) == (direct.start, direct.source, direct.notes)
    assert fc.values_g_per_kwh.tolist() == direct.values_g_per_kwh.tolist()
    assert ProviderForecaster(source).name == "static"
