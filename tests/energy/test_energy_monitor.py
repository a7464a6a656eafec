"""EnergyMonitor: windows, background discovery, the sampler, failures, with FakeMeter."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest

from lowcarb.energy import DetectedMeters, EnergyMonitor, FakeMeter, Measurement
from lowcarb.errors import ConfigError, InvalidValueError, MeterError, UsageError

WALL = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def energies(m: Measurement) -> dict[str, float]:
    return {c.name: c.energy_j for c in m.components}


def ready_monitor(clock: Clock, *meters: FakeMeter, **kwargs: object) -> EnergyMonitor:
    monitor = EnergyMonitor(meters=list(meters), clock=clock, wall_clock=lambda: WALL, **kwargs)  # type: ignore[arg-type]
    monitor.start()
    assert monitor.wait_ready(5)
    return monitor


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_windows_nest_and_overlap_with_exact_joules() -> None:
    clock = Clock()
    cpu = FakeMeter(power_w={"cpu": 10.0}, clock=clock, method="estimated", source="fake:cpu")
    gpu = FakeMeter(power_w={"gpu:0": 100.0}, clock=clock, source="fake:gpu")
    monitor = ready_monitor(clock, cpu, gpu)
    clock.t = 2.0
    monitor.begin_window("outer")
    clock.t = 5.0
    monitor.begin_window("inner")
    clock.t = 6.0
    inner = monitor.end_window("inner")
    clock.t = 7.0
    monitor.begin_window("overlap")
    clock.t = 9.0
    outer = monitor.end_window("outer")
    clock.t = 10.0
    overlap = monitor.end_window("overlap")
    clock.t = 12.0
    run = monitor.stop()

    assert (inner.name, inner.duration_s, energies(inner)) == (
        "inner",
        1.0,
        {"cpu": 10.0, "gpu:0": 100.0},
    )
    assert energies(outer) == {"cpu": 70.0, "gpu:0": 700.0}
    assert energies(overlap) == {"cpu": 30.0, "gpu:0": 300.0}
    assert run.name == "run"
    assert run.duration_s == 12.0
    assert energies(run) == {"cpu": 120.0, "gpu:0": 1200.0}
    assert run.started_at == WALL
    by_name = {c.name: c for c in run.components}
    assert (by_name["cpu"].method, by_name["cpu"].source) == ("estimated", "fake:cpu")
    assert (by_name["gpu:0"].method, by_name["gpu:0"].source) == ("measured", "fake:gpu")
    assert run.method == "estimated"
    assert run.notes == ()
    assert cpu.closed and gpu.closed


def test_start_returns_before_discovery_and_never_opens_on_the_caller_thread() -> None:
    clock = Clock()
    gate = threading.Event()
    meter = FakeMeter(power_w={"cpu": 10.0}, clock=clock, open_gate=gate)
    monitor = EnergyMonitor(meters=[meter], clock=clock)
    monitor.start()
    # The proof is structural: open() is still blocked and start() has returned anyway. How
    # long start() takes is measured by benchmarks/overhead.py, not asserted here.
    assert not monitor.ready
    clock.t = 1.0
    monitor.begin_window("early")  # before the meters are ready
    clock.t = 3.0
    gate.set()
    assert monitor.wait_ready(5)
    assert meter.open_thread is not None
    assert meter.open_thread != threading.get_ident()
    clock.t = 4.0
    early = monitor.end_window("early")
    clock.t = 5.0
    run = monitor.stop()
    # Counters count from the moment the meter became ready (t=3), and the detail says so.
    assert energies(early) == {"cpu": 10.0}
    assert "counting began 2 s after the window began" in early.components[0].detail
    assert energies(run) == {"cpu": 20.0}
    assert "counting began 3 s after" in run.components[0].detail


def test_detector_runs_in_the_background_with_the_start_snapshot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lowcarb.energy")
    clock = Clock()
    clock.t = 50.0
    gate = threading.Event()
    calls: list[dict[str, object]] = []
    meter = FakeMeter(power_w={"cpu": 1.0}, clock=clock)

    def detect(**kwargs: object) -> DetectedMeters:
        calls.append({**kwargs, "thread": threading.get_ident()})
        gate.wait()
        return DetectedMeters(
            meters=(meter,),
            notes=("fallback: test note 7f3a", "info: test note 7f3b"),
            warnings=("fallback: test note 7f3a",),
        )

    runs = []
    for _ in range(2):
        monitor = EnergyMonitor(clock=clock, detect=detect, environ={})
        monitor.start()
        assert not monitor.ready
        gate.set()
        assert monitor.wait_ready(5)
        runs.append(monitor.stop())
        gate.clear()
    assert calls[0]["thread"] != threading.get_ident()
    assert calls[0]["start_clock_s"] == 50.0
    assert isinstance(calls[0]["start_cpu_s"], float)
    assert all("fallback: test note 7f3a" in r.notes for r in runs)
    warnings = [r for r in caplog.records if "test note 7f3a" in r.getMessage()]
    assert len(warnings) == 1  # logged once per process, noted in every measurement
    assert warnings[0].levelno == logging.WARNING
    infos = [r for r in caplog.records if "test note 7f3b" in r.getMessage()]
    assert [r.levelno for r in infos] == [logging.INFO]


def test_no_sampler_thread_when_no_meter_needs_sampling() -> None:
    meter = FakeMeter(power_w={"cpu": 1.0})
    monitor = EnergyMonitor(meters=[meter])
    monitor.start()
    assert monitor.wait_ready(5)
    assert wait_until(
        lambda: not any(t.name == "lowcarb-energy-monitor" for t in threading.enumerate())
    )
    time.sleep(0.05)
    assert monitor.sampling is False
    assert meter.sample_calls == 0
    monitor.stop()


def test_sampler_runs_at_the_interval_and_stops_with_stop() -> None:
    meter = FakeMeter(power_w={"ram": 1.0}, needs_sampling=True)
    monitor = EnergyMonitor(meters=[meter], sample_interval_s=0.01)
    monitor.start()
    assert wait_until(lambda: meter.sample_calls >= 5)
    assert monitor.sampling is True
    monitor.stop()
    calls = meter.sample_calls
    assert monitor.sampling is False
    assert not any(t.name == "lowcarb-energy-monitor" for t in threading.enumerate())
    time.sleep(0.05)
    assert meter.sample_calls == calls


def test_counter_meter_with_a_wrap_period_is_read_slowly() -> None:
    meter = FakeMeter(power_w={"cpu": 1.0}, max_read_interval_s=0.01)
    monitor = EnergyMonitor(meters=[meter], sample_interval_s=100.0)
    monitor.start()
    assert wait_until(lambda: meter.read_calls >= 5)
    assert meter.sample_calls == 0
    monitor.stop()


def test_meter_failing_mid_run_becomes_a_note_not_an_exception() -> None:
    clock = Clock()
    good = FakeMeter(power_w={"cpu": 10.0}, clock=clock)
    flaky = FakeMeter(power_w={"gpu:0": 100.0}, clock=clock, name="flaky")
    monitor = ready_monitor(clock, good, flaky)
    clock.t = 1.0
    monitor.begin_window("before")
    before = monitor.end_window("before")
    clock.t = 2.0
    flaky.read_error = MeterError("device gone")
    clock.t = 3.0
    run = monitor.stop()
    assert before.notes == ()
    assert energies(run) == {"cpu": 30.0, "gpu:0": 100.0}  # gpu keeps its last reading (t=1)
    assert len(run.notes) == 1
    assert "'flaky' failed (MeterError: device gone)" in run.notes[0]


def test_meter_failing_to_open_is_dropped_with_a_note() -> None:
    clock = Clock()
    good = FakeMeter(power_w={"cpu": 10.0}, clock=clock)
    broken = FakeMeter(
        power_w={"gpu:0": 1.0}, name="broken", open_error=RuntimeError("no such device")
    )
    monitor = ready_monitor(clock, good, broken)
    clock.t = 2.0
    run = monitor.stop()
    assert energies(run) == {"cpu": 20.0}
    assert run.notes == ("meter 'broken' not used: RuntimeError: no such device",)


def test_duplicate_component_names_are_kept_apart() -> None:
    clock = Clock()
    a = FakeMeter(power_w={"cpu": 1.0}, clock=clock, name="a")
    b = FakeMeter(power_w={"cpu": 2.0}, clock=clock, name="b")
    monitor = ready_monitor(clock, a, b)
    clock.t = 1.0
    run = monitor.stop()
    assert energies(run) == {"cpu": 1.0, "cpu@b": 2.0}
    assert any("two meters report 'cpu'" in n for n in run.notes)


def test_usage_errors_and_idempotent_stop() -> None:
    clock = Clock()
    monitor = EnergyMonitor(meters=[FakeMeter(power_w={"cpu": 1.0}, clock=clock)], clock=clock)
    with pytest.raises(UsageError):
        monitor.stop()
    with pytest.raises(UsageError):
        monitor.begin_window("w")
    monitor.start()
    with pytest.raises(UsageError, match="already started"):
        monitor.start()
    monitor.begin_window("w")
    with pytest.raises(UsageError, match="already open"):
        monitor.begin_window("w")
    with pytest.raises(UsageError, match="no open window 'x'"):
        monitor.end_window("x")
    clock.t = 4.0
    run = monitor.stop()
    assert monitor.stop() is run
    clock.t = 9.0
    late = monitor.end_window("w")  # a window left open ends at stop()
    assert late.duration_s == 4.0
    with pytest.raises(UsageError):
        monitor.begin_window("after")


def test_bad_arguments_fail_fast() -> None:
    with pytest.raises(InvalidValueError, match="sample_interval_s"):
        EnergyMonitor(sample_interval_s=0)
    with pytest.raises(ConfigError, match="'gpu'"):
        EnergyMonitor(environ={"LOWCARB_METERS": "rapl,gpu"})
    with pytest.raises(InvalidValueError, match="no process with pid"):
        EnergyMonitor(pid=2**22 + 12345, environ={}).start()


def test_concurrent_windows_from_several_threads() -> None:
    meter = FakeMeter(power_w={"cpu": 5.0}, needs_sampling=True)
    monitor = EnergyMonitor(meters=[meter], sample_interval_s=0.001)
    monitor.start()
    errors: list[BaseException] = []
    results: list[Mapping[str, float]] = []

    def worker(k: int) -> None:
        try:
            for i in range(50):
                monitor.begin_window(f"w{k}-{i}")
                results.append(energies(monitor.end_window(f"w{k}-{i}")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run = monitor.stop()
    assert errors == []
    assert len(results) == 200
    assert all(r["cpu"] >= 0.0 for r in results)
    assert energies(run)["cpu"] > 0.0


def test_fake_meter_scripted_readings_and_validation() -> None:
    meter = FakeMeter(readings=[{"cpu": 1.0}, {"cpu": 4.0, "ram": 2.0}], source="script")
    meter.open()
    assert meter.components() == {"cpu": ("measured", "script"), "ram": ("measured", "script")}
    assert meter.read() == {"cpu": 1.0, "ram": 0.0}
    assert meter.read() == {"cpu": 4.0, "ram": 2.0}
    assert meter.read() == {"cpu": 4.0, "ram": 2.0}  # the last reading repeats
    with pytest.raises(InvalidValueError, match="exactly one"):
        FakeMeter()
    with pytest.raises(InvalidValueError, match="exactly one"):
        FakeMeter(power_w={"cpu": 1.0}, readings=[{"cpu": 1.0}])
    with pytest.raises(InvalidValueError, match="at least one"):
        FakeMeter(readings=[])
