"""Every hop's packets as a pcap file (Wireshark, tcpdump), each frame encoded here with :mod:`struct`.

Each recorded hop (a pod's eth0, a node's interface in and out, the router)
becomes one frame, in order, with the simulated time as its timestamp; the
IP header's identification field (IPv6: the flow label) numbers the frames
(1, 2, ...) to tell a packet's hops apart.

Every frame has explicit MAC addresses, never a host's: the source is the
place the hop was seen at (``pod NS/NAME eth0``, ``node1 eth0 in``,
``router``, ...), the destination the packet's destination address, each a
locally administered unicast MAC (``02:``) from a hash of its name, the same
on every machine.

The bytes are scapy's (``wrpcap`` of ``Ether/IP|IPv6/TCP|UDP|SCTP`` with
scapy's defaults: TTL/hop limit 64, TCP window 8192, SCTP tag 0 and its
CRC32c, a native-endian microsecond pcap with snaplen 65535), which this
module used to call per frame: building a scapy packet cost ~0.7 ms, so
``send --count 65535 --pcap`` (a million frames) took ~12 minutes and kept
every frame in memory. Encoded here and written as they come, a frame costs
microseconds; tests/simulator/test_pcap_bytes.py pins the equality with scapy.
One difference: a time that rounds up to a whole second is written as that
second and 0 microseconds, where scapy wrote 1,000,000 microseconds.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from functools import lru_cache

from kubeproxy_sim.netfilter.packet import ICMP_PROTOS, format_address
from kubeproxy_sim.simulator.checksum import internet_checksum
from kubeproxy_sim.simulator.network import Hop, echo

SNAPLEN = 0xFFFF
"""scapy's default snaplen (its MTU constant)."""
LINKTYPE_ETHERNET = 1
TTL = 64
TCP_WINDOW = 8192
ETHERTYPE = {4: 0x0800, 6: 0x86DD}
IP_PROTO = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}
TCP_FLAG_BITS = {letter: 1 << bit for bit, letter in enumerate("FSRPAUECN")}
"""scapy's TCP flag letters, bit 0 first."""


@lru_cache(maxsize=1024)
def simulated_mac(name: str) -> str:
    """A locally administered unicast MAC for a simulated interface or host: 02 and 5 bytes of a hash of its name."""
    return ":".join(f"{b:02x}" for b in _mac_bytes(name))


@lru_cache(maxsize=1024)
def _mac_bytes(name: str) -> bytes:
    return bytes((0x02, *hashlib.blake2b(name.encode(), digest_size=5).digest()))


def _crc32c_table() -> tuple[int, ...]:
    """The Castagnoli CRC's byte table (reflected polynomial 0x82F63B78), as SCTP's checksum (RFC 4960 B) uses."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32c of ``data``, the value whose little-endian bytes SCTP's checksum field holds."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ CRC32C_TABLE[(crc ^ byte) & 0xFF]
    return ~crc & 0xFFFFFFFF


def _pseudo_header(family: int, src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if family == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!I3xB", length, proto)


def _transport(proto: str, family: int, src: bytes, dst: bytes, sport: int, dport: int, flags: str,
               sequence: int = 1) -> bytes:
    """The TCP, UDP or SCTP header (no payload), or an ICMP echo's (``sport`` its identifier, ``sequence`` its
    sequence number), its checksum filled in (ICMPv6's over the pseudo-header, ICMP's over the message alone)."""
    if proto in ICMP_PROTOS:
        type_, code = echo(proto, flags)
        head = struct.pack("!BBHHH", type_, code, 0, sport, sequence & 0xFFFF)
        covered = head if proto == "icmp" else _pseudo_header(family, src, dst, IP_PROTO[proto], len(head)) + head
        return head[:2] + struct.pack("!H", internet_checksum(covered)) + head[4:]
    if proto == "sctp":
        head = struct.pack("!HHII", sport, dport, 0, 0)
        return head[:8] + struct.pack("<I", crc32c(head))
    if proto == "udp":
        head = struct.pack("!HHHH", sport, dport, 8, 0)
        checksum = internet_checksum(_pseudo_header(family, src, dst, IP_PROTO[proto], 8) + head) or 0xFFFF
        return head[:6] + struct.pack("!H", checksum)
    bits = 0
    for letter in flags or "A":
        bits |= TCP_FLAG_BITS[letter]
    head = struct.pack("!HHIIHHHH", sport, dport, 0, 0, (5 << 12) | bits, TCP_WINDOW, 0, 0)
    checksum = internet_checksum(_pseudo_header(family, src, dst, IP_PROTO[proto], len(head)) + head)
    return head[:16] + struct.pack("!H", checksum) + head[18:]


def frame_bytes(hop: Hop, ident: int) -> bytes:
    """One hop as an Ethernet frame: the MACs of its place and destination, IPv4 (``ident`` as the
    identification) or IPv6 (``ident`` as the flow label), and the transport header."""
    proto, family, src, sport, dst, dport = hop.packet
    size = 4 if family == 4 else 16
    src_raw, dst_raw = src.to_bytes(size, "big"), dst.to_bytes(size, "big")
    l4 = _transport(proto, family, src_raw, dst_raw, sport or 0, dport or 0, hop.flags, hop.sequence)
    if family == 4:
        head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), ident & 0xFFFF, 0, TTL, IP_PROTO[proto], 0) + \
            src_raw + dst_raw
        ip = head[:10] + struct.pack("!H", internet_checksum(head)) + head[12:]
    else:
        ip = struct.pack("!IHBB", (6 << 28) | (ident & 0xFFFFF), len(l4), IP_PROTO[proto], TTL) + src_raw + dst_raw
    ether = _mac_bytes(format_address(family, dst)) + _mac_bytes(hop.where) + struct.pack("!H", ETHERTYPE[family])
    return ether + ip + l4


def _record_header(time: float, length: int) -> bytes:
    """The record header: whole seconds, then the rest rounded to microseconds, a rounding up to a whole second
    carried into the seconds. scapy's wrpcap does not carry (1.9999999 s became 1 s and 1,000,000 us), but pcap's
    microsecond field holds less than a second, and Wireshark takes a larger one for a sign of another pcap variant;
    the simulated clock sums floats, so such times come in ordinary runs."""
    whole = int(time)
    micros = round((time - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return struct.pack("=IIII", whole, micros, length, length)


def write_pcap(path: str, hops: Iterable[Hop]) -> int:
    """Write the frames as they are encoded; returns how many."""
    count = 0
    with open(path, "wb") as out:
        out.write(struct.pack("=IHHIIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        for count, hop in enumerate(hops, 1):
            frame = frame_bytes(hop, count)
            out.write(_record_header(hop.time, len(frame)))
            out.write(frame)
    return count
