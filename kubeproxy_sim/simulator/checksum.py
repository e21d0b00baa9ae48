"""The Internet checksum (RFC 1071), for every place that writes ICMP, TCP, UDP or IPv4 header bytes.

Its own module, importing :mod:`struct` alone, because two places need it whose start-up costs differ: the pcap
writer (:mod:`kubeproxy_sim.simulator.pcap`, which loads the packet model) and the kernel ping's client
(:mod:`kubeproxy_sim.kernel.pinger`), a process of its own started inside a namespace per ``netns send --proto
icmp``, where importing the pcap writer for this one function cost ~0.2 s.
"""

from __future__ import annotations

import struct


def internet_checksum(data: bytes) -> int:
    """The complement of RFC 1071's ones' complement sum of ``data``'s 16-bit big-endian words (an odd length
    padded with a zero byte at the end).

    As RFC 1071 and Linux's ``csum_fold`` compute it, the sum of any words not all zero folds to 1..0xFFFF
    (never 0), so the checksum is 0 exactly when they sum to 0xFFFF and 0xFFFF only for all-zero words. A
    receiver's sum over the data with the checksum in it is 0xFFFF: this function gives 0 for it. UDP sends a
    computed 0 as 0xFFFF (RFC 768; 0 means "none"): the caller's ``or 0xFFFF``, not this function's.
    """
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
