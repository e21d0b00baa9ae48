"""Pod.served_ports: what its containers and sidecars declare, the containers' first (findPort's order)."""

from __future__ import annotations

from kubeproxy_sim.objects.model import ContainerPort, Pod, Protocol


def test_the_containers_ports_come_before_the_sidecars() -> None:
    web = ContainerPort(container_port=8080, name="http", protocol=Protocol.TCP)
    proxy = ContainerPort(container_port=15001, name="http", protocol=Protocol.TCP)
    pod = Pod(namespace="default", name="p", ports=(web,), sidecar_ports=(proxy,))
    assert pod.served_ports == (web, proxy)
    assert Pod(namespace="default", name="q").served_ports == ()
