"""RAPL energy counters through the Linux powercap interface (``/sys/class/powercap``).

Intel (``intel-rapl``, and ``intel-rapl-mmio`` where it is the only interface) and AMD Zen (exposed
by the same ``intel_rapl`` driver since Linux 5.8, also as ``intel-rapl:N``) publish one zone per
socket, named ``package-N``, with sub-zones ``core``, ``uncore`` and, on servers, ``dram``.

* ``package-N`` becomes the ``cpu`` component (summed over sockets). ``core`` and ``uncore`` are
  parts of the package and are skipped, so nothing is counted twice; ``intel-rapl-mmio`` zones
  that duplicate an ``intel-rapl`` package are skipped for the same reason.
* ``dram`` zones become the ``dram`` component.
* ``psys`` (the whole platform, on some laptops) is skipped: it contains the package and dram.

Each ``energy_uj`` counter wraps at ``max_energy_range_uj`` (often 262,143 J, i.e. ~22 minutes at
200 W, on some parts far less). A wrap is undone by adding the range, which only works when the
counter is read at least once per wrap period: :attr:`RaplMeter.max_read_interval_s` says how
often, and the :class:`~lowcarb.energy.EnergyMonitor` reads the meter at that (slow) interval even
though it needs no power sampling.

Since Linux 5.10 (CVE-2020-8694, "Platypus") ``energy_uj`` is readable by root only on most
distributions; :meth:`RaplMeter.open` then raises :class:`MeterUnavailableError` with the fix.
RAPL measures whole sockets, every process on the machine, not only the tracked process tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lowcarb.energy._meter import Meter
from lowcarb.energy._types import Method
from lowcarb.errors import MeterError, MeterUnavailableError

__all__ = ["DEFAULT_POWERCAP_ROOT", "RaplMeter"]

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")

# Zone directories: <control type>:<package>[:<sub-zone>], e.g. intel-rapl:0, intel-rapl:0:2.
_ZONE_RE = re.compile(r"^(?P<kind>[a-z][a-z0-9-]*rapl[a-z0-9-]*):(?P<pkg>\d+)(?::(?P<sub>\d+))?$")

# Upper bound on one zone's power used to derive how often a counter must be read to see every
# wrap: above the highest server CPU TDPs shipped to date (AMD EPYC 9754: 360 W, Intel Xeon 6980P:
# 500 W TDP, per the vendors' datasheets). Overridable per meter.
DEFAULT_MAX_ZONE_POWER_W = 500.0


def _read_text(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


def access_hint(root: Path) -> str:
    """How to make the RAPL counters readable without running as root."""
    return (
        f"grant read access with `sudo chmod o+r {root}/intel-rapl:*/energy_uj "
        f"{root}/intel-rapl:*:*/energy_uj` (until reboot), or permanently with a udev rule such "
        'as: SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod o+r /sys%p/energy_uj"'
    )


@dataclass(slots=True)
class _Zone:
    directory: str  # e.g. "intel-rapl:0"
    label: str  # the zone's name file, e.g. "package-0"
    component: str  # "cpu" or "dram"
    path: Path
    max_range_uj: int
    last_uj: int = 0
    total_uj: int = field(default=0)


class RaplMeter(Meter):
    """Measured CPU-package and DRAM energy from RAPL counters.

    Components: ``cpu`` (sum of ``package-N`` zones) and, when the platform exposes it, ``dram``.
    Method ``measured``; source like ``"rapl:intel-rapl:0 (package-0)"``.

    Args:
        root: The powercap directory (a fake tree in tests).
        read_text: Reads one sysfs file (injected in tests to simulate permission errors).
        max_zone_power_w: Power bound used to compute :attr:`max_read_interval_s`.
    """

    needs_sampling = False

    def __init__(
        self,
        *,
        root: Path = DEFAULT_POWERCAP_ROOT,
        read_text: Callable[[Path], str] = _read_text,
        max_zone_power_w: float = DEFAULT_MAX_ZONE_POWER_W,
    ) -> None:
        self._root = root
        self._read_text = read_text
        self._max_zone_power_w = max_zone_power_w
        self._zones: list[_Zone] = []
        self._components: dict[str, tuple[Method, str]] = {}
        #: Read the counters at least this often (seconds) so no wrap is missed; set by open().
        self.max_read_interval_s: float | None = None
        #: True when open() failed because the counters exist but are not readable (fixable).
        self.access_denied = False

    @property
    def name(self) -> str:
        return "rapl"

    def _discover(self) -> list[tuple[str, str, Path]]:
        """(directory, zone name, path) of the zones to read, deduplicated."""
        try:
            entries = sorted(p for p in self._root.iterdir() if _ZONE_RE.match(p.name))
        except OSError as exc:
            raise MeterUnavailableError(
                f"no RAPL energy counters: cannot list {self._root} ({exc.strerror or exc}); "
                "this machine (often a VM or a non-Linux OS) exposes none"
            ) from None
        picked: dict[tuple[str, str], tuple[str, str, Path]] = {}
        for path in entries:
            m = _ZONE_RE.match(path.name)
            assert m is not None  # filtered above
            try:
                label = self._read_text(path / "name")
            except OSError:
                continue
            if label.startswith("package"):
                component = "cpu"
            elif label == "dram":
                component = "dram"
            else:  # psys contains package + dram; core/uncore are inside the package
                continue
            package = m["pkg"]
            key = (component, package)
            mmio = m["kind"].endswith("-mmio")
            if key in picked and (mmio or not picked[key][0].split(":")[0].endswith("-mmio")):
                continue  # keep the MSR interface over its MMIO duplicate
            picked[key] = (path.name, label, path)
        return [picked[k] for k in sorted(picked)]

    def open(self) -> None:
        """Find the zones and take the zero reading.

        Raises:
            MeterUnavailableError: No RAPL zones, or their counters are not readable.
        """
        zones: list[_Zone] = []
        for directory, label, path in self._discover():
            component = "dram" if label == "dram" else "cpu"
            try:
                max_range = int(self._read_text(path / "max_energy_range_uj"))
                now = int(self._read_text(path / "energy_uj"))
            except PermissionError:
                self.access_denied = True
                raise MeterUnavailableError(
                    f"RAPL counters under {self._root} are not readable by this user (root-only "
                    f"since Linux 5.10, CVE-2020-8694); {access_hint(self._root)}"
                ) from None
            except (OSError, ValueError) as exc:
                raise MeterUnavailableError(f"RAPL zone {path} is unreadable: {exc}") from None
            zones.append(_Zone(directory, label, component, path, max_range, last_uj=now))
        if not zones:
            raise MeterUnavailableError(
                f"no RAPL package or dram zones under {self._root}; this machine (often a VM) "
                "exposes no CPU energy counters"
            )
        self._zones = zones
        for component in ("cpu", "dram"):
            parts = [f"{z.directory} ({z.label})" for z in zones if z.component == component]
            if parts:
                self._components[component] = ("measured", "rapl:" + ", ".join(parts))
        # Read twice per wrap period at the assumed maximum power.
        self.max_read_interval_s = max(
            1.0, min(z.max_range_uj / 1e6 / self._max_zone_power_w / 2 for z in zones)
        )

    def components(self) -> Mapping[str, tuple[Method, str]]:
        return dict(self._components)

    def details(self) -> Mapping[str, str]:
        """Per component: what the counter covers."""
        return {
            "cpu": "RAPL package counters: whole CPU socket(s), every process on the machine, "
            "not only the tracked process tree",
            "dram": "RAPL dram counters: all memory on the socket(s), every process",
        }

    def read(self) -> Mapping[str, float]:
        """Cumulative joules per component since open(), unwrapping counter wraparound.

        Raises:
            MeterError: A counter became unreadable.
        """
        totals: dict[str, float] = dict.fromkeys(self._components, 0.0)
        for z in self._zones:
            try:
                now = int(self._read_text(z.path / "energy_uj"))
            except (OSError, ValueError) as exc:
                raise MeterError(f"RAPL counter {z.path / 'energy_uj'} unreadable: {exc}") from None
            delta = now - z.last_uj
            if delta < 0:  # wrapped once (reads are at least that frequent)
                delta += z.max_range_uj
            z.total_uj += delta
            z.last_uj = now
            totals[z.component] += z.total_uj / 1e6
        return totals
