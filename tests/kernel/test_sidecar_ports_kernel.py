"""``netns up`` serves a Pod's sidecar ports (initContainers with restartPolicy Always) as its containers': a real
connection to a port only the sidecar declares is answered by the pod, as send's simulated pod answers it
(tests/simulator/test_sidecar_ports.py)."""

from __future__ import annotations

import json

import pytest
from pyroute2 import netns

from tests.kernel.test_cli import run
from tests.simulator.test_sidecar_ports import SIDECAR

pytestmark = pytest.mark.kernel


def test_netns_up_serves_a_port_only_a_sidecar_declares(kernel: None, run_tag: str, tmp_path, monkeypatch,
                                                        capfd) -> None:
    """9901 is in no EndpointSlice and in no container's ports, only the sidecar's: before, the pod's server left
    it out and the connection was refused; web-tls's 443 reaches the sidecar's named https (9443)."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    (tmp_path / "sidecar.yaml").write_text(SIDECAR)
    name = f"{run_tag}-sidecar"
    assert run(["netns", "up", "-f", str(tmp_path / "sidecar.yaml"), "--cluster-cidr", "10.244.0.0/16",
                "--name", name]) == 0
    try:
        capfd.readouterr()
        send = ["netns", "send", name, "--from", "pod/default/client", "--count", "3", "--seed", "1", "-o", "json"]
        for to in ("10.244.2.10:9901", "10.96.0.11:443"):
            assert run([*send, "--to", to]) == 0
            out = json.loads(capfd.readouterr().out)
            assert [(d["pod"], d["count"]) for d in out["delivered"]] == [("default/web-1", 3)], to
    finally:
        assert run(["netns", "down", name]) == 0
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
