"""Reading IP addresses and CIDRs the way kube-proxy reads them, into canonical text.

kube-proxy parses with Go's "sloppy" parsers, which still accept IPv4 octets
with leading zeros and read them as *decimal* ("010.001.0.1" is 10.1.0.1, not
the octal a C library would see). The loader must agree with that, and it must
be fast: a large cluster has hundreds of thousands of endpoint addresses, so
plain dotted quads take a string-only path and IPv6 text is read by the C
library's inet_pton (what netaddr reads it with), what it refuses then by a
port of kube-proxy's own reader (k8s.io/utils' fork of Go 1.16's). No netaddr here: reading it
with no reference cycle left behind is :mod:`kubeproxy_sim.objects.netaddr_safe`'s
work, and ``rules`` on an IPv4 cluster need not import it at all.

Results are canonical strings: dotted decimal for IPv4 (an IPv4-mapped IPv6
address counts as IPv4, as Go's ``To4`` does), RFC 5952 compressed lower case
for IPv6 (:func:`ipv6_text`, the one writer of IPv6 text, the evaluator's too),
and CIDRs with the host bits cleared.
"""

from __future__ import annotations

import _socket as socket  # socket.py's C half, whose inet_pton/ntop it re-exports: not its enums' 13M instructions
import ipaddress  # RFC 5952 text as Go prints it (::102:304), where inet_ntop and netaddr write ::1.2.3.4
import re

from kubeproxy_sim.objects.model import IPFamily
from kubeproxy_sim.objects.values import value_class

PLAIN_IPV4 = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
r"""A dotted quad in canonical form (no leading zeros): the overwhelmingly common case. ASCII digits only: a
Unicode ``\d`` also takes other scripts' digits (``1٠.0.0.1``), which no address parser reads as a number."""
_PLAIN_IPV4 = re.compile(PLAIN_IPV4)


def _pton_is_strict() -> bool:
    """Whether this C library's inet_pton accepts exactly the canonical dotted quad (glibc, musl do)."""
    for bad in ("010.1.1.1", "1.2.3", "1.2.3.4 ", "256.1.1.1", "1.2.3.04"):
        try:
            socket.inet_pton(socket.AF_INET, bad)
        except OSError:
            continue
        return False
    return True


def _regex_plain_ipv4(text: str) -> bool:
    return _PLAIN_IPV4.fullmatch(text) is not None


def _pton_plain_ipv4(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: embedded NUL
        return False
    return True


PTON_IS_STRICT = _pton_is_strict()
"""Whether :func:`is_plain_ipv4` is inet_pton: a bulk path may then call inet_pton inline, without the call."""
is_plain_ipv4 = _pton_plain_ipv4 if PTON_IS_STRICT else _regex_plain_ipv4
"""True for a canonical dotted quad; inet_pton in C is three times faster than the regex, when strict."""


@value_class
class ParsedIP:
    """A parsed address: its canonical text, its family, and whether the input was a legacy form."""

    text: str
    family: IPFamily
    # the text was a legacy form, normalised: an IPv4 octet with leading zeros, an IPv6 group of over four hex
    # digits (::00001) or an embedded IPv4 part with leading zeros (these two only kube-proxy's ported Go 1.16
    # parser reads; inet_pton refuses them), or any IPv4-mapped IPv6 form (read as its IPv4 address)
    legacy: bool = False


def _ipv4_fast(text: str) -> tuple[str, bool] | None:
    """Parse a dotted quad without netaddr; returns (canonical, had_leading_zeros) or None.

    Any digit run is accepted per octet as long as its decimal value fits in a
    byte, which is what Go's sloppy parser allows.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    legacy = False
    for part in parts:
        if not part.isascii() or not part.isdigit():
            return None
        if len(part) > 1 and part[0] == "0":
            legacy = True
        elif len(part) > 3:
            return None
    if not legacy:
        for part in parts:
            if len(part) == 3 and int(part) > 255:
                return None
        return text, False
    values = [_go_decimal(p, 255) for p in parts]
    if None in values:
        return None
    return ".".join(map(str, values)), True


def _go_decimal(digits: str, limit: int) -> int | None:
    """ASCII decimal digits as Go's dtoi reads them, any number of leading zeros ("0008" is 8); None when not
    digits or over ``limit``. The leading zeros are dropped first: int() refuses over 4,300 digits."""
    if not digits.isascii() or not digits.isdigit():
        return None
    significant = digits.lstrip("0")
    if len(significant) > len(str(limit)):
        return None
    value = int(significant or "0")
    return value if value <= limit else None


def parse_ip(text: object) -> ParsedIP | None:
    """Parse one IP address as kube-proxy would; None when it is not an address at all."""
    if not isinstance(text, str) or not text:
        return None
    if ":" not in text:
        if is_plain_ipv4(text):
            return ParsedIP(text, IPFamily.IPV4)
        fast = _ipv4_fast(text)
        if fast is None:
            return None
        return ParsedIP(fast[0], IPFamily.IPV4, fast[1])
    return _parse_ipv6(text)


_IPV4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"
"""The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d)."""


def go_ipv6_text(packed: bytes) -> str:
    """The text Go writes for 16 bytes of IPv6: RFC 5952 (lower case hex groups, the first of the longest runs of
    two or more zero groups as ``::``), in hex to the end (``::102:304``), but for an IPv4-mapped address, which
    ends in its dotted quad (``::ffff:1.2.3.4``: netip's Addr.String, and ip6tables-save's text; net.IP.String,
    kube-proxy's, writes it as IPv4, as :func:`parse_ip` reads it; Python's ipaddress writes the dotted quad only
    from 3.13 on). The exact, slow writer (~10 us): :func:`ipv6_text` writes the same faster."""
    if packed[:12] == _IPV4_MAPPED_PREFIX:
        return "::ffff:" + socket.inet_ntop(socket.AF_INET, packed[12:])
    return str(ipaddress.IPv6Address(packed))


_NTOP_PROBES = ("1:0:2:3:4:5:6:7", "1::2:0:0:3:4", "1:0:0:2::3", "1::", "::ffff:1.2.3.4", "ab:cd::ef01",
                "::1:0:0:2:3:4")
"""IPv6 texts in RFC 5952 form, each its own inet_ntop output where the C library writes RFC 5952: a single zero
group left as it is, the first of two equal runs taken, the longer run taken, lower case hex, a mapped address,
and the first of two equal runs when it leads the text (musl 1.1.20-1.2.3 measures runs in characters, so the
leading "0:0:" loses to ":0:0:": ``0:0:1::2:3:4``)."""


def _ntop_is_rfc5952() -> bool:
    """Whether this C library's inet_ntop writes RFC 5952 text, as glibc's does (not every C library need): it
    then writes Go's text for every address but some IPv4-compatible ones, in ::/96 (:func:`_ntop_ipv6_text`)."""
    return all(socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, probe)) == probe
               for probe in _NTOP_PROBES)


def _ntop_ipv6_text(packed: bytes) -> str:
    """inet_ntop's text, ten times faster than ipaddress's, but where it ends in a dotted quad that Go writes in
    hex: the addresses of ::/96 whose seventh group is not zero (glibc's ``::1.2.3.4`` and ``::0.1.0.2``, Go's
    ``::102:304`` and ``::1:2``; ``::0.0.1.0`` glibc writes as Go does, ``::100``, its run of zeros being longer)."""
    text = socket.inet_ntop(socket.AF_INET6, packed)
    if "." in text and packed[:12] != _IPV4_MAPPED_PREFIX:
        return go_ipv6_text(packed)
    return text


ipv6_text = _ntop_ipv6_text if _ntop_is_rfc5952() else go_ipv6_text
"""The text of 16 bytes of IPv6 as Go writes it (:func:`go_ipv6_text`): every IPv6 text in ``rules`` and the
evaluator's outputs is this function's. inet_ntop where the C library writes RFC 5952, as glibc does."""


def _parse_ipv6(text: str) -> ParsedIP | None:
    """The slow path: anything with a colon. The C library's inet_pton reads the usual forms fast; what it refuses
    goes to :func:`_go_ipv6`, which kube-proxy's parser may still accept (a legacy form, then)."""
    pton = _pton_ipv6(text)
    legacy = pton is None
    packed = _go_ipv6(text) if pton is None else pton
    if packed is None:
        return None
    if packed[:12] == _IPV4_MAPPED_PREFIX:  # ::ffff:a.b.c.d is IPv4, as Go's To4 has it
        return ParsedIP(socket.inet_ntop(socket.AF_INET, packed[12:]), IPFamily.IPV4, True)
    return ParsedIP(ipv6_text(packed), IPFamily.IPV6, legacy)


def _pton_ipv6(text: str) -> bytes | None:
    """inet_pton's 16 bytes, or None (it has no zones or prefixes, and no padding is let through)."""
    if "%" in text or "/" in text or text.strip() != text:
        return None
    try:
        return socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):  # ValueError: embedded NUL
        return None


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _go_ipv6(text: str) -> bytes | None:
    """IPv6 text as kube-proxy's parser reads it (k8s.io/utils' fork of Go 1.16's parseIPv6, behind ParseIPSloppy
    and ParseCIDRSloppy), for what inet_pton refuses: a group of more than four hex digits whose value fits in
    16 bits (``::00001``) and an embedded IPv4 part with leading zeros (``::ffff:010.1.2.3``). None otherwise."""
    head = bytearray()
    ellipsis = -1  # the byte offset "::" stands at
    rest = text
    if rest.startswith("::"):
        ellipsis, rest = 0, rest[2:]
    while rest and len(head) < 16:
        end = next((i for i, char in enumerate(rest) if char not in _HEX_DIGITS), len(rest))
        significant = rest[:end].lstrip("0")
        if end == 0 or len(significant) > 4:
            return None
        if rest[end:end + 1] == ".":  # the embedded IPv4 part ends the text, with four bytes left for it
            fast = _ipv4_fast(rest) if (ellipsis >= 0 or len(head) == 12) and len(head) <= 12 else None
            if fast is None:
                return None
            head += bytes(int(octet) for octet in fast[0].split("."))
            rest = ""
            break
        head += int(significant or "0", 16).to_bytes(2, "big")
        rest = rest[end:]
        if not rest:
            break
        if rest[0] != ":" or len(rest) == 1:
            return None
        rest = rest[1:]
        if rest[0] == ":":
            if ellipsis >= 0:
                return None
            ellipsis, rest = len(head), rest[1:]
    if rest:
        return None
    if len(head) == 16:
        return None if ellipsis >= 0 else bytes(head)  # "::" must stand for at least one group
    if ellipsis < 0:
        return None
    return bytes(head[:ellipsis] + bytes(16 - len(head)) + head[ellipsis:])


MAYBE_SPECIAL_V4 = ("0.", "127.", "169.254.", "224.0.0.")
"""Prefixes of the IPv4 texts :func:`special_address` may refuse: the bulk paths leave those to it."""
MAYBE_SPECIAL_V6 = ("::", "fe8", "fe9", "fea", "feb", "ff02:")
"""Prefixes of the canonical IPv6 texts :func:`special_address` may refuse (::, ::1, fe80::/10, ff02::/16)."""


def special_address(parsed: ParsedIP) -> str | None:
    """What makes an address one the API server refuses as an endpoint or external IP (its
    ``ValidateNonSpecialIP``): unspecified, loopback, link-local, link-local multicast; None for the rest.
    Canonical text outside those prefixes is none of them: ipaddress (~10 us) is asked only about the others."""
    maybe = MAYBE_SPECIAL_V4 if parsed.family is IPFamily.IPV4 else MAYBE_SPECIAL_V6
    if not parsed.text.startswith(maybe):
        return None
    ip = ipaddress.ip_address(parsed.text)
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local"
    if ip in (_V4_LINK_LOCAL_MULTICAST if ip.version == 4 else _V6_LINK_LOCAL_MULTICAST):
        return "a link-local multicast"
    return None


def canonical_ip(text: object) -> str | None:
    """The canonical text of an address, or None; for callers that need no family or legacy flag."""
    parsed = parse_ip(text)
    return parsed.text if parsed else None


@value_class
class ParsedCIDR:
    text: str  # network address (host bits cleared) / prefix length, as Go's IPNet.String() writes it
    family: IPFamily
    legacy: bool = False  # a legacy address (ParsedIP.legacy), a prefix with leading zeros, or host bits set
    # the prefix as written was 0: all of the family to kube-proxy (its IsZeroCIDR reads Go's mask, 96 bits
    # long in ::ffff:192.168.0.0/96, whose text is 0.0.0.0/0 all the same)
    zero: bool = False
    mapped: bool = False  # written as an IPv4-mapped IPv6 network (::ffff:203.0.113.0/120)


def parse_cidr(text: object) -> ParsedCIDR | None:
    """Parse ``ADDRESS/PREFIX`` as kube-proxy's ParseCIDRSloppy does (k8s.io/utils' fork of Go 1.16's
    ParseCIDR: leading zeros are read as decimal, in the address and in the prefix); None when it is not one."""
    if not isinstance(text, str) or text.count("/") != 1:
        return None
    addr_text, prefix_text = text.split("/")
    prefix = _go_decimal(prefix_text, 128)
    address = parse_ip(addr_text)
    if address is None or prefix is None:
        return None
    legacy = address.legacy or prefix_text != str(prefix)
    if address.family is IPFamily.IPV4 and ":" in addr_text:
        return _mapped_cidr(address.text, prefix)
    bits = 32 if address.family is IPFamily.IPV4 else 128
    if prefix > bits:
        return None
    family = socket.AF_INET if bits == 32 else socket.AF_INET6
    host_bits = bits - prefix
    value = int.from_bytes(socket.inet_pton(family, address.text), "big") >> host_bits << host_bits
    base = value.to_bytes(bits // 8, "big")
    base_text = socket.inet_ntop(family, base) if bits == 32 else ipv6_text(base)
    return ParsedCIDR(f"{base_text}/{prefix}", address.family, legacy or base_text != address.text, prefix == 0)


def _mapped_cidr(ipv4_text: str, prefix: int) -> ParsedCIDR:
    """An IPv4-mapped CIDR (``::ffff:203.0.113.0/120``) as Go's ParseCIDR and IPNet read it: the prefix counts
    128 bits; from 96 on, the network is IPv4 (To4 of its address, the mask's last four bytes: 203.0.113.0/24,
    which kube-proxy then files and writes as IPv4); below 96 the mask clears some of the ffff, and what is left
    is an IPv6 network (``::ffff:1.2.3.4/88`` is ``::ff00:0:0/88``). Always a legacy form; never a zero CIDR
    from 96 on, though ``::ffff:0:0/96`` is written 0.0.0.0/0."""
    if prefix >= 96:
        v4_bits = 128 - prefix
        base = int(ipaddress.IPv4Address(ipv4_text)) >> v4_bits << v4_bits
        return ParsedCIDR(f"{ipaddress.IPv4Address(base)}/{prefix - 96}", IPFamily.IPV4, True, mapped=True)
    host_bits = 128 - prefix
    value = (0xFFFF << 32 | int(ipaddress.IPv4Address(ipv4_text))) >> host_bits << host_bits
    return ParsedCIDR(f"{ipv6_text(value.to_bytes(16, 'big'))}/{prefix}", IPFamily.IPV6, True, prefix == 0,
                      mapped=True)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    import ipaddress

    return ipaddress.ip_network(text)


_V4_LINK_LOCAL_MULTICAST = _network("224.0.0.0/24")
_V6_LINK_LOCAL_MULTICAST = _network("ff02::/16")
