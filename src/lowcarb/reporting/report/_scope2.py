"""Scope 2 both ways, per zone: location-based as recorded, market-based only from contracts.

Location-based CO2e is what each record stored (energy x grid-average intensity). Market-based
CO2e is a record's own instrument where it has one, else the zone's contractual factor (from
the market factor file) times the zone's remaining energy. A zone with remaining energy and no
factor makes the total "not available", naming the zones: never a grid average in disguise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from lowcarb.ledger import MarketFactor
from lowcarb.reporting.report._figures import Figures, Scope2, ZoneFactor

__all__ = ["scope2"]

_FIX = (
    "pass --market-factors FILE with a contractual factor (supplier-specific or residual mix) "
    "per zone"
)


def _zone_market(fig: Figures, factor: MarketFactor | None) -> float | None:
    """Market-based CO2e of one zone, or None when energy without an instrument has no factor."""
    if fig.records == fig.market_records:
        return fig.market_co2e_g
    if factor is None:
        return None
    rest_kwh = max(fig.energy_kwh - fig.market_energy_kwh, 0.0)
    return fig.market_co2e_g + rest_kwh * factor.intensity_g_per_kwh


def scope2(
    zone_source: Sequence[tuple[tuple[str | None, str | None], Figures]],
    factors: Mapping[str, MarketFactor],
    *,
    factors_source: str | None,
) -> Scope2:
    """Both Scope 2 figures from the period's figures per (zone, intensity source)."""
    by_zone: dict[str | None, Figures] = defaultdict(Figures)
    sources: dict[str | None, set[str]] = defaultdict(set)
    for (zone, source), fig in zone_source:
        by_zone[zone] = by_zone[zone] + fig
        if source is not None:
            sources[zone].add(source)
    zones = []
    missing: list[tuple[str, float]] = []
    covered_kwh = 0.0
    total_kwh = 0.0
    location = 0.0
    for zone, fig in by_zone.items():
        factor = factors.get(zone) if zone is not None else None
        market = _zone_market(fig, factor)
        total_kwh += fig.energy_kwh
        location += fig.co2e_g
        covered_kwh += fig.energy_kwh if market is not None else fig.market_energy_kwh
        if market is None:
            missing.append((zone or "(no zone)", fig.energy_kwh - fig.market_energy_kwh))
        zones.append(
            ZoneFactor(
                zone=zone,
                figures=fig,
                location_sources=tuple(sorted(sources.get(zone, ()))),
                market_intensity_g_per_kwh=factor.intensity_g_per_kwh if factor else None,
                market_source=factor.source if factor else None,
                market_co2e_g=market,
            )
        )
    zones.sort(key=lambda z: (-z.figures.co2e_g, z.zone is None, z.zone or ""))
    market_total: float | None = None
    reason: str | None = None
    if not by_zone:
        reason = "no record with energy in this period"
    elif missing:
        missing.sort(key=lambda m: -m[1])
        names = ", ".join(f"{z} ({kwh:.4g} kWh)" for z, kwh in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        if not factors and not any(z.figures.market_records for z in zones):
            reason = f"no record carries a contractual instrument and no factors were given; {_FIX}"
        else:
            reason = f"no contractual factor for zone(s) {names}{more}; {_FIX}"
    else:
        market_total = sum(z.market_co2e_g or 0.0 for z in zones)
    return Scope2(
        location_co2e_g=location,
        market_co2e_g=market_total,
        market_reason=reason,
        market_covered_share=covered_kwh / total_kwh if total_kwh > 0 else None,
        zones=tuple(zones),
        market_factors_source=factors_source,
    )
