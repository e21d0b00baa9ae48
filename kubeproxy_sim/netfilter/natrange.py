"""Which address of a NAT range the kernel gives a connection: nf_nat_core's find_best_ips_proto, computed.

A DNAT or SNAT to an address range (``--to-destination A-B``, ``--to-source A-B``) does not
draw at random: get_unique_tuple takes the member from a Jenkins hash (jhash2) of the
connection's source address, seeded with the last 32-bit word of its destination (the
destination *before* a DNAT rewrites it, *after* one for an SNAT) XOR the conntrack zone,
and scales it onto the range (reciprocal_scale). ``--persistent`` (NF_NAT_RANGE_PERSISTENT)
seeds with 0 and leaves the destination out, so a client gets one member whatever it talks
to. ``--random``/``--random-fully`` change only the port search, never this choice.

The kernel hashes the four 32-bit words of its address union (an IPv4 address is the first
word, the other three zero) as the host reads them: the network-order bytes taken as
little-endian integers, as x86-64 and arm64 read them. A little-endian node is assumed (a
big-endian one, s390x say, hashes other integers and gets other members). An IPv6 range is
chosen word by word; once a word falls below the range's high word the rest are taken from
the whole word (0 to 2**32-2), so a range that spans a word boundary can yield an address
outside it: the kernel's answer, reproduced as it is.

The conntrack zone is 0 unless a ``CT --zone`` rule in the raw table sets one (evaluate follows it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubeproxy_sim.netfilter.hostmask import (
    address_text,
    getaddrinfo_number,
    inet_aton_exact,
    ipv6_number,
    plen_mask,
    zone_named,
)
from kubeproxy_sim.objects.values import value_class

MASK = 0xFFFFFFFF
JHASH_INITVAL = 0xDEADBEEF


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """__jhash_mix of include/linux/jhash.h."""
    a = ((a - c) & MASK) ^ _rol(c, 4)
    c = (c + b) & MASK
    b = ((b - a) & MASK) ^ _rol(a, 6)
    a = (a + c) & MASK
    c = ((c - b) & MASK) ^ _rol(b, 8)
    b = (b + a) & MASK
    a = ((a - c) & MASK) ^ _rol(c, 16)
    c = (c + b) & MASK
    b = ((b - a) & MASK) ^ _rol(a, 19)
    a = (a + c) & MASK
    c = ((c - b) & MASK) ^ _rol(b, 4)
    b = (b + a) & MASK
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    """__jhash_final of include/linux/jhash.h (only ``c`` is the hash)."""
    c = ((c ^ b) - _rol(b, 14)) & MASK
    a = ((a ^ c) - _rol(c, 11)) & MASK
    b = ((b ^ a) - _rol(a, 25)) & MASK
    c = ((c ^ b) - _rol(b, 16)) & MASK
    a = ((a ^ c) - _rol(c, 4)) & MASK
    b = ((b ^ a) - _rol(a, 14)) & MASK
    return ((c ^ b) - _rol(b, 24)) & MASK


def jhash2(words: Sequence[int], initval: int) -> int:
    """The kernel's jhash2: Bob Jenkins' lookup3 hash of 32-bit words."""
    a = b = c = (JHASH_INITVAL + (len(words) << 2) + initval) & MASK
    k = list(words)
    while len(k) > 3:
        a, b, c = _mix((a + k[0]) & MASK, (b + k[1]) & MASK, (c + k[2]) & MASK)
        k = k[3:]
    if not k:
        return c
    if len(k) == 3:
        c = (c + k[2]) & MASK
    if len(k) >= 2:
        b = (b + k[1]) & MASK
    return _final((a + k[0]) & MASK, b, c)


def reciprocal_scale(value: int, size: int) -> int:
    """``value`` scaled onto [0, size): the kernel's reciprocal_scale (no division)."""
    return (value * size) >> 32


def _swap(word: int) -> int:
    """A network-order word as a little-endian host reads it (and back)."""
    return int.from_bytes(word.to_bytes(4, "big"), "little")


def _host_words(family: int, address: int) -> list[int]:
    """An address's 32-bit words in host order (the value of each network-order word), four for IPv6."""
    count = 1 if family == 4 else 4
    return [(address >> (32 * (count - 1 - i))) & MASK for i in range(count)]


def _raw_words(family: int, address: int) -> list[int]:
    """The four words of the kernel's address union as the host reads them (IPv4: its word, then zeros)."""
    words = [_swap(w) for w in _host_words(family, address)]
    return words + [0] * (4 - len(words))


def best_address(family: int, src: int, dst: int, low: int, high: int, *, dnat: bool, persistent: bool,
                 zone: int = 0) -> int:
    """The address of ``low``-``high`` that find_best_ips_proto gives a connection from ``src`` to ``dst``.

    ``dnat`` says which side is rewritten (the destination, else the source); ``dst`` is the connection's
    destination as the NAT hook sees it. A DNAT's own choice feeds the hash of the words after it (the
    kernel XORs in the tuple's destination words after rewriting each), which matters for IPv6 only.
    """
    if low == high:
        return low
    count = 1 if family == 4 else 4
    dst_raw = _raw_words(family, dst)
    lows, highs = _host_words(family, low), _host_words(family, high)
    j = jhash2(_raw_words(family, src), 0 if persistent else dst_raw[count - 1] ^ zone)
    chosen: list[int] = []
    full_range = False
    for i in range(count):
        if full_range:
            base, dist = 0, MASK
        else:
            base, dist = lows[i], (highs[i] - lows[i] + 1) & MASK
        word = (base + reciprocal_scale(j, dist)) & MASK
        chosen.append(word)
        full_range = full_range or word != highs[i]
        if not persistent:
            j ^= _swap(word) if dnat else dst_raw[i]
    value = 0
    for word in chosen:
        value = value << 32 | word
    return value


# ---------------------------------------------------------------------------
# Reading a NAT target's range as iptables 1.8.9 reads it
# ---------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_TEXT = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"  # (unrolled: quicker to match than a repeated group)
"""glibc's inet_pton for IPv4: four decimal numbers 0-255 without a leading zero, nothing else (``1.2.3``,
``010.1.1.1`` and ``0x1.2.3.4``, which -s takes, are "Bad IP address"); the syntax's rule shapes use it too."""
_INET_PTON4 = re.compile(IPV4_TEXT)


@value_class
class NatTo:
    """A ``--to-destination``/``--to-source`` value as libxt_NAT's parse_to reads it: the addresses (None: the value
    names only ports, ``:80``) and the ports' text after the colon (None: no colon), which the parser reads."""

    low: int | None
    high: int | None
    ports: str | None

    def saved(self, family: int, ports: str | None) -> str:
        """As libxt_NAT's save prints it (sprint_range), with ``ports`` as read (``80`` or ``80-90``): the high
        address only when it differs, an IPv6 range in brackets when ports follow."""
        text = ""
        if self.low is not None and self.high is not None:
            text = address_text(family, self.low)
            if self.high != self.low:
                text += "-" + address_text(family, self.high)
            if family == 6 and ports is not None:
                text = f"[{text}]"
        return text if ports is None else f"{text}:{ports}"


def inet_pton(family: int, text: str) -> int | None:
    """glibc's inet_pton of all of ``text`` for ``family`` (4 or 6), as a number; None when it refuses it."""
    if family == 4:
        if _INET_PTON4.fullmatch(text) is None:
            return None
        a, b, c, d = (int(part) for part in text.split("."))
        return a << 24 | b << 16 | c << 8 | d
    return None if not text or text != text.strip() else ipv6_number(text)


def split_nat_to(value: str, family: int) -> tuple[str | None, str | None] | str:
    """``value`` cut as libxt_NAT's parse_to cuts it for ``family``: (the addresses' text, None when it names only
    ports; the ports' text after the colon, None without one), or its words refusing it. With a ``[`` (anywhere:
    what comes before it is skipped, as is what follows the ``]`` up to a colon) the addresses are those inside the
    brackets ("Invalid address format" without a ``]``, or in IPv4); else the first colon starts the ports unless a
    second one follows (an IPv6 address). A colon first, or after ``[]`` or any two characters (``12:80``), leaves
    no address."""
    bracket = value.find("[")
    if bracket != -1:
        end = value.find("]", bracket + 1)
        if end == -1 or family == 4:
            return "Invalid address format"
        addresses = value[bracket + 1:end]
        colon = value.find(":", end + 1)
    else:
        colon = value.find(":")
        if colon != -1 and ":" in value[colon + 1:]:
            colon = -1
        addresses = value if colon == -1 else value[:colon]
    ports = None if colon == -1 else value[colon + 1:]
    return (None if colon in (0, 2) else addresses), ports  # (parse_to: "Starts with colon or [] colon? No IP info")


def read_nat_to(value: str, family: int) -> NatTo | str:
    """``value`` as libxt_NAT's parse_to reads it for ``family`` (:func:`split_nat_to`), or its words refusing it:
    the first ``-`` splits a range, each side read by inet_pton ("Bad IP address \"X\""); a descending range is
    taken (and printed as written). The ports are the parser's to read (syntax.nat_port_range)."""
    cut = split_nat_to(value, family)
    if isinstance(cut, str):
        return cut
    addresses, ports = cut
    if addresses is None:
        return NatTo(None, None, ports)
    low_text, dash, high_text = addresses.partition("-")
    low = inet_pton(family, low_text)
    if low is None:
        return f'Bad IP address "{low_text}"'
    high = inet_pton(family, high_text) if dash else low
    if high is None:
        return f'Bad IP address "{high_text}"'
    return NatTo(low, high, ports)


GETADDRINFO_UNKNOWN = "getaddrinfo: Name or service not known"


def host_problem(host: str) -> str | None:
    """getaddrinfo's words refusing ``host`` whatever the family and the machine: empty, or holding a blank, a
    comma or a slash (no name does: glibc's resolver refuses it), or a name of digits and dots that inet_aton does
    not take (``1.2.3.256``: glibc decides such a name itself, without a lookup), or one holding a colon that is
    no IPv6 address (:func:`_ipv6_host_refused`); None when a family may take it."""
    if not host or any(c in " \t\n\v\f\r,/" for c in host):
        return GETADDRINFO_UNKNOWN
    if host[0] in "0123456789" and host.strip("0123456789.") == "" and inet_aton_exact(host) is None:
        return GETADDRINFO_UNKNOWN
    if ":" in host and _ipv6_host_refused(host):
        return GETADDRINFO_UNKNOWN
    return None


def _ipv6_host_refused(host: str) -> bool:
    """Whether glibc's getaddrinfo refuses a host holding a colon without a lookup, whatever the family (no name
    holds one): its address before any ``%`` is no inet_pton IPv6 address (``fd00::00001``, ``a:b``,
    ``[fd00::1]``), or its zone is none glibc's scope reading takes: empty, a decimal number above 2^32-1, or a
    name (even ``0x1``) on an address that is not link-local (``fd00::1%lo``). A name on fe80::/10 or a node- or
    link-local multicast address (ffX1::, ffX2::: glibc's __inet6_scopeid_pton) depends on the machine's
    interfaces (``fe80::1%lo`` is taken, ``%nosuch`` refused): not refused here.
    (iptables-legacy/-nft-restore 1.8.9, unshare --net: "getaddrinfo: Name or service not known".)"""
    address, percent, zone = host.partition("%")
    number = ipv6_number(address)
    if number is None:
        return True
    if not percent:
        return False
    if zone.isascii() and zone.isdigit():
        return int(zone) > 0xFFFFFFFF
    return not zone or not zone_named(number)


def read_netmap_to(value: str, family: int) -> tuple[int, int] | str | None:
    """NETMAP's ``--to ADDRESS[/MASK]`` as libxt_NETMAP 1.8.9 reads it for ``family``: (the network, the mask), the
    host as getaddrinfo reads it (``1.2.3`` is 1.2.0.3 in IPv4, ``010.0.0.0`` 8.0.0.0) masked, the mask after the
    first ``/`` by :func:`plen_mask` (none: the full one); iptables' words refusing it; None for a host that is no
    number of either family (a name, which the machine would resolve, or an anonymised ``x.x.x.x``)."""
    host, slash, mask_text = value.partition("/")
    problem = host_problem(host)
    if problem is not None:
        return problem
    number = getaddrinfo_number(host, family == 6)
    if number is None:
        if getaddrinfo_number(host, family != 6) is None:
            return None
        return "getaddrinfo: Address family for hostname not supported"
    bits = 32 if family == 4 else 128
    mask = plen_mask(mask_text, family) if slash else (1 << bits) - 1
    if mask is None:
        return f"NETMAP: bad value for option \"--to\", neither a valid network mask nor valid CIDR (0-{bits})."
    return number & mask, mask


def netmap_problem(value: str) -> str | None:
    """iptables' words refusing a NETMAP ``--to`` in both families (a list, an empty or blank host, a mask
    neither family reads); None when one family may take it."""
    read4, read6 = read_netmap_to(value, 4), read_netmap_to(value, 6)
    if not isinstance(read4, str) or not isinstance(read6, str):
        return None
    return read6 if ":" in value.partition("/")[0] else read4
