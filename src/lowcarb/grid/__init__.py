"""lowcarb.grid: zones, grid carbon intensity (static, traces, live) and forecasts.

Forecasting has one interface, :class:`Forecaster` (units, hourly UTC points, no look-ahead and
thread safety are stated in its docstring), one registry of models by name
(:data:`FORECAST_MODELS`, :func:`make_forecaster`, :func:`forecaster_names`), a many-origins path
for backtests (:meth:`Forecaster.matrix`; :class:`AnchoredForecaster` for models that need
timestamps) and live providers behind the same interface (:class:`ProviderForecaster`).

See DESIGN.md. Embedded data under ``lowcarb/grid/data/`` is derived from Electricity Maps data
(ODbL 1.0); see ``data/ATTRIBUTION.md``.

Importing the package is cheap: zones, the static table and pricing load at once; numpy-backed
series, forecasters and the HTTP providers load on first use (PEP 562), so ``import lowcarb``
stays light for training scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lowcarb._lazy import lazy_attributes as _lazy_attributes
from lowcarb.grid._profile_table import (
    PROFILE_NOTE,
    PROFILE_SOURCE,
    profile_values,
    profile_zones,
)
from lowcarb.grid._static import (
    CITATIONS,
    AnnualFactor,
    annual_factors,
    resolve_zone,
    static_intensity,
)
from lowcarb.grid._types import (
    Footprint,
    Intensity,
    IntensityKind,
    Scope,
    Signal,
    price,
)
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

if TYPE_CHECKING:
    from lowcarb.grid._electricitymaps import (
        ElectricityMapsSource,
    )
    from lowcarb.grid._forecast import (
        MAX_HORIZON_H,
        Forecaster,
        SeasonalNaiveForecaster,
    )
    from lowcarb.grid._forecast_adapt import (
        AnchoredForecaster,
        ProviderForecaster,
    )
    from lowcarb.grid._forecast_blend import (
        NoisyOracleForecaster,
        OracleForecaster,
        ProfileBlendForecaster,
        SeriesForecaster,
    )
    from lowcarb.grid._forecast_registry import (
        FORECAST_MODELS,
        forecaster_names,
        make_forecaster,
    )
    from lowcarb.grid._forecast_ridge import (
        LagRidgeForecaster,
    )
    from lowcarb.grid._http import (
        DiskCache,
        JsonFetcher,
        RetryPolicy,
        default_cache_dir,
    )
    from lowcarb.grid._live import (
        LiveIntensitySource,
    )
    from lowcarb.grid._profiles import (
        ProfileForecaster,
        profile_series,
    )
    from lowcarb.grid._providers import (
        PROVIDER_NAMES,
        ProviderName,
        open_provider,
    )
    from lowcarb.grid._series import (
        IntensitySeries,
        ceil_hour,
        floor_hour,
    )
    from lowcarb.grid._sources import (
        IntensitySource,
        StaticIntensitySource,
        TraceIntensitySource,
    )
    from lowcarb.grid._trace import (
        TraceTable,
        load_trace,
        load_trace_table,
    )
    from lowcarb.grid._ukci import (
        UKCarbonIntensitySource,
    )
    from lowcarb.grid._watttime import (
        WattTimeSource,
    )

_LAZY: dict[str, str] = {
    "AnchoredForecaster": "lowcarb.grid._forecast_adapt",
    "DiskCache": "lowcarb.grid._http",
    "ElectricityMapsSource": "lowcarb.grid._electricitymaps",
    "FORECAST_MODELS": "lowcarb.grid._forecast_registry",
    "Forecaster": "lowcarb.grid._forecast",
    "IntensitySeries": "lowcarb.grid._series",
    "IntensitySource": "lowcarb.grid._sources",
    "JsonFetcher": "lowcarb.grid._http",
    "LagRidgeForecaster": "lowcarb.grid._forecast_ridge",
    "LiveIntensitySource": "lowcarb.grid._live",
    "MAX_HORIZON_H": "lowcarb.grid._forecast",
    "NoisyOracleForecaster": "lowcarb.grid._forecast_blend",
    "OracleForecaster": "lowcarb.grid._forecast_blend",
    "PROVIDER_NAMES": "lowcarb.grid._providers",
    "ProfileBlendForecaster": "lowcarb.grid._forecast_blend",
    "ProfileForecaster": "lowcarb.grid._profiles",
    "ProviderForecaster": "lowcarb.grid._forecast_adapt",
    "ProviderName": "lowcarb.grid._providers",
    "RetryPolicy": "lowcarb.grid._http",
    "SeasonalNaiveForecaster": "lowcarb.grid._forecast",
    "SeriesForecaster": "lowcarb.grid._forecast_blend",
    "StaticIntensitySource": "lowcarb.grid._sources",
    "TraceIntensitySource": "lowcarb.grid._sources",
    "TraceTable": "lowcarb.grid._trace",
    "UKCarbonIntensitySource": "lowcarb.grid._ukci",
    "WattTimeSource": "lowcarb.grid._watttime",
    "ceil_hour": "lowcarb.grid._series",
    "default_cache_dir": "lowcarb.grid._http",
    "floor_hour": "lowcarb.grid._series",
    "forecaster_names": "lowcarb.grid._forecast_registry",
    "load_trace": "lowcarb.grid._trace",
    "load_trace_table": "lowcarb.grid._trace",
    "make_forecaster": "lowcarb.grid._forecast_registry",
    "open_provider": "lowcarb.grid._providers",
    "profile_series": "lowcarb.grid._profiles",
}


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "CITATIONS",
    "FORECAST_MODELS",
    "MAX_HORIZON_H",
    "PROFILE_NOTE",
    "PROFILE_SOURCE",
    "PROVIDER_NAMES",
    "AnchoredForecaster",
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
    "NoisyOracleForecaster",
    "OracleForecaster",
    "ProfileBlendForecaster",
    "ProfileForecaster",
    "ProviderForecaster",
    "ProviderName",
    "RetryPolicy",
    "Scope",
    "SeasonalNaiveForecaster",
    "SeriesForecaster",
    "Signal",
    "StaticIntensitySource",
    "TraceIntensitySource",
    "TraceTable",
    "UKCarbonIntensitySource",
    "WattTimeSource",
    "Zone",
    "ZoneKind",
    "annual_factors",
    "ceil_hour",
    "cloud_regions",
    "default_cache_dir",
    "floor_hour",
    "forecaster_names",
    "load_trace",
    "load_trace_table",
    "lookup_region",
    "lookup_zone",
    "make_forecaster",
    "open_provider",
    "price",
    "profile_series",
    "profile_values",
    "profile_zones",
    "resolve_name",
    "resolve_zone",
    "static_intensity",
    "zones",
]
