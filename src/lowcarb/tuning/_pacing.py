"""Carbon-aware pacing: each trial starts in the cleanest window that still ends by the deadline.

Before a trial, the scheduler plans a job as long as the trial is expected to run, between now and
the study's deadline, from the same forecasts ``lowcarb plan`` uses (the zone's shipped profile by
default, or any :class:`~lowcarb.grid.IntensitySource`). The worker waits until the planned start.
What that saved is the trial's energy times the difference between the intensity now and the
expected intensity of the planned window: both from the same forecast, so the figure is the
scheduler's own estimate, labelled as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from lowcarb.grid import IntensitySource
from lowcarb.scheduling import JobSpec, ProfileSource, plan_from_source

__all__ = ["PacedStart", "Pacing"]


@dataclass(frozen=True, slots=True)
class PacedStart:
    """Where the next trial should run.

    Attributes:
        start: Planned start (UTC).
        wait_s: Seconds from now to it.
        expected_g_per_kwh: Forecast intensity of the planned window.
        now_g_per_kwh: Forecast intensity if started now.
    """

    start: datetime
    wait_s: float
    expected_g_per_kwh: float
    now_g_per_kwh: float


@dataclass(frozen=True)
class Pacing:
    """Pace a study's trials into low-carbon windows of one zone, before a deadline.

    Attributes:
        zone: Zone id or cloud region.
        deadline: When the last trial must have finished (timezone-aware).
        source: Forecast source; the zone's shipped profile when None.
    """

    zone: str
    deadline: datetime
    source: IntensitySource | None = None

    def next_start(self, *, now: datetime, duration_s: float) -> PacedStart | None:
        """The planned start for a trial of ``duration_s``; None when it no longer fits."""
        duration_h = max(duration_s, 60.0) / 3600.0
        if now + timedelta(hours=duration_h) >= self.deadline:
            return None
        job = JobSpec(duration_h=duration_h, deadline=self.deadline)
        plan = plan_from_source(job, [self.zone], self.source or ProfileSource(), now=now)
        return PacedStart(
            start=plan.start,
            wait_s=max(0.0, (plan.start - now).total_seconds()),
            expected_g_per_kwh=plan.expected_intensity_g_per_kwh,
            now_g_per_kwh=plan.now_intensity_g_per_kwh,
        )

    def wait(self, start: PacedStart, *, sleep: Callable[[float], None]) -> None:
        """Sleep until the planned start (``sleep`` is injected so tests need not wait)."""
        if start.wait_s > 0:
            sleep(start.wait_s)
