"""Energy of each inference batch: the process's Tracker, read before and after the batch.

:class:`TrackerEnergy` runs one :class:`~lowcarb.tracking.Tracker` over the whole serving process
and reads ``peek()`` around each batch's ``predict``: the difference is the batch's energy, from a
hardware counter where there is one (``measured``) and otherwise the Tracker's CPU-time model
(``estimated``). It is the whole process's energy over the batch, so work running beside the batch
(the event loop parsing the next request) is charged to it too: an upper bound, labelled as the
process's. :class:`NoEnergy` is the ``--no-metering`` baseline used to measure metering's cost.

Reading every meter costs about 50 us (the CPU model walks the process tree), which would be a
visible share of a fast request. So when the energy is estimated, the Tracker is read at most every
``refresh_s``, and in between the reading is carried forward by this process's CPU time
(``time.process_time``) at the joules per CPU-second the last two Tracker readings showed: the
CPU model's own proportionality, recalibrated twice a second. Hardware counters are read every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from lowcarb.energy import Meter
from lowcarb.grid import Intensity
from lowcarb.tracking import Tracker, intensity_for_hours

__all__ = ["BatchEnergy", "NoEnergy", "TrackerEnergy"]


class BatchEnergy(Protocol):
    """Reads the energy used so far; the batcher takes differences around each batch.

    ``read`` is called from worker threads and must be thread-safe. ``intensity`` prices joules.
    """

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self) -> tuple[float, str]:
        """Energy used so far in joules, and its method (``measured``/``estimated``/``none``)."""
        ...

    def intensity(self) -> Intensity | None:
        """The grid intensity to price energy at now, or None when not metering."""
        ...


class TrackerEnergy:
    """Energy from a Tracker on this process, priced at the zone's shipped hourly profile.

    Args:
        zone: Zone id or cloud region (None: the settings, else the labelled world average).
        environ: Environment mapping for the Tracker's settings (injected for tests).
        meters: Meters to use instead of detecting them (a ``FakeMeter`` in tests).
        ready_timeout_s: How long ``start`` waits for meter discovery (a batch before then
            would read zero joules).
        clock: Wall clock, timezone-aware UTC (injected for tests).
    """

    def __init__(
        self,
        *,
        zone: str | None = None,
        environ: Mapping[str, str] | None = None,
        meters: Sequence[Meter] | None = None,
        ready_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_s: float = 0.5,
        cpu_clock: Callable[[], float] = time.process_time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # ledger="": a server's footprint goes to Prometheus, not one ledger record at exit.
        self._tracker = Tracker(
            "serve", zone=zone, ledger="", kind="inference", environ=environ, meters=meters
        )
        self._ready_timeout_s = ready_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._hour: datetime | None = None
        self._intensity: Intensity | None = None
        self._refresh_s = refresh_s
        self._cpu_clock = cpu_clock
        self._monotonic = monotonic
        self._read_lock = threading.Lock()
        # (energy J, process CPU s, monotonic s) at the last Tracker reading, and J per CPU s.
        self._anchor: tuple[float, float, float] | None = None
        self._j_per_cpu_s: float | None = None
        self._method = "estimated"
        self._returned = 0.0

    def start(self) -> None:
        self._tracker.start()
        self._tracker.wait_ready(self._ready_timeout_s)

    def stop(self) -> None:
        self._tracker.stop()

    def read(self) -> tuple[float, str]:
        with self._read_lock:
            cpu, now = self._cpu_clock(), self._monotonic()
            anchor, rate = self._anchor, self._j_per_cpu_s
            if (
                anchor is not None
                and rate is not None
                and self._method == "estimated"
                and (now - anchor[2] < self._refresh_s)
            ):
                value = anchor[0] + max(0.0, cpu - anchor[1]) * rate
            else:
                m = self._tracker.peek()
                if anchor is not None and cpu > anchor[1] and m.energy_j >= anchor[0]:
                    self._j_per_cpu_s = (m.energy_j - anchor[0]) / (cpu - anchor[1])
                self._anchor, self._method = (m.energy_j, cpu, now), m.method
                value = m.energy_j
            # Never backwards: a batch's energy is a difference of two readings.
            self._returned = max(self._returned, value)
            return self._returned, self._method

    def intensity(self) -> Intensity:
        """The zone's intensity for the current UTC hour (looked up once per hour)."""
        hour = self._clock().replace(minute=0, second=0, microsecond=0)
        with self._lock:
            if self._intensity is None or hour != self._hour:
                self._intensity = intensity_for_hours(
                    self._tracker.zone, start=hour, duration_s=3600.0
                )
                self._hour = hour
            return self._intensity


class NoEnergy:
    """No metering at all: zero joules, method ``none`` (the baseline for overhead benchmarks)."""

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def read(self) -> tuple[float, str]:
        return 0.0, "none"

    def intensity(self) -> Intensity | None:
        return None
