"""RaplMeter against a fake powercap sysfs tree built in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lowcarb.energy import RaplMeter
from lowcarb.errors import MeterError, MeterUnavailableError

BIG_RANGE_UJ = 262_143_328_850  # a common Intel max_energy_range_uj


def zone(root: Path, directory: str, name: str, energy_uj: int, max_uj: int = BIG_RANGE_UJ) -> Path:
    d = root / directory
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return d


def set_energy(d: Path, energy_uj: int) -> None:
    (d / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def server(tmp_path: Path) -> dict[str, Path]:
    """One Intel server socket: package with core and dram sub-zones, plus a psys zone."""
    (tmp_path / "intel-rapl").mkdir()  # the control-type directory itself, not a zone
    return {
        "pkg": zone(tmp_path, "intel-rapl:0", "package-0", 5_000_000),
        "core": zone(tmp_path, "intel-rapl:0:0", "core", 1_000_000),
        "dram": zone(tmp_path, "intel-rapl:0:1", "dram", 2_000_000),
        "psys": zone(tmp_path, "intel-rapl:1", "psys", 9_000_000),
    }


def test_package_and_dram_measured_without_double_counting(
    tmp_path: Path, server: dict[str, Path]
) -> None:
    meter = RaplMeter(root=tmp_path)
    meter.open()
    assert meter.components() == {
        "cpu": ("measured", "rapl:intel-rapl:0 (package-0)"),
        "dram": ("measured", "rapl:intel-rapl:0:1 (dram)"),
    }
    assert meter.read() == {"cpu": 0.0, "dram": 0.0}
    set_energy(server["pkg"], 5_000_000 + 12_500_000)  # +12.5 J
    set_energy(server["core"], 1_000_000 + 10_000_000)  # inside the package: not added
    set_energy(server["dram"], 2_000_000 + 3_000_000)  # +3 J
    set_energy(server["psys"], 9_000_000 + 99_000_000)  # platform: contains both, skipped
    assert meter.read() == {"cpu": 12.5, "dram": 3.0}
    assert "not only the tracked process tree" in meter.details()["cpu"]


def test_two_sockets_are_summed(tmp_path: Path) -> None:
    p0 = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    p1 = zone(tmp_path, "intel-rapl:1", "package-1", 0)
    meter = RaplMeter(root=tmp_path)
    meter.open()
    assert meter.components()["cpu"] == (
        "measured",
        "rapl:intel-rapl:0 (package-0), intel-rapl:1 (package-1)",
    )
    set_energy(p0, 1_000_000)
    set_energy(p1, 3_000_000)
    assert meter.read() == {"cpu": 4.0}


def test_amd_package_without_dram(tmp_path: Path) -> None:
    # AMD Zen through the intel_rapl driver: package zones only.
    p0 = zone(tmp_path, "intel-rapl:0", "package-0", 7)
    meter = RaplMeter(root=tmp_path)
    meter.open()
    assert set(meter.components()) == {"cpu"}
    set_energy(p0, 7 + 2_000_000)
    assert meter.read() == {"cpu": 2.0}


def test_mmio_duplicate_of_the_package_is_skipped(tmp_path: Path) -> None:
    msr = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    mmio = zone(tmp_path, "intel-rapl-mmio:0", "package-0", 0)
    meter = RaplMeter(root=tmp_path)
    meter.open()
    assert meter.components()["cpu"][1] == "rapl:intel-rapl:0 (package-0)"
    set_energy(msr, 1_000_000)
    set_energy(mmio, 1_000_000)
    assert meter.read() == {"cpu": 1.0}


def test_wraparound_is_unwrapped(tmp_path: Path) -> None:
    pkg = zone(tmp_path, "intel-rapl:0", "package-0", 900_000, max_uj=1_000_000)
    meter = RaplMeter(root=tmp_path)
    meter.open()
    set_energy(pkg, 100_000)  # wrapped: 100_000 up to the range, then 100_000 more
    assert meter.read() == {"cpu": pytest.approx(0.2)}
    set_energy(pkg, 950_000)
    assert meter.read() == {"cpu": pytest.approx(1.05)}
    set_energy(pkg, 50_000)  # a second wrap
    assert meter.read() == {"cpu": pytest.approx(1.15)}


def test_read_interval_follows_the_wrap_period(tmp_path: Path) -> None:
    zone(tmp_path, "intel-rapl:0", "package-0", 0, max_uj=BIG_RANGE_UJ)
    meter = RaplMeter(root=tmp_path)
    meter.open()
    # 262,143 J at 500 W wraps after 524 s: read twice per period.
    assert meter.max_read_interval_s == pytest.approx(BIG_RANGE_UJ / 1e6 / 500 / 2)

    short = tmp_path / "short"
    short.mkdir()
    zone(short, "intel-rapl:0", "package-0", 0, max_uj=4_000_000_000)  # 4,000 J
    meter2 = RaplMeter(root=short, max_zone_power_w=200.0)
    meter2.open()
    assert meter2.max_read_interval_s == pytest.approx(10.0)


def test_permission_denied_says_how_to_grant_access(tmp_path: Path) -> None:
    zone(tmp_path, "intel-rapl:0", "package-0", 0)

    def deny_energy(path: Path) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return path.read_text().strip()

    meter = RaplMeter(root=tmp_path, read_text=deny_energy)
    with pytest.raises(MeterUnavailableError) as info:
        meter.open()
    message = str(info.value)
    assert "not readable" in message
    assert f"sudo chmod o+r {tmp_path}/intel-rapl:*/energy_uj" in message
    assert "udev" in message
    assert "\n" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_with_real_file_modes(tmp_path: Path) -> None:
    d = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    (d / "energy_uj").chmod(0o000)
    with pytest.raises(MeterUnavailableError, match="chmod o\\+r"):
        RaplMeter(root=tmp_path).open()


def test_no_powercap_or_no_zones_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailableError, match="no RAPL energy counters"):
        RaplMeter(root=tmp_path / "missing").open()
    (tmp_path / "empty").mkdir()
    zone(tmp_path / "empty", "intel-rapl:0:0", "core", 0)  # a sub-zone alone is not enough
    with pytest.raises(MeterUnavailableError, match="no RAPL package or dram zones"):
        RaplMeter(root=tmp_path / "empty").open()


def test_counter_vanishing_mid_run_raises_meter_error(tmp_path: Path) -> None:
    pkg = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    meter = RaplMeter(root=tmp_path)
    meter.open()
    (pkg / "energy_uj").unlink()
    with pytest.raises(MeterError, match="unreadable"):
        meter.read()
