"""Meter discovery for :class:`~lowcarb.energy.EnergyMonitor`: open the meters, give each a slot.

Runs on the monitor's background thread, never the caller's. The meters are either the ones the
caller gave (each ``open()``-ed here) or the ones a :class:`MeterDetector` finds. Failures never
escape: a meter that cannot be opened, or whose ``components()`` fails, is dropped with a note, and
a detector that raises leaves no meters and one note saying why.

The notes are logged once per process (:func:`log_notes_once`), through the monitor's logger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

from lowcarb.energy._detect import DetectedMeters
from lowcarb.energy._meter import Meter
from lowcarb.energy._slots import MeterSlot, hook_float
from lowcarb.errors import LowcarbError

__all__ = ["MeterDetector", "discover_meters", "log_notes_once", "meter_slot"]

_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


class MeterDetector(Protocol):
    """Signature of :func:`~lowcarb.energy.detect_meters` as the monitor calls it."""

    def __call__(
        self,
        *,
        pid: int | None,
        environ: Mapping[str, str],
        clock: Callable[[], float],
        start_cpu_s: float | None,
        start_clock_s: float | None,
    ) -> DetectedMeters: ...


def discover_meters(
    given: Sequence[Meter] | None,
    *,
    detect: MeterDetector,
    pid: int,
    environ: Mapping[str, str],
    clock: Callable[[], float],
    start_s: float,
    start_cpu_s: float | None,
) -> tuple[list[Meter], list[str], set[str]]:
    """Open the meters: (meters, notes, the notes worth a warning).

    Args:
        given: Meters to open; None: call ``detect`` instead.
        detect: The detector, called with ``pid``, ``environ``, ``clock`` and the start snapshot
            (``start_s`` on the monitor clock, ``start_cpu_s`` CPU seconds of the tracked root).
    """
    if given is None:
        try:
            found = detect(
                pid=pid,
                environ=environ,
                clock=clock,
                start_cpu_s=start_cpu_s,
                start_clock_s=start_s,
            )
        except Exception as exc:  # a thread must not die silently: report it in the result
            failed = f"meter detection failed: {type(exc).__name__}: {exc}"
            return [], [failed], {failed}
        return list(found.meters), list(found.notes), set(found.warnings)
    meters: list[Meter] = []
    notes: list[str] = []
    for meter in given:
        try:
            meter.open()
        except LowcarbError as exc:
            notes.append(f"meter {meter.name!r} not used: {exc}")
            continue
        except Exception as exc:
            notes.append(f"meter {meter.name!r} not used: {type(exc).__name__}: {exc}")
            continue
        meters.append(meter)
    return meters, notes, set(notes)


def meter_slot(
    meter: Meter, *, interval_s: float, now_s: float, taken: set[str], note: Callable[[str], None]
) -> MeterSlot | None:
    """The slot of ``meter``, published at ``now_s``; None when its ``components()`` fails.

    ``taken`` holds the component names already reported by earlier meters (this one's are added):
    a name two meters report is renamed ``component@meter`` for the second. Notes go to ``note`` as
    they arise. A slot's sampling period is ``interval_s`` for a meter that ``needs_sampling``,
    shortened (or set) by its ``max_read_interval_s`` hook.
    """
    try:
        components = dict(meter.components())
    except Exception as exc:
        note(f"meter {meter.name!r} not used: {exc}")
        return None
    names: dict[str, str] = {}
    for comp in components:
        reported = comp if comp not in taken else f"{comp}@{meter.name}"
        if reported != comp:
            note(f"two meters report {comp!r}; {meter.name}'s is {reported!r}")
        taken.add(reported)
        names[comp] = reported
    period = interval_s if meter.needs_sampling else None
    slow = hook_float(meter, "max_read_interval_s")
    if slow is not None:
        period = min(period, slow) if period is not None else slow
    zero = hook_float(meter, "zero_time_s", positive=False)
    return MeterSlot(meter, now_s, zero if zero is not None else now_s, components, names, period)


def log_notes_once(log: logging.Logger, notes: Sequence[str], warnings: Collection[str]) -> None:
    """Log each discovery note once per process (a tracker per trial must not repeat it 100 times).

    At WARNING for the notes in ``warnings`` (the user can act on them), else at INFO.
    """
    for note in notes:
        with _WARNED_LOCK:
            if note in _WARNED:
                continue
            _WARNED.add(note)
        log.log(logging.WARNING if note in warnings else logging.INFO, "%s", note)
