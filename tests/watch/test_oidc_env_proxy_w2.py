"""watch --kubeconfig: the oidc refresh reads the proxy environment as the server's requests do (task w2).

Go reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY once per process (httpproxy's FromEnvironment behind a sync.Once in
net/http), so client-go's transport to the API server and the http.Client its oidc provider builds
(newOIDCAuthProvider: restclient.TransportFor over the provider's CA) see the same values under the same rules: a
value url.Parse refuses both as written and with http:// before it is no proxy (httpproxy's config.init drops
parseProxy's error), and a provider with a CA gets a transport client-go builds itself, whose proxy apimachinery's
SetTransportDefaults wraps in NewProxierWithNoProxyCIDR. The refresh read os.environ again at each refresh when no
proxy variable was set at start, and took ``HTTPS_PROXY="a b:3128"`` for a proxy (every refresh failed) where the
server's requests went straight.

The identity provider here is named ``LOCALHOST`` (a name like any other to Go's rules, only ``localhost`` as
written is never proxied), its certificate made for that name, so a proxy variable decides its route.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource, _environment_proxy, _idp_fixed
from kubeproxy_sim.watch.oidc import _pool, idp_pool

from ._idp import IdentityProvider, jwt
from ._kubeconfigs import with_user
from .conftest import Mirror
from .test_apiserver_env_proxy_w1 import _closed_port, _no_proxy_environment  # noqa: F401
from .test_apiserver_exec_expiry import Clock
from .test_apiserver_oidc_refresh import START, _config, _more
from .test_apiserver_proxy_tunnel import TunnelProxy, proxy  # noqa: F401

pytest.importorskip("kubernetes")


@pytest.fixture
def named_idp(tmp_path: Path) -> Iterator[tuple[IdentityProvider, str, str]]:
    """An identity provider on loopback whose certificate names ``localhost``, discovered as
    https://LOCALHOST:PORT; with its issuer URL and certificate (its CA)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate for a name")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=idp", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
                   check=True, capture_output=True)
    cert = (tmp_path / "c.pem").read_text()
    provider = IdentityProvider(tmp_path, cert, (tmp_path / "k.pem").read_text(), Clock(START))
    named = f"https://LOCALHOST:{provider.issuer.rsplit(':', 1)[1]}"
    provider.discovery = (200, json.dumps({"issuer": named, "token_endpoint": f"{named}/token"}).encode())
    yield provider, named, cert
    provider.stop()


def _watch(fake, tmp_path: Path, named_idp: tuple[IdentityProvider, str, str]) -> ApiServerSource:  # type: ignore[no-untyped-def]
    """The watch (not started) of a user with no id-token yet: the refresh comes before its first request."""
    provider, named, cert = named_idp
    config = {**_config(provider), "idp-issuer-url": named,
              "idp-certificate-authority-data": base64.b64encode(cert.encode()).decode()}
    kubeconfig = with_user(fake, tmp_path / "kc", {"auth-provider": {"name": "oidc", "config": config}},
                           **{"insecure-skip-tls-verify": True})
    assert isinstance(provider.clock, Clock)
    return ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, now=provider.clock,
                           clock=itertools.count(0.0, 10.0).__next__)


def _refreshed(fake, src: ApiServerSource) -> Mirror:  # type: ignore[no-untyped-def]
    """``src`` started until two requests carried the refreshed id-token."""
    src.start()
    try:
        seen = Mirror(src)
        assert set(_more(fake, seen, 2)) == {f"Bearer {jwt(START + 3600, 'r1')}"}
    finally:
        src.close(timeout=2)
    return seen


@pytest.mark.parametrize("value", ["a b:3128", "http://p:3128\n"])
def test_a_proxy_value_go_drops_sends_the_refresh_straight(tls_fake, tmp_path: Path, monkeypatch,
                                                          named_idp: tuple[IdentityProvider, str, str],
                                                          value: str) -> None:
    """The refresh took http://a b:3128 for its proxy and failed ('failed to refresh token'), each request."""
    monkeypatch.setenv("HTTPS_PROXY", value)
    seen = _refreshed(tls_fake, _watch(tls_fake, tmp_path, named_idp))
    assert seen.said() == [] and named_idp[0].spent == ["first"]


def test_a_proxy_set_after_the_start_is_not_followed_by_the_refresh(tls_fake, tmp_path: Path, monkeypatch,
                                                                   named_idp: tuple[IdentityProvider, str, str]
                                                                   ) -> None:
    """No proxy variable at start: the refresh read os.environ again and went to the proxy set since (a port
    nothing listens on here), which Go's process never sees."""
    src = _watch(tls_fake, tmp_path, named_idp)
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{_closed_port()}")
    seen = _refreshed(tls_fake, src)
    assert seen.said() == [] and named_idp[0].spent == ["first"]


def test_the_refresh_keeps_the_proxy_of_the_start(tls_fake, tmp_path: Path, monkeypatch, proxy: TunnelProxy,  # noqa: F811
                                                  named_idp: tuple[IdentityProvider, str, str]) -> None:
    """HTTPS_PROXY at start, NO_PROXY=* set since: discovery and the token request both tunnel as Go asks."""
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")
    src = _watch(tls_fake, tmp_path, named_idp)
    monkeypatch.setenv("NO_PROXY", "*")
    _refreshed(tls_fake, src)
    # (the tunnel's head is still urllib3's, "CONNECT localhost:PORT HTTP/1.0", not Go's as the server's requests
    # send it, _tunnel: so only its target is asked here, as test_apiserver_oidc_transport asks it)
    target = named_idp[1].removeprefix("https://").lower()
    assert len(proxy.heads) == 2 and all(head.lower().startswith(f"connect {target} ".encode()) for head in proxy.heads)


@pytest.mark.parametrize(("own", "proxied"), [(True, None), (False, "http://p:1")])
def test_a_provider_with_a_ca_asks_the_cidr_prefixes_first(own: bool, proxied: str | None) -> None:
    """010.1.2.3 is a name to Go's ParseIP; NewProxierWithNoProxyCIDR, there only for the transport client-go
    builds itself (the provider's CA), reads it as 10.1.2.3, in NO_PROXY's 10.0.0.0/8."""
    pool = _pool(ssl.create_default_context(), {"HTTPS_PROXY": "p:1", "NO_PROXY": "10.0.0.0/8"}, own=own)
    assert pool.proxy_of("https://010.1.2.3:8443/.well-known/openid-configuration") == proxied


_VALUES = st.one_of(
    st.sampled_from(["", "p:1", "http://p:1", "a b:3128", "%zz:1", "http://a%zz", "http://p:3128\n", "proxy:abc",
                     "socks5://p:1080", "https://u:p@p:3128", "foo://p", ":3128", "http://[::1]:3128"]),
    st.text(alphabet="ab :/%@1z\n.[]", max_size=12))
_HOSTS = st.sampled_from(["idp.example", "10.1.2.3", "010.1.2.3", "localhost", "LOCALHOST", "127.0.0.1", "[::1]"])
_NO_PROXY = st.sampled_from(["", "*", "10.0.0.0/8", "idp.example", ".example", "010.1.2.3", "localhost:1"])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(value=_VALUES, host=_HOSTS, no_proxy=_NO_PROXY, with_ca=st.booleans())
def test_the_refresh_and_the_server_take_one_proxy_or_none(value: str, host: str, no_proxy: str,
                                                           with_ca: bool) -> None:
    """An identity provider at the server's own address (the same URL, a CA given to both or to neither) goes
    straight exactly when the server's requests do, for any value of HTTPS_PROXY and NO_PROXY: the same
    environment, read once, under the same rules (a value the server's requests cannot use, said as a problem
    there, is a proxy to both)."""
    url = f"https://{host}:8443"
    environ = {"HTTPS_PROXY": value, "NO_PROXY": no_proxy}
    ca = {"certificate-authority-data": "eA=="} if with_ca else {}
    server = _environment_proxy({"server": url, **ca}, {}, environ)
    config = {"idp-issuer-url": url, "client-id": "c",
              **({"idp-certificate-authority-data": "eA=="} if with_ca else {})}
    read = {"contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": url}}],
            "users": [{"name": "u", "user": {"auth-provider": {"name": "oidc", "config": config}}}]}
    idp = _idp_fixed(read, None, environ)
    assert idp is not None
    pool = idp_pool(config, ssl.create_default_context(), idp)
    assert (server is None) == (pool.proxy_of(url + "/token") is None)
