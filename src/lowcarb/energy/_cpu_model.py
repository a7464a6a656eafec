"""CPU energy estimated from the tracked process tree's CPU time, for machines without counters.

The model, per vCPU (hardware thread), is linear in utilisation ``u`` in [0, 1]::

    P(u) = P_idle + u * (P_max - P_idle)

* Known CPU (matched from ``/proc/cpuinfo`` by :func:`~lowcarb.energy.match_cpu_brand`):
  ``P_max = TDP / threads`` (TDP from the vendor datasheet cited in the spec table) and
  ``P_idle = idle_w / threads`` when the table has a published idle figure, else
  ``P_idle = IDLE_FRACTION * P_max``.
* Unknown CPU (including the generic names VMs report): Cloud Carbon Footprint's per-vCPU
  coefficients, ``P_idle = 0.74 W`` and ``P_max = 3.5 W`` (CCF methodology 2021, AWS averages
  derived from SPECpower_ssj2008; see ``UNKNOWN_CPU_*`` in the hardware table).

Attribution: the tree is charged the dynamic power of the CPU time it used *and* the idle power of
the vCPU share it used, both in proportion to its CPU-seconds ``c`` (user + system, over the whole
tree, see :mod:`lowcarb.energy._process`)::

    E = c * (P_max - P_idle)   # dynamic
      + c * P_idle             # idle share of the vCPU-seconds actually used
      = c * P_max

The idle power of vCPUs the tree did not use (other tenants, an idle machine) is not charged: the
figure is the tree's share, not the machine's draw. Because the energy is linear in CPU-seconds it
needs no sampling, and windows add up exactly (a run split in windows sums to the run).
Limitations, stated so nobody over-reads the figure: TDP is not peak power (turbo can exceed it),
and one busy thread alone on an SMT core draws more than ``TDP / threads``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from lowcarb.energy._hardware import (
    UNKNOWN_CPU_COEFFICIENTS_SOURCE,
    UNKNOWN_CPU_MAX_W_PER_VCPU,
    UNKNOWN_CPU_MIN_W_PER_VCPU,
)
from lowcarb.energy._hardware_lookup import match_cpu_brand
from lowcarb.energy._hardware_spec import HardwareSpec
from lowcarb.energy._meter import Meter
from lowcarb.energy._process import ProcessTree
from lowcarb.energy._types import Method
from lowcarb.errors import MeterUnavailableError

__all__ = ["IDLE_FRACTION", "CpuModelMeter", "CpuPowerModel", "read_cpu_brand"]

# Idle power as a fraction of full-load power when the spec table has no idle figure: the ratio of
# Cloud Carbon Footprint's AWS-average per-vCPU min and max watts (0.74 W / 3.5 W = 0.21;
# CCF methodology 2021, from SPECpower_ssj2008 results). Only splits the detail text (idle vs
# dynamic); the charged energy c * P_max does not depend on it.
IDLE_FRACTION = UNKNOWN_CPU_MIN_W_PER_VCPU / UNKNOWN_CPU_MAX_W_PER_VCPU

_BRAND_KEYS = ("model name", "Model Name", "cpu model", "Processor", "cpu")


def read_cpu_brand(path: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model name from ``/proc/cpuinfo``; empty when the file or the field is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for key in _BRAND_KEYS:
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return ""


class CpuPowerModel:
    """Per-vCPU full-load and idle power for a spec (or the unknown-CPU coefficients).

    Attributes:
        label: Spec name, or ``"ccf-unknown"``.
        max_w_per_vcpu: ``P_max``, watts per fully busy vCPU.
        idle_w_per_vcpu: ``P_idle``, watts per idle vCPU.
        explanation: Where both numbers come from.
    """

    def __init__(self, spec: HardwareSpec | None, *, brand: str = "") -> None:
        threads = None if spec is None else (spec.threads or spec.cores)
        if spec is None or not threads or spec.tdp_w <= 0:
            self.label = "ccf-unknown"
            self.max_w_per_vcpu = UNKNOWN_CPU_MAX_W_PER_VCPU
            self.idle_w_per_vcpu = UNKNOWN_CPU_MIN_W_PER_VCPU
            seen = f"CPU {brand!r} not in the spec table" if brand else "CPU model unknown"
            self.explanation = (
                f"{seen}: {self.max_w_per_vcpu} W per busy vCPU, {self.idle_w_per_vcpu} W idle "
                f"({UNKNOWN_CPU_COEFFICIENTS_SOURCE})"
            )
            return
        self.label = spec.name
        self.max_w_per_vcpu = spec.tdp_w / threads
        if spec.idle_w is not None:
            self.idle_w_per_vcpu = spec.idle_w / threads
            idle_src = f"idle {spec.idle_w} W / {threads} threads"
        else:
            self.idle_w_per_vcpu = IDLE_FRACTION * self.max_w_per_vcpu
            idle_src = f"idle = {IDLE_FRACTION:.2f} x full load (CCF min/max ratio)"
        self.explanation = (
            f"{spec.name}: {self.max_w_per_vcpu:.3g} W per busy vCPU = TDP {spec.tdp_w} W / "
            f"{threads} threads ({spec.source}); {idle_src}"
        )


class CpuModelMeter(Meter):
    """Estimated CPU energy of the tracked process tree (component ``cpu``).

    Method ``estimated``; source ``"model:cpu-linear(<spec name or ccf-unknown>)"``.

    Args:
        pid: Root of the tracked tree (default: this process). Ignored when ``tree`` is given.
        tree: A shared :class:`ProcessTree` (the memory model polls the same one).
        spec: The CPU spec to use; None: resolve it from ``/proc/cpuinfo`` with ``spec_resolver``.
        cpuinfo_path: Where to read the CPU model name.
        spec_resolver: Brand -> spec (None for an unknown CPU).
        start_cpu_s: The root's cumulative CPU seconds at the monitor's start, taken with
            :func:`~lowcarb.energy._process.root_cpu_seconds`; counting then starts from that
            moment rather than from ``open()`` (exact for the root; descendants alive at
            ``open()`` count from ``open()``).
        start_clock_s: The clock time ``start_cpu_s`` was taken at (reported as ``zero_time_s``).
    """

    needs_sampling = False

    def __init__(
        self,
        *,
        pid: int | None = None,
        tree: ProcessTree | None = None,
        spec: HardwareSpec | None = None,
        cpuinfo_path: Path = Path("/proc/cpuinfo"),
        spec_resolver: Callable[[str], HardwareSpec | None] = match_cpu_brand,
        start_cpu_s: float | None = None,
        start_clock_s: float | None = None,
    ) -> None:
        self._pid = pid
        self._tree = tree
        self._spec = spec
        self._cpuinfo_path = cpuinfo_path
        self._spec_resolver = spec_resolver
        self._start_cpu_s = start_cpu_s
        #: Clock time the zero corresponds to (None: the moment ``open()`` ran).
        self.zero_time_s = start_clock_s if start_cpu_s is not None else None
        self._zero_cpu_s = 0.0
        self._last_cpu_s = 0.0
        self.model: CpuPowerModel | None = None

    @property
    def name(self) -> str:
        return "cpu-model"

    def open(self) -> None:
        """Resolve the CPU spec and take the zero CPU time of the tree.

        Raises:
            MeterUnavailableError: The tracked process does not exist.
        """
        if self._tree is None:
            self._tree = ProcessTree(self._pid)
        if self._spec is not None:
            self.model = CpuPowerModel(self._spec)
        else:
            brand = read_cpu_brand(self._cpuinfo_path)
            self.model = CpuPowerModel(self._spec_resolver(brand), brand=brand)
        sample = self._tree.poll()
        if self._start_cpu_s is not None:
            # The root counts from the monitor's start; its descendants from now.
            self._zero_cpu_s = sample.cpu_s - sample.root_cpu_s + self._start_cpu_s
        else:
            self._zero_cpu_s = sample.cpu_s
        self._last_cpu_s = max(0.0, sample.cpu_s - self._zero_cpu_s)

    def _require_model(self) -> CpuPowerModel:
        if self.model is None:
            raise MeterUnavailableError("cpu-model meter used before open()")
        return self.model

    def components(self) -> Mapping[str, tuple[Method, str]]:
        model = self._require_model()
        return {"cpu": ("estimated", f"model:cpu-linear({model.label})")}

    def details(self) -> Mapping[str, str]:
        """The coefficients and the attribution rule."""
        model = self._require_model()
        pid = self._tree.pid if self._tree is not None else self._pid
        return {
            "cpu": f"{model.explanation}; charged {model.max_w_per_vcpu:.3g} J per CPU-second of "
            f"the tracked process tree (pid {pid}: idle share "
            f"{model.idle_w_per_vcpu:.3g} + dynamic "
            f"{model.max_w_per_vcpu - model.idle_w_per_vcpu:.3g} W per busy vCPU), not the "
            "whole machine"
        }

    @property
    def cpu_seconds(self) -> float:
        """Tree CPU-seconds counted so far (as of the last read)."""
        return self._last_cpu_s

    def read(self) -> Mapping[str, float]:
        """Cumulative estimated joules since the zero."""
        model = self._require_model()
        if self._tree is None:
            raise MeterUnavailableError("cpu-model meter used before open()")
        self._last_cpu_s = max(self._last_cpu_s, self._tree.poll().cpu_s - self._zero_cpu_s)
        return {"cpu": self._last_cpu_s * model.max_w_per_vcpu}

    def close(self) -> None:
        """Release the process tree's kept file descriptors."""
        if self._tree is not None:
            self._tree.close()
