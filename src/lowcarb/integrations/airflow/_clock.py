"""The time a green-window sensor plans by: the wall clock, or a replay that runs faster.

A replay is what ``lowcarb worker --now T --speed S`` does for the job queue: the clock reads
``start`` at its anchor and then runs ``speed`` times faster than real time, so a DAG can replay
a trace (a wait of hours passes in seconds) in demos and tests. Unlike the worker's in-process
clock, this one is plain data (:meth:`WindowClock.to_dict`), because the sensor hands it to a
trigger that may run in another process (the triggerer).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcarb.errors import InvalidValueError
from lowcarb.units import parse_timestamp

__all__ = ["MAX_REPLAY_SPEED", "WindowClock"]

#: The fastest replay (3600 replays an hour a second), as for ``lowcarb worker --speed``.
MAX_REPLAY_SPEED = 1e6


@dataclass(frozen=True, slots=True)
class WindowClock:
    """The wall clock (``start`` None) or a replay anchored at a real instant.

    Attributes:
        start: The time the replay reads at ``anchor_epoch_s`` (timezone-aware), or None for the
            wall clock.
        speed: Clock seconds per real second (1 for the wall clock).
        anchor_epoch_s: The real time (Unix seconds) at which the replay reads ``start``.
        epoch_s: Real-time source, Unix seconds (injected for tests; never serialised).
    """

    start: datetime | None = None
    speed: float = 1.0
    anchor_epoch_s: float = 0.0
    epoch_s: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        speed = self.speed
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise InvalidValueError(f"replay speed must be a number, got {speed!r}")
        if not (math.isfinite(speed) and 0 < speed <= MAX_REPLAY_SPEED):
            raise InvalidValueError(
                f"replay speed must be > 0 and <= {MAX_REPLAY_SPEED:g}, got {speed!r}; "
                "e.g. 3600 replays an hour a second"
            )
        if self.start is None and speed != 1.0:
            raise InvalidValueError(
                f"replay speed {speed!r} needs a replay start time (the wall clock runs at 1)"
            )
        if self.start is not None and (self.start.tzinfo is None or self.start.utcoffset() is None):
            raise InvalidValueError(
                f"replay start must be timezone-aware, got the naive {self.start.isoformat()!r}"
            )
        if not math.isfinite(self.anchor_epoch_s):
            raise InvalidValueError(f"anchor must be finite, got {self.anchor_epoch_s!r}")

    @classmethod
    def replay(
        cls, start: str | datetime, *, speed: float = 1.0, epoch_s: Callable[[], float] = time.time
    ) -> WindowClock:
        """A replay that reads ``start`` now (at the current real time) and runs ``speed``x.

        Raises:
            InvalidValueError: A start that is not an ISO 8601 time with a zone, a bad speed.
        """
        when = start if isinstance(start, datetime) else parse_timestamp(start, what="replay_from")
        return cls(start=when, speed=speed, anchor_epoch_s=epoch_s(), epoch_s=epoch_s)

    @property
    def is_replay(self) -> bool:
        """Whether this is a replay rather than the wall clock."""
        return self.start is not None

    def now(self) -> datetime:
        """The current time on this clock, timezone-aware UTC."""
        real = self.epoch_s()
        if self.start is None:
            return datetime.fromtimestamp(real, UTC)
        elapsed_s = (real - self.anchor_epoch_s) * self.speed
        return self.start.astimezone(UTC) + timedelta(seconds=elapsed_s)

    def real_seconds(self, clock_s: float) -> float:
        """How many real seconds pass while this clock advances ``clock_s`` seconds."""
        return max(0.0, clock_s) / self.speed

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, for a trigger's keyword arguments."""
        return {
            "start": None if self.start is None else self.start.astimezone(UTC).isoformat(),
            "speed": float(self.speed),
            "anchor_epoch_s": float(self.anchor_epoch_s),
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, epoch_s: Callable[[], float] = time.time
    ) -> WindowClock:
        """The clock :meth:`to_dict` described.

        Raises:
            InvalidValueError: A malformed description.
        """
        start = data.get("start")
        try:
            return cls(
                start=None if start is None else parse_timestamp(str(start), what="replay start"),
                speed=float(data.get("speed", 1.0)),
                anchor_epoch_s=float(data.get("anchor_epoch_s", 0.0)),
                epoch_s=epoch_s,
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InvalidValueError):
                raise
            raise InvalidValueError(f"not a window clock: {dict(data)!r}") from None
