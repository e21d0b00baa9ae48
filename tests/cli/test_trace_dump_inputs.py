"""``trace --rules``: what the command line gives with a dump (the packet, --node-ip, other flags, stdin) is
read against the dump's own facts, and what the dump cannot tell is said, not silently assumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.realworld import DUMPS

KIND = DUMPS / "06-kind-1.23-traefik-2022.rules"


def _trace(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict | None, str]:
    code = main(["trace", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def test_a_packet_of_the_other_family_is_refused_in_the_dump_s_family(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The dump is read in its own family; the packet is what is of the other one (not a 'syntax error' at
    the dump's first address)."""
    code, _, err = _trace(["--rules", str(KIND), "--src", "fd00::1", "--dst", "fd00::2", "--dport", "80"], capsys)
    assert code == 1 and "has an address of the other family" not in err
    assert "the packet is IPv6, but the dump is an iptables-save (IPv4); expected IPv4 addresses" in err
    assert main(["rules", "--full", "--scenario", "ipv6"]) == 0
    v6 = tmp_path / "v6.rules"
    v6.write_text(capsys.readouterr().out)
    code, _, err = _trace(["--rules", str(v6), "--src", "10.0.0.1", "--dst", "10.96.0.1", "--dport", "80"], capsys)
    assert code == 1 and "the packet is IPv4, but the dump is an ip6tables-save (IPv6); expected IPv6" in err


def test_a_dump_without_addresses_takes_a_packet_of_either_family(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "plain.rules"
    dump.write_text("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp --dport 80 -j ACCEPT\nCOMMIT\n")
    for src, dst in (("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")):
        code, data, _ = _trace(["--rules", str(dump), "--src", src, "--dst", dst, "--dport", "80"], capsys)
        assert code == 0 and data is not None
        assert [(o["verdict"], o["path"][-1]["line"]) for o in data["outcomes"]] == [("ACCEPT", 3)]


def test_a_dump_without_addresses_but_ipv6_s_icmp6_is_ipv6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only ip6tables-restore loads -m icmp6: an IPv6 packet is traced through it (it was refused as an IPv4 dump
    with an IPv6 extension), an IPv4 one refused in the dump's family."""
    dump = tmp_path / "icmp6.rules"
    dump.write_text("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP\n"
                    "-A FORWARD -p tcp --dport 80 -j DROP\nCOMMIT\n")
    code, data, _ = _trace(["--rules", str(dump), "--src", "fd00::1", "--dst", "fd00::2", "--dport", "80"], capsys)
    assert code == 0 and data is not None and data["ip_family"] == "IPv6"
    assert [(o["verdict"], o["path"][-1]["line"]) for o in data["outcomes"]] == [("DROP", 4)]
    code, _, err = _trace(["--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"], capsys)
    assert code == 1 and "the packet is IPv4, but the dump is an ip6tables-save (IPv6)" in err


FLANNEL = DUMPS / "08-centos7-flannel-nodeport-2024.rules"
NODEPORT = ["--rules", str(FLANNEL), "--src", "8.8.8.8", "--dst", "192.168.1.5", "--dport", "31674"]


def test_a_node_ip_of_the_other_family_is_refused_as_netns_verify_refuses_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A dual-stack node's IPv6 InternalIP given with an iptables-save made the node's IPv4 addresses 'known'
    and empty: a definite, wrong ACCEPT with nothing uncertain. Refused in netns verify's words (one check)."""
    code, _, err = _trace([*NODEPORT, "--node-ip", "fd00::1"], capsys)
    assert code == 1
    assert ("--node-ip: fd00::1 is an IPv6 address, but the dump is an iptables-save (IPv4); expected IPv4 node "
            "addresses") in err
    code, _, err = _trace([*NODEPORT, "--node-ip", "192.168.1.5", "--node-ip", "node1"], capsys)
    assert code == 2 and "--node-ip: 'node1' is not an IP address" in err  # the wrong shape: a usage error
    code, data, _ = _trace([*NODEPORT, "--node-ip", "192.168.1.5/24"], capsys)
    assert code == 0 and data is not None
    assert [(o["verdict"], o["destination"], o["masquerade"]) for o in data["outcomes"]] == [
        ("DNAT", "10.1.0.66:80", True)]


def _uncertain(data: dict) -> list[tuple[int | None, str, str]]:
    return [(u["line"], u["rule"], u["reason"]) for u in data["uncertain"]]


def test_without_node_ip_the_origin_is_an_uncertain_assumption(capsys: pytest.CaptureFixture[str]) -> None:
    """The kind node's own address, traced from a dump without --node-ip, was taken as remote silently."""
    argv = ["--rules", str(KIND), "--src", "172.18.0.5", "--dst", "10.96.0.1", "--dport", "443"]
    code, data, _ = _trace(argv, capsys)
    assert code == 0 and data is not None and data["origin"] == "remote"
    assert _uncertain(data)[0] == (None, "packet origin", "the source 172.18.0.5 is assumed not to be an address "
                                   "of this node, so the packet comes from elsewhere, not from the node itself "
                                   "(give --node-ip)")
    for more in (["--node-ip", "172.18.0.2"], ["--in-iface", "eth0"]):  # the origin is known then
        code, data, _ = _trace([*argv, *more], capsys)
        assert code == 0 and data is not None and "packet origin" not in [u[1] for u in _uncertain(data)]
    code, data, _ = _trace([*argv, "--node-ip", "172.18.0.5"], capsys)
    assert code == 0 and data is not None and data["origin"] == "local"
    assert "packet origin" not in [u[1] for u in _uncertain(data)]
    code, data, _ = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87",
                            "--dport", "8080"], capsys)  # objects: the node's addresses are known
    assert code == 0 and data is not None and data["uncertain"] == []


def test_a_reply_s_origin_is_listed_after_its_reverse_translation(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rules", str(FLANNEL), "--src", "10.1.0.66", "--sport", "80", "--dst", "8.8.8.8", "--dport", "40000",
            "--ctstate", "ESTABLISHED", "--ctdir", "REPLY"]
    code, data, _ = _trace(argv, capsys)
    assert code == 0 and data is not None
    assert [u[1] for u in _uncertain(data)][:2] == ["conntrack's reverse translation", "packet origin"]


def test_a_dnat_to_loopback_from_elsewhere_assumes_route_localnet(capsys: pytest.CaptureFixture[str]) -> None:
    """kind's DOCKER_OUTPUT DNATs DNS to 127.0.0.11: from a pod the kernel drops it as a martian unless
    route_localnet is set, which no dump says."""
    argv = ["--rules", str(KIND), "--node-ip", "192.168.31.191", "--src", "10.244.0.7", "--dst", "192.168.31.191",
            "--dport", "53", "--proto", "udp"]
    code, data, _ = _trace(argv, capsys)
    assert code == 0 and data is not None and data["origin"] == "remote"
    assert [o["destination"] for o in data["outcomes"]] == ["127.0.0.11:50410"]
    assert _uncertain(data)[-1] == (None, "routing decision", "the DNAT destination 127.0.0.11 is a loopback "
                                    "address, which a packet from elsewhere reaches only where route_localnet is "
                                    "set (net.ipv4.conf.all or the input interface's); assumed set (the rules do "
                                    "not say; kube-proxy sets it when it serves NodePorts on localhost), else the "
                                    "kernel drops it as a martian")
    code, data, _ = _trace([*argv[:4], "--src", "192.168.31.191", *argv[6:]], capsys)  # from the node itself
    assert code == 0 and data is not None and data["origin"] == "local"
    assert "route_localnet" not in json.dumps(data["uncertain"])


def test_trace_s_help_says_node_ip_lists_every_local_address(capsys: pytest.CaptureFixture[str]) -> None:
    """One --node-ip made the list complete: the node's other addresses (cni0's 10.1.0.1) were definitely not
    LOCAL. That is what --node-ip means with a dump; the help says so (other commands' help is unchanged)."""
    with pytest.raises(SystemExit):
        main(["trace", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "With --rules, list every local address of the node, a bridge's (cni0, docker0) included" in text
    with pytest.raises(SystemExit):
        main(["rules", "--help"])
    assert "every local address" not in capsys.readouterr().out
