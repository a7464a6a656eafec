"""Choose the meters this machine supports, and say which fallbacks were taken.

Automatic choice (``LOWCARB_METERS`` unset):

1. ``rapl`` when the powercap counters are readable; otherwise ``cpu-model``, with a note saying
   why (no counters, e.g. a VM; or counters that need read access, with the command to grant it).
2. ``memory-model`` unless RAPL already measures a ``dram`` domain (both would count the memory).
3. ``nvml`` when an NVIDIA GPU is usable. With no GPU (no driver) nothing is said; with a driver
   present but ``nvidia-ml-py`` missing or NVML failing, a note says so.

``LOWCARB_METERS=cpu-model,memory-model`` forces the list: exactly those meters, and a forced meter
that cannot run is a note, not a fallback to another meter.

The meters returned are already open (RAPL readability and GPU presence are only known by opening
them); close them when done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowcarb.energy._cpu_model import CpuModelMeter
from lowcarb.energy._hardware_lookup import match_cpu_brand
from lowcarb.energy._hardware_spec import HardwareSpec
from lowcarb.energy._memory_model import MemoryModelMeter
from lowcarb.energy._meter import Meter
from lowcarb.energy._nvml import NvmlMeter
from lowcarb.energy._process import ProcessTree
from lowcarb.energy._rapl import DEFAULT_POWERCAP_ROOT, RaplMeter
from lowcarb.errors import (
    ConfigError,
    LowcarbError,
    MeterUnavailableError,
)

__all__ = ["METER_NAMES", "DetectedMeters", "detect_meters", "parse_meter_names"]

#: Meter names understood by ``LOWCARB_METERS``.
METER_NAMES = ("rapl", "cpu-model", "memory-model", "nvml")


@dataclass(frozen=True, slots=True)
class DetectedMeters:
    """The meters chosen for this machine (already open) and the fallbacks taken.

    Attributes:
        meters: Open meters, cheapest first.
        notes: One line per fallback or missing meter, saying why and how to fix it.
        warnings: The notes the user can act on (unreadable counters, a GPU driver without
            ``nvidia-ml-py``, a forced meter that cannot run), worth a logged warning. A machine
            that simply has no counters (a VM) is a note, not a warning.
    """

    meters: tuple[Meter, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def parse_meter_names(value: str | None) -> tuple[str, ...] | None:
    """Parse ``LOWCARB_METERS`` (comma-separated meter names); None when unset or blank.

    Raises:
        ConfigError: An unknown meter name.
    """
    if value is None or not value.strip():
        return None
    names = tuple(dict.fromkeys(n.strip().lower() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in METER_NAMES]
    if unknown:
        raise ConfigError(
            f"LOWCARB_METERS={value!r} names unknown meter(s) {', '.join(map(repr, unknown))}; "
            f"known meters: {', '.join(METER_NAMES)}"
        )
    return names


def detect_meters(
    *,
    pid: int | None = None,
    environ: Mapping[str, str] | None = None,
    powercap_root: Path = DEFAULT_POWERCAP_ROOT,
    read_sysfs: Callable[[Path], str] | None = None,
    nvml: Any = None,
    cpuinfo_path: Path = Path("/proc/cpuinfo"),
    nvidia_paths: Sequence[Path] = (Path("/proc/driver/nvidia"), Path("/dev/nvidiactl")),
    cpu_spec_resolver: Callable[[str], HardwareSpec | None] = match_cpu_brand,
    clock: Callable[[], float] = time.monotonic,
    start_cpu_s: float | None = None,
    start_clock_s: float | None = None,
    proc_root: Path | None = Path("/proc"),
) -> DetectedMeters:
    """Open the meters this machine supports.

    Args:
        pid: Root of the tracked process tree (default: this process).
        environ: Environment (reads ``LOWCARB_METERS``); default ``os.environ``.
        powercap_root: The powercap sysfs directory.
        read_sysfs: Reads one sysfs file (tests inject permission errors); default: plain read.
        nvml: A ``pynvml``-like module (tests); None imports ``pynvml`` if installed.
        cpuinfo_path: Where the CPU model name is read.
        nvidia_paths: Any of these existing means an NVIDIA driver is loaded. Without one (and
            without an injected ``nvml``) NVML is not even imported; with one, a missing
            ``nvidia-ml-py`` or a failing NVML gets a note.
        cpu_spec_resolver: CPU brand -> spec, for the CPU model.
        clock: Monotonic clock, seconds.
        start_cpu_s: The root's CPU seconds at the monitor's start (see ``CpuModelMeter``).
        start_clock_s: The monitor's start time on ``clock``.
        proc_root: The procfs mount (None: psutil only).

    Raises:
        ConfigError: ``LOWCARB_METERS`` names an unknown meter.
    """
    if environ is None:
        environ = os.environ
    forced = parse_meter_names(environ.get("LOWCARB_METERS"))
    wanted = set(METER_NAMES if forced is None else forced)
    meters: list[Meter] = []
    notes: list[str] = []
    warnings: list[str] = []
    tree: ProcessTree | None = None
    tree_error: MeterUnavailableError | None = None
    try:
        tree = ProcessTree(pid, proc_root=proc_root)
    except MeterUnavailableError as exc:
        tree_error = exc

    def try_open(meter: Meter) -> LowcarbError | None:
        try:
            meter.open()
        except LowcarbError as exc:
            return exc
        meters.append(meter)
        return None

    def note(text: str, *, actionable: bool = True) -> None:
        notes.append(text)
        if actionable:
            warnings.append(text)

    def forced_note(name: str, exc: LowcarbError) -> None:
        note(f"LOWCARB_METERS asks for {name} but it cannot run: {exc}")

    rapl_dram = False
    rapl_ok = False
    if "rapl" in wanted:
        rapl = (
            RaplMeter(root=powercap_root)
            if read_sysfs is None
            else RaplMeter(root=powercap_root, read_text=read_sysfs)
        )
        error = try_open(rapl)
        rapl_ok = error is None
        rapl_dram = rapl_ok and "dram" in rapl.components()
        if error is not None and forced is not None:
            forced_note("rapl", error)
        elif error is not None:
            note(
                f"CPU energy is estimated by the cpu-model, not measured: {error}",
                actionable=rapl.access_denied,
            )

    model_needed = "cpu-model" in wanted and (forced is not None or not rapl_ok)
    if model_needed or ("memory-model" in wanted and not rapl_dram):
        if tree is None:
            assert tree_error is not None
            note(f"CPU and memory models not used: {tree_error}")
        else:
            if model_needed:
                error = try_open(
                    CpuModelMeter(
                        tree=tree,
                        cpuinfo_path=cpuinfo_path,
                        spec_resolver=cpu_spec_resolver,
                        start_cpu_s=start_cpu_s,
                        start_clock_s=start_clock_s,
                    )
                )
                if error is not None:
                    note(f"cpu-model not used: {error}")
            if "memory-model" in wanted and not rapl_dram:
                error = try_open(
                    MemoryModelMeter(tree=tree, clock=clock, start_clock_s=start_clock_s)
                )
                if error is not None:
                    note(f"memory-model not used: {error}")

    driver = any(p.exists() for p in nvidia_paths)
    if "nvml" in wanted and (driver or nvml is not None or forced is not None):
        error = try_open(NvmlMeter(nvml=nvml, pid=pid, tree=tree, clock=clock))
        if error is not None and forced is not None:
            forced_note("nvml", error)
        elif error is not None and driver:
            note(f"an NVIDIA driver is loaded but GPUs are not measured: {error}")
    return DetectedMeters(meters=tuple(meters), notes=tuple(notes), warnings=tuple(warnings))
