"""Measurement types: joules per component, each with its provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["J_PER_KWH", "ComponentEnergy", "Measurement", "Method"]

#: Joules in one kilowatt-hour.
J_PER_KWH = 3_600_000.0

#: ``measured``: read from a hardware energy counter (RAPL, NVML total-energy) or integrated from
#: hardware power samples. ``estimated``: computed by a model (CPU utilisation x spec, W per GB).
Method = Literal["measured", "estimated"]


@dataclass(frozen=True, slots=True)
class ComponentEnergy:
    """Energy of one component over one window.

    Attributes:
        name: Component name, e.g. ``"cpu"``, ``"dram"``, ``"ram"``, ``"gpu:0"``.
        energy_j: Energy in joules (>= 0).
        method: ``"measured"`` (hardware counter) or ``"estimated"`` (a model).
        source: Which sensor or model produced the figure, e.g. ``"rapl:intel-rapl:0"``,
            ``"nvml:total_energy_consumption"``, ``"model:cpu-linear(ccf-2021)"``.
        detail: Free-form extra provenance (coefficients used, fallbacks taken).
    """

    name: str
    energy_j: float
    method: Method
    source: str
    detail: str = ""

    @property
    def energy_kwh(self) -> float:
        """Energy in kilowatt-hours."""
        return self.energy_j / J_PER_KWH


@dataclass(frozen=True, slots=True)
class Measurement:
    """Energy of one named window, split by component.

    Attributes:
        name: Window name (``"run"`` for a whole tracker, or the nested window's name).
        started_at: Wall-clock start, timezone-aware UTC.
        duration_s: Window length in seconds (monotonic clock).
        components: Per-component energy with provenance.
        notes: Human-readable caveats (fallbacks taken, meters that failed mid-run).
    """

    name: str
    started_at: datetime
    duration_s: float
    components: tuple[ComponentEnergy, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def energy_j(self) -> float:
        """Total energy in joules over all components."""
        return sum(c.energy_j for c in self.components)

    @property
    def energy_kwh(self) -> float:
        """Total energy in kilowatt-hours."""
        return self.energy_j / J_PER_KWH

    @property
    def method(self) -> Method:
        """``measured`` only when every component was measured."""
        if self.components and all(c.method == "measured" for c in self.components):
            return "measured"
        return "estimated"
