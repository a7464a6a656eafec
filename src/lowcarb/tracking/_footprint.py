"""The footprint as the JSON object of the ``lowcarb run`` contract."""

from __future__ import annotations

from typing import Any

from lowcarb.grid import Footprint

__all__ = ["footprint_to_dict"]


def footprint_to_dict(footprint: Footprint) -> dict[str, Any]:
    """The footprint as the JSON object of the ``lowcarb run`` contract (DESIGN.md)."""
    m = footprint.measurement
    i = footprint.intensity
    return {
        "duration_s": round(m.duration_s, 6),
        "energy_kwh": footprint.energy_kwh,
        "it_energy_kwh": footprint.it_energy_kwh,
        "co2e_g": footprint.co2e_g,
        "zone": i.zone,
        "intensity_g_per_kwh": i.intensity_g_per_kwh,
        "intensity_source": i.source,
        "intensity_kind": i.kind,
        "intensity_signal": i.signal,
        "intensity_scope": i.scope,
        "intensity_note": i.note,
        "pue": footprint.pue,
        "method": m.method,
        "components": [
            {
                "name": c.name,
                "energy_kwh": c.energy_kwh,
                "energy_j": c.energy_j,
                "method": c.method,
                "source": c.source,
                "detail": c.detail,
            }
            for c in m.components
        ],
        "started_at": m.started_at.isoformat(),
        "notes": list(m.notes),
    }
