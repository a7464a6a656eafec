"""The figures of a report: sums with their provenance, and Scope 2 both ways.

Every figure is read from the ledger as recorded and summed by the database; nothing here is
recomputed from a model. ``measured_kwh`` and ``estimated_kwh`` split facility energy by the
provenance of each component's reading (a hardware counter, or a power model).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["Figures", "GroupRow", "Scope2", "SeriesPoint", "ZoneFactor"]


@dataclass(frozen=True, slots=True)
class Figures:
    """Sums over a set of records (records with a footprint; corrected ones replaced).

    Attributes:
        records: Records summed.
        energy_kwh: Facility energy (device energy x PUE), kWh.
        co2e_g: Scope 2 location-based CO2e (grid intensity), grams.
        measured_kwh: Facility energy whose device readings were measured (hardware counters).
        estimated_kwh: Facility energy whose device readings were estimated (power models).
        market_records: Records that carry their own contractual instrument.
        market_energy_kwh: Their energy, kWh.
        market_co2e_g: Their market-based CO2e, grams (only these records).
    """

    records: int = 0
    energy_kwh: float = 0.0
    co2e_g: float = 0.0
    measured_kwh: float = 0.0
    estimated_kwh: float = 0.0
    market_records: int = 0
    market_energy_kwh: float = 0.0
    market_co2e_g: float = 0.0

    @property
    def measured_share(self) -> float | None:
        """Share of energy from measured readings, 0..1 (None without energy)."""
        total = self.measured_kwh + self.estimated_kwh
        return self.measured_kwh / total if total > 0 else None

    @property
    def intensity_g_per_kwh(self) -> float | None:
        """Energy-weighted mean location-based intensity, gCO2e/kWh (None without energy)."""
        return self.co2e_g / self.energy_kwh if self.energy_kwh > 0 else None

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.records + other.records,
            self.energy_kwh + other.energy_kwh,
            self.co2e_g + other.co2e_g,
            self.measured_kwh + other.measured_kwh,
            self.estimated_kwh + other.estimated_kwh,
            self.market_records + other.market_records,
            self.market_energy_kwh + other.market_energy_kwh,
            self.market_co2e_g + other.market_co2e_g,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "records": self.records,
            "energy_kwh": self.energy_kwh,
            "co2e_g": self.co2e_g,
            "measured_kwh": self.measured_kwh,
            "estimated_kwh": self.estimated_kwh,
            "measured_share": self.measured_share,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "market_records": self.market_records,
            "market_energy_kwh": self.market_energy_kwh,
            "market_co2e_g": self.market_co2e_g,
        }


@dataclass(frozen=True, slots=True)
class GroupRow:
    """Figures of one group (a team, project, model or kind); ``key`` None: not attributed."""

    key: str | None
    figures: Figures

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"key": self.key, **self.figures.to_dict()}


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """Figures of one day or ISO week (``start``: its first day, UTC), total and per team."""

    start: date
    label: str
    figures: Figures
    co2e_g_by_team: tuple[tuple[str | None, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "start": self.start.isoformat(),
            "label": self.label,
            **self.figures.to_dict(),
            "co2e_g_by_team": [{"team": t, "co2e_g": v} for t, v in self.co2e_g_by_team],
        }


@dataclass(frozen=True, slots=True)
class ZoneFactor:
    """Scope 2 factors of one grid zone.

    Attributes:
        zone: Grid zone id as recorded.
        figures: What was recorded there.
        location_sources: Intensity sources the records were priced with.
        market_intensity_g_per_kwh: Contractual factor applied to records without their own
            instrument (from the market factor file), or None.
        market_source: Where that factor comes from (supplier, residual mix, ...), or None.
        market_co2e_g: Market-based CO2e of the zone (instruments plus the factor), or None
            when records without an instrument have no factor.
    """

    zone: str | None
    figures: Figures
    location_sources: tuple[str, ...]
    market_intensity_g_per_kwh: float | None
    market_source: str | None
    market_co2e_g: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "zone": self.zone,
            **self.figures.to_dict(),
            "location_intensity_g_per_kwh": self.figures.intensity_g_per_kwh,
            "location_sources": list(self.location_sources),
            "market_intensity_g_per_kwh": self.market_intensity_g_per_kwh,
            "market_source": self.market_source,
            "market_co2e_g": self.market_co2e_g,
        }


@dataclass(frozen=True, slots=True)
class Scope2:
    """GHG Protocol Scope 2, both methods (WRI/WBCSD Scope 2 Guidance, 2015, ch. 4 and 6).

    Attributes:
        location_co2e_g: Location-based: energy x grid-average intensity, grams.
        market_co2e_g: Market-based, grams; None when a contractual factor is missing for some
            energy (never filled in with a grid average: see ``market_reason``).
        market_reason: Why ``market_co2e_g`` is not available, else None.
        market_covered_share: Share of energy with a contractual factor (own or from the file).
        zones: Per zone: factors, sources and figures.
        market_factors_source: The market factor file, or None.
    """

    location_co2e_g: float
    market_co2e_g: float | None
    market_reason: str | None
    market_covered_share: float | None
    zones: tuple[ZoneFactor, ...]
    market_factors_source: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "location_co2e_g": self.location_co2e_g,
            "market_co2e_g": self.market_co2e_g,
            "market_available": self.market_co2e_g is not None,
            "market_reason": self.market_reason,
            "market_covered_share": self.market_covered_share,
            "market_factors_source": self.market_factors_source,
            "zones": [z.to_dict() for z in self.zones],
        }
