"""A live API server as a watch source, through the official ``kubernetes`` Python client.

One reflector thread per kind does what client-go's reflector does: list
(paged; a 410 on a continue token restarts the list), emit the differences
against its store, then watch from the listed resourceVersion with bookmarks
on. When the server says the resourceVersion is gone (an ERROR event with a
410 Status, or HTTP 410), it relists and emits exactly what changed meanwhile;
when a connection drops, it reconnects from the last resourceVersion it saw,
after an exponential backoff with jitter. The decoding and bookkeeping are in
:mod:`kubeproxy_sim.watch.cache`; this module only moves bytes.

The client is imported lazily, so the rest of the package works without it
(``pip install kubeproxy-sim[live]``). Sleeping and randomness are injected:
tests run the whole protocol with no real waits.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubeproxy_sim.errors import Diagnostic, EnvironmentMissing, InputError, Severity
from kubeproxy_sim.watch.cache import KIND_SPECS, KindCache, StreamSignal
from kubeproxy_sim.watch.events import Batch, Kind, WatchEvent


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between failed attempts: initial * factor**(n-1), capped, stretched by up to ``jitter``."""

    initial: float = 0.8
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, failures: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, failures - 1))
        return min(self.maximum, base * (1.0 + self.jitter * rng.random()))


def _describe(exc: BaseException) -> str:
    """A one-line account of a failed request (the client's own messages span many lines)."""
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status} {getattr(exc, 'reason', '') or ''}".rstrip()
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _listers(api_client: Any) -> dict[Kind, Callable[..., Any]]:
    from kubernetes import client  # lazily: only this source needs the client

    core, discovery = client.CoreV1Api(api_client), client.DiscoveryV1Api(api_client)
    return {
        Kind.SERVICE: core.list_service_for_all_namespaces,
        Kind.ENDPOINT_SLICE: discovery.list_endpoint_slice_for_all_namespaces,
        Kind.NODE: core.list_node,
        Kind.POD: core.list_pod_for_all_namespaces,
    }


def connect(kubeconfig: str, context: str | None = None) -> Any:
    """An ApiClient for a kubeconfig; the user sees what is wrong with the file, not a traceback."""
    try:
        from kubernetes import config
    except ImportError:
        raise EnvironmentMissing("watching an API server needs the kubernetes client: "
                                 "pip install 'kubeproxy-sim[live]'") from None
    _check_shape(kubeconfig)
    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except FileNotFoundError:
        raise InputError(Diagnostic("no such file; expected a kubeconfig", file=kubeconfig)) from None
    except Exception as exc:  # ConfigException, YAML errors, bad certificates ...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(Diagnostic(f"cannot use this kubeconfig: {first}", file=kubeconfig)) from None


def _check_shape(kubeconfig: str) -> None:
    """A file that is not a kubeconfig at all is said so, before the client trips over it in its own words."""
    import yaml

    try:
        with open(kubeconfig, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # the client's own message names these
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("clusters", "contexts")):
        raise InputError(Diagnostic("not a kubeconfig: expected a mapping with clusters, contexts and users "
                                    "lists (what `kubectl config view --raw` prints)", file=kubeconfig))


def _interrupt(resp: Any) -> None:
    """Make a read blocked on this response in another thread return, by shutting its socket down."""
    try:
        resp.shutdown()  # urllib3 >= 2.3
        return
    except Exception:  # older urllib3, or no socket handle kept on this response
        pass
    fp = getattr(getattr(resp, "_fp", None), "fp", None)
    for sock in (getattr(getattr(resp, "connection", None), "sock", None),
                 getattr(getattr(fp, "raw", None), "_sock", None)):
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
            return


class _Stopped(Exception):
    """Raised inside a reflector when the source is closed, to unwind promptly."""


class ApiServerSource:
    """Services, EndpointSlices, Nodes and Pods from a live API server, as watch events.

    ``start()`` launches the reflectors; ``poll(timeout)`` returns what they
    produced (events in the order each kind received them; kinds interleave);
    ``close()`` stops them. Each kind's initial list ends with a BOOKMARK.
    """

    def __init__(self, kubeconfig: str, *, context: str | None = None, kinds: Iterable[Kind] = tuple(Kind),
                 sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
                 backoff: Backoff = Backoff(), watch_timeout: int = 300, read_timeout: float | None = None,
                 page_size: int = 500, api_client: Any = None) -> None:
        self._api = api_client if api_client is not None else connect(kubeconfig, context)
        self.host = str(getattr(self._api.configuration, "host", "") or kubeconfig)
        self._listers = _listers(self._api)
        self._kinds = tuple(Kind(k) for k in kinds)
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._rng = rng if rng is not None else random.Random()
        self._backoff = backoff
        self._watch_timeout = watch_timeout
        self._read_timeout = read_timeout if read_timeout is not None else watch_timeout + 30
        self._page_size = page_size
        self._queue: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._progress: dict[Kind, int] = {}  # lines read on the current watch, to reset the backoff
        self._open: dict[Kind, Any] = {}  # the watch response each reflector is reading, to cut on close
        self.caches: dict[Kind, KindCache] = {
            k: KindCache(KIND_SPECS[k], self.host.rstrip("/") + KIND_SPECS[k].path) for k in self._kinds}

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> ApiServerSource:
        for kind in self._kinds:
            thread = threading.Thread(target=self._reflect, args=(kind,), name=f"kpsim-watch-{kind.value}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop the reflectors; open watch connections are cut so blocked reads return at once."""
        self._stop.set()
        for resp in list(self._open.values()):
            _interrupt(resp)
        for thread in self._threads:
            thread.join(timeout)
        if hasattr(self._api, "close"):
            self._api.close()

    def __enter__(self) -> ApiServerSource:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def poll(self, timeout: float = 0.0) -> Batch:
        """Everything produced so far; waits up to ``timeout`` seconds for the first item."""
        items: list[Any] = []
        try:
            items.append(self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait())
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        events = tuple(i for i in items if isinstance(i, WatchEvent))
        return Batch(events, tuple(i for i in items if isinstance(i, Diagnostic)))

    # -- one reflector ----------------------------------------------------------------------------

    def _emit(self, items: Iterable[Any]) -> None:
        for item in items:
            self._queue.put(item)

    def _reflect(self, kind: Kind) -> None:
        """List, then watch, forever: relist on 410, reconnect with backoff on anything else."""
        cache, lister = self.caches[kind], self._listers[kind]
        failures, need_list = 0, True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list(lister, cache)
                    need_list = False
                signal = self._watch(lister, cache)
            except _Stopped:
                return
            except Exception as exc:  # HTTP errors, dropped connections, bad bodies: never fatal
                if getattr(exc, "status", None) == 410:
                    self._emit([cache.problem(f"{'list' if need_list else 'watch'}: {_describe(exc)} (expired); "
                                               "listing again", severity=Severity.NOTE)])
                    need_list = True
                    continue
                failures = 1 if self._progress.pop(kind, 0) else failures + 1  # a watch that delivered: fresh
                self._retry(cache, f"{'list' if need_list else 'watch'} failed: {_describe(exc)}", failures)
                continue
            if signal is StreamSignal.EXPIRED:
                need_list, failures = True, 0
            elif signal is StreamSignal.FAILED:
                failures += 1
                self._retry(cache, "watch failed", failures)
            elif signal is None:  # a clean but empty stream: back off quietly so a terse server is not hammered
                failures += 1
                self._sleep(self._backoff.delay(failures, self._rng))
            else:
                failures = 0

    def _retry(self, cache: KindCache, what: str, failures: int) -> None:
        delay = self._backoff.delay(failures, self._rng)
        resume = f"resourceVersion {cache.resource_version}" if cache.resource_version else "a new list"
        self._emit([cache.problem(f"{what}; retrying from {resume} in {delay:.1f}s (attempt {failures + 1})",
                                   severity=Severity.WARNING)])
        self._sleep(delay)

    def _list(self, lister: Callable[..., Any], cache: KindCache) -> None:
        """A complete, paged list, folded into the cache in one go."""
        items: list[Any] = []
        token: str | None = None
        while True:
            resp = lister(limit=self._page_size, _continue=token, _preload_content=False,
                          _request_timeout=self._read_timeout)
            try:
                body = json.loads(resp.data)
            except ValueError as exc:
                raise ValueError(f"the list response is not JSON ({exc})") from None
            finally:
                resp.release_conn()
            if self._stop.is_set():
                raise _Stopped
            meta = body.get("metadata") if type(body) is dict and type(body.get("metadata")) is dict else {}
            page = body.get("items") if type(body) is dict else None
            items.extend(page if type(page) is list else [])
            token = meta.get("continue") or None
            if token is None:
                rv = meta.get("resourceVersion")
                if type(rv) is not str or not rv:
                    raise ValueError("the list response has no metadata.resourceVersion")
                self._emit(cache.replace(items, rv))
                return

    def _watch(self, lister: Callable[..., Any], cache: KindCache) -> StreamSignal | None:
        """One watch connection; CONTINUE when it ended cleanly, None when it ended without a line."""
        resp = lister(watch=True, resource_version=cache.resource_version, allow_watch_bookmarks=True,
                      timeout_seconds=self._watch_timeout, _preload_content=False,
                      _request_timeout=self._read_timeout)
        lines, pending = 0, b""
        self._open[cache.spec.kind] = resp
        self._progress.pop(cache.spec.kind, None)
        try:
            if self._stop.is_set():  # closed while connecting: close() may have missed this response
                raise _Stopped
            for chunk in resp.stream(65536, decode_content=True):
                if self._stop.is_set():
                    raise _Stopped
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        lines += 1
                        self._progress[cache.spec.kind] = lines
                        items, signal = cache.watch_line(line, lines)
                        self._emit(items)
                        if signal is not StreamSignal.CONTINUE:
                            return signal
            if pending.strip():  # a last line without its newline, in a stream that ended cleanly
                lines += 1
                items, signal = cache.watch_line(pending, lines)
                self._emit(items)
                if signal is not StreamSignal.CONTINUE:
                    return signal
            return StreamSignal.CONTINUE if lines else None
        finally:
            self._open.pop(cache.spec.kind, None)
            resp.close()
