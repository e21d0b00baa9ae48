"""Where the kernel takes a target or a match (its table, the hooks whose chains reach the rule), and what it refuses
at COMMIT: inputs whose fate under the real iptables-restore was observed, as :mod:`tests.netfilter.restore_cases`
records them (the same :class:`Case`; ``tests/kernel/test_placement_parity`` checks them again against this
machine's tools).

Observed on 2026-12-01 with iptables-legacy-restore and iptables-nft-restore v1.8.9 (ip6tables- for IPv6), each
input restored into a fresh network namespace (``unshare --net``) with ``--counters``. Legacy refuses at the table's
COMMIT ("line N failed"), nft at a rule ("RULE_APPEND failed (Invalid argument)"): at the rule itself, or, for a
user chain a built-in chain comes to reach later, at the jump that makes it reach it.
"""

from __future__ import annotations

from tests.netfilter.restore_cases import FILTER, MANGLE, NAT, Case, filter_with

RAW = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
MAC = "-m mac --mac-source 00:11:22:33:44:55"


def table_with(head: str, *lines: str) -> str:
    return head + "".join(line + "\n" for line in lines) + "COMMIT\n"


def _line(head: str, extra: int = 0) -> int:
    """The line of the first rule after ``head`` (and ``extra`` lines)."""
    return head.count("\n") + 1 + extra


TABLES = [
    # xt_CT (CT, NOTRACK) and xt_TRACE: .table "raw"; nft takes -j TRACE anywhere (nf_tables traces by itself)
    *(Case(f"placement {rule} in filter", filter_with(f"-A INPUT {rule}"), line=5, at_commit=True)
      for rule in ("-j NOTRACK", "-j CT --notrack", "-j CT --zone 1")),
    Case("placement -j TRACE in filter", filter_with("-A INPUT -j TRACE"), line=5, at_commit=True, nft_differs=True),
    Case("placement NOTRACK and CT in raw", table_with(RAW, "-A PREROUTING -j CT --notrack", "-A OUTPUT -j NOTRACK"),
         saved=("[0:0] -A PREROUTING -j CT --notrack", "[0:0] -A OUTPUT -j NOTRACK")),
    # xt_DSCP (DSCP, TOS), xt_HL (TTL, HL), ipt_ECN, xt_TCPOPTSTRIP, xt_CHECKSUM, xt_TPROXY: .table "mangle" (ECN
    # with -p tcp, as its checkentry wants one for --ecn-tcp-remove: refused for its table, not its protocol)
    *(Case(f"placement {rule} in filter", filter_with(f"-A INPUT {rule}"), line=5, at_commit=True)
      for rule in ("-j DSCP --set-dscp 1", "-j TOS --set-tos 1", "-j TTL --ttl-set 1",
                   "-p tcp -j ECN --ecn-tcp-remove", "-p tcp -j TCPOPTSTRIP --strip-options 2",
                   "-j CHECKSUM --checksum-fill", "-p tcp -j TPROXY --on-port 80")),
    Case("placement -p tcp -j ECN in mangle", table_with(MANGLE, "-A INPUT -p tcp -j ECN --ecn-tcp-remove"),
         saved=("[0:0] -A INPUT -p tcp -j ECN --ecn-tcp-remove",)),
    # xt_CLASSIFY (FORWARD, OUTPUT, POSTROUTING) and xt_SYNPROXY (INPUT, FORWARD): hooks and no .table, so any
    # table's chains of those hooks take them; INPUT refuses CLASSIFY for its hook
    Case("placement -j CLASSIFY in filter INPUT", filter_with("-A INPUT -j CLASSIFY --set-class 1:1"), line=5,
         at_commit=True),
    *(Case(f"placement -j CLASSIFY in {name} {chain}", table_with(head, f"-A {chain} -j CLASSIFY --set-class 1:1"),
           saved=(f"[0:0] -A {chain} -j CLASSIFY --set-class 0001:0001",))
      for name, head, chain in (("filter", FILTER, "OUTPUT"), ("filter", FILTER, "FORWARD"), ("raw", RAW, "OUTPUT"),
                                ("nat", NAT, "POSTROUTING"))),
    Case("placement -j CLASSIFY in raw PREROUTING", table_with(RAW, "-A PREROUTING -j CLASSIFY --set-class 1:1"),
         line=_line(RAW), at_commit=True),
    Case("placement -j CLASSIFY in a chain filter OUTPUT jumps to",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO", "-A FOO -j CLASSIFY --set-class 1:1"),
         saved=("[0:0] -A OUTPUT -j FOO", "[0:0] -A FOO -j CLASSIFY --set-class 0001:0001")),
    Case("placement -j CLASSIFY in a chain filter INPUT jumps to",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j CLASSIFY --set-class 1:1"), line=7,
         at_commit=True),
    *(Case(f"placement -j SYNPROXY in {name} {chain}", table_with(head, f"-A {chain} -p tcp -j SYNPROXY --mss 1460"),
           saved=(f"[0:0] -A {chain} -p tcp -j SYNPROXY --mss 1460",))
      for name, head, chain in (("filter", FILTER, "INPUT"), ("mangle", MANGLE, "FORWARD"))),
    *(Case(f"placement -j SYNPROXY in {name} {chain}", table_with(head, f"-A {chain} -p tcp -j SYNPROXY --mss 1460"),
           line=_line(head), at_commit=True)
      for name, head, chain in (("filter", FILTER, "OUTPUT"), ("raw", RAW, "PREROUTING"))),
    Case("placement -j SYNPROXY in a chain filter OUTPUT jumps to",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO", "-A FOO -p tcp -j SYNPROXY"), line=7, at_commit=True),
    Case("placement -j HL in filter", filter_with("-A INPUT -j HL --hl-set 1"), line=5, at_commit=True, ipv6=True),
    # xt_NETMAP: .table "nat"
    Case("placement -j NETMAP in filter", filter_with("-A INPUT -j NETMAP --to 10.0.0.0/24"), line=5,
         at_commit=True),
]

HOOKS = [
    # xt_TPROXY: mangle PREROUTING only; xt_CLASSIFY: FORWARD, OUTPUT, POSTROUTING; ip6t_NPT: DNPT PREROUTING and
    # OUTPUT, SNPT INPUT and POSTROUTING
    *(Case(f"placement TPROXY in mangle {chain}", table_with(MANGLE, f"-A {chain} -p tcp -j TPROXY --on-port 80"),
           line=_line(MANGLE), at_commit=True) for chain in ("INPUT", "FORWARD", "OUTPUT", "POSTROUTING")),
    *(Case(f"placement CLASSIFY in mangle {chain}", table_with(MANGLE, f"-A {chain} -j CLASSIFY --set-class 1:1"),
           line=_line(MANGLE), at_commit=True) for chain in ("PREROUTING", "INPUT")),
    *(Case(f"placement {target} in mangle {chain}",
           table_with(MANGLE, f"-A {chain} -j {target} --src-pfx fd00::/64 --dst-pfx fd01::/64"),
           line=_line(MANGLE), at_commit=True, ipv6=True)
      for target, chains in (("DNPT", ("INPUT", "FORWARD", "POSTROUTING")), ("SNPT", ("PREROUTING", "OUTPUT")))
      for chain in chains),
    # xt_mac: PREROUTING, INPUT and FORWARD (a packet has a source MAC only as it comes in), in any table
    *(Case(f"placement -m mac in filter {chain}", filter_with(f"-A {chain} {MAC} -j ACCEPT"), line=5,
           at_commit=True) for chain in ("OUTPUT",)),
    *(Case(f"placement -m mac in {name} {chain}", table_with(head, f"-A {chain} {MAC} -j ACCEPT"),
           line=_line(head), at_commit=True)
      for name, head, chain in (("mangle", MANGLE, "POSTROUTING"), ("raw", RAW, "OUTPUT"), ("nat", NAT, "OUTPUT"))),
    *(Case(f"placement -m mac in filter {chain}", filter_with(f"-A {chain} {MAC} -j ACCEPT"),
           saved=(f"[0:0] -A {chain} {MAC} -j ACCEPT",)) for chain in ("INPUT", "FORWARD")),
]

# xt_socket (PREROUTING, INPUT), xt_cgroup (INPUT, OUTPUT, POSTROUTING), xt_rpfilter (PREROUTING; its checkentry
# wants table raw or mangle, also in a chain nothing reaches), xt_owner (OUTPUT, POSTROUTING)
_MATCHES = (("owner", "-m owner --uid-owner 0"), ("socket", "-m socket"), ("cgroup", "-m cgroup --cgroup 1"),
            ("rpfilter", "-m rpfilter"))
_MATCH = dict(_MATCHES)
_REFUSED = (("owner", "filter", FILTER, "INPUT"), ("owner", "filter", FILTER, "FORWARD"),
            ("owner", "nat", NAT, "PREROUTING"), ("owner", "nat", NAT, "INPUT"),
            ("owner", "mangle", MANGLE, "PREROUTING"), ("socket", "mangle", MANGLE, "OUTPUT"),
            ("cgroup", "filter", FILTER, "FORWARD"), ("cgroup", "mangle", MANGLE, "PREROUTING"),
            ("rpfilter", "filter", FILTER, "INPUT"), ("rpfilter", "raw", RAW, "OUTPUT"),
            ("rpfilter", "mangle", MANGLE, "INPUT"))
_TAKEN = (("owner", "filter", FILTER, "OUTPUT"), ("owner", "nat", NAT, "POSTROUTING"),
          ("owner", "mangle", MANGLE, "POSTROUTING"), ("socket", "mangle", MANGLE, "PREROUTING"),
          ("socket", "mangle", MANGLE, "INPUT"), ("cgroup", "filter", FILTER, "INPUT"),
          ("cgroup", "mangle", MANGLE, "POSTROUTING"), ("rpfilter", "raw", RAW, "PREROUTING"))
MATCHES = [
    *(Case(f"placement -m {name} in {table} {chain}", table_with(head, f"-A {chain} {_MATCH[name]} -j ACCEPT"),
           line=_line(head), at_commit=True) for name, table, head, chain in _REFUSED),
    *(Case(f"placement -m {name} in {table} {chain}", table_with(head, f"-A {chain} {_MATCH[name]} -j ACCEPT"),
           saved=(f"[0:0] -A {chain} {_MATCH[name]} -j ACCEPT",)) for name, table, head, chain in _TAKEN),
    Case("placement -m owner in a chain INPUT jumps to",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -m owner --uid-owner 0 -j ACCEPT"), line=7,
         at_commit=True),
    Case("placement -m owner in a chain nat OUTPUT and POSTROUTING jump to",
         table_with(NAT, ":FOO - [0:0]", "-A OUTPUT -j FOO", "-A POSTROUTING -j FOO",
                    "-A FOO -m owner --uid-owner 0 -j ACCEPT"),
         saved=("[0:0] -A OUTPUT -j FOO", "[0:0] -A POSTROUTING -j FOO",
                "[0:0] -A FOO -m owner --uid-owner 0 -j ACCEPT")),
    Case("placement -m rpfilter in a filter chain nothing jumps to",
         filter_with(":FOO - [0:0]", "-A FOO -m rpfilter -j ACCEPT"), line=6, at_commit=True),
]

REACHED = [
    # a user chain is judged by the built-in chains that reach it (ip_tables' mark_source_chains, nf_tables' chain
    # validation), through any number of jumps; one no built-in chain reaches is taken
    Case("placement -m mac in a chain OUTPUT jumps to",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO", f"-A FOO {MAC} -j ACCEPT"), line=7, at_commit=True),
    Case("placement -m mac in a chain OUTPUT jumps to later",
         filter_with(":FOO - [0:0]", f"-A FOO {MAC} -j ACCEPT", "-A INPUT -j ACCEPT", "-A OUTPUT -j FOO"),
         line=6, at_commit=True),
    Case("placement -m mac two jumps from OUTPUT",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A OUTPUT -j BAR", "-A BAR -j FOO", f"-A FOO {MAC} -j ACCEPT"),
         line=9, at_commit=True),
    # the chain a -m mac rule is in, as its line names it: -I with counters, quoted, renamed by -E later
    Case("placement -m mac inserted with counters in a chain OUTPUT jumps to",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO", f"[3:4] -I FOO 1 {MAC} -j ACCEPT"), line=7, at_commit=True),
    Case("placement -m mac in a quoted chain OUTPUT jumps to",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO", f'-A "FOO" {MAC} -j ACCEPT'), line=7, at_commit=True),
    Case("placement -m mac in a chain renamed to one OUTPUT jumps to",
         filter_with(":FOO - [0:0]", f"-A FOO {MAC} -j ACCEPT", "-E FOO BAR", "-A OUTPUT -j BAR"), line=6,
         at_commit=True),
    Case("placement -m mac in a chain OUTPUT jumps to, after rules of its shape elsewhere",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", *(f"-A FOO -m mac --mac-source 00:11:22:33:44:5{i} -j ACCEPT"
                                                       for i in range(3)),
                     f"-A BAR {MAC} -j ACCEPT", "-A OUTPUT -j BAR"), line=10, at_commit=True),
    Case("placement -m mac in a chain INPUT jumps to",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", f"-A FOO {MAC} -j ACCEPT"),
         saved=("[0:0] -A INPUT -j FOO", f"[0:0] -A FOO {MAC} -j ACCEPT")),
    Case("placement -m mac in a chain no built-in chain reaches",
         filter_with(":FOO - [0:0]", f"-A FOO {MAC} -j ACCEPT"),
         saved=(f"[0:0] -A FOO {MAC} -j ACCEPT",)),
    Case("placement TPROXY in a chain mangle INPUT jumps to",
         table_with(MANGLE, ":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -p tcp -j TPROXY --on-port 80"),
         line=_line(MANGLE, 2), at_commit=True),
    Case("placement TPROXY in a chain mangle PREROUTING jumps to",
         table_with(MANGLE, ":FOO - [0:0]", "-A PREROUTING -j FOO", "-A FOO -p tcp -j TPROXY --on-port 80"),
         saved=("[0:0] -A PREROUTING -j FOO",
                "[0:0] -A FOO -p tcp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0")),
    Case("placement DNAT in a chain nat POSTROUTING jumps to",
         table_with(NAT, ":FOO - [0:0]", "-A POSTROUTING -j FOO", "-A FOO -j DNAT --to-destination 10.0.0.1"),
         line=_line(NAT, 2), at_commit=True),
    Case("placement MASQUERADE in a chain nat OUTPUT goes to",
         table_with(NAT, ":FOO - [0:0]", "-A OUTPUT -g FOO", "-A FOO -j MASQUERADE"),
         line=_line(NAT, 2), at_commit=True),
    Case("placement DNAT and MASQUERADE where their hooks reach them",
         table_with(NAT, ":FOO - [0:0]", ":BAR - [0:0]", "-A PREROUTING -j FOO", "-A POSTROUTING -j BAR",
                    "-A FOO -j DNAT --to-destination 10.0.0.1", "-A BAR -j MASQUERADE"),
         saved=("[0:0] -A FOO -j DNAT --to-destination 10.0.0.1", "[0:0] -A BAR -j MASQUERADE")),
]

WALKED = [
    # ip_tables' mark_source_chains stops a chain's walk at an unconditional standard verdict (-j ACCEPT, DROP,
    # RETURN, no match): the rules after it, and the chains only they jump to, are checked against no hook, and
    # iptables-legacy-restore takes them; iptables-nft-restore checks every rule of a chain (nft_differs). The
    # project follows legacy. A verdict with a match, or a goto, does not stop the walk.
    Case("placement -m mac after -j ACCEPT in OUTPUT",
         filter_with("-A OUTPUT -j ACCEPT", f"-A OUTPUT {MAC} -j ACCEPT"), nft_differs=True,
         saved=("[0:0] -A OUTPUT -j ACCEPT", f"[0:0] -A OUTPUT {MAC} -j ACCEPT")),
    Case("placement -m mac in a chain OUTPUT jumps to after -j DROP",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j DROP", "-A OUTPUT -j FOO", f"-A FOO {MAC} -j ACCEPT"),
         nft_differs=True,
         saved=("[0:0] -A OUTPUT -j DROP", "[0:0] -A OUTPUT -j FOO", f"[0:0] -A FOO {MAC} -j ACCEPT")),
    Case("placement -m mac after -j RETURN in a chain OUTPUT jumps to",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO", "-A FOO -j RETURN", f"-A FOO {MAC} -j ACCEPT"),
         nft_differs=True,
         saved=("[0:0] -A OUTPUT -j FOO", "[0:0] -A FOO -j RETURN", f"[0:0] -A FOO {MAC} -j ACCEPT")),
    Case("placement TPROXY in a chain gone to from one after -j RETURN",
         table_with(MANGLE, ":A - [0:0]", ":B - [0:0]", ":C - [0:0]", "-A INPUT -j A", "-A A -j RETURN", "-A A -j B",
                    "-A B -g C", "-A C -p tcp -j TPROXY --on-port 80"), nft_differs=True,
         saved=("[0:0] -A INPUT -j A", "[0:0] -A A -j RETURN", "[0:0] -A A -j B", "[0:0] -A B -g C",
                "[0:0] -A C -p tcp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0")),
    Case("placement CLASSIFY after -j ACCEPT in INPUT",
         filter_with("-A INPUT -j ACCEPT", "-A INPUT -j CLASSIFY --set-class 1:1"), nft_differs=True,
         saved=("[0:0] -A INPUT -j ACCEPT", "[0:0] -A INPUT -j CLASSIFY --set-class 0001:0001")),
    Case("placement -m mac in a chain INPUT jumps to and OUTPUT only after -j ACCEPT",
         filter_with(":FOO - [0:0]", "-A OUTPUT -j ACCEPT", "-A OUTPUT -j FOO", "-A INPUT -j FOO",
                     f"-A FOO {MAC} -j ACCEPT"), nft_differs=True,
         saved=("[0:0] -A INPUT -j FOO", "[0:0] -A OUTPUT -j ACCEPT", "[0:0] -A OUTPUT -j FOO",
                f"[0:0] -A FOO {MAC} -j ACCEPT")),
    Case("placement -m mac after a verdict with a match in OUTPUT",
         filter_with("-A OUTPUT -m comment --comment x -j ACCEPT", f"-A OUTPUT {MAC} -j ACCEPT"), line=6,
         at_commit=True),
    Case("placement -m mac after a goto in OUTPUT",
         filter_with(":FOO - [0:0]", "-A OUTPUT -g FOO", f"-A OUTPUT {MAC} -j ACCEPT"), line=7, at_commit=True),
]

# An option some hooks only take (codec.OPTION_PLACES): TCPMSS --clamp-mss-to-pmtu (FORWARD, OUTPUT, POSTROUTING),
# addrtype --limit-iface-in (not OUTPUT, POSTROUTING) and --limit-iface-out (not PREROUTING, INPUT). In a user chain
# a hook reaches, legacy refuses it at COMMIT and nft takes it (nft_differs)
CLAMP = "-p tcp -m tcp --tcp-flags SYN SYN -j TCPMSS --clamp-mss-to-pmtu"
IFACE_IN = "-m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT"
IFACE_OUT = "-m addrtype --dst-type LOCAL --limit-iface-out -j ACCEPT"
OPTIONS = [
    *(Case(f"placement {rule} in {name} {chain}", table_with(head, f"-A {chain} {rule}"), line=_line(head),
           at_commit=True)
      for rule, name, head, chain in (
          (CLAMP, "mangle", MANGLE, "PREROUTING"), (CLAMP, "mangle", MANGLE, "INPUT"),
          (IFACE_IN, "filter", FILTER, "OUTPUT"), (IFACE_IN, "nat", NAT, "POSTROUTING"),
          (IFACE_OUT, "filter", FILTER, "INPUT"), (IFACE_OUT, "nat", NAT, "PREROUTING"))),
    *(Case(f"placement {rule} in {name} {chain}", table_with(head, f"-A {chain} {rule}"),
           saved=(f"[0:0] -A {chain} {rule}",))
      for rule, name, head, chain in (
          (CLAMP, "mangle", MANGLE, "FORWARD"), (CLAMP, "mangle", MANGLE, "OUTPUT"),
          (CLAMP, "mangle", MANGLE, "POSTROUTING"),
          ("-p tcp -m tcp --tcp-flags SYN SYN -j TCPMSS --set-mss 1400", "mangle", MANGLE, "PREROUTING"),
          (IFACE_IN, "filter", FILTER, "INPUT"), (IFACE_IN, "filter", FILTER, "FORWARD"),
          (IFACE_IN, "nat", NAT, "PREROUTING"), (IFACE_OUT, "filter", FILTER, "FORWARD"),
          (IFACE_OUT, "filter", FILTER, "OUTPUT"), (IFACE_OUT, "nat", NAT, "POSTROUTING"))),
    Case("placement --clamp-mss-to-pmtu in a chain mangle INPUT jumps to",
         table_with(MANGLE, ":FOO - [0:0]", "-A INPUT -j FOO", f"-A FOO {CLAMP}"), line=_line(MANGLE, 2),
         at_commit=True, nft_differs=True),
    Case("placement --limit-iface-in in a chain filter OUTPUT jumps to later",
         filter_with(":FOO - [0:0]", f"-A FOO {IFACE_IN}", "-A OUTPUT -j FOO"), line=6, at_commit=True,
         nft_differs=True),
    Case("placement --limit-iface-out in a chain filter FORWARD jumps to",
         filter_with(":FOO - [0:0]", "-A FORWARD -j FOO", f"-A FOO {IFACE_OUT}"),
         saved=("[0:0] -A FORWARD -j FOO", f"[0:0] -A FOO {IFACE_OUT}")),
]

# A misplaced rule a later command removes before COMMIT never reaches the kernel: -F takes it out for both tools;
# -D (by number or spec) and a bare -F too for legacy (nft refuses the rule as it is added: nft_differs, README
# follows legacy; -R: test_placement_parity, nft 1.8.9 crashes on it); one another chain's -F leaves is still refused
OWNER = "-m owner --uid-owner 0 -j ACCEPT"
REMOVED = [
    Case("placement -m owner in INPUT flushed before COMMIT",
         filter_with(f"-A INPUT {OWNER}", "-F INPUT", "-A INPUT -p tcp"), saved=("[0:0] -A INPUT -p tcp",)),
    Case("placement -m owner in an undeclared INPUT flushed before COMMIT",
         table_with("*filter\n", f"-A INPUT {OWNER}", "-F INPUT")),
    Case("placement -m owner in INPUT flushed by a bare -F",
         filter_with(f"-A INPUT {OWNER}", "-F"),
         nft_differs=True),  # (nft: "line 5: RULE_APPEND failed (Invalid argument)")
    Case("placement -m mac in OUTPUT flushed before COMMIT",
         filter_with(f"-A OUTPUT {MAC} -j ACCEPT", "-F OUTPUT")),
    Case("placement -m owner in INPUT deleted by number",
         filter_with(f"-A INPUT {OWNER}", "-D INPUT 1"), nft_differs=True),
    Case("placement -m owner in INPUT deleted by spec",
         filter_with("-A INPUT -p tcp", f"-A INPUT {OWNER}", f"-D INPUT {OWNER}"),
         saved=("[0:0] -A INPUT -p tcp",), nft_differs=True),
    Case("placement -m owner in INPUT another chain's -F leaves",
         filter_with(f"-A INPUT {OWNER}", "-F OUTPUT"), line=5, at_commit=True),
    Case("placement -m owner in INPUT flushed, then added again",
         filter_with(f"-A INPUT {OWNER}", "-F INPUT", f"-A INPUT {OWNER}"), line=7, at_commit=True),
]

PLACEMENT_CASES = [*TABLES, *HOOKS, *MATCHES, *REACHED, *WALKED, *OPTIONS, *REMOVED]
