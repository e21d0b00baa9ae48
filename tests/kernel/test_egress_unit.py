"""The CNI's masquerade of pod egress the kernel backend installs (``build.egress_rules``), without root."""

from __future__ import annotations

import dataclasses

from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.plan import plan
from tests.kernel.test_kernel import CLIENT, IDLE_POD, small_cluster

PODS = ("10.244.0.3", "10.244.0.4", "10.244.0.9", "10.244.1.3", "10.244.1.9")  # node1's three, node2's two


def test_every_node_masquerades_any_pod_s_packet_leaving_the_cluster_by_it() -> None:
    """As the simulator's Simulator._new_entry: the node a pod's packet leaves by masquerades it, whichever node
    the pod is on; a node's or a pod's address as destination keeps the source."""
    cluster, config = small_cluster(IDLE_POD)
    topo = plan("egress", cluster, config, (CLIENT,))
    for node in topo.nodes:
        lines = build.egress_rules(topo, node).splitlines()
        chain = build.EGRESS_CHAIN
        assert lines[:3] == ["*nat", f":{chain} - [0:0]", f"-A POSTROUTING -o eth0 -j {chain}"]
        assert [x for x in lines if x.endswith("MASQUERADE --random-fully")] == [
            f"-A {build.EGRESS_CHAIN} -s {ip}/32 -j MASQUERADE --random-fully" for ip in PODS]
        assert [x for x in lines if x.endswith("RETURN")] == [
            f"-A {build.EGRESS_CHAIN} -d 10.244.0.0/23 -j RETURN",  # both pod CIDRs (and so every pod), merged
            f"-A {build.EGRESS_CHAIN} -d 192.168.49.2/31 -j RETURN"]  # both nodes' addresses, merged


def test_a_pod_cidr_destination_is_not_masqueraded_even_where_no_pod_has_it() -> None:
    """An address of a node's pod CIDR goes to that node (build.pod_cidr_routes), not out of the cluster, so it keeps
    the pod's source as in the simulator (which masquerades only toward the router); pods outside every pod CIDR
    (here a cluster-CIDR client) are still returned one by one."""
    cluster, config = small_cluster(IDLE_POD)
    topo = plan("egress", cluster, config, ("10.244.7.7",))
    text = build.egress_rules(topo, topo.nodes[0])
    assert f"-A {build.EGRESS_CHAIN} -d 10.244.0.0/23 -j RETURN\n" in text
    assert f"-A {build.EGRESS_CHAIN} -d 10.244.7.7/32 -j RETURN\n" in text


def test_the_port_is_drawn_as_the_node_s_random_fully_says() -> None:
    """The simulator draws the CNI masquerade's port by the node's --random-fully; the stage's rule says the same."""
    cluster, config = small_cluster()
    topo = plan("egress", cluster, dataclasses.replace(config, random_fully=False), (CLIENT,))
    text = build.egress_rules(topo, topo.nodes[1])
    assert f"-A {build.EGRESS_CHAIN} -s 10.244.0.9/32 -j MASQUERADE\n" in text and "--random-fully" not in text


def test_no_pods_no_rules() -> None:
    cluster, config = small_cluster()
    topo = plan("egress", cluster, config)
    bare = dataclasses.replace(topo, pods=tuple(p for p in topo.pods if p.host_network))
    assert build.egress_rules(bare, bare.nodes[0]) == ""
