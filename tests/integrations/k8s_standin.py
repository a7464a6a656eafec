"""A stand-in Kubernetes API server for the release controller's tests.

No Kubernetes API server can be installed on the machines these tests run on, so this is a small
real HTTP server (``http.server``, one thread per connection, on a free loopback port) that
implements exactly the endpoints the controller calls, with the API server's JSON shapes, status
codes and semantics as documented in the Kubernetes API reference (v1.29):

* ``batch/v1`` Jobs: LIST (``labelSelector``; the list's ``metadata.resourceVersion``), WATCH
  (``?watch=true&resourceVersion=N&timeoutSeconds=S``: a chunked stream of ``{"type", "object"}``
  lines of the changes *after* N, closed after S seconds; with ``allowWatchBookmarks=true`` a
  ``BOOKMARK`` event, an object carrying only the current ``resourceVersion``, before it closes;
  a version older than the retained history, or compacted away, answers an ``ERROR`` event with
  a 410 ``Expired`` Status, as the watch cache does), GET,
  CREATE (409 ``AlreadyExists``), PATCH (``application/merge-patch+json`` and
  ``application/strategic-merge-patch+json``, which agree on the maps patched here; a
  ``metadata.resourceVersion`` in the patch is a precondition: 409 ``Conflict`` when stale).
* ``coordination.k8s.io/v1`` Leases: GET (404 ``NotFound``), CREATE (409), REPLACE (PUT; 409
  when its ``metadata.resourceVersion`` is stale).
* ``v1`` Pods: LIST by label selector.

Every write bumps one cluster-wide resourceVersion, as etcd's revision does. Tests reach into
:class:`StandInCluster` to play the parts of the kubelet and the Job controller (start pods,
finish Jobs), of another writer (take a Lease away, delete a Job) and of the server's own life
(compact the history, end every open watch as a restart or a load balancer would).

The client under test is the official ``kubernetes`` client, configured from a kubeconfig that
points at :attr:`StandInCluster.url`: the same code that talks to a real cluster.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

_JOBS = "/apis/batch/v1/namespaces/"
_LEASES = "/apis/coordination.k8s.io/v1/namespaces/"
_PODS = "/api/v1/namespaces/"
#: How many events a watch can resume from (older versions get 410 Gone).
_HISTORY = 1000
#: Yielded by a watch to cut its connection mid-stream.
_CUT: dict[str, Any] = {"type": "_CUT"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class StandInCluster:
    """The state of the stand-in API server, and the server itself.

    Use as a context manager; :attr:`url` is where it listens, :meth:`kubeconfig` writes a
    kubeconfig pointing at it.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._rv = 100
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._events: list[tuple[int, str, dict[str, Any]]] = []  # (rv, type, Job)
        self._compacted = 0  # watches from a version before this get 410 Gone
        self._watch_epoch = 0  # end_watches() bumps it: open watches end
        self._broken_epochs: set[int] = set()  # ... cut mid-stream
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.down = False  # an outage: every connection is cut before an answer
        self._closing = False
        cluster = self

        class Handler(_Handler):
            state = cluster

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StandInCluster:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def kubeconfig(self, path: Path, *, context: str = "standin") -> Path:
        """Write a kubeconfig whose context ``context`` points at this server."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "stand-in-token"}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": "standin", "user": "tester", "namespace": "default"},
                }
            ],
            "current-context": context,
        }
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    # -- state changes (under the lock) -------------------------------------------------------
    def _bump(self, obj: dict[str, Any]) -> None:
        self._rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._rv)

    def _job_event(self, kind: str, job: dict[str, Any]) -> None:
        self._events.append((self._rv, kind, copy.deepcopy(job)))
        del self._events[:-_HISTORY]
        self._lock.notify_all()

    def _new_meta(self, obj: dict[str, Any], namespace: str) -> None:
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta.setdefault("generation", 1)
        self._bump(obj)

    # -- what tests do as the kubelet, the Job controller, another writer ---------------------
    def job(self, name: str, namespace: str = "default") -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.jobs[(namespace, name)])

    def lease(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        with self._lock:
            found = self.leases.get((namespace, name))
            return copy.deepcopy(found) if found else None

    def set_lease_holder(self, name: str, holder: str, namespace: str = "default") -> None:
        """Another writer takes the Lease (as a controller whose write won would)."""
        with self._lock:
            lease = self.leases[(namespace, name)]
            lease["spec"]["holderIdentity"] = holder
            lease["spec"]["renewTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            self._bump(lease)

    def add_job(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a Job as ``kubectl create`` would (not through the client under test)."""
        with self._lock:
            job = copy.deepcopy(manifest)
            ns = job["metadata"].get("namespace", "default")
            self._new_meta(job, ns)
            job.setdefault("status", {})
            self.jobs[(ns, job["metadata"]["name"])] = job
            self._job_event("ADDED", job)
            return copy.deepcopy(job)

    def run_job(
        self,
        name: str,
        *,
        started: str,
        finished: str,
        pods: int = 1,
        failed: bool = False,
        namespace: str = "default",
    ) -> list[str]:
        """Play the Job controller and the kubelet: ``pods`` pods of the Job's template ran from
        ``started`` to ``finished`` and the Job is Complete (or Failed). Returns the pod names."""
        with self._lock:
            job = self.jobs[(namespace, name)]
            template = job["spec"]["template"]
            uid = job["metadata"]["uid"]
            names = []
            for i in range(pods):
                pod_name = f"{name}-{i}{uuid.uuid4().hex[:5]}"
                labels = {
                    **template.get("metadata", {}).get("labels", {}),
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": name,
                    "controller-uid": uid,
                    "job-name": name,
                }
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod_name, "labels": labels},
                    "spec": copy.deepcopy(template["spec"]),
                    "status": {
                        "phase": "Failed" if failed else "Succeeded",
                        "startTime": started,
                        "containerStatuses": [
                            {
                                "name": c["name"],
                                "state": {
                                    "terminated": {
                                        "exitCode": 1 if failed else 0,
                                        "startedAt": started,
                                        "finishedAt": finished,
                                    }
                                },
                            }
                            for c in template["spec"]["containers"]
                        ],
                    },
                }
                self._new_meta(pod, namespace)
                self.pods[(namespace, pod_name)] = pod
                names.append(pod_name)
            kind = "Failed" if failed else "Complete"
            job["status"] = {
                "startTime": started,
                "conditions": [{"type": kind, "status": "True", "lastTransitionTime": finished}],
                ("failed" if failed else "succeeded"): pods,
            }
            if not failed:
                job["status"]["completionTime"] = finished
            self._bump(job)
            self._job_event("MODIFIED", job)
            return names

    def delete_job(self, name: str, namespace: str = "default") -> None:
        """Delete a Job as ``kubectl delete`` would: watchers get a ``DELETED`` event."""
        with self._lock:
            job = self.jobs.pop((namespace, name))
            self._bump(job)
            self._job_event("DELETED", job)

    def compact(self) -> None:
        """Compact the history at the current version (etcd's compaction): a watch from an older
        version is answered 410 Gone."""
        with self._lock:
            self._compacted = self._rv
            self._events = [e for e in self._events if e[0] > self._rv]

    def end_watches(self, *, broken: bool = False) -> None:
        """End every open watch, as an API server restart would (no bookmark first): cleanly,
        or with ``broken`` cut mid-stream (the connection reset, no end of the chunked body)."""
        with self._lock:
            self._watch_epoch += 1
            if broken:
                self._broken_epochs.add(self._watch_epoch)
            self._lock.notify_all()

    def outage(self, down: bool) -> None:
        """Start (cutting open watches mid-stream) or end an outage of the API server: while it
        lasts, each request's connection is reset before any answer, as an unreachable server's."""
        self.down = down
        if down:
            self.end_watches(broken=True)

    def list_requests(self, table: str = "jobs") -> int:
        """How many LIST requests (not watches) of ``table`` were served."""
        return sum(
            1
            for m, p in list(self.requests)
            if m == "GET" and f"/{table}?" in p + "?" and "watch=true" not in p
        )

    def watch_requests(self, table: str = "jobs") -> int:
        """How many WATCH requests of ``table`` were served."""
        return sum(
            1
            for m, p in list(self.requests)
            if m == "GET" and f"/{table}?" in p and "watch=true" in p
        )

    def delete_pods(self, namespace: str = "default") -> None:
        with self._lock:
            for key in [k for k in self.pods if k[0] == namespace]:
                del self.pods[key]

    def watch_events(self, types: list[str], since: int) -> Iterator[str]:  # for debugging
        with self._lock:
            yield from (t for rv, t, _ in self._events if rv > since and t in types)

    # -- request handling (called by the handler) ------------------------------------------
    def list_jobs(self, ns: str, selector: str) -> dict[str, Any]:
        with self._lock:
            items = [
                copy.deepcopy(j)
                for (n, _), j in sorted(self.jobs.items())
                if n == ns and _matches(j["metadata"].get("labels", {}), selector)
            ]
            return {
                "kind": "JobList",
                "apiVersion": "batch/v1",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    def create(self, table: str, ns: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            store = self.jobs if table == "jobs" else self.leases
            name = body.get("metadata", {}).get("name")
            if not name:
                return 422, _status(422, "Invalid", f"{table} name is required")
            if (ns, name) in store:
                group = "batch" if table == "jobs" else "coordination.k8s.io"
                return 409, _status(
                    409,
                    "AlreadyExists",
                    f'{table}.{group} "{name}" already exists',
                    name=name,
                    group=group,
                    kind=table,
                )
            obj = copy.deepcopy(body)
            obj.get("metadata", {}).pop("resourceVersion", None)
            self._new_meta(obj, ns)
            if table == "jobs":
                obj.setdefault("status", {})
                store[(ns, name)] = obj
                self._job_event("ADDED", obj)
            else:
                store[(ns, name)] = obj
            return 201, copy.deepcopy(obj)

    def get(self, table: str, ns: str, name: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            store = self.jobs if table == "jobs" else self.leases
            if (ns, name) not in store:
                group = "batch" if table == "jobs" else "coordination.k8s.io"
                return 404, _status(
                    404, "NotFound", f'{table}.{group} "{name}" not found', name=name, kind=table
                )
            return 200, copy.deepcopy(store[(ns, name)])

    def patch_job(self, ns: str, name: str, patch: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self.jobs.get((ns, name))
            if job is None:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found', name=name)
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted is not None and wanted != job["metadata"]["resourceVersion"]:
                return 409, _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on jobs.batch "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    name=name,
                    group="batch",
                    kind="jobs",
                )
            merged = _merge(job, patch)
            for key in ("uid", "creationTimestamp", "namespace", "name"):
                merged["metadata"][key] = job["metadata"][key]
            self._bump(merged)
            self.jobs[(ns, name)] = merged
            self._job_event("MODIFIED", merged)
            return 200, copy.deepcopy(merged)

    def replace_lease(self, ns: str, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            lease = self.leases.get((ns, name))
            if lease is None:
                return 404, _status(
                    404, "NotFound", f'leases.coordination.k8s.io "{name}" not found', name=name
                )
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if wanted != lease["metadata"]["resourceVersion"]:
                return 409, _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the '
                    "object has been modified; please apply your changes to the latest version "
                    "and try again",
                    name=name,
                )
            new = copy.deepcopy(body)
            for key in ("uid", "creationTimestamp", "namespace", "name"):
                new["metadata"][key] = lease["metadata"][key]
            self._bump(new)
            self.leases[(ns, name)] = new
            return 200, copy.deepcopy(new)

    def list_pods(self, ns: str, selector: str) -> dict[str, Any]:
        with self._lock:
            return {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": [
                    copy.deepcopy(p)
                    for (n, _), p in sorted(self.pods.items())
                    if n == ns and _matches(p["metadata"].get("labels", {}), selector)
                ],
            }

    def watch(
        self, ns: str, selector: str, since: str | None, timeout_s: float, *, bookmarks: bool
    ) -> Iterator[dict[str, Any]]:
        """Events after ``since`` until the timeout, :meth:`end_watches` or the server closes."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            epoch = self._watch_epoch
            if since in (None, "", "0"):
                cursor = self._rv
                initial = [
                    {"type": "ADDED", "object": copy.deepcopy(j)}
                    for (n, _), j in sorted(self.jobs.items())
                    if n == ns and _matches(j["metadata"].get("labels", {}), selector)
                ]
            else:
                cursor = int(since)
                initial = []
                oldest = self._events[0][0] if self._events else self._rv
                if cursor < self._compacted or (len(self._events) >= _HISTORY and cursor < oldest):
                    initial = [
                        {
                            "type": "ERROR",
                            "object": _status(
                                410,
                                "Expired",
                                f"too old resource version: {cursor} "
                                f"({max(oldest, self._compacted)})",
                            ),
                        }
                    ]
        yield from initial
        if initial and initial[0]["type"] == "ERROR":
            return
        while True:
            with self._lock:
                pending = [
                    (rv, t, obj)
                    for rv, t, obj in self._events
                    if rv > cursor
                    and obj["metadata"]["namespace"] == ns
                    and _matches(obj["metadata"].get("labels", {}), selector)
                ]
                if not pending:
                    if self._closing or self._watch_epoch != epoch:
                        if self._watch_epoch in self._broken_epochs:
                            yield _CUT
                        return
                    left = deadline - time.monotonic()
                    if left <= 0:
                        version = str(self._rv)  # every event up to here was sent
                        break
                    self._lock.wait(timeout=min(left, 0.5))
                    continue
                cursor = pending[-1][0]
            for _, t, obj in pending:
                yield {"type": t, "object": obj}
        if bookmarks:  # the timeout passed: tell the watcher how far it is up to date
            yield {
                "type": "BOOKMARK",
                "object": {
                    "kind": "Job",
                    "apiVersion": "batch/v1",
                    "metadata": {"resourceVersion": version},
                },
            }


class _Handler(BaseHTTPRequestHandler):
    state: StandInCluster
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest captures nothing useful from an access log

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def _route(self) -> tuple[str, str, str | None, dict[str, list[str]]]:
        """``(table, namespace, name, query)``; table is ``jobs``, ``leases``, ``pods`` or ''."""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = parts.path
        for prefix, table in ((_JOBS, "jobs"), (_LEASES, "leases"), (_PODS, "pods")):
            if path.startswith(prefix):
                rest = path[len(prefix) :].split("/")
                if len(rest) >= 2 and rest[1] == table:
                    name = rest[2] if len(rest) > 2 and rest[2] else None
                    return table, rest[0], name, query
        return "", "", None, query

    def _cut_when_down(self) -> bool:
        """During an outage: reset the connection without an answer (True)."""
        if not self.state.down:
            return False
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        return True

    def _not_found(self) -> None:
        self._send(404, _status(404, "NotFound", f"the server could not find {self.path}"))

    def do_GET(self) -> None:
        if self._cut_when_down():
            return
        self.state.requests.append(("GET", self.path))
        table, ns, name, query = self._route()
        selector = (query.get("labelSelector") or [""])[0]
        if table == "jobs" and name is None:
            if (query.get("watch") or ["false"])[0] in ("true", "1"):
                timeout = float((query.get("timeoutSeconds") or ["1800"])[0])
                since = (query.get("resourceVersion") or [None])[0]
                bookmarks = (query.get("allowWatchBookmarks") or ["false"])[0] == "true"
                self._stream(self.state.watch(ns, selector, since, timeout, bookmarks=bookmarks))
            else:
                self._send(200, self.state.list_jobs(ns, selector))
        elif table in ("jobs", "leases") and name is not None:
            self._send(*self.state.get(table, ns, name))
        elif table == "pods" and name is None:
            self._send(200, self.state.list_pods(ns, selector))
        else:
            self._not_found()

    def _stream(self, events: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                if event is _CUT:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:
        if self._cut_when_down():
            return
        self.state.requests.append(("POST", self.path))
        table, ns, name, _ = self._route()
        if table in ("jobs", "leases") and name is None:
            self._send(*self.state.create(table, ns, self._body()))
        else:
            self._not_found()

    def do_PUT(self) -> None:
        if self._cut_when_down():
            return
        self.state.requests.append(("PUT", self.path))
        table, ns, name, _ = self._route()
        if table == "leases" and name is not None:
            self._send(*self.state.replace_lease(ns, name, self._body()))
        else:
            self._send(405, _status(405, "MethodNotAllowed", "not implemented by the stand-in"))

    def do_PATCH(self) -> None:
        if self._cut_when_down():
            return
        self.state.requests.append(("PATCH", self.path))
        table, ns, name, _ = self._route()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        body = self._body()
        if table != "jobs" or name is None:
            self._send(405, _status(405, "MethodNotAllowed", "not implemented by the stand-in"))
        elif ctype not in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ) or not isinstance(body, dict):
            self._send(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                _status(
                    415, "UnsupportedMediaType", f"the body of type {ctype!r} is not supported"
                ),
            )
        else:
            self._send(*self.state.patch_job(ns, name, body))
