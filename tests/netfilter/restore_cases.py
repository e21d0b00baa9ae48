"""Inputs whose fate under the real iptables-restore was observed, and that fate: the expected values of
``test_codec_restore_parity`` and what ``tests/kernel/test_restore_parity`` checks again against this machine's tools.

Observed on 2026-11-30 with iptables-legacy-restore v1.8.9 (legacy) and iptables-nft-restore v1.8.9 (nf_tables),
Debian netbase 6.4's /etc/services, each input restored into a fresh network namespace and read back with
iptables-save (``-c`` on both when the case says counters). Where the two differ the case follows legacy (what
``iptables-restore`` is on a node that has not switched) and says what nft does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """``text`` in table ``table``: refused at ``line`` (a rule's own line: legacy names the COMMIT line for what
    the kernel refuses), or accepted, when ``saved`` lists the rule and chain lines iptables-save prints back."""

    name: str
    text: str
    line: int | None = None
    saved: tuple[str, ...] = ()
    counters: bool = False  # restored with --counters (and saved with -c)
    nft_differs: bool = False  # iptables-nft-restore accepts it (see the case)
    table: str = "filter"


FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def filter_with(*lines: str) -> str:
    return FILTER + "".join(line + "\n" for line in lines) + "COMMIT\n"


CHAINS_TWICE = [
    # legacy: "error creating chain 'FOO':File exists" at the second declaration; nft flushes FOO and goes on
    Case("user chain twice, before its rules", filter_with(":FOO - [0:0]", ":FOO - [0:0]", "-A FOO -j ACCEPT"),
         line=6, nft_differs=True),
    Case("user chain twice, around its rules",
         filter_with(":FOO - [0:0]", "-A FOO -j ACCEPT", ":FOO - [0:0]", "-A FOO -j DROP"), line=7, nft_differs=True),
    Case("user chain made by -N, then declared", filter_with("-N FOO", ":FOO - [0:0]"), line=6, nft_differs=True),
    Case("user chain declared, then -N", filter_with(":FOO - [0:0]", "-N FOO"), line=6),
    # both: the later policy (and counters) win, the rules stay
    Case("built-in chain twice", filter_with(":INPUT DROP [0:0]", "-A INPUT -j ACCEPT", ":INPUT ACCEPT [5:6]",
                                             "-A INPUT -j DROP"),
         saved=(":INPUT ACCEPT [5:6]", "[0:0] -A INPUT -j ACCEPT", "[0:0] -A INPUT -j DROP"), counters=True),
]

ALL_CASES = [*CHAINS_TWICE]
