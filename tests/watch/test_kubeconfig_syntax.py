"""watch --kubeconfig: a kubeconfig that does not parse is said by its line and column and what the parser wanted
(QA-errors: the client's first line was all that was said, "cannot use this kubeconfig: while parsing a flow
mapping")."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError

pytest.importorskip("kubernetes")


@pytest.mark.parametrize(("text", "expected"), [
    ('{"apiVersion": "v1", "kind": "Config"', "1: syntax error: expected ',' or '}', but got '<stream end>' (while "
     "parsing a flow mapping) at column 38"),
    ("apiVersion: v1\n? [a]\n: 1\n", "2: syntax error: found unhashable key (while constructing a mapping) at "
     "column 3"),
])
def test_a_kubeconfig_that_does_not_parse_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kubeconfig"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        connect(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:{expected}"]


def test_a_tab_indenting_a_kubeconfig_line_is_named_as_the_objects_readers_name_it(tmp_path: Path) -> None:
    """Task b5 item 5: the kubeconfig's reader said libyaml's "found character that cannot start any token" alone,
    where objects/load's readers add the tab hint (the text was not given to yaml_syntax_error)."""
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nclusters:\n\t- name: a\n")
    with pytest.raises(InputError) as caught:
        connect(str(path))
    [said] = [str(d) for d in caught.value.diagnostics]
    assert said.startswith(f"{path}:3: syntax error: found character '\\t' that cannot start any token")
    assert said.endswith(" (a tab? YAML indents with spaces)")


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- {{name: other, cluster: {{server: "https://[bad"}}}}
- {{name: a, cluster: {{server: {server}}}}}
contexts:
- {{name: a, context: {{cluster: a, user: u}}}}
current-context: a
users:
- {{name: u, user: {{token: x}}}}
"""


@pytest.mark.parametrize(("server", "reason"), [
    ('"https://[::1:6443"', 'host must be a URL or a host:port pair: "https://[::1:6443"'),
    ('"[::1:6443"', "missing ']' in host"),
    ('"https://10.0.0.1:64x"', 'host must be a URL or a host:port pair: "https://10.0.0.1:64x"'),
    ('"10.0.0.1:64x"', 'invalid port ":64x" after host'),
    ('"::1"', "lookup :: no such host (an IPv6 address goes in brackets: [ADDRESS]:PORT)"),
    ('"http://a:1:2:6443"', "lookup a:1:2: no such host (an IPv6 address goes in brackets: [ADDRESS]:PORT)"),
    ('"http://::1:x"', 'host must be a URL or a host:port pair: "http://::1:x"'),
    ('"https://10.0.0.1:65536"', "port 65536 is past 65535"),
    ('"socks5://10.0.0.1:1080"', 'unsupported protocol scheme "socks5"'),
    ('"FTP://10.0.0.1"', 'unsupported protocol scheme "ftp"'),
    ('"1x://10.0.0.1"', 'host must be a URL or a host:port pair: "1x://10.0.0.1"'),
    ('"10.0.0.1:6443/api"', 'host must be a URL or a host:port pair: "10.0.0.1:6443/api"'),
    ('"https://u%zz@10.0.0.1"', 'invalid URL escape "%zz"'),
    ('"https://10.0.0.1/a%z"', 'invalid URL escape "%z"'),
    ('"https://a b@10.0.0.1"', 'host must be a URL or a host:port pair: "https://a b@10.0.0.1"'),
    ('"not a url"', 'invalid character " " in host name'),
    ('"https://api server:6443"', 'host must be a URL or a host:port pair: "https://api server:6443"'),
    ('"a{b}"', 'invalid character "{" in host name'),
    ('"https://a\\tb"', "invalid control character in URL"),
    ('"http://:"', "no host"),
    ('"http://"', 'host must be a URL or a host:port pair: "http://"'),
])
def test_a_server_url_that_does_not_parse_names_its_cluster_field(tmp_path: Path, server: str, reason: str) -> None:
    """QA-errors: the client said only "cannot use this kubeconfig: Invalid IPv6 URL"; the server of the cluster
    the context uses is named by its path (clusters[0] is not used, and not checked). A host Go's url.Parse refuses
    (a space, a control character) or an empty one was retried for ever (reviewer). The reasons are Go's (its
    url.Parse, or its dial for an IPv6 address without brackets), not urllib's ("Port could not be cast to
    integer value as '64x'", re-fuzz of session 19). Review r8, kubectl 1.33 the oracle: a URL with a scheme that
    Go's url.Parse refuses is parsed again as http://URL and its path refused ("host must be a URL or a host:port
    pair"), as is a host with a path; a % escape Go cannot read was taken."""
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server=server))
    with pytest.raises(InputError) as caught:
        connect(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{path}: clusters[1].cluster.server: {server} is not a URL ({reason}); expected http(s)://HOST[:PORT]"]


@pytest.mark.parametrize(("proxy", "reason"), [
    ("'  '", 'unsupported scheme "", must be http, https, or socks5'),
    ("127.0.0.1:3128", "could not parse: 127.0.0.1:3128"),
    ("proxy:3128", 'unsupported scheme "proxy", must be http, https, or socks5'),
    ("ftp://proxy:21", 'unsupported scheme "ftp", must be http, https, or socks5'),
    ("'://proxy'", "could not parse: ://proxy"),
    ("'http://a proxy:3128'", "could not parse: http://a proxy:3128"),
    ("'http://proxy:x'", "could not parse: http://proxy:x"),
    ("'http://[::1'", "could not parse: http://[::1"),
    ("'http://a%zz'", "could not parse: http://a%zz"),
    ("'ftp://a b'", "could not parse: ftp://a b"),
    ("'http://proxy:99999'", "port 99999 is past 65535"),
])
def test_a_proxy_url_client_go_refuses_names_its_cluster_field(tmp_path: Path, proxy: str, reason: str) -> None:
    """Fuzzing (session 19): proxy-url '  ' gave urllib3's "Failed to parse: Host '  '...", naming no field.
    clientcmd parses proxy-url with Go's url.Parse and takes http, https and socks5 only (ConfirmUsable refuses
    the kubeconfig, "invalid 'proxy-url'"); Go finds a scheme only at a letter, so '  ' and 127.0.0.1:3128 have
    none it takes. The reasons are kubectl's (1.33, the oracle): "could not parse: URL" whatever url.Parse
    refused (Go's own words, "invalid port", were said before), a parse failure before the scheme (ftp://a b),
    and "must be http, https, or socks5"; a port past 65535 parses, and fails each connection."""
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server='"https://127.0.0.1:1"').replace(
        'cluster: {server: "https://127.0.0.1:1"', f'cluster: {{proxy-url: {proxy}, server: "https://127.0.0.1:1"'))
    with pytest.raises(InputError) as caught:
        connect(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{path}: clusters[1].cluster.proxy-url: {proxy.strip(chr(39))!r} is not a proxy URL ({reason}); expected "
        "http://, https:// or socks5://HOST[:PORT]".replace("'", '"')]


@pytest.mark.parametrize(("proxy", "dialed"), [("http:proxy.corp:3128", "http://0.0.0.0:80"),
                                               ("Http:proxy.corp:3128", "http://0.0.0.0:80"),
                                               ("https:proxy:1", "https://0.0.0.0:443")])
def test_an_opaque_proxy_url_is_the_local_system_s_port_of_its_scheme(tmp_path: Path, proxy: str,
                                                                      dialed: str) -> None:
    """Review r3 (strace of kubectl 1.33, the oracle): proxy-url http:proxy.corp:3128 (no //) is an opaque URL
    to Go, with an empty host, which http.ProxyURL uses all the same: kubectl connected to 0.0.0.0:80 (443 for
    https:) and no request reached the server. The watch went to the server directly (review r8 took that for
    client-go's behaviour)."""
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server='"https://127.0.0.1:1"').replace(
        'cluster: {server: "https://127.0.0.1:1"', f'cluster: {{proxy-url: "{proxy}", '
        'server: "https://127.0.0.1:1", insecure-skip-tls-verify: true'))
    assert connect(str(path)).configuration.proxy == dialed


@pytest.mark.filterwarnings("ignore:SOCKS support in urllib3 requires")
def test_a_socks5_proxy_without_pysocks_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    """The kubernetes client reaches a SOCKS proxy through PySocks, which it does not require: it said
    "cannot use this kubeconfig: No module named 'socks'"."""
    import sys

    from kubeproxy_sim.errors import EnvironmentMissing
    from kubeproxy_sim.watch.apiserver import connect

    monkeypatch.setitem(sys.modules, "socks", None)
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server='"https://127.0.0.1:1"').replace(
        'cluster: {server: "https://127.0.0.1:1"', 'cluster: {proxy-url: "socks5://127.0.0.1:1080", '
        'server: "https://127.0.0.1:1", insecure-skip-tls-verify: true'))
    with pytest.raises(EnvironmentMissing, match=r"socks5 proxy-url needs PySocks, .*: pip install pysocks$"):
        connect(str(path))
