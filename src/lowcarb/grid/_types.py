"""Grid carbon-intensity types and the footprint they price."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lowcarb.energy import J_PER_KWH, Measurement
from lowcarb.errors import InvalidValueError

__all__ = ["Footprint", "Intensity", "IntensityKind", "Scope", "Signal", "price"]

#: ``average``: mean emissions of the consumed mix; ``marginal``: of the marginal generator (MOER).
Signal = Literal["average", "marginal"]
#: ``lifecycle``: includes upstream (LCA) emissions; ``direct``: combustion only.
Scope = Literal["lifecycle", "direct"]
#: How the value was obtained: ``measured`` (a reported real-time/historical value),
#: ``estimated`` (an annual average, a profile, a provider's estimate) or ``forecast``.
IntensityKind = Literal["measured", "estimated", "forecast"]


@dataclass(frozen=True, slots=True)
class Intensity:
    """Carbon intensity of one zone's electricity.

    Attributes:
        zone: Electricity Maps zone id (``"DE"``, ``"US-CAL-CISO"``) or ``"WORLD"``.
        intensity_g_per_kwh: gCO2e per kWh.
        source: Where the number comes from, e.g. ``"static:ember-2023"``,
            ``"trace:em2022_lca_hourly_123zones.csv"``, ``"electricitymaps:v3/latest"``.
        signal: ``average`` or ``marginal``.
        scope: ``lifecycle`` or ``direct``.
        kind: ``measured``, ``estimated`` or ``forecast``.
        time: The hour the value applies to (UTC), or None for an annual figure.
        year: The year of an annual figure, else None.
        note: Caveats, e.g. ``"no zone configured: world average"``.
    """

    zone: str
    intensity_g_per_kwh: float
    source: str
    signal: Signal = "average"
    scope: Scope = "lifecycle"
    kind: IntensityKind = "estimated"
    time: datetime | None = None
    year: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        v = self.intensity_g_per_kwh
        if not v >= 0:  # also rejects NaN
            raise InvalidValueError(
                f"carbon intensity must be a non-negative number of gCO2e/kWh, got {v!r}"
            )


@dataclass(frozen=True, slots=True)
class Footprint:
    """CO2e of a measurement: energy x PUE x grid intensity.

    Attributes:
        measurement: The IT energy measured at the devices.
        pue: Power usage effectiveness of the facility (>= 1.0).
        intensity: The grid intensity used.
    """

    measurement: Measurement
    pue: float
    intensity: Intensity

    @property
    def it_energy_kwh(self) -> float:
        """Energy at the devices, kWh (before PUE)."""
        return self.measurement.energy_kwh

    @property
    def energy_kwh(self) -> float:
        """Facility energy, kWh: device energy x PUE."""
        return self.measurement.energy_j * self.pue / J_PER_KWH

    @property
    def co2e_g(self) -> float:
        """Location-based CO2e in grams."""
        return self.energy_kwh * self.intensity.intensity_g_per_kwh


def price(measurement: Measurement, *, intensity: Intensity, pue: float = 1.0) -> Footprint:
    """Price a measurement into a footprint.

    Args:
        measurement: Device energy.
        intensity: Grid intensity to apply.
        pue: Facility power usage effectiveness, >= 1.0.

    Raises:
        InvalidValueError: ``pue`` below 1 or not a number.
    """
    if not pue >= 1.0:
        raise InvalidValueError(f"PUE must be a number >= 1.0, got {pue!r} (1.0 = no overhead)")
    return Footprint(measurement=measurement, pue=pue, intensity=intensity)
