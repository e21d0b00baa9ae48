"""What the kubeconfig tests of the watch share: a test certificate, a fake API server holding one of each kind
(plain, IPv6 or TLS), a kubeconfig for it with a chosen user, and one bounded source run against it (to its first
Service list, or to the failure a bounded run gives up on). One copy, so a change of how a run is started or closed
reaches every test that runs one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._fake_apiserver import FakeApiServer
from ._objects import node_json, pod_json, slice_json, svc_json
from .conftest import Mirror

# A self-signed certificate for IP 127.0.0.1 (CA:TRUE, so it is its own CA), valid until 2126; test-only key.
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBkzCCATigAwIBAgIUTkQ/+WXxbl7G2L7HtL31C9A6+HIwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3BzaW0tdGVzdDAgFw0yNjExMjkwODU3MDRaGA8yMTI2MTEw
NTA4NTcwNFowFTETMBEGA1UEAwwKa3BzaW0tdGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABElALEIchLpE8WxfQwsPyhsNP6MYAdWp3wEbQnlJZb2ws3NeumrM
gtRKN/J1FP1MopRX0rG6QFDSMe9tNzTNtdCjZDBiMB0GA1UdDgQWBBTCrbDW25NW
0IolaQVtJGpPB28AnzAfBgNVHSMEGDAWgBTCrbDW25NW0IolaQVtJGpPB28AnzAP
BgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaHBH8AAAEwCgYIKoZIzj0EAwIDSQAw
RgIhAK5Axvx7qs9wcLqvgKFaDhlOlQfJJprNl6mNQPQWGTJ2AiEA8URltBPAhiQs
hKz08e5reMjUzImMQFfMkGVkV5ra12Y=
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAhyC2mLm2zXhicg4
6Ic7ZrpIwo/2ewINCL5E0KU/A/ihRANCAARJQCxCHIS6RPFsX0MLD8obDT+jGAHV
qd8BG0J5SWW9sLNzXrpqzILUSjfydRT9TKKUV9KxukBQ0jHvbTc0zbXQ
-----END PRIVATE KEY-----
"""


def populate(fake: FakeApiServer) -> None:
    """One object of each kind (Service default/s1 among them), so a run has a list to end."""
    fake.add("Service", svc_json("s1", "10.0.0.1"))
    fake.add("EndpointSlice", slice_json("s1-1", "s1", ["10.1.0.1"]))
    fake.add("Node", node_json("n1", "192.168.0.1"))
    fake.add("Node", node_json("n2", "192.168.0.2"))
    fake.add("Pod", pod_json("p1", "10.1.0.1"))


def tls_server(cert_dir: Path, **kw: Any) -> FakeApiServer:
    """A populated https fake whose certificate and key (TEST_CERT, TEST_KEY) are written into ``cert_dir`` as
    server.crt and server.key, where a kubeconfig's certificate-authority can name them; ``kw`` to FakeApiServer."""
    (cert_dir / "server.crt").write_text(TEST_CERT)
    (cert_dir / "server.key").write_text(TEST_KEY)
    server = FakeApiServer(cert_dir=cert_dir, **kw).start()
    populate(server)
    return server


def port_of(fake: FakeApiServer) -> str:
    return fake.url.rsplit(":", 1)[1]


def kubeconfig_for(server: str, **cluster: Any) -> str:
    """The text of a kubeconfig with one cluster (``server``, and ``cluster``'s fields beside it) and a context
    naming no user, for a server no fake stands behind."""
    import yaml

    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                           "clusters": [{"name": "k", "cluster": {"server": server, **cluster}}],
                           "contexts": [{"name": "c", "context": {"cluster": "k"}}], "users": []})


def with_user(fake: FakeApiServer, path: Path, user: dict[str, Any], **cluster: Any) -> Path:
    """The fake's kubeconfig at ``path`` with ``user`` as its credentials (and ``cluster``'s fields added)."""
    import yaml

    config = yaml.safe_load(Path(fake.write_kubeconfig(str(path))).read_text())
    config["users"][0]["user"] = user
    config["clusters"][0]["cluster"].update(cluster)
    path.write_text(yaml.safe_dump(config))
    return path


def noting_plugin(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An exec entry (interactiveMode Never) whose plugin, written into ``tmp_path``, notes each run in the returned
    file (absent until it runs) and hands out the token ``from-exec``."""
    ran = tmp_path / "ran"
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(f"#!/bin/sh\necho ran >> {ran}\necho '{{\"apiVersion\": \"client.authentication.k8s.io/v1\", "
                      "\"kind\": \"ExecCredential\", \"status\": {\"token\": \"from-exec\"}}'\n")
    plugin.chmod(0o755)
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never"}, ran


def synced(kubeconfig: str | Path, **kw: Any) -> Mirror:
    """A source on ``kubeconfig`` run until its Services are listed, then closed: what it produced."""
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], **kw).start()
    try:
        seen = Mirror(src)
        seen.until(lambda: Kind.SERVICE in seen.synced)
    finally:
        src.close(timeout=2)
    return seen


def given_up(kubeconfig: str | Path, **kw: Any) -> InputError:
    """What a bounded run (give_up=4) on ``kubeconfig``'s Services stops with: a test of a failure nothing cures
    expects one, so its absence fails the test (pytest.raises)."""
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], give_up=4, **kw).start()
    try:
        with pytest.raises(InputError) as caught:
            Mirror(src).until(lambda: False)
    finally:
        src.close(timeout=2)
    return caught.value
