"""detect_meters: RAPL or the CPU model, the memory model, NVML, LOWCARB_METERS; and the monitor."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from test_energy_nvml import FakeGpu, FakeNvml
from test_energy_rapl import zone

from lowcarb.energy import DetectedMeters, EnergyMonitor, HardwareSpec, detect_meters
from lowcarb.errors import ConfigError


def unknown(_brand: str) -> HardwareSpec | None:
    return None


def names(result: object) -> list[str]:
    return [m.name for m in result.meters]  # type: ignore[attr-defined]


def deny_energy(path: Path) -> str:
    if path.name == "energy_uj":
        raise PermissionError(13, "Permission denied", str(path))
    return path.read_text().strip()


@pytest.fixture
def base(tmp_path: Path) -> dict[str, object]:
    """Arguments that keep detection off this machine's real hardware."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Some Unknown CPU\n")
    return {
        "environ": {},
        "powercap_root": tmp_path / "powercap",
        "cpuinfo_path": cpuinfo,
        "cpu_spec_resolver": unknown,
        "nvidia_paths": (),
    }


def test_no_counters_falls_back_to_the_cpu_model_with_a_note(base: dict[str, object]) -> None:
    found = detect_meters(**base)  # type: ignore[arg-type]
    assert names(found) == ["cpu-model", "memory-model"]
    assert len(found.notes) == 1
    assert "estimated by the cpu-model" in found.notes[0]
    assert "no RAPL energy counters" in found.notes[0]
    assert found.warnings == ()  # nothing to fix on a machine without counters


def test_readable_rapl_replaces_the_cpu_model(base: dict[str, object]) -> None:
    root = base["powercap_root"]
    assert isinstance(root, Path)
    zone(root, "intel-rapl:0", "package-0", 0)
    found = detect_meters(**base)  # type: ignore[arg-type]
    assert names(found) == ["rapl", "memory-model"]
    assert found.notes == ()
    zone(root, "intel-rapl:0:0", "dram", 0)
    found = detect_meters(**base)  # type: ignore[arg-type]
    assert names(found) == ["rapl"]  # RAPL measures dram: no memory model on top


def test_unreadable_rapl_gives_the_fix_and_falls_back(base: dict[str, object]) -> None:
    root = base["powercap_root"]
    assert isinstance(root, Path)
    zone(root, "intel-rapl:0", "package-0", 0)
    found = detect_meters(**base, read_sysfs=deny_energy)  # type: ignore[arg-type]
    assert names(found) == ["cpu-model", "memory-model"]
    assert "sudo chmod o+r" in found.notes[0]
    assert "estimated by the cpu-model" in found.notes[0]
    assert found.warnings == (found.notes[0],)  # fixable: worth a warning


def test_permission_denied_in_the_monitor_logs_once_and_labels_the_fallback(
    base: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    root, cpuinfo = base["powercap_root"], base["cpuinfo_path"]
    assert isinstance(root, Path)
    assert isinstance(cpuinfo, Path)
    zone(root, "intel-rapl:0", "package-0", 0)
    detect = functools.partial(
        detect_meters,
        powercap_root=root,
        read_sysfs=deny_energy,
        cpuinfo_path=cpuinfo,
        cpu_spec_resolver=unknown,
        nvidia_paths=(),
    )
    runs = []
    for _ in range(2):
        monitor = EnergyMonitor(detect=detect, environ={})
        monitor.start()
        runs.append(monitor.stop())
    for run in runs:
        cpu = next(c for c in run.components if c.name == "cpu")
        assert (cpu.method, cpu.source) == ("estimated", "model:cpu-linear(ccf-unknown)")
        assert any("sudo chmod o+r" in n for n in run.notes)
    logged = [r for r in caplog.records if "sudo chmod o+r" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].levelno == logging.WARNING


def test_lowcarb_meters_forces_the_list(base: dict[str, object]) -> None:
    root = base["powercap_root"]
    assert isinstance(root, Path)
    zone(root, "intel-rapl:0", "package-0", 0)
    forced = {**base, "environ": {"LOWCARB_METERS": "cpu-model, memory-model"}}
    assert names(detect_meters(**forced)) == ["cpu-model", "memory-model"]  # type: ignore[arg-type]

    only_rapl = {**base, "environ": {"LOWCARB_METERS": "rapl"}, "read_sysfs": deny_energy}
    found = detect_meters(**only_rapl)  # type: ignore[arg-type]
    assert names(found) == []  # forced: no silent fallback to another meter
    assert found.notes[0].startswith("LOWCARB_METERS asks for rapl but it cannot run")

    with pytest.raises(ConfigError, match="known meters: rapl, cpu-model, memory-model, nvml"):
        detect_meters(**{**base, "environ": {"LOWCARB_METERS": "rapl,watts"}})  # type: ignore[arg-type]


def test_gpu_is_added_when_present(base: dict[str, object]) -> None:
    found = detect_meters(**base, nvml=FakeNvml([FakeGpu()]))  # type: ignore[arg-type]
    assert names(found) == ["cpu-model", "memory-model", "nvml"]
    no_gpu = detect_meters(**base, nvml=FakeNvml([]))  # type: ignore[arg-type]
    assert names(no_gpu) == ["cpu-model", "memory-model"]
    assert len(no_gpu.notes) == 1  # only the RAPL fallback: no GPU is not a fallback


def test_driver_without_nvidia_ml_py_says_which_extra(
    base: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    driver = tmp_path / "driver-nvidia"
    driver.mkdir()
    found = detect_meters(**{**base, "nvidia_paths": (driver,)})  # type: ignore[arg-type]
    assert "nvml" not in names(found)
    assert any("pip install 'lowcarb[nvidia]'" in n for n in found.notes)
    quiet = detect_meters(**base)  # type: ignore[arg-type]
    assert not any("lowcarb[nvidia]" in n for n in quiet.notes)


def test_missing_process_is_a_note(base: dict[str, object]) -> None:
    found = detect_meters(**base, pid=2**22 + 12345)  # type: ignore[arg-type]
    assert names(found) == []
    assert any("no process with pid" in n for n in found.notes)


def test_detected_models_count_the_tracked_process(base: dict[str, object]) -> None:
    found = detect_meters(**base, pid=os.getpid())  # type: ignore[arg-type]
    cpu = found.meters[0]
    first = cpu.read()["cpu"]
    x = 0
    for i in range(2_000_000):
        x += i
    assert cpu.read()["cpu"] > first
    for m in found.meters:
        m.close()


def test_monitor_counts_cpu_used_while_discovery_was_still_running(
    base: dict[str, object],
) -> None:
    gate = threading.Event()

    def slow_detect(**kwargs: object) -> DetectedMeters:
        gate.wait()  # discovery finishes only after the burst below
        return detect_meters(**{**base, **kwargs})  # type: ignore[arg-type]

    monitor = EnergyMonitor(detect=slow_detect, environ={})
    monitor.start()
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    gate.set()
    run = monitor.stop()
    cpu = next(c for c in run.components if c.name == "cpu")
    ram = next(c for c in run.components if c.name == "ram")
    # CPU times are cumulative: the zero was re-based to start(), so the burst counts.
    assert cpu.energy_j >= 0.25 * 3.5
    assert "counting began" not in cpu.detail
    assert "counting began" not in ram.detail
    assert ram.energy_j > 0.0
