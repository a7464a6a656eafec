"""Timestamped samples -> a gap-free hourly UTC series, each cleaning step recorded in its notes.

Shared by trace files and live providers, so both clean data the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from lowcarb.errors import TraceFormatError
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._types import IntensityKind, Scope

__all__ = ["DEFAULT_MAX_GAP_H", "hourly"]

#: Longest run of missing hours filled by interpolation; longer gaps are an error.
DEFAULT_MAX_GAP_H = 6


def hourly(
    hours: npt.NDArray[np.int64],
    samples: npt.NDArray[np.float64],
    *,
    zone: str,
    source: str,
    scope: Scope,
    notes: tuple[str, ...],
    max_gap_h: int,
    where: str,
    kind: IntensityKind = "measured",
    estimated: npt.NDArray[np.bool_] | None = None,
) -> IntensitySeries:
    """Average samples per UTC hour, trim empty ends, interpolate short interior gaps.

    Args:
        hours: Epoch hours (seconds // 3600) of each sample, sorted.
        samples: gCO2e/kWh per sample; NaN means no value.
        zone: Zone id of the series.
        source: Provenance label of the series.
        scope: ``lifecycle`` or ``direct``.
        notes: Notes so far; the cleaning steps are appended.
        max_gap_h: Longest run of missing hours interpolated.
        where: Names the data in error messages.
        kind: Kind of the series.
        estimated: Per sample, True where the source flagged it estimated (None: no flags).

    Raises:
        TraceFormatError: No numeric value, or a gap longer than ``max_gap_h`` hours.
    """
    ok = np.isfinite(samples)
    if not ok.any():
        raise TraceFormatError(f"{where}: no numeric values")
    first, last = int(hours[ok].min()), int(hours[ok].max())
    n = last - first + 1
    idx = hours[ok] - first
    sums = np.bincount(idx, weights=samples[ok], minlength=n)
    counts = np.bincount(idx, minlength=n)
    values = np.full(n, np.nan)
    np.divide(sums, counts, out=values, where=counts > 0)
    out_notes = list(notes)
    blank = int((~ok).sum())
    if blank:
        # Empty/NaN cells mean "no value" (what pandas writes for missing data); say how many,
        # so a column that is mostly blank is never mistaken for a complete one.
        out_notes.append(f"{blank} empty or NaN value(s) treated as missing")
    missing = counts == 0
    if missing.any():
        # Runs of missing hours: start indices and lengths.
        edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        longest = int((ends - starts).max())
        if longest > max_gap_h:
            k = int(np.argmax(ends - starts))
            t0 = datetime.fromtimestamp((first + int(starts[k])) * 3600, UTC)
            raise TraceFormatError(
                f"{where}: {longest} consecutive hours missing from {t0.isoformat()} "
                f"(at most {max_gap_h} are interpolated); fill or cut the trace"
            )
        grid = np.arange(n)
        values[missing] = np.interp(grid[missing], grid[~missing], values[~missing])
        out_notes.append(f"{int(missing.sum())} missing hour(s) linearly interpolated")
    hour_flags = None
    if estimated is not None:
        # An hour averaged from several samples is estimated if any of them was.
        hour_flags = np.bincount(idx, weights=estimated[ok].astype(np.float64), minlength=n) > 0
        hour_flags |= missing  # interpolated by lowcarb: not a measurement either
    start = datetime.fromtimestamp(first * 3600, UTC)
    return IntensitySeries(
        zone=zone,
        start=start,
        values_g_per_kwh=values,
        source=source,
        scope=scope,
        kind=kind,
        notes=tuple(out_notes),
        estimated=hour_flags,
    )
