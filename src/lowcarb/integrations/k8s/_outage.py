"""How the release controller waits out an API server it cannot reach."""

from __future__ import annotations

import logging
import time

__all__ = ["Outage"]

log = logging.getLogger(__name__)


class Outage:
    """Waits between tries while the API server cannot be reached: 0.5 s, doubling, at most
    ``max_wait_s`` (a holder must try again before its Lease expires); said once per outage."""

    def __init__(self, *, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s
        #: Whether the API server has answered at least once.
        self.reached = False
        self._tries = 0
        self._began = 0.0

    def over(self) -> None:
        """The server answered."""
        if self._tries:
            log.warning(
                "reached the Kubernetes API server again after %.1f s",
                time.monotonic() - self._began,
            )
        self.reached, self._tries = True, 0

    def wait_s(self, exc: BaseException) -> float:
        """Seconds to wait before the next try, after ``exc``."""
        if not self._tries:
            self._began = time.monotonic()
            log.warning("%s; stopped acting, trying again until it answers", exc)
        self._tries += 1
        return min(self.max_wait_s, 0.5 * 2.0 ** min(self._tries - 1, 16))
