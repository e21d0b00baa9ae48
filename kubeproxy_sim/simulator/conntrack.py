"""One node's connection tracking table, with the kernel's states and default timeouts.

An entry is found by either of its tuples: the original one (as the first
packet arrived) and the reply one (as the answer is expected, i.e. after NAT:
from the DNAT destination to the SNAT source). Finding a packet by its reply
tuple is what un-NATs the answer. Time is whatever the caller passes; expired
entries are dropped when they are looked up, or by :meth:`Conntrack.expire`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

Tuple = tuple[str, int, int, int | None, int, int | None]
"""(proto, family, src, sport, dst, dport) with addresses as integers."""


class State(StrEnum):
    """The protocol state the timeout depends on (TCP's states; UNREPLIED/REPLIED for the others, ASSURED for a UDP
    stream)."""

    SYN_SENT = "SYN_SENT"
    SYN_RECV = "SYN_RECV"
    ESTABLISHED = "ESTABLISHED"
    TIME_WAIT = "TIME_WAIT"
    CLOSE = "CLOSE"
    UNREPLIED = "UNREPLIED"
    REPLIED = "REPLIED"
    ASSURED = "ASSURED"


TIMEOUTS: dict[tuple[str, State], float] = {
    # nf_conntrack_tcp_timeout_*, nf_conntrack_udp_timeout(_stream), nf_conntrack_sctp_timeout_* defaults
    ("tcp", State.SYN_SENT): 120.0,
    ("tcp", State.SYN_RECV): 60.0,
    ("tcp", State.ESTABLISHED): 432000.0,
    ("tcp", State.TIME_WAIT): 120.0,
    ("tcp", State.CLOSE): 10.0,
    ("udp", State.UNREPLIED): 30.0,
    ("udp", State.REPLIED): 30.0,  # nf_conntrack_udp_timeout: a reply alone is no stream
    ("udp", State.ASSURED): 120.0,  # nf_conntrack_udp_timeout_stream
    ("sctp", State.UNREPLIED): 3.0,  # COOKIE_WAIT
    ("sctp", State.REPLIED): 210.0,  # ESTABLISHED
    ("icmp", State.UNREPLIED): 30.0,  # nf_conntrack_icmp_timeout, whatever the state
    ("icmp", State.REPLIED): 30.0,
    ("icmpv6", State.UNREPLIED): 30.0,  # nf_conntrack_icmpv6_timeout
    ("icmpv6", State.REPLIED): 30.0,
}
GENERIC_TIMEOUT = 600.0
UDP_STREAM_AFTER = 2.0
"""nf_conntrack_udp_packet's stream_ts: a packet of a replied flow more than this many seconds after its first one
makes it a stream (ASSURED, the stream timeout)."""


def reverse(t: Tuple) -> Tuple:
    return (t[0], t[1], t[4], t[5], t[2], t[3])


@dataclass(slots=True)
class Entry:
    """One tracked connection. ``reply`` is the tuple the answer comes back with (NAT applied)."""

    orig: Tuple
    reply: Tuple
    state: State
    expires: float
    dnat: bool = False
    snat: bool = False
    created: float = 0.0

    @property
    def proto(self) -> str:
        return self.orig[0]

    @property
    def seen_reply(self) -> bool:
        return self.state not in (State.SYN_SENT, State.UNREPLIED)

    @property
    def closed(self) -> bool:
        """A TCP connection ended, by FINs (TIME_WAIT) or a RST (CLOSE): a new SYN on its tuple reopens it, as
        nf_conntrack_tcp_packet does from TIME_WAIT and CLOSE (old_state >= TCP_CONNTRACK_TIME_WAIT)."""
        return self.state in (State.TIME_WAIT, State.CLOSE)


def first_state(proto: str) -> State:
    return State.SYN_SENT if proto == "tcp" else State.UNREPLIED


def timeout(proto: str, state: State) -> float:
    return TIMEOUTS.get((proto, state), GENERIC_TIMEOUT)


class Conntrack:
    """The table: both tuples of every entry point to it."""

    def __init__(self) -> None:
        self._by_tuple: dict[Tuple, tuple[Entry, bool]] = {}  # tuple -> (entry, is the reply direction)

    def __len__(self) -> int:
        return len(self._by_tuple) // 2

    @property
    def empty(self) -> bool:
        """No entry at all (``len`` counts an entry whose two tuples are one, a flow to itself, as none)."""
        return not self._by_tuple

    def entries(self) -> Iterator[Entry]:
        return (entry for entry, is_reply in self._by_tuple.values() if not is_reply)

    def lookup(self, t: Tuple, now: float) -> tuple[Entry, bool] | None:
        """(entry, reply direction) of a packet's tuple; an expired entry is removed and not found."""
        found = self._by_tuple.get(t)
        if found is None:
            return None
        if found[0].expires <= now:
            self._remove(found[0])
            return None
        return found

    def taken(self, t: Tuple, now: float) -> bool:
        """Whether a reply tuple is already in use (NAT must then pick another port)."""
        return self.lookup(t, now) is not None

    def add(self, orig: Tuple, reply: Tuple, now: float, *, dnat: bool, snat: bool) -> Entry:
        state = first_state(orig[0])
        entry = Entry(orig, reply, state, now + timeout(orig[0], state), dnat, snat, now)
        self._by_tuple[orig] = (entry, False)
        self._by_tuple[reply] = (entry, True)
        return entry

    def seen(self, entry: Entry, is_reply: bool, now: float) -> None:
        """A later packet of the connection: move its state along and refresh its timeout.

        TCP: SYN_SENT -> SYN_RECV on the SYN-ACK, ESTABLISHED on the client's ACK. UDP as
        nf_conntrack_udp_packet: the first reply makes it REPLIED, still with the 30 s timeout (the kernel marks
        the reply seen only after the packet's own refresh); a later packet more than 2 s after the first one makes
        it a stream, ASSURED, with the 120 s stream timeout, and within 2 s refreshes the 30 s. SCTP here: the
        first reply makes it REPLIED (ESTABLISHED's timeout).
        """
        proto = entry.orig[0]
        state = entry.state
        if proto == "tcp":
            if is_reply and state is State.SYN_SENT:
                state = State.SYN_RECV
            elif not is_reply and state is State.SYN_RECV:
                state = State.ESTABLISHED
        elif state is State.UNREPLIED:
            if is_reply:
                state = State.REPLIED
        elif proto == "udp" and state is State.REPLIED and now > entry.created + UDP_STREAM_AFTER:
            state = State.ASSURED
        entry.state = state
        entry.expires = now + timeout(proto, state)

    @staticmethod
    def close(entry: Entry, now: float) -> None:
        """The connection was closed (FIN both ways, the last ACK): TIME_WAIT, until a new SYN reopens it."""
        entry.state = State.TIME_WAIT
        entry.expires = now + timeout(entry.orig[0], State.TIME_WAIT)

    @staticmethod
    def abort(entry: Entry, now: float) -> None:
        """A RST ended the connection: CLOSE (nf_conntrack_tcp_timeout_close, 10 s), as the kernel's TCP tracker
        takes any state to on a RST it accepts, until a new SYN reopens it (:attr:`closed`)."""
        entry.state = State.CLOSE
        entry.expires = now + timeout(entry.orig[0], State.CLOSE)

    def reopen(self, entry: Entry) -> None:
        """A SYN met the closed entry: nf_conntrack_tcp_packet kills it and the packet is looked up again, as new."""
        self._remove(entry)

    def _remove(self, entry: Entry) -> None:
        self._by_tuple.pop(entry.orig, None)
        self._by_tuple.pop(entry.reply, None)

    def delete(self, keep: Callable[[Entry], bool]) -> int:
        """Remove the entries ``keep`` rejects; returns how many."""
        doomed = [e for e in self.entries() if not keep(e)]
        for entry in doomed:
            self._remove(entry)
        return len(doomed)

    def expire(self, now: float) -> int:
        return self.delete(lambda e: e.expires > now)

    def clear_stale_udp(self, doomed: Callable[[int, int, int], bool]) -> int:
        """kube-proxy's UDP reconciliation (see ``simulator.stale``): delete the UDP entries ``doomed`` names by
        (original destination, its port, reply source). TCP entries are never touched: a connection dies with
        its pod, or lives on when the pod is only terminating."""
        def keep(e: Entry) -> bool:
            port = e.orig[5]  # a UDP tuple always has ports; a portless one is matched by nothing anyway
            return not (e.orig[0] == "udp" and port is not None and doomed(e.orig[4], port, e.reply[2]))

        return self.delete(keep)
