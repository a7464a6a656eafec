"""The public surface of lowcarb.grid is exactly its __all__."""

from __future__ import annotations

import lowcarb.grid as grid

EXPECTED = {
    "AnnualFactor",
    "CloudProvider",
    "CloudRegion",
    "Footprint",
    "Forecaster",
    "Intensity",
    "IntensityKind",
    "IntensitySeries",
    "IntensitySource",
    "LagRidgeForecaster",
    "PROFILE_SOURCE",
    "PROVIDER_NAMES",
    "ProviderName",
    "ProfileForecaster",
    "Scope",
    "SeasonalNaiveForecaster",
    "Signal",
    "StaticIntensitySource",
    "TraceIntensitySource",
    "TraceTable",
    "Zone",
    "ZoneKind",
    "annual_factors",
    "DiskCache",
    "ElectricityMapsSource",
    "JsonFetcher",
    "LiveIntensitySource",
    "RetryPolicy",
    "UKCarbonIntensitySource",
    "WattTimeSource",
    "default_cache_dir",
    "cloud_regions",
    "load_trace",
    "load_trace_table",
    "lookup_region",
    "lookup_zone",
    "open_provider",
    "price",
    "profile_series",
    "profile_zones",
    "resolve_name",
    "resolve_zone",
    "static_intensity",
    "zones",
}


def test_all_is_the_public_surface() -> None:
    assert set(grid.__all__) == EXPECTED
    public = {n for n in vars(grid) if not n.startswith("_")}
    assert public >= EXPECTED
    for name in grid.__all__:
        assert getattr(grid, name) is not None
