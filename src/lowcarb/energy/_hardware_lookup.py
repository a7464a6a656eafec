"""Looking a device up in the hardware spec table: by name or alias, or by ``/proc/cpuinfo`` model.

The table is :func:`lowcarb.energy._hardware.known_hardware`; the lookup structures below are built
from it once, at import, and never mutated.
"""

from __future__ import annotations

import re

from lowcarb.energy._hardware import known_hardware
from lowcarb.energy._hardware_spec import HardwareSpec
from lowcarb.errors import UnknownHardwareError

__all__ = ["lookup_hardware", "match_cpu_brand"]


def _key(name: str) -> str:
    """Normalise a name for lookup: case-insensitive; spaces, ``_`` and ``-`` are equivalent;
    a leading vendor/brand word (``NVIDIA``, ``Tesla``, ``Intel``, ``AMD``, ``Xeon``, ``Core``)
    is ignored."""
    key = re.sub(r"[\s_\-]+", "-", name.strip().casefold())
    return re.sub(r"^(?:(?:nvidia|tesla|intel|amd|xeon|core)-)+", "", key)


def _build_index(table: tuple[HardwareSpec, ...]) -> dict[str, HardwareSpec]:
    index: dict[str, HardwareSpec] = {}
    for spec in table:
        for label in (spec.name, *spec.aliases):
            key = _key(label)
            other = index.get(key)
            if other is not None and other is not spec:
                raise RuntimeError(f"hardware name {label!r} is ambiguous ({other.name})")
            index[key] = spec
    return index


# Immutable lookup structures derived from the constant table (never mutated after import).
_INDEX = _build_index(known_hardware())
_CPU_PATTERNS: tuple[tuple[re.Pattern[str], HardwareSpec], ...] = tuple(
    (re.compile(p, re.IGNORECASE), spec)
    for spec in known_hardware()
    if spec.kind == "cpu"
    for p in spec.cpu_brand_patterns
)


def lookup_hardware(name: str) -> HardwareSpec:
    """Find a spec by name or alias (case-insensitive). Raises UnknownHardwareError.

    Spaces, underscores and hyphens are interchangeable, and a leading ``NVIDIA``/``Tesla``/
    ``Intel``/``AMD`` is ignored, so NVML names (``"NVIDIA A100-SXM4-80GB"``) and ``/proc/cpuinfo``
    model names (``"AMD EPYC 7763 64-Core Processor"``, matched by :func:`match_cpu_brand`) work.

    Raises:
        UnknownHardwareError: ``name`` is in neither the table nor its aliases; the message
            lists the closest known names.
    """
    spec = _INDEX.get(_key(name))
    if spec is None:
        spec = match_cpu_brand(name)
    if spec is None:
        known = [label for s in known_hardware() for label in (s.name, *s.aliases)]
        raise UnknownHardwareError(name, known)
    return spec


def match_cpu_brand(brand: str) -> HardwareSpec | None:
    """Match a ``/proc/cpuinfo`` model name (e.g. ``"AMD EPYC 7763 64-Core Processor"``).

    Returns None for a model name the table does not cover, including the generic names
    virtualised CPUs report (``"Intel(R) Xeon(R) Processor @ 2.80GHz"``,
    ``"Intel(R) Xeon(R) CPU @ 2.20GHz"``); callers then fall back to the UNKNOWN_CPU_* per-vCPU
    coefficients.
    """
    for pattern, spec in _CPU_PATTERNS:
        if pattern.search(brand):
            return spec
    return None
