"""lowcarb: carbon-aware MLOps.

Measure energy and CO2e honestly (every figure says measured or estimated, and by what), keep a
tamper-evident ledger of it, and act on it.

    from lowcarb import Tracker

    with Tracker(zone="DE") as t:
        train()
    print(t.footprint.co2e_g)
"""

from __future__ import annotations

from lowcarb.energy import Measurement
from lowcarb.grid import Footprint
from lowcarb.tracking import Tracker, estimate, track

__all__ = ["Footprint", "Measurement", "Tracker", "estimate", "track"]
