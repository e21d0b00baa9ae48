"""watch --kubeconfig: a server name Go's pure resolver (kubectl is built with CGO_ENABLED=0) refuses before it asks
DNS, failing each request "dial tcp: lookup NAME: no such host" (kubectl 1.33, the oracle, in a network namespace
of its own with a listener on 127.0.0.1 and an /etc/hosts of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.watch.apiserver import _dial_problem

from ._kubeconfigs import given_up, kubeconfig_for, port_of, synced, with_user

pytest.importorskip("kubernetes")


@pytest.mark.parametrize(("server", "name"), [
    ("http://127.1:6443", "127.1"), ("http://2130706433:6443", "2130706433"),  # (no IP to Go: glibc's inet_aton)
    ("http://127.000.0.1:6443", "127.000.0.1"), ("http://1.2.3.4.", "1.2.3.4."),
    ("http://a..b", "a..b"), ("http://.a", ".a"), ("http://-a:6443", "-a"), ("http://a-.b", "a-.b"),
    ("http://" + "a" * 70, "a" * 70), ("http://[127.1]:6443", "127.1"),
    ("http://.", "."),  # (the root: kubectl asked DNS, unreachable there; where it answers, it has no address)
    ("http://\u0663", "\u0663")])
def test_no_domain_name_to_go_s_resolver_is_not_found(tmp_path: Path, server: str, name: str) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    assert _dial_problem(server, str(hosts)) == f"dial tcp: lookup {name}: no such host"


@pytest.mark.parametrize("server", [
    "http://1234.:6443",  # (in the hosts file: kubectl reached it)
    "http://a.:6443", "http://0x7f.1:6443", "http://a_b", "http://localhost", "http://127.0.0.1:1", "http://[::1]:1",
    "http://bücher.example", "http://\u200b", "http://:1"])
def test_a_name_an_address_or_one_in_the_hosts_file_is_dialed(tmp_path: Path, server: str) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 other 1234.  # a comment\n")
    assert _dial_problem(server, str(hosts)) is None


@pytest.mark.parametrize(("name", "addresses"), [
    ("1234.", ["127.0.0.9"]), ("1234", []), ("5678", ["127.0.0.9"]), ("5678.", []),  # (a last dot added to a
    ("localhost", ["127.0.0.1", "::1"]), ("localhost.", []), ("LOCALHOST", ["127.0.0.1", "::1"]),  # dotted name only)
    ("myname.example.", ["127.0.0.9"]), ("MyName.Example", ["127.0.0.9"]), ("up.example.", ["127.0.0.9"]),
    ("bogus", []), ("127.0.0.7", []),  # (a line whose first field is no IP address to Go is skipped)
    ("zero", []), ("tabbed.example", ["127.0.0.6"]), ("commented", []), ("zoned", ["fe80::1%lo"])])
def test_the_hosts_file_is_matched_as_go_s_resolver_matches_it(tmp_path: Path, name: str,
                                                              addresses: list[str]) -> None:
    """Reviewer r9: a trailing dot was dropped from both sides, so ``1234`` matched a line's ``1234.`` (Go 1.19's
    LookupHost, pure resolver, in a namespace with this file: "lookup 1234: no such host"), and a line whose first
    field is no address counted. Go keys a name in small ASCII letters, with a last dot added to one with a dot."""
    from kubeproxy_sim.watch.apiserver import _hosts_addresses

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.9 127.1 myname.example 1234. 5678 "
                     "Up.Example\nnotanip 127.0.0.7 bogus\n127.000.0.1 zero\nfe80::1%lo zoned\n"
                     "127.0.0.6\ttabbed.example\t# commented\n")
    assert _hosts_addresses(name, str(hosts)) == addresses


def test_a_name_go_finds_in_the_hosts_file_only_by_its_number_is_not_found_there(tmp_path: Path) -> None:
    """``1234`` is no domain name to Go and its line says ``1234.``: kubectl fails each request; the watch dialed
    it (reviewer r9)."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 other 1234.\n")
    assert _dial_problem("http://1234:6443", str(hosts)) == "dial tcp: lookup 1234: no such host"


@pytest.mark.parametrize(("name", "dialed"), [
    ("0x7f.1", "0x7f.1."), ("0x7f000001", "0x7f000001."), ("0177.0.0.1.x", None),  # (not listed: Go asks DNS)
    ("127.1", "127.0.0.9"), ("127.1.", "127.0.0.9"), ("0x7f.2", "127.0.0.5"), ("myname.example.", "127.0.0.9"),
    ("six.example.", "[fe80::1%25lo]"), ("myname.example", None), ("localhost", None), ("a.b", None)])
def test_a_name_glibc_reads_otherwise_than_go_is_dialed_as_go_reaches_it(tmp_path: Path, name: str,
                                                                        dialed: str | None) -> None:
    """Reviewer r9: glibc's getaddrinfo reads a name inet_aton takes (``0x7f.1``) as that address before its hosts
    file, and matches no line to a name with a last dot; Go reads the hosts file first and asks DNS for
    ``0x7f.1`` (Go 1.19's LookupHost: "lookup 0x7f.1 on 127.0.0.1:53"). A last dot makes glibc ask DNS too."""
    from kubeproxy_sim.watch.apiserver import _resolved_host

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.9 127.1 myname.example\n127.0.0.5 0x7f.2\nfe80::1%lo six.example\n")
    assert _resolved_host(name, str(hosts)) == dialed


def test_behind_a_proxy_the_server_s_name_is_not_resolved_but_the_proxy_s_is() -> None:
    """Go sends the proxy the server's name (CONNECT, or the request's URL) and dials the proxy's own."""
    from kubeproxy_sim.watch.apiserver import _cluster_as_dialed

    assert _cluster_as_dialed({"server": "http://0x7f.1:1", "proxy-url": "http://0x7f.2:3128"}) == {
        "server": "http://0x7f.1:1", "proxy-url": "http://0x7f.2.:3128"}
    assert _cluster_as_dialed({"server": "https://0x7f.1:1"}) == {
        "server": "https://0x7f.1.:1", "tls-server-name": "0x7f.1"}


@pytest.mark.parametrize(("listening", "line", "name"), [
    ("127.0.0.9", "127.0.0.9 127.1", "127.1"),  # (glibc: 127.0.0.1)
    ("127.0.0.1", "127.0.0.1 0x7f.2", "0x7f.2"),  # (glibc: 127.0.0.2)
    ("127.0.0.9", "127.0.0.9 myname.example", "myname.example.")])  # (glibc: DNS)
def test_a_name_in_the_hosts_file_reaches_its_address_there(monkeypatch, tmp_path: Path, listening: str, line: str,
                                                            name: str) -> None:
    """Reviewer r9: the watch dialed what glibc reads in the name, not the hosts file's address Go reaches, and sent
    the Host header as written (net/http: req.URL.Host)."""
    from kubeproxy_sim.watch import Kind, apiserver

    from ._fake_apiserver import FakeApiServer
    from ._kubeconfigs import populate

    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{line}\n")
    monkeypatch.setattr(apiserver, "HOSTS_FILE", str(hosts))
    server = FakeApiServer(address=listening).start()
    try:
        populate(server)
        kubeconfig = with_user(server, tmp_path / "kc", {}, server=f"http://{name}:{port_of(server)}")
        assert synced(kubeconfig, sleep=lambda _: None).keys(Kind.SERVICE) == {"default/s1"}
    finally:
        server.stop()
    assert set(server.host_headers) == {f"{name}:{port_of(server)}"}


def test_a_numeric_name_is_not_dialed_as_glibc_reads_it(populated, tmp_path: Path) -> None:
    """The watch reached 127.0.0.1 for http://127.1:PORT (glibc's getaddrinfo reads it as inet_aton does) and
    synced; kubectl 1.33 failed its request, "dial tcp: lookup 127.1: no such host"."""
    port = port_of(populated)
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server=f"http://127.1:{port}")
    assert str(given_up(kubeconfig, sleep=lambda _: None)) == (
        f"http://127.1:{port}: list failed: cannot connect to 127.1:{port}: dial tcp: lookup 127.1: no such host")
    assert populated.requests == []


@pytest.mark.parametrize(("server", "name"), [("http://a..b:1", "a..b"), ("http://" + "a" * 64 + ":1", "a" * 64)])
def test_a_name_python_s_idna_codec_refuses_fails_in_go_s_words(tmp_path: Path, server: str, name: str) -> None:
    """urllib3 said "LocationParseError: Failed to parse: 'a..b', label empty or too long" at each attempt."""
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(kubeconfig_for(server))
    host = server.removeprefix("http://")
    assert str(given_up(kubeconfig, sleep=lambda _: None)) == (
        f"{server}: list failed: cannot connect to {host}: dial tcp: lookup {name}: no such host")


@pytest.mark.parametrize("server", ["https://a\x00x", "http://ü x", "http://\u0663 :1"])
def test_a_server_go_s_url_parse_refuses_is_refused_at_start_still(tmp_path: Path, server: str) -> None:
    """The name is no domain name (its dial would fail so), but Go's url.Parse refuses the URL before any dial
    ("invalid control character in URL", a space in the host): refused as the kubeconfig is read, not an internal
    error (netaddr's inet_pton on a NUL) nor a dial's failure."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.watch import Kind
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(kubeconfig_for(server))
    with pytest.raises(InputError, match="is not a URL"):
        ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])


@pytest.mark.parametrize(("proxy", "name"), [("http://\u0663:3128", "\u0663"), ("http://127.1:3128", "127.1"),
                                             ("https://a..b:3128", "a..b"), ("socks5://127.1", "127.1")])
def test_a_proxy_go_s_resolver_finds_no_address_for_is_refused_as_the_kubeconfig_is_read(
        tmp_path: Path, proxy: str, name: str) -> None:
    """kubectl 1.33 failed each request "proxyconnect tcp: dial tcp: lookup \\u0663: no such host" (127.1 and a..b
    likewise); the watch refuses a proxy-url no connection can use at start, naming the field (as for a name with
    colons, 136a85f). It said "cannot use this kubeconfig: Failed to parse: Name '\\u0663' is not a valid IDNA
    label", dialed 127.0.0.1 for 127.1, and blamed the server's host for a..b."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.watch import Kind
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(kubeconfig_for("http://10.1.1.1", **{"proxy-url": proxy}))
    with pytest.raises(InputError) as caught:
        ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])
    assert str(caught.value) == (
        f"{kubeconfig}: clusters[0].cluster.proxy-url: \"{proxy}\" is not a proxy URL (lookup {name}: no such host); "
        "expected http://, https:// or socks5://HOST[:PORT]")


def test_a_proxy_s_non_ascii_name_is_dialed_as_idna_lookup_maps_it() -> None:
    """kubectl 1.33 looked up xn--bcher-kva.example for proxy-url http://bücher.example:3128, and reached the local
    system for http://\\u200b:3128 (the server's connection was then refused there)."""
    from kubeproxy_sim.watch.apiserver import _dialed_proxy

    assert _dialed_proxy("http://bücher.example:3128") == "http://xn--bcher-kva.example:3128"
    assert _dialed_proxy("http://\u200b:3128") == "http://0.0.0.0:3128"


def test_an_https_name_in_the_hosts_file_is_checked_against_its_certificate_by_name(monkeypatch,
                                                                                    tmp_path: Path) -> None:
    """Go dials the hosts file's address for ``myname.example.`` and checks the certificate against the name
    (its ServerName, the last dot dropped as crypto/x509 drops it); dialing the address, urllib3 would check it
    against the address, so the name is the watch's tls-server-name."""
    import shutil
    import subprocess

    from kubeproxy_sim.watch import Kind, apiserver

    from ._fake_apiserver import FakeApiServer
    from ._kubeconfigs import populate

    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate for a name")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=myname", "-addext", "subjectAltName=DNS:myname.example",
                    "-keyout", str(tmp_path / "server.key"), "-out", str(tmp_path / "server.crt")],
                   check=True, capture_output=True)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 myname.example\n")
    monkeypatch.setattr(apiserver, "HOSTS_FILE", str(hosts))
    server = FakeApiServer(cert_dir=tmp_path).start()
    try:
        populate(server)
        kubeconfig = with_user(server, tmp_path / "kc", {}, server=f"https://myname.example.:{port_of(server)}",
                               **{"certificate-authority": str(tmp_path / "server.crt")})
        assert synced(kubeconfig, sleep=lambda _: None).keys(Kind.SERVICE) == {"default/s1"}
    finally:
        server.stop()
    assert set(server.host_headers) == {f"myname.example.:{port_of(server)}"}


def test_the_hosts_file_is_read_again_when_it_changed_as_go_s_resolver_reads_it(monkeypatch, tmp_path: Path) -> None:
    """Task b5 item 1: Go's resolver looks at the hosts file again 5 s after its last look and reads it again when
    its modification time or size changed (net/hosts.go readHosts, cacheMaxAge). http://127.1:PORT is no name to
    Go until a line gives it an address: the parent resolved it once at start and failed every request after the
    line was added ("lookup 127.1: no such host"); now the first request 5 s on reaches it."""
    from kubeproxy_sim.watch import Kind, apiserver
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    from ._fake_apiserver import FakeApiServer
    from ._kubeconfigs import populate
    from .conftest import Mirror

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    monkeypatch.setattr(apiserver, "HOSTS_FILE", str(hosts))
    now = [1000.0]
    server = FakeApiServer().start()
    try:
        populate(server)
        kubeconfig = with_user(server, tmp_path / "kc", {}, server=f"http://127.1:{port_of(server)}")
        src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, clock=lambda: now[0])
        seen = Mirror(src.start())
        try:
            seen.until(lambda: any("lookup 127.1: no such host" in said for said in seen.said()))
            hosts.write_text("127.0.0.1 localhost\n127.0.0.1 127.1\n")
            now[0] += 4.0  # (within 5 s of the last look: not looked at)
            seen.until(lambda: len(seen.said()) >= 1)
            assert server.requests == []
            now[0] += 1.5
            seen.until(lambda: Kind.SERVICE in seen.synced)
        finally:
            src.close(timeout=2)
    finally:
        server.stop()
    assert seen.keys(Kind.SERVICE) == {"default/s1"}
    assert set(server.host_headers) == {f"127.1:{port_of(server)}"}
