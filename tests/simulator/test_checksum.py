"""The one Internet checksum (:mod:`kubeproxy_sim.simulator.checksum`) the pcap writer and the kernel ping share.

Checked against a plain word-by-word ones' complement sum written here (RFC 1071 section 1: each addition's carry
out of bit 15 added back in), RFC 1071's worked example, and the receiver's check. And the kernel ping's client,
started once per ``netns send --proto icmp`` inside a namespace, gets it without the pcap writer's imports.
"""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.simulator.checksum import internet_checksum


def _reference(data: bytes) -> int:
    """RFC 1071 by hand: big-endian 16-bit words, an odd last byte the high half of a word, every sum's carry
    wrapped round at once, the total complemented."""
    total = 0
    for at in range(0, len(data), 2):
        word = data[at] << 8 | (data[at + 1] if at + 1 < len(data) else 0)
        total += word
        if total > 0xFFFF:
            total = (total & 0xFFFF) + 1
    return 0xFFFF - total


EDGES = st.lists(
    st.one_of(st.sampled_from([0, 1, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]), st.integers(0, 0xFFFF)), max_size=300
).map(lambda words: b"".join(word.to_bytes(2, "big") for word in words))
"""Words near the ends of the range, whose sums carry often (a carry added back can carry again)."""


@given(st.one_of(st.binary(max_size=600), EDGES, st.tuples(EDGES, st.binary(min_size=1, max_size=1)).map(b"".join)))
def test_the_sum_is_rfc_1071s(data: bytes) -> None:
    assert internet_checksum(data) == _reference(data)


@given(st.binary(min_size=1, max_size=600).filter(lambda data: len(data) % 2 == 1))
def test_an_odd_length_is_padded_at_its_end(data: bytes) -> None:
    """The last byte is the high half of its word (``b"\\xff"`` sums as 0xFF00): a zero byte after it adds nothing."""
    assert internet_checksum(data) == internet_checksum(data + b"\0")


@given(st.binary(max_size=300).map(lambda data: data + b"\0" * (len(data) % 2)), st.binary(max_size=300))
def test_a_receiver_sums_the_data_with_its_checksum_to_all_ones(head: bytes, tail: bytes) -> None:
    """The checksum field (zero while it is computed) filled in, the sum over everything is 0xFFFF: checksum 0."""
    filled = head + internet_checksum(head + b"\0\0" + tail).to_bytes(2, "big") + tail
    assert internet_checksum(filled) == 0


def test_rfc_1071s_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 2ddf0, folded ddf2; its complement is sent
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2 == 0x220D


def test_zero_and_all_ones() -> None:
    """Ones' complement has two zeros, and the fold never yields +0 from words not all zero: the checksum is 0xFFFF
    for all-zero words (none at all too) and 0 exactly where the words sum to 0xFFFF, as Linux's csum_fold."""
    assert [internet_checksum(b"\0" * size) for size in (0, 1, 2, 7)] == [0xFFFF] * 4
    assert internet_checksum(b"\xff\xff") == internet_checksum(b"\xff\xff" * 3) == 0
    assert internet_checksum(b"\x80\x00\x7f\xff") == 0  # 0x8000 + 0x7FFF
    assert internet_checksum(b"\xff\xff\x00\x01") == 0xFFFE  # 0xFFFF + 1 wraps to 1, never to 0
    assert internet_checksum(b"\xff\xff\xff\xff\x00\x01") == 0xFFFE  # 0x1FFFF folds to 0x10000, then to 1
    assert internet_checksum(b"\xff") == 0x00FF  # 0xFF00


def test_the_pinger_loads_neither_the_pcap_writer_nor_the_packet_model() -> None:
    """The ping's client runs as its own process in a namespace per ``netns send --proto icmp``: importing the pcap
    writer for its checksum cost ~0.2 s at start (netfilter.packet ~50 ms of it)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, kubeproxy_sim.kernel.pinger; "
            "print(sorted(m for m in sys.modules if m.startswith(('kubeproxy_sim.netfilter', "
            "'kubeproxy_sim.simulator.pcap', 'kubeproxy_sim.simulator.network', 'netaddr'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"
