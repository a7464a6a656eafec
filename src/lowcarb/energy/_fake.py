"""A deterministic, programmable meter: public API, so users test their code without hardware."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from lowcarb.energy._meter import Meter
from lowcarb.energy._types import Method
from lowcarb.errors import InvalidValueError

__all__ = ["FakeMeter"]


class FakeMeter(Meter):
    """A meter whose readings are programmed.

    Two modes:

    * ``power_w={"cpu": 10.0}``: constant power per component on ``clock``; ``read()`` returns
      ``power * (clock() - clock at open())``. With an injected clock the joules are exact.
    * ``readings=[{"cpu": 0.0}, {"cpu": 5.0}, ...]``: each ``read()`` returns the next scripted
      cumulative reading (the last one repeats once the script runs out).

    Failures and timing can be scripted too: ``open_error`` makes ``open()`` raise,
    ``read_error`` (settable at any time) makes ``read()`` and ``sample()`` raise, and
    ``open_gate`` makes ``open()`` wait until the event is set (a slow hardware discovery).

    For assertions it records ``open_calls``, ``read_calls``, ``sample_calls``, ``closed`` and
    ``open_thread`` (the ``threading.get_ident()`` of the thread that opened it).

    Args:
        power_w: Watts per component (power mode).
        readings: Scripted cumulative joules per read (scripted mode).
        clock: Monotonic clock for power mode, seconds.
        method: Method reported for every component.
        source: Source reported for every component.
        name: Meter name.
        needs_sampling: Whether the monitor should run its sampler for this meter.
        open_error: Raised by ``open()`` when set.
        open_gate: ``open()`` waits for this event first.
        max_read_interval_s: Ask the monitor to read at least this often (like RAPL).
    """

    def __init__(
        self,
        *,
        power_w: Mapping[str, float] | None = None,
        readings: Sequence[Mapping[str, float]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        method: Method = "measured",
        source: str = "fake",
        name: str = "fake",
        needs_sampling: bool = False,
        open_error: Exception | None = None,
        open_gate: threading.Event | None = None,
        max_read_interval_s: float | None = None,
    ) -> None:
        if (power_w is None) == (readings is None):
            raise InvalidValueError("FakeMeter needs exactly one of power_w= or readings=")
        if readings is not None and not readings:
            raise InvalidValueError("FakeMeter readings= must hold at least one reading")
        self._power_w = dict(power_w) if power_w is not None else None
        self._readings = [dict(r) for r in readings] if readings is not None else None
        self._clock = clock
        self._method: Method = method
        self._source = source
        self._name = name
        self.needs_sampling = needs_sampling
        self.max_read_interval_s = max_read_interval_s
        self.open_error = open_error
        self.open_gate = open_gate
        self.read_error: Exception | None = None
        self.open_calls = 0
        self.read_calls = 0
        self.sample_calls = 0
        self.closed = False
        self.open_thread: int | None = None
        self._t0 = 0.0

    @property
    def name(self) -> str:
        return self._name

    def _names(self) -> list[str]:
        if self._power_w is not None:
            return list(self._power_w)
        assert self._readings is not None
        names: dict[str, None] = {}
        for r in self._readings:
            names.update(dict.fromkeys(r))
        return list(names)

    def open(self) -> None:
        """Record the call, wait for ``open_gate``, raise ``open_error``, start the clock."""
        self.open_calls += 1
        self.open_thread = threading.get_ident()
        if self.open_gate is not None:
            self.open_gate.wait()
        if self.open_error is not None:
            raise self.open_error
        self._t0 = self._clock()

    def components(self) -> Mapping[str, tuple[Method, str]]:
        return {n: (self._method, self._source) for n in self._names()}

    def details(self) -> Mapping[str, str]:
        """Says the figures are programmed, so no one mistakes them for a measurement."""
        return dict.fromkeys(self._names(), "programmed test meter (FakeMeter)")

    def read(self) -> Mapping[str, float]:
        """The programmed cumulative joules.

        Raises:
            Exception: ``read_error`` when set.
        """
        self.read_calls += 1
        if self.read_error is not None:
            raise self.read_error
        if self._power_w is not None:
            elapsed = self._clock() - self._t0
            return {n: w * elapsed for n, w in self._power_w.items()}
        assert self._readings is not None
        reading = self._readings[min(self.read_calls - 1, len(self._readings) - 1)]
        return {n: reading.get(n, 0.0) for n in self._names()}

    def sample(self) -> None:
        """Count the call (raises ``read_error`` when set)."""
        self.sample_calls += 1
        if self.read_error is not None:
            raise self.read_error

    def close(self) -> None:
        self.closed = True
