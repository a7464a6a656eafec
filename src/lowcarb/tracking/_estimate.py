"""``lowcarb.estimate``: the energy layer's estimate, priced with the grid's zone table."""

from __future__ import annotations

from lowcarb import grid
from lowcarb.energy import (
    EMBODIED_LIFETIME_YEARS,
    EMBODIED_USAGE_FRACTION,
    EstimateResult,
    IntensityLookup,
)
from lowcarb.energy import estimate as estimate_energy

__all__ = ["estimate"]


def estimate(
    *,
    hardware: str | None,
    count: int,
    hours: float,
    power_w: float | None = None,
    utilization: float = 1.0,
    pue: float = 1.0,
    intensity_g_per_kwh: float | None = None,
    zone: str | None = None,
    embodied: bool = False,
    intensity_lookup: IntensityLookup | None = None,
    embodied_lifetime_years: float = EMBODIED_LIFETIME_YEARS,
    embodied_usage_fraction: float = EMBODIED_USAGE_FRACTION,
) -> EstimateResult:
    """Energy and CO2e of ``count`` devices running ``hours``, described, not run.

    :func:`lowcarb.energy.estimate` (see it for the arithmetic and every argument) with the
    zone table of :func:`lowcarb.grid.static_intensity` (looked up at call time) as the default
    ``intensity_lookup``.
    """
    return estimate_energy(
        hardware=hardware,
        count=count,
        hours=hours,
        power_w=power_w,
        utilization=utilization,
        pue=pue,
        intensity_g_per_kwh=intensity_g_per_kwh,
        zone=zone,
        embodied=embodied,
        intensity_lookup=intensity_lookup
        if intensity_lookup is not None
        else grid.static_intensity,
        embodied_lifetime_years=embodied_lifetime_years,
        embodied_usage_fraction=embodied_usage_fraction,
    )
