"""ApiServerSource against a local server: what it asks for, quiet watches, failures said once, give-up in
bounded runs, Ctrl-C during a LIST, TLS and kubeconfig quirks.

Everything runs on 127.0.0.1 with injected sleep (and, for the watch-duration rule, an injected clock): no
test waits for a backoff.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
import warnings
from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError, Severity
from kubeproxy_sim.watch import ApiServerSource, Backoff, EventType, Kind
from kubeproxy_sim.watch.apiserver import KUBE_PROXY_SELECTOR, HttpStatusError, _status_message, classify

from ._fake_apiserver import KIND_PATH, FakeApiServer, status
from ._kubeconfigs import given_up, populate, synced, tls_server, with_user
from ._objects import slice_json, svc_json
from .conftest import Mirror

# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def make(connect):
    """``connect`` with whole-second backoff and no jitter, so the sleeps are 1, 2, 4, 8."""
    return functools.partial(connect, backoff=Backoff(initial=1, maximum=8, jitter=0))


class StepClock:
    """Each watch "lasts" the next of ``durations`` (then ``rest``), whatever the wall clock says: the time is
    the sum of the durations of the watches ``fake`` has been asked for, so a read before a watch request and
    one after it differ by that watch's duration, however often the reflector reads the clock."""

    def __init__(self, fake: FakeApiServer, durations: list[float], rest: float) -> None:
        self.fake, self.durations, self.rest = fake, list(durations), rest

    def __call__(self) -> float:
        watches = sum(1 for _, q in self.fake.requests if q.get("watch") in ("1", "true"))
        return 1000.0 + sum(self.durations[:watches]) + self.rest * max(0, watches - len(self.durations))


# --------------------------------------------------------------------------- what kube-proxy asks for


def test_asks_for_what_kube_proxy_asks_for(fake, make) -> None:
    populate(fake)
    hidden = svc_json("other", "10.0.0.2")
    hidden["metadata"]["labels"] = {"service.kubernetes.io/service-proxy-name": "foo"}
    fake.add("Service", hidden)
    seen = Mirror(make(node_name="n1"))
    seen.until(lambda: seen.synced == {Kind.SERVICE, Kind.ENDPOINT_SLICE, Kind.NODE})
    # each kind's list BOOKMARK comes before its watch is opened: wait for the watches too, or they go unchecked
    seen.until(lambda: all(fake.watches(kind) for kind in ("Service", "EndpointSlice", "Node")))
    # cmd/kube-proxy/app/server.go: both label requirements on Services and EndpointSlices, its own Node only
    assert KUBE_PROXY_SELECTOR == "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"
    for kind in ("Service", "EndpointSlice"):
        assert fake.lists(kind) and {q["labelSelector"] for q in fake.lists(kind)} == {KUBE_PROXY_SELECTOR}
        watches = fake.watches(kind)
        assert watches and {q["labelSelector"] for q in watches} == {KUBE_PROXY_SELECTOR}
    assert fake.lists("Node") and {q["fieldSelector"] for q in fake.lists("Node")} == {"metadata.name=n1"}
    assert fake.watches("Node") and {q["fieldSelector"] for q in fake.watches("Node")} == {"metadata.name=n1"}
    assert not [p for p, _ in fake.requests if p == KIND_PATH["Pod"]]  # no Pod informer in kube-proxy
    assert seen.keys(Kind.SERVICE) == {"default/s1"} and seen.keys(Kind.NODE) == {"n1"}
    assert seen.said() == []


def test_an_object_leaving_the_selector_is_deleted_and_one_entering_it_added(fake, make) -> None:
    """kube-proxy relies on the server for this (a label added later is, to it, the object's deletion)."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE]))
    seen.until(lambda: Kind.SERVICE in seen.synced)
    labelled = svc_json("s1", "10.0.0.1")
    labelled["metadata"]["labels"] = {"service.kubernetes.io/headless": ""}
    fake.modify("Service", labelled)
    fake.modify("Service", svc_json("s1", "10.0.0.1", port=81))
    seen.until(lambda: [e.type for e in seen.events if e.key == "default/s1"] == [
        EventType.ADDED, EventType.DELETED, EventType.ADDED])
    assert seen.events[-1].obj.ports[0].port == 81 and seen.said() == []


def test_every_node_without_a_node_name(fake, make) -> None:
    populate(fake)
    seen = Mirror(make(kinds=[Kind.NODE]))
    seen.until(lambda: Kind.NODE in seen.synced)
    assert "fieldSelector" not in fake.lists("Node")[0] and seen.keys(Kind.NODE) == {"n1", "n2"}


def test_a_node_the_server_does_not_have_is_left_to_the_wait_for_it(fake, make) -> None:
    """The sync loop's wait for the node's Node says it is missing (and, after the timeout, that kube-proxy starts
    without it): the source saying it too at list time said one fact twice."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.NODE], node_name="ghost"))
    seen.until(lambda: Kind.NODE in seen.synced)
    assert seen.keys(Kind.NODE) == set() and seen.said() == []
    assert "metadata.name=ghost" in fake.lists("Node")[0]["fieldSelector"]


# --------------------------------------------------------------------------- quiet watches (client-go's rule)


def test_a_quiet_watch_that_lasted_is_followed_at_once_by_the_next(fake, make, sleeps) -> None:
    """The server's timeoutSeconds or an idle proxy ends a watch with nothing in it: watch again now."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], watch_timeout=0, clock=StepClock(fake, [], rest=2.0)))  # ends at once
    seen.until(lambda: len(fake.watches("Service")) >= 6)
    assert sleeps == [] and seen.said() == []
    assert len(fake.lists("Service")) == 1  # each resumed from the list's resourceVersion, never relisted
    assert {q["resourceVersion"] for q in fake.watches("Service")} == {str(fake.rv)}


def test_a_very_short_empty_watch_backs_off_and_the_steps_start_again_two_minutes_after_the_last(
        fake, make, sleeps) -> None:
    """client-go's backoff manager starts its steps again when the last backoff began over 2 min before, and
    for nothing else: a watch that lasted a second no longer did (the 1.0 s watch here)."""
    populate(fake)
    # under a second, nothing received: backed off; 1.0: watched again at once; 200: the next backoff is a first
    clock = StepClock(fake, [0.5, 0.5, 0.5, 1.0, 0.5, 200.0, 0.5], rest=0.5)
    seen = Mirror(make(kinds=[Kind.SERVICE], watch_timeout=0, clock=clock))
    seen.until(lambda: len(sleeps) >= 6)
    assert sleeps[:6] == [1, 2, 4, 8, 1, 2]
    warnings_said = seen.said()
    assert len(warnings_said) == 1 and "very short watch" in warnings_said[0]


def test_a_watch_that_delivered_does_not_reset_the_backoff(fake, make, sleeps) -> None:
    """client-go's backoff manager resets by time alone (2 min after the last backoff began): a flapping server
    whose every other watch delivers is backed off further each time (it was retried at the first step)."""
    populate(fake)
    fake.watch_seconds = 0.05  # every watch ends cleanly at once: very short unless it delivered

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:  # the third watch sends this, then ends (a change would be the relist's, not its)
            fake.inject("Service", "bookmark")

    seen = Mirror(make(kinds=[Kind.SERVICE], sleep=sleep, clock=StepClock(fake, [], rest=0.1)))
    seen.until(lambda: len(sleeps) >= 4)
    assert sleeps[:4] == [1, 2, 4, 8]  # not [1, 2, 1, 2]: the watch that delivered does not reset the steps
    # each very short watch is followed by a list (client-go's reflector), the one that delivered by a watch
    asked = ["watch" if q.get("watch") == "true" else "list" for p, q in fake.requests if p == KIND_PATH["Service"]]
    assert asked[:7] == ["list", "watch", "list", "watch", "list", "watch", "watch"]


# --------------------------------------------------------------------------- failures: said once, given up on


FORBIDDEN = ('services is forbidden: User "system:serviceaccount:kube-system:kube-proxy" cannot list resource '
             '"services" in API group "" at the cluster scope')


def test_a_refusal_is_said_once_with_the_server_s_reason_and_retried_until_it_works(fake, make, sleeps) -> None:
    populate(fake)
    fake.fail["Service"] = (403, "Forbidden", FORBIDDEN)
    seen = Mirror(make(kinds=[Kind.SERVICE]))
    seen.until(lambda: len(sleeps) >= 4)
    assert sleeps[:4] == [1, 2, 4, 8]
    assert seen.said() == [f"{fake.url}/api/v1/services: Service: warning: list failed: HTTP 403 Forbidden: "
                           f"{FORBIDDEN}; retrying from a new list with backoff, until it works"]
    del fake.fail["Service"]  # RBAC fixed: the follower gets there by itself
    seen.until(lambda: Kind.SERVICE in seen.synced)
    assert seen.keys(Kind.SERVICE) == {"default/s1"}


@pytest.mark.parametrize(("code", "reason", "message", "expected"), [
    (403, "Forbidden", FORBIDDEN, f"/api/v1/services: Service: list failed: HTTP 403 Forbidden: {FORBIDDEN}"),
    (401, "Unauthorized", "Unauthorized",
     ": list failed: HTTP 401 Unauthorized: the server did not accept the kubeconfig's credentials"),
    (404, "NotFound", "the server could not find the requested resource",
     "/api/v1/services: Service: list failed: HTTP 404 Not Found: the server could not find the requested "
     "resource"),
])
def test_a_bounded_run_gives_up_at_once_on_a_refusal(fake, make, sleeps, code, reason, message, expected) -> None:
    populate(fake)
    fake.fail["Service"] = (code, reason, message)
    src = make(give_up=4)
    with pytest.raises(InputError) as err:
        Mirror(src).until(lambda: False)
    assert str(err.value) == fake.url + expected
    assert len(fake.lists("Service")) == 1 and sleeps == []  # not retried


WATCH_FORBIDDEN = ('endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:kube-system:kube-proxy" '
                   'cannot watch resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope')
WATCH_REFUSED = (f"watch failed: HTTP 403 Forbidden: {WATCH_FORBIDDEN}; the list of endpointslices.discovery.k8s.io "
                 "was allowed but not the watch: the kubeconfig's user needs the \"watch\" verb on "
                 "endpointslices.discovery.k8s.io (kube-proxy's ClusterRole system:node-proxier grants list and watch)")


def test_a_bounded_run_gives_up_on_a_watch_refused_for_good(fake, make, sleeps) -> None:
    """A role that may list but not watch: the bounded run's first sync waits for the watches, so it ends."""
    populate(fake)
    fake.fail_watch["EndpointSlice"] = (403, "Forbidden", WATCH_FORBIDDEN)
    seen = Mirror(make(kinds=[Kind.ENDPOINT_SLICE], give_up=4))
    with pytest.raises(InputError) as err:
        seen.until(lambda: False)
    assert str(err.value) == f"{fake.url}/apis/discovery.k8s.io/v1/endpointslices: EndpointSlice: {WATCH_REFUSED}"
    assert seen.keys(Kind.ENDPOINT_SLICE) == {"default/s1-1"}  # what the list gave is handed out ...
    assert Kind.ENDPOINT_SLICE not in seen.synced  # ... but not its BOOKMARK: no first sync on it
    assert len(fake.lists("EndpointSlice")) == 1 and sleeps == []  # not retried
    assert seen.said() == []


def test_a_bounded_run_syncs_once_the_watches_are_allowed(fake, make) -> None:
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE, Kind.ENDPOINT_SLICE], give_up=4))
    seen.until(lambda: seen.synced == {Kind.SERVICE, Kind.ENDPOINT_SLICE})
    assert fake.watches("Service") and fake.watches("EndpointSlice") and seen.said() == []


def test_a_follower_retries_a_refused_watch_as_the_reflector_does_and_says_so_once(fake, make, sleeps) -> None:
    populate(fake)
    fake.fail_watch["EndpointSlice"] = (403, "Forbidden", WATCH_FORBIDDEN)
    seen = Mirror(make(kinds=[Kind.ENDPOINT_SLICE]))
    seen.until(lambda: len(sleeps) >= 4)
    assert Kind.ENDPOINT_SLICE in seen.synced  # a follower syncs on its list, as kube-proxy does
    assert sleeps[:4] == [1, 2, 4, 8]  # the reflector's backoff, not reset by the lists that work between
    assert len(fake.lists("EndpointSlice")) >= 4  # as client-go: a refused watch ends the round, the next lists
    assert seen.said() == [f"{fake.url}/apis/discovery.k8s.io/v1/endpointslices: EndpointSlice: warning: "
                           f"{WATCH_REFUSED}; retrying from a new list with backoff, until it works"]
    del fake.fail_watch["EndpointSlice"]  # RBAC fixed: the follower gets there by itself
    fake.add("EndpointSlice", slice_json("s1-2", "s1", ["10.1.0.2"]))
    seen.until(lambda: "default/s1-2" in seen.keys(Kind.ENDPOINT_SLICE))
    assert len(seen.said()) == 1


WATCH_500 = ("watch failed: HTTP 500 Internal Server Error: etcd is sad; retrying from a new list with backoff, "
             "until it works")


@pytest.mark.parametrize("give_up", [None, 4])
def test_a_first_watch_failing_with_a_retryable_error_is_said_once(fake, make, sleeps, give_up) -> None:
    """A bounded run's first watch failing with an error retrying may cure hands its BOOKMARK out (its first
    sync need not wait) and is retried as a follower's: said once, not on every retry."""
    populate(fake)
    fake.fail_watch["EndpointSlice"] = (500, "Internal Server Error", "etcd is sad")
    seen = Mirror(make(kinds=[Kind.ENDPOINT_SLICE], give_up=give_up))
    seen.until(lambda: len(sleeps) >= 4)
    assert Kind.ENDPOINT_SLICE in seen.synced
    assert seen.said() == [f"{fake.url}/apis/discovery.k8s.io/v1/endpointslices: EndpointSlice: warning: "
                           f"{WATCH_500}"]


def test_a_bounded_run_still_gives_up_on_a_watch_refused_for_good_after_a_retryable_failure(
        fake, make, sleeps) -> None:
    populate(fake)
    fake.fail_watch["EndpointSlice"] = (500, "Internal Server Error", "etcd is sad")
    seen = Mirror(make(kinds=[Kind.ENDPOINT_SLICE], give_up=4))
    seen.until(lambda: len(sleeps) >= 2)
    fake.fail_watch["EndpointSlice"] = (403, "Forbidden", WATCH_FORBIDDEN)
    with pytest.raises(InputError) as err:
        seen.until(lambda: False)
    assert str(err.value) == f"{fake.url}/apis/discovery.k8s.io/v1/endpointslices: EndpointSlice: {WATCH_REFUSED}"
    assert len(seen.said()) == 1


def test_live_once_ends_on_a_refused_watch_with_exit_status_1(fake, tmp_path, capsys) -> None:
    from kubeproxy_sim.cli.main import EXIT_INVALID_INPUT, main

    populate(fake)
    fake.fail_watch["EndpointSlice"] = (403, "Forbidden", WATCH_FORBIDDEN)
    kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
    start = time.monotonic()
    status = main(["watch", "--kubeconfig", kubeconfig, "--hostname-override", "n1", "--cluster-cidr",
                   "10.0.0.0/8", "--once"])
    assert time.monotonic() - start < 5
    captured = capsys.readouterr()
    assert status == EXIT_INVALID_INPUT and captured.out == ""  # no sync: the run ended before it
    lines = [line for line in captured.err.splitlines() if line.startswith("kubeproxy-sim:")]
    assert lines == [f"kubeproxy-sim: {fake.url}/apis/discovery.k8s.io/v1/endpointslices: EndpointSlice: "
                     f"{WATCH_REFUSED}"]


def test_a_bounded_run_gives_up_on_an_unreachable_server_after_some_attempts(dead_server, sleeps) -> None:
    kubeconfig, url = dead_server
    port = url.rsplit(":", 1)[1]
    src = ApiServerSource(kubeconfig, sleep=sleeps.append, give_up=4,
                          backoff=Backoff(initial=1, maximum=8, jitter=0)).start()
    seen = Mirror(src)
    try:
        with pytest.raises(InputError) as err:
            seen.until(lambda: False)
    finally:
        src.close(timeout=2)
    assert str(err.value) == (f"{url}: list failed: connection refused by 127.0.0.1:{port} (is the API server "
                              "running there?); gave up after 4 attempts")
    assert set(sleeps) <= {1, 2, 4} and 4 in sleeps  # three kinds back off side by side: 1, 2, 4, then give up
    # the kinds share one server: said once, not once per kind and attempt
    assert seen.said() == [f"{url}: warning: list failed: connection refused by 127.0.0.1:{port} (is the "
                           "API server running there?); retrying from a new list with backoff, up to 4 attempts"]


def test_failures_are_described_in_one_line() -> None:
    import urllib3
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, SSLError

    conn = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    refused = NewConnectionError(conn, "Failed to establish a new connection: [Errno 111] Connection refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    wrapped = MaxRetryError(urllib3.HTTPConnectionPool("127.0.0.1", 9), "/api/v1/nodes?limit=500", refused)
    failure = classify(wrapped, "127.0.0.1:9")
    assert failure.text == "connection refused by 127.0.0.1:9 (is the API server running there?)"
    assert not failure.permanent and failure.server_wide
    verify = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                             "self-signed certificate in certificate chain (_ssl.c:1006)")
    failure = classify(MaxRetryError(urllib3.HTTPConnectionPool("k8s", 6443), "/", SSLError(verify)), "k8s:6443")
    assert failure.permanent and failure.server_wide and failure.text.startswith(
        "TLS with k8s:6443 failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert not classify(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "k8s:6443").permanent
    assert classify(HttpStatusError(500, "Internal Server Error", "etcd timeout"), "x").permanent is False
    broken = classify(ProtocolError("Connection broken: IncompleteRead(0 bytes read)"), "k8s:6443")
    assert broken.text == "the connection to k8s:6443 broke (Connection broken: IncompleteRead(0 bytes read))"


def test_a_proxy_that_refuses_is_named_not_the_server() -> None:
    """The re-fuzz of session 19: with a proxy-url whose proxy was not running, the watch said "connection
    refused by 127.0.0.1:37011 (is the API server running there?)", naming the server that was running."""
    import urllib3
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProxyError

    refused = NewConnectionError(urllib3.connection.HTTPConnection("127.0.0.1", 3128),
                                 "Failed to establish a new connection: [Errno 111] Connection refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    wrapped = MaxRetryError(urllib3.HTTPConnectionPool("127.0.0.1", 6443), "/api/v1/nodes",
                            ProxyError("Unable to connect to proxy", refused))
    assert classify(wrapped, "127.0.0.1:6443").text == (
        "connection refused by the proxy 127.0.0.1:3128 (the cluster's proxy-url: is a proxy running there?)")


@pytest.mark.parametrize("status", ["407 Proxy Authentication Required", "502 Connection refused",
                                    "503 Service Unavailable"])
def test_a_proxy_that_answers_but_refuses_the_tunnel_says_so(status: str) -> None:
    """Review r8: a proxy that answers the CONNECT with 407, 502 or 503 gave urllib3's text ("MaxRetryError: ...
    Unable to connect to proxy") or, its reason saying "refused", asked whether a proxy was running there."""
    import socket
    import threading

    import urllib3

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
            urllib3.ProxyManager(f"http://127.0.0.1:{port}", retries=0).request("GET", "https://k8s:6443/version")
    finally:
        thread.join(5)
        listener.close()
    failure = classify(caught.value, "k8s:6443", f"127.0.0.1:{port}")
    assert failure.text == f"the proxy 127.0.0.1:{port} refused the tunnel to k8s:6443: {status}"
    assert failure.server_wide


def test_a_status_body_gives_its_message() -> None:
    body = json.dumps(status(403, "Forbidden", FORBIDDEN)).encode()
    refused = HttpStatusError(403, "Forbidden", _status_message(body))  # what a refused request raises
    assert classify(refused, "x").text == f"HTTP 403 Forbidden: {FORBIDDEN}"
    # a Status that says no more than its reason: our hint, or nothing
    assert str(HttpStatusError(401, "Unauthorized", "Unauthorized")) == (
        "HTTP 401 Unauthorized: the server did not accept the kubeconfig's credentials")
    assert str(HttpStatusError(404, "Not Found", "Not Found")) == "HTTP 404 Not Found"


# --------------------------------------------------------------------------- Ctrl-C while a LIST is pending


@pytest.mark.parametrize("where", ["before-headers", "mid-body"])
def test_close_cuts_a_pending_list_at_once(fake, make, where) -> None:
    populate(fake)
    if where == "before-headers":
        fake.hold_lists = True
    else:
        fake.stall_bodies = True
    src = make()
    deadline = time.monotonic() + 10
    while len([p for p, q in fake.requests if "watch" not in q]) < 3:
        assert time.monotonic() < deadline, fake.requests
        time.sleep(0.01)
    time.sleep(0.05)  # the reflectors are now blocked reading
    start = time.monotonic()
    src.close(timeout=5)
    assert time.monotonic() - start < 1.0  # cut, not waited out against the deadline
    assert not [t for t in src._threads if t.is_alive()]
    assert src.poll().diagnostics == ()  # stopping is not a failure to report


# --------------------------------------------------------------------------- TLS and kubeconfig quirks


def _tls_kubeconfig(path: Path, server: str, cluster: str) -> str:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: {server}
{cluster}users:
- name: u
  user:
    token: not-a-secret
contexts:
- name: c
  context: {{cluster: c, user: u}}
current-context: c
""")
    return str(path)


def test_tls_with_the_ca_works_and_without_it_is_given_up_on_at_once(tls_fake, tmp_path, sleeps) -> None:
    good = _tls_kubeconfig(tmp_path / "good", tls_fake.url, f"    certificate-authority: {tmp_path}/server.crt\n")
    synced(good, sleep=sleeps.append)
    bad = _tls_kubeconfig(tmp_path / "bad", tls_fake.url, "")  # the system's CAs do not know this one
    err = given_up(bad, sleep=sleeps.append)
    assert str(err).startswith(f"{tls_fake.url}: list failed: TLS with 127.0.0.1:") and (
        "CERTIFICATE_VERIFY_FAILED" in str(err))
    assert sleeps == []


@pytest.fixture
def mtls_fake(tmp_path):
    """A server that ends the TLS handshake of a client without a certificate signed by TEST_CERT."""
    server = tls_server(tmp_path, require_client_cert=True)
    yield server
    server.stop()


def test_a_server_requiring_a_client_certificate_is_named_as_such(mtls_fake, tmp_path, sleeps) -> None:
    """Its refusal reaches the client as an EOF or an alert, neither of which says what is missing."""
    ca = f"    certificate-authority: {tmp_path}/server.crt\n"
    without = _tls_kubeconfig(tmp_path / "no-cert", mtls_fake.url, ca)
    src = ApiServerSource(without, kinds=[Kind.SERVICE], sleep=sleeps.append, give_up=4)
    assert "_no_client_cert" not in vars(src)  # the kubeconfig is read again for the hint only once a handshake fails
    seen = Mirror(src.start())
    try:
        with pytest.raises(InputError) as err:
            seen.until(lambda: False)
    finally:
        src.close(timeout=2)
    assert vars(src)["_no_client_cert"] is not None  # read at the first closed handshake, kept for the retries
    port = mtls_fake.url.rsplit(":", 1)[1]
    why = (f"list failed: TLS with 127.0.0.1:{port} failed: the server closed the TLS handshake, as a server that "
           "requires a client certificate does, and the kubeconfig's user 'u' has no client-certificate (expected "
           "client-certificate and client-key, or client-certificate-data and client-key-data, for that user in "
           f"{without}) (")
    said = [*seen.said(), str(err.value)]  # the first of them is what the user reads first
    assert all(why in text for text in said), said
    with_cert = Path(without).read_text().replace(
        "    token: not-a-secret\n",
        f"    client-certificate: {tmp_path}/server.crt\n    client-key: {tmp_path}/server.key\n")
    (tmp_path / "cert").write_text(with_cert)
    assert synced(tmp_path / "cert", sleep=sleeps.append).keys(Kind.SERVICE) == {"default/s1"}


def test_a_closed_handshake_is_not_blamed_on_a_certificate_the_kubeconfig_gives(tmp_path) -> None:
    from kubeproxy_sim.objects.load import safe_load
    from kubeproxy_sim.watch.apiserver import _no_client_certificate

    base = _tls_kubeconfig(tmp_path / "kc", "https://k8s:6443", "")
    assert _no_client_certificate(safe_load(Path(base).read_text())[0], base, None) is not None
    for user in ("    client-certificate-data: Zm9v\n    client-key-data: Zm9v\n",
                 "    exec: {apiVersion: client.authentication.k8s.io/v1, command: mint, interactiveMode: Never}\n"):
        data, _ = safe_load(Path(base).read_text().replace("    token: not-a-secret\n", user))
        assert _no_client_certificate(data, base, None) is None, user
    failure = classify(ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)"), "k8s:6443")
    assert failure.handshake_closed and not failure.permanent


def test_a_closed_handshake_looks_at_the_user_client_go_chooses(tmp_path) -> None:
    """Review r8: a context naming no user chooses the user named "" (a nameless entry), as client-go's lookup
    does; the handshake's explanation looked the user up apart (``_entries``) and found none there."""
    from kubeproxy_sim.objects.load import safe_load
    from kubeproxy_sim.watch.apiserver import _no_client_certificate
    from kubeproxy_sim.watch.kubeconfig_types import go_decoded

    base = _tls_kubeconfig(tmp_path / "kc", "https://k8s:6443", "")
    text = Path(base).read_text().replace("- name: u\n", "- name: ''\n").replace(", user: u}", "}")
    assert text.count("name: ''") == 1 and "user: u" not in text
    data = go_decoded(safe_load(text.replace("    token: not-a-secret\n",
                                             "    client-certificate-data: Zm9v\n    client-key-data: Zm9v\n"))[0])
    assert _no_client_certificate(data, base, None) is None
    said = _no_client_certificate(go_decoded(safe_load(text)[0]), base, None)
    assert said is not None and "the kubeconfig's user '' has no client-certificate" in said


def test_insecure_skip_tls_verify_is_quiet(tls_fake, tmp_path, sleeps) -> None:
    kubeconfig = _tls_kubeconfig(tmp_path / "insecure", tls_fake.url, "    insecure-skip-tls-verify: true\n")
    with warnings.catch_warnings(record=True) as caught:
        seen = synced(kubeconfig, sleep=sleeps.append)
    assert seen.keys(Kind.SERVICE) == {"default/s1"}
    assert [w for w in caught if "Unverified HTTPS request" in str(w.message)] == []


def test_a_server_without_a_scheme(fake, tmp_path, sleeps) -> None:
    populate(fake)
    bare = fake.url.removeprefix("http://")
    kubeconfig = _tls_kubeconfig(tmp_path / "bare", bare, "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seen = synced(kubeconfig, sleep=sleeps.append)
    assert [w for w in caught if "scheme" in str(w.message)] == []  # no urllib3 FutureWarning
    note = f"note: the server '{bare}' has no scheme; using http://{bare}, as kubectl does (whatever the TLS settings)"
    assert seen.said(Severity.NOTE) == [f"{kubeconfig}: {note}"]
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")  # (read before: one that is not there is said)
    for name, tls in (("bare-ca", f"    certificate-authority: {tmp_path}/ca.crt\n"),
                      ("bare-insecure", "    insecure-skip-tls-verify: true\n")):
        # review r8: kubectl 1.33 (the oracle) sends http:// with either (IsConfigTransportTLS is asked before the
        # cluster's TLS fields are merged); it was refused with a CA, and given https:// when insecure
        with_tls = _tls_kubeconfig(tmp_path / name, bare, tls)
        assert synced(with_tls, sleep=sleeps.append).said(Severity.NOTE) == [f"{with_tls}: {note}"]


def test_the_generated_api_classes_are_not_imported(fake, tmp_path) -> None:
    """CoreV1Api costs a second or two to import; the source builds its URLs itself."""
    import subprocess
    import sys

    populate(fake)
    kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
    code = f"""import sys
import kubernetes.config  # what reading a kubeconfig costs anyway (older clients load every API class here)
def apis(): return {{m for m in sys.modules if m.startswith("kubernetes.client.api.")}}
before = apis()
from kubeproxy_sim.watch import ApiServerSource, Kind
src = ApiServerSource({kubeconfig!r}, kinds=[Kind.SERVICE]).start()
while not any(e.type.value == "BOOKMARK" for e in src.poll(0.05).events):
    pass
src.close()
print(sorted(apis() - before))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"



# --------------------------------------------------------------------------- servers and credentials that change


def test_a_watch_refused_for_its_resource_version_is_followed_by_a_new_list(fake, make, sleeps) -> None:
    """A server restored from a backup refuses the old resourceVersion as too large, forever; client-go lists
    again after any watch refusal but 429, and so must we, or the rules stay stale."""
    populate(fake)
    fake.watch_seconds = 0.05
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced)
    fake.fail_watch["Service"] = (504, "Gateway Timeout", "Too large resource version: 138, current: 109")
    lists = len(fake.lists("Service"))
    seen.until(lambda: len(fake.lists("Service")) > lists)
    assert any("Too large resource version" in said for said in seen.said())


def test_a_busy_server_gets_the_same_watch_again(fake, make, sleeps) -> None:
    populate(fake)
    fake.watch_seconds = 0.05
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced)
    fake.fail_watch["Service"] = (429, "Too Many Requests", "storage is (re)initializing")
    seen.until(lambda: len(sleeps) >= 3)
    assert len(fake.lists("Service")) == 1  # the same watch again, from the same resourceVersion


def test_a_token_file_ending_in_a_newline_works(tls_fake, tmp_path) -> None:
    """echo and secret tooling end a token file with a newline; client-go trims it. (An https server: client-go
    reads a user's credentials only for one.)"""
    (tmp_path / "token").write_text("tok1\n")
    seen = synced(with_user(tls_fake, tmp_path / "kc", {"tokenFile": str(tmp_path / "token")},
                            **{"insecure-skip-tls-verify": True}))
    assert seen.said() == [] and tls_fake.authorization[-1] == "Bearer tok1"


def test_a_token_file_is_not_read_for_an_http_server(fake, tmp_path) -> None:
    """Review r8 (kubectl 1.33 the oracle): client-go takes a user's credentials only for an https server
    (IsConfigTransportTLS), so a token file that is not there is no matter for http://; it was refused."""
    populate(fake)
    seen = synced(with_user(fake, tmp_path / "kc", {"tokenFile": str(tmp_path / "nowhere")}))
    assert seen.said() == [] and fake.authorization[-1] is None


def test_a_rotated_token_file_is_read_again_a_minute_after_the_last_reading(tls_fake, tmp_path, sleeps) -> None:
    """A rotated token file (kube-proxy's projected service-account token): client-go's file token source reads it
    again 50 seconds after its last reading (by the clock, not after a 401): the follower recovers then.
    tests/watch/test_apiserver_token_file.py has the rest."""
    fake = tls_fake
    token = tmp_path / "token"
    token.write_text("old")
    kubeconfig = with_user(fake, tmp_path / "kc", {"tokenFile": str(token)}, **{"insecure-skip-tls-verify": True})
    fake.require_authorization = "Bearer new"  # the server has rotated the token; the file is behind
    wall = [1000.0]
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=sleeps.append, now=lambda: wall[0],
                          backoff=Backoff(initial=1, maximum=8, jitter=0))
    try:
        src.start()
        seen = Mirror(src)
        seen.until(lambda: len(sleeps) >= 2)
        token.write_text("new")  # the kubelet rotates the projected token
        seen.until(lambda: len(sleeps) >= 4)
        assert set(fake.authorization) == {"Bearer old"}  # (not read again within the minute, 401s or not)
        wall[0] += 50
        seen.until(lambda: Kind.SERVICE in seen.synced)
    finally:
        src.close(timeout=2)
    assert fake.authorization[0] == "Bearer old" and fake.authorization[-1] == "Bearer new"


def test_a_failing_exec_plugin_is_one_line_about_the_plugin(tls_fake, tmp_path) -> None:
    """(An https server: client-go runs no exec plugin for an http:// one.)"""
    import sys

    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
        "args": ["-c", "import sys; sys.stderr.write('you must be logged in'); sys.exit(1)"],
        "interactiveMode": "Never"}})
    from kubeproxy_sim.watch.apiserver import connect

    with pytest.raises(InputError, match=r"cannot get the kubeconfig's credentials: exec: executable .* failed with "
                       r"exit code 1 \(its stderr: you must be logged in\)"):
        connect(str(kubeconfig))  # (the watch fails each request instead: test_apiserver_exec_missing.py)


def test_a_stream_cut_mid_response_says_so() -> None:
    from urllib3.exceptions import ProtocolError

    cut = ProtocolError("Connection broken: InvalidChunkLength(got length b'', 0 bytes read)")
    cut.__cause__ = ValueError("invalid literal for int() with base 16: b''")
    assert classify(cut, "127.0.0.1:6443").text == "127.0.0.1:6443 closed the connection in the middle of a response"
