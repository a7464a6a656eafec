"""Periodic checks with the retraining policy (``lowcarb monitor watch``).

:func:`watch` runs a drift check every ``every_s`` seconds and hands each report to an act
callable (a :class:`~lowcarb.monitoring._retrain_io.RetrainMonitor`: decide, submit, record).
The clock and the sleep are injected, so a test runs a week of checks instantly; by default it
sleeps on a :class:`threading.Event` that :func:`stop_on_signals` sets on SIGTERM or SIGINT, so a
watch stops between checks, never in the middle of one (a check that has started is decided and
recorded). Ctrl-C without the handlers installed stops it the same way.

Checks keep their rhythm: the k-th check is due ``k x every_s`` after the first; a check that
overruns its period skips the slots it missed rather than running late ones back to back.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Literal, Protocol

from lowcarb.errors import InvalidValueError, LowcarbError
from lowcarb.monitoring._report import DriftReport
from lowcarb.monitoring._retrain_io import CheckOutcome
from lowcarb.units import MAX_DURATION

__all__ = ["Act", "StopReason", "WatchSummary", "stop_on_signals", "watch"]

log = logging.getLogger(__name__)

#: Why a watch ended: its ``iterations`` ran, its stop event was set, or Ctrl-C.
StopReason = Literal["iterations", "stopped", "interrupted"]


class Act(Protocol):
    """What to do with each report (a ``RetrainMonitor`` decides, submits and records)."""

    def __call__(self, report: DriftReport, *, now: datetime) -> CheckOutcome:
        """Act on ``report`` at ``now``."""
        ...


@dataclass(frozen=True, slots=True)
class WatchSummary:
    """How a watch went.

    Attributes:
        checks: Checks that completed (decided and recorded).
        retrains: Of those, the ones that submitted a retrain.
        errors: Checks that failed and were passed to ``on_error``.
        stopped_by: Why the watch ended.
        last: The last completed check, or None.
    """

    checks: int
    retrains: int
    errors: int
    stopped_by: StopReason
    last: CheckOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``lowcarb monitor watch --json`` object."""
        return {
            "checks": self.checks,
            "retrains": self.retrains,
            "errors": self.errors,
            "stopped_by": self.stopped_by,
            "last": None if self.last is None else self.last.to_dict(),
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def watch(
    check: Callable[[], DriftReport],
    act: Act,
    *,
    every_s: float,
    clock: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], object] | None = None,
    iterations: int | None = None,
    stop: threading.Event | None = None,
    on_outcome: Callable[[CheckOutcome], None] | None = None,
    on_error: Callable[[LowcarbError], None] | None = None,
) -> WatchSummary:
    """Check every ``every_s`` seconds until stopped (or ``iterations`` checks ran).

    Args:
        check: Runs one drift check (reads the current window, computes the report).
        act: Decides and records (a ``RetrainMonitor``).
        every_s: Period, seconds (> 0, at most a year).
        clock: Current time, timezone-aware (injected for tests).
        sleep: Waits a number of seconds (injected for tests); default: ``stop.wait``, which
            returns at once when the watch is told to stop.
        iterations: Stop after this many checks (None: until stopped).
        stop: Set it (from a signal handler or another thread) to stop between checks.
        on_outcome: Called with every completed check (to print or export it).
        on_error: Called with a check's :class:`LowcarbError` (a malformed current window, a
            ledger outage) and the watch goes on; without it the error is raised.

    Raises:
        InvalidValueError: A bad ``every_s`` or ``iterations``.
        LowcarbError: A check failed and no ``on_error`` was given.
    """
    if not (isinstance(every_s, int | float) and math.isfinite(every_s) and every_s > 0):
        raise InvalidValueError(
            f"the watch period must be a number of seconds > 0, got {every_s!r}"
        )
    if every_s > MAX_DURATION.total_seconds():
        raise InvalidValueError(
            f"the watch period {every_s:g} s is longer than {MAX_DURATION.days} days; "
            "give a shorter --every"
        )
    if iterations is not None and (isinstance(iterations, bool) or iterations < 1):
        raise InvalidValueError(f"iterations must be a whole number >= 1, got {iterations!r}")
    stop = stop if stop is not None else threading.Event()
    wait: Callable[[float], object] = sleep if sleep is not None else stop.wait
    period = timedelta(seconds=every_s)
    checks = retrains = errors = 0
    last: CheckOutcome | None = None
    first: datetime | None = None

    def summary(reason: StopReason) -> WatchSummary:
        return WatchSummary(checks, retrains, errors, reason, last)

    try:
        while not stop.is_set():
            now = clock()
            first = first or now
            try:
                outcome = act(check(), now=now)
            except LowcarbError as exc:
                if on_error is None:
                    raise
                errors += 1
                log.warning("check at %s failed: %s", now.isoformat(), exc)
                on_error(exc)
            else:
                checks += 1
                retrains += outcome.job is not None
                last = outcome
                if on_outcome is not None:
                    on_outcome(outcome)
            if iterations is not None and checks + errors >= iterations:
                return summary("iterations")
            after = clock()
            slots = math.floor((after - first) / period) + 1
            seconds = (first + slots * period - after).total_seconds()
            if seconds > 0 and not stop.is_set():
                wait(seconds)
        return summary("stopped")
    except KeyboardInterrupt:
        return summary("interrupted")


@contextmanager
def stop_on_signals(
    stop: threading.Event,
    signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGTERM or SIGINT while the block runs (main thread only; elsewhere a
    no-op: Python delivers signals to the main thread), then restore the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: the watch stops after the current check", signum)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
