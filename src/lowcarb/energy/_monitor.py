"""The energy monitor: meters read at window edges, a sampler only where power must be integrated.

Timeline, and how each window's zero is taken:

* ``start()`` records the start time (monotonic and wall clock) and, when it detects the meters
  itself, the tracked root process's cumulative CPU seconds (one read of ``/proc/<pid>/stat``).
  Nothing else: it starts the thread ``lowcarb-energy-monitor``, which detects and opens the
  meters (``open()`` is never called on the caller's thread), then becomes the sampler if one is
  needed, or exits.
* Every meter reads cumulative joules from its zero. Counter meters (RAPL, NVML energy) count from
  their ``open()``. The CPU model counts from ``start()`` exactly: CPU times are cumulative, so its
  zero is re-based to the snapshot taken in ``start()``. The memory model holds its first RSS
  reading back to ``start()``. A meter says where its zero lies with ``zero_time_s``.
* The run window (returned by ``stop()``) counts each meter from its zero. A window begun with
  ``begin_window()`` before the meters were ready counts each meter from the moment it became
  ready. When that leaves more than 1% of the window (and over 10 ms) uncounted, the component's
  ``detail`` says so. ``end_window()`` and ``stop()`` wait for discovery (``discovery_timeout_s``).

The sampler thread runs only when a meter ``needs_sampling`` (it then calls ``sample()`` every
``sample_interval_s``) or asks for a slow periodic read through ``max_read_interval_s`` (RAPL,
whose counters wrap: read at least twice per wrap period, typically every few minutes). It sleeps
on a ``threading.Event``, never spins, and stops at once on ``stop()``.

Discovery notes are logged once per process: at WARNING when the user can act on them (RAPL
counters that need read access, a GPU driver without ``nvidia-ml-py``), else at INFO (a VM has no
counters: that is a labelled fallback, not a problem). Every measurement carries them in ``notes``.

Meter failures never escape: a failing ``open()`` drops the meter with a note; a failing
``read()``/``sample()`` keeps the meter's last reading and adds a note to every window that ends
afterwards. All public methods are thread-safe (one lock around meter calls and window state).

Optional meter hooks (``details()``, ``notes()``, ``max_read_interval_s``, ``zero_time_s``) are
described in :mod:`lowcarb.energy._slots`; discovery itself (opening the meters, giving each a
slot) is :mod:`lowcarb.energy._discovery`.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType

from lowcarb.energy._detect import detect_meters, parse_meter_names
from lowcarb.energy._discovery import MeterDetector, discover_meters, log_notes_once, meter_slot
from lowcarb.energy._meter import Meter
from lowcarb.energy._process import root_cpu_seconds
from lowcarb.energy._slots import MeterSlot, Window, measure
from lowcarb.energy._types import Measurement
from lowcarb.errors import InvalidValueError, MeterUnavailableError, UsageError

__all__ = ["EnergyMonitor"]

log = logging.getLogger(__name__)


def _close_all(meters: Iterable[Meter]) -> None:
    """Close each meter; a failing ``close()`` is logged at DEBUG, never raised."""
    for meter in meters:
        try:
            meter.close()
        except Exception:
            log.debug("closing meter %s failed", meter.name, exc_info=True)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EnergyMonitor:
    """Measure energy over a run and over named windows inside it (Zeus-like).

    Args:
        meters: Meters to use (opened on the background thread); None: detect them with
            ``detect`` on the background thread.
        pid: Root of the tracked process tree (default: this process).
        sample_interval_s: Sampling interval for meters that integrate power, seconds.
        clock: Monotonic clock for window edges, seconds.
        wall_clock: Timezone-aware UTC clock for ``Measurement.started_at``.
        environ: Environment for detection (``LOWCARB_METERS``); default ``os.environ``.
        detect: The detector (default :func:`~lowcarb.energy.detect_meters`).
        discovery_timeout_s: How long ``end_window()``/``stop()`` wait for meter discovery.
        run_name: Name of the measurement ``stop()`` returns.

    Raises:
        InvalidValueError: A non-positive interval or timeout.
        ConfigError: ``LOWCARB_METERS`` names an unknown meter.
    """

    def __init__(
        self,
        *,
        meters: Sequence[Meter] | None = None,
        pid: int | None = None,
        sample_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        environ: Mapping[str, str] | None = None,
        detect: MeterDetector = detect_meters,
        discovery_timeout_s: float = 30.0,
        run_name: str = "run",
    ) -> None:
        for label, value in (
            ("sample_interval_s", sample_interval_s),
            ("discovery_timeout_s", discovery_timeout_s),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidValueError(f"{label} must be a number > 0, got {value!r}")
        self._given = None if meters is None else tuple(meters)
        self._pid = os.getpid() if pid is None else pid
        self._interval_s = float(sample_interval_s)
        self._clock = clock
        self._wall_clock = wall_clock
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        if self._given is None:
            parse_meter_names(self._environ.get("LOWCARB_METERS"))  # fail fast, on this thread
        self._detect = detect
        self._timeout_s = float(discovery_timeout_s)
        self._run_name = run_name
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._ready_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._slots: list[MeterSlot] = []
        self._windows: dict[str, Window] = {}
        self._notes: list[tuple[float | None, str]] = []
        self._run: Window | None = None
        self._stopping = False
        self._final: tuple[float, dict[int, dict[str, float]]] | None = None
        self._result: Measurement | None = None
        self._sampling = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once the meters are open (or discovery has failed)."""
        return self._ready_event.is_set()

    @property
    def sampling(self) -> bool:
        """True while the background sampler loop runs."""
        return self._sampling

    @property
    def meters(self) -> tuple[Meter, ...]:
        """The meters in use (empty until ready)."""
        with self._lock:
            return tuple(s.meter for s in self._slots)

    @property
    def notes(self) -> tuple[str, ...]:
        """Notes so far: fallbacks taken, meters that failed."""
        with self._lock:
            return tuple(text for _, text in self._notes)

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """Block until the meters are open; False on timeout."""
        return self._ready_event.wait(timeout_s)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> EnergyMonitor:
        """Record the start edge and hand discovery to a background thread. Returns at once.

        Raises:
            UsageError: Already started.
            InvalidValueError: ``pid`` is not a running process (only checked when detecting).
        """
        with self._lock:
            if self._run is not None:
                raise UsageError("this EnergyMonitor is already started; create a new one")
            start_s = self._clock()
            started_at = self._wall_clock()
            start_cpu_s: float | None = None
            if self._given is None:
                try:
                    start_cpu_s = root_cpu_seconds(self._pid)
                except MeterUnavailableError:
                    raise InvalidValueError(
                        f"no process with pid {self._pid!r} to measure; give a running process"
                    ) from None
            self._run = Window(self._run_name, start_s, started_at, from_zero=True)
            self._thread = threading.Thread(
                target=self._background,
                args=(start_s, start_cpu_s),
                name="lowcarb-energy-monitor",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> Measurement:
        """Stop sampling, read every meter once more, close them; the whole run's measurement.

        Idempotent: a second call returns the same measurement. Never raises for meter failures
        (they are in ``notes``).

        Raises:
            UsageError: Not started.
        """
        with self._lock:
            if self._run is None:
                raise UsageError("EnergyMonitor.stop() called before start()")
            if self._result is not None:
                return self._result
            self._stopping = True
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join(self._timeout_s)
        with self._lock:
            if self._result is not None:  # a concurrent stop() finished first
                return self._result
            end_s = self._clock()
            if not self._ready_event.is_set():
                self._notes.append(
                    (
                        None,
                        f"meter discovery had not finished after {self._timeout_s:g} s; "
                        "no energy was measured",
                    )
                )
            readings = self._read_all(end_s)
            self._final = (end_s, readings)
            _close_all(slot.meter for slot in self._slots)
            self._result = self._measure(self._run, end_s, readings)
            return self._result

    def peek(self) -> Measurement:
        """The whole run's measurement so far, without stopping (a budget watchdog reads this).

        Before meter discovery has finished it is zero joules (and says so in ``notes``).

        Raises:
            UsageError: Not started, or already stopped.
        """
        with self._lock:
            if self._run is None or self._stopping:
                raise UsageError("EnergyMonitor.peek() needs a running monitor")
            end_s = self._clock()
            readings = self._read_all(end_s) if self._ready_event.is_set() else {}
            return self._measure(self._run, end_s, readings)

    def __enter__(self) -> EnergyMonitor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- windows -------------------------------------------------------------------------------
    def begin_window(self, name: str) -> None:
        """Open a named window. Windows nest and overlap freely; names must be unique while open.

        Raises:
            UsageError: Not started, stopped, or a window of that name is already open.
        """
        with self._lock:
            if self._run is None or self._stopping:
                raise UsageError(f"cannot begin window {name!r}: the monitor is not running")
            if name in self._windows:
                raise UsageError(f"window {name!r} is already open; end it first")
            window = Window(name, self._clock(), self._wall_clock(), from_zero=False)
            if self._ready_event.is_set():
                readings = self._read_all(window.begin_s)
                window.zeros = {i: dict(r) for i, r in readings.items()}
            self._windows[name] = window

    def end_window(self, name: str) -> Measurement:
        """Close a named window and return its measurement.

        Raises:
            UsageError: No open window of that name.
        """
        if self._run is not None and not self._stopping:
            self._ready_event.wait(self._timeout_s)
        with self._lock:
            window = self._windows.pop(name, None)
            if window is None:
                open_names = ", ".join(map(repr, self._windows)) or "none"
                raise UsageError(f"no open window {name!r} (open windows: {open_names})")
            if self._final is not None:
                end_s, readings = self._final
            else:
                end_s = self._clock()
                readings = self._read_all(end_s)
            return self._measure(window, end_s, readings)

    # -- background thread ---------------------------------------------------------------------
    def _background(self, start_s: float, start_cpu_s: float | None) -> None:
        meters, notes, warnings = discover_meters(
            self._given,
            detect=self._detect,
            pid=self._pid,
            environ=self._environ,
            clock=self._clock,
            start_s=start_s,
            start_cpu_s=start_cpu_s,
        )
        with self._lock:
            if self._final is not None:  # stop() gave up waiting: nobody will close them
                _close_all(meters)
                return
            self._publish(meters, notes)
        self._ready_event.set()
        log_notes_once(log, notes, warnings)
        self._sample_loop()

    def _publish(self, meters: list[Meter], notes: list[str]) -> None:
        now = self._clock()
        self._notes.extend((None, n) for n in notes)
        taken: set[str] = set()
        for meter in meters:
            slot = meter_slot(
                meter,
                interval_s=self._interval_s,
                now_s=now,
                taken=taken,
                note=lambda text: self._notes.append((None, text)),
            )
            if slot is not None:
                self._slots.append(slot)
        first = self._read_all(now)
        for window in self._windows.values():  # begun before the meters were ready
            window.zeros = {i: dict(r) for i, r in first.items()}

    def _sample_loop(self) -> None:
        timer = time.monotonic  # real time: the injected clock may be a test's frozen clock
        due = {i: timer() + s.period_s for i, s in enumerate(self._slots) if s.period_s}
        if not due:
            return
        self._sampling = True
        try:
            while not self._stop_event.wait(max(0.0, min(due.values()) - timer())):
                now = timer()
                with self._lock:
                    if self._stopping:
                        break
                    for i, at in due.items():
                        if at <= now:
                            self._touch(
                                i, sample=self._slots[i].meter.needs_sampling, at_s=self._clock()
                            )
                            due[i] = now + (self._slots[i].period_s or self._interval_s)
        finally:
            self._sampling = False

    # -- meter calls (under the lock) ----------------------------------------------------------
    def _note(self, text: str, at_s: float) -> None:
        if all(text != t for _, t in self._notes):
            self._notes.append((at_s, text))

    def _touch(self, index: int, *, sample: bool, at_s: float) -> None:
        for text in self._slots[index].touch(sample=sample):
            self._note(text, at_s)

    def _read_all(self, at_s: float) -> dict[int, dict[str, float]]:
        """Read every meter; notes raised meanwhile are stamped ``at_s`` (the window edge)."""
        out: dict[int, dict[str, float]] = {}
        for i, slot in enumerate(self._slots):
            for text in slot.touch(sample=False, with_details=True):
                self._note(text, at_s)
            out[i] = dict(slot.last)
        return out

    def _measure(
        self, window: Window, end_s: float, readings: Mapping[int, Mapping[str, float]]
    ) -> Measurement:
        return measure(window, self._slots, self._notes, end_s, readings)
