"""A small, faithful stand-in for the Kubernetes API server's list and watch protocol, for tests.

It keeps an etcd-like history (one global resourceVersion, an event log) and
serves, over real HTTP/1.1 on 127.0.0.1:

* lists with ``metadata.resourceVersion``, paged with ``limit``/``continue``
  (a continue token whose snapshot was compacted answers HTTP 410);
* ``?watch=1&resourceVersion=RV&allowWatchBookmarks=true`` as a chunked stream
  of JSON lines ``{"type": ..., "object": ...}``, replaying the log after RV and
  then following it live; a compacted RV answers with an ERROR event carrying a
  410 Status (or, with ``gone_as_http=True``, with HTTP 410);
* one-shot faults queued in log order: raw lines (garbage, stale or bogus
  events), BOOKMARKs, ERROR 410 events, and connections dropped mid-line;
* ``labelSelector`` (``!label`` requirements) and ``fieldSelector``
  (``metadata.name=NAME``) in lists and watches, as the API server's watch
  cache applies them: an object that starts matching is ADDED, one that stops
  matching is DELETED.

Knobs, all off by default: refusals with a Status body (``fail``,
``fail_watch``), a required Authorization header, LISTs held before their
headers or in the middle of their body until ``release``, a watch length of
its own (``watch_seconds``), and TLS (``cert_dir``), requiring a client certificate that server.crt
signed (``require_client_cert``).
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

COLLECTIONS = {
    "/api/v1/services": ("Service", "v1", True),
    "/apis/discovery.k8s.io/v1/endpointslices": ("EndpointSlice", "discovery.k8s.io/v1", True),
    "/api/v1/nodes": ("Node", "v1", False),
    "/api/v1/pods": ("Pod", "v1", True),
}
KIND_PATH = {kind: path for path, (kind, _, _) in COLLECTIONS.items()}


def obj_key(kind: str, obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    namespaced = COLLECTIONS[KIND_PATH[kind]][2]
    return f"{meta.get('namespace', 'default')}/{meta['name']}" if namespaced else meta["name"]


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up mid-answer: the watch tests stop their clients with Ctrl-C while a list
    is being sent, and socketserver's default printed that BrokenPipeError's traceback into the suite's output.
    Over TLS the same hang-up (the socket closed without close_notify) is ssl.SSLEOFError, no ConnectionError."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLEOFError)):
            super().handle_error(request, client_address)


class FakeApiServer:
    """Start with ``FakeApiServer().start()``; mutate with add/modify/delete; inject faults; ``stop()``.

    ``cert_dir`` (holding server.crt and server.key) serves https; ``require_client_cert`` also asks every
    client for a certificate that server.crt signed (ssl.CERT_REQUIRED) and ends the handshake without one.
    """

    def __init__(self, *, gone_as_http: bool = False, cert_dir: Path | None = None,
                 require_client_cert: bool = False, address: str = "127.0.0.1") -> None:
        self.address = address  # where it listens: "::1" for an IPv6 server
        self.gone_as_http = gone_as_http
        self.cert_dir = cert_dir
        self.require_client_cert = require_client_cert
        self.rv = 100
        self.compacted = 0  # watches from an RV below this get 410
        self.log: list[dict[str, Any]] = []  # {"kind", "rv", "type", "object"} or {"kind", "action", "done"}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind, _, _ in COLLECTIONS.values()}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, query) of every request, as asked
        self.authorization: list[str | None] = []  # each request's Authorization header
        self.host_headers: list[str | None] = []  # each request's Host header
        self.client_certs: list[bytes | None] = []  # each request's client certificate (DER), over TLS
        self.proxy_authorization: list[str | None] = []  # each request's Proxy-Authorization (as a proxy's)
        self.targets: list[str] = []  # each request's target as sent (an absolute URL when sent as to a proxy)
        self.cond = threading.Condition()
        self.closing = False
        self.server: ThreadingHTTPServer | None = None
        # faults, all off by default
        self.fail: dict[str, tuple[int, str, str]] = {}  # kind -> (code, reason, Status message) for its requests
        self.fail_watch: dict[str, tuple[int, str, str]] = {}  # the same, for watch requests only (wins)
        self.require_authorization: str | None = None  # any other Authorization header gets a 401
        self.refused_authorization: list[str | None] = []  # the Authorization headers answered 401, in order
        self.hold_lists = False  # LISTs wait for ``release`` before answering at all
        self.stall_bodies = False  # LISTs send headers and half a body, then wait for ``release``
        self.release = threading.Event()
        self.watch_seconds: float | None = None  # how long a watch lasts, whatever timeoutSeconds it asks for
        self.hang_up_watches = 0  # this many watch requests are answered by closing the connection (no response)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        fake = self

        class Handler(_Handler):
            server_state = fake

        server_class = _QuietServer if ":" not in self.address else type(
            "_QuietServer6", (_QuietServer,), {"address_family": socket.AF_INET6})
        self.server = server_class((self.address, 0), Handler)
        self.server.daemon_threads = True
        if self.cert_dir is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_dir / "server.crt", self.cert_dir / "server.key")
            if self.require_client_cert:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(self.cert_dir / "server.crt")
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        scheme = "https" if self.cert_dir is not None else "http"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{scheme}://{host}:{self.server.server_address[1]}"

    def write_kubeconfig(self, path: str) -> str:
        text = f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {self.url}
users:
- name: tester
  user:
    token: not-a-secret
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
current-context: fake
"""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def stop(self) -> None:
        self.release.set()
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- state ------------------------------------------------------------------------------------

    def _record(self, kind: str, event_type: str, obj: dict[str, Any]) -> int:
        with self.cond:
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            key = obj_key(kind, obj)
            if event_type == "DELETED":
                self.objects[kind].pop(key, None)
            else:
                self.objects[kind][key] = obj
            self.log.append({"kind": kind, "rv": self.rv, "type": event_type, "object": obj})
            self.cond.notify_all()
            return self.rv

    def add(self, kind: str, obj: dict[str, Any]) -> int:
        return self._record(kind, "ADDED", obj)

    def modify(self, kind: str, obj: dict[str, Any]) -> int:
        return self._record(kind, "MODIFIED", obj)

    def delete(self, kind: str, obj: dict[str, Any]) -> int:
        return self._record(kind, "DELETED", obj)

    def compact(self) -> None:
        """Forget history: a watch from any RV before now must relist."""
        with self.cond:
            self.compacted = self.rv
            self.cond.notify_all()

    def inject(self, kind: str, action: str, payload: Any = None) -> None:
        """Queue a one-shot fault for the next watch of ``kind``, after the events logged so far.

        actions: "line" (raw bytes sent as one line), "bookmark", "error410", "drop" (payload: bytes sent
        before the connection is cut without a terminating chunk).
        """
        with self.cond:
            self.log.append({"kind": kind, "action": action, "payload": payload, "done": False})
            self.cond.notify_all()

    def snapshot(self, kind: str, at_rv: int) -> list[dict[str, Any]]:
        """The objects of a kind as they were at a resourceVersion (replaying the log)."""
        state: dict[str, dict[str, Any]] = {}
        for entry in self.log:
            if entry["kind"] != kind or "rv" not in entry or entry["rv"] > at_rv:
                continue
            key = obj_key(kind, entry["object"])
            if entry["type"] == "DELETED":
                state.pop(key, None)
            else:
                state[key] = entry["object"]
        return [state[k] for k in sorted(state)]

    def previous(self, kind: str, obj: dict[str, Any], rv: int) -> dict[str, Any] | None:
        """The object's state before the event at ``rv`` (None when it did not exist)."""
        return {obj_key(kind, o): o for o in self.snapshot(kind, rv - 1)}.get(obj_key(kind, obj))

    def lists(self, kind: str) -> list[dict[str, str]]:
        path = KIND_PATH[kind]
        return [q for p, q in self.requests if p == path and not _watching(q)]

    def watches(self, kind: str) -> list[dict[str, str]]:
        path = KIND_PATH[kind]
        return [q for p, q in self.requests if p == path and _watching(q)]


def _watching(query: dict[str, str]) -> bool:
    return query.get("watch") in ("1", "true")


def selected(obj: dict[str, Any], query: dict[str, str]) -> bool:
    """Whether the query's selectors take ``obj`` (the forms kube-proxy sends: ``!label``, ``metadata.name=``)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for requirement in filter(None, query.get("labelSelector", "").split(",")):
        assert requirement.startswith("!"), requirement  # the only form kube-proxy sends
        if requirement[1:] in labels:
            return False
    field = query.get("fieldSelector", "")
    return not field or field == f"metadata.name={obj['metadata']['name']}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeApiServer

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def _json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        fake = self.server_state
        fake.requests.append((parsed.path, query))
        fake.authorization.append(self.headers.get("Authorization"))
        fake.host_headers.append(self.headers.get("Host"))
        peer = self.connection.getpeercert(binary_form=True) if isinstance(self.connection, ssl.SSLSocket) else None
        fake.client_certs.append(peer)
        fake.proxy_authorization.append(self.headers.get("Proxy-Authorization"))
        fake.targets.append(self.path)
        if fake.require_authorization not in (None, self.headers.get("Authorization")):
            fake.refused_authorization.append(self.headers.get("Authorization"))
            self._json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        spec = COLLECTIONS.get(parsed.path)
        if spec is None:
            self._json(404, status(404, "NotFound", f"the server could not find {parsed.path}"))
            return
        watching = _watching(query)
        if watching and fake.hang_up_watches > 0:  # (the client reads no status line: a reset, Go's EOF)
            fake.hang_up_watches -= 1
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        refusal = (fake.fail_watch if watching else {}).get(spec[0]) or fake.fail.get(spec[0])
        if refusal is not None:
            code, reason, message = refusal
            self._json(code, status(code, reason, message))
        elif watching:
            self._watch(spec, query)
        elif fake.hold_lists:
            fake.release.wait(10)
            self.close_connection = True
        else:
            self._list(spec, query)

    # -- list -------------------------------------------------------------------------------------

    def _list(self, spec: tuple[str, str, bool], query: dict[str, str]) -> None:
        fake = self.server_state
        kind, api_version, _ = spec
        version = query.get("resourceVersion") or ""
        if not query.get("continue") and version not in ("", "0") and int(version) < fake.compacted:
            self._json(410, status(410, "Expired", f"too old resource version: {version} ({fake.compacted})"))
            return
        if not query.get("continue") and version not in ("", "0") and int(version) > fake.rv:  # (as the watch
            body = status(504, "Timeout", f"Too large resource version: {version}, current: {fake.rv}")  # cache)
            body["details"] = {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource "
                                           "version"}], "retryAfterSeconds": 1}
            self._json(504, body)
            return
        with fake.cond:
            token = query.get("continue")
            if token:
                snap_rv, offset = json.loads(base64.b64decode(token))
                if snap_rv < fake.compacted:
                    self._json(410, status(410, "Expired", "The provided continue parameter is too old to "
                                                           "display a consistent list result."))
                    return
            else:
                snap_rv, offset = fake.rv, 0
            items = [o for o in fake.snapshot(kind, snap_rv) if selected(o, query)]
        limit = int(query.get("limit", "0") or 0)
        page = items[offset:offset + limit] if limit else items[offset:]
        meta: dict[str, Any] = {"resourceVersion": str(snap_rv)}
        if limit and offset + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps([snap_rv, offset + limit]).encode()).decode()
        body = {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": page}
        if not fake.stall_bodies:
            self._json(200, body)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        fake.release.wait(10)
        self.close_connection = True

    # -- watch ------------------------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _line(self, message: dict[str, Any]) -> None:
        self._chunk(json.dumps(message).encode() + b"\n")

    def _event(self, entry: dict[str, Any], query: dict[str, str]) -> None:
        """A logged change through the query's selectors, as the API server's watch cache sends it: an object
        that starts matching is ADDED, one that stops matching is DELETED (with its last matching state)."""
        message = {"type": entry["type"], "object": entry["object"]}
        if not (query.get("labelSelector") or query.get("fieldSelector")):
            self._line(message)
            return
        obj, rv = entry["object"], entry["rv"]
        prev = self.server_state.previous(entry["kind"], obj, rv)
        now, before = selected(obj, query), prev is not None and selected(prev, query)
        if entry["type"] == "MODIFIED" and now != before:
            if now:
                message = {"type": "ADDED", "object": obj}
            else:
                gone = json.loads(json.dumps(prev))
                gone["metadata"]["resourceVersion"] = str(rv)
                message = {"type": "DELETED", "object": gone}
        elif not now:
            return
        self._line(message)

    def _watch(self, spec: tuple[str, str, bool], query: dict[str, str]) -> None:
        fake = self.server_state
        kind, api_version, _ = spec
        start = int(query.get("resourceVersion") or "0")
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        seconds = fake.watch_seconds if fake.watch_seconds is not None else float(query.get("timeoutSeconds") or 30)
        deadline = time.monotonic() + seconds
        if start < fake.compacted and fake.gone_as_http:
            self._json(410, status(410, "Expired", f"too old resource version: {start} ({fake.compacted})"))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if start < fake.compacted:
            self._line({"type": "ERROR", "object": status(410, "Expired",
                                                          f"too old resource version: {start} ({fake.compacted})")})
            self._chunk(b"")
            return
        position = 0
        while time.monotonic() < deadline:
            with fake.cond:
                if fake.closing:
                    break
                todo = [e for e in fake.log[position:] if e["kind"] == kind]
                position = len(fake.log)
                if not todo:
                    fake.cond.wait(0.05)
                    continue
            for entry in todo:
                if "rv" in entry:
                    if entry["rv"] > start:
                        self._event(entry, query)
                    continue
                if entry["done"]:
                    continue
                entry["done"] = True
                if self._act(entry, kind, api_version, bookmarks):
                    return
        self._chunk(b"")

    def _act(self, entry: dict[str, Any], kind: str, api_version: str, bookmarks: bool) -> bool:
        """Carry out one injected fault; True when the connection is finished."""
        action, payload = entry["action"], entry["payload"]
        if action == "line":
            self._chunk(payload + b"\n")
        elif action == "bookmark" and bookmarks:
            self._line({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                                                       "metadata": {"resourceVersion": str(self.server_state.rv)}}})
        elif action == "error410":
            self._line({"type": "ERROR", "object": status(410, "Expired", "too old resource version")})
            self._chunk(b"")
            return True
        elif action == "drop":
            if payload:
                self._chunk(payload)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return True
        return False
