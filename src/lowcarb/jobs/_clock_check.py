"""The worker's start-up check of its clock against the database's.

Leases are compared across workers: a clock that runs ahead would take jobs that still run
elsewhere; one behind would keep dead workers' jobs. :meth:`Worker.run
<lowcarb.jobs.Worker.run>` checks before it claims anything, so nothing is lost when this fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lowcarb.errors import ConfigError

__all__ = ["DEFAULT_MAX_CLOCK_SKEW_S", "clock_skew_s"]

#: How far a worker on the system clock may be from the database's clock at start, seconds.
DEFAULT_MAX_CLOCK_SKEW_S = 5.0


def _iso_ms(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clock_skew_s(
    clock: Callable[[], datetime], database_now: Callable[[], datetime], max_skew_s: float
) -> float:
    """How far ``clock`` is ahead of the database's (``database_now``), seconds (negative:
    behind).

    The database is read between two readings of ``clock``, and compared with their midpoint;
    half the round trip is allowed on top of ``max_skew_s``.

    Raises:
        ConfigError: They differ by more than that, naming both clocks.
    """
    before = clock()
    db_now = database_now()
    after = clock()
    mine = before + (after - before) / 2
    skew_s = (mine - db_now).total_seconds()
    if abs(skew_s) > max_skew_s + abs((after - before).total_seconds()) / 2:
        way = "ahead of" if skew_s > 0 else "behind"
        raise ConfigError(
            f"worker clock {_iso_ms(mine)} is {abs(skew_s):.1f} s {way} the database clock "
            f"{_iso_ms(db_now)} (more than {max_skew_s:g} s): fix this host's time sync "
            "(NTP, chrony) and start the worker again"
        )
    return skew_s
