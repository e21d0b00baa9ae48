"""The kernel ping's client (:mod:`kubeproxy_sim.kernel.pinger`) past 65,535 requests: an echo's sequence number is
16 bits, so request 65,537 carries sequence 1 again, as ping(8)'s does (``ping -c 70000`` runs and wraps). Its
answers are kept by request, not by sequence number. No namespace and no network: the raw socket is a stand-in
that answers the requests it is told to, and select is asked of it alone."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.kernel import pinger

IDENT = 4242


class _Socket:
    """A raw IPv4 ICMP socket whose peer answers the requests of the given indices (counted as sent)."""

    family = 2

    def __init__(self, answered: set[int]) -> None:
        self.answered = answered
        self.sent = 0
        self.sequences: list[int] = []
        self.queue: list[bytes] = []

    def bind(self, address: Any) -> None:
        pass

    def sendto(self, data: bytes, address: Any) -> None:
        self.sent += 1
        self.sequences.append(struct.unpack("!H", data[6:8])[0])
        if self.sent in self.answered:
            header = bytes([0x45]) + bytes(19)  # an IPv4 header without options: the raw socket hands it over
            self.queue.append(header + bytes([0, 0]) + data[2:])  # the echo reply: same identifier and sequence

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        return self.queue.pop(0), ("127.0.0.1", 0)

    def close(self) -> None:
        pass


def test_answers_past_the_16_bit_sequence_are_kept_by_request(monkeypatch: pytest.MonkeyPatch) -> None:
    count = pinger.SEQUENCES + 2  # 65,538: the last two carry sequence numbers 1 and 2 again
    fake = _Socket({2, count - 1})
    monkeypatch.setattr(pinger.socket, "socket", lambda *args: fake)
    monkeypatch.setattr(pinger.select, "select", lambda r, w, x, t: (r if fake.queue else [], [], []))
    ends = pinger.ping("127.0.0.1", count, 1.0, IDENT, interval=1.0)  # (select: no wait)
    assert len(ends) == count
    assert fake.sequences[:2] == [1, 2] and fake.sequences[-3:] == [0, 1, 2]
    answered = [index for index, end in enumerate(ends, 1) if "reply" in end]
    assert answered == [2, count - 1]  # sequence 1 answered once: the 65,537th request's, not the first's
    assert ends[0] == {"error": "timeout"}


@given(st.integers(1, 500_000), st.integers(0, pinger.SEQUENCES - 1))
def test_latest_index_is_the_last_request_sent_with_the_sequence(sent: int, sequence: int) -> None:
    index = pinger.latest_index(sequence, sent)
    if index is None:
        assert (sequence or pinger.SEQUENCES) > sent  # (sequence 0 is first the 65,536th request's)
    else:
        assert 1 <= index <= sent and index % pinger.SEQUENCES == sequence and index + pinger.SEQUENCES > sent
