"""MemoryModelMeter with an injected clock and RSS, and against this process."""

from __future__ import annotations

import os

import pytest

from lowcarb.energy import MEMORY_W_PER_GB, MemoryModelMeter
from lowcarb.errors import InvalidValueError


class Script:
    """An injected clock and RSS, advanced by the test."""

    def __init__(self) -> None:
        self.t = 0.0
        self.rss = 0

    def clock(self) -> float:
        return self.t

    def rss_bytes(self) -> int:
        return self.rss


def test_rss_is_integrated_by_trapezoids() -> None:
    s = Script()
    s.rss = 1_000_000_000
    meter = MemoryModelMeter(rss_bytes=s.rss_bytes, clock=s.clock)
    meter.open()
    assert meter.needs_sampling is True
    assert meter.components() == {"ram": ("estimated", "model:memory-rss(0.392 W/GB)")}
    s.t, s.rss = 10.0, 3_000_000_000
    meter.sample()  # mean 2 GB over 10 s
    assert meter.read() == {"ram": pytest.approx(0.392 * 2 * 10)}
    s.t = 20.0  # 3 GB held for 10 more seconds
    assert meter.read() == {"ram": pytest.approx(0.392 * 2 * 10 + 0.392 * 3 * 10)}
    assert meter.peak_rss_bytes == 3_000_000_000
    assert "Cloud Carbon Footprint" in meter.details()["ram"]


def test_first_reading_is_held_back_to_the_monitor_start() -> None:
    s = Script()
    s.t, s.rss = 5.0, 2_000_000_000
    meter = MemoryModelMeter(rss_bytes=s.rss_bytes, clock=s.clock, start_clock_s=0.0)
    meter.open()
    assert meter.zero_time_s == 0.0
    assert meter.read() == {"ram": pytest.approx(MEMORY_W_PER_GB * 2 * 5)}


def test_custom_coefficient_and_validation() -> None:
    s = Script()
    s.rss = 1_000_000_000
    meter = MemoryModelMeter(rss_bytes=s.rss_bytes, clock=s.clock, w_per_gb=1.0)
    meter.open()
    s.t = 4.0
    assert meter.read() == {"ram": pytest.approx(4.0)}
    assert meter.components()["ram"][1] == "model:memory-rss(1 W/GB)"
    with pytest.raises(InvalidValueError, match="-1"):
        MemoryModelMeter(w_per_gb=-1)


def test_real_process_tree_rss() -> None:
    meter = MemoryModelMeter(pid=os.getpid())
    meter.open()
    meter.sample()
    assert meter.peak_rss_bytes > 5_000_000
    assert meter.read()["ram"] >= 0.0
