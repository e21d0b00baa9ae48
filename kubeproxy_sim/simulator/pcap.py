"""Every hop's packets as a pcap file (Wireshark, tcpdump): the only module that touches scapy.

Each recorded hop (a pod's eth0, a node's interface in and out, the router)
becomes one frame, in order, with the simulated time as its timestamp; the
hop's place is not in the frame, so the IP header's identification field
numbers the hops of a packet (1, 2, ...) to tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubeproxy_sim.netfilter.packet import format_address
from kubeproxy_sim.simulator.network import Hop


def _frame(hop: Hop, ident: int):
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.layers.sctp import SCTP
    from scapy.packet import Packet

    proto, family, src, sport, dst, dport = hop.packet
    ip = IP(src=format_address(4, src), dst=format_address(4, dst), id=ident & 0xFFFF) if family == 4 else \
        IPv6(src=format_address(6, src), dst=format_address(6, dst), fl=ident & 0xFFFFF)
    sport, dport = sport or 0, dport or 0
    l4: Packet
    if proto == "tcp":
        l4 = TCP(sport=sport, dport=dport, flags=hop.flags or "A")
    elif proto == "udp":
        l4 = UDP(sport=sport, dport=dport)
    else:
        l4 = SCTP(sport=sport, dport=dport)
    frame = Ether() / ip / l4
    frame.time = hop.time
    return frame


def write_pcap(path: str, hops: Sequence[Hop]) -> int:
    """Write the frames; returns how many."""
    from scapy.utils import wrpcap

    frames = [_frame(hop, i + 1) for i, hop in enumerate(hops)]
    wrpcap(path, frames)
    return len(frames)
