"""Estimate the energy and CO2e of a job that is described, not run.

::

    energy_kwh = count x power_w x utilization x hours x PUE / 1000
    co2e_kg    = energy_kwh x intensity_g_per_kwh / 1000

This is the arithmetic of Patterson et al. 2021 (Table 4) and Luccioni et al. 2023 (BLOOM): given
the same inputs it reproduces their published figures (see ``tests/energy/test_estimate_*.py``).
Every result is labelled ``method="estimated"`` and lists the assumptions it rests on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from lowcarb.energy._hardware_lookup import lookup_hardware
from lowcarb.energy._hardware_spec import HardwareSpec
from lowcarb.errors import InvalidValueError, UsageError

__all__ = [
    "EMBODIED_LIFETIME_YEARS",
    "EMBODIED_USAGE_FRACTION",
    "EstimateResult",
    "IntensityLike",
    "IntensityLookup",
    "estimate",
]

HOURS_PER_YEAR = 8760.0
# Luccioni et al. 2023 (JMLR 24(253)), embodied emissions: hardware amortised linearly over a
# 6-year replacement cycle at 85% average usage (their Jean Zay assumptions). With 150 kgCO2e per
# A100 this gives their 3.64 tCO2e GPU share for BLOOM's 1,082,990 GPU-hours.
#: No grid's average or marginal intensity comes near this (lignite plants emit about 1,100 g/kWh).
MAX_INTENSITY_G_PER_KWH = 5000.0
EMBODIED_LIFETIME_YEARS = 6.0
EMBODIED_USAGE_FRACTION = 0.85


class IntensityLike(Protocol):
    """What a zone lookup returns (``lowcarb.grid.Intensity`` satisfies it)."""

    @property
    def intensity_g_per_kwh(self) -> float:
        """gCO2e per kWh."""
        ...

    @property
    def source(self) -> str:
        """Provenance of the figure."""
        ...


#: zone (or None for the world average) -> intensity. ``lowcarb.grid.static_intensity`` fits.
IntensityLookup = Callable[[str | None], IntensityLike]


@dataclass(frozen=True, slots=True)
class EstimateResult:
    """Energy and CO2e of a described job.

    Attributes:
        energy_kwh: Facility energy, kWh (device energy x PUE).
        co2e_kg: Operational (location-based) CO2e, kg: ``energy_kwh`` x intensity.
        power_w_per_device: Average power per device used, watts (before utilization).
        pue: Power usage effectiveness applied (>= 1).
        intensity_g_per_kwh: Grid carbon intensity applied, gCO2e/kWh.
        intensity_source: Where the intensity came from (``"given"`` or the lookup's source).
        embodied_co2e_kg: Amortised manufacturing CO2e, kg, when requested and a cited figure
            exists; else None.
        hardware: Canonical spec name, or None when only ``power_w`` was given.
        count: Number of devices.
        hours: Wall-clock hours each device ran.
        utilization: Fraction of ``power_w_per_device`` drawn on average (0..1).
        zone: Zone the intensity was looked up for (as the lookup resolved it), else None.
        power_source: Where ``power_w_per_device`` came from.
        method: Always ``"estimated"``: nothing here was measured.
        assumptions: Human-readable list of every assumption behind the figures.
    """

    energy_kwh: float
    co2e_kg: float
    power_w_per_device: float
    pue: float
    intensity_g_per_kwh: float
    intensity_source: str
    embodied_co2e_kg: float | None
    hardware: str | None
    count: int
    hours: float
    utilization: float
    zone: str | None
    power_source: str
    method: Literal["estimated"] = "estimated"
    assumptions: tuple[str, ...] = ()

    @property
    def it_energy_kwh(self) -> float:
        """Energy at the devices, kWh (before PUE)."""
        return self.energy_kwh / self.pue

    @property
    def total_co2e_kg(self) -> float:
        """Operational plus embodied CO2e, kg (embodied counts 0 when absent)."""
        return self.co2e_kg + (self.embodied_co2e_kg or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the ``lowcarb estimate --json`` object)."""
        return {
            "energy_kwh": self.energy_kwh,
            "co2e_kg": self.co2e_kg,
            "power_w_per_device": self.power_w_per_device,
            "pue": self.pue,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "intensity_source": self.intensity_source,
            "zone": self.zone,
            "hardware": self.hardware,
            "count": self.count,
            "hours": self.hours,
            "utilization": self.utilization,
            "it_energy_kwh": self.it_energy_kwh,
            "embodied_co2e_kg": self.embodied_co2e_kg,
            "total_co2e_kg": self.total_co2e_kg,
            "power_source": self.power_source,
            "method": self.method,
            "assumptions": list(self.assumptions),
        }


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _non_negative(name: str, value: object, unit: str) -> float:
    number = _finite(name, value)
    if number < 0:
        raise InvalidValueError(f"{name} must be >= 0 {unit}, got {value!r}")
    return number


def _validate_count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int | float):
        raise InvalidValueError(f"count must be a whole number >= 1, got {count!r}")
    if not (math.isfinite(count) and count >= 1 and float(count).is_integer()):
        raise InvalidValueError(f"count must be a whole number >= 1, got {count!r}")
    return int(count)


def _device_power(spec: HardwareSpec | None, power_w: float | None) -> tuple[float, str, str]:
    """Return (watts, short source, assumption sentence)."""
    if power_w is not None:
        what = f" for {spec.name}" if spec is not None else ""
        return power_w, "given", f"power per device: {power_w:g} W given{what}"
    if spec is None:
        raise UsageError("give a hardware name (see --list-hardware) or --power-w")
    if spec.typical_power_w is not None:
        return (
            spec.typical_power_w,
            f"typical:{spec.name}",
            f"power per device: {spec.typical_power_w:g} W measured average for {spec.name} "
            f"({spec.typical_power_source}); its TDP is {spec.tdp_w:g} W",
        )
    host = "" if spec.kind == "cpu" else "; host CPU, memory and network are not included"
    return (
        spec.tdp_w,
        f"tdp:{spec.name}",
        f"power per device: {spec.tdp_w:g} W = TDP of {spec.name} ({spec.source}), an upper "
        f"bound on sustained average draw{host}",
    )


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
    """Estimate the energy and CO2e of ``count`` devices running ``hours``.

    Energy = count x power x utilization x hours x PUE. Power per device is ``power_w`` when given,
    else the spec's published measured average (TPUs) or its TDP. The grid intensity is
    ``intensity_g_per_kwh`` when given, else ``intensity_lookup(zone)`` (with ``zone=None`` the
    lookup's labelled world average). The energy layer has no zone table of its own:
    :func:`lowcarb.estimate` passes ``lowcarb.grid.static_intensity``.

    Args:
        hardware: Spec name or alias (see ``known_hardware()``), or None with ``power_w``.
        count: Number of devices, >= 1.
        hours: Hours each device ran, >= 0.
        power_w: Average power per device in watts, overriding the spec.
        utilization: Fraction of that power drawn on average, 0..1 (power scales linearly).
        pue: Facility power usage effectiveness, >= 1.
        intensity_g_per_kwh: Grid intensity, gCO2e/kWh, >= 0 (excludes ``zone``).
        zone: Zone id or cloud region to look the intensity up for (excludes the above).
        embodied: Also amortise the device's manufacturing emissions over the job.
        intensity_lookup: Zone -> intensity (e.g. ``lowcarb.grid.static_intensity``); needed
            unless ``intensity_g_per_kwh`` is given.
        embodied_lifetime_years: Service life for amortisation (default 6, Luccioni et al. 2023).
        embodied_usage_fraction: Average usage over that life, 0..1 (default 0.85, same source).

    Returns:
        The estimate, ``method="estimated"``, with its assumptions.

    Raises:
        UsageError: Neither ``hardware`` nor ``power_w``; both ``intensity_g_per_kwh`` and ``zone``.
        InvalidValueError: A negative, non-finite or out-of-range number (quoted).
        UnknownHardwareError: ``hardware`` is not in the table.
        UnknownZoneError: From the lookup, for an unknown zone.
    """
    if hardware is None and power_w is None:
        raise UsageError(
            "give a hardware name (see --list-hardware) or the power per device (--power-w)"
        )
    if intensity_g_per_kwh is not None and zone is not None:
        raise UsageError("give either a grid intensity or a zone, not both")
    n = _validate_count(count)
    run_hours = _non_negative("hours", hours, "h")
    watts = None if power_w is None else _non_negative("power_w", power_w, "W")
    util = _finite("utilization", utilization)
    if not 0.0 <= util <= 1.0:
        raise InvalidValueError(f"utilization must be between 0 and 1, got {utilization!r}")
    facility = _finite("pue", pue)
    if facility < 1.0:
        raise InvalidValueError(f"PUE must be >= 1.0 (1.0 = no facility overhead), got {pue!r}")
    life = _finite("embodied_lifetime_years", embodied_lifetime_years)
    if life <= 0:
        raise InvalidValueError(f"embodied_lifetime_years must be > 0, got {life!r}")
    usage = _finite("embodied_usage_fraction", embodied_usage_fraction)
    if not 0.0 < usage <= 1.0:
        raise InvalidValueError(
            f"embodied_usage_fraction must be in (0, 1], got {embodied_usage_fraction!r}"
        )
    spec = lookup_hardware(hardware) if hardware is not None else None

    device_w, power_source, power_note = _device_power(spec, watts)
    assumptions = [power_note]
    if util != 1.0:
        assumptions.append(
            f"utilization {util:g}: average draw {device_w * util:g} W per device "
            "(linear scaling, no idle floor)"
        )
    assumptions.append(
        f"PUE {facility:g}"
        + (" (no facility overhead; pass a PUE to add it)" if facility == 1.0 else "")
    )

    resolved_zone: str | None = None
    if intensity_g_per_kwh is not None:
        grams = _non_negative("intensity_g_per_kwh", intensity_g_per_kwh, "gCO2e/kWh")
        if grams > MAX_INTENSITY_G_PER_KWH:
            raise InvalidValueError(
                f"grid intensity {intensity_g_per_kwh!r} gCO2e/kWh is above "
                f"{MAX_INTENSITY_G_PER_KWH:,.0f}, more than any grid (coal plants emit about "
                "1,000): check the unit (grams per kWh)"
            )
        intensity_source = "given"
        assumptions.append(f"grid intensity {grams:g} gCO2e/kWh given")
    else:
        if intensity_lookup is None:
            raise UsageError(
                "pricing a zone needs a zone table: give intensity_g_per_kwh, or an "
                "intensity_lookup such as lowcarb.grid.static_intensity (lowcarb.estimate "
                "passes it)"
            )
        found = intensity_lookup(zone)
        grams = _non_negative("intensity_g_per_kwh", found.intensity_g_per_kwh, "gCO2e/kWh")
        intensity_source = found.source
        resolved_zone = str(getattr(found, "zone", "") or zone or "") or None
        where = f"zone {zone!r}" if zone is not None else "no zone given: world average"
        note = str(getattr(found, "note", "") or "")
        assumptions.append(
            f"grid intensity {grams:g} gCO2e/kWh ({where}; {intensity_source})"
            + (f"; {note}" if note else "")
        )

    energy_kwh = n * device_w * util * run_hours * facility / 1000.0
    co2e_kg = energy_kwh * grams / 1000.0

    embodied_kg: float | None = None
    if embodied:
        if spec is not None and spec.embodied_kg is not None:
            share = run_hours / (life * HOURS_PER_YEAR * usage)
            embodied_kg = n * spec.embodied_kg * share
            assumptions.append(
                f"embodied: {spec.embodied_kg:g} kgCO2e per {spec.name} ({spec.embodied_source}), "
                f"amortised linearly over {life:g} years at {usage:.0%} usage"
            )
        else:
            what = spec.name if spec is not None else "a device given only by --power-w"
            assumptions.append(f"embodied: no cited manufacturing figure for {what}; not included")

    return EstimateResult(
        energy_kwh=energy_kwh,
        co2e_kg=co2e_kg,
        power_w_per_device=device_w,
        pue=facility,
        intensity_g_per_kwh=grams,
        intensity_source=intensity_source,
        embodied_co2e_kg=embodied_kg,
        hardware=spec.name if spec is not None else None,
        count=n,
        hours=run_hours,
        utilization=util,
        zone=resolved_zone,
        power_source=power_source,
        assumptions=tuple(assumptions),
    )
