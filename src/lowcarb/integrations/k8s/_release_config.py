"""The release controller's settings (:class:`ReleaseConfig`) and what one pass did
(:class:`TickReport`)."""

from __future__ import annotations

import math
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lowcarb.errors import InvalidValueError
from lowcarb.integrations.k8s._batch import utc_text

__all__ = ["ReleaseConfig", "TickReport", "default_identity"]


def default_identity() -> str:
    """``HOSTNAME_RANDOM``: unique per controller process (a pod's hostname is its name)."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ReleaseConfig:
    """How the controller runs.

    Attributes:
        namespace: Where it watches Jobs and keeps its Lease.
        lease_name: The Lease every controller of these Jobs shares.
        identity: This controller's identity (default: hostname and a random suffix).
        lease_duration_s: How long a silent holder keeps the Lease before a standby takes over.
        renew_every_s: How often the holder renews (less than the lease duration), and how often
            a standby looks at the Lease.
        min_gain_pct: A re-plan moves a Job only when it lowers the forecast intensity of its
            window by at least this, percent (no churn for noise).
        replan: Whether to re-plan with fresher forecasts (needs a source).
        pue: Facility PUE applied to the energy of finished Jobs.
        node_cpu: The nodes' CPU model for the request-based estimate (default: unknown CPU).
        max_wait_s: The longest the leader waits between passes over its cached Jobs when no
            Job changes and nothing is due (a pass makes API calls only for what is due).
    """

    namespace: str = "default"
    lease_name: str = "lowcarb-release"
    identity: str = field(default_factory=default_identity)
    lease_duration_s: int = 15
    renew_every_s: float = 5.0
    min_gain_pct: float = 1.0
    replan: bool = True
    pue: float = 1.0
    node_cpu: str | None = None
    max_wait_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_s < self.lease_duration_s:
            raise InvalidValueError(
                f"renew_every_s={self.renew_every_s!r} must be > 0 and less than "
                f"lease_duration_s={self.lease_duration_s!r}"
            )
        if not (math.isfinite(self.min_gain_pct) and 0 <= self.min_gain_pct < 100):
            raise InvalidValueError(f"min_gain_pct={self.min_gain_pct!r} must be in [0, 100)")
        if not (math.isfinite(self.pue) and self.pue >= 1.0):
            raise InvalidValueError(f"pue={self.pue!r} must be a number >= 1.0")
        if not self.max_wait_s >= 1:
            raise InvalidValueError(f"max_wait_s={self.max_wait_s!r} must be >= 1 second")


@dataclass
class TickReport:
    """What one pass did.

    Attributes:
        at: When the pass ran (the injected clock).
        leader: Whether this controller held the Lease (a standby does nothing else).
        holder: Who holds the Lease.
        released: ``namespace/name`` of each Job released.
        replanned: One ``{job, from, to}`` per planned start moved.
        accounted: One ``{job, energy_kwh, co2e_g, method}`` per finished Job.
        record_ids: Ledger records appended.
        problems: Per-Job problems that did not stop the pass (a malformed annotation, a
            ledger that refused: retried on the next pass).
        next_start: The earliest planned start still ahead, or None.
    """

    at: datetime
    leader: bool
    holder: str | None
    released: list[str] = field(default_factory=list)
    replanned: list[dict[str, Any]] = field(default_factory=list)
    accounted: list[dict[str, Any]] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    next_start: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``lowcarb k8s release --once --json``)."""
        return {
            "at": utc_text(self.at),
            "leader": self.leader,
            "holder": self.holder,
            "released": list(self.released),
            "replanned": list(self.replanned),
            "accounted": list(self.accounted),
            "record_ids": list(self.record_ids),
            "problems": list(self.problems),
            "next_start": None if self.next_start is None else utc_text(self.next_start),
        }
