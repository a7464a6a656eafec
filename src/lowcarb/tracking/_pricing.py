"""The intensity a block of work is priced at: that of the hours it ran.

In order, each labelled in the :class:`~lowcarb.grid.Intensity` it returns:

1. a live provider's history for those hours, when a source is configured;
2. the shipped month-by-hour profile of the zone (:func:`lowcarb.grid.profile_values`);
3. the zone's annual factor (:func:`lowcarb.grid.static_intensity`), only as the last resort
   (no zone configured, or a zone without a profile).

Hours are weighted by how much of the run fell in each, which assumes the energy was drawn evenly
over the run (the meters give a total, not a time series); the note says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lowcarb.errors import LowcarbError
from lowcarb.grid import (
    PROFILE_NOTE,
    PROFILE_SOURCE,
    Intensity,
    profile_values,
    profile_zones,
    static_intensity,
)

if TYPE_CHECKING:  # numpy-backed; loaded on first use, so importing lowcarb stays light
    from lowcarb.grid import IntensitySeries, IntensitySource

__all__ = ["hour_weights", "intensity_for_hours"]

log = logging.getLogger(__name__)
_HOUR = timedelta(hours=1)
_EVENLY = "energy assumed drawn evenly over the run"


def hour_weights(start: datetime, duration_s: float) -> tuple[datetime, tuple[float, ...]]:
    """The first UTC hour of a run and the share of the run in each hour from it (sums to 1).

    A run of zero duration counts wholly in the hour it started.
    """
    first = start.replace(minute=0, second=0, microsecond=0)
    if duration_s <= 0:
        return first, (1.0,)
    end = start + timedelta(seconds=duration_s)
    hours = max(1, -(-(end - first) // _HOUR))  # ceiling division of timedeltas
    edges = [first + i * _HOUR for i in range(hours + 1)]
    seconds = [
        max(0.0, (min(end, edges[i + 1]) - max(start, edges[i])).total_seconds())
        for i in range(hours)
    ]
    total = sum(seconds)
    return first, tuple(s / total for s in seconds)


def _weighted(series: IntensitySeries, weights: Sequence[float], *, hours: str) -> Intensity:
    values = series.values_g_per_kwh
    if len(values) != len(weights):
        raise LowcarbError(
            f"{series.source} gave {len(values)} hours for zone {series.zone!r}, "
            f"{len(weights)} were needed"
        )
    notes = (*series.notes, f"weighted over {hours}; {_EVENLY}")
    return Intensity(
        zone=series.zone,
        intensity_g_per_kwh=sum(float(v) * w for v, w in zip(values, weights, strict=True)),
        source=series.source,
        signal=series.signal,
        scope=series.scope,
        kind=series.kind if series.estimated is None or not series.estimated.any() else "estimated",
        time=series.start,
        note="; ".join(notes),
    )


def intensity_for_hours(
    zone: str | None,
    *,
    start: datetime,
    duration_s: float,
    source: IntensitySource | None = None,
) -> Intensity:
    """The intensity of ``zone`` over the hours ``[start, start + duration_s)``.

    Args:
        zone: Zone id or cloud region; None prices at the labelled world average.
        start: When the work started (timezone-aware).
        duration_s: How long it ran.
        source: A live provider whose history to use first.

    Raises:
        UnknownZoneError: An unknown zone.
    """
    annual = static_intensity(zone)  # validates the zone and resolves a cloud region
    if zone is None or not zone.strip():
        return annual
    first, weights = hour_weights(start, duration_s)
    count = len(weights)
    hours = f"the {count} UTC hour{'s' if count != 1 else ''} from {first.isoformat()}"
    fallback_note = ""
    if source is not None:
        try:
            series = source.history(annual.zone, start=first, end=first + count * _HOUR)
            return _weighted(series, weights, hours=hours)
        except LowcarbError as exc:
            log.warning("live history for %s unavailable (%s); using the profile", zone, exc)
            fallback_note = f"{source.name} history unavailable ({exc}); "
    if annual.zone in profile_zones():
        # The plain-Python table, not profile_series: pricing every run must not load numpy.
        zone_id, first, values = profile_values(annual.zone, start=first, hours=count)
        note = f"{fallback_note}{PROFILE_NOTE}; weighted over {hours}; {_EVENLY}"
        return Intensity(
            zone=zone_id,
            intensity_g_per_kwh=sum(v * w for v, w in zip(values, weights, strict=True)),
            source=PROFILE_SOURCE,
            kind="estimated",
            time=first,
            note=f"{annual.note}; {note}" if annual.note else note,
        )
    note = f"no hourly profile for zone {annual.zone!r}: annual factor"
    return Intensity(
        zone=annual.zone,
        intensity_g_per_kwh=annual.intensity_g_per_kwh,
        source=annual.source,
        signal=annual.signal,
        scope=annual.scope,
        kind=annual.kind,
        year=annual.year,
        note="; ".join(n for n in (annual.note, fallback_note + note) if n),
    )
