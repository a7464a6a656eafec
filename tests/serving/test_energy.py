"""The batch energy meter: Tracker readings, carried forward by process CPU time in between."""

from __future__ import annotations

import pytest

from lowcarb.energy import FakeMeter
from lowcarb.serving import TrackerEnergy


class _Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_estimated_readings_are_carried_forward_by_cpu_time_between_refreshes() -> None:
    wall, cpu, mono = _Clock(100.0), _Clock(0.0), _Clock(0.0)
    meter = FakeMeter(power_w={"cpu": 10.0}, clock=wall, method="estimated")
    energy = TrackerEnergy(
        zone="FR", environ={}, meters=[meter], refresh_s=0.5, cpu_clock=cpu, monotonic=mono
    )
    energy.start()
    try:
        first, method = energy.read()  # a Tracker reading
        wall.now += 1.0
        cpu.now += 1.0
        mono.now += 1.0
        second, _ = energy.read()  # a Tracker reading again: 10 J in 1 CPU-second
        assert second - first == pytest.approx(10.0) and method == "estimated"
        wall.now += 0.1
        cpu.now += 0.05
        mono.now += 0.1
        third, _ = energy.read()  # within refresh_s: carried forward, no Tracker reading
        assert third - second == pytest.approx(0.5)  # 0.05 CPU-s x 10 J per CPU-s
        mono.now += 1.0
        wall.now += 1.0
        fourth, _ = energy.read()  # a fresh reading; never backwards
        assert fourth >= third
    finally:
        energy.stop()


def test_measured_readings_are_read_every_time() -> None:
    wall, cpu, mono = _Clock(100.0), _Clock(0.0), _Clock(0.0)
    meter = FakeMeter(power_w={"cpu": 10.0}, clock=wall, method="measured")
    energy = TrackerEnergy(
        zone="FR", environ={}, meters=[meter], refresh_s=10.0, cpu_clock=cpu, monotonic=mono
    )
    energy.start()
    try:
        first, method = energy.read()
        wall.now += 2.0  # no CPU time passes: a counter still counts
        second, _ = energy.read()
        assert method == "measured" and second - first == pytest.approx(20.0)
    finally:
        energy.stop()
