"""The few Kubernetes API calls lowcarb makes, on the official ``kubernetes`` client, as dicts.

:class:`KubeApi` wraps ``BatchV1Api`` (list, watch, create, patch Jobs), ``CoreV1Api`` (list
Pods) and ``CoordinationV1Api`` (read, create, replace Leases). Responses are read as the API
server's JSON (``_preload_content=False``), so the objects are the same dicts the manifests are
written as, whatever the client's model classes look like. :func:`connect` builds the client from
a kubeconfig (``--kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``; ``--context``) or, inside a
pod, from the service account. The client code is the same for a real cluster and for the test
suite's stand-in API server.

Errors: no answer (refused, timed out, DNS) is :class:`ClusterUnreachableError`; an API error
other than the 404, 409 and 410 the callers handle is :class:`ClusterError`, quoting status and
reason. The client makes one attempt per call (no urllib3 retries): a cluster that does not answer
is reported at once, as one line, and the caller decides what to do next.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowcarb._text import plain
from lowcarb.errors import MissingDependencyError
from lowcarb.integrations.k8s._errors import ClusterError, ClusterUnreachableError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["ConflictError", "ExpiredError", "JobWatch", "KubeApi", "NotFoundError", "connect"]

log = logging.getLogger(__name__)
#: Seconds to connect and to wait for an answer (watches add their own timeout to the latter).
_CONNECT_S = 5.0
_READ_S = 30.0


class NotFoundError(ClusterError):
    """HTTP 404: the object does not exist."""


class ConflictError(ClusterError):
    """HTTP 409: it already exists, or changed since it was read (optimistic concurrency)."""


class ExpiredError(ClusterError):
    """HTTP 410 Gone: a watch asked for a resourceVersion older than the server keeps; list again
    and watch from the list's version."""


def _kubernetes() -> Any:
    try:
        import kubernetes
    except ImportError:
        raise MissingDependencyError("kubernetes", "k8s") from None
    return kubernetes


def connect(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str],
) -> ApiClient:
    """An API client for a cluster, from a kubeconfig or the pod's service account.

    Args:
        kubeconfig: The kubeconfig file (default: the first of ``$KUBECONFIG``, else
            ``~/.kube/config``); inside a pod without one, the service account is used.
        context: The kubeconfig context (default: its current context).
        environ: Where ``KUBECONFIG`` and ``KUBERNETES_SERVICE_HOST`` are read.

    Raises:
        ClusterUnreachableError: No kubeconfig, an unknown context, or a malformed file.
        MissingDependencyError: The ``kubernetes`` client is not installed.
    """
    k8s = _kubernetes()
    cfg = k8s.client.Configuration()
    # One attempt per call. urllib3 retries by default, and logs "Retrying (Retry(total=...))" as a
    # warning before each retry: a second stderr line before lowcarb's own one-line error. A pooled
    # connection the server closed is already replaced before it is reused (urllib3 checks), the
    # controller's writes carry resourceVersion preconditions, and its loop re-lists or re-watches,
    # so a retry here would only double the wait for a cluster that is down.
    cfg.retries = 0
    path = kubeconfig or (environ.get("KUBECONFIG") or "").split(":")[0] or None
    if path is None and context is None and environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            k8s.config.load_incluster_config(client_configuration=cfg)
        except k8s.config.ConfigException as exc:
            raise ClusterUnreachableError(
                f"in-cluster configuration failed ({_one_line(exc)}): give --kubeconfig FILE"
            ) from None
        return k8s.client.ApiClient(cfg)  # type: ignore[no-any-return]
    file = Path(path).expanduser() if path else Path("~/.kube/config").expanduser()
    if not file.is_file():
        raise ClusterUnreachableError(
            f"no kubeconfig at {str(file)!r}: give --kubeconfig FILE (or set KUBECONFIG)"
        )
    try:
        k8s.config.load_kube_config(
            config_file=str(file), context=context, client_configuration=cfg, persist_config=False
        )
    except (k8s.config.ConfigException, ValueError, TypeError, OSError) as exc:
        where = f"context {context!r} of " if context else ""
        raise ClusterUnreachableError(
            f"cannot use {where}kubeconfig {str(file)!r} ({_one_line(exc)}): check --kubeconfig "
            "and --context (`kubectl config get-contexts` lists them)"
        ) from None
    return k8s.client.ApiClient(cfg)  # type: ignore[no-any-return]


def _one_line(exc: BaseException) -> str:
    return " ".join(plain(exc).split())[:300]


def _cause(exc: BaseException) -> str:
    """Why a connection failed, short: ``[Errno 111] Connection refused``, else the error's type
    (urllib3 wraps the socket's error in a MaxRetryError whose ``reason`` is the real one)."""
    reason = getattr(exc, "reason", None)
    cause = reason if isinstance(reason, BaseException) else exc
    found = re.search(r"\[Errno -?\d+\][^'\")\]]*", _one_line(cause))
    return found.group(0).strip() if found else type(cause).__name__


class KubeApi:
    """Jobs, Pods and Leases through the official client, as the API server's JSON.

    Thread safety: one instance may serve several threads (the controller loop, its watch and
    its Lease renewal): each call is one request on the client's thread-safe connection pool; a
    :class:`JobWatch` belongs to the thread that iterates it (any thread may stop it).

    Args:
        api_client: A ``kubernetes.client.ApiClient`` (see :func:`connect`).
    """

    def __init__(self, api_client: ApiClient) -> None:
        k8s = _kubernetes()
        self._k8s = k8s
        self.api_client = api_client
        self.batch = k8s.client.BatchV1Api(api_client)
        self.core = k8s.client.CoreV1Api(api_client)
        self.coordination = k8s.client.CoordinationV1Api(api_client)

    @property
    def host(self) -> str:
        """The API server's URL."""
        return str(self.api_client.configuration.host)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate the client's exceptions into lowcarb's, naming the call and the fix."""
        import urllib3

        try:
            yield
        except self._k8s.client.exceptions.ApiException as exc:
            status = int(exc.status or 0)
            reason = _status_message(exc)
            if status == 0:
                raise ClusterUnreachableError(
                    f"no answer from the Kubernetes API server at {self.host} to {what} "
                    f"({reason}): check --kubeconfig and --context"
                ) from None
            kind = {404: NotFoundError, 409: ConflictError, 410: ExpiredError}.get(
                status, ClusterError
            )
            hint = " (check the controller's RBAC)" if status in (401, 403) else ""
            raise kind(f"{what}: HTTP {status} {reason}{hint}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnreachableError(
                f"cannot reach the Kubernetes API server at {self.host} to {what} "
                f"({_cause(exc)}): check that the cluster is up and --kubeconfig/--context "
                "point at it"
            ) from None

    def _json(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._errors(what):
            resp = fn(
                *args, _preload_content=False, _request_timeout=(_CONNECT_S, _READ_S), **kwargs
            )
            data = resp.data
        try:
            return json.loads(data)
        except ValueError:
            raise ClusterError(f"{what}: the API server answered with something not JSON") from None

    # -- Jobs --------------------------------------------------------------------------------
    def list_jobs(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        """The Jobs matching ``selector``, and the list's resourceVersion (to watch from)."""
        body = self._json(
            f"list Jobs in {namespace}",
            self.batch.list_namespaced_job,
            namespace,
            label_selector=selector,
        )
        return list(body.get("items") or []), str(body["metadata"].get("resourceVersion", ""))

    def create_job(self, namespace: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Job; :class:`ConflictError` when one of that name exists."""
        name = manifest.get("metadata", {}).get("name")
        result: dict[str, Any] = self._json(
            f"create Job {namespace}/{name}",
            self.batch.create_namespaced_job,
            namespace,
            dict(manifest),
        )
        return result

    def patch_job(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386); with ``metadata.resourceVersion`` in it, the API server
        refuses it (:class:`ConflictError`) when the Job changed since that version."""
        result: dict[str, Any] = self._json(
            f"patch Job {namespace}/{name}",
            self.batch.patch_namespaced_job,
            name,
            namespace,
            dict(patch),
            _content_type="application/merge-patch+json",
        )
        return result

    def watch_jobs(
        self, namespace: str, selector: str, resource_version: str, timeout_s: int
    ) -> JobWatch:
        """One WATCH of the Jobs matching ``selector`` after ``resource_version``, for at most
        ``timeout_s`` (the server ends it then): iterate it for ``(type, job)`` events, where
        type is ``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK`` (only the resourceVersion of
        a bookmark's object is meaningful). A watch, not a poll.

        Iterating raises :class:`ExpiredError` (HTTP 410 Gone: the version is older than the
        server keeps; list again and watch from there), :class:`ClusterUnreachableError` (the
        connection broke) or :class:`ClusterError`.
        """
        return JobWatch(self, namespace, selector, resource_version, timeout_s)

    # -- Pods --------------------------------------------------------------------------------
    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Pods matching ``selector``."""
        body = self._json(
            f"list Pods in {namespace}",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=selector,
        )
        return list(body.get("items") or [])

    # -- Leases ------------------------------------------------------------------------------
    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Lease, or None when there is none."""
        try:
            result: dict[str, Any] = self._json(
                f"read Lease {namespace}/{name}",
                self.coordination.read_namespaced_lease,
                name,
                namespace,
            )
        except NotFoundError:
            return None
        return result

    def create_lease(self, namespace: str, lease: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Lease; :class:`ConflictError` when another controller created it first."""
        name = lease.get("metadata", {}).get("name")
        result: dict[str, Any] = self._json(
            f"create Lease {namespace}/{name}",
            self.coordination.create_namespaced_lease,
            namespace,
            dict(lease),
        )
        return result

    def replace_lease(self, namespace: str, lease: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a Lease at the resourceVersion it carries; :class:`ConflictError` when another
        controller wrote it since."""
        name = str(lease.get("metadata", {}).get("name"))
        result: dict[str, Any] = self._json(
            f"replace Lease {namespace}/{name}",
            self.coordination.replace_namespaced_lease,
            name,
            namespace,
            dict(lease),
        )
        return result


def _status_message(exc: Any) -> str:
    """The API server's Status message, else the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                return " ".join(plain(data["message"]).split())[:300]
        except (ValueError, TypeError):
            pass
    return " ".join(plain(getattr(exc, "reason", "") or "").split())[:300]


class JobWatch:
    """One WATCH request on Jobs (see :meth:`KubeApi.watch_jobs`); :meth:`stop` ends it from
    another thread, at once, by shutting its socket down (the official client's ``Watch.stop``).

    Iterate it in one thread only; iteration ends quietly after :meth:`stop` or when the server
    closes the watch (its ``timeoutSeconds``).
    """

    def __init__(
        self, api: KubeApi, namespace: str, selector: str, resource_version: str, timeout_s: int
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._selector = selector
        self._resource_version = resource_version
        self._timeout_s = max(1, int(timeout_s))
        # Events as the API server's JSON, like every other call here: no model classes (a
        # return type of "object" leaves each event's object a dict).
        self._watch = api._k8s.watch.Watch(return_type="object")
        self._stopped = threading.Event()

    def stop(self) -> None:
        """End the watch (safe from any thread, before or during iteration)."""
        self._stopped.set()
        self._watch.stop()

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopped.is_set()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if self._stopped.is_set():
            return
        stream = self._watch.stream(
            self._api.batch.list_namespaced_job,
            self._namespace,
            label_selector=self._selector,
            resource_version=self._resource_version,
            timeout_seconds=self._timeout_s,
            allow_watch_bookmarks=True,
            _request_timeout=(_CONNECT_S, self._timeout_s + _READ_S),
        )
        what = f"watch Jobs in {self._namespace}"
        try:
            while True:
                try:
                    with self._api._errors(what):
                        event = next(stream, None)
                except ClusterUnreachableError:
                    if self._stopped.is_set():
                        return  # our own stop() shut the socket down
                    raise
                if event is None or self._stopped.is_set():
                    return
                obj = event.get("raw_object")
                yield str(event.get("type", "")), obj if isinstance(obj, dict) else {}
        finally:
            stream.close()
