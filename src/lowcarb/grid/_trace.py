"""Trace files: the three CSV formats of DESIGN.md, read into hourly UTC series.

Formats (detected from the header):

* **Electricity Maps data-portal CSV**: ``Datetime (UTC)``, ``Zone Id``,
  ``Carbon Intensity gCO₂eq/kWh (direct)``, ``Carbon Intensity gCO₂eq/kWh (LCA)``, ``Data
  Estimated``, ... and the portal's current spelling (``Zone id``, ``Carbon intensity gCO₂eq/kWh
  (Life cycle)``, ``Data estimated``): column names are matched case-insensitively. When any row
  is flagged estimated, the zone's series is labelled ``estimated``, never ``measured``, and a
  note counts the flagged hours.
* **wide CSV**: ``datetime_utc`` (or any first column named like a time) plus one column per zone.
* **two-column CSV**: ``time,value`` (any two column names; the first holds the timestamps).

Time zones: a timestamp with an offset (``+00:00``, ``Z``, ``+01:00``) is converted to UTC. A naive
timestamp is accepted only when its column name declares UTC (``Datetime (UTC)``, ``datetime_utc``,
``time_utc``) or the caller passes ``tz`` (an IANA name such as ``"UTC"`` or ``"Europe/Berlin"``);
otherwise the file is rejected, since reading it in a guessed zone would shift every value.

Bounds: a file must have a header row (a first row that parses as data is refused, not
silently dropped), distinct column names, fields under 128 KiB, at most 512 MiB, UTF-8 text, and
values in 0..2,000 gCO2e/kWh (the physically possible range; more is bad data).

Cleaning, each step recorded in the series' ``notes``: rows sorted by time; samples averaged per UTC
hour (sub-hourly data resampled, duplicate timestamps merged); leading and trailing empty hours
trimmed; interior gaps of at most ``max_gap_h`` hours linearly interpolated. Longer gaps, negative
or non-numeric values and missing columns raise :class:`TraceFormatError` with a one-line message.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from lowcarb._files import read_text_file
from lowcarb.errors import DataError, TraceFormatError, UsageError
from lowcarb.grid._hourly import DEFAULT_MAX_GAP_H, hourly
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._types import IntensityKind, Scope

__all__ = ["TraceTable", "load_trace", "load_trace_table"]

_EM_TIME = "datetime (utc)"
_EM_ZONE = "zone id"
_EM_ESTIMATED = "data estimated"
_TRUE = ("true", "1", "yes")
_EM_VALUE = re.compile(
    r"^carbon intensity gco(?:2|₂)eq/kwh \((direct|lca|life ?cycle)\)$", re.IGNORECASE
)
_MAX_TRACE_BYTES = 512 << 20
_MAX_FIELD_CHARS = 128 << 10
_MAX_G_PER_KWH = 2000.0
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
    _kind: IntensityKind = "measured"
    _estimated: npt.NDArray[np.bool_] | None = None  # per sample row, when the file flags them

    def series(
        self, zone: str | None = None, *, max_gap_h: int = DEFAULT_MAX_GAP_H
    ) -> IntensitySeries:
        """The cleaned hourly series of one zone (the only one when ``zone`` is None).

        Raises:
            TraceFormatError: Unknown zone for this file, or bad data in its column.
        """
        col = self._column(zone)
        name = self.zones[col]
        return hourly(
            self._hours,
            self._values[:, col],
            zone=name if self.format != "two-column" else (zone or self.path.stem),
            source=f"trace:{self.path.name}" + (f"[{name}]" if self.format == "wide" else ""),
            scope=self.scope,
            notes=self._notes,
            max_gap_h=max_gap_h,
            where=f"{self.path.name}" + (f" column {name!r}" if self.format == "wide" else ""),
            kind=self._kind,
            estimated=self._estimated,
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
        text = read_text_file(p, what="trace file", max_bytes=_MAX_TRACE_BYTES)
    except (DataError, UsageError) as exc:
        raise TraceFormatError(str(exc)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise TraceFormatError(
            f"{p.name} line {reader.line_num}: not a CSV row ({exc}); fields are limited to "
            f"{_MAX_FIELD_CHARS:,} characters"
        ) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise TraceFormatError(f"{p.name}: no data rows (expected a header and hourly rows)")
    header = [h.strip() for h in rows[0]]
    _check_header(p, header)
    body = rows[1:]
    for i, row in enumerate(body):
        if len(row) < len(header):
            raise TraceFormatError(
                f"{p.name} line {i + 2}: {len(row)} columns, expected {len(header)}"
            )
    lower = [h.lower() for h in header]
    if _EM_TIME in lower and _EM_ZONE in lower:
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


def _check_header(p: Path, header: list[str]) -> None:
    """A real header: not a data row, no column named twice."""
    first = header[0]
    looks_like_data = bool(re.match(r"^\d{4}-\d{2}-\d{2}", first))
    try:
        float(first)
        looks_like_data = True
    except ValueError:
        pass
    if looks_like_data:
        raise TraceFormatError(
            f"{p.name}: the first row {','.join(header[:3])!r} is data, not a header; add a "
            "header row such as 'datetime_utc,<zone>' (the row is never silently dropped)"
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.upper()
        if key in seen:
            raise TraceFormatError(
                f"{p.name}: column {name!r} appears twice (columns {seen[key] + 1} and {i + 1}); "
                "keep one"
            )
        seen[key] = i


def _read_em(
    p: Path, header: list[str], body: list[list[str]], scope: Scope, tz: str | None
) -> TraceTable:
    wanted = "lca" if scope == "lifecycle" else "direct"
    value_cols = [
        i
        for i, h in enumerate(header)
        if (m := _EM_VALUE.match(h))
        and ("lca" if m.group(1).lower().startswith(("lca", "life")) else "direct") == wanted
    ]
    if not value_cols:
        raise TraceFormatError(
            f"{p.name}: Electricity Maps file without the column "
            f"'Carbon Intensity gCO₂eq/kWh ({'LCA' if wanted == 'lca' else 'direct'})'"
        )
    lower = [h.lower() for h in header]
    zone_col = lower.index(_EM_ZONE)
    zone_ids = sorted(
        {r[zone_col].strip() for r in body if len(r) > zone_col and r[zone_col].strip()}
    )
    if len(zone_ids) != 1:
        raise TraceFormatError(f"{p.name}: expected one 'Zone Id', found {zone_ids[:5]!r}")
    flags = None
    if _EM_ESTIMATED in lower:
        col = lower.index(_EM_ESTIMATED)
        flags = np.array([len(r) > col and r[col].strip().lower() in _TRUE for r in body])
    table = _read_columns(
        p,
        header,
        body,
        value_cols,
        "electricitymaps",
        tz,
        scope=scope,
        zones=(zone_ids[0],),
        time_col=lower.index(_EM_TIME),
        flags=flags,
    )
    notes = list(table._notes)
    kind: IntensityKind = "measured"
    flagged = 0 if flags is None else int(flags.sum())
    if flagged:
        # The series as a whole is "estimated" if any hour is; each hour keeps its own flag, so
        # no estimated value is reported as measured and no measured one as estimated.
        kind = "estimated"
        notes.append(
            f"{flagged} of {len(body)} row(s) flagged estimated by Electricity Maps: those hours "
            "are labelled estimated"
        )
    return TraceTable(
        path=p,
        format="electricitymaps",
        zones=table.zones,
        scope=scope,
        _hours=table._hours,
        _values=table._values,
        _zone_source="its Zone Id is",
        _notes=tuple(notes),
        _kind=kind,
        _estimated=table._estimated if flagged else None,
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
    flags: npt.NDArray[np.bool_] | None = None,
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
        flags = None if flags is None else flags[order]
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
        _estimated=flags,
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
    bad = np.flatnonzero(np.isinf(values) | (values < 0) | (values > _MAX_G_PER_KWH))
    if bad.size:
        i = int(bad[0])
        raise TraceFormatError(
            f"{p.name} line {i + 2}: invalid intensity {cells[i].strip()[:40]!r} in column "
            f"{column!r} (must be a number in 0..{_MAX_G_PER_KWH:g} gCO2e/kWh)"
        )
    return values
