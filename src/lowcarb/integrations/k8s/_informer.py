"""A local cache of the controller's Jobs, kept by one LIST and one long WATCH: an informer.

client-go's reflector (``k8s.io/client-go/tools/cache``) in small. :meth:`JobInformer.sync`
lists the Jobs once and keeps the list's resourceVersion; a thread then watches from that
version and applies each event to the cache: ``ADDED`` and ``MODIFIED`` store the object,
``DELETED`` drops it, ``BOOKMARK`` only moves the version. When the server ends a watch (its
``timeoutSeconds``) the thread watches again from the last version it saw, without listing. It
lists again only when the server answers 410 Gone (the version is older than the server keeps)
or the watch broke (the connection dropped, so events may have been missed), as the API
reference says a client must ("Efficient detection of changes", Kubernetes API concepts). A
re-list that fails is kept and raised in the controller's thread by :meth:`raise_if_failed`.

The controller's own writes go through :meth:`written`: the API server's answer to a write is
newer than anything cached, so it replaces the cached Job at once, and the older events of that
Job still on their way are skipped until the event of the write itself arrives (client-go's
mutation cache, in effect). Without it a pass between a write and its event would act on the Job
as it was before the write, e.g. append a ledger record a second time. resourceVersions are
compared for equality only: the API reference calls them opaque.

Thread safety: the watch thread and the controller's thread share the cache under one lock. The
Job dicts it hands out are replaced, never changed in place; callers must not change them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from lowcarb.integrations.k8s._errors import ClusterUnreachableError
from lowcarb.integrations.k8s._kube import ExpiredError, JobWatch, KubeApi

__all__ = ["JobInformer"]

log = logging.getLogger(__name__)

#: How long one WATCH request lasts before the server ends it and a new one resumes from the
#: last version (client-go's reflector uses 5 to 10 minutes).
WATCH_TIMEOUT_S = 300
#: A watch that ends sooner than this without an event is not re-opened at once (no hot loop
#: against a server that closes watches immediately).
_MIN_WATCH_S = 1.0
#: resourceVersions remembered per Job, to tell whether a write's own event already came.
_SEEN = 8

_Key = tuple[str, str]


def _key(job: dict[str, Any]) -> _Key:
    meta = job.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _version(job: dict[str, Any]) -> str:
    return str((job.get("metadata") or {}).get("resourceVersion") or "")


class JobInformer:
    """The Jobs matching a label selector in one namespace, listed once and then watched.

    Args:
        kube: The API.
        namespace: Where the Jobs are.
        selector: Their label selector.
        on_change: Called (from the watch thread) whenever the cache changed other than by
            :meth:`written`: the controller wakes up and looks at the Jobs again.
        watch_timeout_s: How long one WATCH request lasts.
    """

    def __init__(
        self,
        kube: KubeApi,
        *,
        namespace: str,
        selector: str,
        on_change: Callable[[], None],
        watch_timeout_s: int = WATCH_TIMEOUT_S,
    ) -> None:
        self._kube = kube
        self.namespace = namespace
        self.selector = selector
        self._on_change = on_change
        self._watch_timeout_s = watch_timeout_s
        self._lock = threading.Lock()
        self._jobs: dict[_Key, dict[str, Any]] = {}
        self._seen: dict[_Key, deque[str]] = {}  # the last versions the watch delivered
        self._pending: dict[_Key, str] = {}  # version of a write of ours not yet seen in the watch
        self._version = ""
        self._error: Exception | None = None
        self._stop = threading.Event()
        self._watch: JobWatch | None = None
        self._thread: threading.Thread | None = None
        #: How many LIST and WATCH requests were made (for the logs and the tests).
        self.lists = 0
        self.watches = 0

    @property
    def resource_version(self) -> str:
        """The version the cache is at (the next watch starts after it)."""
        with self._lock:
            return self._version

    def jobs(self) -> list[dict[str, Any]]:
        """The cached Jobs (shared objects: do not change them)."""
        with self._lock:
            return list(self._jobs.values())

    def sync(self) -> None:
        """LIST the Jobs and replace the cache with them.

        Raises:
            ClusterError: The list failed (unreachable, refused).
        """
        jobs, version = self._kube.list_jobs(self.namespace, self.selector)
        with self._lock:
            self._jobs = {_key(job): job for job in jobs}
            self._seen.clear()
            self._pending.clear()
            self._version = version
            self.lists += 1
        log.debug("listed %d Jobs in %s at version %s", len(jobs), self.namespace, version)

    def written(self, job: dict[str, Any]) -> None:
        """The API server's answer to a write of ours: cache it now (see the module docstring)."""
        key, version = _key(job), _version(job)
        if not version:
            return
        with self._lock:
            if version in self._seen.get(key, ()):
                return  # the watch delivered this write (and maybe later ones) already
            self._jobs[key] = job
            self._pending[key] = version

    def start(self) -> None:
        """Watch in a daemon thread (after :meth:`sync`)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="lowcarb-job-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the watch and its thread (the open WATCH request is cut, not waited for)."""
        self._stop.set()
        thread = self._thread
        deadline = time.monotonic() + timeout_s
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            watch = self._watch
            if watch is not None:
                watch.stop()  # again each round: a request being opened is cut once it is open
            thread.join(timeout=0.1)

    def raise_if_failed(self) -> None:
        """Raise what stopped the watch thread, if anything did.

        Raises:
            ClusterError: A re-list failed, or the API server refused the watch.
        """
        if self._error is not None:
            raise self._error

    # -- the watch thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # kept for the controller's thread, which raises it
            self._error = exc
            self._on_change()

    def _loop(self) -> None:
        relist = False
        while not self._stop.is_set():
            if relist:
                self.sync()  # a failure ends the thread; the controller raises it
                relist = False
                self._on_change()
            began = time.monotonic()
            try:
                events = self._watch_once()
            except ExpiredError as exc:
                log.info("the watch of Jobs expired (%s): listing them again", exc)
                relist = True
                continue
            except ClusterUnreachableError as exc:
                if self._stop.is_set():
                    return
                log.warning("the watch of Jobs broke (%s): listing them again", exc)
                relist = True
                continue
            if not events and time.monotonic() - began < _MIN_WATCH_S:
                self._stop.wait(_MIN_WATCH_S)

    def _watch_once(self) -> int:
        """One WATCH from the cached version until the server ends it; the events applied."""
        watch = self._kube.watch_jobs(
            self.namespace, self.selector, self.resource_version, self._watch_timeout_s
        )
        self._watch = watch
        if self._stop.is_set():
            watch.stop()  # stop() ran before this watch existed
        with self._lock:
            self.watches += 1
        count = 0
        for kind, obj in watch:
            count += 1
            if self._apply(kind, obj):
                self._on_change()
        return count

    def _apply(self, kind: str, obj: dict[str, Any]) -> bool:
        """Apply one event; whether the cache changed."""
        key, version = _key(obj), _version(obj)
        with self._lock:
            if version:
                self._version = version
            if kind == "BOOKMARK":
                return False
            if kind not in ("ADDED", "MODIFIED", "DELETED"):
                log.warning("ignored a watch event of type %r", kind[:40])
                return False
            self._seen.setdefault(key, deque(maxlen=_SEEN)).append(version)
            pending = self._pending.get(key)
            if pending is not None:
                if version != pending:
                    return False  # older than our write, which the cache holds already
                del self._pending[key]
                if kind != "DELETED":
                    return False  # the event of our own write: the cache has it
            if kind == "DELETED":
                self._jobs.pop(key, None)
                self._seen.pop(key, None)
            else:
                self._jobs[key] = obj
            return True
