"""A live API server as a watch source, through the official ``kubernetes`` Python client.

One reflector thread per kind does what client-go's reflector does: list
(paged; a 410 on a continue token restarts the list), emit the differences
against its store, then watch from the listed resourceVersion with bookmarks
on. When the server says the resourceVersion is gone (an ERROR event with a
410 Status, or HTTP 410), it relists and emits exactly what changed meanwhile.
A watch that ends after lasting a second or delivering anything (the server's
timeoutSeconds, an idle proxy, a connection cut or reset mid-stream: Go's
watch decoder reads those as the stream's end) is followed at once by the
next one from the last resourceVersion seen. A watch request refused for a
connection refused or a 429 is sent again after exponential backoff with
jitter; any other failure of it, a "very short watch" (under a second,
nothing received) and an ERROR event end the round: the next one lists,
after backoff (client-go's ListAndWatch). The decoding and bookkeeping are in
:mod:`kubeproxy_sim.watch.cache`; this module only moves bytes.

It asks for what kube-proxy's informers ask for (cmd/kube-proxy/app/server.go):
Services and EndpointSlices without the ``service-proxy-name`` and ``headless``
labels, and only this node's Node (``metadata.name=<node>``); no Pods. A problem
is said once until that request works again (once for the whole server when it
is the server's: unreachable, TLS, credentials), with the server's own reason
(the Status ``message`` of a 403; for a watch refused after its list was
allowed, the RBAC verb missing). A TLS handshake the server closes, with a
kubeconfig user that has no client certificate, is said to be that. With
``give_up`` (bounded runs), a list that retrying cannot cure (HTTP 400, 401,
403, 404, a TLS verification error), a kind's first list still failing after
``give_up`` attempts, or a kind's first watch refused for good, ends the
source: ``poll()`` raises it as an :class:`~kubeproxy_sim.errors.InputError`
(a list's BOOKMARK waits for its first watch to be answered, so the first
sync of a bounded run does not come before that).

The client is imported lazily, so the rest of the package works without it
(``pip install kubeproxy-sim[live]``); only its kubeconfig loading and its
connection pool are used (the generated ``CoreV1Api`` costs a second or two to
import, for a URL this module builds itself). Sleeping, the clock and
randomness are injected: tests run the whole protocol with no real waits.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from kubeproxy_sim import signals
from kubeproxy_sim.errors import Diagnostic, EnvironmentMissing, InputError, Severity, cannot_read, quoted
from kubeproxy_sim.objects.addr import is_plain_ipv4  # (Go's ParseIP of IPv4 since go1.17: no leading zeros)
from kubeproxy_sim.objects.model import UNWATCHED_LABELS
from kubeproxy_sim.watch.cache import KIND_SPECS, KindCache, StreamSignal
from kubeproxy_sim.watch.events import Batch, Kind, WatchEvent
from kubeproxy_sim.watch.go_idna import host_port_ascii, lookup_ascii
from kubeproxy_sim.watch.kubeconfig_types import chosen
from kubeproxy_sim.watch.oidc import PROXY_VARIABLES, IdpTransport, OidcRefreshFailed, idp_transport

DEFAULT_KINDS = (Kind.SERVICE, Kind.ENDPOINT_SLICE, Kind.NODE)
"""kube-proxy's informers: no Pods (its ClusterRole, system:node-proxier, cannot list them)."""

KUBE_PROXY_SELECTOR = ",".join(f"!{label}" for label in sorted(UNWATCHED_LABELS))
"""The label selector kube-proxy lists Services and EndpointSlices with (labels.Selector sorts by key)."""

MIN_WATCH_TIMEOUT = 300
"""Seconds: client-go's reflector asks each watch for a timeoutSeconds drawn in [this, twice this) (minWatchTimeout
* (rand + 1)), so that its watches do not all end at once."""

VERY_SHORT_WATCH = 1.0
BACKOFF_RESET = 120.0  # client-go's reflector backoff manager: steps start again when the last began 2 min before
"""Seconds: a watch that ends cleanly sooner, having delivered nothing, is a failure (client-go's reflector)."""

CONNECT_TIMEOUT = 10.0
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})  # retrying the same request gets the same answer
SERVER_WIDE_STATUSES = frozenset({401})  # the credentials, not one resource
STATUS_HINTS = {401: "the server did not accept the kubeconfig's credentials"}  # a Status that says no more


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between failed attempts: initial * factor**(n-1), capped, then stretched by up to ``jitter`` of
    itself, as client-go's reflector backs off (NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0): the jitter
    comes after the cap, so the delays stop "at [30,60) sec", as its comment says)."""

    initial: float = 0.8
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 1.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """The delay after ``failures`` failures in a row: past some thousand of them (hours of a server down, or
        a stubbed sleep) factor**(n-1) is more than a float holds, which is the cap all the same (the power
        raised OverflowError, which ended the reflector's thread)."""
        try:
            grown = self.initial * self.factor ** max(0, failures - 1)
        except OverflowError:
            grown = self.maximum
        return min(self.maximum, grown) * (1.0 + self.jitter * rng.random())


@dataclass(slots=True)
class BackoffSteps:
    """Where one reflector is in its backoff, as client-go's backoff manager keeps it (the reflector's
    NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0) is apimachinery's exponentialBackoffManagerImpl, whose
    getNextBackoff resets when the last backoff began over resetDuration before and notes each one's start; not
    the backoffManager DelayWithReset builds, whose window moves only at a reset): each backoff is a step further,
    unless the last one began more than ``reset`` seconds before, when the steps start again. Nothing else resets
    them: a watch that delivered before it broke does not (it did, and a flapping server was retried at the first
    step forever)."""

    steps: int = 0
    last_start: float | None = None

    def next(self, now: float, reset: float = BACKOFF_RESET) -> int:
        """The step of a backoff beginning ``now`` (1 for the first, or after ``reset`` seconds without one)."""
        if self.last_start is None or now - self.last_start > reset:
            self.steps = 0
        self.last_start = now
        self.steps += 1
        return self.steps


class HttpStatusError(Exception):
    """A response other than 200, with the Status ``message`` of its body when it says more than the reason
    (else a hint of our own, for a 401)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        if not message or message == reason:
            message = STATUS_HINTS.get(status, "")
        self.generation = 0  # the generation of the watch's credentials the request was sent with
        self.version_too_large = False  # the server's history does not reach the resourceVersion asked for
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"HTTP {status} {reason}".rstrip() + (f": {message}" if message else ""))


def _status_message(body: bytes) -> str:
    """The ``message`` of a Status body (what kubectl prints after "Error from server"), on one line."""
    try:
        status = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    message = status.get("message") if type(status) is dict else None
    return " ".join(message.split()) if type(message) is str else ""


def _version_too_large(status: int, body: bytes) -> bool:
    """Whether a refusal says the resourceVersion asked for is newer than the server's history (a server restored
    from a backup), as client-go's isTooLargeResourceVersionError reads it: a Status with the cause
    ResourceVersionTooLarge, or, from a 504 (apiserver 1.17.0-1.18.5 and older), "Too large resource version" in
    a cause's message or its own."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    if type(parsed) is not dict:
        return False
    details = parsed.get("details")
    causes = details.get("causes") if type(details) is dict else None
    causes = [cause for cause in causes if type(cause) is dict] if type(causes) is list else []
    if any(cause.get("reason") == "ResourceVersionTooLarge" for cause in causes):
        return True
    return status == 504 and (any(cause.get("message") == "Too large resource version" for cause in causes)
                              or "Too large resource version" in str(parsed.get("message") or ""))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps: urllib3's ``reason``, exception arguments, cause and context."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        todo += [e for e in (reason, *current.args, current.__cause__, current.__context__)
                 if isinstance(e, BaseException)]


def _first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says; for one that says nothing (``ConnectionResetError()``), its class's
    name in words ("connection reset", "ssl error"): a Python class's name means nothing to the user."""
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    words = [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", type(exc).__name__)]
    return " ".join(words[:-1] if len(words) > 2 and words[-1] in ("error", "exception") else words)


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failed request means: the words for the user, and whether retrying can help."""

    text: str
    permanent: bool = False
    server_wide: bool = False  # the same for every kind (the server, the network, the credentials)
    handshake_closed: bool = False  # the server ended the TLS handshake: what one wanting a client certificate does


PROXY_URL_FROM = "the cluster's proxy-url"
"""What a proxy is said to be named by when the kubeconfig names it (:func:`classify`)."""


_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d+ .*)")
"""How http.client (and urllib3) says a proxy answered a CONNECT with other than 200 (407, 502, 503 ...)."""


def classify(exc: BaseException, server: str, proxy: str = "", proxy_from: str = PROXY_URL_FROM) -> Failure:
    """A one-line account of a failed request (``server`` is HOST:PORT), instead of the client's 330 characters; a
    connection the cluster's proxy-url's proxy (``proxy``: HOST:PORT, when there is one) refused, or that could
    not be made to it, names the proxy, and so does a tunnel it answered but refused (only a refused TCP
    connection asks whether a proxy is running there, of what named it, ``proxy_from``: the cluster's proxy-url,
    or the environment variable that gave it, :class:`EnvironmentProxy`)."""
    import ssl

    if isinstance(exc, HttpStatusError):
        return Failure(str(exc), exc.status in PERMANENT_STATUSES, exc.status in SERVER_WIDE_STATUSES)
    if isinstance(exc, CredentialsUnavailable):  # (a bounded run gives up at once, as kubectl's one request fails)
        return Failure(str(exc), permanent=True, server_wide=True)
    if isinstance(exc, DialImpossible):  # (the same)
        return Failure(f"cannot connect to {server}: {exc}", permanent=True, server_wide=True)
    causes = list(_causes(exc))
    tls = next((c for c in causes if _is_tls(c)), None)
    if tls is not None:
        inner = next((c for c in reversed(causes) if _is_tls(c)), tls)
        text = _first_line(inner)
        verification = any(word in text.upper() for word in (
            "CERTIFICATE", "X509", "UNKNOWN_CA", "HOSTNAME", "PEM", "NO_CERTIFICATE"))
        closed = any(isinstance(c, ssl.SSLEOFError) for c in causes) or any(word in text.upper() for word in (
            "EOF OCCURRED", "UNEXPECTED_EOF", "CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE"))
        return Failure(f"TLS with {server} failed: {text}", verification, True, closed)
    names = {type(c).__name__ for c in causes}
    peer, hint = server, "is the API server running there?"
    if "ProxyError" in names:  # (urllib3's: the proxy-url's proxy failed, not the server)
        conn = next((conn for conn in (getattr(c, "conn", None) for c in causes) if conn is not None), None)
        where = f"{conn.host}:{conn.port}" if conn is not None else proxy
        peer = f"the proxy {where}" if where else "the proxy"
        tunnel = next((found for found in (_TUNNEL_REFUSED.match(str(c)) for c in causes) if found), None)
        if tunnel is not None:
            return Failure(f"{peer} refused the tunnel to {server}: {tunnel.group(1).strip()}", server_wide=True)
        hint = f"{proxy_from}: is a proxy running there?"
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in str(exc).lower():
        return Failure(f"connection refused by {peer} ({hint})", server_wide=True)
    if "ConnectTimeoutError" in names:
        return Failure(f"no connection to {peer} within {CONNECT_TIMEOUT:g}s", server_wide=True)
    if "NewConnectionError" in names or "NameResolutionError" in names:
        errno_text = next((c.strerror for c in causes if isinstance(c, OSError) and c.strerror), None)
        return Failure(f"cannot connect to {peer}: {errno_text or _first_line(exc)}", server_wide=True)
    if "ReadTimeoutError" in names:
        return Failure(f"{server} stopped answering (read timed out)")
    if "ProtocolError" in names:
        if any(isinstance(c, ValueError) for c in causes) or "IncompleteRead" in names:
            return Failure(f"{server} closed the connection in the middle of a response")
        return Failure(f"the connection to {server} broke ({_first_line(causes[-1])})")
    if "LocationParseError" in names:  # (a tunnel to a host Go asks for as written: ``https://\\u0663`` by a proxy)
        said = _first_line(next(c for c in causes if type(c).__name__ == "LocationParseError"))
        return Failure(f"cannot send the request for {server}: the watch's HTTP client (urllib3) cannot name that "
                       f"host ({said.removeprefix('Failed to parse: ')}), where kubectl names it as written",
                       permanent=True, server_wide=True)
    said = str(exc).strip()  # (the words alone: a Python class's name means nothing to the user)
    return Failure(f"the request to {server} failed: {said.splitlines()[0]}" if said else
                   f"the request to {server} failed")


def relist_after(exc: BaseException) -> bool:
    """Whether a failed watch request calls for a new list rather than the same watch again.

    client-go's reflector opens the same watch again (after backoff) only when the request's connection was
    refused or the server answered 429 (the server is briefly away or busy: ``isWatchErrorRetriable``); any other
    failure (a TLS error, a timeout, a reset, no credentials from the exec plugin, an HTTP refusal) returns from
    ListAndWatch, and the next round lists, after backoff. That is what rescues a server whose history went back
    (restored from a backup): it refuses the old resourceVersion as too large, forever, but answers a list.
    """
    if isinstance(exc, HttpStatusError):
        return exc.status != 429
    return not any(isinstance(cause, ConnectionRefusedError) for cause in _causes(exc))


def stream_ended(exc: BaseException) -> bool:
    """Whether an error reading a watch's body is, to client-go, the stream's end: its StreamWatcher takes EOF, an
    unexpected EOF (a connection closed mid-chunk or mid-object), a reset or a broken pipe (net.IsProbableEOF) and a
    read timeout (net.IsTimeout) for the watch closing, and the reflector then judges the watch by its length and
    what it delivered; any other error (a TLS record that does not decrypt, a malformed chunk) is an ERROR event,
    which ends the round: the next one lists."""
    import ssl

    for cause in _causes(exc):
        if isinstance(cause, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError,
                              EOFError, ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return True
        name = type(cause).__name__
        if name == "InvalidChunkLength":  # (urllib3's: a size line that is no number, Go's "malformed chunked
            return False                  # encoding"; where the connection ended, urllib3 says the next words)
        if name in ("IncompleteRead", "ReadTimeoutError") or str(cause) == "Response ended prematurely":
            return True
    return False


def watch_refused_hint(kind: Kind) -> str:
    """What a 403 on a watch, after the list was allowed, says about RBAC."""
    path = KIND_SPECS[kind].path.split("/")  # /api/v1/services, /apis/discovery.k8s.io/v1/endpointslices
    resource = path[-1] + (f".{path[2]}" if path[1] == "apis" else "")
    return (f"the list of {resource} was allowed but not the watch: the kubeconfig's user needs the \"watch\" verb "
            f"on {resource} (kube-proxy's ClusterRole system:node-proxier grants list and watch)")


def _is_tls(exc: BaseException) -> bool:
    import ssl

    return isinstance(exc, ssl.SSLError) or type(exc).__name__ in ("SSLError", "CertificateError")


KUBECONFIG_EXPECTED = "a kubeconfig (what `kubectl config view --raw` prints)"
"""What --kubeconfig should name, said when the file cannot be read."""


def kubeconfig_unreadable(kubeconfig: str, exc: OSError | UnicodeDecodeError) -> Diagnostic:
    """Why the --kubeconfig file could not be read, in errors.cannot_read's one line, as every file a flag names
    is said (the client's words for these are Python's, or "Invalid kube-config file" for a missing one)."""
    return Diagnostic(cannot_read(exc, KUBECONFIG_EXPECTED), file=kubeconfig, field="--kubeconfig")


def connect(kubeconfig: str, context: str | None = None) -> Any:
    """An ApiClient for a kubeconfig; the user sees what is wrong with the file (or with writing a refreshed token
    back to it: :func:`_persist_auth_provider`), not a traceback."""
    return _connected(kubeconfig, context)[0]


@dataclass(frozen=True, slots=True)
class ExecCredential:
    """What the watch keeps of the credentials an exec plugin gave, to follow them as client-go's exec
    authenticator does: when they expire (``expiry``, the status's expirationTimestamp in seconds since the epoch;
    None: never, until a 401), and which client certificate they hold (``cert``, a digest of its PEM certificate
    and key; None for a token alone), whose change closes every connection."""

    expiry: float | None
    cert: str | None = None

    def expired(self, now: float) -> bool:
        """client-go's credsExpired: strictly after the timestamp, no early margin (the Python client re-ran the
        plugin five minutes early, by its own wall clock, at each request within those five minutes)."""
        return self.expiry is not None and now > self.expiry


def _read_kubeconfig(kubeconfig: str) -> dict[str, Any]:
    """The kubeconfig read once and checked for its shape (:func:`_check_shape`), the kubernetes client looked for
    first (said before the file is read). The watch keeps it and builds every later client from it
    (:meth:`ApiServerSource._fresh_client`), as client-go's exec authenticator keeps the plugin's command, args and
    env of the config loaded at start: a pipe (``--kubeconfig <(...)``) gives its text once, a FIFO would wait for
    a writer, a file deleted or edited since is not what the watch was started with."""
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        raise EnvironmentMissing("watching an API server needs the kubernetes client: "
                                 "pip install 'kubeproxy-sim[live]'") from None
    return _check_shape(kubeconfig)


def _ca_inlined(read: dict[str, Any], kubeconfig: str, context: str | None) -> dict[str, Any]:
    """``read`` (:func:`_read_kubeconfig`'s) with its chosen cluster's certificate-authority file put in as
    certificate-authority-data, the bytes it holds now: client-go reads the CA once, as it builds its transport,
    while the watch builds a client again (:meth:`ApiServerSource._fresh_client`) for credentials it gets again,
    which read the file again: a CA file removed or replaced while watching failed each refresh (an exec plugin's
    expired token for ever). Left as it is when the file cannot be read now or is no regular file (a FIFO would
    wait for a writer), or data is given beside it (client-go refuses both)."""
    import base64

    from kubeproxy_sim.objects.load import special_file

    cluster_at, _ = chosen(read, context)
    cluster = read["clusters"][cluster_at]["cluster"]
    path = cluster.get("certificate-authority")
    if not isinstance(path, str) or not path or cluster.get("certificate-authority-data"):
        return read
    full = os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), path)
    if special_file(full) is not None:
        return read
    try:
        with open(full, "rb") as stream:
            pem = stream.read()
    except OSError:
        return read
    clusters = [dict(entry) for entry in read["clusters"]]
    inlined = {key: value for key, value in cluster.items() if key != "certificate-authority"}
    clusters[cluster_at]["cluster"] = {**inlined, "certificate-authority-data": base64.b64encode(pem).decode("ascii")}
    return {**read, "clusters": clusters}


def _idp_fixed(read: dict[str, Any], context: str | None, environ: Mapping[str, str]) -> IdpTransport | None:
    """What client-go's oidc provider fixes as kubectl or kube-proxy builds it, for the chosen user's oidc
    auth-provider in ``read``: the ``idp-certificate-authority`` file read once (restclient.TransportFor loads it
    as the provider is made, so a CA file replaced or removed later changes nothing; the watch read it at each
    refresh, failing every refresh once it was gone) and the environment Go's ProxyFromEnvironment reads once per
    process (HTTPS_PROXY, NO_PROXY: the refresh went straight to the identity provider whatever they said):
    ``environ``, the watch's one copy, which its server's requests follow too (the refresh read os.environ
    again), under the same rule for a value Go's url.Parse refuses (:func:`_url_refused`: the refresh took
    ``HTTPS_PROXY="a b:3128"`` for a proxy and failed, where the server's requests went straight). None without
    such a provider."""
    _, _, user = _chosen_user(read, context)
    provider = user.get("auth-provider") if isinstance(user, dict) else None
    if not isinstance(provider, dict) or provider.get("name") != "oidc" or not isinstance(provider.get("config"), dict):
        return None
    return idp_transport(provider["config"], environ, _url_refused)


def _connected(kubeconfig: str, context: str | None, per_request: bool = False, handshake: bool = False, *,
               read: dict[str, Any] | None = None, now: Callable[[], float] = time.time, oidc_refresh: bool = True,
               idp: IdpTransport | None = None, rebuild: bool = False, environ: Mapping[str, str] | None = None,
               ) -> tuple[Any, dict[str, Any], Diagnostic | None, ExecCredential | None]:
    """:func:`connect`'s client, the kubeconfig as it read it (once: what else is asked of the file is asked of
    that, as a pipe gives its text once), and, when ``per_request`` (the watch, which fails each request for it,
    as client-go does: see :func:`_check_server` too), why the client holds no credentials of the exec plugin: it
    was not installed, or it failed (the client logged it); None when it ran or there is none; last, what the
    exec plugin gave when it ran (:class:`ExecCredential`), else None. Without ``per_request`` either is raised.
    With ``per_request``, a plugin client-go runs only in the TLS handshake (:func:`_exec_at_handshake`) is not
    run (nor looked for) unless ``handshake``: the watch runs it when a connection is up
    (:meth:`ApiServerSource._handshake_problem`). ``read`` is the kubeconfig as :func:`read_kubeconfig` read it
    earlier, built from (a copy: the client refreshes an auth-provider's token in place) instead of the file;
    ``now`` the wall clock an oidc id-token's expiry is judged by, ``oidc_refresh`` whether an expired one is
    refreshed now (:func:`_loader_class`); a refresh that fails is the user's auth-provider's problem, in client-go's
    words (:class:`kubeproxy_sim.watch.oidc.OidcRefreshFailed`). ``environ``: the proxy variables the server's
    requests follow when the cluster has no proxy-url (:func:`_environment_proxy`; None: the process's)."""
    shaped = _read_kubeconfig(kubeconfig) if read is None else copy.deepcopy(read)
    data, taken, missing = _check_server(kubeconfig, shaped, context, per_request, idp, rebuild, environ)
    user_at = chosen(data, context)[1]
    if rebuild and user_at is not None:
        taken = _without_user_files(taken, user_at)
    if per_request and not handshake and user_at is not None and _exec_at_handshake(data, context):
        taken, missing = _without_exec(taken, user_at), None
    try:
        with _client_errors_logged() as logged:
            client, credential = _client(taken, kubeconfig, context, kept=read, now=now, oidc_refresh=oidc_refresh,
                                         idp=idp)
        failure = _exec_failed(kubeconfig, data, context, logged[0]) if logged else missing
        if failure is not None and not per_request:  # (the client logs it and carries on without credentials)
            raise InputError(failure)
        return client, data, failure, None if failure is not None else credential
    except InputError:
        raise
    except OidcRefreshFailed as exc:
        raise InputError(Diagnostic(str(exc), file=kubeconfig, field=f"users[{user_at}].user.auth-provider"
                                    if user_at is not None else None)) from None
    except ImportError as exc:
        if exc.name != "socks":
            raise
        said = "proxy-url" if chosen_cluster(shaped, context).get("proxy-url") else "proxy (from the environment)"
        raise EnvironmentMissing(f"{kubeconfig}: the cluster's socks5 {said} needs PySocks, through which the "
                                 "kubernetes client reaches a SOCKS proxy: pip install pysocks") from None
    except Exception as exc:  # ConfigException, YAML errors, bad certificates ...
        raise InputError(Diagnostic(f"cannot use this kubeconfig: {_first_line(exc)}", file=kubeconfig)) from None


_EXEC_NOT_JSON = "exec: failed to decode process output: "
"""How the client says an exec plugin's output is no JSON, followed by Python's json error."""


_EXEC_EXITED = re.compile(r"exec: process returned (-?\d+)(?:\. (.*))?", re.DOTALL)
"""How the client says an exec plugin exited with other than 0, with its stderr; client-go says "exec: executable
X failed with exit code N" (kubectl 1.33, the oracle; the plugin's stderr goes to kubectl's)."""


def _exec_failed(kubeconfig: str, data: dict[str, Any], context: str | None, logged: str) -> Diagnostic:
    """The exec credential plugin's failure the client logged, by the user's exec field path (the only
    credentials the client logs a failure of), its output that is no JSON said without Python's json error
    ("Expecting value: line 1 column 1 (char 0)"): client-go fails alike ("decoding stdout: ...")."""
    from kubeproxy_sim.watch.kubeconfig_types import chosen

    _, user_at = chosen(data, context)
    if logged.startswith(_EXEC_NOT_JSON):
        logged = "exec: the plugin's output is not JSON; expected an ExecCredential on its stdout"
    elif (exited := _EXEC_EXITED.fullmatch(logged)) is not None and user_at is not None:
        command = _exec_command_path(kubeconfig, data["users"][user_at]["user"]["exec"]["command"])
        said = " ".join((exited.group(2) or "").split())  # (stderr of several lines: a message is one line)
        stderr = f" (its stderr: {said})" if said else ""
        logged = f"exec: executable {command} failed with exit code {exited.group(1)}{stderr}"
    return Diagnostic(f"cannot get the kubeconfig's credentials: {logged}", file=kubeconfig,
                      field=f"users[{user_at}].user.exec" if user_at is not None else None)


def _client(taken: dict[str, Any], kubeconfig: str, context: str | None, kept: dict[str, Any] | None = None,
            now: Callable[[], float] = time.time, oidc_refresh: bool = True, idp: IdpTransport | None = None,
            ) -> tuple[Any, ExecCredential | None]:
    """The client for the kubeconfig as read once (:func:`_check_shape`) and as client-go takes it
    (:func:`_as_client_go_takes`): the client's own reading of the file was a second one, which a pipe
    (``--kubeconfig <(...)``) answers with nothing ("Invalid kube-config ... file is empty"). Relative paths in it
    (``certificate-authority: ca.crt``) are taken from the kubeconfig's directory here
    (:func:`_local_paths_resolved`), and the client is given no base path: it would run the exec plugin there,
    where client-go runs it in the caller's directory. An auth-provider token the client refreshes is written back
    to the file (:func:`_persist_auth_provider`), or fails the client as kubectl's request fails. The persister
    reads the very mapping the client was given, which the client refreshes in place. Credentials an exec plugin
    gave are returned beside the client (:class:`ExecCredential`), and the client's own refresh of them is
    switched off: the watch follows their expiry as client-go does (:meth:`ApiServerSource._check_credentials`).
    A refreshed auth-provider token written back is kept in ``kept`` too (the kubeconfig as the watch read it at
    start, which it builds later clients from), as client-go's oidc provider keeps its config in memory once
    persisted: the next client starts from the refreshed tokens, not the spent refresh-token."""
    from kubernetes.client import ApiClient, Configuration

    given = _local_paths_resolved(taken, kubeconfig)
    configuration = type.__call__(Configuration)  # (as new_client_from_config: not a copy of the default one)
    loader = _loader_class(now, oidc_refresh, idp)(config_dict=given, active_context=context,
                                              config_base_path="",  # ("": paths as given)
                                              config_persister=lambda: _persisted(kubeconfig, given, context, kept))
    loader.load_and_set(configuration)
    # (the Python client read the proxy environment by Python's rules, its NO_PROXY obeyed over a proxy-url too;
    # client-go's choice is in ``taken`` already, the environment's proxy as its proxy-url: _as_client_go_takes)
    configuration.proxy = chosen_cluster(given, context).get("proxy-url") or None
    configuration.no_proxy = None
    proxy = str(getattr(configuration, "proxy", "") or "")
    if _go_scheme(proxy) in ("http", "https") and (proxy_auth := _url_basic_auth(proxy)) is not None:
        # (Go's transport sends the proxy-url's user to the proxy, in a CONNECT and in a request it passes on:
        # kubectl 1.33 sent "Proxy-Authorization: Basic ..."; urllib3 takes no user from a proxy URL)
        configuration.proxy_headers = {"Proxy-Authorization": proxy_auth}
    credential = getattr(loader, "exec_credential", None)
    if credential is not None:
        configuration.refresh_api_key_hook = None
    return ApiClient(configuration=configuration), credential


def _exec_interactive(plugin: Any) -> bool:
    """Whether client-go gives an exec plugin the terminal: not for interactiveMode Never; for IfAvailable and
    Always (and an unset mode, which client-go defaults to IfAvailable) when its standard input is one. The Python
    client looks at stdout whatever the mode, so a Never plugin run from a terminal got it, and its stderr was not
    kept (final reader f2 finding 1). An Always plugin without a terminal is not run at all
    (:func:`_exec_mode_refused`)."""
    return plugin.safe_get("interactiveMode") != "Never" and _stdin_is_terminal()


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


EXEC_NOT_INTERACTIVE = "exec plugin cannot support interactive mode: standard input is not a terminal"
"""client-go's refusal of an interactiveMode Always plugin when standard input is no terminal (its isInteractive,
before the plugin is run: kubectl 1.33, the oracle, failed each request with "getting credentials: " and this, and
never ran the plugin)."""


def _exec_mode_refused(mode: str | None) -> str | None:
    """Why client-go refuses to run an exec plugin of ``interactiveMode`` ``mode`` at all, or None: Always without
    a terminal on standard input (:data:`EXEC_NOT_INTERACTIVE`), said before anything of the plugin's command is
    looked at (its refreshCredsLocked asks isInteractive first: kubectl 1.33 said it of an Always plugin not
    installed too); the Python client ran it without one."""
    return EXEC_NOT_INTERACTIVE if mode == "Always" and not _stdin_is_terminal() else None


def _run_exec_plugin(provider: Any, interactive: bool) -> dict[str, Any]:
    """The plugin's ExecCredential status, run as the Python client's ExecProvider.run runs it (its args, env and
    directory), but given the terminal only when ``interactive`` (:func:`_exec_interactive`: our stdin, and our
    stderr for its prompts); otherwise its stdin is /dev/null, as Go's exec.Cmd gives one without Stdin, and its
    stderr is kept for the message. A failure is the
    client's own ConfigException words, which :func:`_exec_failed` says in client-go's."""
    from kubernetes.config.config_exception import ConfigException

    info: dict[str, Any] = {"apiVersion": provider.api_version, "kind": "ExecCredential",
                            "spec": {"interactive": interactive}}
    if provider.cluster:  # (provideClusterInfo: the cluster, its exec extension as "config", as the client does)
        info["spec"]["cluster"] = cluster = dict(provider.cluster.value)
        for extension in cluster.get("extensions") or []:
            if extension.get("name") == "client.authentication.k8s.io/exec":
                cluster["config"] = extension.get("extension")
                break
    env = {**provider.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
    done = subprocess.run(provider.args, stdout=subprocess.PIPE, env=env, cwd=provider.cwd, text=True, check=False,
                          stdin=sys.stdin if interactive else subprocess.DEVNULL,
                          stderr=None if interactive else subprocess.PIPE)
    if done.returncode != 0:
        stderr = (done.stderr or "").strip()
        raise ConfigException(f"exec: process returned {done.returncode}" + (f". {stderr}" if stderr else ""))
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        raise ConfigException(f"{_EXEC_NOT_JSON}{exc}") from None
    for key in ("apiVersion", "kind", "status"):
        if key not in data:
            raise ConfigException(f"exec: malformed response. missing key '{key}'")
    if data["apiVersion"] != provider.api_version:
        raise ConfigException(f"exec: plugin api version {data['apiVersion']} does not match {provider.api_version}")
    return dict(data["status"])


def _exec_status_taken(loader: Any, status: dict[str, Any]) -> bool | None:
    """What client-go's exec authenticator takes of a plugin's status (refreshCredsLocked): its token, and its
    client certificate and key, each when given (an empty string is none), both when both are: the token goes out
    in the Authorization header on connections that present the certificate (the Python client took the token
    alone then). A status with neither, or with a certificate without its key (or a key without its certificate),
    fails as client-go's, in its words (logged: each request fails for it). What the watch follows of them is kept
    as the loader's ``exec_credential`` (:class:`ExecCredential`)."""
    import hashlib

    from kubernetes.config.dateutil import parse_rfc3339
    from kubernetes.config.kube_config import FileOrData

    token, cert, key = (str(status.get(name) or "") for name in ("token", "clientCertificateData", "clientKeyData"))
    if not (token or cert or key):
        logging.error("exec plugin didn't return a token or cert/key pair")
        return None
    if bool(cert) != bool(key):
        logging.error("exec plugin returned only certificate or key, not both")
        return None
    if token:
        loader.token = f"Bearer {token}"
    if cert:
        base_path = loader._get_base_path(loader._cluster.path)
        for attribute, name in (("cert_file", "clientCertificateData"), ("key_file", "clientKeyData")):
            setattr(loader, attribute, FileOrData({name: str(status[name])}, None, data_key_name=name,
                                                  file_base_path=base_path, base64_file_content=False,
                                                  temp_file_path=loader._temp_file_path).as_file())
    if "expirationTimestamp" in status:
        loader.expiry = parse_rfc3339(status["expirationTimestamp"])
    pem = "\0".join(re.sub(r"-----[^-]*-----|\s", "", part) for part in (cert, key)) if cert else ""
    digest = hashlib.sha256(pem.encode()).hexdigest() if pem else None  # (client-go compares them parsed)
    loader.exec_credential = ExecCredential(loader.expiry.timestamp() if "expirationTimestamp" in status else None,
                                            digest)
    return True


def _loader_class(now: Callable[[], float] = time.time, refresh: bool = True, idp: IdpTransport | None = None) -> Any:
    """The Python client's KubeConfigLoader, with its exec plugin run by :func:`_run_exec_plugin` (a subclass, not
    a patch of the client's module: nothing global changes). What it does with the plugin's status is the client's,
    by :func:`_exec_status_taken`. An oidc id-token is refreshed when client-go's oidc provider would refresh it
    (:func:`oidc_config_fresh` by ``now``: 10 s before its exp, or without one), where the client refreshed it five
    minutes early by its own clock, and never one without an exp; unless ``refresh`` is false (the watch's first
    client: its first request refreshes, and fails as client-go's would, not the start). The exchange is client-go's
    (over ``idp``: the CA and environment fixed when the watch started, as client-go's provider fixes them)
    (:func:`kubeproxy_sim.watch.oidc.refreshed_config`), with the identity provider's certificate verified: the
    client's own ``_refresh_oidc`` is replaced, so it never runs."""
    from kubernetes.config.exec_provider import ExecProvider
    from kubernetes.config.kube_config import KubeConfigLoader

    class Loader(KubeConfigLoader):
        def _load_from_exec_plugin(self) -> Any:
            if "exec" not in self._user:
                return None
            if (refused := _exec_mode_refused(self._user["exec"].safe_get("interactiveMode"))) is not None:
                logging.error(refused)  # (as a failed plugin: each request fails for it, and asks again)
                return None
            try:
                provider = ExecProvider(self._user["exec"], self._get_base_path(self._cluster.path), self._cluster)
                status = _run_exec_plugin(provider, _exec_interactive(self._user["exec"]))
            except Exception as exc:  # (as the client: logged, which _LoggedErrors keeps)
                logging.error(str(exc))
                return None
            return _exec_status_taken(self, status)

        def _load_oid_token(self, provider: Any) -> Any:
            if "config" not in provider:
                return None
            try:
                fresh = oidc_config_fresh(provider["config"].value, now())
            except ValueError:  # (client-go fails each request for it: ApiServerSource._oidc_problem)
                fresh = True
            if not fresh and refresh:
                self._refresh_oidc(provider)
                if self._config_persister:
                    self._config_persister()
            if not (id_token := provider["config"].safe_get("id-token")):
                return None  # (none yet: the watch refreshes before its first request, which fails if that does)
            self.token = f"Bearer {id_token}"
            return self.token

        def _refresh_oidc(self, provider: Any) -> None:
            # client-go's exchange, the identity provider verified (oidc.refreshed_config), never the client's own:
            # without idp-certificate-authority(-data) it turned verification off and sent the refresh-token and
            # the client secret to whatever answered at the issuer's address
            from kubeproxy_sim.watch.oidc import ID_TOKEN, REFRESH_TOKEN, refreshed_config

            config = provider["config"].value
            new = refreshed_config(config, idp if idp is not None else _idp_now())
            config[ID_TOKEN] = new[ID_TOKEN]
            if new.get(REFRESH_TOKEN) != str(config.get(REFRESH_TOKEN) or ""):
                config[REFRESH_TOKEN] = new[REFRESH_TOKEN]

        def _load_user_pass_token(self) -> Any:
            username = self._user.safe_get("username")
            if not username:  # (HasBasicAuth: a password alone sends nothing)
                return None
            self.token = _basic_auth(str(username), str(self._user.safe_get("password") or ""))
            return True

    return Loader


def _idp_now() -> IdpTransport:
    """The identity provider's transport of a client built once (:func:`connect`, not the watch's): the
    environment as it is now, which that client's server requests read too (``environ`` None), under the same
    url.Parse rule (:func:`_url_refused`), the CA read from the config."""
    return IdpTransport(None, {name: os.environ[name] for name in PROXY_VARIABLES if name in os.environ},
                        _url_refused)


OIDC_EXPIRY_DELTA = 10.0
"""How long before its exp client-go's oidc provider takes an id-token for expired (oidc.go expiryDelta, taken from
golang.org/x/oauth2), in seconds."""


def oidc_config_fresh(config: Any, now: float) -> bool:
    """client-go's idToken check of an oidc auth-provider ``config``: an id-token absent or empty is refreshed
    (``ok && len(idToken) > 0``), one there is judged by :func:`oidc_token_fresh`."""
    token = config.get("id-token") if isinstance(config, dict) else None
    return bool(token) and oidc_token_fresh(str(token), now)


def oidc_token_fresh(token: str, now: float) -> bool:
    """client-go's idTokenExpired (whose true means still valid): the JWT's payload (base64url without padding)
    read for its exp (a number; none is the zero time), valid while ``now`` plus :data:`OIDC_EXPIRY_DELTA` is
    before it. A token that is no JWT raises ValueError in client-go's words: its oidc round tripper fails the
    request with them."""
    import base64
    import binascii

    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("ID Token is not a valid JWT")
    payload = parts[1]
    if "=" in payload or len(payload) % 4 == 1:
        raise ValueError("ID Token is not a valid JWT: its payload is not unpadded base64url")
    try:
        claims = json.loads(base64.b64decode(payload.translate(str.maketrans("-_", "+/")) + "=" * (-len(payload) % 4),
                                             validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"parsing claims: {exc}") from None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, (int, float))):
        raise ValueError("parsing claims: exp is not a number")
    return expiry is not None and now + OIDC_EXPIRY_DELTA < int(expiry)


def _basic_auth(username: str, password: str) -> str:
    """The Authorization header of Go's SetBasicAuth: base64 of the UTF-8 ``username:password``. client-go sends it
    for a username whatever the password (its basic auth round tripper is installed on HasBasicAuth, the username
    alone: kubectl 1.33, the oracle, sent "Basic dTo=" for username u without a password); the Python client sent
    it only beside a password, and in latin-1."""
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


_CLUSTER_PATHS = ("certificate-authority",)
_USER_PATHS = ("client-certificate", "client-key", "tokenFile")
"""The file paths of a kubeconfig's clusters and users clientcmd's ResolveLocalPaths takes from the kubeconfig's
directory (the exec plugin's command too, when it holds a separator: :func:`_exec_command_path`)."""


def _local_paths_resolved(data: dict[str, Any], kubeconfig: str) -> dict[str, Any]:
    """``data`` with its relative file paths made absolute from the kubeconfig's directory and cleaned, as
    clientcmd's ResolveLocalPaths makes them (filepath.Join; an absolute path, an empty one and a bare exec
    command as written), so that the client, given no base path, reads the same files and runs the plugin in the
    caller's directory, as client-go does (reviewer r5: kubectl 1.33's plugin printed the caller's cwd, ours
    the kubeconfig's)."""
    base = os.path.dirname(os.path.abspath(kubeconfig))

    def resolved(entry: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        out = {key: os.path.normpath(os.path.join(base, value))
               if key in keys and isinstance(value, str) and value and not os.path.isabs(value) else value
               for key, value in entry.items()}
        run = out.get("exec")
        if isinstance(run, dict) and isinstance(run.get("command"), str):
            out["exec"] = {**run, "command": _exec_command_path(kubeconfig, run["command"])}
        return out

    clusters = [{**entry, "cluster": resolved(entry["cluster"], _CLUSTER_PATHS)}
                if isinstance(entry.get("cluster"), dict) else entry for entry in data["clusters"]]
    users = [{**entry, "user": resolved(entry["user"], _USER_PATHS)}
             if isinstance(entry.get("user"), dict) else entry for entry in data["users"]]
    return {**data, "clusters": clusters, "users": users}


TLS_ONLY_CREDENTIALS = frozenset({"token", "tokenFile", "username", "password", "auth-provider", "exec",
                                  "client-certificate", "client-certificate-data", "client-key", "client-key-data"})
"""A kubeconfig user's fields client-go's ClientConfig merges only for an https server (:func:`client_go_tls`):
every credential; impersonation is merged before it asks (kubectl 1.33, the oracle, sent no Authorization header
to an http:// server for a token, a username and password, an oidc auth-provider or a token file not there, ran
no exec plugin, and sent Impersonate-User)."""


def _unread_of_user(user: dict[str, Any], tls: bool) -> set[str]:
    """The fields of ``user`` client-go does not take for a server that is https (``tls``) or not: every
    credential (:data:`TLS_ONLY_CREDENTIALS`) for http, a client key without a client certificate for any
    (ConfirmUsable and the TLS config look at a key only beside a certificate), and an exec plugin beside
    another credential (:func:`_exec_set_aside`)."""
    from kubeproxy_sim.watch.kubeconfig_types import has_client_certificate

    unread = set() if tls else set(TLS_ONLY_CREDENTIALS)
    if not has_client_certificate(user):
        unread |= {"client-key", "client-key-data"}
    if _exec_set_aside(user):
        unread.add("exec")
    return unread & user.keys()


def _exec_set_aside(user: dict[str, Any]) -> bool:
    """Whether client-go never installs the ``user``'s exec plugin: its authenticator's UpdateTransportConfig
    returns before wrapping the transport or setting its certificate callback when the config already has a bearer
    token (``token``, or ``tokenFile`` even empty), a username (HasBasicAuth: a password alone is none) or a client
    certificate (ConfirmUsable has refused one without its key), so the plugin never runs and that credential goes
    out (kubectl 1.33, the oracle: a token beside a plugin not installed sent ``Bearer tok``). The Python client's
    loader took a token first, but ran the plugin before a username and whatever the certificate."""
    from kubeproxy_sim.watch.kubeconfig_types import has_client_certificate

    return bool(user.get("exec")) and (any(user.get(key) for key in ("token", "tokenFile", "username"))
                                       or has_client_certificate(user))


def _exec_at_handshake(data: dict[str, Any], context: str | None) -> bool:
    """Whether client-go runs the chosen user's exec plugin (in ``data``, as :func:`_check_server` returns it: one
    set aside is gone) only in a TLS handshake: beside the https server URL's user information, whose Basic auth Go's
    http.Client sets before client-go's exec round tripper, which then leaves the request alone; the plugin's
    certificate callback is all that runs it, once the server is dialed, in a handshake: never against a server not
    there (kubectl 1.33, the oracle, ran it 0 times against a refused port), nor for a request on a kept-alive
    connection, which has no handshake."""
    cluster_at, user_at = chosen(data, context)
    server = data["clusters"][cluster_at]["cluster"]["server"]
    return (user_at is not None and bool(data["users"][user_at]["user"].get("exec")) and client_go_tls(server)
            and _url_user(_client_go_url(server)) is not None)


def _as_client_go_takes(data: dict[str, Any], context: str | None,
                        environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``data`` without what client-go never reads of the chosen user (:func:`_unread_of_user`: all its
    credentials when the server is no https one), with the proxy the environment (``environ``, else the process's)
    gives a cluster without proxy-url as its proxy-url (:func:`_environment_proxy`), and with the local system's
    address for a server's or a proxy-url's empty host and for an opaque proxy-url (:func:`_dialed`,
    :func:`_dialed_proxy`). The
    Python client sent a token, a password or an auth-provider's token over plain http, ran the exec plugin,
    read the files and used the proxy, failing on one not there. With no context chosen and none named "", the
    nameless context client-go takes (kubeconfig_types.NO_CONTEXT) is added: the Python client refused the
    file."""
    from kubeproxy_sim.watch.kubeconfig_types import NO_CONTEXT, chosen

    if not (context or data["current-context"]) and all(entry["name"] for entry in data["contexts"]):
        nameless = {"name": "", "context": dict(NO_CONTEXT)}
        data = {**data, "current-context": "", "contexts": [*data["contexts"], nameless]}
    cluster_at, user_at = chosen(data, context)
    cluster = data["clusters"][cluster_at]["cluster"]
    env = _environment_proxy(cluster, data["users"][user_at]["user"] if user_at is not None else {},
                             os.environ if environ is None else environ)
    proxied = cluster if env is None or env.url is None else {**cluster, "proxy-url": env.url}
    if (dialed := _cluster_as_dialed(proxied)) is not cluster:
        clusters = [dict(entry) for entry in data["clusters"]]
        clusters[cluster_at]["cluster"] = dialed
        data = {**data, "clusters": clusters}
    if user_at is None:
        return data
    user = data["users"][user_at]["user"]
    unread = _unread_of_user(user, client_go_tls(data["clusters"][cluster_at]["cluster"]["server"]))
    if not unread:
        return data
    users = [dict(entry) for entry in data["users"]]
    users[user_at]["user"] = {key: value for key, value in user.items() if key not in unread}
    return {**data, "users": users}


@dataclass(frozen=True, slots=True)
class EnvironmentProxy:
    """The proxy the environment gives the requests to the server of a cluster without proxy-url, as client-go's
    transport takes it (:func:`kubeproxy_sim.watch.go_proxy.client_go_proxy_for`): its URL as the watch is to
    dial it (a proxy-url of a scheme client-go takes: ``socks5h`` is ``socks5``, which Go's transport reaches
    alike), the variable that named it (``HTTPS_PROXY``, ``https_proxy`` ...: for what the user is told), or why
    every request fails for it (``problem``, ``url`` None): a CGI environment refused HTTP_PROXY, a value no proxy
    URL. The Python client read the environment by Python's rules (urllib's getproxies: ALL_PROXY taken, no
    localhost nor loopback exception, NO_PROXY obeyed over a proxy-url too) and refused a value without a scheme
    (``HTTPS_PROXY=proxy:3128``), which Go takes as http://."""

    url: str | None
    variable: str
    problem: str | None = None


GO_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
"""The proxy schemes Go's transport dials (net/http's dialConn); it takes any other for an http proxy's, which the
watch does not follow (:func:`_environment_proxy` says it cannot)."""


def _environment_proxy(cluster: dict[str, Any], user: dict[str, Any],
                       environ: Mapping[str, str]) -> EnvironmentProxy | None:
    """The proxy ``environ`` (the proxy variables as the watch read them at start: Go reads them once per process)
    gives the requests to ``cluster``'s server for ``user``, or None: straight there, or the cluster's proxy-url
    decides (client-go's transport takes config.Proxy, set from proxy-url alone, before http.ProxyFromEnvironment:
    transport/cache.go). Whether client-go builds its own transport, which asks NO_PROXY's CIDR prefixes first
    (:func:`_own_transport`), is judged from the cluster and user as written. A value Go's url.Parse refuses both
    as it is and with http:// before it is no proxy: httpproxy's config.init drops parseProxy's error
    (:func:`_url_refused`)."""
    from kubeproxy_sim.watch.go_proxy import client_go_proxy_for, proxy_variable

    if cluster.get("proxy-url"):
        return None
    url = _client_go_url(str(cluster["server"]))
    variable = proxy_variable(url, environ)
    try:
        proxy = client_go_proxy_for(url, environ, _own_transport(cluster, user), _url_refused)
    except ValueError as exc:  # (Go's words: the request fails for it, each one)
        return EnvironmentProxy(None, variable, str(exc))
    if proxy is None:
        return None
    scheme = proxy.partition(":")[0]
    if scheme not in GO_PROXY_SCHEMES:
        return EnvironmentProxy(None, variable, f"{variable}={quoted(environ[variable])}: the proxy scheme "
                                                f"{quoted(scheme)} is none the watch can use (http, https, socks5)")
    proxy = "socks5" + proxy.removeprefix("socks5h") if scheme == "socks5h" else proxy
    if (problem := _proxy_problem(proxy)) is not None:
        return EnvironmentProxy(None, variable, f"invalid proxy address {quoted(environ[variable])} ({variable}): "
                                                f"{problem}")
    return EnvironmentProxy(proxy, variable)


def _url_refused(url: str) -> bool:
    """Whether Go's url.Parse refuses ``url`` (``scheme://HOST...``), as :func:`_proxy_problem` says it of a
    proxy-url ("could not parse")."""
    return (_proxy_problem(url) or "").startswith("could not parse")


def _own_transport(cluster: dict[str, Any], user: dict[str, Any]) -> bool:
    """Whether client-go builds the server's transport itself rather than taking http.DefaultTransport
    (transport/cache.go: TLSConfigFor gives a TLS config, or there is a dial of its own): an https server with a
    CA, insecure-skip-tls-verify, tls-server-name, a client certificate or an exec plugin (whose certificate
    callback and dial client-go sets). Only such a transport asks NO_PROXY's CIDR prefixes first
    (apimachinery's SetTransportDefaults). For an http server client-go reads none of these (IsConfigTransportTLS)."""
    from kubeproxy_sim.watch.kubeconfig_types import has_client_certificate

    return client_go_tls(_client_go_url(str(cluster["server"]))) and bool(
        cluster.get("certificate-authority") or cluster.get("certificate-authority-data")
        or cluster.get("insecure-skip-tls-verify") is True or cluster.get("tls-server-name")
        or has_client_certificate(user) or user.get("exec"))


def _cluster_as_dialed(cluster: dict[str, Any]) -> dict[str, Any]:
    """The chosen ``cluster`` with the URLs Go dials for its server and proxy-url: http:// before a server without
    a scheme (:func:`_client_go_url`: the Python client added none, and went past the proxy-url of a server it
    found no host in), its scheme in small letters, as Go's url.Parse gives it (the Python client took the cluster's
    CA and client certificate only for a server spelt "https"), and the local system's address for an empty host
    (:func:`_dialed`, :func:`_dialed_proxy`, which also gives an opaque proxy-url, no //, that address), and for
    a name Go's resolver reads otherwise than glibc's, what glibc reaches Go's address by (:func:`_resolved_host`;
    not behind a proxy-url, which is sent the name), an https one's certificate checked against the name still
    (tls-server-name, Go's ServerName). ``cluster`` itself when it needs none of these."""
    server, proxy = cluster["server"], cluster.get("proxy-url")
    url = _small_scheme(_client_go_url(server))
    scheme = url.partition(":")[0]
    changed = {"server": _dialed(url, SERVER_PORTS.get(scheme, ""), resolve=not proxy)}
    if proxy:
        changed["proxy-url"] = _dialed_proxy(proxy)
    elif scheme == "https" and not cluster.get("tls-server-name") and (
            named := _dialed(url, SERVER_PORTS[scheme], resolve=False)) != changed["server"]:
        # (Go checks the certificate against the name, not the address, without a last dot: crypto/x509)
        changed["tls-server-name"] = _host_and_port(_url_host(named))[0].removesuffix(".")
    if all(cluster.get(key) == value for key, value in changed.items()):
        return cluster
    return {**cluster, **changed}


SERVER_PORTS = {"http": "80", "https": "443"}
"""The port Go's HTTP transport dials for a server without one (its canonicalAddr), which matters for an empty host
in brackets only (``http://[]``: 0.0.0.0:80, strace of kubectl 1.33); a named host is left as written."""

PROXY_PORTS = {"http": "80", "https": "443", "socks5": "1080"}
"""The port Go's HTTP transport dials for a proxy-url without one (its canonicalAddr)."""


def _dialed_proxy(proxy: str) -> str:
    """The proxy-url (of a scheme client-go takes, :func:`_proxy_problem`) as Go's transport dials it: its scheme
    in small letters, and an empty host the local system's address (:data:`LOCAL_SYSTEM`), with the scheme's port
    when none is given (Go's canonicalAddr). An opaque one (``http:HOST:PORT``, no //) has an empty host to Go's
    url.Parse, and client-go's http.ProxyURL uses it all the same: it is that address and port too (strace of
    kubectl 1.33, the oracle: connect(0.0.0.0:80) for proxy-url ``http://`` and ``http:proxy.corp:3128``, 443
    for ``https:proxy:1``, 1080 for ``socks5:proxy.corp:3128``; none reached the server)."""
    found = _GO_SCHEME.match(proxy)
    if found is not None and not proxy[found.end():].startswith("://"):
        scheme = found.group().lower()
        return f"{scheme}://{LOCAL_SYSTEM}:{PROXY_PORTS[scheme]}"
    proxy = _small_scheme(proxy)
    return _dialed(proxy, PROXY_PORTS[proxy.partition(":")[0]])


def _small_scheme(url: str) -> str:
    """``url`` (with a scheme Go finds) with its scheme in small letters."""
    scheme, slashes, rest = url.partition("://")
    return f"{scheme.lower()}{slashes}{rest}"


class PersistFailed(InputError):
    """A refreshed auth-provider token could not be written back to the kubeconfig (:func:`_persist_auth_provider`):
    the connection fails, as kubectl's request fails."""


class _NotPersisted(Exception):
    """Why the write-back failed, in Go's words for the step that failed (``open FILE.lock: file exists``)."""


def _persist_auth_provider(kubeconfig: str, taken: dict[str, Any], context: str | None) -> None:
    """Write the context's user's auth-provider settings, as the client refreshed them in ``taken`` (the Python
    client refreshes an expired oidc id-token), back to the kubeconfig, as client-go's persister
    does (clientcmd.PersisterForUser: the file read again, that user's auth-provider config replaced, the file
    written whole): an OIDC provider that rotates its refresh token spends the one in the file, which kubectl would
    then refresh with in vain. (kube-proxy itself registers no auth-provider plugin: client-go refuses such a user
    there, 'no Auth Provider found for name'.)

    In client-go's order: Persist reads the file first, without a lock, and a file no longer there (its
    GetStartingConfig reads a missing file as an empty config) or no longer giving that user an auth-provider is
    nothing to write to, and takes no lock; only then ModifyConfig takes the file's lock (one there already is
    another writer's), reads the file again and writes it only when the user's settings there differ. Any failure,
    to read the file, to take its lock or to write it, is :class:`PersistFailed`, as Persist returns the error and
    the oidc plugin fails kubectl's request with it ("could not persist new tokens"). A pipe or a FIFO
    (``--kubeconfig <(...)``) is not read again: it gave its text once, and reading it again would wait for a
    writer that never comes."""
    from kubeproxy_sim.objects.load import special_file

    user_at, user_name, user = _chosen_user(taken, context)
    provider = user.get("auth-provider")
    if user_at is None or provider is None or special_file(kubeconfig) is not None:
        return
    if _provider_in_file(kubeconfig, user_name) is None:
        return
    lock = f"{kubeconfig}.lock"
    try:
        if _locked(lock):
            try:
                _replace_provider_config(kubeconfig, user_name, dict(provider.get("config") or {}))
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(lock)
    except _NotPersisted as exc:
        raise PersistFailed(Diagnostic(f"could not persist new tokens: {exc}", file=kubeconfig,
                                       field=f"users[{user_at}].user.auth-provider")) from None


def _persisted(kubeconfig: str, given: dict[str, Any], context: str | None, kept: dict[str, Any] | None) -> None:
    """:func:`_persist_auth_provider`, then, when that worked, the refreshed auth-provider config kept in ``kept``
    as well (client-go's oidc idToken: the in-memory config is replaced only after Persist succeeds)."""
    _persist_auth_provider(kubeconfig, given, context)
    user_at, _, user = _chosen_user(given, context)
    if kept is not None and user_at is not None and (provider := user.get("auth-provider")) is not None:
        kept_user = kept["users"][user_at]["user"]
        config = dict(provider.get("config") or {})
        kept_user["auth-provider"] = {**kept_user.get("auth-provider", {}), "config": config}


def _locked(lock: str) -> bool:
    """Make the kubeconfig's lock file as client-go's ModifyConfig does around its read-modify-write (lockFile:
    O_CREATE|O_EXCL); False when its directory is gone, and the file with it: nothing to write to."""
    try:
        os.close(os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    except FileNotFoundError:
        return False
    except OSError as exc:
        held = (" (another kubectl is writing the file, or one stopped before removing its lock)"
                if isinstance(exc, FileExistsError) else "")
        raise _NotPersisted(f"{_go_path_error('open', lock, exc)}{held}") from None
    return True


def _go_path_error(op: str, path: str, exc: OSError) -> str:
    """An OSError as Go's os.PathError says it ("open /k/config: read-only file system"): Go's text for an errno is
    the C library's with a small first letter."""
    text = exc.strerror or type(exc).__name__
    return f"{op} {path}: {text[:1].lower()}{text[1:]}"


def _replace_provider_config(kubeconfig: str, user_name: str, config: dict[str, Any]) -> None:
    """Read the kubeconfig again, give ``user_name``'s auth-provider ``config``, and write it back unless it held
    that already (see :func:`_persist_auth_provider`, which holds the file's lock meanwhile)."""
    read = _reread(kubeconfig)
    provider = _user_provider(read, user_name) if read is not None else None
    if read is None or provider is None or provider.get("config") == config:
        return
    provider["config"] = config
    _write_in_place(kubeconfig, _kubeconfig_text(read))


def _provider_in_file(kubeconfig: str, user_name: str) -> dict[str, Any] | None:
    """The auth-provider ``user_name`` has in the kubeconfig as it is now, or None (no file, no such user)."""
    read = _reread(kubeconfig)
    return _user_provider(read, user_name) if read is not None else None


def _reread(kubeconfig: str) -> Any:
    """The kubeconfig's data read again, or None when the file is no longer there (client-go's
    GetStartingConfig: an empty config); another failure to read it is :class:`PersistFailed`."""
    from kubeproxy_sim.objects.load import safe_load
    from kubeproxy_sim.objects.stdin import read_text

    try:
        return safe_load(read_text(kubeconfig))[0]
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PersistFailed(kubeconfig_unreadable(kubeconfig, exc)) from None


def _user_provider(data: Any, user_name: str) -> dict[str, Any] | None:
    """The auth-provider mapping of the user named ``user_name`` in kubeconfig ``data`` (as read, unchecked)."""
    users = data.get("users") if isinstance(data, dict) else None
    for entry in users if isinstance(users, list) else []:
        found = entry.get("user") if isinstance(entry, dict) and entry.get("name") == user_name else None
        if isinstance(found, dict) and isinstance(found.get("auth-provider"), dict):
            return found["auth-provider"]
    return None


def _kubeconfig_text(data: dict[str, Any]) -> str:
    """A kubeconfig's data as YAML kubectl reads back the same (:func:`objects.load.go_safe_dumper`: a string
    ``n`` quoted, ``.inf`` as go-yaml writes it), its keys sorted as client-go's writer sorts them."""
    import yaml

    from kubeproxy_sim.objects.load import go_safe_dumper

    return str(yaml.dump(data, Dumper=go_safe_dumper(), default_flow_style=False, sort_keys=True))


def _write_in_place(path: str, text: str) -> None:
    """Write ``text`` over the file ``path`` names, in place, as client-go's WriteToFile does (os.WriteFile:
    O_WRONLY|O_CREATE|O_TRUNC, 0600 for a file it makes): the file keeps its inode, owner, permission bits and
    the symbolic link or bind mount it is reached by (a rename over a single-file bind mount fails with EBUSY, and
    a file renamed into place by root became root's). The text is made before the file is opened (opening it
    first emptied it when the making failed); fsync'ed, so a crash after the write does not lose it. A step that
    fails is :class:`_NotPersisted`, in Go's words for it."""
    data = text.encode("utf-8")
    step = "open"
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            step = "write"
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view):]
            step = "sync"
            os.fsync(handle)
        except BaseException:
            with contextlib.suppress(OSError):  # (its own error would hide the first)
                os.close(handle)
            raise
        step = "close"
        os.close(handle)
    except OSError as exc:
        raise _NotPersisted(_go_path_error(step, path, exc)) from None


class _LoggedErrors(logging.Handler):
    """The kubernetes client's ``logging.error`` calls (an exec credential plugin that failed), kept as text
    instead of the root logger's raw ``ERROR:root:`` lines on stderr; ``said`` passes each one on."""

    def __init__(self, said: Callable[[str], None] | None = None) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []
        self._said = said

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        self.messages.append(message)
        if self._said is not None:
            self._said(message)


@contextlib.contextmanager
def _client_errors_logged() -> Iterator[list[str]]:
    handler = _LoggedErrors()
    root = logging.getLogger()
    root.addHandler(handler)  # a handler present also keeps logging.error from configuring the root logger
    try:
        yield handler.messages
    finally:
        root.removeHandler(handler)


def _check_shape(kubeconfig: str) -> dict[str, Any]:
    """A file that is not a kubeconfig at all is said so, before the client trips over it in its own words."""
    import yaml

    from kubeproxy_sim.objects.aliases import AliasingError
    from kubeproxy_sim.objects.load import safe_load, yaml_syntax_error
    from kubeproxy_sim.objects.stdin import read_text
    from kubeproxy_sim.watch.kubeconfig_types import go_decoded, kubeconfig_problems

    try:
        data, _ = safe_load(read_text(kubeconfig))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(kubeconfig_unreadable(kubeconfig, exc)) from None
    except (AliasingError, yaml.YAMLError) as exc:
        # said by line and column here: the client would hang walking the aliases, and says of a syntax error only
        # its first line ("while parsing a flow mapping")
        raise InputError(yaml_syntax_error(exc, kubeconfig)) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("clusters", "contexts")):
        raise InputError(Diagnostic("not a kubeconfig: expected a mapping with clusters, contexts and users "
                                    "lists (what `kubectl config view --raw` prints)", file=kubeconfig))
    problems = kubeconfig_problems(data, kubeconfig)  # (client-go's decoding refuses them; the client trips later)
    if problems:
        raise InputError(problems)
    return go_decoded(data)


def _check_server(kubeconfig: str, data: dict[str, Any], context: str | None, per_request: bool = False,
                  idp: IdpTransport | None = None, rebuild: bool = False, environ: Mapping[str, str] | None = None,
                  ) -> tuple[dict[str, Any], dict[str, Any], Diagnostic | None]:
    """What client-go refuses in the context, cluster and user the kubeconfig (``data``: as :func:`_check_shape`
    gives it) chooses is said by its field path (kubeconfig_types.choice_problems: a context or cluster that is not
    there, a cluster without a server; usable_problems: what ConfirmUsable refuses besides files; then the files
    :func:`_file_problems`), and so are the server URL and proxy-url of that cluster when they do not parse: the
    client says only its own, urllib's or urllib3's words ("Expected object with name x in kube-config/contexts
    list", "Invalid IPv6 URL", "Failed to parse: Host '  '", "File does not exist: ca.crt"), naming no field.
    Returns ``data`` as client-go takes it (:func:`_as_client_go_takes`, which needs the choice and the proxy-url
    checked first), whose user is what the file checks look at and what the client is given. An exec plugin not
    installed is refused too, unless ``per_request`` (the watch, which fails each request for it as client-go
    does: :func:`_exec_request_problem`): then it is left out of what the client is given, and returned beside
    it (None when it is there). ``data`` is returned first, without an exec plugin client-go never installs
    (:func:`_exec_set_aside`), then what the client is given, and that. ``environ``: the proxy variables
    (:func:`_environment_proxy`; None: the process's), whose proxy is the server's as a proxy-url is."""
    from kubeproxy_sim.watch.kubeconfig_types import choice_problems, chosen, usable_problems

    found = choice_problems(data, context) or usable_problems(data, context)
    if found:
        raise InputError([Diagnostic(text, file=kubeconfig, field=path) for path, text in found])
    i, user_at = chosen(data, context)
    cluster = data["clusters"][i]["cluster"]
    environ = os.environ if environ is None else environ
    server, proxy = cluster["server"], cluster.get("proxy-url")
    if not proxy and (env := _environment_proxy(cluster, _chosen_user(data, context)[2], environ)) is not None:
        proxy = env.url  # (the server is the proxy's to reach, as behind a proxy-url)
    if (problem := _scheme_problem(server) or _server_problem(server)) is not None and not (
            per_request and not proxy and _parsed_dial_problem(server) is not None):  # (the watch fails each request)
        raise InputError(Diagnostic(f"{quoted(server)} is not a URL ({problem}); expected http(s)://HOST[:PORT]",
                                    file=kubeconfig, field=f"clusters[{i}].cluster.server"))
    if (problem := _server_name_problem(server, cluster)) is not None:
        raise InputError(Diagnostic(f"{quoted(server)}: {problem}", file=kubeconfig,
                                    field=f"clusters[{i}].cluster.server"))
    if proxy and (problem := _proxy_problem(proxy)) is not None:
        raise InputError(Diagnostic(f"{quoted(proxy)} is not a proxy URL ({problem}); expected "
                                    "http://, https:// or socks5://HOST[:PORT]", file=kubeconfig,
                                    field=f"clusters[{i}].cluster.proxy-url"))
    if user_at is not None and (bad := _impersonation_problems(kubeconfig, f"users[{user_at}].user",
                                                               data["users"][user_at]["user"])):
        raise InputError(bad)
    taken = _as_client_go_takes(data, context, environ)  # (what client-go reads of the user is checked)
    if user_at is not None and _exec_set_aside(data["users"][user_at]["user"]):
        # (nor is it asked for: _exec_request_problem looks at ``data``)
        data = _without_exec(data, user_at)
    user = (f"users[{user_at}].user", taken["users"][user_at]["user"]) if user_at is not None else None
    if user and (unbuilt := _oidc_provider_problem(kubeconfig, *user, idp)) is not None:
        raise InputError(unbuilt)
    confirmed = _confirmed(user[0], data["users"][user_at]["user"], client_go_tls(server)) if user else None
    # (a rebuild leaves the user's files alone: :func:`_without_user_files`)
    unreadable = _file_problems(kubeconfig, [(f"clusters[{i}].cluster", cluster),
                                             *([confirmed] if confirmed and not rebuild else [])])
    if unreadable:
        raise InputError(unreadable)
    missing = _exec_command_problem(kubeconfig, *user) if user else None
    if missing and not per_request:
        raise InputError(missing)
    return (data, _without_exec(taken, user_at), missing) if missing and user_at is not None else (data, taken, None)


USER_FILES = ("client-certificate", "client-key", "tokenFile")
"""The user's files client-go opens once as it builds its transport and then follows on its own: a client
certificate and key (transport.loadTLSFiles sets ReloadTLSFiles, and its cachingCertificateLoader reads them again
at each TLS handshake, at most once a second) and a tokenFile (NewCachedFileTokenSource, read again after 50 s:
:meth:`ApiServerSource._file_token_header`)."""


def _without_user_files(data: dict[str, Any], user_at: int) -> dict[str, Any]:
    """``data`` (what a rebuilt client is given: :meth:`ApiServerSource._fresh_client`, for an oidc id-token
    refreshed, an exec plugin run again, a token file that now holds a token) without the user's
    :data:`USER_FILES`. client-go rebuilds nothing for those: its TLS transport and file token source were made
    at start, and neither an oidc refresh nor an exec run opens them (transport/transport.go, token_source.go);
    the watch built its client again from the kubeconfig, which opened them, so one rotated away at that moment
    (a cert-manager or kubelet write, a file removed) failed the refresh ("unable to read client-cert ..."). The
    rebuilt client's connection pool is never the one such a user's requests go out on (only an exec plugin's
    new certificate replaces it, and that plugin is set aside beside any of these files), and its token file's
    token is not sent (the watch's own reading of it is)."""
    user = data["users"][user_at]["user"]
    if not any(key in user for key in USER_FILES):
        return data
    users = [dict(entry) for entry in data["users"]]
    users[user_at]["user"] = {key: value for key, value in user.items() if key not in USER_FILES}
    return {**data, "users": users}


def _without_exec(data: dict[str, Any], user_at: int) -> dict[str, Any]:
    """``data`` without the exec plugin of its user ``user_at`` (one not installed: the Python client ran it as it
    loaded the file, logged its failure and went on without credentials)."""
    users = [dict(entry) for entry in data["users"]]
    users[user_at]["user"] = {key: value for key, value in users[user_at]["user"].items() if key != "exec"}
    return {**data, "users": users}


def _confirmed(at: str, user: dict[str, Any], tls: bool) -> tuple[str, dict[str, Any]]:
    """The chosen user (at its field path ``at``) as far as ConfirmUsable opens its files whatever the server's
    scheme (a client certificate and its key: kubectl 1.33, the oracle, refused one not there for an http://
    server too), with its token file only for an https one (``tls``), where client-go reads it."""
    unread = _unread_of_user(user, True) | (set() if tls else {"tokenFile"})
    return at, {key: value for key, value in user.items() if key not in unread}


def _oidc_provider_problem(kubeconfig: str, at: str, user: dict[str, Any],
                           idp: IdpTransport | None = None) -> Diagnostic | None:
    """An oidc auth-provider client-go cannot build (:func:`kubeproxy_sim.watch.oidc.provider_problem`: no
    idp-issuer-url or client-id, a CA that cannot be read), refused at start as kubectl fails each command for it,
    whether or not the id-token is fresh."""
    from kubeproxy_sim.watch.oidc import provider_problem

    provider = user.get("auth-provider") or {}
    config = provider.get("config")
    if provider.get("name") != "oidc" or not isinstance(config, dict):
        return None
    found = provider_problem(config, None if idp is None else idp.ca)  # (the CA file as read at start)
    if found is None:
        return None
    words, key = found
    return Diagnostic(f"{words}; expected the oidc auth-provider config kubectl takes", file=kubeconfig,
                      field=f"{at}.auth-provider.config.{key}")


def client_go_tls(server: str) -> bool:
    """Whether client-go takes the user's credentials for ``server``: its ClientConfig merges them (token, exec
    plugin, certificates) only when the server is https (IsConfigTransportTLS); for an http:// server, or one
    without a scheme, it never runs the exec plugin (kubectl 1.33, the oracle, connects without it)."""
    return server[:8].lower() == "https://"


def _exec_command_path(kubeconfig: str, command: str) -> str:
    """The exec plugin's ``command`` as client-go runs it: a relative path with a separator taken from the
    kubeconfig's directory, made absolute and cleaned as Go's filepath.Join cleans it (clientcmd's ResolvePaths:
    ./x is DIR/x), an absolute one and a bare name (looked up in PATH) as written (ResolvePaths skips absolute
    paths: kubectl 1.33 says /usr/bin/../nothere, not /usr/nothere)."""
    if os.sep not in command or os.path.isabs(command):
        return command
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), command))


@dataclass(frozen=True, slots=True)
class _ExecMissing:
    """Why the exec plugin cannot be started: ``error`` in client-go's words after "exec: " ("executable X not
    found" for a bare name not in PATH; "fork/exec /DIR/x: no such file or directory", or "permission denied", for
    a path, which Go's exec.Command does not look up: client-go's wrapCmdRunErrorLocked says the *exec.Error of a
    failed lookup so, with the installHint, and any other error as Go gives it, without), and the hint."""

    command: str  # as the kubeconfig gives it
    error: str
    looked_up: bool  # a bare name, looked up in PATH
    hint: str


def _exec_not_found(kubeconfig: str, user: dict[str, Any]) -> _ExecMissing | None:
    """Why the user's exec credential plugin cannot be started (:class:`_ExecMissing`, its installHint on one line:
    a hint is often several), or None when it can, or there is none (kubectl 1.33, the oracle, for ./nothere.sh
    in /tmp/r: "getting credentials: exec: fork/exec /tmp/r/nothere.sh: no such file or directory")."""
    import shutil

    command = (user.get("exec") or {}).get("command")
    if not command:
        return None
    path = _exec_command_path(kubeconfig, command)
    if shutil.which(path) is not None:
        return None
    if os.sep not in command:
        hint = " ".join((user["exec"].get("installHint") or "").split())
        return _ExecMissing(command, f"executable {command} not found", True, hint)
    try:
        os.stat(path)
    except OSError as exc:
        return _ExecMissing(command, _go_path_error("fork/exec", path, exc), False, "")
    return _ExecMissing(command, f"fork/exec {path}: permission denied", False, "")  # (no x bit, a directory)


def _exec_command_problem(kubeconfig: str, at: str, user: dict[str, Any]) -> Diagnostic | None:
    """:func:`_exec_not_found` by the user's exec field path, for :func:`connect`, which makes no request to fail
    (the watch fails each request instead, as client-go: :func:`_exec_request_problem`). The Python client said
    "[Errno 2] No such file or directory: 'x'"."""
    if (found := _exec_not_found(kubeconfig, user)) is None:
        return None
    said = ("executable not found (looked up in PATH)" if found.looked_up else
            f"{found.error} (a path is taken from the kubeconfig's directory)")
    return Diagnostic(f"{quoted(found.command)}: {said}; expected the credential plugin's command"
                      f"{f' ({found.hint})' if found.hint else ''}", file=kubeconfig, field=f"{at}.exec.command")


def impersonation_headers(user: dict[str, Any]) -> list[tuple[str, str]]:
    """The headers client-go's ImpersonatingRoundTripper adds for a kubeconfig ``user`` (:func:`_check_shape`'s)
    with ``as``, to an https or http server alike (its ClientConfig sets Impersonate before it asks about TLS):
    Impersonate-User, Impersonate-Uid when set, an Impersonate-Group line per group and an Impersonate-Extra-KEY
    line per value, KEY escaped as its headerKeyEscape escapes it and the whole name as Go's CanonicalHeaderKey
    writes it (kubectl 1.33, the oracle: ``Impersonate-Extra-Scopes%2fx%25y%20%c3%a9``). The Python client sent
    none of them."""
    return [(header, value) for _, header, value in _impersonation_fields(user)]


def _impersonation_fields(user: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Each impersonation value :func:`impersonation_headers` sends, as (its field under the user, its header,
    the value): none without ``as``."""
    if not user.get("as"):
        return []
    fields = [("as", "Impersonate-User", user["as"])]
    fields += [("as-uid", "Impersonate-Uid", user["as-uid"])] if user.get("as-uid") else []
    fields += [(f"as-groups[{j}]", "Impersonate-Group", group) for j, group in enumerate(user.get("as-groups") or [])]
    for key, values in (user.get("as-user-extra") or {}).items():
        header = _canonical_header_key("Impersonate-Extra-" + _header_key_escape(key))
        fields += [(f"as-user-extra.{key}[{j}]", header, value) for j, value in enumerate(values or [])]
    return fields


_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""What Go's HTTP client refuses in a header value (httpguts.ValidHeaderFieldValue: a control byte but a tab)."""


def _impersonation_problems(kubeconfig: str, at: str, user: dict[str, Any]) -> list[Diagnostic]:
    """Each impersonation value of the user (at its field path ``at``) that :func:`impersonation_headers` would
    send with a control character, by its field: Go's HTTP client refuses such a header and fails every request
    before sending it (kubectl 1.33, the oracle, for ``as: "al\\nice"``: "net/http: invalid header field value
    for "Impersonate-User""; a tab went out), which no retry cures; urllib3 said "Invalid header value b'al\\nice'",
    naming no field, and the watch retried."""
    return [Diagnostic(f"{json.dumps(value, ensure_ascii=False)} has a control character, which Go's HTTP client "
                       f"refuses in a header, failing every request (net/http: invalid header field value for "
                       f"{json.dumps(header)}); expected a value without control characters (a tab is allowed)",
                       file=kubeconfig, field=f"{at}.{field}")
            for field, header, value in _impersonation_fields(user)
            if isinstance(value, str) and _HEADER_CONTROL.search(value)]


_TOKEN_BYTES = frozenset(b"!#$&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
"""The bytes of an HTTP token (a header name) but %: what client-go's headerKeyEscape leaves as they are."""


def _header_key_escape(key: str) -> str:
    """``key`` with each UTF-8 byte that is no header-name byte, and %, written %XX (client-go's headerKeyEscape)."""
    return "".join(chr(b) if b in _TOKEN_BYTES else f"%{b:02X}" for b in key.encode("utf-8"))


def _canonical_header_key(name: str) -> str:
    """A header name as Go's CanonicalHeaderKey writes it: each letter after a - (or first) upper case, the others
    lower case."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _exec_failure_text(failure: Diagnostic | None) -> str | None:
    """How a request fails for an exec plugin that failed (:func:`_exec_failed`'s ``failure``), naming its field,
    or None: client-go fails it with "getting credentials: exec: ..."."""
    if failure is None:
        return None
    said = failure.message.removeprefix("cannot get the kubeconfig's credentials: ")
    return f"getting credentials: {said} ({failure.file}: {failure.field})" if failure.field else \
        f"getting credentials: {said}"


class DialImpossible(Exception):
    """A request Go's transport fails as it dials the server (:func:`_dial_problem`), without sending it."""


HOSTS_FILE = "/etc/hosts"
"""Where Go's resolver (and glibc's) looks a name up before asking DNS."""


HOSTS_MAX_AGE = 5.0
"""Seconds Go's resolver trusts the hosts file it read before it looks at the file again (net/hosts.go
cacheMaxAge)."""


class GoHostsCache:
    """When Go's resolver reads the hosts file again (net/hosts.go readHosts): not within :data:`HOSTS_MAX_AGE` of
    its last look (Go looks at each lookup while the file gave no name at all: not followed here); then the file's
    modification time and size are looked at, and it is read again when either changed (a file that cannot be
    looked at leaves what was read).
    The watch resolves from the file as it dials (:func:`_resolved_host`, :func:`_dial_problem`): this tells it
    when that is to be done again; it had done it once, at start, so a line added or changed later (``127.0.0.9
    127.1``) was never seen. The clock is the watch's injected one."""

    def __init__(self, path: str, now: float) -> None:
        self._path = path
        self._expire = now + HOSTS_MAX_AGE
        self._seen = self._stat()
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self._path)
        except OSError:
            return None
        return found.st_mtime_ns, found.st_size

    def changed(self, now: float) -> bool:
        """Whether the file changed since it was last read, looked at as Go looks: at most every 5 s."""
        with self._lock:
            if now < self._expire:
                return False
            seen = self._stat()
            if seen is None:  # (Go keeps what it read, and looks again at the next lookup)
                return False
            self._expire = now + HOSTS_MAX_AGE
            if seen == self._seen:
                return False
            self._seen = seen
            return True


def _parsed_dial_problem(server: str) -> str | None:
    """How Go dials a server its url.Parse takes but the watch's own reading refuses (:func:`_server_problem`), in
    Go's words, or None: a port past 65535 ("dial tcp: address 70000: invalid port"), a name with colons that
    is no IPv6 address (``http://a:b:6443``, ``http://::1``: :func:`_host_and_port`'s "lookup a:b: no such
    host"). kubectl 1.33, the oracle, took the kubeconfig and failed each request so."""
    parts = _split_authority(_client_go_url(server))
    if parts is None:
        return None
    _, port, problem = _host_and_port(parts[2])
    if port and int(port) > 65535:
        return f"dial tcp: address {port}: invalid port"
    return f"dial tcp: {problem}" if problem is not None and problem.startswith("lookup ") else None


def _dial_problem(server: str, hosts: str | None = None) -> str | None:
    """How Go's transport fails every request to ``server`` (a kubeconfig's, reached with no proxy) as it dials,
    in its words, or None: :func:`_parsed_dial_problem`'s, and a name Go's pure resolver finds to be no domain
    name (:func:`_go_domain_name`) and not in the ``hosts`` file (which it reads first): "lookup NAME: no such
    host", NAME the one dialed, a non-ASCII name as idna.Lookup maps it, or as written where Lookup refuses it
    (go_idna.lookup_ascii; ``http://\\u0663``). kubectl 1.33, the oracle, failed each request so (through a
    proxy-url it sent them to the proxy); the watch said urllib3's "LocationParseError: Failed to parse: Name
    '\\u0663' is not a valid IDNA label" or "'a..b', label empty or too long" at each attempt, and reached
    127.0.0.1 for ``http://127.1:6443``, which glibc reads as inet_aton does (kubectl: "lookup 127.1: no such
    host")."""
    if (problem := _parsed_dial_problem(server)) is not None:
        return problem
    parts = _split_authority(_client_go_url(server))
    problem = None if parts is None else _lookup_problem(parts[2], hosts)
    return None if problem is None else f"dial tcp: {problem}"


def _lookup_problem(host: str, hosts: str | None = None) -> str | None:
    """Why Go's resolver finds no address for a URL's HOST[:PORT] without asking DNS, in its words ("lookup NAME:
    no such host", NAME the one dialed: :func:`_dial_problem`), or None (an address, a name to ask DNS about, the
    local system, and a host :func:`_host_and_port` refuses)."""
    name, _, problem = _host_and_port(host)
    if problem is not None or ":" in name:  # (an IPv6 address, a zone past ASCII too: Go's Lookup refuses it and
        return None  # dials it as written)
    dialed = lookup_ascii(name)
    if dialed is None:
        return f"lookup {name}: no such host"  # (Lookup refused it: non-ASCII, no domain name)
    if dialed == ".":  # (the root: Go asks DNS, which has no address for it; Python's socket cannot ask)
        return "lookup .: no such host"
    if not dialed or ":" in dialed or is_plain_ipv4(dialed) or _go_domain_name(dialed):
        return None  # (the local system, an IP address, a name to look up)
    if _hosts_addresses(dialed, hosts):
        return None
    return f"lookup {dialed}: no such host"


_GO_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})")


def _go_domain_name(name: str) -> bool:
    """Go's isDomainName (net/dnsclient.go), which its resolver asks before DNS, failing "no such host" without
    asking: "." (the root), or labels of 1 to 63 ASCII letters, digits, ``_`` and ``-`` (not first nor last),
    joined by dots, a last dot allowed, 253 bytes at most without it, and not all digits: ``127.1``, ``2130706433``
    and ``127.000.0.1`` are no IP address to Go (its ParseIP is strict) and no name either, where glibc dials
    what inet_aton reads in them (kubectl 1.33: "lookup 127.1: no such host", "lookup a..b: ...", "lookup -a:
    ...", "lookup .a: ...", and a 70-letter label; "." and "a." were looked up)."""
    if name == ".":
        return True
    bare = name[:-1] if name.endswith(".") else name
    if not bare or len(bare) > 253 or not all(_GO_LABEL.fullmatch(label) and not label.endswith("-")
                                              for label in bare.split(".")):
        return False
    return any(not c.isdigit() and c != "." for c in bare)


def _hosts_addresses(name: str, hosts: str | None = None) -> list[str]:
    """The addresses the ``hosts`` file (:data:`HOSTS_FILE` by default) gives ``name`` as Go's resolver reads it
    (net/hosts.go), in the file's order, which Go's resolver tries before it asks whether the name is one (kubectl
    1.33 reached a numeric alias): fields split at spaces, tabs and line ends, ``#`` to the line's end a comment, a
    line skipped whose first field is no IP address to Go, names matched in small ASCII letters, and a last dot
    added only to a name with a dot in it (absDomainName), so ``1234.`` does not match ``1234`` nor ``localhost.``
    ``localhost``, where ``a.b`` and ``a.b.`` match (Go 1.19's LookupHost in a namespace with such a file). An
    unreadable file gives nothing."""
    wanted = _go_hosts_key(name.encode("utf-8", "surrogateescape"))
    found = []
    try:
        with open(hosts or HOSTS_FILE, "rb") as lines:
            for line in lines:
                fields = _HOSTS_FIELD.findall(line.partition(b"#")[0])
                address = _go_literal_ip(fields[0].decode("latin-1")) if len(fields) > 1 else None
                if address is not None and any(_go_hosts_key(field) == wanted for field in fields[1:]):
                    found.append(address)
    except OSError:
        return []
    return found


_HOSTS_FIELD = re.compile(rb"[^ \t\r\n]+")
"""A field of a hosts file line as Go's getFields cuts it (at spaces, tabs and line ends only)."""


def _go_hosts_key(name: bytes) -> bytes:
    """``name`` as Go's hosts table keys it: small ASCII letters (bytes.lower leaves the rest), and a last dot added
    to a name that has a dot but does not end in one (absDomainName: ``localhost`` stays as it is)."""
    name = name.lower()
    return name + b"." if b"." in name and not name.endswith(b".") else name


def _go_literal_ip(field: str) -> str | None:
    """A hosts file line's first field as Go's parseLiteralIP takes it (netip.ParseAddr: an IPv4 address in four
    decimal numbers without leading zeros, or an IPv6 one with an optional zone), or None: the line is skipped."""
    import netaddr

    if is_plain_ipv4(field):
        return field
    address, _, zone = field.partition("%")
    if ":" in address and netaddr.valid_ipv6(address) and (zone or "%" not in field):  # (an empty zone: refused)
        return field
    return None


def _resolved_host(name: str, hosts: str | None = None) -> str | None:
    """What glibc's getaddrinfo is to be given for ``name`` (ASCII, as Go's idna.Lookup made it) so that the watch
    reaches what Go's pure resolver reaches (kubectl is built with CGO_ENABLED=0), or None: ``name`` itself does.
    Go reads the hosts file (:func:`_hosts_addresses`) before it asks whether a name is one; glibc reads a name
    inet_aton takes as that address first, and matches a name with a last dot to no line (Go 1.19's LookupHost and
    Python's getaddrinfo, in a namespace with ``127.0.0.9 127.1 myname.example``: 127.0.0.9 for ``127.1``,
    ``127.1.`` and ``myname.example.`` to Go, 127.0.0.1 and DNS to glibc). Such a name listed there is its first
    address (Go sorts several by RFC 6724 and tries the next on failure: one address is dialed here); a name
    glibc finds there too is left to it (it gives the same addresses). A name not listed that inet_aton reads and
    Go finds a domain name in (``0x7f.1``, ``0x7f000001``; Go's ParseIP refuses them) Go asks DNS for: it is given
    with a last dot, which inet_aton refuses, so glibc asks DNS too (for that name as it is: where it has fewer
    dots than resolv.conf's ndots, Go would try the search list's names first)."""
    if not name or ":" in name or is_plain_ipv4(name):
        return None
    numeric = _inet_aton_reads(name)
    if numeric or name.endswith("."):
        addresses = _hosts_addresses(name, hosts)
        if addresses:
            address, _, zone = addresses[0].partition("%")
            if ":" not in address:
                return address
            return f"[{_zone_dialed(f'{address}%25{zone}') if zone else address}]"
    return f"{name}." if numeric and _go_domain_name(name) else None


def _inet_aton_reads(name: str) -> bool:
    """Whether glibc's inet_aton takes ``name`` as an IPv4 address (``127.1``, ``0x7f.1``, ``2130706433``), as its
    getaddrinfo does before any lookup."""
    try:
        socket.inet_aton(name)
    except (OSError, ValueError):
        return False
    return True


class CredentialsUnavailable(Exception):
    """A request client-go would not send: its credentials could not be got (an exec plugin not installed)."""


def _exec_request_problem(kubeconfig: str, data: dict[str, Any], context: str | None) -> str | None:
    """Why client-go would fail a request for want of the chosen user's exec plugin (kubectl 1.33: "getting
    credentials: exec: executable X not found", then its installHint, or for a path "exec: fork/exec /DIR/x: no
    such file or directory": :func:`_exec_not_found`; no request reaches the server), or, before that, refuses to
    run it (:func:`_exec_mode_refused`), naming the field, or None: the plugin is there, or client-go runs none (no
    exec, or a server that is no https one)."""
    cluster_at, user_at = chosen(data, context)
    if user_at is None or not client_go_tls(data["clusters"][cluster_at]["cluster"]["server"]):
        return None
    plugin = data["users"][user_at]["user"].get("exec")
    if plugin and (refused := _exec_mode_refused(plugin.get("interactiveMode"))) is not None:
        return f"getting credentials: {refused} ({kubeconfig}: users[{user_at}].user.exec)"
    if (found := _exec_not_found(kubeconfig, data["users"][user_at]["user"])) is None:
        return None
    where = ", looked up in PATH" if found.looked_up else ""
    return (f"getting credentials: exec: {found.error} ({kubeconfig}: users[{user_at}].user.exec.command{where})"
            f"{f'; {found.hint}' if found.hint else ''}")


FILE_CONTENTS = {"certificate-authority": "the PEM certificate of the cluster's certificate authority",
                 "client-certificate": "the user's PEM client certificate", "client-key": "the user's PEM client key",
                 "tokenFile": "a file holding the user's bearer token"}
"""The files a cluster or user names that are read as the client is built, and what each should hold."""


def _file_problems(kubeconfig: str, entries: list[tuple[str, dict[str, Any]]]) -> list[Diagnostic]:
    """Each file of :data:`FILE_CONTENTS` the chosen cluster or user (``entries``: field path, mapping, as
    client-go reads them: :func:`_as_client_go_takes`) names that cannot be read, by its field path, as
    client-go's ConfirmUsable refuses a certificate-authority, client certificate or key it cannot open ("unable
    to read client-cert ... due to open ...: no such file or directory"), and its reading a tokenFile (not read
    beside a token) fails; a relative path is taken from the kubeconfig's directory, as both clients take it.
    The client said "File does not exist: ca.crt" or "[Errno 2] No such file or directory: 'token'", naming no
    field. An empty token file is refused too (:data:`EMPTY_TOKEN_FILE`)."""
    base = os.path.dirname(os.path.abspath(kubeconfig))
    found = []
    for at, entry in entries:
        for key, contents in FILE_CONTENTS.items():
            name = entry.get(key)
            if not name or (key == "tokenFile" and entry.get("token")):
                continue
            try:
                with open(os.path.join(base, name), "rb", buffering=0) as stream:
                    first = stream.read(1)  # (a directory opens, and fails here)
            except OSError as exc:
                found.append(Diagnostic(f"{quoted(name)}: {cannot_read(exc, contents)}", file=kubeconfig,
                                        field=f"{at}.{key}"))
                continue
            if key == "tokenFile" and not first:
                found.append(Diagnostic(f"{quoted(name)}: {EMPTY_TOKEN_FILE}; expected {contents}", file=kubeconfig,
                                        field=f"{at}.{key}"))
    return found


EMPTY_TOKEN_FILE = 'the file is empty (client-go: "read empty token from file")'
"""Why a user's empty ``tokenFile`` fails the client as it is built, before any request: clientcmd takes the file's
bytes as the bearer token, and with none client-go's NewBearerAuthWithRefreshRoundTripper asks its file token
source at once, which refuses a file empty once trimmed (kubectl 1.33, the oracle: ``error: read empty token from
file "..."``, exit 1, nothing dialed; kube-proxy builds its client at start and stops there). The Python client took
it as no token and sent the request without one. A file of white space alone is no empty token to clientcmd
(:func:`_blank_token_file`)."""

GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029" \
    "\u202f\u205f\u3000"
"""What Go's strings.TrimSpace trims (unicode.IsSpace); Python's str.strip trims \\x1c-\\x1f too."""


@dataclass(frozen=True)
class _BlankToken:
    """A token file of white space alone, which client-go takes as its bearer token as it is
    (:func:`_blank_token_file`): where it is (``path``, as opened), how a request fails for it (``problem``, None
    when Go sends it) and the Authorization header Go sends then (``header``: latin-1, a character a byte)."""

    path: str
    problem: str | None
    header: str


def _blank_token_file(kubeconfig: str, data: dict[str, Any], context: str | None) -> _BlankToken | None:
    """The chosen user's ``tokenFile`` when it holds white space alone (``echo "$UNSET" > token``'s line break), or
    None. clientcmd takes the file's bytes as the bearer token, which are not empty, so the client is built; at
    each request the file token source finds no token in it (trimmed, it is empty) and client-go's bearer round
    tripper sends the bytes as they are: Go's transport fails the request, before dialing, for a control
    character other than a tab (kubectl 1.33, the oracle, for a file holding a space and a line break: ``net/http:
    invalid header field value for "Authorization"``), and otherwise sends ``Bearer`` and the bytes, its header
    writer trimming ASCII spaces and tabs at the ends (kubectl 1.33 sent ``Bearer`` for two spaces, and ``Bearer``,
    a tab, a space and a no-break space for those three). Once the file holds a token the source gives it. The
    Python client's loader took the bytes too, and the header was made ``Bearer`` whatever they were. Not for an
    http server, beside a token, nor an empty file (refused at start: :data:`EMPTY_TOKEN_FILE`)."""
    cluster_at, user_at = chosen(data, context)
    if user_at is None or not client_go_tls(data["clusters"][cluster_at]["cluster"]["server"]):
        return None
    user = data["users"][user_at]["user"]
    name = user.get("tokenFile")
    if not name or user.get("token"):
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), name)
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except OSError:
        return None
    if not raw or _holds_token(raw):
        return None
    refused = any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in raw)
    return _BlankToken(path, f'net/http: invalid header field value for "Authorization" ({kubeconfig}: '
                             f"users[{user_at}].user.tokenFile: {quoted(name)} holds no token, only white space with "
                             "a control character such as a line break, which client-go then sends as the bearer "
                             "token as it is; expected a file holding the user's bearer token)" if refused else None,
                       ("Bearer " + raw.decode("latin-1")).strip(" \t"))


TOKEN_FILE_PERIOD = 60.0
"""Seconds a token read from a tokenFile is good for, less :data:`TOKEN_FILE_LEEWAY`: client-go's file token source
(transport.NewCachedFileTokenSource) reads the file again 50 seconds after it last read a token there."""
TOKEN_FILE_LEEWAY = 10.0


@dataclass(frozen=True, slots=True)
class FileToken:
    """The token client-go's caching file token source last read (``header``: ``Bearer`` and it, a character a
    byte), and the wall-clock time (seconds since the epoch) until which it is not read again."""

    header: str
    fresh_until: float


def _token_file_path(kubeconfig: str, data: dict[str, Any], context: str | None) -> str | None:
    """The chosen user's ``tokenFile`` as opened, when client-go reads it at requests (its bearer round tripper's
    file token source: NewBearerAuthWithRefreshRoundTripper), or None: an https server, and no auth-provider (the
    Python client takes that first). With a ``token`` beside it too: clientcmd keeps both, and the source's token
    wins while the file gives one (kubectl 1.33 sent the file's, not the token)."""
    cluster_at, user_at = chosen(data, context)
    if user_at is None or not client_go_tls(data["clusters"][cluster_at]["cluster"]["server"]):
        return None
    user = data["users"][user_at]["user"]
    name = user.get("tokenFile")
    if not isinstance(name, str) or not name or user.get("auth-provider"):
        return None
    return os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), name)


_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0")
"""The characters below U+0100 Go's unicode.IsSpace takes (Python's str.isspace takes U+001C..U+001F too)."""


def _go_trim_space(text: str) -> str:
    """Go's strings.TrimSpace."""
    def space(char: str) -> bool:
        return char in _GO_SPACE if char < "\u0100" else char.isspace()

    start, end = 0, len(text)
    while start < end and space(text[start]):
        start += 1
    while end > start and space(text[end - 1]):
        end -= 1
    return text[start:end]


def read_token_file(path: str) -> str:
    """The Authorization header for the token in a tokenFile as client-go's file token source reads it (the
    file's text trimmed of white space; the header's bytes are the file's, a character a byte), or OSError with
    client-go's words: the file cannot be read, or holds no token."""
    with open(path, "rb") as stream:
        raw = stream.read()
    token = _go_trim_space(raw.decode("utf-8", "surrogateescape"))
    if not token:
        raise OSError(f"read empty token from file {quoted(path)}")
    return "Bearer " + token.encode("utf-8", "surrogateescape").decode("latin-1")


def _holds_token(raw: bytes) -> bool:
    """Whether a token file's bytes hold a token to client-go's file token source: anything left once Go's
    strings.TrimSpace has trimmed them (:data:`GO_SPACE`)."""
    return bool(raw.decode("utf-8", "replace").strip(GO_SPACE))


_GO_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?=:)")
"""A URL's scheme as Go's url.Parse finds it (getScheme): a letter, then letters, digits, +, - or ., up to a colon;
a URL that starts otherwise (a space) has none."""

PROXY_SCHEMES = ("http", "https", "socks5")
"""The proxy-url schemes client-go takes (clientcmd's parseProxyURL; the others are refused)."""


def _proxy_problem(proxy: str) -> str | None:
    """Why client-go refuses a cluster's proxy-url, or None, in kubectl's words: clientcmd's parseProxyURL says
    "could not parse: URL" of one Go's url.Parse refuses (its reason is not said) and "unsupported scheme ..., must
    be http, https, or socks5" of a scheme other than :data:`PROXY_SCHEMES`, in that order (kubectl 1.33, the
    oracle: ``ftp://a b`` could not be parsed). A proxy without a scheme is no host to it, as a server is: Go
    finds a scheme only at a letter, so ``127.0.0.1:3128`` does not parse. What url.Parse takes but no connection
    can use (a port past 65535, a name with colons that is no IPv6 address: kubectl fails each request) is said as
    for the server (:func:`_server_problem`), and so is a name Go's resolver finds none for without asking DNS
    (:func:`_lookup_problem`: kubectl 1.33 failed each request "proxyconnect tcp: dial tcp: lookup \\u0663: no
    such host", likewise for 127.1 and a..b, where the watch said urllib3's "Failed to parse: Name '\\u0663' is
    not a valid IDNA label", dialed 127.0.0.1, or blamed the server's host). ``http:HOST:PORT`` (no //) is an
    opaque URL to Go, with no host: client-go takes it and dials the local system's port of its scheme
    (:func:`_dialed_proxy`)."""
    found = _GO_SCHEME.match(proxy)
    problem = _server_problem(proxy, proxy=True) if _go_scheme(proxy) else None  # (http:HOST: opaque, no host)
    if proxy.startswith(":") or (found is None and ":" in proxy.partition("/")[0]) or (
            problem is not None and not problem.startswith(_DIAL_PROBLEMS)):
        return f"could not parse: {proxy}"  # (Go's "missing protocol scheme", "invalid port ..." are not said)
    scheme = found.group().lower() if found else ""
    if scheme not in PROXY_SCHEMES:
        return f"unsupported scheme {json.dumps(scheme)}, must be http, https, or socks5"
    parts = _split_authority(proxy)
    return problem or (None if parts is None else _lookup_problem(parts[2]))


_DIAL_PROBLEMS = ("lookup ", "port ")
"""How :func:`_server_problem` begins, for a proxy, what Go's url.Parse takes and only a connection fails on (its
"no host" is never a proxy's: a proxy without one dials the local system)."""


_HOST_PUNCTUATION = frozenset("-_.~!$&'()*+,;=:[]<>\"%")
"""The ASCII characters other than letters and digits Go's url.Parse takes in a host (net/url's shouldEscape in
encodeHost mode; a byte past ASCII is taken too)."""


def _scheme_problem(server: str) -> str | None:
    """A server's scheme other than http and https, in the words of Go's HTTP client, which refuses every request
    to it (client-go takes the URL as it is): the Python client said "URLSchemeUnknown: Not supported URL scheme
    socks5" at each list, and the watch retried for ever. What Go takes for no scheme (``1x://a``, ``a b://c``)
    is a host to client-go, judged by :func:`_server_problem`."""
    scheme = _go_scheme(server)
    return None if scheme in ("", "http", "https") else f"unsupported protocol scheme {json.dumps(scheme)}"


def _go_scheme(url: str) -> str:
    """The scheme Go's url.Parse finds in ``url`` before a ``://`` and a host, lowercased; "" when there is none,
    and client-go's DefaultServerURL puts http:// before the whole (``1x://a`` is the host "1x:" and the path
    "//a" to it)."""
    found = _GO_SCHEME.match(url)
    if found is None or not url[found.end():].startswith("://") or url[found.end() + 3:][:1] in ("", "/", "?", "#"):
        return ""
    return found.group().lower()


_USERINFO = re.compile(r"[A-Za-z0-9\-._:~!$&'()*+,;=%@]*")
"""What Go's url.Parse takes before a host's last @ (net/url's validUserinfo)."""

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _server_problem(server: str, proxy: bool = False) -> str | None:
    """Why client-go could not make a URL of a kubeconfig's server, or reach it, or None, in Go's words. A server
    without a scheme is a host to client-go (DefaultServerURL puts http:// before it and refuses a path after it:
    "host must be a URL or a host:port pair"), so ``not a url`` is the host "not a url", which Go's url.Parse
    refuses for its space. A URL with a scheme that Go's url.Parse refuses (a space or a brace in its host, a
    port that is no number, a missing ], user information Go refuses) is parsed again as http://URL, whose path
    is then refused as for a host. A ``%`` escape Go cannot read is refused, and a host that is empty without a
    port, or that Go cannot dial (a name with colons that is no IPv6 address: :func:`_host_and_port`), never
    connects: the watch would retry it for ever (kubectl 1.33, the oracle, for each); an empty host with a port is
    the local system (:data:`LOCAL_SYSTEM`), and an IPv6 address without brackets is dialed in them.
    A ``proxy`` URL is not parsed again (clientcmd's parseProxyURL refuses it: "could not parse"), and what
    url.Parse refused is said in its words here (:func:`_proxy_problem` says kubectl's instead)."""
    if any(c < " " or c == "\x7f" for c in server):  # (urlsplit drops a tab or a newline; Go refuses them)
        return "invalid control character in URL"
    if (escape := _BAD_ESCAPE.search(server.partition("?")[0])) is not None:
        return f"invalid URL escape {json.dumps(server[escape.start():escape.start() + 3])}"
    scheme = _go_scheme(server)
    userinfo, host, after = _authority(server.partition("://")[2] if scheme else server)
    path = re.split(r"[?#]", after, maxsplit=1)[0]
    name, port, problem = _host_and_port(host)
    bracketed = host.startswith("[")
    dialed = problem is not None and problem.startswith("lookup ")  # (Go's dial's words, not url.Parse's)
    if problem is None:
        bad = next((c for c in name if c < "\x80" and not c.isalnum() and c not in _HOST_PUNCTUATION), None)
        problem = f"invalid character {json.dumps(bad)} in host name" if bad is not None else None
    if problem is None and userinfo is not None and not _USERINFO.fullmatch(userinfo):
        problem = "net/url: invalid userinfo"
    reparsed = not proxy and ((scheme and problem is not None and not dialed) or (
        not scheme and problem is None and path not in ("", "/")))
    if reparsed:
        return f"host must be a URL or a host:port pair: {json.dumps(server)}"  # (Go's url.Parse refused it)
    if problem is None:
        problem = (f"port {port} is past 65535" if port and int(port) > 65535 else
                   None if name or port or proxy or bracketed else "no host")  # (a proxy's: the local system, its
        # scheme's port; ``http://[]``'s too: an empty name in brackets is a host to Go's http client, http:// and
        # http://: are none, "http: no Host in request URL", kubectl 1.33 and its strace)
    return problem


LOCAL_SYSTEM = "0.0.0.0"
"""Where Go dials a URL whose host is empty but for its port (``https://:6443``): its net.Dial takes an empty host
for the local system, and on Linux a connection to 0.0.0.0 is one to this machine (kubectl 1.33, the oracle,
reached a server on 127.0.0.1 so)."""


def _authority(rest: str) -> tuple[str | None, str, str]:
    """What follows a URL's ``://`` (or a scheme-less server, all of it a host to client-go), cut around its host
    (with its port: the authority after its last @): the user information before that @ (None without one), the
    host, and what follows it (path, query, fragment)."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, host = authority.rpartition("@")
    return (userinfo if at else None), host, rest[len(authority):]


def _split_authority(url: str) -> tuple[str, str | None, str, str] | None:
    """``url``'s scheme and its :func:`_authority` parts (user information, host, what follows); None without
    ``://`` (a URL written so has no authority to Go: an opaque one, or a server client-go gives http://)."""
    scheme, slashes, rest = url.partition("://")
    return (scheme, *_authority(rest)) if slashes else None


def _url_user(url: str) -> tuple[str, str] | None:
    """The user and password of ``url``'s user information, percent-decoded as Go's url.Parse keeps them (a user
    alone has the password ""), or None without any."""
    from urllib.parse import unquote

    parts = _split_authority(url)
    if parts is None or parts[1] is None:
        return None
    user, _, password = parts[1].partition(":")
    return unquote(user), unquote(password)


def _url_basic_auth(url: str) -> str | None:
    """The Authorization header Go's http.Client sends for a URL with user information (Client.send: Basic auth of
    the URL's user and password, set before client-go's round trippers, which leave a header already set alone:
    kubectl 1.33, the oracle, sent it over http and https, and instead of the user's token), or None."""
    found = _url_user(url)
    return None if found is None else _basic_auth(*found)


def _password_hidden(url: str) -> str:
    """``url`` as Go says it in an error: its password, when it has one, as ``***`` (net/http's stripPassword)."""
    parts = _split_authority(url)
    if parts is None:
        return url
    scheme, userinfo, host, rest = parts
    if userinfo is None or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}{rest}"


def _url_host(url: str) -> str:
    """The HOST[:PORT] of ``url`` as it is written (for what the user is told: urlsplit refuses http://[]:6443 and
    takes http://::1:6443 apart otherwise than Go), or ``url`` itself when it has none."""
    parts = _split_authority(url)
    return parts[2] if parts is not None and parts[2] else url


def _dialed_host(host: str, default_port: str = "", resolve: bool = True) -> str:
    """A URL's HOST[:PORT] as Go's transport dials it (canonicalAddr: net.JoinHostPort of Hostname() and Port(),
    or ``default_port`` when it has none): :data:`LOCAL_SYSTEM` for an empty host, and an IPv6 address written
    without brackets (``::1:6443``, whose last colon Go takes for the port's) in brackets; ``host`` itself
    otherwise, and when Go cannot parse it (:func:`_host_and_port`). A non-ASCII name is the ASCII one Go's
    idna.Lookup makes of it (go_idna.lookup_ascii: ``http://bücher.example`` dials xn--bcher-kva.example, and
    ``http://\u200b``, of a code point Lookup ignores, the local system), or itself when Lookup refuses it (the
    dial fails: :func:`_dial_problem`). With ``resolve`` (a host Go resolves itself: not a server behind a proxy,
    which is sent the name), a name Go's resolver reads otherwise than glibc's is what glibc reaches Go's address
    by (:func:`_resolved_host`: the hosts file's address, ``0x7f.1.`` for ``0x7f.1``)."""
    name, port, problem = _host_and_port(host)
    port = port or default_port
    if problem is not None or not (port or name):
        return host  # (no port for a server: an empty one is refused, "no host", unless in brackets)
    looked_up = lookup_ascii(name) if ":" not in name else name  # (an IPv6 address as written, with its zone)
    if looked_up is None:
        return host
    if not looked_up:
        return f"{LOCAL_SYSTEM}:{port}" if port else host
    bracketed = host.startswith("[")
    suffix = f":{port}" if port else ""
    if resolve and (resolved := _resolved_host(looked_up)) is not None:
        return f"{resolved}{suffix}"
    if looked_up != name:
        return f"{looked_up}{suffix}"
    if ":" in name and "%" in name:
        return f"[{_zone_dialed(name)}]{suffix}"
    if ":" in name and not bracketed:
        return f"[{name}]{suffix}"
    if ":" not in name and bracketed:  # (http://[127.0.0.1]:6443, http://[localhost]: go1.24.2 dials the name)
        return f"{name}{suffix}"
    return host


_SCOPED = ("fe80::/10", "ff01::/16", "ff02::/16", "ff11::/16", "ff12::/16", "ff31::/16", "ff32::/16")
"""The IPv6 addresses a zone means something to: link-local unicast, and multicast of interface- or link-local
scope (the ones the kernel reads sin6_scope_id for, __ipv6_addr_needs_scope_id)."""


def _zone_dialed(name: str) -> str:
    """An IPv6 address with a zone (``::1%25lo``, as the URL escapes the %), as urllib3 is to dial it so that it
    reaches what Go reaches: Go dials the address with the zone's interface for its scope id, which the kernel
    reads for a link-local address only; glibc's getaddrinfo takes a zone only there, and refuses ``::1%lo``
    ("Name or service not known"). So a zone is kept (``%25``, which urllib3 unescapes) where it means something,
    and dropped elsewhere, where dialing without it connects as Go's dial does."""
    import netaddr

    address, zone = _zone_split(name)
    if not netaddr.valid_ipv6(address):  # (in brackets: Go's url.Parse takes it, and its dial fails alike)
        return name
    if any(netaddr.IPAddress(address) in netaddr.IPNetwork(net) for net in _SCOPED):
        return f"{address}%25{zone}"
    return address


def _go_host_header(host: str) -> str:
    """The Host header Go sends for a URL's HOST[:PORT] as written: that, but for an IPv6 address with a zone,
    which is sent in brackets without it (kubectl 1.33 sent "Host: [::1]:PORT" for both ``[::1%25lo]:PORT`` and
    ``::1%25lo:PORT``; net/http's removeZone), and a non-ASCII host, sent in punycode as written, not mapped
    (go_idna.host_port_ascii: "Host: xn--BCHER-2pa.example" for ``BÜCHER.example``, kubectl 1.33)."""
    name, port, problem = _host_and_port(host)
    if problem is not None or ":" not in name or "%" not in name:
        return host_port_ascii(host)
    return f"[{_zone_split(name)[0]}]" + (f":{port}" if port else "")


def _zone_split(name: str) -> tuple[str, str]:
    """A URL's host name cut into its address and its IPv6 zone ("" without one): ``::1%25lo`` (the URL escapes
    the %, and Go unescapes it) is ``::1`` and ``lo``."""
    address, _, zone = name.replace("%25", "%").partition("%")
    return address, zone


def _dialed(url: str, default_port: str = "", resolve: bool = True) -> str:
    """``url`` with its host as Go dials it (:func:`_dialed_host`; ``default_port`` for a proxy-url's, whose
    scheme's port Go gives an empty host without one). urllib3 refused an empty host ("No host specified"), and
    took ``http://::1:6443`` for the host ``::1:6443`` with no port. ``resolve``: as for :func:`_dialed_host`."""
    parts = _split_authority(url)
    if parts is None:
        return url
    scheme, userinfo, host, after = parts
    return f"{scheme}://{'' if userinfo is None else userinfo + '@'}{_dialed_host(host, default_port, resolve)}{after}"


def _proxied_base(base_url: str, server: str, pool_manager: Any) -> str:
    """The base of the URLs requests are made for: ``base_url`` (the server as dialed: :func:`_dialed`), but for
    a request an http or https proxy is sent as it is (an http server's, through no tunnel), whose URL names the
    server as Go writes it (net/http's Request.write: the scheme, the Host header's host, :func:`_go_host_header`
    of ``server``, the URL's HOST[:PORT] as written, then the path), without the URL's user information (kubectl
    1.33, the oracle, to a local proxy: "GET http://:6443/api/v1/services" for server http://:6443, "GET
    http://10.9.9.9:6443/..." for http://u:p@10.9.9.9:6443; urllib3 sent http://0.0.0.0:6443/... and the user
    information). A host urllib3 cannot parse (``[]:6443``, ``::1:6443``) keeps the address dialed."""
    from urllib3 import ProxyManager
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url
    from urllib3.util.proxy import connection_requires_http_tunnel

    parts = _split_authority(base_url)
    if parts is None or not isinstance(pool_manager, ProxyManager) or connection_requires_http_tunnel(
            pool_manager.proxy, pool_manager.proxy_config, parts[0]):
        return base_url
    written = f"{parts[0]}://{_go_host_header(server)}{parts[3]}"
    try:
        parse_url(written)
    except LocationParseError:
        return base_url
    return written


def _host_is_empty(url: str) -> bool:
    """Whether ``url`` has an empty host with a port (``https://:6443``) or in brackets (``https://[]``), or one
    that idna.Lookup maps to nothing (``https://\u200b``), which Go dials on the local system."""
    parts = _split_authority(url)
    if parts is None:
        return False
    name, port, problem = _host_and_port(parts[2])
    return problem is None and lookup_ascii(name) == "" and (bool(name) or bool(port) or parts[2].startswith("["))


def _server_name_problem(server: str, cluster: dict[str, Any]) -> str | None:
    """An https server with an empty host (``https://:6443``) and neither tls-server-name nor
    insecure-skip-tls-verify: Go's TLS then has no server name to check the certificate against and fails every
    request (kubectl 1.33: "tls: either ServerName or InsecureSkipVerify must be specified in the tls.Config"),
    which no retry cures, as none of these is read again."""
    if not client_go_tls(server) or not _host_is_empty(server):
        return None
    if cluster.get("tls-server-name") or cluster.get("insecure-skip-tls-verify"):
        return None
    return ("its host is empty, so Go's TLS has no server name to check the server's certificate against and "
            "fails every request (tls: either ServerName or InsecureSkipVerify must be specified in the "
            "tls.Config); expected a host, or tls-server-name (or insecure-skip-tls-verify) beside it")


def _host_and_port(host: str) -> tuple[str, str, str | None]:
    """A URL's host and port, as Go's url.Parse splits them (parseHost: a bracketed IPv6 address, or the part
    after the last colon: Hostname() and Port() split so too), and its refusal, in its words ("missing ']' in
    host", "invalid port ":64x" after host"). A name with colons not in brackets is dialed as Go's canonicalAddr
    dials it, in brackets (:func:`_dialed_host`): an IPv6 address so connects (kubectl 1.33, the oracle, reached
    [::1]:18763 for ``http://::1:18763``); anything else is looked up and never found, in Go's dial's words
    (``http://::1`` is the name ``:`` and the port 1: "lookup :: no such host")."""
    import netaddr

    bracketed = host.startswith("[")
    if bracketed:
        end = host.rfind("]")
        if end < 0:
            return "", "", "missing ']' in host"
        name, rest = host[1:end], host[end + 1:]
    else:
        colon = host.rfind(":")
        name, rest = (host[:colon], host[colon:]) if colon >= 0 else (host, "")
    if rest and not (rest[0] == ":" and all("0" <= c <= "9" for c in rest[1:])):
        return name, "", f"invalid port {json.dumps(rest)} after host"
    if ":" in name and not bracketed and not netaddr.valid_ipv6(_zone_split(name)[0]):  # (Go's url.Parse takes it)
        return name, rest[1:], f"lookup {name}: no such host (an IPv6 address goes in brackets: [ADDRESS]:PORT)"
    return name, rest[1:], None


def chosen_cluster(data: dict[str, Any], context: str | None) -> dict[str, Any]:
    """The cluster the kubeconfig ``data`` (:func:`_check_shape`'s) chooses, by kubeconfig_types.chosen."""
    return data["clusters"][chosen(data, context)[0]]["cluster"]


def _chosen_user(data: dict[str, Any], context: str | None) -> tuple[int | None, str, dict[str, Any]]:
    """The index, name and mapping of the user the kubeconfig ``data`` (:func:`_check_shape`'s) chooses, by
    kubeconfig_types.chosen (None, "" and {} when the context names no user there is: no user, as in client-go)."""
    from kubeproxy_sim.watch.kubeconfig_types import chosen

    user_at = chosen(data, context)[1]
    if user_at is None:
        return None, "", {}
    return user_at, data["users"][user_at]["name"], data["users"][user_at]["user"]


def _no_client_certificate(data: dict[str, Any], kubeconfig: str, context: str | None) -> str | None:
    """Why a TLS handshake the server closed is likely a missing client certificate, or None: when the
    kubeconfig's user (in ``data``, read from ``kubeconfig``) gives one, or an exec plugin that may hand one out."""
    from kubeproxy_sim.watch.kubeconfig_types import has_client_certificate

    user_at, user_name, user = _chosen_user(data, context)
    if has_client_certificate(user) or user.get("exec"):
        return None
    who = f"the kubeconfig's user {user_name!r} has" if user_at is not None else \
        "the kubeconfig's context chooses no user, so"
    return (f"the server closed the TLS handshake, as a server that requires a client certificate does, and {who} "
            f"no client-certificate (expected client-certificate and client-key, or client-certificate-data and "
            f"client-key-data, for that user in {kubeconfig})")


def _client_go_url(server: str) -> str:
    """The kubeconfig's ``server`` as client-go makes it a URL: http:// before one without a scheme, whatever the
    cluster's TLS settings. Its ClientConfig asks IsConfigTransportTLS before the cluster's CA, client certificates
    and insecure-skip-tls-verify are merged, so DefaultServerURL sees none of them, and none is merged after
    (kubectl 1.33, the oracle, sent http:// with a CA, client certificates or insecure-skip-tls-verify)."""
    return server if "://" in server else f"http://{server}"


def _scheme_note(server: str) -> str | None:
    """The note to show for a server without a scheme (:func:`_client_go_url`)."""
    if "://" in server:
        return None
    return (f"the server {server!r} has no scheme; using {_client_go_url(server).rstrip('/')}, as kubectl does "
            "(whatever the TLS settings)")


def _quiet_insecure_warnings() -> None:
    """insecure-skip-tls-verify was asked for: kubectl does not warn on every request, nor do we."""
    import warnings

    with contextlib.suppress(ImportError):
        from urllib3.exceptions import InsecureRequestWarning

        warnings.filterwarnings("ignore", category=InsecureRequestWarning)


def _shutdown(sock: Any) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def go_connect_target(server: str, scheme: str) -> str:
    """What Go's transport asks a proxy to CONNECT to for a server's HOST[:PORT] (``server`` as the URL writes it):
    canonicalAddr, net.JoinHostPort of the URL's Hostname() (idna.Lookup's ASCII form of a non-ASCII one, an ASCII
    one as written, capitals and all) and its port or the scheme's. kubectl 1.33 (the oracle) sent "CONNECT
    :6443" for https://:6443, "CONNECT LOCALHOST:6443" for https://LOCALHOST:6443, "CONNECT [::1]:6443" for
    https://::1:6443; urllib3 sent the address it dials (0.0.0.0:6443) and a host in small letters."""
    name, port, _ = _host_and_port(server)
    looked_up = name if ":" in name else lookup_ascii(name)
    host = name if looked_up is None else looked_up
    return f"[{host}]:{port or _DEFAULT_PORTS[scheme]}" if ":" in host else f"{host}:{port or _DEFAULT_PORTS[scheme]}"


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _go_tunnel(conn: Any, target: str) -> None:
    """The CONNECT request Go's transport sends a proxy (net/http's dialConn: HTTP/1.1, the Host header and Go's
    User-Agent, then the proxy's Proxy-Authorization), for ``target`` (:func:`go_connect_target`), in place of
    http.client's (HTTP/1.0, the dialed host, no Host header); its answer read as urllib3 reads it, a refusal raised
    in its words ("Tunnel connection failed: 502 Bad Gateway"). The connection's tunnel headers are the proxy's
    (Proxy-Authorization) but for a Host, which http.client's set_tunnel puts there itself since Python 3.12 (the
    dialed address, "0.0.0.0:6443"): Go's Host is the one above, sent once."""
    import http.client

    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", "User-Agent: Go-http-client/1.1"]
    lines += [f"{key}: {value}" for key, value in (conn._tunnel_headers or {}).items() if key.lower() != "host"]
    conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    response = conn.response_class(conn.sock, method=conn._method)
    try:
        _, code, message = response._read_status()
        while (line := response.fp.readline(65537)) not in (b"\r\n", b"\n", b""):
            if len(line) > 65536:
                raise http.client.LineTooLong("header line")
        if code != 200:
            conn.close()
            raise OSError(f"Tunnel connection failed: {code} {message.strip()}")
    finally:
        response.close()


def _track_connections(pool_manager: Any, note: Callable[[Any], None], tunnel: str | None = None,
                       written: str | None = None) -> bool:
    """Have every connection the pool manager makes call ``note(conn)`` when it sends a request (after it is
    connected: TCP, a proxy's tunnel and the TLS handshake, which urllib3 does first), so that ``close()`` can cut a
    request still waiting for its response headers (a hung LIST) or reading its body (a streaming response keeps
    its connection, so it is the same socket), and ``note`` may fail the request there, unsent. Whether it took.
    A tunnel through a proxy asks for ``tunnel`` as Go asks (:func:`_go_tunnel`); a request an http proxy is sent
    names the server as ``written`` (:func:`_proxied_base`), which urllib3 wrote in small letters (Go keeps the
    URL's: kubectl 1.33 sent "GET http://LOCALHOST:6443/api/v1/services")."""
    classes = getattr(pool_manager, "pool_classes_by_scheme", None)
    if not isinstance(classes, dict):
        return False

    def tracked(pool_cls: type) -> type:
        class Connection(pool_cls.ConnectionCls):  # type: ignore[name-defined]
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                note(self)
                if written is not None and url[:len(written)].lower() == written.lower():
                    url = written + url[len(written):]
                return super().request(method, url, *args, **kwargs)

            def _tunnel(self) -> None:
                if tunnel is None:
                    super()._tunnel()
                else:
                    _go_tunnel(self, tunnel)

        return type(pool_cls.__name__, (pool_cls,), {"ConnectionCls": Connection})

    try:  # urllib3 1.26 and 2.x have both; else close() waits for reads to end
        pool_manager.pool_classes_by_scheme = {scheme: tracked(cls) for scheme, cls in classes.items()}
    except Exception:
        return False
    return True


CERT_REFRESH = 300.0
"""client-go's CertCallbackRefreshDuration: every 5 minutes its dynamicClientCert reads the client certificate and
key files again (transport/cert_rotation.go)."""


def _pem_blocks(text: bytes) -> list[tuple[bytes, bytes]]:
    """The PEM blocks of ``text`` as (type, DER), in order; a block whose base64 does not decode is left out."""
    import base64
    import binascii

    blocks = []
    for kind, body in re.findall(rb"-----BEGIN ([^-\r\n]*)-----\r?\n(.*?)-----END \1-----", text, re.DOTALL):
        try:
            blocks.append((kind, base64.b64decode(re.sub(rb"\s", b"", body), validate=True)))
        except binascii.Error:
            continue
    return blocks


def client_cert_pair(cert: str, key: str) -> str | None:
    """What client-go's certsEqual compares of a client certificate and key file pair, as a digest: the DER of the
    certificate file's CERTIFICATE blocks and of the key file's first PRIVATE KEY block (what tls.X509KeyPair
    takes of them; a PEM written out anew, other blocks beside, is the same pair), or None when tls.X509KeyPair
    would fail: a file that cannot be read, without such a block, or a key that is not the certificate's (a pair
    half written; ssl's load_cert_chain checks it as Go does)."""
    import hashlib
    import ssl

    try:
        with open(cert, "rb") as stream:
            certs = [der for kind, der in _pem_blocks(stream.read()) if kind == b"CERTIFICATE"]
        with open(key, "rb") as stream:
            keys = [der for kind, der in _pem_blocks(stream.read())
                    if kind == b"PRIVATE KEY" or kind.endswith(b" PRIVATE KEY")]
        if not certs or not keys:
            return None
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError, ValueError):
        return None
    return hashlib.sha256(b"\0".join([*certs, b"", keys[0]])).hexdigest()


class ClientCertFiles:
    """client-go's dynamicClientCert over a kubeconfig user's client-certificate and client-key files (files
    alone: transport.loadTLSFiles sets ReloadTLSFiles only without -data beside them): the pair read at start, read
    again every :data:`CERT_REFRESH` seconds of the watch's clock (PollImmediateUntil) and as a new connection
    is made (its GetClientCertificate, in the TLS handshake); a pair that differs from the one held
    (:func:`client_cert_pair`) replaces it, and every connection is closed then so that the requests that follow
    handshake with it ("certificate rotation detected, shutting down client connections to start using new
    credentials"). A pair that cannot be read or taken keeps the one held, and is looked at again at the next
    look (client-go retries its work item within moments). The watch kept its first connections (a watch of
    hours, its kept-alive connections) on the first certificate for good; urllib3 reads the files itself at each
    connection it makes, as client-go's cachingCertificateLoader reads them at a handshake."""

    def __init__(self, cert: str, key: str, now: float) -> None:
        self._files = (cert, key)
        self._held = client_cert_pair(cert, key)
        self._next = now + CERT_REFRESH
        self._lock = threading.Lock()

    def rotated(self, now: float | None = None) -> bool:
        """Whether the pair read now differs from the one held (which it then replaces); with ``now``, only when
        the periodic look is due by then (a handshake's look passes None)."""
        with self._lock:
            if now is not None:
                if now < self._next:
                    return False
                self._next = max(self._next + CERT_REFRESH, now)  # (the ticker's next tick, none piled up)
            pair = client_cert_pair(*self._files)
            if pair is None:
                if now is not None:
                    self._next = now  # (client-go's work item is retried at once, by its rate limiter)
                return False
            if pair == self._held:
                return False
            first, self._held = self._held is None, pair
            return not first  # (the first pair is no rotation: nothing to close, as in loadClientCert)


def _client_cert_files(data: dict[str, Any], kubeconfig: str, context: str | None,
                       now: float) -> ClientCertFiles | None:
    """The :class:`ClientCertFiles` of the kubeconfig user's client-certificate and client-key files (paths from
    the kubeconfig's directory), for an https server; None without both files or with -data beside either."""
    cluster, (_, _, user) = chosen_cluster(data, context), _chosen_user(data, context)
    cert, key = user.get("client-certificate"), user.get("client-key")
    if not (client_go_tls(_client_go_url(str(cluster["server"]))) and isinstance(cert, str) and cert
            and isinstance(key, str) and key) or user.get("client-certificate-data") or user.get("client-key-data"):
        return None
    base = os.path.dirname(os.path.abspath(kubeconfig))
    return ClientCertFiles(os.path.join(base, cert), os.path.join(base, key), now)


class _Stopped(Exception):
    """Raised inside a reflector when the source is closed, to unwind promptly."""


_FAILED = object()  # put on the queue to wake poll() when the source gave up


class ApiServerSource:
    """Services, EndpointSlices and this node's Node from a live API server, as watch events.

    ``start()`` launches the reflectors; ``poll(timeout)`` returns what they
    produced (events in the order each kind received them; kinds interleave);
    ``close()`` stops them. Each kind's initial list ends with a BOOKMARK.
    ``node_name`` selects the Node watched (all Nodes without it); ``give_up``
    (attempts) makes failures end the source instead of being retried forever.
    """

    def __init__(self, kubeconfig: str, *, context: str | None = None, kinds: Iterable[Kind] = DEFAULT_KINDS,
                 node_name: str | None = None, give_up: int | None = None,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, backoff: Backoff = Backoff(), watch_timeout: int | None = None,
                 read_timeout: float | None = None, page_size: int = 500, now: Callable[[], float] = time.time,
                 ) -> None:
        self._read = _read_kubeconfig(kubeconfig)  # (every later client is built from it: _fresh_client)
        # the proxy variables, read once as Go reads them (every later client follows them: _environment_proxy)
        self._environ = {name: os.environ[name] for name in PROXY_VARIABLES if name in os.environ}
        self._api, self._data, self._exec_failure, self._exec_credential = _connected(
            kubeconfig, context, per_request=True, read=self._read, now=now, oidc_refresh=False,
            environ=self._environ)
        # (an expired oidc id-token is refreshed before the first request, which fails if that does, not the start)
        self._read = _ca_inlined(self._read, kubeconfig, context)
        self._idp = _idp_fixed(self._read, context, self._environ)  # (an oidc provider's CA file, once)
        self._now = now  # the wall clock an exec plugin's expirationTimestamp and an oidc id-token are read against
        self._generation = 0  # the credentials' generation: one more each time the exec plugin gives new ones
        # the plugin ran for the first request (client-go runs it then): that one takes what it gave, expired or not
        self._exec_first_use = True
        configuration = self._api.configuration
        self._auth = configuration  # where request headers come from; replaced when the exec plugin gives new ones
        self._kubeconfig, self._context = kubeconfig, context
        self._credentials_lock = threading.Lock()  # held while credentials are looked at and got again (no file
        # of the kubeconfig is opened under it: a FIFO would wait for a writer with it held)
        # (self._exec_failure: why the client holds no credentials of the exec plugin, not installed or failing
        # when it was built: each request runs it again until it works)
        self._logged = _LoggedErrors(lambda message: self._say(self.host, Diagnostic(
            f"credentials: {message}", file=self.host, severity=Severity.WARNING)))
        server = self._data["clusters"][chosen(self._data, context)[0]]["cluster"]["server"]
        scheme_note = _scheme_note(server)
        if getattr(configuration, "verify_ssl", True) is False:
            _quiet_insecure_warnings()
        url = _client_go_url(server).rstrip("/")
        self.host = _password_hidden(url)  # (as the kubeconfig says it, for what the user is told)
        self._server = _url_host(url)  # (HOST:PORT as the URL says it)
        self._url_basic_auth = _url_basic_auth(url)
        self._base_url = str(configuration.host).rstrip("/")  # (what requests go to: _as_client_go_takes's server)
        # Go's Host header is the URL's host as written (req.URL.Host): ":6443", "::1:6443", not the address dialed
        # (urllib3 sends the host in small letters: Go as written, "Host: LOCALHOST:6443", kubectl 1.33)
        self._host_header = _go_host_header(self._server)
        self._proxy = _url_host(str(getattr(configuration, "proxy", "") or ""))  # (the HOST:PORT dialed)
        env = _environment_proxy(chosen_cluster(self._data, context), _chosen_user(self._data, context)[2],
                                 self._environ)
        self._proxy_from = PROXY_URL_FROM if env is None else env.variable  # (what named the proxy)
        self._env_problem = None if env is None else env.problem  # (each request fails for it, before a dial)
        self._dial_problem = self._env_problem or (None if self._proxy else _dial_problem(server))
        self._hosts = GoHostsCache(HOSTS_FILE, clock())  # (Go's resolver reads the hosts file again when it changed)
        # the client certificate and key files, read again as client-go's dynamicClientCert reads them
        self._cert_files = _client_cert_files(self._data, kubeconfig, context, clock())
        # a token file of white space alone, as the client was built with it: Go's header (sent, or failing each
        # request) until the file holds a token (Go's http.Client sends the URL's user first: never looked at)
        self._blank_token = None if self._url_basic_auth is not None else _blank_token_file(kubeconfig, self._data,
                                                                                            context)
        self._request_base = _proxied_base(self._base_url, self._server,
                                           getattr(getattr(self._api, "rest_client", None), "pool_manager", None))
        # a token file client-go reads again at requests (unless Go's client sends the URL's user)
        self._token_file = None if self._url_basic_auth is not None else _token_file_path(kubeconfig, self._data,
                                                                                           context)
        self._file_token: FileToken | None = None
        self._token_file_failing: str | None = None  # why the file could not be read again, said once
        self._token_file_lock = threading.Lock()
        self._kinds = tuple(Kind(k) for k in kinds)
        self._node_name = node_name
        self._give_up = give_up
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._backoff = backoff
        self._watch_timeout = watch_timeout  # None: client-go's, drawn for each watch (MIN_WATCH_TIMEOUT)
        longest = watch_timeout if watch_timeout is not None else 2 * MIN_WATCH_TIMEOUT
        self._read_timeout = read_timeout if read_timeout is not None else longest + 30
        self._page_size = page_size
        self._queue: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._progress: dict[Kind, int] = {}  # events read on the current watch: what was said is said anew
        self._undecodable: set[Kind] = set()  # kinds whose watch line that is no event was said (once)
        self._sending: dict[int, Any] = {}  # thread id -> the connection it last sent a request on
        self._said: set[tuple[str, str]] = set()  # (scope, problem) said since that scope last worked
        self._held: dict[Kind, WatchEvent] = {}  # bounded runs: a list's BOOKMARK until the kind's first watch works
        self._answered: set[Kind] = set()  # the kinds whose watch the server accepted once
        self._paginated: set[Kind] = set()  # the kinds whose first list (at resourceVersion 0) came in pages
        self._version_unavailable: set[Kind] = set()  # the kinds whose last list at a resourceVersion got a 410
        self.failure: Diagnostic | None = None  # why the source gave up (bounded runs only)
        self.caches: dict[Kind, KindCache] = {k: KindCache(KIND_SPECS[k], self.host + KIND_SPECS[k].path)
                                              for k in self._kinds}
        # an exec plugin client-go runs only in a TLS handshake (beside the URL's user): run once a connection is up,
        # until it works once (client-go keeps its credentials), never at start nor before a dial
        self._exec_at_handshake = _exec_at_handshake(self._data, context)
        self._handshake_worked: ExecCredential | None = None  # what the plugin gave when it last worked
        self._tracked = self._track(getattr(getattr(self._api, "rest_client", None), "pool_manager", None))
        if scheme_note:
            self._emit([Diagnostic(scheme_note, file=kubeconfig, severity=Severity.NOTE)])

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> ApiServerSource:
        logging.getLogger().addHandler(self._logged)  # an exec plugin run again to refresh a token, failing
        for kind in self._kinds:
            thread = threading.Thread(target=self._reflect, args=(kind,), name=f"kpsim-watch-{kind.value}",
                                      daemon=True)
            self._threads.append(thread)
            with signals.held():  # a thread inherits its creator's mask: a Ctrl-C is the main thread's alone
                thread.start()
        return self

    def close(self, timeout: float = 1.0) -> None:
        """Stop the reflectors: requests under way (lists and watches, even ones still waiting for the
        server's first byte) are cut so blocked reads return at once; all threads are awaited against one
        deadline of ``timeout`` seconds (they are daemons: one stuck past it does not hold the exit)."""
        self._stop.set()
        self._cut_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        logging.getLogger().removeHandler(self._logged)
        if hasattr(self._api, "close"):
            with contextlib.suppress(Exception):
                self._api.close()

    def __enter__(self) -> ApiServerSource:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def poll(self, timeout: float = 0.0) -> Batch:
        """Everything produced so far; waits up to ``timeout`` seconds for the first item. Once the source
        has given up, and what it produced before is handed out, raises its failure (an InputError)."""
        if self._cert_files is not None and self._cert_files.rotated(self._clock()):
            self._client_cert_rotated()
        items: list[Any] = []
        try:
            wait = timeout > 0 and self.failure is None
            items.append(self._queue.get(timeout=timeout) if wait else self._queue.get_nowait())
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        batch = Batch(tuple(i for i in items if isinstance(i, WatchEvent)),
                      tuple(i for i in items if isinstance(i, Diagnostic)))
        if self.failure is not None and not batch:
            raise InputError(self.failure)
        return batch

    def _note_connection(self, conn: Any) -> None:
        self._sending[threading.get_ident()] = conn
        if self._stop.is_set():  # closed while this request was being prepared
            _shutdown(getattr(conn, "sock", None))
        if self._exec_at_handshake and (problem := self._handshake_problem()) is not None:
            raise CredentialsUnavailable(problem)  # (urllib3 closes the connection: Go's failed handshake ends it)

    def _track(self, pool_manager: Any) -> bool:
        """:func:`_track_connections` for this source's server: its tunnels and proxied requests as Go's."""
        scheme = self._base_url.partition("://")[0].lower()
        return _track_connections(pool_manager, self._note_connection, go_connect_target(self._server, scheme),
                                  self._request_base)

    def _cut_all(self) -> None:
        for conn in list(self._sending.values()):
            _shutdown(getattr(conn, "sock", None))

    def _client_cert_rotated(self) -> None:
        """Every connection closed for a client certificate that changed (:class:`ClientCertFiles`): a watch on
        one ends, as client-go's connrotation ends it, and the next requests handshake with the new pair."""
        self._cut_all()
        user_at = chosen(self._data, self._context)[1]
        self._emit([Diagnostic("the client certificate changed: every connection to the server closed, to present "
                               "the new one, as client-go does", file=self._kubeconfig, severity=Severity.NOTE,
                               field=f"users[{user_at}].user.client-certificate")])

    # -- requests ---------------------------------------------------------------------------------

    def _params(self, kind: Kind) -> dict[str, Any]:
        """kube-proxy's list options for a kind (cmd/kube-proxy/app/server.go)."""
        if kind in (Kind.SERVICE, Kind.ENDPOINT_SLICE):
            return {"labelSelector": KUBE_PROXY_SELECTOR}
        if kind is Kind.NODE and self._node_name:
            return {"fieldSelector": f"metadata.name={self._node_name}"}
        return {}

    def _headers(self) -> Any:
        """The request's headers (a urllib3 HTTPHeaderDict: an impersonated group is a header line of its own)."""
        from urllib3 import HTTPHeaderDict

        headers = HTTPHeaderDict({"Accept": "application/json",
                                  **dict(getattr(self._api, "default_headers", {}) or {})})
        settings = self._auth.auth_settings()  # refreshes exec-plugin and expiring tokens
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                # a token file written by echo or a secret ends in a newline; client-go trims it, so do we
                headers[setting["key"]] = " ".join(str(setting["value"]).split())
        if self._token_file is not None and (from_file := self._file_token_header()) is not None:
            headers["Authorization"] = from_file
        if (blank := self._blank_token) is not None:  # (the bytes of a token file of white space alone)
            headers["Authorization"] = blank.header
        if self._url_basic_auth is not None:  # (Go's client sets it before any credential: it wins)
            headers["Authorization"] = self._url_basic_auth
        for key, value in impersonation_headers(_chosen_user(self._data, self._context)[2]):
            headers.add(key, value.encode("utf-8").decode("latin-1"))  # (http.client sends latin-1: Go's bytes)
        if self._host_header is not None:  # (a proxy is still sent the dialed address in an http request's URL)
            headers["Host"] = self._host_header
        return headers

    def _file_token_header(self) -> str | None:
        """The Authorization header client-go's caching file token source gives this request: the token it last
        read while that is fresh (:data:`TOKEN_FILE_PERIOD`, by ``now``), else the file read again (a projected
        service-account token the kubelet rotated). A file that cannot be read again (gone, emptied) leaves the
        token read last, said once as client-go logs it ("Unable to rotate token"), and is tried again at the next
        request; None before any was read (the client's own, read as it was built, goes out)."""
        assert self._token_file is not None
        now = self._now()
        with self._token_file_lock:
            last = self._file_token
            if last is not None and last.fresh_until - TOKEN_FILE_LEEWAY > now:
                return last.header
            try:
                header = read_token_file(self._token_file)
            except OSError as exc:
                problem = str(exc) if exc.filename is None else (  # (client-go's fileTokenSource words)
                    f"failed to read token file {quoted(self._token_file)}: "
                    f"{_go_path_error('open', self._token_file, exc)}")
                if last is not None and problem != self._token_file_failing:
                    self._token_file_failing = problem
                    _, user_at = chosen(self._data, self._context)
                    self._say(self.host, Diagnostic(
                        f"cannot read the token file again ({problem}); the token read last is sent until it can "
                        "(client-go: \"Unable to rotate token\")", file=self._kubeconfig,
                        field=f"users[{user_at}].user.tokenFile", severity=Severity.WARNING))
                return None if last is None else last.header
            self._file_token, self._token_file_failing = FileToken(header, now + TOKEN_FILE_PERIOD), None
            return header

    def _get(self, kind: Kind, params: dict[str, Any]) -> Any:
        """GET a collection; the raw response, streaming (a response other than 200 raises HttpStatusError)."""
        import urllib3

        if self._stop.is_set():
            raise _Stopped
        self._check_credentials()
        if not self._proxy and not self._keeps_connection() and self._hosts.changed(self._clock()):
            self._redial()
        if self._dial_problem is not None:  # (Go dials after getting the credentials)
            raise DialImpossible(self._dial_problem)
        if self._cert_files is not None and not self._keeps_connection() and self._cert_files.rotated():
            self._client_cert_rotated()  # (a new connection's handshake looks at the files: GetClientCertificate)
        query = {k: v for k, v in params.items() if v is not None}
        generation = self._generation
        headers = self._headers()  # (before the pool: _take replaces the pool before the credentials)
        url = f"{self._request_base}{KIND_SPECS[kind].path}?{urlencode(query)}"
        resp = self._api.rest_client.pool_manager.request(
            "GET", url, headers=headers, preload_content=False, retries=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=self._read_timeout))
        if resp.status != 200:
            try:
                body = resp.read(65536)
            finally:
                resp.release_conn()
            refused = HttpStatusError(resp.status, str(resp.reason or ""), _status_message(body))
            refused.generation = generation
            refused.version_too_large = _version_too_large(resp.status, body)
            raise refused
        if self._stop.is_set():  # closed while connecting: the cut may have come before the socket existed
            resp.release_conn()
            raise _Stopped
        return resp

    def _keeps_connection(self) -> bool:
        """Whether the next request goes over an idle keep-alive connection to the server, which Go's Transport
        reuses without a dial, so without looking the name up (its resolver reads the hosts file at a lookup): a
        changed hosts file is read at the next dial, as Go reads it, not at the next request."""
        from urllib3.util.connection import is_connection_dropped

        pool_manager = getattr(getattr(self._api, "rest_client", None), "pool_manager", None)
        try:
            pool = pool_manager.connection_from_url(self._request_base) if pool_manager is not None else None
        except Exception:  # (a base urllib3 cannot pool: none kept)
            return False
        idle = list(getattr(getattr(pool, "pool", None), "queue", None) or ())
        return any(conn is not None and not is_connection_dropped(conn) for conn in idle)

    def _redial(self) -> None:
        """The server looked up again from a hosts file that changed (:class:`GoHostsCache`): whether Go's
        resolver finds it now (:func:`_dial_problem`) and the address the watch dials for a name Go and glibc read
        otherwise (:func:`_cluster_as_dialed`; an https one's certificate checked against the name, as Go checks
        it, for the pools made from now on)."""
        cluster = self._data["clusters"][chosen(self._data, self._context)[0]]["cluster"]
        self._dial_problem = self._env_problem or _dial_problem(cluster["server"])
        dialed = _cluster_as_dialed(cluster)
        base = str(dialed["server"]).rstrip("/")
        if base == self._base_url:
            return
        pool_manager = getattr(getattr(self._api, "rest_client", None), "pool_manager", None)
        if (name := dialed.get("tls-server-name")) and pool_manager is not None:
            pool_manager.connection_pool_kw["server_hostname"] = name
        self._base_url = base
        self._request_base = _proxied_base(base, self._server, pool_manager)

    def _check_credentials(self) -> None:
        """Fail a request client-go would not send (:func:`_exec_request_problem`: its exec plugin is not installed),
        looked at before each request, as client-go runs the plugin for one; once the plugin is there, the client is
        built again (from the kubeconfig as read at start: :meth:`_fresh_client`), so that it runs it. One thread at a
        time (client-go's exec authenticator holds a lock too): another would send its request without the
        credentials being got meanwhile. An oidc id-token is looked at first (:meth:`_oidc_problem`). The plugin's
        credentials are kept until their expirationTimestamp has passed (by ``now``): then it runs again. A plugin
        run only in the TLS handshake is not looked at here (:meth:`_note_connection` runs it once a connection is
        up), unless connections cannot be followed: then before the request, as the best left."""
        if (problem := self._blank_token_problem()) is not None:
            raise CredentialsUnavailable(problem)
        if (problem := self._oidc_problem()) is not None:
            raise CredentialsUnavailable(problem)
        if self._exec_at_handshake:
            if not self._tracked and (problem := self._handshake_problem()) is not None:
                raise CredentialsUnavailable(problem)
            return
        with self._credentials_lock:
            problem = _exec_request_problem(self._kubeconfig, self._data, self._context)
            expired = (self._exec_credential is not None and not self._exec_first_use
                       and self._exec_credential.expired(self._now()))
            self._exec_first_use = False
            if problem is None and (self._exec_failure is not None or expired):
                # client-go runs the plugin for each request it has no credentials for: one that failed last time,
                # or one installed since, or once those it gave expired; a plugin that fails now fails this request
                # too (never sent without them, nor with the expired ones)
                self._reload_credentials()
                problem = _exec_failure_text(self._exec_failure)
            if problem is not None:
                raise CredentialsUnavailable(problem)

    def _oidc_problem(self) -> str | None:
        """client-go's oidc round tripper at each request: the id-token kept (the kubeconfig as read at start, with
        the tokens each refresh wrote back) sent while fresh (:func:`oidc_token_fresh` by ``now``), else refreshed
        with the refresh-token (client-go's exchange, the identity provider verified: :mod:`kubeproxy_sim.watch.oidc`),
        written back and sent, the client built again from it (the loader refreshes as it loads). An id-token absent
        or empty is refreshed too; a new one is sent as the provider gave it, as client-go sends it. Why the request
        fails, or None: a token that is no JWT, a refresh that failed, in client-go's words (discovery's "oidc: ...",
        the exchange's "failed to refresh token: ...", no id_token in the answer), a write-back refused ("could not
        persist new tokens"). Not for a request carrying the URL's user (the round tripper passes it on untouched)."""
        if self._url_basic_auth is not None:
            return None
        with self._credentials_lock:
            _, _, user = _chosen_user(self._read, self._context)
            provider = user.get("auth-provider") if isinstance(user, dict) else None
            if not isinstance(provider, dict) or provider.get("name") != "oidc":
                return None
            try:
                if oidc_config_fresh(provider.get("config") or {}, self._now()):
                    return None
                fresh = self._fresh_client()
                if isinstance(fresh, Diagnostic):  # (client-go's words alone, then where: no "getting credentials")
                    return f"{fresh.message} ({fresh.file}: {fresh.field})" if fresh.field else fresh.message
            except ValueError as exc:
                return str(exc)
            client, self._data, _, _ = fresh
            self._take(client, None)
        return None

    def _blank_token_problem(self) -> str | None:
        """How a request fails for a token file that held white space alone when the client was built
        (:func:`_blank_token_file`), or None: Go sends it (``Bearer``), or the file holds a token now, which client-go's
        file token source reads at each request until it has one: the credentials are read again at once, and
        the blank one is done with."""
        blank = self._blank_token
        if blank is None:
            return None
        try:
            with open(blank.path, "rb") as stream:
                holds_token = _holds_token(stream.read())
        except OSError:  # (the source fails, and the bytes the client was built with are sent)
            holds_token = False
        if not holds_token:
            return blank.problem
        with self._credentials_lock:
            if self._blank_token is not None:
                self._blank_token = None
                self._reload_credentials()
        return None

    def _handshake_problem(self) -> str | None:
        """Why the exec plugin client-go runs only in a TLS handshake (:func:`_exec_at_handshake`) fails a
        connection now up (dialed, and the server's certificate verified), in the words Go's certificate callback
        fails it with (no "getting credentials: "), or None: it worked, now or before. It is run as client-go's
        callback would be against a server asking for a client certificate (kube-apiserver with a client CA,
        kubeadm's default), whatever this server asks, after the connection rather than in its handshake; once it
        has worked it is not run again until the credentials it gave expire (client-go's certificate callback asks
        its authenticator, which keeps them until their expirationTimestamp), so never for a request on a
        kept-alive connection. Each run is of the plugin as the kubeconfig gave it at start (``_read``), as client-go's
        authenticator keeps the config it loaded, and reads the plugin's current output."""
        with self._credentials_lock:
            worked = self._handshake_worked
            if worked is not None and not worked.expired(self._now()):
                return None
            problem = _exec_request_problem(self._kubeconfig, self._data, self._context)
            if problem is None:
                failure, self._handshake_worked = self._handshake_plugin_run()
                problem = _exec_failure_text(failure)
        return None if problem is None else problem.removeprefix("getting credentials: ")

    def _handshake_plugin_run(self) -> tuple[Diagnostic | None, ExecCredential | None]:
        """The exec plugin run once (the client built for it is not kept: the URL's Basic auth is what is sent):
        its failure, or the kubeconfig's own problem when it went bad since, or None, and what it gave."""
        logging.getLogger().removeHandler(self._logged)  # (its failure is said by the request)
        try:
            _, _, failure, credential = _connected(self._kubeconfig, self._context, per_request=True, handshake=True,
                                                   read=self._read, now=self._now, idp=self._idp,
                                                   environ=self._environ)
            return failure, credential
        except InputError as exc:
            return exc.diagnostics[0] if exc.diagnostics else Diagnostic(str(exc), file=self._kubeconfig), None
        finally:
            if self._threads and not self._stop.is_set():
                logging.getLogger().addHandler(self._logged)

    def _reload_credentials(self) -> None:
        """Get the credentials again, for what client-go gets again at a request: the exec plugin run again
        (:meth:`_check_credentials`: one installed meanwhile, one that failed last time, one whose credentials
        expired), a token file that held white space alone now holding a token. Never for a 401 alone
        (:meth:`_unauthorized`). A run that fails is kept as the reason (``_exec_failure``: the request fails for
        it, and the next one runs the plugin again), and the credentials held are kept: client-go's
        refreshCredsLocked returns its error without touching cachedCreds, so a request under way in another
        thread never goes out without an Authorization header."""
        fresh = self._fresh_client()
        failure = fresh if isinstance(fresh, Diagnostic) else fresh[2]
        self._exec_failure = failure
        if isinstance(fresh, tuple) and failure is None:
            client, self._data, _, credential = fresh
            self._take(client, credential)

    def _fresh_client(self) -> tuple[Any, dict[str, Any], Diagnostic | None, ExecCredential | None] | Diagnostic:
        """The client built anew (:func:`_connected`), its exec plugin run again, from the kubeconfig as it was read
        at start (``_read``: the file is not read again, as client-go's exec authenticator runs the plugin of the
        config it loaded), or why it could not be: a file it names (a CA, a client certificate) no longer
        readable, an auth-provider's refreshed token not written back (the request fails for it, as kubectl's)."""
        logging.getLogger().removeHandler(self._logged)  # (an exec plugin failing here is said by the request)
        try:
            return _connected(self._kubeconfig, self._context, per_request=True, read=self._read, now=self._now,
                              idp=self._idp, rebuild=True, environ=self._environ)
        except InputError as exc:
            return exc.diagnostics[0] if exc.diagnostics else Diagnostic(str(exc), file=self._kubeconfig)
        except Exception as exc:  # (none expected: _connected says what it meets; never a traceback)
            return Diagnostic(f"cannot build the client again: {_first_line(exc)}", file=self._kubeconfig)
        finally:
            if self._threads and not self._stop.is_set():
                logging.getLogger().addHandler(self._logged)

    def _take(self, client: Any, credential: ExecCredential | None) -> None:
        """Send the next requests with ``client``'s credentials. New ones of the exec plugin are a new generation
        (:meth:`_unauthorized`); when their client certificate differs from the last ones' (or is the first one),
        the client's connection pool is taken, which alone holds it, and every connection is closed when there were
        credentials before, as client-go's exec authenticator closes all it dialed when a certificate changes (a
        token's rotation keeps them; its first credentials close none): the watches under way break and resume from
        their resourceVersion, presenting the new certificate. The pool is taken before the headers' source and
        the generation, so that a request reading the new credentials (:meth:`_get` reads the headers, then the
        pool) never goes out on the pool of the old certificate."""
        old = self._exec_credential
        new_pool = credential is not None and credential.cert != (None if old is None else old.cert)
        if new_pool:
            pool_manager = getattr(getattr(client, "rest_client", None), "pool_manager", None)
            self._api = client
            self._request_base = _proxied_base(self._base_url, self._server, pool_manager)
            self._tracked = self._track(pool_manager)
        self._auth = client.configuration
        if credential is None:
            return
        self._exec_credential = credential
        self._generation += 1
        if new_pool and old is not None:
            self._cut_all()

    def _unauthorized(self, exc: HttpStatusError) -> None:
        """A 401. Credentials of the exec plugin are refreshed at once, as client-go's maybeRefreshCreds: the plugin
        is run again unless those the refused request carried were replaced meanwhile (another request's 401, an
        expiry); if it fails, the old credentials are kept (client-go logs "refreshing credentials: ..." and sends
        them until they expire). Nothing else is read again, as in client-go, whose exec round tripper is the only
        one that reacts to a 401: a token file is read by the clock alone (its bearer round tripper:
        :meth:`_file_token_header`); a token, basic auth, a client certificate and an auth-provider's token are
        what the client was built with (client-go's oidc plugin refreshes its id-token by the token's expiry, not
        by a 401: :meth:`_oidc_problem`, at each request); a plugin run
        only in the TLS handshake is not asked (the URL's user went out, and its round tripper passes a request
        that carries an Authorization header on untouched)."""
        if self._token_file is not None or self._exec_credential is None or self._exec_at_handshake:
            return
        with self._credentials_lock:
            if exc.generation != self._generation or self._exec_failure is not None:
                return
            fresh = self._fresh_client()
            failure = fresh if isinstance(fresh, Diagnostic) else fresh[2]
            if failure is not None or isinstance(fresh, Diagnostic):
                said = str(_exec_failure_text(failure)).removeprefix("getting credentials: ")
                self._say(self.host, Diagnostic(f"refreshing credentials after HTTP 401: {said}", file=self.host,
                                                severity=Severity.WARNING))
                return
            client, self._data, _, credential = fresh
            self._take(client, credential)

    # -- saying things once -----------------------------------------------------------------------

    def _emit(self, items: Iterable[Any]) -> None:
        for item in items:
            self._queue.put(item)

    def _say(self, scope: str, diagnostic: Diagnostic) -> None:
        """A problem is said once, until its scope (a kind, or the whole server) works again."""
        key = (scope, diagnostic.message)
        with self._lock:
            if key in self._said:
                return
            self._said.add(key)
        self._emit([diagnostic])

    def _worked(self, kind: Kind, what: str = "watch") -> None:
        """A request for ``kind`` worked: what was said about it (and about the server) may be said again. A
        list that works keeps what was said about the watch: the watch refused, or very short, after it is not
        said anew (a very short watch is followed by a list)."""
        with self._lock:
            self._said = {key for key in self._said if key[0] not in (kind.value, self.host)
                          or (what == "list" and key[1].startswith(("watch failed", "very short watch")))}

    def _watch_answered(self, kind: Kind) -> None:
        """The server accepted a watch of ``kind``: a refusal said before may be said again, and the held
        BOOKMARK is handed out."""
        with self._lock:
            self._said = {key for key in self._said if not key[1].startswith("watch failed")
                          or key[0] not in (kind.value, self.host)}
        self._release_bookmark(kind)

    def _release_bookmark(self, kind: Kind) -> None:
        """A bounded run's list BOOKMARK held until now is handed out (its first sync waits for the watches
        to be allowed)."""
        with self._lock:
            held = self._held.pop(kind, None)
        if held is not None:
            self._emit([held])

    def _give_up_with(self, diagnostic: Diagnostic) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = diagnostic
        self._stop.set()
        self._cut_all()
        self._queue.put(_FAILED)

    # -- one reflector ----------------------------------------------------------------------------

    def _reflect(self, kind: Kind) -> None:
        """List, then watch, forever: watch again at once after a watch that lasted or delivered, back off (then
        list) after failures, ERROR events and very short watches. ``steps`` is the backoff (reset by time alone,
        as client-go's); ``failures`` counts the attempts a bounded run gives up after."""
        cache = self.caches[kind]
        failures, need_list, listed = 0, True, False
        steps = BackoffSteps()

        def back_off() -> None:
            self._sleep(self._backoff.delay(steps.next(self._clock()), self._rng))

        while not self._stop.is_set():
            try:
                if need_list:
                    self._list(kind, cache)
                    need_list, listed = False, True
                    self._worked(kind, "list")
                started = self._clock()  # before the request, as client-go: a proxy may hold the headers
                signal, lines = self._watch(kind, cache)
            except _Stopped:
                return
            except Exception as exc:  # HTTP errors, dropped connections, bad bodies: retried unless bounded
                if self._stop.is_set():
                    return
                what = "list" if need_list else "watch"
                failures += 1
                # A watch request's 410: the round ends, and the next one lists after backoff (client-go). A
                # list's 410 here is one _list already asked again without a resourceVersion: client-go's
                # ListAndWatch returns it and its Run backs off before the next: a failure like any other.
                if what == "watch" and getattr(exc, "status", None) == 410:
                    self._emit([cache.problem(f"watch: {classify(exc, self._server, self._proxy).text} (expired); "
                                               "listing again", severity=Severity.NOTE)])
                    need_list = True
                    back_off()
                    continue
                if self._progress.pop(kind, 0):  # a watch that delivered before it broke: said anew
                    self._worked(kind)
                if what == "watch" and relist_after(exc):
                    need_list = True
                if isinstance(exc, HttpStatusError) and exc.status == 401:
                    self._unauthorized(exc)
                if not self._failed(kind, cache, what, self._classify(exc), failures, listed, need_list):
                    return
                back_off()
                continue
            if lines:
                self._worked(kind)
            if signal is StreamSignal.THROTTLED:  # an ERROR event of code 429: the same watch after backoff
                back_off()
            elif signal is not StreamSignal.CONTINUE:  # an ERROR event (a 410's too) or a line that is none, said:
                need_list = True  # the round ends, and the next one lists after backoff (client-go)
                back_off()
            elif not lines and self._clock() - started < VERY_SHORT_WATCH:  # client-go's "very short watch"
                need_list = True
                self._say(kind.value, cache.problem(
                    "very short watch: it ended within a second with nothing received; listing again with "
                    "backoff", severity=Severity.WARNING))
                back_off()
            # else: the server's timeout, an idle proxy: watch again at once

    @cached_property
    def _no_client_cert(self) -> str | None:
        """:func:`_no_client_certificate` for this source's kubeconfig, worked out at the first closed handshake."""
        return (_no_client_certificate(self._data, self._kubeconfig, self._context) if client_go_tls(self.host)
                else None)

    def _classify(self, exc: BaseException) -> Failure:
        """:func:`classify`, and a closed TLS handshake explained when the kubeconfig (as read) gives no client
        certificate."""
        failure = classify(exc, self._server, self._proxy, self._proxy_from)
        if failure.handshake_closed and self._no_client_cert:
            detail = failure.text.removeprefix(f"TLS with {self._server} failed: ")
            return replace(failure, text=f"TLS with {self._server} failed: {self._no_client_cert} ({detail})")
        return failure

    def _failed(self, kind: Kind, cache: KindCache, what: str, failure: Failure, failures: int,
                listed: bool, relist: bool = True) -> bool:
        """Say a failure (once); False when the source gives up (else the caller backs off)."""
        file = self.host if failure.server_wide else cache.source
        who = None if failure.server_wide else kind.value
        text = failure.text
        if what == "watch" and text.startswith("HTTP 403"):
            text += f"; {watch_refused_hint(kind)}"
        # A bounded run gives up on a list refused for good or failing too long, and on a kind's first watch
        # refused for good: its first sync waits for the watches (the BOOKMARK is held), so a role that may
        # list but not watch ends it. A later watch failure, or a first one retrying may cure, is retried.
        give_up = self._give_up if what == "list" else None
        first_watch = what == "watch" and kind in self._held
        if first_watch and self._give_up is not None and failure.permanent:
            self._give_up_with(Diagnostic(f"{what} failed: {text}", file=file, kind=who))
            return False
        if first_watch:  # a failure retrying may cure: the first sync need not wait for it (nor is it said anew)
            self._release_bookmark(kind)
        if give_up is not None and (failure.permanent or (not listed and failures >= give_up)):
            after = "" if failure.permanent else f"; gave up after {failures} attempts"
            self._give_up_with(Diagnostic(f"{what} failed: {text}{after}", file=file, kind=who))
            return False
        resume = (f"resourceVersion {cache.resource_version}" if cache.resource_version and not relist
                  else "a new list")
        until = f"up to {give_up} attempts" if give_up is not None and not listed else "until it works"
        scope = self.host if failure.server_wide else kind.value
        self._say(scope, Diagnostic(f"{what} failed: {text}; retrying from {resume} with backoff, "
                                    f"{until}", file=file, kind=who, severity=Severity.WARNING))
        return True

    def _list(self, kind: Kind, cache: KindCache) -> None:
        """A complete list, folded into the cache in one go, asked for as client-go's reflector asks
        (relistResourceVersion and its pager): the first at resourceVersion 0, in pages of ``page_size``; a later
        one at the last resourceVersion seen, whole (no limit: the watch cache can answer it), unless the first
        came in pages; one whose resourceVersion the server no longer has (410) or does not have yet (a server
        restored from a backup: isTooLargeResourceVersionError) at once again without one (a quorum read, paged as
        the first try), as client-go asks again whatever the first asked; a 410 to that too is a failed round,
        backed off as any other (:meth:`_reflect`). The note is said once until a list works."""
        version = "" if kind in self._version_unavailable else cache.resource_version or "0"
        limit = self._page_size if kind in self._paginated or version in ("", "0") else None
        try:
            items, listed, paginated = self._pages(kind, cache, version, limit)
        except HttpStatusError as exc:
            if exc.status != 410 and not exc.version_too_large:
                raise
            self._version_unavailable.add(kind)
            why = "expired" if exc.status == 410 else "newer than the server's history"
            self._say(kind.value, cache.problem(f"list: {classify(exc, self._server, self._proxy).text} ({why}); "
                                                "listing again at the newest resourceVersion", severity=Severity.NOTE))
            items, listed, paginated = self._pages(kind, cache, "", limit)
        if version == "0" and paginated:  # (no watch cache answered it: later lists are paged too)
            self._paginated.add(kind)
        self._version_unavailable.discard(kind)
        events = cache.replace(items, listed)
        if self._give_up is not None and kind not in self._answered:  # until the first watch is answered
            with self._lock:
                self._held[kind] = events.pop()  # the list's BOOKMARK
        self._emit(events)  # (a node's Node missing is the sync loop's to say: its wait for it)

    def _pages(self, kind: Kind, cache: KindCache, version: str, limit: int | None,
               ) -> tuple[list[Any], str, bool]:
        """The items of a list at ``version`` ("" for none) in pages of ``limit`` (None: whole), its
        resourceVersion, and whether it came in more than one page. As client-go's pager: the pages after the first
        carry the continue token and no resourceVersion; a page refused as expired (410: the history was compacted
        meanwhile) is followed by one whole list at the resourceVersion first asked for ("0", or the last one seen:
        pager.go's requestedResourceVersion), without limit, which is the answer."""
        items: list[Any] = []
        params: dict[str, Any] = {**self._params(kind), "limit": limit, "resourceVersion": version or None}
        paginated = False
        while True:
            try:
                body = self._list_body(kind, params)
            except HttpStatusError as exc:
                if exc.status != 410 or "continue" not in params:
                    raise
                self._emit([cache.problem(f"list: {classify(exc, self._server, self._proxy).text} (expired); "
                                          "listing again whole", severity=Severity.NOTE)])
                items, params = [], {**self._params(kind), "resourceVersion": version or None}
                body = self._list_body(kind, params)
            meta = body.get("metadata") if type(body) is dict else None
            if type(meta) is not dict:
                meta = {}
            page = body.get("items") if type(body) is dict else None
            items.extend(page if type(page) is list else [])
            token = meta.get("continue") or None
            if token is None or "limit" not in params or params["limit"] is None:
                listed = meta.get("resourceVersion")
                if type(listed) is not str or not listed:
                    raise ValueError("the list response has no metadata.resourceVersion")
                return items, listed, paginated
            paginated = True
            params = {**self._params(kind), "limit": limit, "continue": token}

    def _list_body(self, kind: Kind, params: dict[str, Any]) -> Any:
        """One list request's decoded body."""
        resp = self._get(kind, params)
        try:
            data = resp.data
        finally:
            resp.release_conn()
        if self._stop.is_set():
            raise _Stopped
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ValueError(f"the list response is not JSON ({exc})") from None

    def _watch(self, kind: Kind, cache: KindCache) -> tuple[StreamSignal, int]:
        """One watch connection: what ended it (CONTINUE when it ended cleanly) and how many lines it read."""
        resp = self._get(kind, {**self._params(kind), "allowWatchBookmarks": "true",
                                "resourceVersion": cache.resource_version or None,
                                "timeoutSeconds": self._watch_timeout if self._watch_timeout is not None
                                else int(MIN_WATCH_TIMEOUT * (self._rng.random() + 1.0)), "watch": "true"})
        self._answered.add(kind)
        self._watch_answered(kind)
        number, lines, pending = 0, 0, b""
        self._progress.pop(kind, None)
        try:
            try:
                for chunk in resp.stream(65536, decode_content=True):
                    if self._stop.is_set():
                        raise _Stopped
                    pending += chunk
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        if line.strip():
                            number += 1
                            signal = self._watch_line(kind, cache, line, number)
                            if signal is StreamSignal.CONTINUE:
                                lines += 1
                                self._progress[kind] = lines
                            else:
                                return signal, lines
            except Exception as exc:
                if self._stop.is_set():
                    raise _Stopped from None
                if not stream_ended(exc):
                    raise
                # the stream's end to client-go (a line cut short is dropped, as its decoder's unexpected EOF):
                # judged by its length and lines, as a watch the server ended
                self._progress.pop(kind, None)
                return StreamSignal.CONTINUE, lines
            if self._stop.is_set():
                raise _Stopped
            if pending.strip():  # a last line without its newline, in a stream that ended cleanly
                signal = self._watch_line(kind, cache, pending, number + 1)
                if signal is not StreamSignal.CONTINUE:
                    return signal, lines
                lines += 1
            return StreamSignal.CONTINUE, lines
        finally:
            resp.close()

    def _watch_line(self, kind: Kind, cache: KindCache, line: bytes, number: int) -> StreamSignal:
        """One line of a watch stream handed to the cache, what it yields emitted. A line that is no watch event
        (client-go's decoder fails on it: an ERROR event "unable to decode an event from the watch stream" that
        ends the watch) is said once for ``kind`` until a line decodes again: a server or proxy answering every
        watch so is said once, not at each of the lists and watches that follow, backing off."""
        items, signal = cache.watch_line(line, number)
        if signal is StreamSignal.UNDECODABLE:
            with self._lock:
                said = kind in self._undecodable
                self._undecodable.add(kind)
            if said:
                return signal
        elif signal is StreamSignal.CONTINUE:
            with self._lock:
                self._undecodable.discard(kind)
        self._emit(items)
        return signal
