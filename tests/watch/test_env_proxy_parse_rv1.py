"""A proxy variable Go cannot parse is no proxy: httpproxy's config.init drops parseProxy's error.

parseProxy (golang.org/x/net/http/httpproxy) tries url.Parse on the value and, when that fails or gives no scheme
or host, on ``http://`` + value; only when both fail does it return "invalid proxy address", and config.init keeps
a proxy only where parseProxy gave no error. So ``HTTPS_PROXY="a b:3128"`` or a value ending in a newline sends
the requests straight to the server, while a value one of the two readings takes (``proxy:abc``: scheme ``proxy``)
is a proxy every request fails on.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.watch.apiserver import _environment_proxy
from kubeproxy_sim.watch.go_proxy import bare_url_refused, client_go_proxy_for, proxy_for

CLUSTER = {"server": "https://10.0.0.1:6443", "certificate-authority-data": "eA=="}


@pytest.mark.parametrize("value", [
    "a b:3128",  # (no scheme: ':' in the first path segment; with http://, a space in the host)
    "%zz:1",  # (no scheme; with http://, a bad escape in the host)
    "http://a%zz",  # (a bad escape in the host; with http:// before it, in the path '//a%zz')
    "http://p:3128\n",  # (a control character: both readings refused)
])
def test_a_value_neither_reading_parses_is_no_proxy(value: str) -> None:
    assert _environment_proxy(CLUSTER, {}, {"HTTPS_PROXY": value}) is None


@pytest.mark.parametrize("value", [
    "proxy:abc",  # (url.Parse takes it: scheme proxy, opaque abc, no host; http://proxy:abc has a bad port)
    "http://a b",  # (http://http://a b parses: host "http:", path "//a b")
])
def test_a_value_one_reading_parses_fails_each_request(value: str) -> None:
    found = _environment_proxy(CLUSTER, {}, {"HTTPS_PROXY": value})
    assert found is not None and found.url is None and found.problem is not None


def test_a_dropped_http_proxy_is_no_cgi_refusal() -> None:
    """proxyForURL refuses HTTP_PROXY in a CGI environment only when there is a proxy: a dropped value is none."""
    env = {"HTTP_PROXY": "a b:1", "REQUEST_METHOD": "GET"}
    assert _environment_proxy({"server": "http://10.0.0.1"}, {}, env) is None
    refused = _environment_proxy({"server": "http://10.0.0.1"}, {}, {**env, "HTTP_PROXY": "p:1"})
    assert refused is not None and "CGI environment" in (refused.problem or "")


def test_without_a_judge_nothing_is_dropped() -> None:
    """proxy_for without ``refused`` (the oidc provider's transport) keeps every value, as before."""
    assert proxy_for("https://k8s", {"HTTPS_PROXY": "a b:3128"}) == "http://a b:3128"
    assert client_go_proxy_for("https://k8s", {"HTTPS_PROXY": "a b:3128"}, refused=lambda url: True) is None


@pytest.mark.parametrize(("value", "refused"), [
    ("proxy:3128", False), ("proxy:abc", False), ("localhost", False), ("a b", False), ("p/%41", False),
    ("127.0.0.1:3128", True), (":3128", True), ("a b:1", True), ("p:1/%zz", False), ("1:2/%zz", True), ("p/x%z", True),
    ("p#%zz", True), ("p?%zz", False), ("x\t", True), ("x\x7f", True), ("1p:2", True), ("//h:1", False),
])
def test_bare_url_refused_as_net_url_parse(value: str, refused: bool) -> None:
    """net/url's parse: getScheme (a letter first, then letters, digits, '+', '-', '.'), the first segment's colon,
    unescape of the path and fragment, the control-character check."""
    assert bare_url_refused(value) is refused
