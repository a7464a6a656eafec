"""The worker's settings (:class:`WorkerConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from lowcarb.scheduling import FallbackMode

__all__ = ["WorkerConfig"]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Worker settings.

    Attributes:
        poll_s: Longest sleep between ticks, seconds (the worker also wakes for planned starts).
        replan_every_s: Re-plan waiting jobs this often, seconds (worker-clock time).
        lease_s: How long a claim lasts without a heartbeat, seconds (real time).
        grace_s: After SIGTERM, how long a pausing job may take before SIGKILL, seconds.
        max_attempts: Runs killed with a worker are retried this many times in all.
        max_parallel: Jobs run at once.
        on_forecast_error: Fallback for a job with no plan when forecasts fail.
        max_clock_skew_s: How far the worker's clock may be from the database's when it starts,
            seconds, before it refuses to. None:
            :data:`~lowcarb.jobs._clock_check.DEFAULT_MAX_CLOCK_SKEW_S` on the system clock, and
            no check on an injected clock (a replay or a test) unless it is set.
        plan_batch: Jobs planned (or re-planned) per pass at most; a pass that plans this many
            is followed by another at once.
    """

    poll_s: float = 30.0
    replan_every_s: float = 3600.0
    lease_s: float = 120.0
    grace_s: float = 60.0
    max_attempts: int = 3
    max_parallel: int = 4
    on_forecast_error: FallbackMode = "latest-start"
    max_clock_skew_s: float | None = None
    plan_batch: int = 100
