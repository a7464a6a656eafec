"""The embedded zone x month x hour-of-day profile table: the offline forecast fallback.

``lowcarb/grid/data/profiles.csv`` holds, for each zone, the mean 2022 intensity of every
(month, UTC hour of day) cell, built by ``scripts/build_profiles.py`` from Electricity Maps data
(ODbL 1.0; see ``data/ATTRIBUTION.md``). It knows the typical shape of a day in a given month, not
the weather of any particular day: a fallback that works offline, not a substitute for a model
fitted on recent data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from lowcarb.grid._forecast import FloatArray, Forecaster
from lowcarb.grid._profile_table import PROFILE_NOTE, PROFILE_SOURCE, profile_values, profile_zones
from lowcarb.grid._series import IntensitySeries, floor_hour

__all__ = ["PROFILE_SOURCE", "ProfileForecaster", "profile_series", "profile_zones"]  # re-exported

_HOUR = timedelta(hours=1)


def profile_series(zone: str, *, start: datetime, hours: int) -> IntensitySeries:
    """The embedded profile's values for ``hours`` hours from ``floor_hour(start)``.

    Args:
        zone: Zone id or cloud region.
        start: First hour (timezone-aware).
        hours: Number of hourly values.

    Returns:
        A ``kind="estimated"`` series whose source is :data:`PROFILE_SOURCE`.

    Raises:
        UnknownZoneError: Unknown zone.
        ForecastError: A known zone without an embedded profile (e.g. WORLD).
    """
    zone_id, first, values = profile_values(zone, start=floor_hour(start), hours=hours)
    return IntensitySeries(
        zone=zone_id,
        start=first,
        values_g_per_kwh=np.array(values, dtype=np.float64),
        source=PROFILE_SOURCE,
        kind="estimated",
        notes=(PROFILE_NOTE,),
    )


@dataclass(frozen=True)
class ProfileForecaster(Forecaster):
    """Forecast from the embedded month x hour-of-day table; needs no history (offline default).

    The history passed in only names the zone; its values are ignored.
    """

    name: str = "profile"
    min_history_h: int = 0

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        series = profile_series(past.zone, start=first, hours=steps)
        return series.values_g_per_kwh, "profile(electricitymaps-2022)"
