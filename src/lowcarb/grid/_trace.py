"""Trace files: the three CSV formats of DESIGN.md, read into hourly UTC series.

Formats (detected from the header):

* **Electricity Maps data-portal CSV**: ``Datetime (UTC)``, ``Zone Id``,
  ``Carbon Intensity gCO₂eq/kWh (direct)``, ``Carbon Intensity gCO₂eq/kWh (LCA)``, ...
* **wide CSV**: ``datetime_utc`` (or any first column named like a time) plus one column per zone.
* **two-column CSV**: ``time,value`` (any two column names; the first holds the timestamps).

Time zones: a timestamp with an offset (``+00:00``, ``Z``, ``+01:00``) is converted to UTC. A naive
timestamp is accepted only when its column name declares UTC (``Datetime (UTC)``, ``datetime_utc``,
``time_utc``) or the caller passes ``tz`` (an IANA name such as ``"UTC"`` or ``"Europe/Berlin"``);
otherwise the file is rejected, since reading it in a guessed zone would shift every value.

Cleaning, each step recorded in the series' ``notes``: rows sorted by time; samples averaged per UTC
hour (sub-hourly data resampled, duplicate timestamps merged); leading and trailing empty hours
trimmed; interior gaps of at most ``max_gap_h`` hours linearly interpolated. Longer gaps, negative
or non-numeric values and missing columns raise :class:`TraceFormatError` with a one-line message.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from lowcarb.errors import TraceFormatError
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._types import Scope

__all__ = ["TraceTable", "load_trace", "load_trace_table"]

#: Longest run of missing hours filled by interpolation; longer gaps are an error.
DEFAULT_MAX_GAP_H = 6
_EM_TIME = "Datetime (UTC)"
_EM_ZONE = "Zone Id"
_EM_VALUE = re.compile(r"^carbon intensity gco(?:2|₂)eq/kwh \((direct|lca)\)$", re.IGNORECASE)
_UTC_NAME = re.compile(r"utc", re.IGNORECASE)
_TIME_NAME = re.compile(r"time|date|timestamp", re.IGNORECASE)


@dataclass(frozen=True)
class TraceTable:
    """Every zone of one trace file, on one shared hour grid (before per-zone cleaning).

    Attributes:
        path: The file read.
        format: ``electricitymaps``, ``wide`` or ``two-column``.
        zones: Zone ids (column names for a wide file).
        scope: ``lifecycle`` or ``direct``.
    """

    path: Path
    format: str
    zones: tuple[str, ...]
    scope: Scope
    _hours: npt.NDArray[np.int64]
    _values: npt.NDArray[np.float64]  # samples x zones
    _zone_source: str
    _notes: tuple[str, ...]

    def series(
        self, zone: str | None = None, *, max_gap_h: int = DEFAULT_MAX_GAP_H
    ) -> IntensitySeries:
        """The cleaned hourly series of one zone (the only one when ``zone`` is None).

        Raises:
            TraceFormatError: Unknown zone for this file, or bad data in its column.
        """
        col = self._column(zone)
        name = self.zones[col]
        return _clean(
            self._hours,
            self._values[:, col],
            zone=name if self.format != "two-column" else (zone or self.path.stem),
            source=f"trace:{self.path.name}" + (f"[{name}]" if self.format == "wide" else ""),
            scope=self.scope,
            notes=self._notes,
            max_gap_h=max_gap_h,
            where=f"{self.path.name}" + (f" column {name!r}" if self.format == "wide" else ""),
        )

    def _column(self, zone: str | None) -> int:
        if self.format == "two-column":
            return 0
        if zone is None:
            if len(self.zones) == 1:
                return 0
            raise TraceFormatError(
                f"{self.path.name} has {len(self.zones)} zones; choose one with --zone "
                f"(e.g. {', '.join(self.zones[:5])})"
            )
        by_upper = {z.upper(): i for i, z in enumerate(self.zones)}
        if zone.strip().upper() in by_upper:
            return by_upper[zone.strip().upper()]
        shown = ", ".join(self.zones[:8]) + (", ..." if len(self.zones) > 8 else "")
        raise TraceFormatError(
            f"{self.path.name} has no zone {zone!r} ({self._zone_source}: {shown})"
        )


def load_trace(
    path: str | Path,
    *,
    zone: str | None = None,
    scope: Scope = "lifecycle",
    tz: str | None = None,
    max_gap_h: int = DEFAULT_MAX_GAP_H,
) -> IntensitySeries:
    """Read one zone's hourly series from a trace file.

    Args:
        path: A CSV in one of the three formats.
        zone: Which zone (required for a wide file with several zones; for a two-column file it
            labels the series; for an Electricity Maps file it must match ``Zone Id``).
        scope: ``lifecycle`` (LCA column) or ``direct``, for Electricity Maps files.
        tz: IANA time zone for naive timestamps in a column that does not declare UTC.
        max_gap_h: Longest run of missing hours to interpolate.

    Raises:
        TraceFormatError: Unreadable file, unknown format, missing columns, naive timestamps,
            negative or non-numeric values, unordered duplicates that disagree, long gaps.
    """
    return load_trace_table(path, scope=scope, tz=tz).series(zone, max_gap_h=max_gap_h)


def load_trace_table(
    path: str | Path, *, scope: Scope = "lifecycle", tz: str | None = None
) -> TraceTable:
    """Read a whole trace file (every zone of a wide file); see :func:`load_trace`."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFormatError(f"cannot read trace file {str(p)!r}: {exc}") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise TraceFormatError(f"{p.name}: no data rows (expected a header and hourly rows)")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    for i, row in enumerate(body):
        if len(row) < len(header):
            raise TraceFormatError(
                f"{p.name} line {i + 2}: {len(row)} columns, expected {len(header)}"
            )
    if _EM_TIME in header and _EM_ZONE in header:
        return _read_em(p, header, body, scope, tz)
    if len(header) == 2:
        return _read_columns(
            p, header, body, [1], "two-column", tz, scope=scope, zones=(header[1],)
        )
    if len(header) > 2 and _TIME_NAME.search(header[0]):
        return _read_columns(
            p,
            header,
            body,
            list(range(1, len(header))),
            "wide",
            tz,
            scope=scope,
            zones=tuple(header[1:]),
        )
    raise TraceFormatError(
        f"{p.name}: unknown trace format (header {header[:4]!r}); expected an Electricity Maps "
        "data-portal CSV, a wide CSV 'datetime_utc,<zone>,...' or a two-column 'time,value' CSV"
    )


def _read_em(
    p: Path, header: list[str], body: list[list[str]], scope: Scope, tz: str | None
) -> TraceTable:
    wanted = "lca" if scope == "lifecycle" else "direct"
    value_cols = [
        i
        for i, h in enumerate(header)
        if (m := _EM_VALUE.match(h)) and m.group(1).lower() == wanted
    ]
    if not value_cols:
        raise TraceFormatError(
            f"{p.name}: Electricity Maps file without the column "
            f"'Carbon Intensity gCO₂eq/kWh ({'LCA' if wanted == 'lca' else 'direct'})'"
        )
    zone_col = header.index(_EM_ZONE)
    zone_ids = sorted(
        {r[zone_col].strip() for r in body if len(r) > zone_col and r[zone_col].strip()}
    )
    if len(zone_ids) != 1:
        raise TraceFormatError(f"{p.name}: expected one 'Zone Id', found {zone_ids[:5]!r}")
    table = _read_columns(
        p,
        header,
        body,
        value_cols,
        "electricitymaps",
        tz,
        scope=scope,
        zones=(zone_ids[0],),
        time_col=header.index(_EM_TIME),
    )
    notes = list(table._notes)
    if "Data Estimated" in header:
        col = header.index("Data Estimated")
        flagged = sum(1 for r in body if r[col].strip().lower() == "true")
        if flagged:
            notes.append(f"{flagged} row(s) flagged 'Data Estimated' by Electricity Maps")
    return TraceTable(
        path=p,
        format="electricitymaps",
        zones=table.zones,
        scope=scope,
        _hours=table._hours,
        _values=table._values,
        _zone_source="its Zone Id is",
        _notes=tuple(notes),
    )


def _timezone(name: str | None, p: Path) -> tzinfo | None:
    if name is None:
        return None
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TraceFormatError(
            f"unknown time zone {name!r} for {p.name}; "
            "use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None


def _parse_times(
    p: Path, column: str, cells: Sequence[str], tz: str | None
) -> npt.NDArray[np.int64]:
    """Epoch seconds (UTC) of each cell."""
    default_tz = UTC if _UTC_NAME.search(column) else _timezone(tz, p)
    out = np.empty(len(cells), dtype=np.int64)
    for i, cell in enumerate(cells):
        text = cell.strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise TraceFormatError(
                f"{p.name} line {i + 2}: bad timestamp {text!r} in column {column!r} "
                "(expected ISO 8601, e.g. 2022-01-01T00:00:00+00:00)"
            ) from None
        if when.tzinfo is None:
            if default_tz is None:
                raise TraceFormatError(
                    f"{p.name} line {i + 2}: naive timestamp {text!r} in column {column!r}; "
                    "add an offset (+00:00), name the column time_utc, "
                    "or pass the time zone (--trace-tz UTC)"
                )
            when = when.replace(tzinfo=default_tz)
        out[i] = math.floor(when.timestamp())
    return out


def _read_columns(
    p: Path,
    header: list[str],
    body: list[list[str]],
    value_cols: list[int],
    fmt: str,
    tz: str | None,
    *,
    scope: Scope,
    zones: tuple[str, ...],
    time_col: int = 0,
) -> TraceTable:
    seconds = _parse_times(p, header[time_col], [r[time_col] for r in body], tz)
    values = np.empty((len(body), len(value_cols)), dtype=np.float64)
    for j, col in enumerate(value_cols):
        values[:, j] = _parse_values(p, header[col], [r[col] for r in body])
    notes: list[str] = []
    if (np.diff(seconds) < 0).any():
        notes.append("rows were not in time order and were sorted")
        order = np.argsort(seconds, kind="stable")
        seconds, values = seconds[order], values[order]
    if (seconds % 3600).any():
        notes.append("sub-hourly samples averaged per UTC hour")
    hours = seconds // 3600
    dup = int(np.count_nonzero(np.diff(seconds) == 0))
    if dup:
        notes.append(f"{dup} duplicate timestamp(s) merged by averaging")
    return TraceTable(
        path=p,
        format=fmt,
        zones=zones,
        scope=scope,
        _hours=hours,
        _values=values,
        _zone_source="columns",
        _notes=tuple(notes),
    )


def _parse_values(p: Path, column: str, cells: list[str]) -> npt.NDArray[np.float64]:
    try:  # fast path: every cell a plain number
        values = np.asarray(cells, dtype=np.float64)
    except ValueError:
        values = np.empty(len(cells), dtype=np.float64)
        for i, raw in enumerate(cells):
            cell = raw.strip()
            if cell == "" or cell.lower() in ("nan", "na", "null"):
                values[i] = np.nan
                continue
            try:
                values[i] = float(cell)
            except ValueError:
                raise TraceFormatError(
                    f"{p.name} line {i + 2}: non-numeric value {cell!r} in column {column!r}"
                ) from None
    bad = np.flatnonzero(np.isinf(values) | (values < 0))
    if bad.size:
        i = int(bad[0])
        raise TraceFormatError(
            f"{p.name} line {i + 2}: invalid intensity {cells[i].strip()!r} in column {column!r} "
            "(must be a number >= 0)"
        )
    return values


def _clean(
    hours: npt.NDArray[np.int64],
    samples: npt.NDArray[np.float64],
    *,
    zone: str,
    source: str,
    scope: Scope,
    notes: tuple[str, ...],
    max_gap_h: int,
    where: str,
) -> IntensitySeries:
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
    start = datetime.fromtimestamp(first * 3600, UTC)
    return IntensitySeries(
        zone=zone,
        start=start,
        values_g_per_kwh=values,
        source=source,
        scope=scope,
        kind="measured",
        notes=tuple(out_notes),
    )
