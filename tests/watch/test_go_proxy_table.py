"""go_proxy.proxy_for against golang.org/x/net/http/httpproxy's own test tables (proxy_test.go: proxyForURLTests,
UseProxyTests with its noProxy list, TestInvalidNoProxy, TestAllNoProxy, TestFromEnvironment*), ported as data,
plus the cases where the newest proxy.go (netip.ParseAddr for the request's host, domain entries never matching
an IP address, any scheme://host proxy kept) decides otherwise than an older reading would."""

from __future__ import annotations

import pytest

from kubeproxy_sim.watch.go_proxy import proxy_for

CGI_WORDS = "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy"

# (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, CGI, request URL ("" for http://example.com), proxy wanted or None)
PROXY_FOR_URL = [
    ("127.0.0.1:8080", "", "", False, "", "http://127.0.0.1:8080"),
    ("cache.corp.example.com:1234", "", "", False, "", "http://cache.corp.example.com:1234"),
    ("cache.corp.example.com", "", "", False, "", "http://cache.corp.example.com"),
    ("localhost", "", "", False, "", "http://localhost"),
    ("https://cache.corp.example.com", "", "", False, "", "https://cache.corp.example.com"),
    ("http://127.0.0.1:8080", "", "", False, "", "http://127.0.0.1:8080"),
    ("https://127.0.0.1:8080", "", "", False, "", "https://127.0.0.1:8080"),
    ("socks5://127.0.0.1", "", "", False, "", "socks5://127.0.0.1"),
    ("foo://host", "", "", False, "", "foo://host"),
    ("http.proxy.tld", "secure.proxy.tld", "", False, "http://insecure.tld/", "http://http.proxy.tld"),
    ("http.proxy.tld", "secure.proxy.tld", "", False, "https://secure.tld/", "http://secure.proxy.tld"),
    ("http.proxy.tld", "https://secure.proxy.tld", "", False, "https://secure.tld/", "https://secure.proxy.tld"),
    ("http.proxy.tld", "", "", False, "https://secure.tld/", None),
    ("http.proxy.tld", "", "", False, "ftp://insecure.tld/", None),
    ("", "https://secure.proxy.tld", "", True, "https://secure.tld/", "https://secure.proxy.tld"),
    ("", "", "", False, "", None),
    ("proxy", "", "example.com", False, "http://example.com/", None),
    ("proxy", "", ".example.com", False, "http://example.com/", "http://proxy"),
    ("proxy", "", "ample.com", False, "http://example.com/", "http://proxy"),
    ("proxy", "", "example.com", False, "http://foo.example.com/", None),
    ("proxy", "", ".foo.com", False, "http://example.com/", "http://proxy"),
    ("proxy", "", ".示例.com", False, "http://www.示例.com", None),
    ("proxy", "", "xn--fsq092h.com", False, "http://www.示例.com", None),
    ("proxy", "", "示例.com", False, "http://www.xn--fsq092h.com", None),
    ("proxy", "", "example.com", False, "http://[1000::%25.example.com]:123", "http://proxy"),
]


def _environ(http: str, https: str, no_proxy: str, cgi: bool) -> dict[str, str]:
    environ = {"HTTP_PROXY": http, "HTTPS_PROXY": https, "NO_PROXY": no_proxy}
    return environ | ({"REQUEST_METHOD": "GET"} if cgi else {})


@pytest.mark.parametrize(("http", "https", "no_proxy", "cgi", "url", "want"), PROXY_FOR_URL)
def test_go_s_proxy_for_url_table(http: str, https: str, no_proxy: str, cgi: bool, url: str, want: str | None) -> None:
    assert proxy_for(url or "http://example.com", _environ(http, https, no_proxy, cgi)) == want


def test_go_s_cgi_case_is_refused_in_go_s_words() -> None:
    with pytest.raises(ValueError, match=CGI_WORDS):
        proxy_for("http://example.com", _environ("http://10.1.2.3:8080", "", "", True))


NO_PROXY = (
    "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, "
    "2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64"
)

# (host, whether a request to host:80 goes through the proxy)
USE_PROXY = [
    ("localhost", False),
    ("127.0.0.1", False),
    ("127.0.0.2", False),
    ("[::1]", False),
    ("[::2]", True),
    ("192.168.1.1", False),
    ("192.168.1.2", True),
    ("192.168.1.3", False),
    ("192.168.1.4", True),
    ("10.0.0.2", False),
    ("[2001:db8::52:0:1]", False),
    ("[2001:db8::52:0:2]", True),
    ("[2001:db8::52:0:3]", False),
    ("[2002:db8:a::123]", False),
    ("[fe80::424b:c8be:1643:a1b6]", True),
    ("barbaz.net", True),
    ("www.barbaz.net", False),
    ("foobar.com", False),
    ("www.foobar.com", False),
    ("foofoobar.com", True),
    ("baz.com", True),
    ("localhost.net", True),
    ("local.localhost", True),
    ("barbarbaz.net", True),
    ("wildcard.io", True),
    ("nested.wildcard.io", False),
    ("awildcard.io", True),
]


def _proxied(host_port: str, no_proxy: str) -> bool:
    return proxy_for(f"http://{host_port}/", {"HTTP_PROXY": "proxy", "NO_PROXY": no_proxy}) is not None


@pytest.mark.parametrize(("host", "proxied"), USE_PROXY)
def test_go_s_use_proxy_table(host: str, proxied: bool) -> None:
    assert _proxied(f"{host}:80", NO_PROXY) is proxied


@pytest.mark.parametrize(("host", "proxied"), USE_PROXY)
def test_go_s_all_no_proxy_table(host: str, proxied: bool) -> None:
    assert _proxied(f"{host}:80", "*") is False


def test_go_s_invalid_no_proxy_entry_is_ignored() -> None:
    assert _proxied("example.com:80", ":1") is True


@pytest.mark.parametrize(
    ("environ", "want"),
    [
        ({"HTTP_PROXY": "httpproxy", "http_proxy": "lower"}, "http://httpproxy"),  # (capitals first)
        ({"http_proxy": "httpproxy"}, "http://httpproxy"),
        ({"HTTP_PROXY": "", "http_proxy": "lower"}, "http://lower"),  # (an empty value is unset)
        ({"HTTP_PROXY": "p", "NO_PROXY": "", "no_proxy": "example.com"}, None),
        ({"HTTP_PROXY": "p", "NO_PROXY": "other.com", "no_proxy": "example.com"}, "http://p"),
    ],
)
def test_go_s_from_environment_precedence(environ: dict[str, str], want: str | None) -> None:
    assert proxy_for("http://example.com", environ) == want


@pytest.mark.parametrize(
    ("url", "no_proxy", "proxied"),
    [
        ("http://LOCALHOST:8080", "", True),  # (only "localhost" as written is never proxied)
        ("http://[::ffff:127.0.0.1]", "", False),  # (net.IP's IsLoopback on an IPv4-mapped address)
        ("http://[::ffff:192.168.1.1]", "192.168.1.1", False),  # (net.IP's Equal)
        ("http://192.168.1.1", "::ffff:192.168.1.1", False),
        ("http://[::ffff:10.0.0.1]", "10.0.0.0/8", False),  # (IPNet.Contains takes To4)
        ("http://10.0.0.1", "::ffff:0:0/96", True),
        ("http://[fe80::1%25eth0]", "fe80::1", False),  # (netip.ParseAddr: a zone is an address)
        ("http://[fe80::1%25eth0]:80", "fe80::1:80", True),
        ("http://10.0.0.1", "0.0.1", True),  # (a domain entry never matches an address)
        ("http://[2001:db8::1]", "db8::1", True),
        ("http://10.0.0.1", "*", False),
    ],
)
def test_the_newest_use_proxy_reading(url: str, no_proxy: str, proxied: bool) -> None:
    assert (proxy_for(url, {"HTTP_PROXY": "proxy", "NO_PROXY": no_proxy}) is not None) is proxied


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1", "socks5h://127.0.0.1:1"])
def test_a_socks_proxy_fails_the_refresh_as_a_transport_failure(proxy: str) -> None:
    """HTTPS_PROXY naming a SOCKS5 proxy (socks5h too, which Go's transport takes and proxy_for now keeps): the
    identity provider's request fails as a transport failure (without PySocks, or at the closed port), never with
    an ImportError or urllib3's ProxySchemeUnknown escaping the refresh."""
    import ssl

    from kubeproxy_sim.watch.oidc import OidcRefreshFailed, _pool, token_endpoint

    pool = _pool(ssl.create_default_context(), {"HTTPS_PROXY": proxy})
    with pytest.raises(OidcRefreshFailed, match=r'^Get "https://idp\.example/\.well-known/openid-configuration": '):
        token_endpoint(pool, "https://idp.example")
