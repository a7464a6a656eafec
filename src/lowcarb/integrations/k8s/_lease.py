"""Leader election through a ``coordination.k8s.io/v1`` Lease: one controller releases at a time.

The protocol is client-go's (``k8s.io/client-go/tools/leaderelection``): the holder writes its
identity and ``renewTime`` into the Lease every renew period; every write carries the
resourceVersion it read, so two controllers racing for the Lease cannot both win (the API server
answers the loser with 409 Conflict). A standby takes the Lease over only after it has seen the
same Lease record unchanged for ``leaseDurationSeconds`` by its *own* clock, so clock skew between
machines does not matter.

The holder renews on its own timer (:class:`LeaseRenewer`, a thread), independent of how long the
controller's watch waits for the next event.

A controller that finds another holder in the Lease it held, or whose write is refused, has lost
it: :meth:`LeaseElector.ensure` raises :class:`LeaseLostError` and the controller stops releasing
at once. A controller that cannot renew in time stops as well: past ``held_until`` it no longer
counts itself the holder. It does not step down to stand by: it exits with that one-line error
(status 2), and its Deployment restarts it as a standby.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcarb.errors import InvalidValueError
from lowcarb.integrations.k8s._errors import ClusterError, LeaseLostError
from lowcarb.integrations.k8s._kube import ConflictError, KubeApi

__all__ = ["LeaseElector", "LeaseRenewer", "LeaseState", "micro_time"]

log = logging.getLogger(__name__)
#: The longest one API call can take (connect and read timeouts of :mod:`._kube`), seconds.
_CONNECT_AND_READ_S = 35.0


def micro_time(t: datetime) -> str:
    """A Kubernetes MicroTime: ``2024-05-01T10:00:00.000000Z``."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class LeaseState:
    """What the last look at the Lease found.

    Attributes:
        leader: Whether this controller holds it.
        holder: The identity in the Lease (None: nobody).
        held_until: Until when this controller counts itself the holder (None when not).
    """

    leader: bool
    holder: str | None
    held_until: datetime | None


class LeaseElector:
    """Acquires and renews one Lease for one identity.

    Thread-safe: the renewing thread and the controller's loop may both call it (one lock).

    Args:
        kube: The API.
        namespace: The Lease's namespace.
        name: The Lease's name (every controller of one set of Jobs uses the same).
        identity: This controller's identity, unique among the controllers (hostname and pid).
        lease_duration_s: How long a holder that stopped renewing keeps the Lease.
        clock: The current time, timezone-aware (injected in tests).
    """

    def __init__(
        self,
        kube: KubeApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration_s: int = 15,
        clock: Callable[[], datetime],
    ) -> None:
        if not 1 <= lease_duration_s <= 3600:
            raise InvalidValueError(
                f"lease_duration_s={lease_duration_s!r} must be between 1 and 3600 seconds"
            )
        if not identity or len(identity) > 253:
            raise InvalidValueError(f"identity={identity!r} must be 1 to 253 characters")
        self._kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration = timedelta(seconds=lease_duration_s)
        self._clock = clock
        self._lock = threading.RLock()
        self._held_until: datetime | None = None
        self._seen: tuple[str, str | None, str | None] | None = None  # rv, holder, renewTime
        self._seen_at: datetime | None = None
        self.holder: str | None = None

    @property
    def where(self) -> str:
        """``namespace/name`` of the Lease."""
        return f"{self.namespace}/{self.name}"

    def holds(self, now: datetime) -> bool:
        """Whether this controller holds the Lease at ``now`` (by its last renewal)."""
        return self._held_until is not None and now < self._held_until

    def try_acquire(self) -> LeaseState:
        """Acquire the Lease, or renew it when held; a look that leaves a standby waiting.

        Raises:
            LeaseLostError: This controller held the Lease and another has it now.
            ClusterError: The API server failed (unreachable, refused).
        """
        with self._lock:
            return self._try_acquire()

    def _try_acquire(self) -> LeaseState:
        now = self._clock()
        was_leader = self._held_until is not None
        lease = self._kube.read_lease(self.namespace, self.name)
        if lease is None:
            return self._write(now, None, was_leader)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or None
        self.holder = holder
        record = (
            str(lease.get("metadata", {}).get("resourceVersion", "")),
            holder,
            spec.get("renewTime"),
        )
        if record != self._seen:
            self._seen, self._seen_at = record, now
        if holder == self.identity:
            return self._write(now, lease, was_leader)
        duration = timedelta(seconds=_lease_seconds(spec, self.duration))
        seen_at = self._seen_at or now
        if holder is not None and now < seen_at + duration:
            if was_leader:
                self._lost(f"another controller, {holder!r}, holds it now")
            return LeaseState(leader=False, holder=holder, held_until=None)
        # Nobody holds it, or its holder stopped renewing a full lease duration ago: take over.
        return self._write(now, lease, was_leader)

    def ensure(self) -> None:
        """Make sure the Lease is still held now (renewing it if need be) before acting.

        Raises:
            LeaseLostError: It is not.
        """
        with self._lock:
            now = self._clock()
            until = self._held_until
            if until is not None and now < until - self.duration / 2:
                return  # renewed recently enough: no API call before every release
            state = self._try_acquire()
            if not state.leader:
                self._lost(f"{state.holder!r} holds it")

    def release(self) -> None:
        """Give the Lease up on a clean shutdown so a standby takes over without waiting."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        if self._held_until is None:
            return
        lease = self._kube.read_lease(self.namespace, self.name)
        self._held_until = None
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        lease = {**lease, "spec": {**lease["spec"], "holderIdentity": None}}
        try:
            self._kube.replace_lease(self.namespace, lease)
        except ConflictError:
            log.info("Lease %s changed while it was being released", self.where)

    def _write(self, now: datetime, lease: dict[str, Any] | None, was_leader: bool) -> LeaseState:
        seconds = int(self.duration.total_seconds())
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": seconds,
            "renewTime": micro_time(now),
        }
        try:
            if lease is None:
                spec.update(acquireTime=micro_time(now), leaseTransitions=0)
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": spec,
                }
                self._kube.create_lease(self.namespace, body)
            else:
                old = lease.get("spec") or {}
                if old.get("holderIdentity") == self.identity:
                    spec["acquireTime"] = old.get("acquireTime") or micro_time(now)
                    spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0)
                else:
                    spec["acquireTime"] = micro_time(now)
                    spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
                self._kube.replace_lease(self.namespace, {**lease, "spec": spec})
        except ConflictError:
            # Another controller wrote the Lease between our read and our write.
            if was_leader:
                self._lost("another controller wrote it first (409 Conflict)")
            return LeaseState(leader=False, holder=self.holder, held_until=None)
        if not was_leader:
            log.info("acquired Lease %s as %s", self.where, self.identity)
        self.holder = self.identity
        self._held_until = now + self.duration
        return LeaseState(leader=True, holder=self.identity, held_until=self._held_until)

    def _lost(self, why: str) -> None:
        raise self.lost_error(why)

    def lost_error(self, why: str) -> LeaseLostError:
        """The error of a Lease lost for ``why``; this controller no longer counts itself holder."""
        with self._lock:
            self._held_until = None
        return LeaseLostError(
            f"lost the Lease {self.where} ({why}); stopped releasing Jobs at once: the holder "
            "releases them now (unreleased Jobs stay suspended, nothing is lost); restart this "
            "controller to stand by"
        )


class LeaseRenewer:
    """Renews a held Lease every ``every_s`` seconds on its own thread.

    The controller's loop waits on its watch for as long as nothing is due; the Lease must be
    renewed within its duration whatever the loop does, so renewing has its own timer. When the
    Lease is lost (another holder, a refused write, or no successful renewal before it expired:
    a failed renewal is retried each period until then) the thread stops, keeps the error for
    :meth:`raise_if_lost` and calls ``on_lost`` so the loop wakes and stops releasing.

    Args:
        elector: The elector holding the Lease.
        every_s: Seconds between renewals (less than the Lease's duration).
        clock: The current time, timezone-aware (the elector's).
        on_lost: Called from the thread once, when the Lease is lost.
    """

    def __init__(
        self,
        elector: LeaseElector,
        *,
        every_s: float,
        clock: Callable[[], datetime],
        on_lost: Callable[[], None],
    ) -> None:
        self._elector = elector
        self._every_s = every_s
        self._clock = clock
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._error: LeaseLostError | None = None
        self._thread: threading.Thread | None = None
        #: Renewals written (for the logs and the tests).
        self.renewals = 0

    def start(self) -> None:
        """Renew in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="lowcarb-lease-renew", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the Lease itself is given up by :meth:`LeaseElector.release`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_CONNECT_AND_READ_S)

    def raise_if_lost(self) -> None:
        """Raise the loss, if the Lease was lost.

        Raises:
            LeaseLostError: It was.
        """
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                state = self._elector.try_acquire()
            except LeaseLostError as exc:
                self._lose(exc)
                return
            except ClusterError as exc:
                if self._elector.holds(self._clock()):
                    log.warning(
                        "could not renew the Lease %s (%s); trying again in %g s",
                        self._elector.where,
                        exc,
                        self._every_s,
                    )
                    continue
                self._lose(self._elector.lost_error(f"no renewal before it expired: {exc}"))
                return
            if not state.leader:
                self._lose(self._elector.lost_error(f"{state.holder!r} holds it"))
                return
            self.renewals += 1

    def _lose(self, error: LeaseLostError) -> None:
        log.info("%s", error)  # the controller's thread raises it: said once, there
        self._error = error
        self._on_lost()


def _lease_seconds(spec: dict[str, Any], default: timedelta) -> float:
    value = spec.get("leaseDurationSeconds")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default.total_seconds()
