"""Bookkeeping behind :class:`~lowcarb.energy.EnergyMonitor`: one slot per meter, one per window.

Not thread-safe by itself: the monitor calls everything here under its lock. Meter calls never
raise from here; failures come back as note texts.

The optional meter hooks (``details()``, ``notes()``, ``max_read_interval_s``, ``zero_time_s``)
are declared with defaults on :class:`~lowcarb.energy.Meter`; a hook that raises or returns
nonsense is treated as absent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lowcarb.energy._meter import Meter
from lowcarb.energy._types import ComponentEnergy, Measurement, Method

__all__ = ["MeterSlot", "Window", "hook_float", "measure"]

log = logging.getLogger(__name__)


def hook_float(meter: Meter, attribute: str, *, positive: bool = True) -> float | None:
    """A finite number (> 0 when ``positive``) a meter exposes as ``attribute``, else None."""
    value = getattr(meter, attribute, None)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if value > 0 or not positive else None


@dataclass(slots=True)
class MeterSlot:
    """A published meter with its last reading.

    Attributes:
        meter: The open meter.
        ready_s: Monitor clock when it was published.
        zero_s: Monitor clock its zero corresponds to (``zero_time_s`` hook, else ``ready_s``).
        components: Per component (meter's name): (method, source), fixed at publication.
        names: The meter's component name -> the name reported (renamed on collisions).
        period_s: How often the sampler must touch it (None: never).
        last: Last successful cumulative reading.
        details: Last ``details()`` text per component.
        notes_seen: How many of the meter's ``notes()`` were already collected.
    """

    meter: Meter
    ready_s: float
    zero_s: float
    components: dict[str, tuple[Method, str]]
    names: dict[str, str]
    period_s: float | None
    last: dict[str, float] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    notes_seen: int = 0

    def touch(self, *, sample: bool, with_details: bool = False) -> list[str]:
        """Call ``sample()`` (or ``read()``, keeping the reading); return new note texts."""
        notes: list[str] = []
        meter = self.meter
        try:
            if sample:
                meter.sample()
            else:
                self.last = dict(meter.read())
        except Exception as exc:
            notes.append(
                f"meter {meter.name!r} failed ({type(exc).__name__}: {exc}); its last reading is "
                "kept, so its energy from then on is missing"
            )
        try:
            new = [str(n) for n in list(meter.notes())[self.notes_seen :]]
        except Exception:
            new = []
        self.notes_seen += len(new)
        notes.extend(new)
        if with_details:
            try:
                self.details = {str(k): str(v) for k, v in meter.details().items()}
            except Exception:
                log.debug("details() of meter %s failed", meter.name, exc_info=True)
        return notes


@dataclass(slots=True)
class Window:
    """An open window.

    Attributes:
        name: Window name.
        begin_s: Monitor clock at ``begin_window()``.
        started_at: Wall clock at ``begin_window()``.
        from_zero: The run window: every meter counts from its zero.
        zeros: Per slot index, the reading the window counts from.
    """

    name: str
    begin_s: float
    started_at: datetime
    from_zero: bool
    zeros: dict[int, dict[str, float]] = field(default_factory=dict)


def measure(
    window: Window,
    slots: Sequence[MeterSlot],
    notes: Sequence[tuple[float | None, str]],
    end_s: float,
    readings: Mapping[int, Mapping[str, float]],
) -> Measurement:
    """The window's measurement: per component, the reading at ``end_s`` minus its zero.

    Notes stamped ``None`` (discovery) apply to every window; the others to windows ending at or
    after their time (a meter failure leaves energy missing from every later window).
    """
    duration_s = max(0.0, end_s - window.begin_s)
    components: list[ComponentEnergy] = []
    for i, slot in enumerate(slots):
        zero = {} if window.from_zero else window.zeros.get(i, {})
        counted_from = slot.zero_s if window.from_zero else max(window.begin_s, slot.ready_s)
        gap_s = counted_from - window.begin_s
        reading = readings.get(i, slot.last)
        for comp, (method, source) in slot.components.items():
            energy_j = reading.get(comp, 0.0) - zero.get(comp, 0.0)
            detail = slot.details.get(comp, "")
            if gap_s > max(0.01, 0.01 * duration_s):
                detail += (
                    f"{'; ' if detail else ''}counting began {gap_s:.3g} s after the window "
                    "began (meter discovery)"
                )
            components.append(
                ComponentEnergy(slot.names[comp], max(0.0, energy_j), method, source, detail)
            )
    return Measurement(
        name=window.name,
        started_at=window.started_at,
        duration_s=duration_s,
        components=tuple(components),
        notes=tuple(text for at, text in notes if at is None or at <= end_s),
    )
