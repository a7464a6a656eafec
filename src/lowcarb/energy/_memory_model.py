"""Memory energy estimated from the tracked process tree's resident memory.

``P = MEMORY_W_PER_GB * RSS_GB``, integrated over time (trapezoids between samples). The
coefficient is Cloud Carbon Footprint's memory coefficient, 0.392 W per GB (0.000392 kWh per
GB-hour; CCF methodology 2021, "Memory"). GB here is 10**9 bytes: CCF does not distinguish GB
from GiB, and the 7% difference is far inside the coefficient's own uncertainty.

What is charged is the memory the tree holds (RSS, see :mod:`lowcarb.energy._process`), not the
installed DIMMs: no DIMM count is guessed. Charging by residency rather than access rate follows
CCF's allocation rule: the tree pays for the share of memory it keeps occupied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from lowcarb.energy._meter import Meter
from lowcarb.energy._process import ProcessTree
from lowcarb.energy._types import Method
from lowcarb.errors import InvalidValueError, MeterUnavailableError

__all__ = ["MEMORY_W_PER_GB", "MemoryModelMeter"]

#: Watts per GB of resident memory. Cloud Carbon Footprint, Methodology (2021), "Memory":
#: 0.000392 kWh per GB-hour.
MEMORY_W_PER_GB = 0.392
_MEMORY_SOURCE = "Cloud Carbon Footprint methodology (2021), memory coefficient 0.392 W/GB"
_BYTES_PER_GB = 1e9


class MemoryModelMeter(Meter):
    """Estimated energy of the memory resident in the tracked process tree (component ``ram``).

    Needs sampling: RSS is integrated over time by the monitor's sampler; ``read()`` integrates up
    to the moment it is called. Method ``estimated``; source ``"model:memory-rss(0.392 W/GB)"``.

    Args:
        pid: Root of the tracked tree (default: this process); unused with ``tree``/``rss_bytes``.
        tree: A shared :class:`ProcessTree`.
        rss_bytes: Returns the current RSS in bytes (injected in tests; default: the tree's).
        w_per_gb: Watts per GB (10**9 bytes) of resident memory.
        clock: Monotonic clock, seconds.
        start_clock_s: The monitor's start time. The first RSS reading, taken in ``open()``, is
            assumed to have held since then, so the time spent on discovery is covered.
    """

    needs_sampling = True

    def __init__(
        self,
        *,
        pid: int | None = None,
        tree: ProcessTree | None = None,
        rss_bytes: Callable[[], int] | None = None,
        w_per_gb: float = MEMORY_W_PER_GB,
        clock: Callable[[], float] = time.monotonic,
        start_clock_s: float | None = None,
    ) -> None:
        if not w_per_gb >= 0:
            raise InvalidValueError(f"w_per_gb must be a number >= 0, got {w_per_gb!r}")
        self._pid = pid
        self._tree = tree
        self._rss = rss_bytes
        self._w_per_gb = w_per_gb
        self._clock = clock
        #: Clock time the zero corresponds to (None: the moment ``open()`` ran).
        self.zero_time_s = start_clock_s
        self._energy_j = 0.0
        self._last: tuple[float, int] | None = None
        self.peak_rss_bytes = 0

    @property
    def name(self) -> str:
        return "memory-model"

    def _current_rss(self) -> int:
        if self._rss is not None:
            return self._rss()
        if self._tree is None:
            raise MeterUnavailableError("memory-model meter used before open()")
        return self._tree.poll().rss_bytes

    def open(self) -> None:
        """Take the first RSS reading.

        Raises:
            MeterUnavailableError: The tracked process does not exist.
        """
        if self._rss is None and self._tree is None:
            self._tree = ProcessTree(self._pid)
        now = self._clock()
        rss = self._current_rss()
        self.peak_rss_bytes = rss
        self._energy_j = 0.0
        if self.zero_time_s is not None and self.zero_time_s < now:
            self._energy_j = self._w_per_gb * rss / _BYTES_PER_GB * (now - self.zero_time_s)
        self._last = (now, rss)

    def components(self) -> Mapping[str, tuple[Method, str]]:
        return {"ram": ("estimated", f"model:memory-rss({self._w_per_gb:g} W/GB)")}

    def details(self) -> Mapping[str, str]:
        """The coefficient, its source and what it is applied to."""
        return {
            "ram": f"{self._w_per_gb:g} W per GB of resident memory (RSS) of the tracked process "
            f"tree, integrated over time ({_MEMORY_SOURCE}); peak RSS "
            f"{self.peak_rss_bytes / _BYTES_PER_GB:.3g} GB"
        }

    def sample(self) -> None:
        """Integrate from the previous sample to now (trapezoid)."""
        if self._last is None:
            raise MeterUnavailableError("memory-model meter used before open()")
        now = self._clock()
        rss = self._current_rss()
        t0, rss0 = self._last
        if now > t0:
            mean_gb = (rss0 + rss) / 2 / _BYTES_PER_GB
            self._energy_j += self._w_per_gb * mean_gb * (now - t0)
            self._last = (now, rss)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)

    def read(self) -> Mapping[str, float]:
        """Cumulative estimated joules, integrated up to now."""
        self.sample()
        return {"ram": self._energy_j}

    def close(self) -> None:
        """Release the process tree's kept file descriptors."""
        if self._tree is not None:
            self._tree.close()
