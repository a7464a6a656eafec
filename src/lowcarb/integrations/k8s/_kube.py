"""The few Kubernetes API calls lowcarb makes, on the official ``kubernetes`` client, as dicts.

:class:`KubeApi` wraps ``BatchV1Api`` (list, watch, create, patch Jobs), ``CoreV1Api`` (list
Pods) and ``CoordinationV1Api`` (read, create, replace Leases). Responses are read as the API
server's JSON (``_preload_content=False``), so the objects are the same dicts the manifests are
written as, whatever the client's model classes look like. :func:`connect` builds the client from
a kubeconfig (``--kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``; ``--context``) or, inside a
pod, from the service account. The client code is the same for a real cluster and for the test
suite's stand-in API server.

Errors: no answer (refused, timed out, DNS) is :class:`ClusterUnreachableError`; an API error
other than the 404 and 409 the callers handle is :class:`ClusterError`, quoting status and reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowcarb._text import plain
from lowcarb.errors import MissingDependencyError
from lowcarb.integrations.k8s._errors import ClusterError, ClusterUnreachableError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["ConflictError", "KubeApi", "NotFoundError", "connect"]

log = logging.getLogger(__name__)
#: Seconds to connect and to wait for an answer (watches add their own timeout to the latter).
_CONNECT_S = 5.0
_READ_S = 30.0


class NotFoundError(ClusterError):
    """HTTP 404: the object does not exist."""


class ConflictError(ClusterError):
    """HTTP 409: it already exists, or changed since it was read (optimistic concurrency)."""


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
    # A refused connection is reported at once rather than retried for long.
    cfg.retries = 1
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


class KubeApi:
    """Jobs, Pods and Leases through the official client, as the API server's JSON.

    Thread safety: one instance per thread (the client's connection pool is shared safely, the
    watch is not).

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
            kind = {404: NotFoundError, 409: ConflictError, 410: ConflictError}.get(
                status, ClusterError
            )
            hint = " (check the controller's RBAC)" if status in (401, 403) else ""
            raise kind(f"{what}: HTTP {status} {reason}{hint}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnreachableError(
                f"cannot reach the Kubernetes API server at {self.host} to {what} "
                f"({type(exc).__name__}): check that the cluster is up and --kubeconfig/--context "
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
    ) -> Iterator[str]:
        """The types of the Job events after ``resource_version`` (``ADDED``, ``MODIFIED``,
        ``DELETED``), until ``timeout_s`` passes: a watch, not a poll.

        Raises:
            ConflictError: The version is too old (HTTP 410 Gone): list again and watch from there.
        """
        w = self._k8s.watch.Watch()
        stream = w.stream(
            self.batch.list_namespaced_job,
            namespace,
            label_selector=selector,
            resource_version=resource_version,
            timeout_seconds=timeout_s,
            allow_watch_bookmarks=False,
            _request_timeout=(_CONNECT_S, timeout_s + _READ_S),
        )
        what = f"watch Jobs in {namespace}"
        while True:
            with self._errors(what):
                event = next(stream, None)
            if event is None:
                return
            yield str(event.get("type", ""))

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
