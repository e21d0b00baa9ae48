"""send --pcap's own frame encoder writes the very bytes scapy's wrpcap wrote for the same hops (the encoder replaced
scapy, which cost ~0.7 ms a frame: a million frames for ``send --count 65535 --pcap``), but for a time rounding up to a
whole second, which is carried into the seconds where scapy wrote 1,000,000 microseconds."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.packet import format_address
from kubeproxy_sim.simulator.network import Hop
from kubeproxy_sim.simulator.pcap import crc32c, simulated_mac, write_pcap
from tests.budget import budget


def scapy_frame(hop: Hop, ident: int):
    """The frame as the scapy writer built it (kubeproxy_sim/simulator/pcap.py before the encoder)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.layers.sctp import SCTP

    proto, family, src, sport, dst, dport = hop.packet
    src_text, dst_text = format_address(family, src), format_address(family, dst)
    ip = IP(src=src_text, dst=dst_text, id=ident & 0xFFFF) if family == 4 else \
        IPv6(src=src_text, dst=dst_text, fl=ident & 0xFFFFF)
    sport, dport = sport or 0, dport or 0
    l4 = TCP(sport=sport, dport=dport, flags=hop.flags or "A") if proto == "tcp" else \
        UDP(sport=sport, dport=dport) if proto == "udp" else SCTP(sport=sport, dport=dport)
    frame = Ether(src=simulated_mac(hop.where), dst=simulated_mac(dst_text)) / ip / l4
    frame.time = carried_time(hop.time)
    return frame


def carried_time(time: float) -> float:
    """The time scapy is given: a time whose fraction rounds up to a whole second is that second, the carry scapy's
    wrpcap leaves out (it wrote 1,000,000 microseconds) and pcap needs (the field holds less than a second)."""
    whole = int(time)
    return float(whole + 1) if round((time - whole) * 1_000_000) == 1_000_000 else time


def scapy_bytes(hops: list[Hop], path) -> bytes:
    from scapy.utils import wrpcap

    wrpcap(str(path), [scapy_frame(hop, i + 1) for i, hop in enumerate(hops)])
    return path.read_bytes()


ports = st.one_of(st.none(), st.integers(0, 65535))
hop_strategy = st.builds(
    lambda proto, family, src, sport, dst, dport, time, where, flags: Hop(
        time, where, (proto, family, src % (1 << (32 if family == 4 else 128)), sport,
                      dst % (1 << (32 if family == 4 else 128)), dport), flags if proto == "tcp" else ""),
    st.sampled_from(["tcp", "udp", "sctp"]), st.sampled_from([4, 6]), st.integers(0, (1 << 128) - 1), ports,
    st.integers(0, (1 << 128) - 1), ports, st.floats(0, 4e9, allow_nan=False, allow_infinity=False),
    st.sampled_from(["router", "node1 eth0 in", "pod default/client eth0", "load balancer 1.2.3.4 -> node2"]),
    st.sampled_from(["", "S", "SA", "A", "R", "RA", "FA", "PA"]))


@settings(max_examples=budget(150), deadline=None)
@given(st.lists(hop_strategy, max_size=6))
def test_frames_are_scapys_bytes(tmp_path_factory, hops: list[Hop]) -> None:
    where = tmp_path_factory.mktemp("pcap")
    ours = where / "ours.pcap"
    assert write_pcap(str(ours), hops) == len(hops)
    assert ours.read_bytes() == scapy_bytes(hops, where / "scapy.pcap")


@pytest.mark.parametrize("time", [0.9999996, 1.9999999, 29916.9999996, 4e9 - 1 + 0.9999996])
def test_a_time_rounding_up_to_a_second_is_carried(tmp_path, time: float) -> None:
    ours = tmp_path / "ours.pcap"
    write_pcap(str(ours), [Hop(time, "router", ("udp", 4, 0x0A000001, 40000, 0x0A000002, 53), "")])
    seconds, micros = struct.unpack_from("=II", ours.read_bytes(), 24)
    assert (seconds, micros) == (int(time) + 1, 0)
    assert ours.read_bytes() == scapy_bytes([Hop(time, "router", ("udp", 4, 0x0A000001, 40000, 0x0A000002, 53), "")],
                                            tmp_path / "scapy.pcap")


def test_identification_wraps_as_scapys_past_65535(tmp_path) -> None:
    """Frames 65533..65540 carry identifications 65533, 65534, 65535, 0, 1, ... (the frame's number & 0xFFFF), and
    their records are scapy's bytes for the frames of those numbers (scapy is too slow to write all 65540)."""
    hops = [Hop(0.001 * i, "router", ("tcp", 4, 0x0A000001, 40000 + i % 7, 0x0A000002, 80), "S")
            for i in range(65540)]
    ours = tmp_path / "ours.pcap"
    assert write_pcap(str(ours), hops) == len(hops)
    data = ours.read_bytes()
    record_len = 16 + 14 + 20 + 20
    assert len(data) == 24 + len(hops) * record_len
    tail = data[-8 * record_len:]
    idents = [struct.unpack_from("!H", tail, k * record_len + 16 + 14 + 4)[0] for k in range(8)]
    assert idents == [65533, 65534, 65535, 0, 1, 2, 3, 4]

    from scapy.utils import wrpcap

    wrpcap(str(tmp_path / "scapy.pcap"), [scapy_frame(hops[n - 1], n) for n in range(65533, 65541)])
    assert tail == (tmp_path / "scapy.pcap").read_bytes()[24:]


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value
