"""`IntensitySeries`: an hourly, UTC, numpy-backed carbon-intensity signal with provenance."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from lowcarb.errors import InvalidValueError
from lowcarb.grid._types import Intensity, IntensityKind, Scope, Signal

__all__ = ["IntensitySeries", "ceil_hour", "floor_hour", "to_utc"]

_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_utc(when: datetime) -> datetime:
    """Return ``when`` in UTC; a naive datetime is rejected (its meaning would be a guess).

    Raises:
        InvalidValueError: ``when`` has no time zone.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidValueError(
            f"timestamp {when.isoformat()!r} has no time zone; give an offset such as +00:00 or Z"
        )
    return when.astimezone(UTC)


def floor_hour(when: datetime) -> datetime:
    """The UTC hour containing ``when``."""
    return to_utc(when).replace(minute=0, second=0, microsecond=0)


def ceil_hour(when: datetime) -> datetime:
    """The first UTC hour at or after ``when``."""
    floor = floor_hour(when)
    return floor if floor == to_utc(when) else floor + _HOUR


def _hour_index(when: datetime) -> int:
    return int((floor_hour(when) - _EPOCH) // _HOUR)


@dataclass(frozen=True, eq=False)
class IntensitySeries:
    """Hourly carbon intensity of one zone, on a gap-free UTC hour grid.

    The value at index ``i`` applies to the hour ``[start + i h, start + (i+1) h)``. The array is
    a read-only float64 copy, every value finite and >= 0. Instances are immutable and thread safe.

    Attributes:
        zone: Electricity Maps zone id (or a caller's label for an unlabelled trace).
        start: First hour, timezone-aware UTC, on the hour.
        values_g_per_kwh: gCO2e/kWh per hour.
        source: Provenance, e.g. ``"trace:DE_2022.csv"``, ``"forecast:blend"``.
        signal: ``average`` or ``marginal``.
        scope: ``lifecycle`` or ``direct``.
        kind: ``measured``, ``estimated`` or ``forecast``.
        notes: What was done to the raw data (resampling, filled gaps, duplicates merged).
        estimated: Per hour, True where the data source flagged the value as estimated (an
            Electricity Maps ``Data estimated`` column); None when there are no per-hour flags.
            With flags, ``kind`` is ``estimated`` if any hour is, and each hour's
            :class:`Intensity` carries its own kind.
    """

    zone: str
    start: datetime
    values_g_per_kwh: npt.NDArray[np.float64]
    source: str
    signal: Signal = "average"
    scope: Scope = "lifecycle"
    kind: IntensityKind = "measured"
    notes: tuple[str, ...] = field(default=())
    estimated: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        start = to_utc(self.start)
        if start != floor_hour(start):
            raise InvalidValueError(f"series start must be on the hour, got {start.isoformat()!r}")
        values = np.array(self.values_g_per_kwh, dtype=np.float64).reshape(-1)
        if values.size and not (np.isfinite(values).all() and (values >= 0).all()):
            raise InvalidValueError("series values must be finite and >= 0 gCO2e/kWh")
        values.setflags(write=False)
        if self.estimated is not None:
            flags = np.array(self.estimated, dtype=np.bool_).reshape(-1)
            if flags.size != values.size:
                raise InvalidValueError(
                    f"series has {values.size} values but {flags.size} estimated flags"
                )
            flags.setflags(write=False)
            object.__setattr__(self, "estimated", flags)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "values_g_per_kwh", values)

    def __len__(self) -> int:
        return int(self.values_g_per_kwh.size)

    def __repr__(self) -> str:
        end = self.end.isoformat() if len(self) else "-"
        return (
            f"IntensitySeries(zone={self.zone!r}, start={self.start.isoformat()!r}, end={end!r}, "
            f"hours={len(self)}, source={self.source!r}, kind={self.kind!r})"
        )

    @property
    def end(self) -> datetime:
        """The end of the last hour (exclusive), UTC."""
        return self.start + len(self) * _HOUR

    @property
    def times(self) -> npt.NDArray[np.datetime64]:
        """Hour timestamps as ``datetime64[h]`` (UTC, naive in numpy's sense)."""
        first = np.datetime64(self.start.replace(tzinfo=None), "h")
        return first + np.arange(len(self)).astype("timedelta64[h]")

    def time_at(self, index: int) -> datetime:
        """The UTC start of hour ``index``."""
        return self.start + index * _HOUR

    def index_of(self, when: datetime) -> int:
        """Index of the hour containing ``when`` (may be out of range)."""
        return _hour_index(when) - _hour_index(self.start)

    def replace(self, **changes: object) -> IntensitySeries:
        """A copy with some fields changed (``notes`` and ``source`` included)."""
        fields = {
            "zone": self.zone,
            "start": self.start,
            "values_g_per_kwh": self.values_g_per_kwh,
            "source": self.source,
            "signal": self.signal,
            "scope": self.scope,
            "kind": self.kind,
            "notes": self.notes,
            "estimated": self.estimated,
        }
        fields.update(changes)
        return IntensitySeries(**fields)  # type: ignore[arg-type]

    def between(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> IntensitySeries:
        """Hours whose start time ``t`` satisfies ``start <= t < end`` (either bound optional)."""
        lo = 0 if start is None else max(0, min(len(self), self.index_of(ceil_hour(start))))
        hi = len(self) if end is None else max(lo, min(len(self), self.index_of(ceil_hour(end))))
        flags = None if self.estimated is None else self.estimated[lo:hi]
        return self.replace(
            start=self.time_at(lo), values_g_per_kwh=self.values_g_per_kwh[lo:hi], estimated=flags
        )

    def before(self, when: datetime) -> IntensitySeries:
        """Only the hours stamped strictly before ``when`` (what was known at ``when``)."""
        return self.between(None, when)

    def at(self, when: datetime) -> Intensity:
        """The value of the hour containing ``when``.

        Raises:
            InvalidValueError: ``when`` is outside the series.
        """
        i = self.index_of(when)
        if not 0 <= i < len(self):
            raise InvalidValueError(
                f"{to_utc(when).isoformat()!r} is outside the series "
                f"({self.start.isoformat()} to {self.end.isoformat()})"
            )
        return self._intensity(i)

    def latest(self) -> Intensity:
        """The last hour's value.

        Raises:
            InvalidValueError: The series is empty.
        """
        if not len(self):
            raise InvalidValueError(f"no data in {self.source} for zone {self.zone!r}")
        return self._intensity(len(self) - 1)

    def _intensity(self, i: int) -> Intensity:
        kind = self.kind
        if self.estimated is not None and kind != "forecast":
            kind = "estimated" if self.estimated[i] else "measured"
        return Intensity(
            zone=self.zone,
            intensity_g_per_kwh=float(self.values_g_per_kwh[i]),
            source=self.source,
            signal=self.signal,
            scope=self.scope,
            kind=kind,
            time=self.time_at(i),
            note="; ".join(self.notes),
        )

    def __iter__(self) -> Iterator[Intensity]:
        for i in range(len(self)):
            yield self._intensity(i)

    def mean_g_per_kwh(self) -> float:
        """Mean intensity over the series (NaN when empty)."""
        return float(self.values_g_per_kwh.mean()) if len(self) else float("nan")
