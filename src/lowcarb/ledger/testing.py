"""Helpers for tests of code that writes to the ledger: sample footprints and drafts.

An in-memory ledger needs no helper: ``open_ledger("sqlite://")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Footprint, Intensity
from lowcarb.ledger._record import Attribution, MarketFactor, RecordDraft, draft_from_footprint

__all__ = ["sample_draft", "sample_footprint"]


def sample_footprint(
    *,
    cpu_j: float = 3_600_000.0,
    gpu_j: float = 7_200_000.0,
    pue: float = 1.2,
    zone: str = "DE",
    intensity_g_per_kwh: float = 380.0,
    started_at: datetime = datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    duration_s: float = 3600.0,
) -> Footprint:
    """A footprint with a measured CPU and GPU component (defaults: 3 kWh IT, 3.6 kWh facility)."""
    measurement = Measurement(
        name="run",
        started_at=started_at,
        duration_s=duration_s,
        components=(
            ComponentEnergy("cpu", cpu_j, "measured", "rapl:intel-rapl:0"),
            ComponentEnergy("gpu:0", gpu_j, "measured", "nvml:total_energy_consumption"),
        ),
    )
    intensity = Intensity(zone=zone, intensity_g_per_kwh=intensity_g_per_kwh, source="test:fixed")
    return Footprint(measurement=measurement, pue=pue, intensity=intensity)


def sample_draft(
    *,
    team: str | None = "vision",
    project: str | None = "detector",
    model: str | None = "resnet50",
    kind: str = "run",
    metadata: Mapping[str, Any] | None = None,
    market: MarketFactor | None = None,
    **footprint: Any,
) -> RecordDraft:
    """A draft for :func:`sample_footprint` attributed to ``team``/``project``/``model``."""
    return draft_from_footprint(
        sample_footprint(**footprint),
        kind=kind,
        attribution=Attribution(team=team, project=project, model=model),
        metadata=metadata,
        market=market,
    )
