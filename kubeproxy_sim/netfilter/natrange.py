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

from collections.abc import Sequence

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
