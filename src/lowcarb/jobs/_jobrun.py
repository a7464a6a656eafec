"""Around one run of a job: the measuring tracker, a replay clock, process helpers."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import psutil
from sqlalchemy import URL

from lowcarb.energy import Measurement, Meter
from lowcarb.errors import LowcarbError
from lowcarb.grid import Footprint, Intensity, IntensitySource
from lowcarb.jobs._job import Job
from lowcarb.jobs._jobwrap import LEASE_FILE
from lowcarb.ledger import Attribution
from lowcarb.tracking import Tracker, intensity_for_hours

__all__ = [
    "JobTracker",
    "ReplayClock",
    "alive",
    "append_note",
    "find_wrapper",
    "hours",
    "iso",
    "kill_tree",
    "write_lease",
]

log = logging.getLogger(__name__)
_HOUR = timedelta(hours=1)


class ReplayClock:
    """A clock that starts at ``start`` and runs ``speed`` times faster than real time (for
    replaying a trace: ``speed=3600`` makes an hour pass every second).

    Args:
        start: The first time it reads (timezone-aware).
        speed: Clock seconds per real second.
        monotonic: Real-time source (injected for tests).
    """

    def __init__(
        self,
        start: datetime,
        *,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start, self.speed, self._mono = start, speed, monotonic
        self._t0 = monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(self._mono() - self._t0) * self.speed)


class JobTracker(Tracker):
    """A Tracker that reports the child pid (``on_child``) and prices the run with the realised
    hourly intensity when ``source`` has it for the hours the run spanned.

    Args:
        job: The job being run.
        started: When this run started (worker clock).
        source: Intensity source for the realised intensity.
        clock: The worker's clock.
        ledger_url: Ledger to append the run to.
        environ: Environment for the Tracker's settings.
        on_child: Called with the pid of the started process.
        meters: Meters to use instead of detecting them (tests).
    """

    def __init__(
        self,
        job: Job,
        started: datetime,
        *,
        source: IntensitySource,
        clock: Callable[[], datetime],
        ledger_url: str | None,
        environ: Mapping[str, str],
        on_child: Callable[[int], None],
        meters: Sequence[Meter] | None = None,
    ) -> None:
        plan = job.plan or {}
        self._job, self._started, self._source, self._clock = job, started, source, clock
        self._on_child = on_child
        self.realised: float | None = None
        self._end = started
        super().__init__(
            f"job:{job.id}",
            zone=plan.get("zone") or job.zones[0],
            ledger=ledger_url,
            attribution=Attribution(team=job.team, project=job.project),
            environ=environ,
            meters=meters,
            metadata={
                "job_id": job.id,
                "command": list(job.command),
                "attempt": job.attempts,
                "planned_start": plan.get("start"),
                "deadline": iso(job.deadline),
                "planned_intensity_g_per_kwh": plan.get("expected_intensity_g_per_kwh"),
                "forecast_model": plan.get("forecast_model"),
                "fallback": plan.get("fallback"),
            },
        )

    def start(self, *, pid: int | None = None) -> Tracker:
        if pid is not None and self._job.child_pid != pid:
            self._on_child(pid)
        return super().start(pid=pid)

    def stop(self) -> Footprint:
        self._end = self._clock()
        self.metadata["run_start"] = iso(self._started)
        self.metadata["run_end"] = iso(self._end)
        return super().stop()

    def intensity_at_stop(self, measurement: Measurement) -> Intensity:
        """The realised intensity of the hours the job ran, on the job's clock (a replay's)."""
        intensity = self._realised_intensity()
        self.metadata["realised_intensity_g_per_kwh"] = self.realised
        return intensity

    def _realised_intensity(self) -> Intensity:
        end = self._end
        zone = self.intensity.zone
        first = self._started.replace(minute=0, second=0, microsecond=0)
        try:
            series = self._source.history(zone, start=first, end=max(end, first + _HOUR))
            if len(series) and series.kind != "forecast":
                self.realised = series.mean_g_per_kwh()
                return Intensity(
                    zone=zone,
                    intensity_g_per_kwh=self.realised,
                    source=series.source,
                    signal=series.signal,
                    scope=series.scope,
                    kind=series.kind,
                    time=first,
                    note=f"mean of the {len(series)} hour(s) the job ran in",
                )
        except LowcarbError as exc:
            log.info("no realised intensity for %s: %s", zone, exc)
        duration_s = max(0.0, (end - self._started).total_seconds())
        return intensity_for_hours(zone, start=self._started, duration_s=duration_s)


def write_lease(
    job: Job, url: URL, *, lease_s: float, margin_s: float, clock_offset_s: float
) -> str:
    """Leave the wrapper of ``job``'s run its lease (see :class:`~._jobwrap.RunLease`): a file
    in its state directory, readable by this user only (a PostgreSQL URL may hold a password),
    which the wrapper deletes once read; return its path.

    Args:
        job: The job, just claimed (its ``lease_until`` is the claim's lease).
        url: The job store's database.
        lease_s: How long each renewal lasts, seconds.
        margin_s: How long before its lease lapses a run that could not renew it is killed.
        clock_offset_s: The worker's clock minus this host's, seconds.
    """
    if url.get_backend_name() == "sqlite":
        dialect, database = "sqlite", os.path.abspath(url.database or "")
    else:  # a libpq URI, for psycopg itself
        plain_url = url.set(drivername="postgresql")
        dialect, database = "postgresql", plain_url.render_as_string(hide_password=False)
    until = job.lease_until or datetime.now(UTC) + timedelta(seconds=lease_s + clock_offset_s)
    config = {
        "job_id": job.id,
        "attempt": job.attempts,
        "dialect": dialect,
        "database": database,
        "lease_s": lease_s,
        "margin_s": margin_s,
        "lease_until": until.timestamp(),
        "clock_offset_s": clock_offset_s,
    }
    os.makedirs(job.state_dir, exist_ok=True)
    path = os.path.join(job.state_dir, LEASE_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(config, f)
    return path


def alive(pid: int | None, create_time: float | None) -> bool:
    """Whether process ``pid`` runs (and, given ``create_time``, is the same process)."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except psutil.Error:
        return False


def find_wrapper(job_id: str) -> int | None:
    """The pid of a live job wrapper started for ``job_id`` (found by its command line)."""
    marker = f"LOWCARB_JOB_ID={job_id}"
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if marker in cmdline and any(part.endswith("_jobwrap.py") for part in cmdline):
            return int(proc.pid)
    return None


def kill_tree(pid: int, sig: int, *, children: bool = True) -> None:
    """Send ``sig`` to ``pid`` (and its descendants); a vanished process is not an error."""
    try:
        proc = psutil.Process(pid)
        targets = [proc, *proc.children(recursive=True)] if children else [proc]
        for p in targets:
            p.send_signal(sig)
    except psutil.Error:
        pass


def iso(t: datetime) -> str:
    """ISO 8601 UTC with a Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hours(delta: timedelta) -> float:
    """A non-negative timedelta in hours."""
    return max(0.0, delta.total_seconds() / 3600.0)


def append_note(note: str, more: str) -> str:
    """``note; more``."""
    return f"{note}; {more}" if note else more
