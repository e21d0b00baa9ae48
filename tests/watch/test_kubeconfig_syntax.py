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
    ('"https://[::1:6443"', "Invalid IPv6 URL"),
    ('"https://10.0.0.1:64x"', "Port could not be cast to integer value as '64x'"),
    ('"not a url"', 'invalid character " " in host name'),
    ('"https://api server:6443"', 'invalid character " " in host name'),
    ('"https://a{b}"', 'invalid character "{" in host name'),
    ('"https://a\\tb"', "invalid control character in URL"),
    ('"https://:6443"', "no host"),
    ('"http://"', "no host"),
])
def test_a_server_url_that_does_not_parse_names_its_cluster_field(tmp_path: Path, server: str, reason: str) -> None:
    """QA-errors: the client said only "cannot use this kubeconfig: Invalid IPv6 URL"; the server of the cluster
    the context uses is named by its path (clusters[0] is not used, and not checked). A host Go's url.Parse refuses
    (a space, a control character) or an empty one was retried for ever (reviewer)."""
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server=server))
    with pytest.raises(InputError) as caught:
        connect(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{path}: clusters[1].cluster.server: {server} is not a URL ({reason}); expected http(s)://HOST[:PORT]"]
