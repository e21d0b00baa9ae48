"""send --pcap: frames with fixed MACs of the simulated places, written without touching the host's network."""

from __future__ import annotations

import re
import time

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.simulator.network import Hop
from kubeproxy_sim.simulator.pcap import simulated_mac, write_pcap

MAC = re.compile(r"02(:[0-9a-f]{2}){5}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch):
    """Every way scapy reaches the network is refused and recorded (scapy swallows some errors, e.g. in
    getmacbyip, so the test checks the record): its sockets, sending, and ARP/NDP resolution."""
    import scapy.layers.inet6
    import scapy.layers.l2
    import scapy.sendrecv
    from scapy.config import conf

    calls: list[str] = []

    def refusing(name: str):
        def refuse(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"writing a pcap must not reach the network ({name})")
        return refuse

    for attr in ("L2socket", "L3socket", "L3socket6", "L2listen"):
        monkeypatch.setattr(conf, attr, refusing(attr), raising=False)
    for module in (scapy.sendrecv, scapy.layers.l2, scapy.layers.inet6):
        for name in ("sr", "sr1", "srp", "srp1", "send", "sendp", "sniff", "getmacbyip", "getmacbyip6", "neighsol"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refusing(name))
    yield calls
    assert calls == []


def _hops(family: int, src: str, dst: str) -> list[Hop]:
    s, d = parse_address(src)[1], parse_address(dst)[1]
    places = ("pod default/client eth0", "node1 veth1 in", "node1 eth0 out", "router", "node2 eth0 in")
    return [Hop(float(i), where, ("tcp", family, s, 40000, d, 80), "S") for i, where in enumerate(places)] + \
        [Hop(5.0, "node2 eth0 out", ("udp", family, d, 53, s, 40000), "")]


@pytest.mark.parametrize(("family", "src", "dst"), [(4, "10.244.0.5", "93.184.216.34"),
                                                    (6, "fd00:10:244:1::5", "2001:db8::10")])
def test_frames_get_fixed_macs_and_writing_sends_nothing(no_network, tmp_path, family, src, dst) -> None:
    from scapy.utils import rdpcap

    hops = _hops(family, src, dst) * 4
    path = tmp_path / "out.pcap"
    started = time.monotonic()
    assert write_pcap(str(path), hops) == len(hops)
    assert time.monotonic() - started < 2  # scapy's neighbour solicitation waited 1 s per IPv6 frame
    frames = rdpcap(str(path))
    assert len(frames) == len(hops)
    for frame, hop in zip(frames, hops, strict=True):
        assert MAC.fullmatch(frame.src) and MAC.fullmatch(frame.dst)
        assert frame.src == simulated_mac(hop.where)
        assert frame.dst == simulated_mac(src if hop.where == "node2 eth0 out" else dst)
    assert len({f.src for f in frames[:6]}) == 6  # each place its own
    assert simulated_mac("router") == simulated_mac("router") != simulated_mac("node1 eth0 out")
    assert no_network == []


def test_cli_send_pcap_on_ipv6_is_fast_and_stays_off_the_host_network(no_network, tmp_path, capsys) -> None:
    from scapy.utils import rdpcap

    path = tmp_path / "v6.pcap"
    started = time.monotonic()
    assert main(["send", "--scenario", "ipv6", "--from", "external", "--to", "node/node1:30080", "--count", "3",
                 "--pcap", str(path)]) == 0
    assert time.monotonic() - started < 10
    assert "wrote" in capsys.readouterr().err
    frames = rdpcap(str(path))
    assert frames and all(f.haslayer("IPv6") and MAC.fullmatch(f.src) and MAC.fullmatch(f.dst) for f in frames)
    assert no_network == []


@pytest.mark.parametrize(("scenario", "to"), [("bootcamp", "node/node1:31526"), ("ipv6", "node/node1:30080")])
def test_cli_send_pcap_keeps_each_packet_s_tcp_flags_on_every_hop_to_the_pod(no_network, tmp_path, capsys,
                                                                            scenario: str, to: str) -> None:
    """A SYN is a SYN on every hop, the pod's eth0 included (NAT rewrites addresses and ports, never flags); then
    the SYN-ACK's hops, then the ACK's."""
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    path = tmp_path / "flags.pcap"
    assert main(["send", "--scenario", scenario, "--from", "external", "--to", to, "--count", "1",
                 "--pcap", str(path)]) == 0
    capsys.readouterr()
    frames = rdpcap(str(path))
    flags = [str(f[TCP].flags) for f in frames]
    syn, synack, ack = flags.count("S"), flags.count("SA"), flags.count("A")
    assert syn and synack and syn == ack and len(flags) == syn + synack + ack
    assert flags == ["S"] * syn + ["SA"] * synack + ["A"] * ack, flags
    first_reply = frames[syn]
    pod, port = first_reply[1].src, first_reply[TCP].sport
    to_pod = [str(f[TCP].flags) for f in frames[:syn] if f[1].dst == pod and f[TCP].dport == port]
    assert to_pod == ["S", "S"]  # the node's interface out, then the pod's eth0: a SYN on both
