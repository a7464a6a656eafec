"""Hardware spec table: accelerators and CPUs with their power figures and sources.

Owned by the estimate work; the CPU estimation model uses :func:`match_cpu_brand` and the
unknown-CPU per-vCPU coefficients below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "UNKNOWN_CPU_COEFFICIENTS_SOURCE",
    "UNKNOWN_CPU_MAX_W_PER_VCPU",
    "UNKNOWN_CPU_MIN_W_PER_VCPU",
    "HardwareKind",
    "HardwareSpec",
    "known_hardware",
    "lookup_hardware",
    "match_cpu_brand",
]

HardwareKind = Literal["gpu", "tpu", "cpu"]

# Cloud Carbon Footprint, "Methodology: Compute" (2021, coefficients averaged over the
# microarchitectures AWS uses; from SPECpower_ssj2008 results): per-vCPU power at 0% and 100% load.
UNKNOWN_CPU_MIN_W_PER_VCPU = 0.74
UNKNOWN_CPU_MAX_W_PER_VCPU = 3.5
UNKNOWN_CPU_COEFFICIENTS_SOURCE = (
    "Cloud Carbon Footprint methodology (2021), AWS average min/max watts per vCPU "
    "derived from SPECpower_ssj2008"
)


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


def known_hardware() -> tuple[HardwareSpec, ...]:
    """All specs in the table."""
    raise NotImplementedError  # filled in by the estimate work


def lookup_hardware(name: str) -> HardwareSpec:
    """Find a spec by name or alias (case-insensitive). Raises UnknownHardwareError."""
    raise NotImplementedError  # filled in by the estimate work


def match_cpu_brand(brand: str) -> HardwareSpec | None:
    """Match a ``/proc/cpuinfo`` model name (e.g. ``"AMD EPYC 7763 64-Core Processor"``)."""
    raise NotImplementedError  # filled in by the estimate work
