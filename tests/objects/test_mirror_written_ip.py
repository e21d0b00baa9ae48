"""RepackSubsets keys and sorts an Endpoints address by its ip as written (pkg/api/endpoints/util.go: addressKey
holds addr.IP, LessEndpointAddress compares its bytes), not by the address a legacy or non-canonical form reads as."""

from __future__ import annotations

from kubeproxy_sim.objects.mirror import EndpointsAddress, EndpointsSubset, repack_subsets
from kubeproxy_sim.objects.model import IPFamily

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ns}
spec: {clusterIP: 10.0.0.1, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext, namespace: ns}
subsets:
"""


def test_the_1000_cap_keeps_a_legacy_form_that_sorts_first_as_written(load, messages):
    """010.9.9.9 (read as 10.9.9.9) sorts before every 10.1.x.y by its text, so the cap keeps it and drops the
    greatest 10.1 address; sorted as 10.9.9.9 it would be the one dropped."""
    ips = sorted((f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1000)), key=str.encode)
    listed = ", ".join(f"{{ip: {ip}}}" for ip in ips)
    result = load(SERVICE + f"- {{addresses: [{listed}, {{ip: 010.9.9.9}}], ports: [{{name: http, port: 80}}]}}\n")
    (eps,) = result.cluster.endpoint_slices
    assert {e.addresses[0] for e in eps.endpoints} == {"10.9.9.9", *ips[:999]}
    assert any("1 addresses not mirrored" in m for m in messages(result))


def test_repacked_addresses_are_in_the_order_of_their_written_text() -> None:
    """The ready addresses of one subset come out in bytes.Compare order of the text written: 010.0.0.10 before
    10.0.0.2 (a '0' before a '1'), FD00::B before fd00::a (ASCII's upper case before its lower case)."""
    written = [("10.0.0.2", ""), ("10.0.0.10", "010.0.0.10"), ("fd00::b", "FD00::B"), ("fd00::a", "")]
    subset = EndpointsSubset(addresses=tuple(
        EndpointsAddress(ip=ip, family=IPFamily.IPV6 if ":" in ip else IPFamily.IPV4, written=text)
        for ip, text in written), not_ready_addresses=(), ports=())
    (repacked,) = repack_subsets((subset,))
    assert [a.written_ip for a in repacked.addresses] == ["010.0.0.10", "10.0.0.2", "FD00::B", "fd00::a"]
