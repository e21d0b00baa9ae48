"""Node flags and KubeProxyConfiguration -> ProxyConfig, with kube-proxy's precedence."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.options import config_from_args, parse_bool
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.objects.model import Cluster, IPFamily, Node, NodeAddress
from kubeproxy_sim.proxier.config import DetectLocalMode

NODE = Node("n1", (NodeAddress("InternalIP", "192.168.49.2"), NodeAddress("Hostname", "n1")),
            pod_cidrs=("10.244.0.0/24",), labels=(("topology.kubernetes.io/zone", "z1"),))


def test_defaults_without_objects() -> None:
    config = config_from_args([], Cluster())
    assert config.node_name == "node1"
    assert config.ip_family is IPFamily.IPV4
    assert config.node_ips == ()
    assert config.localhost_nodeports is True and config.random_fully is True and config.nfacct is True
    assert config.masquerade_mark == "0x4000"


def test_node_object_supplies_host_facts() -> None:
    config = config_from_args([], Cluster(nodes=(NODE,)))
    assert config.node_name == "n1"
    assert config.node_ips == ("192.168.49.2/32",)
    assert config.node_pod_cidrs == ("10.244.0.0/24",)
    assert config.zone == "z1"


def test_flags_override_node_object_and_parse_like_kube_proxy() -> None:
    config = config_from_args(
        ["--hostname-override", "n1", "--node-ip", "10.1.1.1/24", "--node-ip", "2001:db8::1/64",
         "--cluster-cidr", "10.0.0.0/8, fd00::/48", "--masquerade-all", "--iptables-localhost-nodeports=false",
         "--nodeport-addresses", "10.1.1.0/24,primary", "--detect-local-mode", "NodeCIDR",
         "--iptables-masquerade-bit", "5", "--random-fully=false", "--nfacct", "f"],
        Cluster(nodes=(NODE,)),
    )
    assert config.node_ips == ("10.1.1.1/24", "2001:db8::1/64")
    assert config.cluster_cidrs == ("10.0.0.0/8", "fd00::/48")
    assert config.masquerade_all is True and config.localhost_nodeports is False
    assert config.nodeport_addresses == ("10.1.1.0/24", "primary")
    assert config.detect_local_mode is DetectLocalMode.NODE_CIDR
    assert config.masquerade_mark == "0x20"
    assert config.random_fully is False and config.nfacct is False


def test_ipv6_family_follows_primary_node_ip() -> None:
    assert config_from_args(["--node-ip", "fd00::2"], Cluster()).ip_family is IPFamily.IPV6
    assert config_from_args(["--node-ip", "fd00::2", "--ip-family", "ipv4"], Cluster()).ip_family is IPFamily.IPV4


def test_config_file_then_flags(tmp_path) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"
        "clusterCIDR: 10.244.0.0/16\nhostnameOverride: n9\n"
        "iptables: {masqueradeAll: true, masqueradeBit: 15, localhostNodePorts: false}\n"
        "nodePortAddresses: [192.168.0.0/16]\nconntrack: {tcpBeLiberal: true}\n"
    )
    config = config_from_args(["--config", str(path), "--masquerade-all=false"], Cluster())
    assert config.node_name == "n9" and config.cluster_cidrs == ("10.244.0.0/16",)
    assert config.masquerade_all is False  # the flag wins over the file
    assert config.masquerade_bit == 15 and config.localhost_nodeports is False
    assert config.nodeport_addresses == ("192.168.0.0/16",) and config.conntrack_tcp_be_liberal is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--node-ip", "300.1.1.1"], "--node-ip: '300.1.1.1' is not an IP address; expected IP or IP/PREFIX"),
        (["--iptables-masquerade-bit", "40"], "--iptables-masquerade-bit: 40 is not in 0-31"),
    ],
)
def test_invalid_values_are_reported(argv: list[str], message: str) -> None:
    with pytest.raises(InputError) as info:
        config_from_args(argv, Cluster())
    assert [str(d) for d in info.value.diagnostics] == [message]


def test_parse_bool_is_go_strconv() -> None:
    assert parse_bool("T") is True and parse_bool("0") is False
    with pytest.raises(Exception, match="not a boolean"):
        parse_bool("yes")
