"""Every hop's packets as a pcap file (Wireshark, tcpdump): the only module that touches scapy.

Each recorded hop (a pod's eth0, a node's interface in and out, the router)
becomes one frame, in order, with the simulated time as its timestamp; the
IP header's identification field (IPv6: the flow label) numbers the hops of a
packet (1, 2, ...) to tell them apart.

Every frame has explicit MAC addresses, so scapy never asks the host for one
(it would send real ARP or Neighbor Solicitations from this machine, wait a
second for each IPv6 frame, and copy the real gateway's MAC into the file):
the source is the place the hop was seen at (``pod NS/NAME eth0``, ``node1
eth0 in``, ``router``, ...), the destination the packet's destination address,
each a locally administered unicast MAC (``02:``) from a hash of its name, the
same on every machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from kubeproxy_sim.netfilter.packet import format_address
from kubeproxy_sim.simulator.network import Hop


@lru_cache(maxsize=1024)
def simulated_mac(name: str) -> str:
    """A locally administered unicast MAC for a simulated interface or host: 02 and 5 bytes of a hash of its name."""
    digest = hashlib.blake2b(name.encode(), digest_size=5).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest))


def _frame(hop: Hop, ident: int):
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.layers.sctp import SCTP
    from scapy.packet import Packet

    proto, family, src, sport, dst, dport = hop.packet
    src_text, dst_text = format_address(family, src), format_address(family, dst)
    ip = IP(src=src_text, dst=dst_text, id=ident & 0xFFFF) if family == 4 else \
        IPv6(src=src_text, dst=dst_text, fl=ident & 0xFFFFF)
    sport, dport = sport or 0, dport or 0
    l4: Packet
    if proto == "tcp":
        l4 = TCP(sport=sport, dport=dport, flags=hop.flags or "A")
    elif proto == "udp":
        l4 = UDP(sport=sport, dport=dport)
    else:
        l4 = SCTP(sport=sport, dport=dport)
    frame = Ether(src=simulated_mac(hop.where), dst=simulated_mac(dst_text)) / ip / l4
    frame.time = hop.time
    return frame


def write_pcap(path: str, hops: Sequence[Hop]) -> int:
    """Write the frames; returns how many."""
    from scapy.utils import wrpcap

    frames = [_frame(hop, i + 1) for i, hop in enumerate(hops)]
    wrpcap(path, frames)
    return len(frames)
