"""watch --kubeconfig: a cluster without proxy-url reaches its server as client-go's transport does, through the
proxy the environment names (task w1).

client-go's transport takes config.Proxy, which clientcmd sets from the cluster's proxy-url alone, else
http.ProxyFromEnvironment (transport/cache.go), which apimachinery's SetTransportDefaults wraps in
NewProxierWithNoProxyCIDR when client-go builds the transport itself (util/net/http.go): HTTPS_PROXY (https_proxy)
for an https server, HTTP_PROXY (http_proxy) for an http one, a value without a scheme taken as http://, never for
``localhost`` as written nor a loopback address, nor for a host NO_PROXY names; read once per process. The Python
client read the environment by Python's rules: it refused ``HTTPS_PROXY=127.0.0.1:3128`` ("Proxy URL had no
scheme"), and obeyed NO_PROXY over a proxy-url too. Every test sets the environment with monkeypatch alone.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource, _environment_proxy
from kubeproxy_sim.watch.go_proxy import client_go_proxy_for, proxy_for
from kubeproxy_sim.watch.oidc import PROXY_VARIABLES

from ._kubeconfigs import given_up, port_of, synced, with_user
from .conftest import Mirror
from .test_apiserver_proxy_tunnel import TunnelProxy, proxy  # noqa: F401

pytest.importorskip("kubernetes")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever proxy the machine running the tests has set is none of these tests' business."""
    for name in (*PROXY_VARIABLES, "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kubeconfig(fake, tmp_path: Path, host: str = "LOCALHOST", **cluster) -> Path:  # type: ignore[no-untyped-def]
    """The https fake's kubeconfig naming it by ``host`` (a token, its certificate not checked)."""
    return with_user(fake, tmp_path / "kc", {"token": "t"}, server=f"https://{host}:{port_of(fake)}",
                     **{"insecure-skip-tls-verify": True, **cluster})


def _tunnel(target: str) -> bytes:
    return f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: Go-http-client/1.1".encode()


def test_https_proxy_without_a_scheme_is_tunnelled_through_as_go_does(tls_fake, proxy: TunnelProxy,  # noqa: F811
                                                                       tmp_path: Path, monkeypatch) -> None:
    """``LOCALHOST`` is a name like any other to Go's rule (only ``localhost`` as written is never proxied)."""
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")
    seen = synced(_kubeconfig(tls_fake, tmp_path))
    assert seen.keys(Kind.SERVICE) == {"default/s1"} and seen.said() == []
    assert set(proxy.heads) == {_tunnel(f"LOCALHOST:{port_of(tls_fake)}")}


@pytest.mark.parametrize(("no_proxy", "proxied"), [
    ("localhost", False),  # (the host in small letters, as Go matches it)
    ("*", False),
    ("example.com, LOCALHOST:{port}", False),  # (a port: that port only)
    ("localhost:1", True),
    (".localhost", True),  # (a leading dot: the names under it only)
    ("127.0.0.0/8", True),  # (a name is no address: Go's resolver is not asked)
])
def test_no_proxy_sends_the_server_straight_or_not(tls_fake, proxy: TunnelProxy, tmp_path: Path,  # noqa: F811
                                                   monkeypatch, no_proxy: str, proxied: bool) -> None:
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("no_proxy", no_proxy.format(port=port_of(tls_fake)))
    assert synced(_kubeconfig(tls_fake, tmp_path)).keys(Kind.SERVICE) == {"default/s1"}
    assert bool(proxy.heads) is proxied


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]"])
def test_localhost_and_loopback_are_never_proxied(tls_fake, tmp_path: Path, monkeypatch, host: str) -> None:
    """The proxy named is not running: a request sent there would fail."""
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{_closed_port()}")
    if host.startswith("["):
        try:
            socket.create_connection(("::ffff:127.0.0.1", int(port_of(tls_fake))), 2).close()
        except OSError as exc:
            pytest.skip(f"no IPv4-mapped IPv6 here: {exc}")
    seen = synced(_kubeconfig(tls_fake, tmp_path, host))
    assert seen.keys(Kind.SERVICE) == {"default/s1"} and seen.said() == []


def test_the_proxy_url_wins_over_the_environment_and_its_no_proxy(tls_fake, proxy: TunnelProxy,  # noqa: F811
                                                                  tmp_path: Path, monkeypatch) -> None:
    """The Python client went straight to the server for NO_PROXY=*, past the cluster's proxy-url."""
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "*")
    synced(_kubeconfig(tls_fake, tmp_path, **{"proxy-url": f"http://127.0.0.1:{proxy.port}"}))
    assert set(proxy.heads) == {_tunnel(f"LOCALHOST:{port_of(tls_fake)}")}


def test_the_environment_proxy_s_user_is_sent_in_the_tunnel(tls_fake, proxy: TunnelProxy,  # noqa: F811
                                                            tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://us%40er:p%3Ass@127.0.0.1:{proxy.port}")
    synced(_kubeconfig(tls_fake, tmp_path))
    assert set(proxy.heads) == {_tunnel(f"LOCALHOST:{port_of(tls_fake)}") +
                                b"\r\nProxy-Authorization: Basic dXNAZXI6cDpzcw=="}


def test_an_http_server_goes_through_http_proxy(populated, tmp_path: Path, monkeypatch) -> None:
    """(The fake answers a request for an absolute URL as the proxy would pass it on.) HTTPS_PROXY is not asked."""
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HTTP_PROXY", populated.url.replace("http://", "http://us%40er:p%3Ass@"))
    synced(with_user(populated, tmp_path / "kc", {}, server="http://LOCALHOST:6443"))
    assert {target.partition("/api/")[0] for target in populated.targets} == {"http://LOCALHOST:6443"}
    assert populated.proxy_authorization and set(populated.proxy_authorization) == {"Basic dXNAZXI6cDpzcw=="}


def test_a_proxy_not_running_is_named_with_its_variable(tls_fake, tmp_path: Path, monkeypatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("https_proxy", f"127.0.0.1:{port}")
    error = given_up(_kubeconfig(tls_fake, tmp_path))
    assert f"connection refused by the proxy 127.0.0.1:{port} (https_proxy: is a proxy running there?)" in str(error)


def test_a_cgi_environment_refuses_http_proxy_at_each_request(populated, tmp_path: Path, monkeypatch) -> None:
    """Go's httpproxy refuses HTTP_PROXY when REQUEST_METHOD is set (golang.org/s/cgihttpproxy): the request fails,
    for a loopback server too; HTTPS_PROXY is not refused."""
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    monkeypatch.setenv("HTTP_PROXY", populated.url)
    error = given_up(with_user(populated, tmp_path / "kc", {}))
    assert ("refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy" in str(error)
            and populated.targets == [])


def test_the_environment_is_read_once_at_start(tls_fake, proxy: TunnelProxy, tmp_path: Path,  # noqa: F811
                                               monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")
    src = ApiServerSource(str(_kubeconfig(tls_fake, tmp_path)), kinds=[Kind.SERVICE])
    monkeypatch.setenv("NO_PROXY", "*")
    src.start()
    try:
        seen = Mirror(src)
        seen.until(lambda: Kind.SERVICE in seen.synced)
    finally:
        src.close(timeout=2)
    assert proxy.heads


# -- NewProxierWithNoProxyCIDR: the CIDR prefixes of NO_PROXY, as kube-proxy parses addresses ------------------------

ENV = {"HTTPS_PROXY": "p:1", "NO_PROXY": "10.0.0.0/8,example.com"}


@pytest.mark.parametrize(("url", "wrapped", "plain"), [
    ("https://10.1.2.3:6443", None, None),  # (both take the prefix)
    ("https://010.1.2.3:6443", None, "http://p:1"),  # (Go's ParseIP refuses a leading zero: a name to it)
    ("https://[::ffff:10.1.2.3]:6443", None, None),  # (IPNet.Contains: the IPv4 address)
    ("https://11.1.2.3:6443", "http://p:1", "http://p:1"),
    ("https://api.example.com", None, None),  # (a domain: Go's own rules, behind the wrapper)
])
def test_the_cidr_prefixes_are_asked_first_with_kube_proxy_s_parser(url: str, wrapped: str | None,
                                                                     plain: str | None) -> None:
    assert client_go_proxy_for(url, ENV, cidr_wrapped=True) == wrapped
    assert client_go_proxy_for(url, ENV, cidr_wrapped=False) == plain == proxy_for(url, ENV)


def test_a_sloppy_prefix_and_a_cgi_environment() -> None:
    """``010.0.0.0/8`` is 10.0.0.0/8 to ParseCIDRSloppy, nothing to Go; an address the wrapper keeps off the proxy
    never gets to Go's CGI refusal."""
    env = {"HTTP_PROXY": "p:1", "NO_PROXY": "010.0.0.0/8", "REQUEST_METHOD": "GET"}
    assert client_go_proxy_for("http://10.9.9.9", env) is None
    with pytest.raises(ValueError, match="CGI environment"):
        client_go_proxy_for("http://10.9.9.9", env, cidr_wrapped=False)


@pytest.mark.parametrize(("cluster", "user", "wrapped"), [
    ({"server": "https://010.0.0.1"}, {}, False),  # (no TLS option: http.DefaultTransport)
    ({"server": "https://010.0.0.1", "insecure-skip-tls-verify": True}, {}, True),
    ({"server": "https://010.0.0.1", "certificate-authority-data": "eA=="}, {}, True),
    ({"server": "https://010.0.0.1", "tls-server-name": "k8s"}, {}, True),
    ({"server": "https://010.0.0.1"}, {"client-certificate": "c.crt", "client-key": "c.key"}, True),
    ({"server": "https://010.0.0.1"}, {"exec": {"command": "x"}}, True),
    ({"server": "http://010.0.0.1", "insecure-skip-tls-verify": True}, {}, False),  # (TLS is not read for http)
])
def test_only_a_transport_client_go_builds_asks_the_prefixes(cluster: dict, user: dict, wrapped: bool) -> None:
    env = {"HTTPS_PROXY": "p:1", "HTTP_PROXY": "p:1", "NO_PROXY": "10.0.0.0/8"}
    found = _environment_proxy(cluster, user, env)
    assert (found is None) is wrapped
    assert found is None or (found.url, found.variable, found.problem) == ("http://p:1", "HTTP" + (
        "S" if cluster["server"].startswith("https") else "") + "_PROXY", None)


def test_what_the_environment_gives_that_no_request_can_use() -> None:
    bad = _environment_proxy({"server": "https://k8s"}, {}, {"HTTPS_PROXY": "ftp://p:21"})
    assert bad is not None and bad.url is None and bad.problem == (
        'HTTPS_PROXY="ftp://p:21": the proxy scheme "ftp" is none the watch can use (http, https, socks5)')
    socks = _environment_proxy({"server": "https://k8s"}, {}, {"https_proxy": "socks5h://p:1080"})
    assert socks is not None and (socks.url, socks.variable) == ("socks5://p:1080", "https_proxy")
    assert _environment_proxy({"server": "https://k8s", "proxy-url": "http://q:1"}, {}, {"HTTPS_PROXY": "p:1"}) is None


_HOSTS = st.sampled_from(["10.1.2.3", "010.1.2.3", "[::ffff:10.1.2.3]", "[fd00::1]", "k8s.example", "localhost",
                          "127.0.0.1", "[fe80::1%25eth0]", ""])
_RULES = st.sampled_from(["10.0.0.0/8", "010.0.0.0/8", " 10.0.0.0/8", "fd00::/8", "::ffff:10.0.0.0/104", "*",
                          ".example", "10.1.2.3", "k8s.example:443", ""])


@settings(max_examples=300, derandomize=True)
@given(scheme=st.sampled_from(["http", "https"]), host=_HOSTS, port=st.sampled_from(["", ":443", ":6443"]),
       rules=st.lists(_RULES, max_size=3), lower=st.booleans())
def test_the_wrapper_only_ever_keeps_a_request_off_the_proxy(scheme: str, host: str, port: str, rules: list[str],
                                                              lower: bool) -> None:
    """NewProxierWithNoProxyCIDR goes straight or asks Go's rules: it never names a proxy Go's rules would not,
    and without a CIDR prefix in NO_PROXY it is Go's rules."""
    url = f"{scheme}://{host}{port}/api"
    env = {"http_proxy" if lower else "HTTP_PROXY": "p:1", "HTTPS_PROXY": "q:2",
           "no_proxy" if lower else "NO_PROXY": ",".join(rules)}
    wrapped = client_go_proxy_for(url, env)
    assert wrapped is None or wrapped == proxy_for(url, env)
    if not any("/" in rule for rule in rules):
        assert wrapped == proxy_for(url, env)
