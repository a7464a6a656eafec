"""One hardware model's power figures: :class:`HardwareSpec`, the row type of the spec table.

The table itself, with a citation per figure, is in :mod:`lowcarb.energy._hardware`; looking a name
up in it is :mod:`lowcarb.energy._hardware_lookup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["HardwareKind", "HardwareSpec"]

HardwareKind = Literal["gpu", "tpu", "cpu"]


@dataclass(frozen=True, slots=True)
class HardwareSpec:
    """One device model.

    Attributes:
        name: Canonical name, e.g. ``"V100-SXM2-32GB"``, ``"EPYC-7763"``.
        kind: ``gpu``, ``tpu`` or ``cpu``.
        tdp_w: Thermal design power (board power for accelerators), watts.
        source: Citation for ``tdp_w`` (vendor datasheet, paper, table).
        aliases: Other accepted names (case-insensitive).
        cores: Physical cores (CPUs), else None.
        threads: Hardware threads (CPUs), else None.
        idle_w: Idle power if published, else None.
        embodied_kg: Embodied (manufacturing) emissions per device, kgCO2e, if known.
        embodied_source: Citation for ``embodied_kg``.
        cpu_brand_patterns: Regular expressions matched against ``/proc/cpuinfo`` model names.
        typical_power_w: Published *measured* average power per device under training load,
            watts, where one exists (else None); preferred over ``tdp_w`` by ``estimate``.
        typical_power_source: Citation for ``typical_power_w``, including what it covers.
    """

    name: str
    kind: HardwareKind
    tdp_w: float
    source: str
    aliases: tuple[str, ...] = ()
    cores: int | None = None
    threads: int | None = None
    idle_w: float | None = None
    embodied_kg: float | None = None
    embodied_source: str = ""
    cpu_brand_patterns: tuple[str, ...] = ()
    typical_power_w: float | None = None
    typical_power_source: str = ""
