"""watch --kubeconfig: a server or proxy-url as Go dials it: one whose host is empty but for its port
(``https://:6443``), one without a scheme behind a proxy-url, a scheme in capitals (``HTTPS://``).

Go's net.Dial takes an empty host for the local system, and kubectl 1.33 (the oracle) reached a server on
127.0.0.1 through ``http://:PORT``, ``:PORT`` and ``http://[]:PORT``, and through ``https://:PORT`` with
insecure-skip-tls-verify or a tls-server-name; without either, every request fails ("tls: either ServerName or
InsecureSkipVerify must be specified in the tls.Config"). Session 19 refused each of them ("no host").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import connect

from ._kubeconfigs import port_of, synced, with_user

pytest.importorskip("kubernetes")


@pytest.mark.parametrize("server", ["http://:{port}", ":{port}", "http://[]:{port}", "http://@:{port}"])
def test_an_http_server_with_an_empty_host_is_the_local_system(populated, tmp_path: Path, server: str) -> None:
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server=server.format(port=port_of(populated)))
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}


@pytest.mark.parametrize("cluster", [{"insecure-skip-tls-verify": True},
                                     {"certificate-authority": "server.crt", "tls-server-name": "127.0.0.1"}])
def test_an_https_server_with_an_empty_host_and_a_server_name_or_no_verification(
        tls_fake, tmp_path: Path, cluster: dict[str, Any]) -> None:
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "t"}, server=f"https://:{port_of(tls_fake)}",
                           **cluster)
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}
    assert tls_fake.authorization[-1] == "Bearer t"


def test_an_https_server_with_an_empty_host_and_nothing_to_verify_it_by_is_refused(tls_fake, tmp_path: Path) -> None:
    """Every request fails in Go, and nothing the watch reads again cures it: refused at start, by its field."""
    server = f"https://:{port_of(tls_fake)}"
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "t"}, server=server,
                           **{"certificate-authority": "server.crt"})
    with pytest.raises(InputError) as caught:
        connect(str(kubeconfig))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{kubeconfig}: clusters[0].cluster.server: \"{server}\": its host is empty, so Go's TLS has no server name "
        "to check the server's certificate against and fails every request (tls: either ServerName or "
        "InsecureSkipVerify must be specified in the tls.Config); expected a host, or tls-server-name (or "
        "insecure-skip-tls-verify) beside it"]


def test_a_proxy_url_with_an_empty_host_is_a_proxy_on_the_local_system(populated, tmp_path: Path) -> None:
    """kubectl 1.33 went to a proxy on this machine for proxy-url http://:3128 (its connection was refused there)."""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, **{"proxy-url": "http://u:p@:3128"})
    assert connect(str(kubeconfig)).configuration.proxy == "http://u:p@0.0.0.0:3128"


@pytest.mark.parametrize("server", ["127.0.0.1:{port}", "http://:{port}"])
def test_a_server_without_a_scheme_or_host_goes_through_the_proxy_url(populated, tmp_path: Path,
                                                                     server: str) -> None:
    """kubectl 1.33 sent ``GET http://10.1.2.3:6443/api/v1/services`` to the proxy-url's proxy for server
    10.1.2.3:6443: Go's Proxy applies to every request. The Python client went past the proxy of a server it found
    no host in (its no_proxy check), as it was given the server without http://. (The fake answers a request
    for an absolute URL as a proxy would pass it on.)"""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server=server.format(port=1),
                           **{"proxy-url": populated.url})
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}


@pytest.mark.parametrize("scheme", ["HTTPS", "Https"])
def test_an_https_scheme_in_capitals_is_https_with_the_cluster_s_tls_settings(tls_fake, tmp_path: Path,
                                                                              scheme: str) -> None:
    """Go's url.Parse writes a scheme in small letters, so client-go takes HTTPS:// for TLS with the cluster's CA
    (kubectl 1.33 sent its token to HTTPS://, and none to HTTP://); the Python client looked for "https" as
    written and verified the server with the system's CAs only."""
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "t"},
                           server=tls_fake.url.replace("https", scheme, 1), **{"certificate-authority": "server.crt"})
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}
    assert tls_fake.authorization[-1] == "Bearer t"


@pytest.mark.parametrize(("proxy", "dialed"), [("http://", "http://0.0.0.0:80"), ("http://:", "http://0.0.0.0:80"),
                                               ("HTTPS://u:p@", "https://u:p@0.0.0.0:443")])
def test_a_proxy_url_with_no_host_nor_port_is_the_local_system_s_port_of_its_scheme(
        populated, tmp_path: Path, proxy: str, dialed: str) -> None:
    """strace of kubectl 1.33 with proxy-url http://: connect(0.0.0.0:80) (Go's canonicalAddr gives the scheme's
    port). The watch went to the server directly (http://, taken for opaque) or refused the file (http://:, "no
    host")."""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, **{"proxy-url": proxy})
    assert connect(str(kubeconfig)).configuration.proxy == dialed


@pytest.mark.parametrize("server", ["http://:{port}", ":{port}", "http://@:{port}"])
def test_the_host_header_of_an_empty_host_is_the_url_s_as_in_go(populated, tmp_path: Path, server: str) -> None:
    """Review r3 finding 4 (kubectl 1.33, the oracle, against a local server): Go's Host header is the URL's host
    as written, "Host: :PORT"; the watch sent the address it dialed, "Host: 0.0.0.0:PORT"."""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server=server.format(port=port_of(populated)))
    synced(kubeconfig)
    assert set(populated.host_headers) == {f":{port_of(populated)}"}


@pytest.mark.parametrize("server", ["http://::1:{port}", "::1:{port}", "HTTP://::1:{port}/"])
def test_an_ipv6_server_without_brackets_is_dialed_as_go_dials_it(fake6, tmp_path: Path, server: str) -> None:
    """Review r3 finding 2 (kubectl 1.33, the oracle, against a server on [::1]): Go's Hostname() and Port() split
    ``::1:PORT`` at its last colon and net.JoinHostPort puts the address in brackets: kubectl reached [::1]:PORT,
    sending "Host: ::1:PORT". The watch refused the kubeconfig ("too many colons in address")."""
    port = port_of(fake6)
    kubeconfig = with_user(fake6, tmp_path / "kc", {}, server=server.format(port=port))
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}
    assert set(fake6.host_headers) == {f"::1:{port}"}


def test_an_ipv6_proxy_url_without_brackets_is_dialed_in_them(populated, tmp_path: Path) -> None:
    """The proxy-url as the server (Go's canonicalAddr dials both): http://::1:3128 is [::1]:3128."""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, **{"proxy-url": "http://::1:3128"})
    assert connect(str(kubeconfig)).configuration.proxy == "http://[::1]:3128"


@pytest.mark.parametrize(("server", "target"), [
    ("http://:6443", "http://:6443"), ("http://u:p@:6443", "http://:6443"),
    ("http://u:p@10.9.9.9:6443", "http://10.9.9.9:6443"), ("10.9.9.9:6443", "http://10.9.9.9:6443")])
def test_an_http_proxy_is_sent_the_url_as_go_writes_it(populated, tmp_path: Path, server: str, target: str) -> None:
    """Go's request to an http proxy names the server by the Host header's host (net/http Request.write: the
    URL's scheme, r.Host or URL.Host with its zone removed, then the path), not by the address it would dial, and
    without the URL's user information (kubectl 1.33, the oracle, to a local proxy: "GET http://:6443/api/v1/
    services" for http://:6443 and "GET http://10.9.9.9:6443/..." for http://u:p@10.9.9.9:6443). The watch sent
    http://0.0.0.0:6443/... and http://u:p@10.9.9.9:6443/... (The fake answers as the proxy would.)"""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server=server, **{"proxy-url": populated.url})
    synced(kubeconfig)
    assert {t.partition("/api/")[0] for t in populated.targets} == {target}
    assert set(populated.host_headers) == {target.removeprefix("http://")}
