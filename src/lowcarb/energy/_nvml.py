"""NVIDIA GPU energy through NVML (``nvidia-ml-py``, imported lazily).

Per device, in order of preference:

* the total-energy counter ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the driver
  loaded; Volta and newer): read at window edges, no sampling;
* otherwise the board power sensor ``nvmlDeviceGetPowerUsage`` (milliwatts), integrated over time
  by trapezoids at the monitor's sampling interval. Still ``measured`` (a hardware sensor), with a
  source that says "integrated power samples".

Both cover the whole GPU, every process on it. Where NVML exposes per-process figures
(``nvmlDeviceGetComputeRunningProcesses``: GPU memory per pid; ``nvmlDeviceGetProcessUtilization``:
SM utilisation per pid), the tracked process tree's share is reported in the component detail, and
with ``attribute_to_tree=True`` the component is the tree's share of the device energy instead
(then ``estimated``: the split is a model). In containers NVML may report host pids, which match
no tracked pid; the detail then says no tracked process was seen.

A GPU that fails mid-run (``NVMLError``: fallen off the bus, driver reset) keeps its last value and
a note is recorded; the meter never raises from ``read()`` or ``sample()`` for it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lowcarb.energy._meter import Meter
from lowcarb.energy._process import ProcessTree
from lowcarb.energy._types import Method
from lowcarb.errors import MeterUnavailableError, MissingDependencyError

__all__ = ["SHARE_READ_INTERVAL_S", "NvmlMeter", "import_nvml"]

#: With a tracked process tree and energy counters only, the monitor reads the GPUs this often
#: (seconds) so that the tree's share is seen while the work runs.
SHARE_READ_INTERVAL_S = 2.0


def import_nvml() -> Any:
    """Import ``pynvml`` (from ``nvidia-ml-py``).

    Raises:
        MissingDependencyError: It is not installed.
    """
    try:
        import pynvml
    except ImportError:
        raise MissingDependencyError("nvidia-ml-py", "nvidia") from None
    return pynvml


@dataclass(slots=True)
class _Device:
    index: int
    label: str
    handle: Any
    counter: bool  # True: total-energy counter; False: integrated power samples
    zero_mj: int = 0
    energy_j: float = 0.0
    attributed_j: float = 0.0
    last_t: float = 0.0
    last_w: float = 0.0
    lost: bool = False
    mem_share: float | None = None
    sm_share: float | None = None
    util_ts: int = 0
    saw_tree: bool = False
    # The shares at the last sample that found work on the GPU (for details(): at the window's
    # end the tracked process has often exited, and the GPU is idle).
    seen_mem_share: float | None = None
    seen_sm_share: float | None = None

    @property
    def component(self) -> str:
        return f"gpu:{self.index}"


class NvmlMeter(Meter):
    """Measured energy of NVIDIA GPUs (components ``gpu:0``, ``gpu:1``, ...).

    Args:
        nvml: The ``pynvml`` module (injected in tests); None imports it in ``open()``.
        pid: Root of the tracked process tree, for per-process shares (default: this process).
        tree: A shared :class:`ProcessTree` (overrides ``pid``).
        devices: Device indices to measure (default: all).
        attribute_to_tree: Report the tracked tree's share of each GPU's energy instead of the
            whole device (needs sampling; method becomes ``estimated``).
        clock: Monotonic clock, seconds.
    """

    def __init__(
        self,
        *,
        nvml: Any = None,
        pid: int | None = None,
        tree: ProcessTree | None = None,
        devices: Sequence[int] | None = None,
        attribute_to_tree: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nvml = nvml
        self._pid = pid
        self._tree = tree
        self._wanted = None if devices is None else tuple(devices)
        self._attribute = attribute_to_tree
        self._clock = clock
        self._devices: list[_Device] = []
        self._notes: list[str] = []
        self._initialised = False
        self.needs_sampling = False

    @property
    def name(self) -> str:
        return "nvml"

    def open(self) -> None:
        """Initialise NVML and take the zero reading of every device.

        Raises:
            MissingDependencyError: ``nvidia-ml-py`` is not installed.
            MeterUnavailableError: No NVIDIA driver or no GPU.
        """
        if self._nvml is None:
            self._nvml = import_nvml()
        nv = self._nvml
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise MeterUnavailableError(
                f"NVML cannot start ({exc}): no usable NVIDIA driver"
            ) from None
        try:
            count = int(nv.nvmlDeviceGetCount())
            indices = range(count) if self._wanted is None else self._wanted
            devices = [self._open_device(i) for i in indices if 0 <= i < count]
        except nv.NVMLError as exc:
            nv.nvmlShutdown()
            raise MeterUnavailableError(f"NVML cannot list GPUs: {exc}") from None
        if not devices:
            nv.nvmlShutdown()
            raise MeterUnavailableError("NVML reports no NVIDIA GPU on this machine")
        self._devices = devices
        self._initialised = True
        self.needs_sampling = self._attribute or any(not d.counter for d in devices)
        if self._tree is None:
            try:
                self._tree = ProcessTree(self._pid)
            except MeterUnavailableError:
                self._tree = None  # no per-process shares; the devices are still measured
        if self._tree is not None and not self.needs_sampling:
            # Counters need no sampling, but the shares are only seen while the work runs: a
            # command run by `lowcarb run` has exited when its window is read at the end.
            self.max_read_interval_s = SHARE_READ_INTERVAL_S

    def _open_device(self, index: int) -> _Device:
        nv = self._nvml
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        label = nv.nvmlDeviceGetName(handle)
        label = label.decode() if isinstance(label, bytes) else str(label)
        now = self._clock()
        try:
            zero = int(nv.nvmlDeviceGetTotalEnergyConsumption(handle))
            return _Device(index, label, handle, counter=True, zero_mj=zero, last_t=now)
        except nv.NVMLError:  # not supported before Volta: fall back to the power sensor
            watts = nv.nvmlDeviceGetPowerUsage(handle) / 1000.0
            return _Device(index, label, handle, counter=False, last_t=now, last_w=watts)

    def components(self) -> Mapping[str, tuple[Method, str]]:
        out: dict[str, tuple[Method, str]] = {}
        for d in self._devices:
            how = (
                "total_energy_consumption" if d.counter else "power_usage integrated power samples"
            )
            if self._attribute:
                out[d.component] = (
                    "estimated",
                    f"nvml:{how} ({d.label}) x tracked-process share of SM utilisation",
                )
            else:
                out[d.component] = ("measured", f"nvml:{how} ({d.label})")
        return out

    def details(self) -> Mapping[str, str]:
        """Per GPU: what is covered and the tracked tree's share, where NVML exposes it."""
        out: dict[str, str] = {}
        for d in self._devices:
            shares = []
            if d.seen_mem_share is not None:
                shares.append(f"{d.seen_mem_share:.0%} of used GPU memory")
            if d.seen_sm_share is not None:
                shares.append(f"{d.seen_sm_share:.0%} of SM utilisation")
            if shares:
                share = "tracked process tree's share at the last sample with work on it: "
                share += ", ".join(shares)
            elif self._tree is not None and not d.saw_tree:
                share = "no tracked process seen on it (or NVML reports other pids, e.g. host pids)"
            else:
                share = "per-process figures not available from NVML"
            whole = "share of the device energy" if self._attribute else "whole GPU, all processes"
            out[d.component] = f"{whole}; {share}"
        return out

    def notes(self) -> Sequence[str]:
        """Failures recorded so far (a GPU lost mid-run)."""
        return tuple(self._notes)

    def _lose(self, d: _Device, exc: Exception) -> None:
        d.lost = True
        self._notes.append(
            f"{d.component} ({d.label}): NVML read failed ({exc}); the GPU may have fallen off the "
            "bus or its driver reset. Its last value is kept: energy after that is missing"
        )

    def _update_shares(self, d: _Device) -> None:
        if self._tree is None:
            return
        nv = self._nvml
        pids = set(self._tree.poll().pids)
        try:
            procs = nv.nvmlDeviceGetComputeRunningProcesses(d.handle)
            used = [(p.pid, p.usedGpuMemory) for p in procs if p.usedGpuMemory is not None]
            total = sum(m for _, m in used)
            mine = sum(m for pid, m in used if pid in pids)
            d.saw_tree = d.saw_tree or any(p.pid in pids for p in procs)
            d.mem_share = mine / total if total else None
            if total:
                d.seen_mem_share = d.mem_share
        except nv.NVMLError:
            pass  # not supported (the share stays unknown) or transient: keep the last share
        try:
            samples = nv.nvmlDeviceGetProcessUtilization(d.handle, d.util_ts)
            if samples:
                d.util_ts = max(int(s.timeStamp) for s in samples)
            total_sm = sum(int(s.smUtil) for s in samples)
            mine_sm = sum(int(s.smUtil) for s in samples if s.pid in pids)
            d.saw_tree = d.saw_tree or any(s.pid in pids for s in samples)
            d.sm_share = mine_sm / total_sm if total_sm else None
            if total_sm:
                d.seen_sm_share = d.sm_share
        except nv.NVMLError:
            pass  # not supported, or no new samples since util_ts: keep the last share

    def _poll(self, d: _Device) -> None:
        if d.lost:
            return
        nv = self._nvml
        try:
            now = self._clock()
            before = d.energy_j
            if d.counter:
                mj = int(nv.nvmlDeviceGetTotalEnergyConsumption(d.handle))
                d.energy_j = max(d.energy_j, (mj - d.zero_mj) / 1000.0)
            else:
                watts = nv.nvmlDeviceGetPowerUsage(d.handle) / 1000.0
                if now > d.last_t:
                    d.energy_j += (d.last_w + watts) / 2 * (now - d.last_t)
                d.last_w = watts
            d.last_t = now
            self._update_shares(d)
        except nv.NVMLError as exc:
            self._lose(d, exc)
            return
        share = d.sm_share if d.sm_share is not None else d.mem_share
        d.attributed_j += (d.energy_j - before) * (share or 0.0)

    def sample(self) -> None:
        """Integrate power (and per-process shares) up to now."""
        for d in self._devices:
            self._poll(d)

    def read(self) -> Mapping[str, float]:
        """Cumulative joules per GPU since open() (the tree's share with attribute_to_tree)."""
        self.sample()
        if self._attribute:
            return {d.component: d.attributed_j for d in self._devices}
        return {d.component: d.energy_j for d in self._devices}

    def close(self) -> None:
        """Shut NVML down (errors from a lost GPU are ignored: nothing is left to release)."""
        if self._nvml is None or not self._initialised:
            return
        self._initialised = False
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()
