"""A rule's ``-s``/``-d`` value read as iptables 1.8.9 reads it (libxtables' ``xtables_ipparse_multiple`` and
``xtables_ip6parse_multiple``), and printed as iptables-save prints it back.

The value is a comma-separated list; each item is ``HOST[/MASK]`` (split at its last ``/``, leading blanks
skipped). The mask is read first: IPv4 takes a dotted mask of four numbers (``255.255.0.0``) or a length 0-32,
IPv6 an IPv6 address or a length 0-128, each number as C's strtoul reads it in base 0 (``0x10``, octal ``010``,
``+8``); anything else is "invalid mask `X' specified" (``/33``, ``/``, ``/-1``). A mask of 0 makes the host
``0.0.0.0`` (``::``) without reading it (``x.x.x.x/0`` is taken). The host is then, in IPv4, first libxtables' own
numeric reading (up to four dot-separated numbers 0-255 in base 0, the missing ones zero: ``1.2.3`` is 1.2.3.0,
``010.1.1.1`` is 8.1.1.1; of at most 19 characters, the rest cut off), then a network of /etc/networks, then
gethostbyname, which for a name of digits and dots decides without any lookup (glibc's inet_aton: ``4294967295``
is 255.255.255.255, ``1.65535`` is 1.0.255.255; ``1.2.3.256`` is "host/network `1.2.3.256' not found") and reads
a C number form (``0x100``) alike; in IPv6, inet_pton, then getaddrinfo. Each host is then masked.

What a name resolves to is the machine's (``localhost`` is 127.0.0.1 through /etc/hosts, ``link-local`` is
169.254.0.0 through Debian's /etc/networks, others through DNS), so a name is kept as written here (an anonymised
``x.x.x.x`` of a pasted dump is one), never resolved: :class:`HostName`. A value with a colon is no IPv4 name
(but an IPv4-mapped address, ``::ffff:1.2.3.4``, is its IPv4 address to iptables: :func:`mapped_ipv4`), and
an IPv6 value that inet_pton refuses none the tools resolve (``fd00::zz``, ``fd00::1%lo``): both tools refuse it.
Kept as anonymised here is one holding a letter no IPv6 address holds (``zz::1``), but not one with a zone
(``fd00::1%lo``: its letters are the interface's, and a pasted dump never holds one), which is refused. A zone is
read as glibc's getaddrinfo reads it: a number up to 2^32-1 on any address is dropped (``fd00::1%1`` is fd00::1),
an interface name is kept as a name on a link-local address (``fe80::1%lo``: the machine's interfaces decide).

Observed with iptables-legacy-restore and iptables-nft-restore v1.8.9 (tests/netfilter/restore_cases.py ADDRESSES,
re-checked against this machine's tools by tests/kernel/test_restore_parity.py). Pure: no lookup, no I/O.
"""

from __future__ import annotations

import re

from kubeproxy_sim.objects.values import value_class

BLANKS_C = " \t\n\v\f\r"  # isspace() in the C locale
C_NUMBER = re.compile(rf"[{BLANKS_C}]*\+?(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")
"""A number as xtables_strtoui takes it (strtoumax in base 0; no ``-``, not empty): :func:`c_number` reads all of a
text, ``.match`` the number a text starts with (:func:`c_value` converts either)."""
_ATON_PART = re.compile(r"0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*)")
"""One part of an IPv4 address as glibc's inet_aton takes it (a digit first: no sign, no blank)."""
REDACTED = re.compile(r"[g-wyzG-WYZ]|(?<!0)[xX]")
"""A letter no address or mask holds (any but a-f, and the x of a ``0x``): a name, or a value anonymised in a
pasted dump (``x.x.x.x``, ``10.0.0.0/x.x.x.x``, ``zz::1``), kept as written though iptables would refuse the
last two (the trace says it cannot read it)."""
XT_NUMERIC_LIMIT = 19  # __numeric_to_ipaddr copies the text into a 20-byte buffer with its NUL
HOSTNAME_LIMIT = 255  # xtables_ipparse_multiple's buffer: a longer item is "Hostname too long"
V4_ALL = 0xFFFFFFFF
V6_ALL = (1 << 128) - 1
V4_EXPECTED = "an IPv4 address such as 10.0.0.1, with an optional /LENGTH 0-32 or /MASK such as /255.255.0.0"
V6_EXPECTED = "an IPv6 address such as fd00::1, with an optional /LENGTH 0-128 or /MASK such as /ffff:ffff::"
V4_MASK_EXPECTED = "a mask length 0-32 or a dotted mask such as 255.255.0.0"
V6_MASK_EXPECTED = "a mask length 0-128 or an IPv6 mask such as ffff:ffff::"
NAME_MASK_EXPECTED = "a mask length (0-32 in IPv4, 0-128 in IPv6) or a mask such as 255.255.0.0 or ffff:ffff::"


@value_class
class HostNetwork:
    """One item read: its family (4 or 6), the host with the mask applied, and the mask."""

    family: int
    network: int
    mask: int

    def saved(self) -> str:
        """As iptables-save prints it: ``NETWORK/LENGTH``, or ``NETWORK/MASK`` for a mask that is no prefix."""
        bits = 32 if self.family == 4 else 128
        inverted = ~self.mask & ((1 << bits) - 1)
        if inverted & (inverted + 1) == 0:
            return f"{address_text(self.family, self.network)}/{bits - inverted.bit_length()}"
        return f"{address_text(self.family, self.network)}/{address_text(self.family, self.mask)}"


@value_class
class HostName:
    """An item iptables would resolve (a host or network name, with its mask as written): kept as written."""

    text: str


@value_class
class HostRefusal:
    """Why iptables-restore refuses an item, in its words, and what it expects instead."""

    message: str
    expected: str


Host = HostNetwork | HostName


def address_text(family: int, value: int) -> str:
    """An address as iptables-save prints it (dotted, or inet_ntop's IPv6 form)."""
    if family == 4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    import netaddr  # (here: an IPv4 dump never needs netaddr)

    return str(netaddr.IPAddress(value, 6))


def c_number(text: str, limit: int) -> int | None:
    """``text`` as xtables_strtoui reads a number 0-``limit``, all of it; None otherwise."""
    m = C_NUMBER.fullmatch(text)
    if m is None:
        return None
    value = c_value(m)
    return value if value <= limit else None


def c_value(m: re.Match[str]) -> int:
    """The number of a :data:`C_NUMBER` match, in the base its prefix says."""
    hexadecimal, octal, decimal = m.groups()
    return int(hexadecimal, 16) if hexadecimal else int(octal, 8) if octal else int(decimal)


def xt_dotted(text: str, is_mask: bool = False) -> int | None:
    """libxtables' own numeric IPv4 reading: up to four dot-separated numbers 0-255 (a mask: exactly four), the
    missing last ones zero, of the text's first 19 characters; None when it is not one."""
    parts = text[:XT_NUMERIC_LIMIT].split(".", 3)
    if is_mask and len(parts) < 4:
        return None
    value = 0
    for part in parts:
        byte = c_number(part, 255)
        if byte is None:
            return None
        value = value << 8 | byte
    return value << 8 * (4 - len(parts))


def inet_aton_exact(text: str) -> int | None:
    """glibc's inet_aton of all of ``text``: one to four numbers (each 0x hex, 0 octal or decimal), the last
    filling the bytes left (``1.65535`` is 1.0.255.255); None when it is not one."""
    parts = text.split(".")
    if len(parts) > 4:
        return None
    values = []
    for part in parts:
        m = _ATON_PART.fullmatch(part)
        if m is None:
            return None
        hexadecimal, octal, decimal = m.groups()
        values.append(int(hexadecimal, 16) if hexadecimal else int(octal, 8) if octal else int(decimal))
    *head, last = values
    if any(v > 255 for v in head) or last >= 1 << 8 * (4 - len(head)):
        return None
    value = 0
    for v in head:
        value = value << 8 | v
    return value << 8 * (4 - len(head)) | last


def ipv6_number(text: str) -> int | None:
    """An IPv6 address as inet_pton reads it, as a number; None when it refuses it."""
    from kubeproxy_sim.objects.netaddr_safe import netaddr_address  # (inet_pton's reading; lazily, as address_text)

    address = netaddr_address(text, 6)
    return None if address is None else int(address)


def read_mask(text: str | None, family: int) -> int | None:
    """The mask of one item (None: no ``/``, a full mask), or None when the family refuses it."""
    bits, full = (32, V4_ALL) if family == 4 else (128, V6_ALL)
    if text is None:
        return full
    numeric = xt_dotted(text, is_mask=True) if family == 4 else ipv6_number(text)
    if numeric is not None:
        return numeric
    length = c_number(text, bits)
    return None if length is None else full ^ (full >> length)


def _numeric_zone(host: str) -> int | None:
    """An IPv6 address with a numeric zone (``fd00::1%1``), read without it, as getaddrinfo reads it (glibc's
    __inet6_scopeid_pton: on any address, a zone of decimal digits up to 2^32-1; iptables then keeps only the
    address: ``fd00::1%1`` is fd00::1/128, ip6tables-legacy-restore and -nft-restore v1.8.9); None otherwise."""
    address, _, zone = host.partition("%")
    if not (zone.isascii() and zone.isdigit()) or int(zone) > V4_ALL:
        return None
    return ipv6_number(address)


def getaddrinfo_number(host: str, ipv6: bool) -> int | None:
    """A host as getaddrinfo reads a number of its family: inet_aton in IPv4 (an IPv4-mapped IPv6 address is its
    IPv4 one), inet_pton in IPv6 with a decimal zone up to 2^32-1 dropped (:func:`_numeric_zone`: ``fd00::1%1`` is
    fd00::1); None for anything else (a name, which the machine would resolve)."""
    if not ipv6:
        return inet_aton_exact(host) if ":" not in host else mapped_ipv4(host)
    numeric = ipv6_number(host)
    return _numeric_zone(host) if numeric is None and "%" in host else numeric


def zone_named(value: int) -> bool:
    """Whether glibc (__inet6_scopeid_pton) reads an interface name as the zone of IPv6 address ``value``: a
    link-local unicast one (fe80::/10) or a node- or link-local multicast one (ffX1::, ffX2::, any flags X); on any
    other a named zone is refused (ip6tables-legacy-restore v1.8.9, unshare --net: ``-s ff01::1%lo``,
    ``ff12::1%lo``, ``ff02::1%lo`` taken; ``ff05::1%lo``, ``fd00::1%lo`` "host/network ... not found")."""
    return value >> 118 == 0x3FA or (value >> 120 == 0xFF and (value >> 112) & 0xF in (1, 2))


def _link_local_zone(host: str) -> bool:
    """Whether ``host`` is an address of :func:`zone_named` with an interface name as its zone (``fe80::1%lo``),
    which glibc reads only on such an address, and only when the machine has that interface (``fd00::1%lo`` is
    "host/network `fd00::1%lo' not found" everywhere)."""
    address, percent, zone = host.partition("%")
    if not percent or not zone or (zone.isascii() and zone.isdigit()):
        return False
    value = ipv6_number(address)
    return value is not None and zone_named(value)


def mapped_ipv4(host: str) -> int | None:
    """The IPv4 address of an IPv4-mapped IPv6 one (``::ffff:1.2.3.4``, ``::ffff:102:304``), which iptables reads
    as that IPv4 address (glibc's gethostbyname and getaddrinfo for AF_INET take it: iptables-legacy-restore and
    -nft-restore v1.8.9 save ``-s ::ffff:1.2.3.4`` as 1.2.3.4/32, and refuse ``::1.2.3.4``), a decimal zone dropped
    as glibc drops it (:func:`_numeric_zone`: ``-s ::ffff:1.2.3.4%1`` and ``--ctorigdst ::ffff:1.2.3.4%1`` are
    1.2.3.4, both tools); None for any other."""
    if "ffff:" not in host.lower():
        return None
    value = ipv6_number(host) if "%" not in host else _numeric_zone(host)
    return value & V4_ALL if value is not None and value >> 32 == 0xFFFF else None


def zero_mask(text: str) -> bool:
    """Whether a mask is a number 0 (``0``, ``00``, ``0x0``) that either family takes: iptables and ip6tables read
    the mask first and, for 0, never the host, so an item with it tells no family (``-s 1.2.3.4/0`` is taken by
    ip6tables-restore, ``-s fd00::1/0`` by iptables-restore, v1.8.9)."""
    return c_number(text, 0) == 0


def numeric_ipv4(host: str) -> bool:
    """Whether iptables reads ``host`` as an IPv4 number (``1.2.3``, ``1``, ``0x100``), which ip6tables refuses
    ("host/network `1.2.3' not found")."""
    return xt_dotted(host) is not None or inet_aton_exact(host) is not None


def plen_mask(text: str, family: int) -> int | None:
    """A ``/MASK`` as libxtables 1.8.9's xtopt_parse_plenmask reads it (XTTYPE_HOSTMASK: the conntrack match's
    addresses, NETMAP's ``--to``): a length in C's bases up to the family's bits (``16``, ``0x10``, ``+16``), else
    an address getaddrinfo reads as a number (``255.255.0.0``, also ``33`` and ``4294967040``, inet_aton's 0.0.0.33
    and 255.255.255.0); a mask that is no prefix becomes the full one (its length, -1, fits none of the shifts:
    ``/255.0.255.0`` and ``/33`` are saved without a mask, iptables-legacy-save and -nft-save v1.8.9); None when it
    is neither ("neither a valid network mask nor valid CIDR")."""
    bits = 32 if family == 4 else 128
    full = (1 << bits) - 1
    length = c_number(text, bits)
    if length is not None:
        return full ^ (full >> length)
    if not text or any(c in BLANKS_C for c in text):
        return None
    mask = getaddrinfo_number(text, family == 6)
    if mask is None:
        return None
    inverted = ~mask & full
    return full if inverted & (inverted + 1) else mask


def read_conntrack_host(value: str, ipv6: bool) -> tuple[int, int] | None:
    """(address, mask) of a conntrack match's address (``--ctorigsrc`` and the like) as libxt_conntrack reads it
    (XTTYPE_HOSTMASK): the host as getaddrinfo reads it (:func:`getaddrinfo_number`: glibc's inet_aton in IPv4,
    ``1.2.3`` is 1.2.0.3, ``1`` 0.0.0.1, an IPv4-mapped address its IPv4 one; inet_pton in IPv6; a decimal zone
    dropped, ``fd00::1%1`` is fd00::1, and an interface's name on a link-local address, ``fe80::1%lo`` is fe80::1
    where the machine has that interface) and kept whole (the match masks both sides as it compares), the mask
    by :func:`plen_mask` (``/33`` and a mask that is no prefix are the full one); None for what it cannot read (a
    name, an anonymised value, the other family's address). iptables-legacy-save and -nft-save v1.8.9 (unshare
    --net) print ``--ctorigsrc 1/24`` as 0.0.0.1/24, ``10.0.0.1/33`` as 10.0.0.1, ``fd00::1%1`` as fd00::1."""
    host, slash, mask = value.partition("/")
    number = getaddrinfo_number(host, ipv6)
    if number is None and ipv6 and _link_local_zone(host):
        number = ipv6_number(host.partition("%")[0])
    family = 6 if ipv6 else 4
    mask_value = plen_mask(mask, family) if slash else (V6_ALL if ipv6 else V4_ALL)
    return None if number is None or mask_value is None else (number, mask_value)


def read_host(item: str, ipv6: bool | None = None) -> Host | HostRefusal:
    """One item of a ``-s``/``-d`` list, read as ``ip6tables`` (``ipv6``) or ``iptables`` reads it; ``ipv6=None``
    (the family not known yet): as IPv6 when its host holds a colon, else as IPv4, except that a name's mask may be
    either family's."""
    item = item.lstrip(BLANKS_C)
    if len(item) > HOSTNAME_LIMIT:
        return HostRefusal("Hostname too long", f"an address of at most {HOSTNAME_LIMIT} characters")
    host, slash, written_mask = item.rpartition("/")
    mask_text = written_mask if slash else None
    if not slash:
        host = item
    family = 6 if ipv6 or (ipv6 is None and ":" in host) else 4
    numeric: int | None = None
    if family == 4:
        numeric = xt_dotted(host)
        if numeric is None:
            numeric = getaddrinfo_number(host, False)
    else:
        numeric = getaddrinfo_number(host, True)
    mask = read_mask(mask_text, family)
    named = numeric is None and ipv6 is None and ":" not in host
    if mask is None and named:
        mask = read_mask(mask_text, 6)
    if mask is None and mask_text is not None and REDACTED.search(mask_text):
        return HostName(item)
    if mask is None:
        expected = NAME_MASK_EXPECTED if named else V4_MASK_EXPECTED if family == 4 else V6_MASK_EXPECTED
        return HostRefusal(f"invalid mask `{mask_text}' specified", expected)
    if mask == 0:
        return HostNetwork(family, 0, 0)
    if numeric is not None:
        return HostNetwork(family, numeric & mask, mask)
    if any(blank in host for blank in BLANKS_C):
        # (no name holds a blank: glibc's resolver refuses it, and an anonymised value never holds one)
        return HostRefusal(f"host/network `{host}' not found", V4_EXPECTED if family == 4 else V6_EXPECTED)
    if family == 6 and _link_local_zone(host):
        return HostName(item)  # (fe80::1%lo: its interface is the machine's, as a name's address is)
    if REDACTED.search(host) and not (":" in host and "%" in host):
        # (a zone, fd00::1%lo, is no anonymised value: both tools refuse it, "host/network `fd00::1%lo' not found")
        return HostName(item)
    if ":" in host or "/" in host or not host or (host[0] in "0123456789" and host.strip("0123456789.") == ""):
        # (inet_pton refused it; no name holds a slash, nothing resolves ""; glibc decides a name of digits and
        # dots itself, and one with a dot at its end goes to DNS, where no top-level domain is all digits)
        return HostRefusal(f"host/network `{host}' not found", V4_EXPECTED if family == 4 else V6_EXPECTED)
    return HostName(item)


def read_hosts(value: str, ipv6: bool | None = None) -> tuple[Host, ...] | HostRefusal:
    """Every item of a ``-s``/``-d`` value in order (:func:`read_host`), or the first one's refusal."""
    hosts = []
    for item in value.split(","):
        host = read_host(item, ipv6)
        if isinstance(host, HostRefusal):
            return host
        hosts.append(host)
    return tuple(hosts)


def saved_host(host: Host) -> str:
    """An item as iptables-save prints it: the network read, or a name as written."""
    return host.saved() if isinstance(host, HostNetwork) else host.text
