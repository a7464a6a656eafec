"""NvmlMeter against a fake pynvml module (and a real GPU when one is present)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from lowcarb.energy import EnergyMonitor, NvmlMeter, ProcessTree
from lowcarb.errors import MeterUnavailableError, MissingDependencyError

NOT_SUPPORTED = 3
GPU_IS_LOST = 15


class FakeNVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {NOT_SUPPORTED: "Not Supported", GPU_IS_LOST: "GPU is lost"}.get(
            self.value, f"error {self.value}"
        )


@dataclass
class FakeGpu:
    name: str = "NVIDIA A100-SXM4-40GB"
    energy_mj: int | None = 1_000_000  # None: no total-energy counter (pre-Volta)
    power_mw: int = 100_000
    lost: bool = False
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes)
    utilisation: list[tuple[int, int]] = field(default_factory=list)  # (pid, SM %)


class FakeNvml:
    """The slice of pynvml that NvmlMeter uses."""

    NVMLError = FakeNVMLError

    def __init__(self, gpus: list[FakeGpu], *, init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.initialised = 0

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise FakeNVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.initialised -= 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def _check(self, gpu: FakeGpu) -> None:
        if gpu.lost:
            raise FakeNVMLError(GPU_IS_LOST)

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> bytes:
        return gpu.name.encode()

    def nvmlDeviceGetTotalEnergyConsumption(self, gpu: FakeGpu) -> int:
        self._check(gpu)
        if gpu.energy_mj is None:
            raise FakeNVMLError(NOT_SUPPORTED)
        return gpu.energy_mj

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        self._check(gpu)
        return gpu.power_mw

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: FakeGpu) -> list[Any]:
        self._check(gpu)
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in gpu.processes]

    def nvmlDeviceGetProcessUtilization(self, gpu: FakeGpu, last_seen: int) -> list[Any]:
        self._check(gpu)
        if not gpu.utilisation:
            raise FakeNVMLError(NOT_SUPPORTED)
        return [
            SimpleNamespace(pid=p, timeStamp=last_seen + 1, smUtil=sm, memUtil=0)
            for p, sm in gpu.utilisation
        ]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_total_energy_counter() -> None:
    gpu = FakeGpu()
    nvml = FakeNvml([gpu])
    meter = NvmlMeter(nvml=nvml)
    meter.open()
    assert meter.needs_sampling is False
    assert meter.components() == {
        "gpu:0": ("measured", "nvml:total_energy_consumption (NVIDIA A100-SXM4-40GB)")
    }
    gpu.energy_mj = 1_250_000
    assert meter.read() == {"gpu:0": 250.0}
    assert "whole GPU" in meter.details()["gpu:0"]
    meter.close()
    assert nvml.initialised == 0


def test_power_samples_are_integrated_when_no_counter() -> None:
    clock = Clock()
    gpu = FakeGpu(name="Tesla P100", energy_mj=None, power_mw=100_000)
    meter = NvmlMeter(nvml=FakeNvml([gpu]), clock=clock)
    meter.open()  # t=0, 100 W
    assert meter.needs_sampling is True
    method, source = meter.components()["gpu:0"]
    assert method == "measured"
    assert "integrated power samples" in source
    clock.t = 1.0
    gpu.power_mw = 200_000
    meter.sample()  # trapezoid (100 + 200) / 2 * 1 s
    clock.t = 3.0
    assert meter.read() == {"gpu:0": pytest.approx(150.0 + 400.0)}


def test_gpu_lost_mid_run_keeps_last_value_and_notes_it() -> None:
    gpus = [FakeGpu(), FakeGpu(name="NVIDIA H100 80GB HBM3", energy_mj=0)]
    meter = NvmlMeter(nvml=FakeNvml(gpus))
    meter.open()
    gpus[0].energy_mj = 1_100_000
    gpus[1].energy_mj = 50_000
    assert meter.read() == {"gpu:0": 100.0, "gpu:1": 50.0}
    gpus[0].lost = True
    gpus[1].energy_mj = 80_000
    assert meter.read() == {"gpu:0": 100.0, "gpu:1": 80.0}
    assert meter.read() == {"gpu:0": 100.0, "gpu:1": 80.0}
    notes = meter.notes()
    assert len(notes) == 1
    assert "gpu:0" in notes[0]
    assert "GPU is lost" in notes[0]


def test_gpu_lost_mid_run_in_the_monitor_becomes_a_note() -> None:
    gpu = FakeGpu()
    monitor = EnergyMonitor(meters=[NvmlMeter(nvml=FakeNvml([gpu]))])
    monitor.start()
    assert monitor.wait_ready(5)
    gpu.energy_mj = 1_300_000
    monitor.begin_window("w")
    gpu.lost = True
    window = monitor.end_window("w")
    run = monitor.stop()  # must not raise
    assert run.components[0].energy_j == 300.0
    assert window.components[0].energy_j == 0.0
    assert any("gpu:0" in n and "NVML read failed" in n for n in run.notes)
    assert any("NVML read failed" in n for n in window.notes)


def test_per_process_shares_and_attribution() -> None:
    me = os.getpid()
    other = 999_999_999  # not in the tracked tree
    gpu = FakeGpu(
        processes=[(me, 3_000_000_000), (other, 1_000_000_000)],
        utilisation=[(me, 60), (other, 20)],
    )
    tree = ProcessTree(me)
    whole = NvmlMeter(nvml=FakeNvml([gpu]), tree=tree)
    whole.open()
    gpu.energy_mj = 1_400_000
    assert whole.read() == {"gpu:0": 400.0}
    detail = whole.details()["gpu:0"]
    assert "75% of used GPU memory" in detail
    assert "75% of SM utilisation" in detail

    gpu.energy_mj = 0
    mine = NvmlMeter(nvml=FakeNvml([gpu]), tree=tree, attribute_to_tree=True)
    mine.open()
    assert mine.needs_sampling is True
    assert mine.components()["gpu:0"][0] == "estimated"
    gpu.energy_mj = 400_000
    assert mine.read() == {"gpu:0": pytest.approx(300.0)}  # 75% of 400 J


def test_no_tracked_process_on_the_gpu_is_said() -> None:
    gpu = FakeGpu(processes=[(999_999_999, 10)])
    meter = NvmlMeter(nvml=FakeNvml([gpu]), tree=ProcessTree(os.getpid()))
    meter.open()
    meter.read()
    assert "0% of used GPU memory" in meter.details()["gpu:0"]
    gpu.processes = []
    meter2 = NvmlMeter(nvml=FakeNvml([gpu]), tree=ProcessTree(os.getpid()))
    meter2.open()
    meter2.read()
    assert "no tracked process seen" in meter2.details()["gpu:0"]


def test_no_driver_or_no_gpu_is_unavailable() -> None:
    with pytest.raises(MeterUnavailableError, match="no usable NVIDIA driver"):
        NvmlMeter(nvml=FakeNvml([], init_error=9)).open()
    nvml = FakeNvml([])
    with pytest.raises(MeterUnavailableError, match="no NVIDIA GPU"):
        NvmlMeter(nvml=nvml).open()
    assert nvml.initialised == 0  # shut down again


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'lowcarb\[nvidia\]'"):
        NvmlMeter().open()


def _real_gpu_available() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return False
    try:
        return bool(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


@pytest.mark.gpu
@pytest.mark.skipif(not _real_gpu_available(), reason="no NVIDIA GPU usable through NVML")
def test_real_gpu_energy_increases() -> None:
    import time

    meter = NvmlMeter()
    meter.open()
    try:
        assert meter.components()
        first = meter.read()
        time.sleep(1.0)
        second = meter.read()
        for name, (method, _) in meter.components().items():
            assert method == "measured"
            assert second[name] > first[name] >= 0.0  # an idle GPU still draws tens of watts
    finally:
        meter.close()


def test_the_share_seen_while_the_work_ran_is_reported_after_it_exits() -> None:
    """A command run by `lowcarb run` has exited when the window is read at its end: the
    meter asks for periodic reads (counters need none for the energy) and reports the share it
    saw while there was work on the GPU (on an H200, the detail said "no tracked process seen"
    for a command that had used the GPU for 10 s)."""
    me = os.getpid()
    gpu = FakeGpu(processes=[(me, 3_000_000_000), (999_999_999, 1_000_000_000)])
    meter = NvmlMeter(nvml=FakeNvml([gpu]), tree=ProcessTree(me))
    meter.open()
    assert meter.needs_sampling is False and meter.max_read_interval_s == 2.0
    meter.read()  # a periodic read while the work runs
    gpu.processes = []  # it has exited
    gpu.energy_mj = 1_500_000
    assert meter.read() == {"gpu:0": 500.0}  # the energy is the counter's, as before
    assert "at the last sample with work on it: 75% of used GPU memory" in meter.details()["gpu:0"]


def test_no_periodic_read_without_a_tracked_tree() -> None:
    meter = NvmlMeter(nvml=FakeNvml([FakeGpu()]), tree=None, pid=999_999_999)
    meter.open()
    assert meter.max_read_interval_s is None
