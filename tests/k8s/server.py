"""A Kubernetes API server test double: the REST protocol the kubernetes executor speaks,
served on 127.0.0.1 for the official `kubernetes` client, with a bearer token.

What it serves, in the shapes the real API server uses:
- batch/v1 Jobs: create (201; 409 AlreadyExists), get, list with `labelSelector` (equality
  terms), delete (with `propagationPolicy`; the Job's pods and the objects it owns go with
  it), and watch (`?watch=1`): one JSON event per line from `resourceVersion`, ended after
  `timeoutSeconds`; a version older than the retained window is answered with an ERROR event
  holding a 410 `Expired` Status, as the real server does;
- core/v1 Pods: list by label (`job-name`, `controller-uid`), with phase, reason, conditions
  and init/container statuses; `pods/{name}/log?container=` with `limitBytes`;
- core/v1 Secrets and networking.k8s.io/v1 NetworkPolicies: create, get, list, replace,
  delete; both are garbage-collected with the Job that owns them.

Each created Job actually runs (`pods.PodRunner`): its containers run in order as local
processes, with the images ignored (the machine has no container runtime), so a preview
completes with real patches. Failures can be injected per Job (`inject`).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Failure", "FakeKubernetes", "now_rfc3339"]

Failure = str  # "image_pull", "oom", "deadline", "eviction", "node_loss", "slow"

# (api prefix, resource) -> kind
_RESOURCES = {
    ("/apis/batch/v1", "jobs"): ("Job", "batch/v1"),
    ("/api/v1", "pods"): ("Pod", "v1"),
    ("/api/v1", "secrets"): ("Secret", "v1"),
    ("/apis/networking.k8s.io/v1", "networkpolicies"): ("NetworkPolicy", "networking.k8s.io/v1"),
}
_PATH = re.compile(
    r"^(?P<prefix>/api/v1|/apis/batch/v1|/apis/networking\.k8s\.io/v1)"
    r"/namespaces/(?P<ns>[a-z0-9-]+)/(?P<resource>[a-z]+)"
    r"(?:/(?P<name>[a-z0-9.-]+))?(?:/(?P<sub>log|status))?$"
)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Event:
    version: int
    kind: str  # Job, Pod, ...
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]


@dataclass
class _State:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)
    oldest_version: int = 0  # events before this are gone (410)
    logs: dict[tuple[str, str, str], bytes] = field(default_factory=dict)  # ns, pod, container


class FakeKubernetes:
    """The double. `url` and `token` configure a client; `start()`/`stop()` run it."""

    def __init__(self, *, token: str = "fake-kubernetes-token") -> None:  # noqa: S107
        self.token = token
        self._state = _State()
        self._versions = itertools.count(1)
        self._lock = threading.Condition()
        self._failures: dict[str, Failure] = {}
        self._failures_by_label: list[tuple[dict[str, str], Failure]] = []
        self.created: list[str] = []  # names of the Jobs created (201), in order
        self.conflicts: list[str] = []  # names of the Jobs whose create answered 409
        self.on_job_created: Callable[[dict[str, Any]], None] | None = None
        self.requests: list[tuple[str, str]] = []  # method, path (what the client did)
        self.stopped = threading.Event()  # the pods stop running once it is set
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeKubernetes:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()

    # --- what tests use -------------------------------------------------------------------

    def inject(self, job_name: str, failure: Failure) -> None:
        """Make the Job of that name fail this way when it is created."""
        with self._lock:
            self._failures[job_name] = failure

    def inject_by_labels(self, labels: dict[str, str], failure: Failure) -> None:
        """Make every Job whose labels include `labels` fail this way."""
        with self._lock:
            self._failures_by_label.append((dict(labels), failure))

    def failure_of(self, job: dict[str, Any]) -> Failure | None:
        with self._lock:
            named = self._failures.get(job["metadata"]["name"])
            if named is not None:
                return named
            for labels, failure in self._failures_by_label:
                if _matches(job, labels):
                    return failure
            return None

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._state.objects.get((kind, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(obj)
                for (k, ns, _), obj in sorted(self._state.objects.items())
                if k == kind and ns == namespace
            ]

    def compact(self) -> None:
        """Forget every event so far: a watch from an older version gets 410 Gone."""
        with self._lock:
            self._state.oldest_version = next(self._versions)
            self._state.events.clear()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.2))
        return True

    # --- what the pod runner uses ---------------------------------------------------------

    def put(self, obj: dict[str, Any], *, event: str = "MODIFIED") -> dict[str, Any]:
        """Store `obj` (a new version of it) and tell the watchers."""
        with self._lock:
            meta = obj["metadata"]
            key = (obj["kind"], meta["namespace"], meta["name"])
            version = next(self._versions)
            meta["resourceVersion"] = str(version)
            self._state.objects[key] = obj
            self._state.events.append(_Event(version, obj["kind"], event, copy.deepcopy(obj)))
            self._lock.notify_all()
            return copy.deepcopy(obj)

    def update(
        self, kind: str, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> bool:
        with self._lock:
            obj = self._state.objects.get((kind, namespace, name))
            if obj is None:
                return False
            obj = copy.deepcopy(obj)
            change(obj)
            self.put(obj)
            return True

    def remove(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._state.objects.pop((kind, namespace, name), None)
            if obj is None:
                return None
            version = next(self._versions)
            obj["metadata"]["resourceVersion"] = str(version)
            self._state.events.append(_Event(version, kind, "DELETED", copy.deepcopy(obj)))
            if kind == "Job":
                self._collect_garbage(obj)
            self._lock.notify_all()
            return obj

    def append_log(self, namespace: str, pod: str, container: str, data: bytes) -> None:
        with self._lock:
            key = (namespace, pod, container)
            self._state.logs[key] = self._state.logs.get(key, b"") + data

    def _collect_garbage(self, job: dict[str, Any]) -> None:
        uid = job["metadata"]["uid"]
        namespace = job["metadata"]["namespace"]
        for key, obj in list(self._state.objects.items()):
            owners = obj["metadata"].get("ownerReferences") or []
            pod_of_job = (
                obj["kind"] == "Pod"
                and obj["metadata"].get("labels", {}).get("controller-uid") == uid
            )
            if key[1] == namespace and (pod_of_job or any(o.get("uid") == uid for o in owners)):
                self.remove(*key)

    # --- HTTP -------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def do_PUT(self) -> None:
                fake._serve(self, "PUT")

            def do_DELETE(self) -> None:
                fake._serve(self, "DELETE")

        return Handler

    def _serve(  # noqa: PLR0911 (one return per route)
        self, http: BaseHTTPRequestHandler, method: str
    ) -> None:
        url = urlsplit(http.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, url.path))
        if http.headers.get("Authorization") != f"Bearer {self.token}":
            _send(http, _status(401, "Unauthorized", "Unauthorized"))
            return
        match = _PATH.match(url.path)
        if match is None or (match["prefix"], match["resource"]) not in _RESOURCES:
            _send(http, _status(404, "NotFound", f"the server could not find {url.path}"))
            return
        kind, api_version = _RESOURCES[(match["prefix"], match["resource"])]
        namespace, name, sub = match["ns"], match["name"], match["sub"]
        if sub == "log" and kind == "Pod" and method == "GET" and name:
            self._log(http, namespace, name, query)
            return
        if method == "GET" and name is None and query.get("watch") in ("1", "true"):
            self._watch(http, kind, namespace, query)
            return
        if method == "GET" and name is None:
            _send(http, self._list(kind, api_version, namespace, query))
            return
        if method == "GET":
            found = self.get(kind, namespace, name)
            _send(http, found or _not_found(kind, name))
            return
        if method == "POST" and name is None:
            _send(http, self._create(kind, api_version, namespace, json.loads(body)))
            return
        if method == "PUT" and name:
            _send(http, self._replace(kind, namespace, name, json.loads(body)))
            return
        if method == "DELETE" and name:
            removed = self.remove(kind, namespace, name)
            if removed is None:
                _send(http, _not_found(kind, name))
            else:
                _send(http, _status(200, "", "deleted", status="Success"))
            return
        _send(http, _status(405, "MethodNotAllowed", f"{method} is not allowed here"))

    def _create(
        self, kind: str, api_version: str, namespace: str, obj: dict[str, Any]
    ) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            return _status(422, "Invalid", f"{kind} needs metadata.name")
        with self._lock:
            if (kind, namespace, name) in self._state.objects:
                if kind == "Job":
                    self.conflicts.append(name)
                return _status(
                    409,
                    "AlreadyExists",
                    f'{kind.lower()}s "{name}" already exists',
                    details={"name": name, "kind": kind.lower() + "s"},
                )
            obj["kind"], obj["apiVersion"] = kind, api_version
            meta["namespace"] = namespace
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if kind == "Job":
                labels = obj["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})
                labels.update({"controller-uid": meta["uid"], "job-name": name})
                labels.update(
                    {
                        "batch.kubernetes.io/controller-uid": meta["uid"],
                        "batch.kubernetes.io/job-name": name,
                    }
                )
                obj["spec"]["selector"] = {"matchLabels": {"controller-uid": meta["uid"]}}
                obj["status"] = {"active": 1, "startTime": now_rfc3339()}
            stored = self.put(obj, event="ADDED")
            if kind == "Job":
                self.created.append(name)
        if kind == "Job" and self.on_job_created is not None:
            self.on_job_created(copy.deepcopy(stored))
        return {**stored, "_http": 201}

    def _replace(self, kind: str, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            old = self._state.objects.get((kind, namespace, name))
            if old is None:
                return _not_found(kind, name)
            obj["kind"], obj["apiVersion"] = old["kind"], old["apiVersion"]
            obj["metadata"] = {
                **obj.get("metadata", {}),
                "uid": old["metadata"]["uid"],
                "namespace": namespace,
                "name": name,
                "creationTimestamp": old["metadata"]["creationTimestamp"],
            }
            return self.put(obj)

    def _list(
        self, kind: str, api_version: str, namespace: str, query: dict[str, str]
    ) -> dict[str, Any]:
        wanted = _selector(query.get("labelSelector", ""))
        with self._lock:
            items = [obj for obj in self.list(kind, namespace) if _matches(obj, wanted)]
            version = (
                self._state.events[-1].version if self._state.events else self._state.oldest_version
            )
        return {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(version)},
            "items": items,
        }

    def _watch(
        self, http: BaseHTTPRequestHandler, kind: str, namespace: str, query: dict[str, str]
    ) -> None:
        wanted = _selector(query.get("labelSelector", ""))
        since = int(query.get("resourceVersion") or 0)
        timeout_s = min(float(query.get("timeoutSeconds") or 30), 60.0)
        deadline = time.monotonic() + timeout_s
        http.send_response(200)
        http.send_header("Content-Type", "application/json")
        http.send_header("Transfer-Encoding", "chunked")
        http.end_headers()

        def chunk(payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode() + b"\n"
            http.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            http.wfile.flush()

        try:
            with self._lock:
                if since and since < self._state.oldest_version:
                    expired = _status(
                        410,
                        "Expired",
                        f"too old resource version: {since} ({self._state.oldest_version})",
                    )
                    expired.pop("_http")
                    chunk({"type": "ERROR", "object": expired})
                    http.wfile.write(b"0\r\n\r\n")
                    return
                if not since:
                    # No version: the current objects as ADDED, then what follows.
                    for obj in self.list(kind, namespace):
                        if _matches(obj, wanted):
                            chunk({"type": "ADDED", "object": obj})
                    since = self._state.events[-1].version if self._state.events else 0
            while True:
                with self._lock:
                    pending = [
                        e
                        for e in self._state.events
                        if e.version > since
                        and e.kind == kind
                        and e.obj["metadata"]["namespace"] == namespace
                    ]
                    if not pending:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._lock.wait(min(left, 0.5))
                        continue
                for event in pending:
                    since = event.version
                    if _matches(event.obj, wanted):
                        chunk({"type": event.type, "object": event.obj})
            http.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return

    def _log(
        self, http: BaseHTTPRequestHandler, namespace: str, pod: str, query: dict[str, str]
    ) -> None:
        container = query.get("container")
        with self._lock:
            if (("Pod", namespace, pod)) not in self._state.objects:
                _send(http, _not_found("Pod", pod))
                return
            data = self._state.logs.get((namespace, pod, container or ""))
        if data is None:
            _send(
                http,
                _status(400, "BadRequest", f'container "{container}" in pod "{pod}" is waiting'),
            )
            return
        limit = int(query.get("limitBytes") or 0)
        if limit:
            data = data[:limit]
        http.send_response(200)
        http.send_header("Content-Type", "text/plain")
        http.send_header("Content-Length", str(len(data)))
        http.end_headers()
        http.wfile.write(data)


def _selector(text: str) -> dict[str, str]:
    terms = {}
    for term in filter(None, text.split(",")):
        key, sep, value = term.partition("=")
        if not sep:
            raise ValueError(f"unsupported label selector term {term!r}")
        terms[key.strip()] = value.lstrip("=").strip()
    return terms


def _matches(obj: dict[str, Any], wanted: dict[str, str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in wanted.items())


def _status(
    code: int, reason: str, message: str, *, status: str = "Failure", details: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": status,
        "message": message,
        "reason": reason,
        "code": code,
        "_http": code,
    }
    if details is not None:
        out["details"] = details
    return out


def _not_found(kind: str, name: str | None) -> dict[str, Any]:
    return _status(404, "NotFound", f'{kind.lower()}s "{name}" not found')


def _send(http: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
    code = payload.pop("_http", HTTPStatus.OK)
    data = json.dumps(payload).encode()
    http.send_response(int(code))
    http.send_header("Content-Type", "application/json")
    http.send_header("Content-Length", str(len(data)))
    http.end_headers()
    http.wfile.write(data)


def iter_events(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)
