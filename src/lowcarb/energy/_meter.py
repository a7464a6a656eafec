"""The meter interface every energy source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from lowcarb.energy._types import Method

__all__ = ["Meter"]


class Meter(ABC):
    """A source of cumulative energy, in joules, for one or more components.

    Contract:
        * ``read()`` returns, per component name, the energy in joules accumulated since the
          meter was opened (monotonic non-decreasing; counter wraparound is the meter's job).
          A window's energy is the difference of two reads, so nested windows are free.
        * Meters that read a hardware counter are cheap to read at window edges and set
          ``needs_sampling = False``. Meters that must integrate power (power samples, resident
          memory) set ``needs_sampling = True``; the tracker's background sampler then calls
          ``sample()`` every ``interval_s``. ``read()`` also integrates up to the moment it is
          called, so window edges are exact.
        * ``open()`` may do hardware discovery; it is called from the tracker's background
          thread or lazily, never on ``Tracker.start()``'s critical path.
        * Methods are called from at most one thread at a time (the tracker holds a lock).
        * ``method`` and ``source`` per component never change after ``open()``.

    Optional hooks (defaults below; the monitor treats a failing hook as absent):
        * ``max_read_interval_s``: read at least this often even when no sampling is needed (a
          counter that wraps, like RAPL's ``max_energy_range_uj``); None for never.
        * ``zero_time_s``: the monitor-clock time the meter's zero corresponds to, when it can
          re-base its zero before ``open()`` (cumulative CPU times); None for "when opened".
        * ``details()``: per component, provenance text (coefficients, attribution caveats).
        * ``notes()``: failures so far (a GPU lost mid-run), oldest first; only ever appended to.
    """

    #: True when the meter must be sampled periodically to integrate power.
    needs_sampling: bool = False
    #: Read at least this often (seconds), or None.
    max_read_interval_s: float | None = None
    #: Monitor-clock time of the meter's zero, or None for the moment ``open()`` returned.
    zero_time_s: float | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """Short meter name, e.g. ``"rapl"``, ``"nvml"``, ``"cpu-model"``."""

    @abstractmethod
    def open(self) -> None:
        """Discover hardware and take the zero reading. Raises MeterUnavailableError."""

    @abstractmethod
    def components(self) -> Mapping[str, tuple[Method, str]]:
        """Per component: (method, source). Valid after ``open()``."""

    @abstractmethod
    def read(self) -> Mapping[str, float]:
        """Cumulative joules per component since ``open()``."""

    def details(self) -> Mapping[str, str]:
        """Per-component provenance text (empty by default)."""
        return {}

    def notes(self) -> Sequence[str]:
        """Failures so far, oldest first (none by default)."""
        return ()

    def sample(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Integrate power up to now (only for ``needs_sampling`` meters)."""

    def close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release handles (NVML shutdown, file handles)."""
