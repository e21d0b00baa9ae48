"""``get svc``'s EXTERNAL-IP of a LoadBalancer as the API server's table printer writes it (printers.go
loadBalancerStatusStringer, getServiceExternalIP): each ingress's IP, else its hostname, an ingress with neither
left out, deduplicated and sorted, cut to 13 bytes and ``...`` past 16 unless ``-o wide``; externalIPs after
(reviewer r5: ours kept the status order, duplicates and empties, and never cut)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.controllers.kubectl_get import service_row
from kubeproxy_sim.objects.model import LoadBalancerIngress, Protocol, Service, ServicePort, ServiceType


def lb(*ingress: LoadBalancerIngress, external_ips: tuple[str, ...] = ()) -> Service:
    return Service("default", "web", type=ServiceType.LOAD_BALANCER, cluster_ips=("10.96.0.10",),
                   ports=(ServicePort("", Protocol.TCP, port=80, target_port=80, node_port=30080),),
                   load_balancer_ingress=ingress, external_ips=external_ips)


IP = LoadBalancerIngress


@pytest.mark.parametrize(("ingress", "external", "short", "wide"), [
    ((), (), "<pending>", "<pending>"),
    ((IP(ip="5.6.7.8"), IP(ip="1.2.3.4")), (), "1.2.3.4,5.6.7.8", "1.2.3.4,5.6.7.8"),
    ((IP(ip="1.2.3.4"), IP(ip="1.2.3.4"), IP()), (), "1.2.3.4", "1.2.3.4"),
    ((IP(hostname="lb.example.com"), IP(ip="9.9.9.9", hostname="x")), (), "9.9.9.9,lb.ex...",
     "9.9.9.9,lb.example.com"),
    ((IP(ip="203.0.113.10"), IP(ip="203.0.113.11")), (), "203.0.113.10,...", "203.0.113.10,203.0.113.11"),
    ((IP(ip="203.0.113.10"), IP(ip="203.0.113.11")), ("192.0.2.1",), "203.0.113.10,...,192.0.2.1",
     "203.0.113.10,203.0.113.11,192.0.2.1"),
    ((IP(),), ("192.0.2.1",), "192.0.2.1", "192.0.2.1"),
])
def test_the_external_ip_column(ingress: tuple[LoadBalancerIngress, ...], external: tuple[str, ...], short: str,
                                wide: str) -> None:
    service = lb(*ingress, external_ips=external)
    assert service_row(service, "5s", wide=False)[3] == short
    assert service_row(service, "5s", wide=True)[3] == wide
