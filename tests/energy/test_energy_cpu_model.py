"""CpuModelMeter and ProcessTree against real processes (real psutil and /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lowcarb.energy import CpuModelMeter, HardwareSpec, ProcessTree
from lowcarb.energy._hardware import UNKNOWN_CPU_MAX_W_PER_VCPU
from lowcarb.energy._process import root_cpu_seconds
from lowcarb.errors import MeterUnavailableError

BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass\n"
IDLE = "import time\ntime.sleep(0.5)\n"
SPEC = HardwareSpec(
    name="Test-CPU-100W", kind="cpu", tdp_w=100.0, source="test datasheet", cores=5, threads=10
)


def unknown(_brand: str) -> HardwareSpec | None:
    return None


def spawn(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def wait_unreaped(proc: subprocess.Popen[bytes]) -> None:
    """Wait for exit but leave the zombie, so its CPU times stay readable (as `lowcarb run`)."""
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)


def measure(code: str) -> tuple[float, float]:
    """(estimated joules, tree CPU-seconds) of a child running ``code``."""
    proc = spawn(code)
    meter = CpuModelMeter(pid=proc.pid, spec_resolver=unknown)
    meter.open()
    try:
        wait_unreaped(proc)
        joules = meter.read()["cpu"]
        return joules, meter.cpu_seconds
    finally:
        proc.wait()


def test_busy_child_costs_more_than_an_idle_one() -> None:
    busy_j, busy_s = measure(BUSY.format(s=0.5))
    # A busy process *outside* the tree must not be charged to the tracked idle child.
    outsider = spawn(BUSY.format(s=0.7))
    try:
        idle_j, idle_s = measure(IDLE)
    finally:
        outsider.wait()
    assert busy_s >= 0.45
    assert idle_s < 0.2
    assert busy_j > idle_j
    assert busy_j == pytest.approx(busy_s * UNKNOWN_CPU_MAX_W_PER_VCPU)


def test_reaped_grandchild_counts_through_its_parent() -> None:
    code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BUSY.format(s=0.5)!r}], check=True)\n"
    )
    _, cpu_s = measure(code)
    assert cpu_s >= 0.45


def test_orphaned_grandchild_is_followed_after_its_parent_exits() -> None:
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {BUSY.format(s=0.6)!r}])\n"
        "time.sleep(0.3)\n"  # then exit without waiting: the grandchild is re-parented
    )
    root = spawn(code)
    tree = ProcessTree(root.pid)
    first = tree.poll()
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 10
        last = first
        while time.monotonic() < deadline:
            time.sleep(0.02)
            sample = tree.poll()
            assert sample.cpu_s >= last.cpu_s  # never decreases
            last = sample
            others = set(sample.pids) - {root.pid}
            seen |= others
            if seen and not others:  # the grandchild has come and gone
                break
        parent_exited_first = root.poll() is not None
    finally:
        root.wait()
    assert seen, "the grandchild was never seen in the tree"
    assert parent_exited_first
    assert last.cpu_s - first.cpu_s >= 0.45


def test_psutil_fallback_agrees_with_procfs() -> None:
    proc = spawn(BUSY.format(s=0.3))
    try:
        wait_unreaped(proc)
        fast = ProcessTree(proc.pid).poll()
        portable = ProcessTree(proc.pid, proc_root=None).poll()
    finally:
        proc.wait()
    assert fast.pids == portable.pids == (proc.pid,)
    assert fast.cpu_s == pytest.approx(portable.cpu_s, abs=0.02)
    assert fast.cpu_s >= 0.25


def test_tree_lists_children_and_their_memory() -> None:
    child = spawn(IDLE)
    try:
        time.sleep(0.1)
        sample = ProcessTree(os.getpid()).poll()
    finally:
        child.wait()
    assert os.getpid() in sample.pids
    assert child.pid in sample.pids
    assert sample.rss_bytes > 5_000_000  # this interpreter alone holds more


def test_known_spec_coefficients_and_provenance() -> None:
    meter = CpuModelMeter(pid=os.getpid(), spec=SPEC)
    meter.open()
    assert meter.components() == {"cpu": ("estimated", "model:cpu-linear(Test-CPU-100W)")}
    detail = meter.details()["cpu"]
    assert "TDP 100.0 W / 10 threads (test datasheet)" in detail
    assert "not the whole machine" in detail
    before = meter.read()["cpu"]
    t = time.process_time()
    while time.process_time() - t < 0.2:
        pass
    after = meter.read()["cpu"]
    assert after - before == pytest.approx(10.0 * (meter.cpu_seconds - before / 10.0))
    assert after - before >= 10.0 * 0.15


def test_brand_from_cpuinfo_resolves_a_table_spec(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763 64-Core Processor\n"
    )
    seen: list[str] = []

    def spy(brand: str) -> HardwareSpec | None:
        seen.append(brand)
        return SPEC

    meter = CpuModelMeter(pid=os.getpid(), cpuinfo_path=cpuinfo, spec_resolver=spy)
    meter.open()
    assert seen == ["AMD EPYC 7763 64-Core Processor"]
    # With the real spec table (default resolver), the EPYC 7763 is known: 280 W / 128 threads.
    real = CpuModelMeter(pid=os.getpid(), cpuinfo_path=cpuinfo)
    real.open()
    assert real.components()["cpu"][1] != "model:cpu-linear(ccf-unknown)"
    assert real.model is not None
    assert real.model.max_w_per_vcpu == pytest.approx(280.0 / 128)


def test_unknown_cpu_uses_ccf_coefficients(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Intel(R) Xeon(R) Processor @ 2.80GHz\n")
    meter = CpuModelMeter(pid=os.getpid(), cpuinfo_path=cpuinfo, spec_resolver=unknown)
    meter.open()
    assert meter.components()["cpu"] == ("estimated", "model:cpu-linear(ccf-unknown)")
    assert "Cloud Carbon Footprint" in meter.details()["cpu"]
    assert "not in the spec table" in meter.details()["cpu"]


def test_start_snapshot_rebases_the_zero_to_the_monitor_start() -> None:
    start_cpu_s = root_cpu_seconds(os.getpid())
    t = time.process_time()
    while time.process_time() - t < 0.3:  # CPU used after start() but before discovery ends
        pass
    rebased = CpuModelMeter(
        pid=os.getpid(), spec=SPEC, start_cpu_s=start_cpu_s, start_clock_s=123.0
    )
    rebased.open()
    plain = CpuModelMeter(pid=os.getpid(), spec=SPEC)
    plain.open()
    assert rebased.zero_time_s == 123.0
    assert rebased.read()["cpu"] >= 10.0 * 0.25
    assert plain.read()["cpu"] < 10.0 * 0.1


def test_missing_process_is_unavailable() -> None:
    proc = spawn("pass")
    proc.wait()  # reaped: the pid no longer exists
    with pytest.raises(MeterUnavailableError, match="no process with pid"):
        CpuModelMeter(pid=proc.pid, spec=SPEC).open()


def test_procfs_descriptors_are_reused_dropped_and_closed() -> None:
    """Kept /proc descriptors re-read live data, go when their process does, close on close()."""
    import subprocess
    import sys

    from lowcarb.energy._process import ProcessTree, _ProcfsReader

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tree = ProcessTree(child.pid)
        reader = tree._reader
        assert isinstance(reader, _ProcfsReader)
        tree.poll()
        stat_path = f"/proc/{child.pid}/stat"
        assert stat_path in reader._fds
        fd = reader._fds[stat_path]
        first = reader.stat(child.pid)
        assert first is not None and reader._fds[stat_path] == fd  # re-read, same descriptor
    finally:
        child.kill()
        child.wait()
    assert reader.stat(child.pid) is None  # the process is gone: its descriptor is dropped
    assert stat_path not in reader._fds
    tree.poll()
    tree.close()
    assert reader._fds == {}
