"""lowcarb.grid: zones, grid carbon intensity (static, traces, live) and forecasts.

See DESIGN.md. Embedded data under ``lowcarb/grid/data/`` is derived from Electricity Maps data
(ODbL 1.0); see ``data/ATTRIBUTION.md``.
"""

from lowcarb.grid._electricitymaps import ElectricityMapsSource
from lowcarb.grid._forecast import Forecaster, LagRidgeForecaster, SeasonalNaiveForecaster
from lowcarb.grid._http import DiskCache, JsonFetcher, RetryPolicy, default_cache_dir
from lowcarb.grid._live import LiveIntensitySource
from lowcarb.grid._profiles import PROFILE_SOURCE, ProfileForecaster, profile_series, profile_zones
from lowcarb.grid._providers import PROVIDER_NAMES, ProviderName, open_provider
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._sources import IntensitySource, StaticIntensitySource, TraceIntensitySource
from lowcarb.grid._static import AnnualFactor, annual_factors, resolve_zone, static_intensity
from lowcarb.grid._trace import TraceTable, load_trace, load_trace_table
from lowcarb.grid._types import Footprint, Intensity, IntensityKind, Scope, Signal, price
from lowcarb.grid._ukci import UKCarbonIntensitySource
from lowcarb.grid._watttime import WattTimeSource
from lowcarb.grid._zones import (
    CloudProvider,
    CloudRegion,
    Zone,
    ZoneKind,
    cloud_regions,
    lookup_region,
    lookup_zone,
    resolve_name,
    zones,
)

__all__ = [
    "PROFILE_SOURCE",
    "PROVIDER_NAMES",
    "AnnualFactor",
    "CloudProvider",
    "CloudRegion",
    "DiskCache",
    "ElectricityMapsSource",
    "Footprint",
    "Forecaster",
    "Intensity",
    "IntensityKind",
    "IntensitySeries",
    "IntensitySource",
    "JsonFetcher",
    "LagRidgeForecaster",
    "LiveIntensitySource",
    "ProfileForecaster",
    "ProviderName",
    "RetryPolicy",
    "Scope",
    "SeasonalNaiveForecaster",
    "Signal",
    "StaticIntensitySource",
    "TraceIntensitySource",
    "TraceTable",
    "UKCarbonIntensitySource",
    "WattTimeSource",
    "Zone",
    "ZoneKind",
    "annual_factors",
    "cloud_regions",
    "default_cache_dir",
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
]
