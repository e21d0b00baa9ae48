"""watch --kubeconfig: the oidc refresh's transport as client-go's oidc provider builds it (task b5 item 3).

client-go's newOIDCAuthProvider builds its transport once (restclient.TransportFor with CAData, else CAFile, which
transport.loadTLSFiles reads then), over an http.Transport whose Proxy is http.ProxyFromEnvironment
(transport/cache.go). So a refresh reads no CA file (the watch read it at each refresh: one removed meanwhile failed
every refresh, "open FILE: no such file or directory"), and goes through HTTPS_PROXY unless NO_PROXY, localhost or
a loopback address keeps it off (golang.org/x/net/http/httpproxy; the watch's urllib3 PoolManager used no proxy).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kubeproxy_sim.watch.go_proxy import proxy_for
from kubeproxy_sim.watch.oidc import IdpTransport, refreshed_config

from ._idp import IdentityProvider, jwt
from ._kubeconfigs import TEST_CERT
from .conftest import Mirror
from .test_apiserver_exec_expiry import Clock
from .test_apiserver_oidc_refresh import START, _clock, _config, _more, _source, idp  # noqa: F401
from .test_apiserver_proxy_tunnel import TunnelProxy

pytest.importorskip("kubernetes")


def test_the_ca_file_is_read_once_as_client_go_builds_its_provider(tls_fake, tmp_path: Path,
                                                                   idp: IdentityProvider) -> None:  # noqa: F811
    """The CA file removed after the start: the refresh still verifies the identity provider against it (the
    parent failed it: 'open FILE: no such file or directory', and the expired id-token was never replaced)."""
    ca = tmp_path / "idp-ca.crt"
    ca.write_text(TEST_CERT)
    src, _ = _source(tls_fake, tmp_path, idp, jwt(START + 600), ca={"idp-certificate-authority": str(ca)})
    try:
        seen = Mirror(src)
        _more(tls_fake, seen, 1)
        ca.unlink()
        _clock(idp).at = START + 590
        refreshed = f"Bearer {jwt(START + 590 + 3600, 'r1')}"
        seen.until(lambda: refreshed in tls_fake.authorization)
    finally:
        src.close(timeout=2)
    assert idp.spent == ["first"] and seen.said() == []


ENV = {"HTTPS_PROXY": "proxy:3128", "http_proxy": "http://u:p@web:80",
       "NO_PROXY": ".y.com, foo.com,10.0.0.0/8,1.2.3.4:443,[::2]:443,*.z.org"}


@pytest.mark.parametrize(("url", "proxy"), [
    ("https://idp.example/x", "http://proxy:3128"),  # (host:port: http:// assumed)
    ("http://idp.example/x", "http://u:p@web:80"),
    ("https://127.0.0.1:5/", None), ("https://[::1]/", None), ("https://localhost:8443", None),  # (never)
    ("https://LOCALHOST:8443", "http://proxy:3128"),  # (useProxy compares the host as written)
    ("https://y.com", "http://proxy:3128"), ("https://x.y.com", None),  # (a leading dot: under it only)
    ("https://foo.com:8443", None), ("https://bar.FOO.com", None), ("https://xfoo.com", "http://proxy:3128"),
    ("https://10.1.2.3", None), ("https://1.2.3.4", None), ("https://1.2.3.4:444", "http://proxy:3128"),
    ("https://[::2]", None), ("https://a.z.org", None), ("https://z.org", "http://proxy:3128"),  # (*. is .)
    ("ftp://idp.example", None)])
def test_the_proxy_is_go_s_proxy_from_environment(url: str, proxy: str | None) -> None:
    assert proxy_for(url, ENV) == proxy


def test_no_proxy_star_and_lower_case_names() -> None:
    assert proxy_for("https://a.example", {"https_proxy": "https://p:1", "no_proxy": "*"}) is None
    assert proxy_for("https://a.example", {"https_proxy": "https://p:1"}) == "https://p:1"
    assert proxy_for("https://a.example", {"HTTPS_PROXY": "", "https_proxy": "p:2"}) == "http://p:2"


def test_an_http_proxy_in_a_cgi_environment_is_refused_in_go_s_words() -> None:
    with pytest.raises(ValueError, match="refusing to use HTTP_PROXY value in CGI environment"):
        proxy_for("http://a.example", {"HTTP_PROXY": "p:1", "REQUEST_METHOD": "GET"})


def test_the_refresh_goes_through_https_proxy(tmp_path: Path) -> None:
    """An identity provider named idp.example (no such name here) reached through HTTPS_PROXY's tunnel, as Go's
    transport reaches it: CONNECT idp.example:PORT, then TLS verified for that name. The parent dialed idp.example
    itself and failed the refresh ('lookup idp.example' / 'Name or service not known')."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate for a name")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=idp", "-addext", "subjectAltName=DNS:idp.example",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
                   check=True, capture_output=True)
    cert = (tmp_path / "c.pem").read_text()
    provider = IdentityProvider(tmp_path, cert, (tmp_path / "k.pem").read_text(), Clock(START))
    proxy = TunnelProxy()
    try:
        port = provider.issuer.rsplit(":", 1)[1]
        named = f"https://idp.example:{port}"
        provider.discovery = (200, json.dumps({"issuer": named, "token_endpoint": f"{named}/token"}).encode())
        (tmp_path / "ca.pem").write_text(cert)
        config = {**_config(provider), "idp-issuer-url": named, "idp-certificate-authority": str(tmp_path / "ca.pem")}
        new = refreshed_config(config, IdpTransport(None, {"HTTPS_PROXY": f"127.0.0.1:{proxy.port}"}))
    finally:
        proxy.close()
        provider.stop()
    assert new["id-token"] == jwt(START + 3600, "r1")
    assert proxy.heads and all(head.startswith(f"CONNECT idp.example:{port} ".encode()) for head in proxy.heads)
    assert [seen.method for seen in provider.seen] == ["GET", "POST"]


def test_a_rebuild_opens_none_of_the_user_s_files(tls_fake, tmp_path: Path, idp: IdentityProvider) -> None:  # noqa: F811
    """Task b5 item 2: client-go opens a client certificate, its key and a tokenFile as it builds its transport
    and then follows them itself (cachingCertificateLoader at each handshake, the cached file token source); an
    oidc refresh or an exec run opens none. The watch's client rebuilt for a refresh opened them all, so files
    rotated away at that moment failed the refresh (the parent: "unable to read client-cert ..." for
    users[0].user.client-certificate)."""
    from ._kubeconfigs import TEST_KEY, with_user

    for name, text in (("client.crt", TEST_CERT), ("client.key", TEST_KEY), ("token", "t0\n")):
        (tmp_path / name).write_text(text)
    user = {"client-certificate": str(tmp_path / "client.crt"), "client-key": str(tmp_path / "client.key"),
            "tokenFile": str(tmp_path / "token"),
            "auth-provider": {"name": "oidc", "config": {**_config(idp), "id-token": jwt(START + 600),
                                                         "idp-certificate-authority": str(tmp_path / "idp.crt")}}}
    kubeconfig = with_user(tls_fake, tmp_path / "kc", user, **{"insecure-skip-tls-verify": True})
    from kubeproxy_sim.watch import Kind
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], now=idp.clock)
    try:
        for name in ("client.crt", "client.key", "token"):
            (tmp_path / name).unlink()
        rebuilt = src._fresh_client()
    finally:
        src.close()
    assert isinstance(rebuilt, tuple), rebuilt
