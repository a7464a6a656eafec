"""The public surface of lowcarb.grid is exactly its __all__."""

from __future__ import annotations

import subprocess
import sys

import lowcarb.grid as grid

EXPECTED = {
    "AnnualFactor",
    "CloudProvider",
    "CloudRegion",
    "Footprint",
    "CITATIONS",
    "FORECAST_MODELS",
    "MAX_HORIZON_H",
    "AnchoredForecaster",
    "Forecaster",
    "NoisyOracleForecaster",
    "OracleForecaster",
    "ProfileBlendForecaster",
    "ProviderForecaster",
    "SeriesForecaster",
    "ceil_hour",
    "floor_hour",
    "forecaster_names",
    "make_forecaster",
    "Intensity",
    "IntensityKind",
    "IntensitySeries",
    "IntensitySource",
    "LagRidgeForecaster",
    "PROFILE_NOTE",
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
    "profile_values",
    "profile_zones",
    "resolve_name",
    "resolve_zone",
    "static_intensity",
    "zones",
}


def test_all_is_the_public_surface() -> None:
    assert set(grid.__all__) == EXPECTED
    public = {n for n in dir(grid) if not n.startswith("_")}
    assert public - {"annotations", "importlib", "TYPE_CHECKING", "Any"} == EXPECTED
    for name in grid.__all__:
        assert getattr(grid, name) is not None


def test_import_is_light() -> None:
    """Importing lowcarb (and its grid package) must not load numpy or httpx."""
    code = (
        "import sys, lowcarb, lowcarb.grid; "
        "print(sorted(m for m in ('numpy', 'httpx', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
