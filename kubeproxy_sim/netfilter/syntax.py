"""The syntax of one rule: iptables-restore's tokenizer, option ownership, canonical rendering.

Tokenizing follows iptables-restore: whitespace separates words, double quotes
group them, and inside quotes a backslash escapes the next character (single
quotes are ordinary characters). Options are then attributed to the match
module that owns them, the way iptables' option parser does: the most recent
``-m`` module that knows the option, else the module implied by ``-p``.

The canonical text of a rule is what :func:`render_spec` writes: short flags,
``! -flag value`` negation, values quoted only when the tokenizer needs it.
kube-proxy's output is already in that form, so it round-trips byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Container, Sequence
from dataclasses import dataclass

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.hostmask import BLANKS_C as _BLANKS_C  # isspace() in the C locale
from kubeproxy_sim.netfilter.hostmask import C_NUMBER as _C_ANY_BASE  # (.match: the number a text starts with)
from kubeproxy_sim.netfilter.hostmask import (
    REDACTED,
    HostRefusal,
    c_number,
    c_value,
    ipv6_number,
    read_hosts,
    xt_dotted,
)
from kubeproxy_sim.netfilter.model import Option, RuleSpec, Target
from kubeproxy_sim.netfilter.natrange import IPV4_TEXT, host_problem, netmap_problem, read_nat_to, split_nat_to
from kubeproxy_sim.netfilter.protocols import NETBASE_ALIASES, NETBASE_PROTOCOLS, XTABLES_PROTOCOLS, saved_protocol
from kubeproxy_sim.netfilter.services import SERVICES

BUILTIN_FLAGS: dict[str, str] = {
    "-s": "-s", "--source": "-s", "--src": "-s",
    "-d": "-d", "--destination": "-d", "--dst": "-d",
    "-p": "-p", "--protocol": "-p",
    "-i": "-i", "--in-interface": "-i",
    "-o": "-o", "--out-interface": "-o",
    "-f": "-f", "--fragments": "-f",  # (iptables' own name; --fragment is its abbreviation)
}
MATCH_FLAGS = {"-m", "--match"}
TARGET_FLAGS = {"-j": False, "--jump": False, "-g": True, "--goto": True}
TARGET_EXTENSIONS = frozenset(
    "AUDIT CHECKSUM CLASSIFY CLUSTERIP CONNMARK CONNSECMARK CT DNAT DNPT DSCP ECN HL HMARK IDLETIMER LED LOG MARK"
    " MASQUERADE NETMAP NFLOG NFQUEUE NOTRACK RATEEST REDIRECT REJECT SECMARK SET SNAT SNPT SYNPROXY TCPMSS"
    " TCPOPTSTRIP TEE TOS TPROXY TRACE TTL ULOG".split()
)
"""The targets iptables 1.8.9 loads as extensions (its libxt_, libipt_ and libip6t_ modules): only these have
options. Any other name after -j or -g (ACCEPT, DROP, RETURN, QUEUE, a user chain) is a verdict or a jump, which
takes none: an option after it that no loaded match knows is refused (``unknown option "--foo"``)."""


def _flag_table(flags_by_name: dict[str, str]) -> dict[str, frozenset[str]]:
    """Each name's space-separated options as a set: both tables below are written this way to stay readable."""
    return {name: frozenset(flags.split()) for name, flags in flags_by_name.items()}


TARGET_OPTION_FLAGS: dict[str, frozenset[str]] = _flag_table(
    {
        "DNAT": "--to-destination --random --persistent",  # (no --random-fully: 'unknown option', both v1.8.9)
        "SNAT": "--to-source --random --random-fully --persistent",
        "MASQUERADE": "--to-ports --random --random-fully",
        "REDIRECT": "--to-ports --random",
        "NETMAP": "--to",
        "MARK": "--set-mark --set-xmark --and-mark --or-mark --xor-mark",
        "CONNMARK": "--set-mark --set-xmark --save-mark --restore-mark --and-mark --or-mark --xor-mark --mask"
        " --nfmask --ctmask",
        "LOG": "--log-level --log-prefix --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid"
        " --log-macdecode",
        "NFLOG": "--nflog-group --nflog-prefix --nflog-range --nflog-size --nflog-threshold",
        "NFQUEUE": "--queue-num --queue-balance --queue-bypass --queue-cpu-fanout",  # (--fail-open: 'unknown
        # option', both v1.8.9: the revision loaded has none)
        "REJECT": "--reject-with",
        "CT": "--notrack --ctevents --expevents --helper --timeout --zone --zone-orig --zone-reply",
        "TCPMSS": "--set-mss --clamp-mss-to-pmtu",
        "TPROXY": "--on-port --on-ip --tproxy-mark",
        "SET": "--add-set --del-set --map-set --timeout --exist --map-mark --map-prio --map-queue",
        "TTL": "--ttl-set --ttl-dec --ttl-inc",
        "HL": "--hl-set --hl-dec --hl-inc",
        "DSCP": "--set-dscp --set-dscp-class",
        "TOS": "--set-tos --and-tos --or-tos --xor-tos",
        "CLASSIFY": "--set-class",
        "CHECKSUM": "--checksum-fill",
        "ECN": "--ecn-tcp-remove --ecn-tcp-cwr --ecn-tcp-ece --ecn-ip-ect",
        "AUDIT": "--type",
        "SECMARK": "--selctx",
        "NOTRACK": "",
        "TRACE": "",
        "LED": "--led-trigger-id --led-delay --led-always-blink",
    }
)
"""The options of the target extensions modelled here. iptables gives an option to the extension loaded last that
knows it (each one's options go first in getopt's table): after ``-j DNAT``, DNAT's own, but ``--dport`` to the
protocol's match (loaded when no extension knows it). A target not listed takes what no loaded match knows."""
_TARGET_OPTIONS_ANY = frozenset().union(*TARGET_OPTION_FLAGS.values())

REQUIRED_TARGET_OPTIONS: dict[str, tuple[frozenset[str], str]] = {
    name: (frozenset(flags.split()), message) for name, flags, message in (
        ("MARK", "--set-xmark --set-mark --and-mark --or-mark --xor-mark",
         "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required"),
        ("CONNMARK", "--set-xmark --set-mark --save-mark --restore-mark --and-mark --or-mark --xor-mark",
         "CONNMARK target: No operation specified"),
        ("DNAT", "--to-destination", 'DNAT: option "--to-destination" must be specified'),
        ("SNAT", "--to-source", 'SNAT: option "--to-source" must be specified'),
        ("NETMAP", "--to", 'NETMAP: option "--to" must be specified'),
        ("TCPMSS", "--set-mss --clamp-mss-to-pmtu", "TCPMSS target: At least one parameter is required"),
        ("TPROXY", "--on-port", 'TPROXY: option "--on-port" must be specified'),
        ("SET", "--add-set --del-set --map-set", "You must specify either `--add-set' or `--del-set' or `--map-set'"),
        ("TTL", "--ttl-set --ttl-dec --ttl-inc", "TTL: You must specify an action"),
        ("ECN", "--ecn-tcp-remove --ecn-tcp-cwr --ecn-tcp-ece --ecn-ip-ect", "ECN target: An operation is required"),
        ("HL", "--hl-set --hl-dec --hl-inc", "HL: You must specify an action"),
        ("DSCP", "--set-dscp --set-dscp-class", "DSCP target: Parameter --set-dscp is required"),
        ("TOS", "--set-tos --and-tos --or-tos --xor-tos", "TOS: An action is required"),
        ("CLASSIFY", "--set-class", 'CLASSIFY: option "--set-class" must be specified'),
        ("CHECKSUM", "--checksum-fill", 'CHECKSUM: option "--checksum-fill" must be specified'),
        ("AUDIT", "--type", 'AUDIT: option "--type" must be specified'),
        ("SECMARK", "--selctx", 'SECMARK: option "--selctx" must be specified'),
        ("LED", "--led-trigger-id", 'LED: option "--led-trigger-id" must be specified'),
    )
}
"""The target extensions that need an option, one of these flags, and what iptables 1.8.9 says without one (legacy
and nft alike, at the rule, ip6tables too): :func:`missing_option`. A target not listed takes none or has a default
(LOG, NFLOG, REJECT's icmp-port-unreachable, NFQUEUE's queue 0, MASQUERADE, REDIRECT); of those not modelled
(AUDIT, SECMARK, LED) only the bare ``-j NAME`` is judged."""


FAMILY_EXTENSIONS: dict[bool, tuple[str, str]] = {False: ("TTL", "icmp"), True: ("HL", "icmp6")}
"""Per family (True: IPv6) the target and protocol match of the pairs each family has its own of (libipt_TTL and
libip6t_HL, libipt_icmp and libip6t_icmp6): iptables 1.8.9 loads the other family's not at all."""
IPV6_ONLY_MATCHES = ("dst", "eui64", "frag", "hbh", "ipv6header", "mh", "rt")
"""The matches only IPv6 has (libip6t_ with no libipt_ twin): iptables-legacy-restore 1.8.9 says "Couldn't load
match `frag'" for each (unshare --net), as for icmp6 (:func:`foreign_extension`)."""
IPV6_HEADER_NUMBERS = {0: "hop", 60: "dst", 43: "route", 44: "frag", 51: "auth", 50: "esp", 59: "none", 255: "proto"}
"""The protocol numbers ipv6header takes (libip6t_ipv6header.c's chain_flags) -> the header."""
_IPV6_HEADER_OWN = {"hop-by-hop": 0, "protocol": 255, "hop": 0, "dst": 60, "route": 43, "frag": 44, "auth": 51,
                    "esp": 50, "none": 59, "prot": 255, **{str(n): n for n in IPV6_HEADER_NUMBERS}}
"""libip6t_ipv6header.c's own names (chain_protos), tried after getprotobyname: its numbers are names there."""
IPV6_HEADERS = {name: IPV6_HEADER_NUMBERS[number]
                for name, number in {**_IPV6_HEADER_OWN, **NETBASE_ALIASES, **NETBASE_PROTOCOLS}.items()
                if number in IPV6_HEADER_NUMBERS}
"""ipv6header's ``--header`` names -> the header: a name or alias getprotobyname finds (case and all: ``IPv6-Frag``
and ``ip``, protocol 0, are taken, ``FRAG`` and ``AH``, netbase's ``IPSEC-AH``, are not), else its own."""
IPV6_HEADERS_SAVED = {"hop": "hop-by-hop", "dst": "ipv6-opts", "route": "ipv6-route", "frag": "ipv6-frag",
                      "auth": "ah", "esp": "esp", "none": "ipv6-nonxt", "proto": "protocol"}
"""Each header as ip6tables-save 1.8.9 writes it, in the order it writes them (its flags' bits): /etc/protocols'
name, its own for 0 and 255 (unshare --net: ``--header 44,ah,esp,none,prot,route,dst,auth,ipv6-nonxt`` is saved
``ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol``)."""
IPV4_ONLY_TARGETS = ("ECN",)
"""The target extensions only IPv4 has besides TTL (libipt_ECN, NFPROTO_IPV4, no libip6t_ twin): ip6tables-restore
1.8.9 says 'unknown option "--ecn-tcp-remove"' for -j ECN with an option, "Couldn't load target `ECN'" alone
(unshare --net; nft's "Chain 'ECN' does not exist" at COMMIT), as for TTL (:func:`foreign_extension`)."""
FAMILY_TARGETS = frozenset((*(target for target, _ in FAMILY_EXTENSIONS.values()), *IPV4_ONLY_TARGETS))
FAMILY_MATCHES = frozenset(match for _, match in FAMILY_EXTENSIONS.values())
"""Their protocol (-p icmp for -m icmp) is judged once the family is: iptables-restore fails to load the other
family's match before it asks for the protocol (:func:`unasked_protocol`)."""


REQUIRED_MATCH_OPTIONS = {"icmp": "--icmp-type", "icmp6": "--icmpv6-type", "ipv6header": "--header"}
"""The matches that need an option, and which: iptables 1.8.9 refuses ``-m icmp``, ``-m icmp6`` or ``-m ipv6header``
without it at the rule's line, legacy and nft alike, before the kernel could refuse its protocol (unshare --net:
'icmp6: option "--icmpv6-type" must be specified'). The family matches (:data:`FAMILY_EXTENSIONS`) are judged once
the family is known, and so is ipv6header, IPv6's only (:func:`ipv6_match_problem`)."""
MATCH_ALIASES = {"icmpv6": "icmp6"}
"""A match's other name -> the extension it loads (and names in its messages: ``-m icmpv6`` alone, 'icmp6: option
"--icmpv6-type" must be specified'; in IPv4, "Couldn't load match `icmp6'")."""


def foreign_extension(spec: RuleSpec, ipv6: bool) -> tuple[str, str] | None:
    """(what iptables says, the token) when the rule uses the other family's TTL/HL target or icmp/icmp6 match, or
    in IPv4 a match only IPv6 has (:data:`IPV6_ONLY_MATCHES`), as iptables-restore and ip6tables-restore 1.8.9 say
    it (unshare --net; legacy and nft alike, but nft's "Chain 'HL' does not exist" for the target alone): named by
    -m, "Couldn't load match `icmp6'"; its option after -p, 'unknown option "--icmpv6-type"'; the target alone,
    "Couldn't load target `HL'", with an option 'unknown option "--hl-set"'. None when it uses none."""
    target, match = FAMILY_EXTENSIONS[not ipv6]
    for option in spec.options:
        module = MATCH_ALIASES.get(option.module, option.module)
        if module == match or (not ipv6 and module in IPV6_ONLY_MATCHES):
            if option.flag == "-m":
                return f"Couldn't load match `{module}'", module
            return f'unknown option "{option.flag}"', option.flag
    jump = spec.target
    if jump is None or (jump.name != target and not (ipv6 and jump.name in IPV4_ONLY_TARGETS)) or jump.goto:
        return None
    if jump.options:
        return f'unknown option "{jump.options[0].flag}"', jump.options[0].flag
    return f"Couldn't load target `{jump.name}'", jump.name


_BARE_REFUSED = "(?!(?:" + "|".join(sorted(REQUIRED_TARGET_OPTIONS)) + r")\Z)"
"""Before a shape's bare target (:func:`shape_matcher`): not the name of an extension that needs an option."""


TARGET_NAME_LIMIT = 28  # XT_EXTENSION_MAXNAMELEN - 1: the longest target (or chain) name -j and -g take
_TARGET_WORD = re.compile(rf'(?:[\x21\x23-\x7e]{{1,{TARGET_NAME_LIMIT}}}|"[\x21\x23-\x7e]{{1,{TARGET_NAME_LIMIT}}}")')
"""A -j/-g value a skeleton's hole takes as it is (:func:`_value_tests`; a shape's, :func:`shape_matcher`):
printable ASCII but a quote, in quotes or not. Any other is the interpreter's to judge
(:func:`target_name_problem`)."""


def target_name_problem(name: str) -> tuple[str, str] | None:
    """(what is wrong, what is expected) of a -j or -g word iptables refuses whatever the chains are, as it reads
    the option (parse_target, both restores v1.8.9, ip netns): an empty one ("Invalid target name (too short)"),
    one longer than :data:`TARGET_NAME_LIMIT` bytes ("(28 chars max)") and one holding a blank of C's isspace
    ("Invalid target name `B R'": ``-j "B R"``, and ``-j "X`` whose quote left open takes the newline in). This
    holds in a partial input too, whose jumps to chains it does not declare are otherwise the node's to judge.
    Judged in parse_target's order, so that the reason is iptables' own: a name both too long and holding a
    blank is too long (both tools: "Invalid target name `AAAAAAAAAAAAA BBBBBBBBBBBBBBB' (28 chars max)")."""
    if not name:
        return "invalid target name: empty (iptables: \"Invalid target name (too short)\")", \
            "a chain's or a target's name after -j or -g"
    if len(name.encode()) > TARGET_NAME_LIMIT:
        return f"invalid target name `{name}': longer than {TARGET_NAME_LIMIT} bytes (iptables: \"Invalid " \
            f"target name ({TARGET_NAME_LIMIT} chars max)\")", \
            f"a chain's or a target's name of at most {TARGET_NAME_LIMIT} bytes (XT_EXTENSION_MAXNAMELEN - 1)"
    if any(c in _BLANKS_C for c in name):
        return f"invalid target name `{name}': it holds a blank (iptables: \"Invalid target name\")", \
            "a chain's or a target's name without spaces, tabs or line ends (a quote left open takes the line's end)"
    return None


def missing_option(name: str, flags: Collection[str]) -> tuple[str, str] | None:
    """(what iptables says, what it expects) when target ``name`` given the options ``flags`` lacks the one it
    needs (:data:`REQUIRED_TARGET_OPTIONS`); None: it has it, or needs none."""
    required = REQUIRED_TARGET_OPTIONS.get(name)
    if required is None or not required[0].isdisjoint(flags):
        return None
    wanted = sorted(required[0])
    return required[1], (f"-j {name} {wanted[0]} ..." if len(wanted) == 1
                         else f"one of {', '.join(wanted)} after -j {name}")


def _exclusions(bits: str, *groups: tuple[str, str]) -> tuple[tuple[str, ...], dict[str, frozenset[str]]]:
    """An extension's options in the order of their ids (``bits``) and, per group (options, what each of them
    excludes), in the order of its option table, each option's excluded options."""
    return tuple(bits.split()), {flag: frozenset(excluded.split()) for flags, excluded in groups
                                 for flag in flags.split()}


def connmark_ctmask(options: Sequence[Option], at: int) -> Option | None:
    """CONNMARK's last ``--mask`` or ``--ctmask`` after its mark operation (option ``at``), which replaces the
    operation's ctmask; None when there is none. libxt_CONNMARK reads its options in order and writes either into
    ``info->ctmask`` as read, so one before the operation is overwritten by it (``--set-mark 1 --ctmask 6`` is saved
    ``--set-xmark 0x1/0x6``, ``--or-mark 5 --mask 6`` ``0x5/0x6``: iptables-legacy-save 1.8.9, unshare --net).
    The save form (saveform) and the evaluation (compile_targets) read it here."""
    return next((o for o in reversed(options[at + 1:]) if o.flag in ("--mask", "--ctmask") and len(o.args) == 1),
                None)


_MARK_OPERATIONS = "--set-xmark --set-mark --and-mark --or-mark --xor-mark"
_CONNMARK_OPERATIONS = _MARK_OPERATIONS + " --save-mark --restore-mark"
MARK_OPERATIONS = frozenset(_MARK_OPERATIONS.split())
"""The flags of a MARK (and CONNMARK) value operation, which the save form and the evaluator look for."""
EXCLUSIVE_TARGET_OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, frozenset[str]]]] = {
    "MARK": _exclusions("--set-mark --and-mark --or-mark --xor-mark --set-xmark",
                        (_MARK_OPERATIONS, _MARK_OPERATIONS)),
    "CONNMARK": _exclusions("--set-mark --save-mark --restore-mark --and-mark --or-mark --xor-mark --set-xmark"
                            " --ctmask --nfmask --mask", (_CONNMARK_OPERATIONS, _CONNMARK_OPERATIONS),
                            ("--ctmask --nfmask", "--mask"), ("--mask", "--ctmask --nfmask")),
    "NFQUEUE": _exclusions("--queue-num --queue-balance --queue-bypass --queue-cpu-fanout",
                           ("--queue-num", "--queue-balance"), ("--queue-balance", "--queue-num")),
    "ECN": _exclusions("--ecn-tcp-remove --ecn-tcp-cwr --ecn-tcp-ece --ecn-ip-ect",
                       ("--ecn-tcp-remove", "--ecn-tcp-cwr --ecn-tcp-ece"),
                       ("--ecn-tcp-cwr --ecn-tcp-ece", "--ecn-tcp-remove")),
}
"""The target extensions with options that exclude each other (libxt_MARK's and libxt_CONNMARK's ``.excl``,
iptables 1.8.9): per target its options in the order of their ids, and in its table's order each option's
excluded ones. iptables judges them after the rule's options (xtables_options_fcheck): the first option of the
table given with one it excludes, that one the first such by id (:func:`option_conflict`)."""


def option_conflict(name: str, flags: Sequence[str]) -> tuple[str, str, str] | None:
    """(what iptables says, the option, what it expects) when modelled target extension ``name`` is given the
    options ``flags`` (in order) that it refuses together: one twice (each of theirs takes one value:
    "can only be used once", as the tools say at the second) or two that exclude each other
    (:data:`EXCLUSIVE_TARGET_OPTIONS`); None: neither, or a target not modelled."""
    if name not in TARGET_OPTION_FLAGS:
        return None
    seen: set[str] = set()
    for flag in flags:
        if flag in seen:
            return f'{name}: option "{flag}" can only be used once', flag, f"{flag} once after -j {name}"
        seen.add(flag)
    bits, excludes = EXCLUSIVE_TARGET_OPTIONS.get(name, ((), {}))
    for flag, excluded in excludes.items():
        other = next((o for o in bits if o != flag and o in excluded and o in seen), None) if flag in seen \
            else None
        if other is not None:
            return (f'{name}: option "{flag}" cannot be used together with "{other}"', other,
                    f"{flag} without {other}")
    for flag, needed in TARGET_OPTION_NEEDS.get(name, {}).items():
        if flag in seen and needed not in seen:
            return f'{name}: option "{flag}" also requires "{needed}"', flag, f"{needed} with {flag}"
    return None


TARGET_OPTION_NEEDS = {"NFQUEUE": {"--queue-cpu-fanout": "--queue-balance"}}
"""A target's options that need another (their entry's ``.also``; both restores v1.8.9, unshare --net: 'NFQUEUE:
option "--queue-cpu-fanout" also requires "--queue-balance".'), judged with the exclusions (:func:`option_conflict`)."""


def takes_flags(name: str, flags: Sequence[str]) -> bool:
    """Whether iptables takes target extension ``name`` with the options ``flags``, which no match of its rule
    knows: a modelled target only with its own (others ``unknown option``; one not modelled takes any), each
    once and none with one it excludes (:func:`option_conflict`), and with the one it needs
    (:func:`missing_option`)."""
    known = TARGET_OPTION_FLAGS.get(name)
    return (known is None or known.issuperset(flags)) and option_conflict(name, flags) is None \
        and missing_option(name, flags) is None

# Options each modelled match module accepts. A module missing here is kept
# verbatim and takes every option that follows it.
MODULE_FLAGS: dict[str, frozenset[str]] = _flag_table(
    {
        "tcp": "--sport --source-port --dport --destination-port --tcp-flags --syn --tcp-option",
        "udp": "--sport --source-port --dport --destination-port",
        "sctp": "--sport --source-port --dport --destination-port --chunk-types",
        "dccp": "--sport --source-port --dport --destination-port --dccp-types --dccp-option",
        "icmp": "--icmp-type",
        "icmp6": "--icmpv6-type",
        "icmpv6": "--icmpv6-type",
        "multiport": "--sports --source-ports --dports --destination-ports --ports",
        "comment": "--comment",
        "mark": "--mark",
        "connmark": "--mark",
        "addrtype": "--src-type --dst-type --limit-iface-in --limit-iface-out",
        "statistic": "--mode --probability --every --packet",
        "recent": "--name --set --rcheck --update --remove --seconds --reap --hitcount --rttl --mask"
        " --rsource --rdest",
        "conntrack": "--ctstate --ctproto --ctorigsrc --ctorigdst --ctreplsrc --ctrepldst --ctorigsrcport"
        " --ctorigdstport --ctreplsrcport --ctrepldstport --ctstatus --ctexpire --ctdir",
        "state": "--state",
        "set": "--match-set --return-nomatch --update-counters --update-subcounters --packets-eq"
        " --packets-lt --packets-gt --bytes-eq --bytes-lt --bytes-gt",
        "physdev": "--physdev-in --physdev-out --physdev-is-in --physdev-is-out --physdev-is-bridged",
        "nfacct": "--nfacct-name",
        "limit": "--limit --limit-burst",
        "iprange": "--src-range --dst-range",
        "mac": "--mac-source",
        "owner": "--uid-owner --gid-owner --socket-exists --suppl-groups",
        "pkttype": "--pkt-type",
        "length": "--length",
        "ttl": "--ttl-eq --ttl-gt --ttl-lt --ttl",  # (--ttl, --hl: libxt_hl's old names of -eq, saved so)
        "hl": "--hl-eq --hl-gt --hl-lt --hl",
        "tos": "--tos",
        "dscp": "--dscp --dscp-class",
        "rpfilter": "--loose --validmark --accept-local --invert",
        "socket": "--transparent --nowildcard --restore-skmark",
        "devgroup": "--src-group --dst-group",
        "cgroup": "--cgroup --path",
        "mh": "--mh-type",
        "ipv6header": "--header --soft",
        "ecn": "--ecn-tcp-cwr --ecn-tcp-ece --ecn-ip-ect",
    }
)
NEGATABLE_FLAGS: dict[str, frozenset[str]] = _flag_table(
    {
        **{name: " ".join(MODULE_FLAGS[name]) for name in (
            "tcp udp sctp dccp icmp icmp6 icmpv6 multiport physdev iprange mac pkttype length tos dscp ecn"
            " cgroup devgroup").split()},
        "mark": "--mark", "connmark": "--mark", "state": "--state", "mh": "--mh-type", "ipv6header": "--header",
        "addrtype": "--src-type --dst-type",
        "statistic": "--probability --every",
        "recent": "--set --rcheck --update --remove",
        "conntrack": " ".join(sorted(MODULE_FLAGS["conntrack"] - {"--ctdir"})),
        "set": "--match-set --update-counters --update-subcounters --packets-eq --bytes-eq",
        "owner": "--uid-owner --gid-owner --socket-exists",
        "ttl": "--ttl-eq --ttl", "hl": "--hl-eq --hl",
        "comment": "", "limit": "", "nfacct": "", "rpfilter": "", "socket": "",
    }
)
"""Per modelled match, the options ``!`` may precede (libxtables: an option entry flagged XTOPT_INVERT; set's old
parser checks it itself). iptables 1.8.9 refuses ``!`` before any other option of theirs and before every option of
a target extension, at the rule's line, legacy and nft alike (unshare --net: 'comment: option "--comment" cannot be
inverted.', 'DNAT: option "--to-destination" cannot be inverted.'; each option was tried negated, see
tests/netfilter/test_negation_parity_p1.py): :func:`negation_refused`."""
_OWN_NEGATION_WORDS = {"--return-nomatch": "--return-nomatch flag cannot be inverted",
                       **{f"--{what}-{how}": f"--{what}-{how} option cannot be inverted"
                          for what in ("packets", "bytes") for how in ("lt", "gt")}}
"""libxt_set's own words for the options it takes no ``!`` before (it parses them itself, not by an option table)."""


def negation_refused(owner: str, flag: str) -> tuple[str, str, str] | None:
    """(what iptables says, the option, what it expects) when ``!`` precedes option ``flag`` (its whole name) of the
    modelled match or target extension ``owner`` and iptables refuses it (:data:`NEGATABLE_FLAGS`); None when the
    option takes it, or ``owner`` is not modelled (its options are kept as written)."""
    if owner.startswith(HOLE):  # (a skeleton's target named by a value: each rule is read on the general path)
        return "an option negated after a target named by a value", flag, "a named target"
    negatable = NEGATABLE_FLAGS.get(owner)
    if negatable is None and owner not in TARGET_OPTION_FLAGS:
        return None
    if negatable is not None and flag in negatable:
        return None
    name = MATCH_ALIASES.get(owner, owner)
    message = _OWN_NEGATION_WORDS.get(flag) if owner == "set" else None
    return (message or f'{name}: option "{flag}" cannot be inverted', flag,
            f"{flag} without '!' (only some options of a match take it, none of a target's)")


STATISTIC_MODES = ("random", "nth")
FAMILY_WORDS = {"-4": False, "--ipv4": False, "-6": True, "--ipv6": True}
"""The options of a rule that name a family (True: IPv6), each read against the dump's
(:meth:`_Interpreter.family_word`)."""


class OtherFamilyRule(Exception):
    """A rule names the other family (-6 read by iptables-restore, -4 by ip6tables-restore): the restore skips
    its line (the parser's to drop; ``-R`` crashes both v1.8.9 restores)."""


BASE_LONG_OPTIONS: dict[str, str] = {
    **{name: f"--{name}" for name in (
        "append delete check insert replace list list-rules flush zero new-chain delete-chain rename-chain policy"
        " table numeric verbose wait wait-interval exact version help line-numbers modprobe set-counters ipv4"
        " ipv6").split()},
    "source": "-s", "src": "-s", "destination": "-d", "dst": "-d", "protocol": "-p", "in-interface": "-i",
    "out-interface": "-o", "fragments": "-f", "jump": "-j", "goto": "-g", "match": "-m",
}
"""iptables 1.8.9's own long options (iptables.c's original_opts; xtables.c's for nft, the same names), each with
the flag it is read as: the head of getopt_long's table, to which each loaded extension's options are added
(:func:`long_option`). Aliases (source, src) are one option to getopt: the same value."""


def long_option(word: str, extensions: Sequence[tuple[str, Collection[str]]]) -> str | None:
    """The option a long-option word (``--dp``) names, as getopt_long reads it over iptables' table
    (:data:`BASE_LONG_OPTIONS`) and the options of ``extensions`` (name, its options) loaded so far: a name
    written whole, or the one option it is an unambiguous prefix of (an alias of one option is that option), as
    its full flag (``--dport``); "" when it is a prefix of several (iptables: 'unknown option "--in"'), None when
    of none."""
    name = word[2:]
    found: dict[tuple[str, str], str] = {}
    flag = BASE_LONG_OPTIONS.get(name)
    if flag is not None:
        return flag
    for extension, flags in extensions:
        if word in flags:
            return word
        for option in flags:
            if option.startswith(word):
                canonical = FLAG_ALIASES.get(option, option)
                found[(extension, canonical)] = canonical
    for base, flag in BASE_LONG_OPTIONS.items():
        if base.startswith(name):
            found[("", flag)] = flag
    if len(found) > 1:
        return ""
    return next(iter(found.values()), None)


# Aliases iptables-save never writes; the canonical text uses the short name.
FLAG_ALIASES = {
    "--source-port": "--sport",
    "--destination-port": "--dport",
    "--source-ports": "--sports",
    "--destination-ports": "--dports",
    "--ttl": "--ttl-eq",
    "--hl": "--hl-eq",
}
LONG_FLAGS = frozenset().union(BUILTIN_FLAGS, MATCH_FLAGS, TARGET_FLAGS, FLAG_ALIASES, *MODULE_FLAGS.values(),
                               *TARGET_OPTION_FLAGS.values(), (f"--{name}" for name in BASE_LONG_OPTIONS))
"""Every long option known here, written whole: read as written unless it is one of :data:`_PREFIXES`."""
_PREFIXES = frozenset(flag for flag in LONG_FLAGS if any(other != flag and other.startswith(flag)
                                                          for other in LONG_FLAGS))
"""The long options that are the start of another (``--dport`` of multiport's ``--dports``): which one such a word
names depends on the extensions loaded (:meth:`_Interpreter.long_option`)."""
MATCH_ZERO_ARG_FLAGS = frozenset({("ecn", "--ecn-tcp-cwr"), ("ecn", "--ecn-tcp-ece")})
"""Options that take no value in one match only (the ECN target's of the same names take 0 or 1)."""
ZERO_ARG_FLAGS = frozenset(
    "-f --syn --set --rcheck --update --remove --reap --rttl --rsource --rdest --physdev-is-in"
    " --physdev-is-out --physdev-is-bridged --limit-iface-in --limit-iface-out --return-nomatch"
    " --update-counters --update-subcounters --socket-exists --suppl-groups --loose --validmark"
    " --accept-local --invert --transparent --nowildcard --restore-skmark --random --random-fully"
    " --persistent --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode"
    " --notrack --save-mark --restore-mark --soft --led-always-blink".split()
)
# -p name (lower case; a number goes by its name: protocol_module) -> the match iptables loads implicitly for its
# options (none for udplite: iptables 1.8.9 has no such match, so -p udplite --dport is an unknown option and
# -m udplite refused).
PROTOCOL_MODULES = {
    "tcp": "tcp", "udp": "udp", "sctp": "sctp", "dccp": "dccp", "icmp": "icmp", "icmpv6": "icmp6",
    "ipv6-icmp": "icmp6", "mh": "mh",  # (-p mh --mh-type 1 loads mh; -p 135 or ipv6-mh does not: its name is
}  # mobility-header, which names no match: "unknown option", ip6tables-legacy-restore v1.8.9)

PORT_MODULES = frozenset({"tcp", "udp", "sctp", "dccp"})
"""The matches whose ``--sport``/``--dport`` take a port or a range (``1024:65535``)."""
CONNTRACK_PORT_FLAGS = frozenset({"--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport"})
"""conntrack's options that take a port or a range, read as the udp match reads one (:func:`port_lookup`)."""
VALUE_COUNTS = {"--tcp-flags": 2, "--match-set": 2, "--chunk-types": 2}
"""Values of the options of a modelled match that take more than one (the others take one, or none:
:data:`ZERO_ARG_FLAGS`); iptables refuses a word more or less (``--dport 80 ACCEPT``, ``--dport -j ACCEPT``)."""
MULTIPORT_LIMIT = 15  # XT_MULTI_PORTS: ports in one multiport list, a range counting as two
NAT_RANGE_FLAGS = frozenset({"--to-destination", "--to-source"})
PORT_VALUE = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)"
"""A port number 0-65535 as a regular expression, without leading zeros (as iptables-save writes it)."""
RECENT_VALUE_KINDS = {"--seconds": "seconds", "--hitcount": "hitcount", "--name": "list-name"}
"""recent's options whose values iptables or the kernel refuse (:func:`recent_value`), each with its kind."""
RECENT_KINDS = frozenset(RECENT_VALUE_KINDS.values())
RECENT_NAME_LIMIT = 199  # XT_RECENT_NAME_LEN - 1: iptables keeps a longer name's first 199 characters
RECENT_HITCOUNT_LIMIT = 65535  # XT_RECENT_MAX_NSTAMPS - 1 of a recent kernel (older kernels: 255)
_HEX4 = r"[0-9a-fA-F]{1,4}"
_IPV4_HOST = IPV4_TEXT
_IPV6_HOST = ("(?:" + "|".join(rf"(?:{_HEX4}:){{{n}}}(?::{_HEX4}){{1,{7 - n}}}" for n in range(1, 7))
              + rf"|(?:{_HEX4}:){{7}}{_HEX4}|(?:{_HEX4}:){{1,7}}:|:(?::{_HEX4}){{1,7}}|::)")
"""inet_pton's IPv6 text without a dotted tail. The forms with ``::`` inside come first: kube-proxy's addresses
(fd00:10:96::1) are of them, and a form tried before theirs would read their groups again (a 3,000 x 10 IPv6
dump parsed ~5% slower with the full form first)."""
HOST_VALUE = f"{_IPV4_HOST}|{_IPV6_HOST}"
"""One address without a mask, a dotted quad or an IPv6 address without a dotted tail (TPROXY's ``--on-ip``)."""
ADDRESS_VALUE = (
    rf"{_IPV4_HOST}(?:/(?:3[0-2]|[12]?[0-9]))?|{_IPV6_HOST}(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?"
)
"""One -s/-d address as kube-proxy writes them: a dotted quad or an IPv6 address without a dotted tail, with an
optional prefix length, each number without leading zeros (every other spelling is read by the interpreter:
:mod:`~kubeproxy_sim.netfilter.hostmask`)."""
VALUE_PATTERNS = {
    "port": PORT_VALUE,
    "ports": f"{PORT_VALUE}(?:,{PORT_VALUE}){{0,{MULTIPORT_LIMIT - 1}}}",
    "nat": rf"(?:{_IPV4_HOST}(?:-{_IPV4_HOST})?|\[(?:{_IPV6_HOST})(?:-(?:{_IPV6_HOST}))?\])(?::{PORT_VALUE})?"
           rf"|(?:{_IPV6_HOST})(?:-(?:{_IPV6_HOST}))?",  # (a bare IPv6 address: no port)
    "to-ports": PORT_VALUE,
    "nat-bare": rf"{_IPV4_HOST}(?:-{_IPV4_HOST})?|\[(?:{_IPV6_HOST})(?:-(?:{_IPV6_HOST}))?\]"
                rf"|(?:{_IPV6_HOST})(?:-(?:{_IPV6_HOST}))?",
    "no-ports": r"(?!)",
    "seconds": r"[1-9][0-9]{0,8}",
    "hitcount": r"0|[1-9][0-9]{0,3}",
    "list-name": rf"[A-Za-z0-9_][A-Za-z0-9_.:+-]{{0,{RECENT_NAME_LIMIT - 1}}}",
    "protocol": r"tcp|udp|sctp|icmp|ipv6-icmp|icmpv6|all|25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]",
    "mh-type": r"25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]",
    "interface": r"(?:[\x23-\x2c\x2e-\x5b\x5d-\x7e]|-(?=[0-9]|[^\x21-\x7e]|$)|!(?=[\x21\x23-\x5b\x5d-\x7e]))"
                 r"[\x21\x23-\x5b\x5d-\x7e]{0,14}",
    # (printable ASCII: one byte a character, as IFNAMSIZ counts; no quote or backslash, which a canonical value
    # does not hold bare ('-i "-5"' is '-i -5'), and not a word the tokenizer reads as a flag or a bang, -x or !)
    "address": ADDRESS_VALUE,
    "ct-address": ADDRESS_VALUE,
    "on-ip": HOST_VALUE,
    "netmap": ADDRESS_VALUE,
    "iprange": rf"{_IPV4_HOST}(?:-{_IPV4_HOST})?|(?:{_IPV6_HOST})(?:-(?:{_IPV6_HOST}))?",
    "tos": r"0x[0-9a-fA-F]{1,2}(?:/0x[0-9a-fA-F]{1,2})?",
    "tos-number": r"0x[0-9a-fA-F]{1,2}",
    "dscp": r"0x[0-3]?[0-9a-fA-F]",
    "ecn-ect": r"[0-3]",
    "ecn-ect-match": r"[0-3]",
    "ecn-bit": r"[01]",
    "dscp-class": r"CS[0-7]|BE|AF[1-4][1-3]|EF",
    "class": r"[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}",
    "devgroup": r"(?:0x[0-9a-fA-F]{1,8}|[1-9][0-9]{0,8}|0)(?:/(?:0x[0-9a-fA-F]{1,8}|[1-9][0-9]{0,8}|0))?|default",
    "ipv6-headers": "(?:{0})(?:,(?:{0}))*".format("|".join(sorted(map(re.escape, IPV6_HEADERS), key=len,
                                                                   reverse=True))),
    "queue-num": PORT_VALUE,  # (0-65535, as a port)
    "cgroup-classid": r"0|[1-9][0-9]{0,8}",
    "queue-balance": r"(?!)",  # (its lower bound below its upper: the interpreter's to read, nfqueue_balance)
    "statistic-mode": "random",  # (kube-proxy's; an nth rule is read by the interpreter: statistic_problem)
    "bare-word": r"[^-!' \"\\\t\r\n\x00][^' \"\\\t\r\n\x00]*",  # one of several bare words of a --comment
    # (or the like) without a single quote: see check_values
}
"""Per kind of checked value (:func:`value_kind`), a regular expression for the usual values, each of which
:func:`value_problem` passes (a rule's shape asks its values to be of these; a value not of these is judged by
the interpreter).
In a rule of no protocol with ports (:func:`ports_allowed`) a NAT range takes none ("nat-bare") and
``--to-ports`` no value at all ("no-ports"): such a value is the interpreter's to refuse."""
PORT_PROTOCOL_MODULES = frozenset({"tcp", "udp", "sctp", "dccp", "icmp"})
"""The -p protocols (by their matches) with which iptables lets a NAT target name a port (its libxt_NAT and
REDIRECT/MASQUERADE parsers' ``portok``: ICMP too, whose id stands in for a port)."""


def ports_allowed(options: Sequence[Option]) -> bool:
    """Whether a rule's -p lets its NAT target name a port (iptables: "Need TCP, UDP, SCTP or DCCP with port
    specification" otherwise)."""
    return any(o.flag == "-p" and not o.module and protocol_module(o.args[0]) in PORT_PROTOCOL_MODULES
               for o in options)


def lower_ascii(text: str) -> str:
    """``text`` with A-Z lower-cased, as C's tolower in iptables' C locale (``str.lower`` folds other letters too:
    the Kelvin sign to k)."""
    return text.lower() if text.isascii() else "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


REJECT_TYPES: dict[bool, tuple[tuple[str, str], ...]] = {
    False: (("icmp-net-unreachable", "net-unreach"), ("icmp-host-unreachable", "host-unreach"),
            ("icmp-proto-unreachable", "proto-unreach"), ("icmp-port-unreachable", "port-unreach"),
            ("icmp-net-prohibited", "net-prohib"), ("icmp-host-prohibited", "host-prohib"), ("tcp-reset", "tcp-rst"),
            ("icmp-admin-prohibited", "admin-prohib")),
    True: (("icmp6-no-route", "no-route"), ("icmp6-adm-prohibited", "adm-prohibited"),
           ("icmp6-addr-unreachable", "addr-unreach"), ("icmp6-port-unreachable", "port-unreach"),
           ("tcp-reset", "tcp-rst"), ("icmp6-policy-fail", "policy-fail"), ("icmp6-reject-route", "reject-route")),
}
"""Per family (True: IPv6), REJECT's ``--reject-with`` types as (name, alias), in the order of libipt_REJECT's and
libip6t_REJECT's tables (iptables 1.8.9): the order decides which an abbreviation names (:func:`reject_type`)."""


def reject_type(value: str, ipv6: bool) -> str | None:
    """The ``--reject-with`` type iptables 1.8.9 reads in ``value`` for a family, by the name iptables-save prints:
    the first of :data:`REJECT_TYPES` whose name or alias ``value`` begins, letters in any case (strncasecmp over
    the value's length: ``TCP`` is tcp-reset, ``p`` IPv4's icmp-proto-unreachable and IPv6's
    icmp6-port-unreachable, an empty value the first type); None when iptables refuses it ('unknown reject type
    "..."')."""
    text = lower_ascii(value)
    return next((name for name, alias in REJECT_TYPES[ipv6] if name.startswith(text) or alias.startswith(text)),
                None)


def protocol_number(value: str, fold: bool = True) -> int | None:
    """The protocol number iptables 1.8.9 reads in ``-p value`` (xtables_parse_protocol, after lower-casing it;
    ``fold=False``: as it is, as conntrack's ``--ctproto`` reads it): a number 0-255 in C's bases (``006``,
    ``0x6``), ``all``, a netbase name or alias, one of iptables' own names (:mod:`kubeproxy_sim.netfilter.protocols`);
    None when it refuses the value ('unknown protocol "..."')."""
    text = lower_ascii(value) if fold else value
    number = c_strtoumax(text)
    if number is not None:
        return number if number <= 255 else None
    found = NETBASE_PROTOCOLS.get(text, NETBASE_ALIASES.get(text))
    return found if found is not None else XTABLES_PROTOCOLS.get(text)


PROTOCOL_EXPECTED = ("a protocol number 0-255, all or a name such as tcp, udp, icmp, ipv6-icmp, esp, gre or ospf "
                     "(Debian netbase's /etc/protocols)")
"""What -p takes (:func:`protocol_number`), for an expectation."""
PROTOCOL_EXPECTED_AS_IS = PROTOCOL_EXPECTED[:-1] + ", a name in lower case or an alias such as TCP)"
"""What conntrack's --ctproto takes (not lower-cased: :func:`protocol_number`'s ``fold``)."""


def unknown_protocol(value: str, fold: bool = True) -> str:
    """iptables' words for a -p (``fold``: lower-cased first) or --ctproto value it cannot read
    (xtables_parse_protocol)."""
    return f'unknown protocol "{lower_ascii(value) if fold else value}" specified'


def protocol_module(value: str) -> str:
    """The match iptables loads for the options of a rule's ``-p value`` (find_proto: a number by the name
    iptables-save prints for it), "" for none (:data:`PROTOCOL_MODULES`)."""
    text = lower_ascii(value)
    if c_strtoumax(text) is None:
        return PROTOCOL_MODULES.get(text, "")
    number = protocol_number(text)
    return "" if number is None else number_module(number)


def number_module(number: int) -> str:
    """The match iptables loads for the options of protocol ``number`` (by the name iptables-save prints for it),
    "" for none: :func:`protocol_module` for a protocol already read as its number."""
    return PROTOCOL_MODULES.get(saved_protocol(number), "")


def names_port(kind: str, value: str) -> bool:
    """Whether a NAT target's value of ``kind`` (:func:`port_kind`) names a port: ``--to-ports`` always, a NAT
    range when it has a ``:PORT`` (:func:`_nat_ports`)."""
    return kind == "to-ports" or _nat_ports(value) is not None


def _port(text: str, low: int = 0) -> int | None:
    """``text`` as a port number (``low``-65535), None when it is not one (a name, a sign, too large)."""
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= 65535 else None


def _port_range(text: str, sep: str, low: int = 0) -> int | None:
    """How many ports a ``P`` or ``P{sep}Q`` counts for a limit, 1 or 2; None when it is not a port or an
    ascending range."""
    first, found, last = text.partition(sep)
    if not found:
        return 1 if _port(first, low) is not None else None
    lo, hi = _port(first, low), _port(last, low)
    return 2 if lo is not None and hi is not None and lo <= hi else None


_C_UNSIGNED = re.compile(rf"[{_BLANKS_C}]*([+-]?)0*([0-9]+)")  # (\d would take any script's digits)
ULONG_MAX = (1 << 64) - 1


def strtoul_at(text: str, pos: int = 0) -> tuple[int, int] | None:
    """The decimal number at ``pos`` as C's strtoul (and sscanf ``%lu``) reads one: blanks, a sign and digits,
    what follows left unread; a value too large is the largest, a negative one wraps around 2**64. (value, where
    the reading stopped); None when no digits come first."""
    m = _C_UNSIGNED.match(text, pos)
    if m is None:
        return None
    digits = m.group(2)
    value = ULONG_MAX if len(digits) > 20 else min(int(digits), ULONG_MAX)
    if m.group(1) == "-" and value != ULONG_MAX:
        value = -value & ULONG_MAX
    return value, m.end()


def _c_port(text: str) -> int | None:
    """``text`` as iptables' xtables_strtoui reads a port (strtoul in base 0: ``0x50`` is 80, ``010`` is 8, and
    ``080`` nothing), all of it; None when it is no number 0-65535 (hostmask.c_number, the one reading of a C
    number; a text of more than 64 characters is none, and never converted)."""
    return None if len(text) > 64 else c_number(text, 65535)


def _c_prefix(m: re.Match[str]) -> int | None:
    """The number of a :data:`_C_ANY_BASE` match (a number that text starts with) as a port, None above 65535."""
    value = c_value(m)
    return value if value <= 65535 else None


def nat_port_range(text: str) -> str | None:
    """A NAT target's ``PORT[-PORT]`` as iptables 1.8.9's NAT, REDIRECT and MASQUERADE parsers read it, written as
    decimal numbers (``http`` -> ``80``, ``0x50-0x60`` -> ``80-96``): the first port a number in C's bases or,
    when the text does not start with one, all of it a service name of any protocol (``ftp-data``); the last a
    number; None when they refuse it (a range that descends, ``80-http``). Port 0 is taken, the ranges' too
    (``10.0.0.1:0``: both v1.8.9 restores load it, and the kernel maps the port into [0, 0])."""
    m = _C_ANY_BASE.match(text)
    if m is None or len(text) > 64:
        first, rest = service_port(text, "any"), ""
    else:
        first, rest = _c_prefix(m), text[m.end():]
    if first is None:
        return None
    if not rest:
        return str(first)
    last = _c_port(rest[1:]) if rest[0] == "-" else None
    return f"{first}-{last}" if last is not None and last >= first else None


NAT_EXPECTED = ("ADDRESS[-ADDRESS][:PORT[-PORT]] (an IPv6 range in brackets before a port: [fd00::1-fd00::9]:80), "
                "addresses as inet_pton reads them (10.0.0.1, fd00::1), ports 0-65535 (the first may be a service "
                "name, such as http), the lower first")


def nat_values(kind: str, value: str) -> str | None:
    """A NAT range (``nat``: its ports, if any) or a ``--to-ports`` value with its ports as decimal numbers
    (:func:`nat_port_range`); None when iptables refuses the ports."""
    if kind == "to-ports":
        return nat_port_range(value)
    ports = _nat_ports(value)
    if ports is None:
        return value
    written = nat_port_range(ports)
    return None if written is None else value[:len(value) - len(ports)] + written


def service_port(name: str, lookup: str) -> int | None:
    """The port of service ``name`` as iptables looks it up for ``lookup`` (:func:`port_lookup`): getservbyname
    for that protocol, or for "any" getaddrinfo without hints, which tries tcp, then udp (Debian netbase's
    /etc/services, generated into :mod:`kubeproxy_sim.netfilter.services`: exact, case and all)."""
    if lookup == "any":
        found = SERVICES["tcp"].get(name)
        return found if found is not None else SERVICES["udp"].get(name)
    return SERVICES.get(lookup, {}).get(name)


def port_lookup(owner: str, protocol: str) -> str:
    """How iptables 1.8.9 reads a port of ``owner`` (a match) in a rule whose -p loads ``protocol``'s match:
    the tcp and sctp matches read a number in C's bases or that protocol's service name (xtables_parse_port),
    multiport does the same for its rule's protocol, and the udp and dccp matches (and conntrack's ports) ask
    getaddrinfo ("any": a decimal number, kept to 16 bits as it wraps, or a tcp or udp name, and their ranges
    may descend)."""
    if owner == "multiport":
        return protocol
    return owner if owner in ("tcp", "sctp") else "any"


def _read_port(text: str, lookup: str) -> int | None:
    """One port of a value, read for ``lookup`` (:func:`port_lookup`); None when iptables refuses it."""
    if lookup == "any":  # glibc keeps strtoul's number in an int and takes a negative one for "not a number"
        found = strtoul_at(text)  # (-80, 2**31 and 2**64-1 are refused; 2**32 + 80 is 80)
        if found is not None and found[1] == len(text) and found[0] & 0x80000000 == 0:
            return found[0] & 0xFFFF
    else:
        number = _c_port(text)
        if number is not None:
            return number
    return service_port(text, lookup)


def port_values(kind: str, value: str, lookup: str) -> str | None:
    """A --sport/--dport ("port") or multiport ("ports") value with each port written as the decimal number
    iptables reads for ``lookup`` (``http:https`` -> ``80:443``; an open end of a range stays open); None when
    iptables refuses the value: a port it cannot read, a tcp or sctp range that descends, a multiport range that
    does not ascend (``22:ssh``) or more than :data:`MULTIPORT_LIMIT` ports."""
    if kind == "port":
        first, colon, last = value.partition(":")
        lo = _read_port(first, lookup) if first or not colon else 0
        hi = _read_port(last, lookup) if last else 65535
        if lo is None or hi is None or (colon and lo > hi and lookup != "any"):
            return None
        return f"{lo if first else ''}:{hi if last else ''}" if colon else str(lo)
    items: list[str] = []
    total = 0
    for part in value.split(","):
        first, colon, last = part.partition(":")
        lo = _read_port(first, lookup)
        hi = _read_port(last, lookup) if colon else lo
        if lo is None or hi is None or (colon and lo >= hi):
            return None
        items.append(f"{lo}:{hi}" if colon else str(lo))
        total += 2 if colon else 1
    return ",".join(items) if total <= MULTIPORT_LIMIT else None


_EXAMPLES = {"any": ("tcp's or udp's", "domain"), "tcp": ("tcp's", "http"), "udp": ("udp's", "domain"),
             "sctp": ("sctp's", "amqp")}


def _service_names(lookup: str) -> str:
    """What service names a port value of ``lookup`` takes, for an expectation."""
    if lookup not in _EXAMPLES:
        return ""
    whose, example = _EXAMPLES[lookup]
    return f", a service name ({whose}, such as {example})"


def takes_options(target: str) -> bool:
    """Whether ``-j target`` may have options of its own: a target extension, or a skeleton's placeholder (whose
    rules are then tested name by name: :func:`extension_hole`)."""
    return target in TARGET_EXTENSIONS or target.startswith(HOLE)


def port_kind(flag: str, owner: str) -> str | None:
    """The kind of port value ``flag`` of ``owner`` (a match, or the target's name) takes, for
    :func:`value_problem` and a rule shape's :data:`VALUE_PATTERNS`; None: no port value."""
    if (flag in ("--sport", "--dport") and owner in PORT_MODULES) or (
            flag in CONNTRACK_PORT_FLAGS and owner == "conntrack"):
        return "port"
    if flag in ("--sports", "--dports", "--ports") and owner == "multiport":
        return "ports"
    if flag in NAT_RANGE_FLAGS:
        return "nat"
    return "to-ports" if flag == "--to-ports" else None


def value_kind(flag: str, owner: str) -> str | None:
    """The kind of checked value ``flag`` of ``owner`` takes: a port's (:func:`port_kind`), recent's
    (:data:`RECENT_VALUE_KINDS`), conntrack's ``--ctproto`` ("protocol", read as -p's) or one of
    :data:`NAMED_VALUE_KINDS`; None: a value the parser keeps as written unchecked."""
    if owner == "recent":
        return RECENT_VALUE_KINDS.get(flag)
    if flag in FLAG_VALUE_KINDS and (owner in TARGET_EXTENSIONS or owner.startswith(HOLE)):
        return FLAG_VALUE_KINDS[flag]
    return NAMED_VALUE_KINDS.get((owner, flag)) or port_kind(flag, owner)


NAMED_VALUE_KINDS = {("", "-i"): "interface", ("", "-o"): "interface", ("", "-s"): "address", ("", "-d"): "address",
                     ("conntrack", "--ctproto"): "protocol",
                     **{("conntrack", flag): "ct-address" for flag in ("--ctorigsrc", "--ctorigdst", "--ctreplsrc",
                                                                       "--ctrepldst")},
                     ("iprange", "--src-range"): "iprange", ("iprange", "--dst-range"): "iprange",
                     ("tos", "--tos"): "tos", ("dscp", "--dscp"): "dscp", ("dscp", "--dscp-class"): "dscp-class",
                     ("mh", "--mh-type"): "mh-type", ("ipv6header", "--header"): "ipv6-headers",
                     ("devgroup", "--src-group"): "devgroup", ("devgroup", "--dst-group"): "devgroup",
                     ("ecn", "--ecn-ip-ect"): "ecn-ect-match", ("statistic", "--mode"): "statistic-mode",
                     ("cgroup", "--cgroup"): "cgroup-classid"}
"""The checked values of a match option (``""``: a rule's own, such as -i) that take names (kept as written, saved
as iptables-save prints them)."""
FLAG_VALUE_KINDS = {"--on-ip": "on-ip", "--to": "netmap", "--set-tos": "tos", "--and-tos": "tos-number",
                    "--or-tos": "tos-number", "--xor-tos": "tos-number", "--set-dscp": "dscp",
                    "--set-dscp-class": "dscp-class", "--set-class": "class", "--ecn-ip-ect": "ecn-ect",
                    "--ecn-tcp-cwr": "ecn-bit", "--ecn-tcp-ece": "ecn-bit", "--queue-num": "queue-num",
                    "--queue-balance": "queue-balance"}
"""The checked values of target options only one target extension of iptables 1.8.9 has (TPROXY's ``--on-ip``,
NETMAP's ``--to``), by the flag alone: a skeleton's target is a placeholder (:func:`value_holes`), and its options
are that one's."""
IFNAMSIZ = 16  # an interface's name and its NUL: xtables_parse_interface refuses a longer name
MH_TYPES = ("binding-refresh-request", "brr", "home-test-init", "hoti", "careof-test-init", "coti", "home-test", "hot",
            "careof-test", "cot", "binding-update", "bu", "binding-acknowledgement", "ba", "binding-error", "be")
"""libip6t_mh.c's type names in its order, each name followed by its alias; type i is the pair at 2*i."""


def mh_type_range(value: str) -> tuple[int, int] | str:
    """``--mh-type TYPE[:TYPE]`` as libip6t_mh reads it: (lowest, highest), or iptables' words refusing it. A type
    is the first name (or alias) it starts, in any case, unless one is all of it, else a number 0-255 as
    xtables_strtoui reads it; either side of a range may be left out (0, 255); one type alone is both."""
    low, colon, high = value.partition(":")
    bounds = []
    for given, default in ((low, 0), (high, 255)) if colon else ((low, -1),):
        if not given and default >= 0:
            bounds.append(default)
            continue
        folded = lower_ascii(given)
        starts = [i for i, name in enumerate(MH_TYPES) if name.startswith(folded)]
        if starts:
            bounds.append(next((i for i in starts if MH_TYPES[i] == folded), starts[0]) // 2)
            continue
        number = c_strtoumax(given)
        if number is None or number > 255:
            return f"Invalid MH type `{given}'"
        bounds.append(number)
    if bounds[0] > bounds[-1]:
        return "Invalid MH type range (min > max)"
    return bounds[0], bounds[-1]


def ipv6_headers(value: str) -> frozenset[str] | str:
    """ipv6header's ``--header`` list as libip6t_ipv6header reads it: the headers (:data:`IPV6_HEADERS`) of its
    comma-separated names (empty ones skipped, as strtok skips them), or iptables' words refusing it: a name of
    none ("unknown header `bogus' specified"), or of a protocol that is no header (``tcp``: "unknown header `6'
    specified", by its number)."""
    names = [name for name in value.split(",") if name]
    if not names:
        return "ip6t_ipv6header: cannot parse header names"
    for name in names:
        if name not in IPV6_HEADERS:
            number = NETBASE_PROTOCOLS.get(name, NETBASE_ALIASES.get(name))
            return f"unknown header `{name if number is None else number}' specified"
    return frozenset(IPV6_HEADERS[name] for name in names)


TOS_NAMES = {"minimize-cost": 0x02, "maximize-reliability": 0x04, "maximize-throughput": 0x08,
             "minimize-delay": 0x10, "normal-service": 0x00}
"""libxtables' symbolic TOS values (tos_values), any case: a name's mask is 0x3f (a number's 0xff)."""
DSCP_CLASSES = (("CS0", 0x00), ("CS1", 0x08), ("CS2", 0x10), ("CS3", 0x18), ("CS4", 0x20), ("CS5", 0x28),
                ("CS6", 0x30), ("CS7", 0x38), ("BE", 0x00), ("AF11", 0x0a), ("AF12", 0x0c), ("AF13", 0x0e),
                ("AF21", 0x12), ("AF22", 0x14), ("AF23", 0x16), ("AF31", 0x1a), ("AF32", 0x1c), ("AF33", 0x1e),
                ("AF41", 0x22), ("AF42", 0x24), ("AF43", 0x26), ("EF", 0x2e))
"""libxt_dscp_helper's classes in its order: the first whose name starts the given one, any case, is taken
(``efx`` is EF, 0x2e; ``af1`` none: "Invalid DSCP value `af1'")."""


def tos_value_mask(text: str) -> tuple[int, int] | None:
    """A TOS ``VALUE[/MASK]`` as libxtables' XTTYPE_TOSMASK reads it: numbers 0-255 in C's bases (no mask: 0xff),
    else a symbolic name (mask 0x3f); None when iptables refuses it ("Symbolic name \"256\" is unknown")."""
    value_text, slash, mask_text = text.partition("/")
    value = c_number(value_text, 0xFF)
    if value is None:
        named = TOS_NAMES.get(text.lower()) if text.isascii() else None
        return None if named is None else (named, 0x3F)
    mask = c_number(mask_text, 0xFF) if slash else 0xFF
    return None if mask is None else (value, mask)


def dscp_value(flag: str, text: str) -> int | None:
    """A DSCP as ``--dscp``/``--set-dscp`` (a number 0-63 in C's bases) or ``--dscp-class``/``--set-dscp-class``
    (:data:`DSCP_CLASSES`) read it; None when iptables refuses it."""
    if not flag.endswith("-class"):
        return c_number(text, 63)
    folded = text.upper() if text.isascii() else ""
    return next((value for name, value in DSCP_CLASSES if folded.startswith(name)), None)


_CLASS_PART = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]*)|([0-9a-fA-F]+))")
"""One number of glibc sscanf's ``%x``: blanks, a sign, then hex digits or 0x and hex digits; glibc takes a bare
``0x`` as 0 (``--set-class 0x:1`` is saved 0000:0001), so the digits after 0x may be none."""


def classify_class(text: str) -> tuple[int, int] | None:
    """CLASSIFY's ``--set-class MAJOR:MINOR`` as libxt_CLASSIFY reads it (sscanf ``%x:%x``, what follows ignored;
    TC_H_MAKE keeps 16 bits of each: ``10000:1`` is 0000:0001, ``-1:2`` ffff:0002); None when sscanf reads fewer
    than two ("Bad class value")."""
    first = _CLASS_PART.match(text)
    if first is None or text[first.end():first.end() + 1] != ":":
        return None
    second = _CLASS_PART.match(text, first.end() + 1)
    if second is None:
        return None
    major, minor = (_class_number(m) for m in (first, second))
    return major, minor


def _class_number(m: re.Match[str]) -> int:
    """The 16 bits TC_H_MAKE keeps of one :data:`_CLASS_PART` (a bare 0x is 0, a minus wraps)."""
    number = int(m.group(2) or m.group(3) or "0", 16)
    return (-number if m.group(1) == "-" else number) & 0xFFFF


DEVGROUP_NAMES = {0: "default"}
"""/etc/iproute2/group as Debian's iproute2 ships it, the only names the parser takes (it reads no file: a name
another machine's file adds is refused as iptables refuses a name its file lacks); iptables-save prints group 0
(with a full mask) by its name."""
_BAD_INTEGER = "bad integer value"


def devgroup_problem(value: str) -> str | None:
    """libxtables 1.8.9's xtables_parse_val_mask refusing a devgroup ``--src-group``/``--dst-group`` ``VALUE[/MASK]``
    (unshare --net, legacy and nft): a value that is no number 0-2^32-1 in C's bases, or is followed by anything
    but ``/``, is looked up whole as a name ("could not map name X to an integer value": ``foo``, ``4294967296``,
    ``1x``, ``default/0xff``; :data:`DEVGROUP_NAMES`); a mask that is none is a bad integer (``1/``, ``1/-1``), one
    followed by more "trailing garbage after value" (``1/2x``). None when iptables takes it."""
    value_text, slash, mask_text = value.partition("/")
    if c_number(value_text, 0xFFFFFFFF) is None:
        return None if value in DEVGROUP_NAMES.values() else f"could not map name {value} to an integer value"
    if not slash or c_number(mask_text, 0xFFFFFFFF) is not None:
        return None
    prefix = _C_ANY_BASE.match(mask_text)
    if prefix is not None and prefix.end() < len(mask_text) and c_value(prefix) <= 0xFFFFFFFF:
        return "trailing garbage after value"
    return _BAD_INTEGER


def tos_problem(value: str) -> str | None:
    """libxtables' words refusing a TOS ``VALUE[/MASK]`` (:func:`tos_value_mask`): a value that is no number 0-255
    nor a name is 'Symbolic name "X" is unknown', a bad mask 'Illegal value: "X"'."""
    if tos_value_mask(value) is not None:
        return None
    number, slash, _ = value.partition("/")
    if slash and c_number(number, 0xFF) is not None:
        return f'Illegal value: "{value}"'
    return f'Symbolic name "{value}" is unknown'


def tos_number_problem(value: str) -> str | None:
    """libxt_TOS's words refusing an ``--and-tos``/``--or-tos``/``--xor-tos`` (a number 0-255)."""
    return None if c_number(value, 0xFF) is not None else "bad value, or out of range (0-255)"


def dscp_problem(value: str) -> str | None:
    """iptables' words refusing a ``--dscp``/``--set-dscp`` (a number 0-63)."""
    return None if dscp_value("--dscp", value) is not None else "bad value, or out of range (0-63)"


def ecn_ect_problem(value: str) -> str | None:
    """libipt_ECN's words refusing an ``--ecn-ip-ect`` (XTTYPE_UINT8, 0-3)."""
    return None if c_number(value, 3) is not None else "bad value, or out of range (0-3)"


def ecn_bit_problem(value: str) -> str | None:
    """libipt_ECN's words refusing an ``--ecn-tcp-cwr`` or ``--ecn-tcp-ece`` (XTTYPE_UINT8, 0-1)."""
    return None if c_number(value, 1) is not None else "bad value, or out of range (0-1)"


def dscp_class_problem(value: str) -> str | None:
    """libxt_dscp_helper's words refusing a DSCP class (:data:`DSCP_CLASSES`)."""
    return None if dscp_value("--dscp-class", value) is not None else f"Invalid DSCP value `{value}'"


def classify_problem(value: str) -> str | None:
    """libxt_CLASSIFY's words refusing a ``--set-class`` (:func:`classify_class`)."""
    return None if classify_class(value) is not None else f'Bad class value "{value}"'


def iprange_bounds(value: str, ipv6: bool) -> tuple[int, int] | str:
    """An iprange ``--src-range``/``--dst-range`` as libxt_iprange 1.8.9 reads it: (low, high), cut at the first
    ``-`` (none: one address, both ends), each side read as libxtables reads a number of the family (IPv4: up to
    four dot-separated numbers in C's bases, the missing last ones zero, ``1-2`` is 1.0.0.0-2.0.0.0, a leading
    blank skipped; IPv6: inet_pton); a range that descends is taken. Else its words refusing the first side it
    cannot read ("Bad value for ... option: \"X\"", the option named by the caller)."""
    low_text, dash, high_text = value.partition("-")
    bounds = []
    for side in (low_text, high_text) if dash else (low_text,):
        number = ipv6_number(side) if ipv6 else xt_dotted(side)
        if number is None:
            return side
        bounds.append(number)
    return bounds[0], bounds[-1]


def iprange_problem(value: str) -> str | None:
    """iptables' words refusing an iprange range in both families (``1.2.3.4-``, ``1.2.3.256``, ``a,b``), less
    the option's name (:data:`_NAMED_MESSAGES`), the family's its first side is of (``1.2.3.4-fd00::1`` names
    fd00::1, as iptables does); None when one family reads it (or a side holds a letter no address holds: an
    anonymised ``x.x.x.x``, kept as written)."""
    read4, read6 = iprange_bounds(value, False), iprange_bounds(value, True)
    if not isinstance(read4, str) or not isinstance(read6, str) or REDACTED.search(value):
        return None
    return read6 if ":" in value.partition("-")[0] else read4


def conntrack_address_problem(value: str) -> str | None:
    """What iptables 1.8.9 says refusing a conntrack match's ``--ctorigsrc``-like ``HOST[/MASK]`` whatever the
    family (libxt_conntrack reads the host by getaddrinfo, one host: ``10.0.0.1,10.0.0.2`` is "getaddrinfo: Name or
    service not known"; an empty mask or one holding a ``/`` is "neither a valid network mask nor valid CIDR"),
    None when it may take it (a family's own refusals, fd00::1 in IPv4, are the family's reader's)."""
    host, slash, mask = value.partition("/")
    if (problem := host_problem(host)) is not None:
        return problem
    if slash and (not mask or "/" in mask or any(c in _BLANKS_C for c in mask)):
        return f"neither a valid network mask nor valid CIDR ({_cidr_range(host)})"
    return None


def _cidr_range(host: str) -> str:
    """The prefix lengths iptables names refusing a mask of ``host``: its family's when only one can read it (a
    colon: IPv6's; digits and dots: IPv4's), else both."""
    if ":" in host:
        return "0-128"
    return "0-32" if host.strip("0123456789.") == "" else "0-32 in IPv4, 0-128 in IPv6"


def tproxy_address_problem(value: str) -> str | None:
    """What iptables 1.8.9 says refusing TPROXY's ``--on-ip`` whatever the family: one host read by getaddrinfo,
    so a mask or a list is "getaddrinfo: Name or service not known" (``10.0.0.1/24``, even ``/32``; legacy and
    nft, unshare --net); None when it may take it."""
    return host_problem(value)


def c_strtoumax(text: str) -> int | None:
    """All of ``text`` as xtables_strtoui reads a number (strtoumax in base 0: blanks, a ``+``, ``0x`` hex or
    ``0`` octal); None when it is none, too large or starts with a ``-`` (even ``-0``: xtables_strtoul refuses
    any, where strtoumax would wrap a negative number around 2**64). hostmask.c_number reads it; a text of more
    than 100 characters is none, and never converted."""
    return None if len(text) > 100 else c_number(text, ULONG_MAX)


def recent_value(kind: str, value: str) -> str | None:
    """A recent match's value of ``kind`` (:data:`RECENT_VALUE_KINDS`) as the kernel holds it: ``--seconds``
    (1-4294967295) and ``--hitcount`` (up to :data:`RECENT_HITCOUNT_LIMIT`, the kernel's) as decimal numbers, a
    ``--name`` cut to :data:`RECENT_NAME_LIMIT` characters; None when iptables or the kernel refuse it (a name
    empty, ``.``, ``..`` or with a ``/``: xt_check_proc_name)."""
    if kind == "list-name":
        name = value[:RECENT_NAME_LIMIT]
        return None if name in ("", ".", "..") or "/" in name else name
    number = c_strtoumax(value)
    if number is None or number > (0xFFFFFFFF if kind == "seconds" else RECENT_HITCOUNT_LIMIT):
        return None
    return None if kind == "seconds" and number == 0 else str(number)


def recent_mask(value: str) -> str | None:
    """recent's IPv4 ``--mask`` as iptables reads it (getaddrinfo, numeric: any form inet_aton takes, ``16``,
    ``255.255``, ``0xff.0.0.0``, octal ``0377.0.0.0``) and iptables-save prints it, a dotted quad; None for
    anything else (``/24`` or blanks, which iptables refuses; a host name, which it would resolve; a redacted
    ``x.x.x.x``), which the parser keeps as written."""
    if not value or any(c in _BLANKS_C for c in value):  # (inet_aton stops at a blank: getaddrinfo refuses it)
        return None
    import netaddr  # (here: reading a dump does not need netaddr)

    from kubeproxy_sim.objects.netaddr_safe import netaddr_address

    address = netaddr_address(value, 4, netaddr.INET_ATON)
    return None if address is None else str(address)


QUEUE_LIMIT = 65535  # XTTYPE_UINT16: libxt_NFQUEUE's queue numbers


def cgroup_classid(value: str) -> int | str:
    """cgroup's ``--cgroup`` as libxtables reads an XTTYPE_UINT32 (all of it, strtoul in base 0); else its
    refusal, in its words (both restores v1.8.9, unshare --net)."""
    number = c_number(value, 0xFFFFFFFF)
    return 'cgroup: bad value for option "--cgroup", or out of range (0-4294967295).' if number is None else number


CGROUP_PATH_LIMIT = 511  # XT_CGROUP_PATH_MAX - 1: the bytes of a path xt_cgroup revision 2 holds


def cgroup_path(value: str) -> str:
    """cgroup's ``--path`` as the kernel holds it: its first :data:`CGROUP_PATH_LIMIT` bytes. libxtables copies an
    XTTYPE_STRING into its field and cuts what does not fit, without a word; the kernel then looks the cut path up
    (both restores v1.8.9, kernel 6.18: a 612-byte path is saved as its first 511 bytes, and loads when those name
    a cgroup). A character the cut would split is left out whole (the kernel would hold part of its bytes, a name
    no text here can print). A kernel without revision 2 is given revision 1, whose field holds 4095 bytes."""
    data = value.encode()
    return value if len(data) <= CGROUP_PATH_LIMIT else data[:CGROUP_PATH_LIMIT].decode(errors="ignore")


def nfqueue_number(value: str) -> int | str:
    """NFQUEUE's ``--queue-num`` as libxtables reads an XTTYPE_UINT16 (all of it, strtoul in base 0: ``0x10`` is
    16); else its refusal, in its words (both restores v1.8.9, unshare --net)."""
    number = c_number(value, QUEUE_LIMIT)
    if number is None:
        return f'NFQUEUE: bad value for option "--queue-num", or out of range (0-{QUEUE_LIMIT}).'
    return number


def nfqueue_balance(value: str) -> tuple[int, int] | str:
    """NFQUEUE's ``--queue-balance`` FIRST:LAST as libxt_NFQUEUE v1.8.9 reads it (xtopt_parse_mint: two numbers
    in base 0, an empty first 0 and an empty last 65535), then wants FIRST below LAST, and the kernel (its
    16-bit queues_total) at most 65535 queues; else its refusal (both restores, unshare --net: '1 should be less
    than 1' for 1:1, 'Bad range "1"', 0:65535 refused by the kernel: legacy at COMMIT, nft at the rule)."""
    parts = value.split(":")
    bounds: list[int] = []
    for at, part in enumerate(parts):
        if at == 2:
            return 'NFQUEUE: Too many components for option "--queue-balance" (max: 2)'
        number = (QUEUE_LIMIT if at else 0) if part == "" else c_number(part, QUEUE_LIMIT)
        if number is None:
            return (f'NFQUEUE: bad value for option "--queue-balance" near "{part}", or out of range '
                    f'(0-{QUEUE_LIMIT}).')
        bounds.append(number)
    if len(bounds) != 2:
        return f'Bad range "{value}"'
    first, last = bounds
    if first >= last:
        return f"{first} should be less than {last}"
    if last - first + 1 > QUEUE_LIMIT:
        return f"the kernel refuses {last - first + 1} queues (its count of queues is 16 bits)"
    return first, last


def statistic_mode_problem(value: str) -> str | None:
    """libxt_statistic's refusal of a mode other than its two (:data:`STATISTIC_MODES`), in its words."""
    return None if value in STATISTIC_MODES else f'Bad mode "{value}"'


_NAMED_EXPECTED = {
    "mh-type": "a type 0-255 or its name (such as binding-update, or bu), or a range such as 1:5, the lower first",
    "ipv6-headers": "comma-separated headers: hop, dst, route, frag, auth, esp, none, prot, their protocol names "
                    "(such as ipv6-frag) or numbers (0, 60, 43, 44, 51, 50, 59, 255)",
    "ct-address": "one address such as 10.0.0.1 or fd00::1 (not a list), with an optional /LENGTH or /MASK",
    "on-ip": "one address such as 10.0.0.1 or fd00::1, without a mask or a list",
    "netmap": "one network such as 10.0.0.0/24 or fd00::/64 (not a list): an address, an optional /LENGTH or /MASK",
    "iprange": "ADDRESS[-ADDRESS] such as 10.0.0.1-10.0.0.9 or fd00::1-fd00::9 (no mask, no list)",
    "tos": "a TOS 0-255 (0x10), with an optional /MASK (0x10/0x3f), or a name such as Minimize-Delay",
    "tos-number": "a number 0-255 such as 0x10",
    "dscp": "a DSCP 0-63 such as 0x2e or 46",
    "ecn-ect": "an ECT codepoint 0-3",
    "ecn-ect-match": "an ECT codepoint 0-3",
    "ecn-bit": "0 or 1",
    "dscp-class": "a DSCP class: CS0-CS7, BE, AF11-AF43 or EF",
    "class": "MAJOR:MINOR in hexadecimal, such as 1:10",
    "devgroup": "a device group 0-4294967295 (0x.. hex, 0.. octal) with an optional /MASK, or default (group 0)",
    "statistic-mode": "random or nth",
    "queue-num": f"a queue number 0-{QUEUE_LIMIT} (0x.. hex, 0.. octal)",
    "cgroup-classid": "a class id 0-4294967295 (0x.. hex, 0.. octal)",
    "queue-balance": f"FIRST:LAST, queue numbers 0-{QUEUE_LIMIT}, FIRST below LAST (at most {QUEUE_LIMIT} queues; "
                     "--queue-num for one queue)",
}
_NAMED_READERS: dict[str, Callable[[str], object]] = {"mh-type": mh_type_range, "ipv6-headers": ipv6_headers,
                                                      "ct-address": conntrack_address_problem,
                                                      "on-ip": tproxy_address_problem, "netmap": netmap_problem,
                                                      "iprange": iprange_problem, "tos": tos_problem,
                                                      "tos-number": tos_number_problem, "dscp": dscp_problem,
                                                      "dscp-class": dscp_class_problem, "class": classify_problem,
                                                      "devgroup": devgroup_problem, "ecn-ect": ecn_ect_problem,
                                                      "ecn-ect-match": ecn_ect_problem,
                                                      "ecn-bit": ecn_bit_problem,
                                                      "statistic-mode": statistic_mode_problem,
                                                      "queue-num": nfqueue_number, "queue-balance": nfqueue_balance,
                                                      "cgroup-classid": cgroup_classid}
"""Each named-value kind's reader, which returns its problem as a string (validation and parsing share it)."""
_NAMED_MESSAGES = {"iprange": 'iprange: Bad value for "{flag}" option: "{read}"'}
"""The refusal of a named-value kind whose words name the option, from its reader's (``read``)."""


def named_message(kind: str, read: str, flag: str) -> str:
    """iptables' words refusing ``flag``'s value of a named-value kind, from its reader's (``read``)."""
    if kind == "statistic-mode":
        return read
    if kind == "devgroup":  # (xtables_parse_val_mask's three refusals, each naming the option)
        return f'devgroup: {read} for option "{flag}"' + (", or out of range." if read == _BAD_INTEGER else ".")
    if kind in ("tos-number", "dscp", "ecn-ect", "ecn-bit", "ecn-ect-match"):  # (libxtables' "bad value for
        # option", by the extension's name)
        owner = "TOS" if kind == "tos-number" else "ecn" if kind == "ecn-ect-match" else \
            "ECN" if kind.startswith("ecn") else \
            "DSCP" if flag.startswith("--set") else "dscp"
        return f'{owner}: bad value for option "{flag}", {read.removeprefix("bad value, ")}.'
    if kind == "ct-address" and read.startswith("neither"):
        return f'conntrack: bad value for option "{flag}", {read}.'
    return _NAMED_MESSAGES.get(kind, "{read}").format(read=read, flag=flag)
_RECENT_EXPECTED = {
    "seconds": "a number 1-4294967295 (0x.. hex, 0.. octal)",
    "hitcount": f"a number 0-{RECENT_HITCOUNT_LIMIT} (0x.. hex, 0.. octal)",
    "list-name": "a name, not empty, '.' or '..', without '/'",
}


def value_problem(kind: str, value: str, lookup: str = "tcp") -> str | None:
    """What is wrong with ``value`` as a checked value of ``kind`` (:func:`value_kind`), a port's read for
    ``lookup`` (a match's port: :func:`port_lookup`), as an expectation; None: fine."""
    if kind in _RECENT_EXPECTED:
        return None if recent_value(kind, value) is not None else _RECENT_EXPECTED[kind]
    if kind == "bare-word":
        return None if "'" not in value else 'no single quote (they do not quote: "a b" does)'
    if kind == "protocol":
        return None if protocol_number(value, fold=False) is not None else PROTOCOL_EXPECTED_AS_IS
    if kind == "interface":
        return None if len(value.encode()) < IFNAMSIZ else f"an interface name of at most {IFNAMSIZ - 1} bytes"
    if kind == "address":
        hosts = read_hosts(value)
        return hosts.expected if isinstance(hosts, HostRefusal) else None
    if kind in _NAMED_EXPECTED:
        return _NAMED_EXPECTED[kind] if isinstance(_NAMED_READERS[kind](value), str) else None
    if kind in ("port", "ports"):
        if port_values(kind, value, lookup) is not None:
            return None
        if kind == "port":
            ascending = "a range" if lookup == "any" else "an ascending range"
            return f"a port number 0-65535{_service_names(lookup)} or {ascending} such as 1024:65535"
        return (f"up to {MULTIPORT_LIMIT} port numbers 0-65535{_service_names(lookup)} or ascending ranges such as "
                "1024:65535, comma-separated (a range counts as two)")
    if kind in ("nat", "nat-bare"):
        if nat_values("nat", value) is None:
            return ("ADDRESS[:PORT[-PORT]] with ports 0-65535 (the first may be a service name, such as http), the "
                    "lower first")
        return None if nat_address_problem(value) is None else NAT_EXPECTED
    return None if nat_values("to-ports", value) is not None else (
        "a port number 0-65535 or a service name (such as http), or a range such as 1024-2047")


def _nat_ports(value: str) -> str | None:
    """The ports of a NAT range (``10.0.0.1:80``, ``[fd00::1]:80-90``) as libxt_NAT cuts them (IPv6's way when the
    value has a ``[``, which IPv4 refuses), None when it names none (a bare IPv6 address has colons of its own)."""
    cut = split_nat_to(value, 6 if "[" in value else 4)
    return None if isinstance(cut, str) else cut[1]


def nat_address_problem(value: str) -> str | None:
    """iptables' words refusing a NAT range's addresses in both families (``1.2.3``, ``010.1.1.1``, ``1.2.3.4-``,
    ``[fd00::1``: "Bad IP address \"1.2.3\"", "Invalid address format"), IPv6's when its brackets hold a colon (or,
    without a ``[``, it has two), else IPv4's (``[1.2.3.4]:80`` "Invalid address format"); None when one family
    takes them (the other family's refusal is the ruleset's family check's), or when they hold a letter no address
    holds (an anonymised value of a pasted dump, ``x.x.x.x:53``: kept as written)."""
    read4, read6 = read_nat_to(value, 4), read_nat_to(value, 6)
    if not isinstance(read4, str) or not isinstance(read6, str):
        return None
    family = 6 if ":" in _bracketed(value) or ("[" not in value and value.count(":") > 1) else 4
    cut = split_nat_to(value, family)
    if not isinstance(cut, str) and cut[0] is not None and REDACTED.search(cut[0]):
        return None
    return read6 if family == 6 else read4


def _bracketed(value: str) -> str:
    """What a NAT range holds between its ``[`` and the ``]`` after it (IPv4's ``[1.2.3.4]:80`` is "Invalid address
    format", where ``[fd00::1`` is either family's); the text after the ``[`` without a ``]``."""
    bracket = value.find("[")
    if bracket == -1:
        return ""
    end = value.find("]", bracket + 1)
    return value[bracket + 1:] if end == -1 else value[bracket + 1:end]


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    quoted: bool = False

    def is_flag(self) -> bool:
        return not self.quoted and len(self.text) > 1 and self.text[0] == "-" and not self.text[1].isdigit()

    def is_bang(self) -> bool:
        return not self.quoted and self.text == "!"


_WORD = re.compile(r"[^ \t\n]+")
_QUOTED_OR_WORD = re.compile(r'"((?:[^"\\]|\\.)*)"|([^ \t\n"]+)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_BLANKS = " \t\n"
"""What separates the words of a restore line: add_param_to_argv's space, tab and newline. A carriage return is
an ordinary character of its word, quoted or not (both restores v1.8.9: ``-j ACCEPT\\r`` is "Invalid target name",
``--comment abc\\r`` is saved as "abc\\r"); a CRLF file's line ends are dropped before (codec.crlf_as_lf)."""
_BLANK_SET = frozenset(_BLANKS)


LINE_END = "\n"
"""What follows a line of a restore input as iptables-restore reads it (fgets keeps the newline)."""


def tokenize(text: str, *, end: str = LINE_END) -> list[Token]:
    """Split like iptables-restore: double quotes group words, ``\\`` escapes inside quotes. ``end`` is what
    followed ``text`` on its line (blanks a caller stripped, and the newline): a quote left open takes it in."""
    if '"' not in text:
        return [Token(word) for word in _WORD.findall(text)]
    fast = _tokenize_separated(text)
    return fast if fast is not None else _tokenize_chars(text, end)


def _tokenize_separated(text: str) -> list[Token] | None:
    """Regex tokenising for the usual case: every quoted string stands alone between blanks.

    None when a quote touches other text (``a"b c"``) or is left open: the
    character-by-character tokenizer handles (or reports) those.
    """
    tokens: list[Token] = []
    pos = 0
    for m in _QUOTED_OR_WORD.finditer(text):
        start = m.start()
        gap = text[pos:start]
        if (pos and not gap) or gap.strip(_BLANKS):
            return None
        quoted = m.group(1)
        if quoted is None:
            tokens.append(Token(m.group(2)))
        else:
            tokens.append(Token(_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted, True))
        pos = m.end()
    if text[pos:].strip(_BLANKS):
        return None
    return tokens


def _tokenize_chars(text: str, end: str = LINE_END) -> list[Token]:
    """The general tokenizer, one character at a time, as iptables-restore's add_param_to_argv splits: a quote
    opens inside a word (``a"b c"`` is ``ab c``) and its closing quote ends the word (``"a"b`` is ``a`` and
    ``b``). A quote left open is no error there: its word is the rest of the line, blanks and newline included
    (both restores v1.8.9: ``--comment "a b`` is the comment ``a b`` and a newline, which iptables-save prints
    back over two lines; ``-j "X`` names the target X and a newline, "Invalid target name")."""
    tokens: list[Token] = []
    buf: list[str] = []
    in_quotes = quoted = escaped = False
    for ch in text:
        if in_quotes:
            if escaped:
                buf.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
                tokens.append(Token("".join(buf), True))
                buf, quoted = [], False
            else:
                buf.append(ch)
            continue
        if ch == '"':
            in_quotes = quoted = True
        elif ch in _BLANKS:
            if buf or quoted:
                tokens.append(Token("".join(buf), quoted))
                buf, quoted = [], False
        else:
            buf.append(ch)
    # A quote left open takes the end of the line in (an escape just before it takes the end's first character as
    # it is: the same text); the line's last word is one only when not empty (add_param_to_argv's param.len).
    word = "".join(buf) + end if in_quotes else "".join(buf)
    if word:
        tokens.append(Token(word, quoted))
    return tokens


def quote(value: str) -> str:
    """A value as the canonical text writes it: bare when the tokenizer reads it back unchanged and it holds no
    carriage return (one read back bare, but quoted no line of ours ends in one, which a CRLF file's reading would
    drop: codec.crlf_as_lf)."""
    if value and not any(c in value for c in ' \t\r\n"') and value != "!" and not (
        value[0] == "-" and len(value) > 1 and not value[1].isdigit()
    ):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_option(option: Option) -> str:
    head = f"! {option.flag}" if option.negated else option.flag
    if not option.args:
        return head
    return head + " " + " ".join(quote(a) for a in option.args)


def render_spec(spec: RuleSpec) -> str:
    """Canonical text of a rule's specification (what follows ``-A CHAIN``)."""
    parts = [render_option(o) for o in spec.options]
    if spec.target is not None:
        parts.append(("-g " if spec.target.goto else "-j ") + quote(spec.target.name))
        parts.extend(render_option(o) for o in spec.target.options)
    return " ".join(parts)


def parse_spec(spec: str, *, line: int | None = None, file: str | None = None) -> RuleSpec:
    """Typed view of a rule's specification text."""
    fast = _from_skeleton(spec)
    if fast is not None:
        return fast
    split = _split_words(spec)
    if split is None:
        return interpret(tokenize(spec), line=line, file=file)
    return _Interpreter(split[0], split[1], line, file, split[2]).run()


ONE_STRING_FLAGS = frozenset({"--comment", "--log-prefix", "--nflog-prefix", "--nfacct-name", "--name"})
"""Options that take one free-form string: their value may look like an option (``--comment -x``)."""
ANY_WORD_FLAGS = frozenset({"--path", "-i", "-o", "--physdev-in", "--physdev-out"})
"""Options that take one word, whatever it looks like, as getopt hands it over, but not several bare words as
:data:`ONE_STRING_FLAGS` do: cgroup's ``--path`` (both restores v1.8.9, unshare --net: ``--path -x`` and ``--path !``
are read and left to the kernel, which looks the cgroup up; ``--path a b`` is "Bad argument `b'") and the interfaces
(both v1.8.9, ip netns: ``-i -x``, ``-i --``, ``-i --ipv6``, ``--in-interface -x``, ``--physdev-in --physdev-out``
and ``-i -j`` at the end of a rule name the interface so and are saved so; ``-i -j ACCEPT`` is "Bad argument
`ACCEPT'", a word too long for IFNAMSIZ is refused as any name is, and ``-i`` last "requires an argument")."""
BANG_VALUE_FLAGS = frozenset({"-i", "-o", "--physdev-in", "--physdev-out", "--path"})
"""Options whose value may be a bare ``!`` (an interface's or a cgroup's name): both restores v1.8.9 take ``-i ! -j
ACCEPT`` and save ``-i !``; a word after the ``!`` is refused all the same (:meth:`_Interpreter.bang_value`)."""


def _classify(words: list[str]) -> list[int]:
    return [
        _BANG if w == "!" else _FLAG if (w[0] == "-" and len(w) > 1 and not w[1].isdigit()) else _VALUE
        for w in words
    ]


def _split_words(spec: str) -> tuple[list[str], list[int], frozenset[int]] | None:
    """Words, their kinds and the positions of those quoted, without Token objects, for the common shapes of rule
    text.

    Handles text without quotes, and quoted values without backslashes that
    stand alone between blanks; None sends anything else to :func:`tokenize`.
    """
    if '"' not in spec:
        words = _WORD.findall(spec)
        return words, _classify(words), _UNQUOTED
    if "\\" in spec:
        return None
    parts = spec.split('"')
    last = len(parts) - 1
    if last % 2:
        return None
    texts: list[str] = []
    kinds: list[int] = []
    quoted: list[int] = []
    for i, part in enumerate(parts):
        if i % 2:
            before, after = parts[i - 1], parts[i + 1]
            if (i > 1 or before) and before[-1:] not in _BLANK_SET:
                return None
            if (i + 1 < last or after) and after[:1] not in _BLANK_SET:
                return None
            quoted.append(len(texts))
            texts.append(part)
            kinds.append(_VALUE)
        elif part:
            words = _WORD.findall(part)
            texts.extend(words)
            kinds.extend(_classify(words))
    return texts, kinds, frozenset(quoted)


_UNQUOTED: frozenset[int] = frozenset()


_VALUE, _FLAG, _BANG = 0, 1, 2


# --------------------------------------------------------------------------- the skeleton fast path
#
# How a rule is interpreted (which module owns each option, how many values each
# takes, whether it is valid at all) depends on its flags, its bangs and the values
# of -m and -p only; every other value (the target's name too) is just carried
# into place. A
# dump of 10,000 services has a few dozen such *skeletons* and hundreds of
# thousands of rules, so each skeleton is interpreted once and the result kept as
# a small program that drops a rule's values into place.
#
# The skeleton is the canonical text with every free value replaced by NUL, done
# by one C-level regex substitution. A value token is a quoted string or a bare
# word the tokenizer reads as a value (not "!", not -flag), standing between
# blanks, and not right after "-m " or "-p " (those are kept: they steer the
# interpretation). Text the substitution cannot represent exactly (tabs,
# backslashes, quotes touching other text, NUL, the long spellings --match,
# --protocol, --jump and --goto whose values would be hidden) takes the general path.

_VALUE_TOKEN = re.compile(r'(?<![^ ])(?<!-[mp] )("[^"\\]*"|(?:[^-! "]|-[0-9]|!(?=[^ ]))[^ "]*|-)(?![^ ])')
"""A value token, captured, so that ``split`` yields the skeleton's pieces and the values in one pass."""
HOLE = "\x00"
"""What stands for each free value in a skeleton (:func:`split_skeleton`); in :func:`skeleton_spec`'s options,
followed by the value's index."""
_STEERINGLONG_FLAGS = frozenset({"--match", "--protocol", "--jump", "--goto"})
_SKELETON_LIMIT = 4096

Source = int | str  # a value's index, or literal text
Recipe = Option | tuple[str, tuple[Source, ...], bool, Source]
"""A finished Option, or (flag, argument sources, negated, module source)."""


@dataclass(frozen=True, slots=True)
class _Program:
    """How to build the RuleSpec of any rule with one skeleton from its values.

    ``options``: per option either a finished Option (no value of its own, shared by
    every rule of the skeleton) or (flag, argument sources, negated, module source);
    same for the target's options. A source is a value's index or literal text.
    ``target_name``: the name's source, None when the rule has no target.
    """

    options: tuple[Recipe, ...]
    target_name: Source | None
    goto: bool
    target_options: tuple[Recipe, ...]


ValueTests = tuple[tuple[int, Callable[[str], object]], ...]
"""(hole, test) per value of a skeleton the skeleton does not vouch for (:func:`_value_tests`)."""
_programs: dict[str, tuple[Callable[[list[str]], RuleSpec], ValueTests] | None] = {}
"""Memo of ``_builder(_program(skeleton))`` and the tests of its values (:func:`_value_tests`), a pure
function of the skeleton: None marks a skeleton the fast path declines. Bounded; a dump has a few dozen."""


def split_skeleton(spec: str) -> tuple[str, list[str]] | None:
    """The text's skeleton (every free value replaced by :data:`HOLE`, see above) and its values in order; None
    for text the skeleton cannot represent exactly: whose words the substitution would not split as the tokenizer
    does."""
    if not spec or "\\" in spec or "\t" in spec or "\r" in spec or "\n" in spec or "  " in spec or HOLE in spec \
            or spec[0] == " " or spec[-1] == " ":
        return None
    pieces = _VALUE_TOKEN.split(spec)
    return HOLE.join(pieces[0::2]), pieces[1::2]


def _from_skeleton(spec: str) -> RuleSpec | None:
    """The typed view through the skeleton's program; None when the general path must decide."""
    split = split_skeleton(spec)
    if split is None:
        return None
    skeleton, values = split
    if skeleton in _programs:
        found = _programs[skeleton]
    else:
        program = _program(skeleton)
        interpreted = skeleton_spec(skeleton) if program is not None else None  # (again: once per skeleton)
        found = None
        if program is not None and interpreted is not None:
            found = (_builder(program), _value_tests(interpreted))
        if len(_programs) >= _SKELETON_LIMIT:
            _programs.clear()
        _programs[skeleton] = found
    if found is None:
        return None
    build, tests = found
    for index, test in tests:
        if test(values[index]) is None:  # a value out of the usual: the interpreter judges it
            return None
    return build(values)


def skeleton_spec(skeleton: str) -> RuleSpec | None:
    """A skeleton interpreted once, each hole as a placeholder (:data:`HOLE` and the value's index, ``"\\x001"``)
    wherever the interpretation puts the value; None when the general path must read its rules (a quote in the
    skeleton, a long steering flag, an interpretation error)."""
    if '"' in skeleton:
        return None
    words = skeleton.split(" ")
    if _STEERINGLONG_FLAGS.intersection(words):
        return None
    texts: list[str] = []
    holes = 0
    for word in words:
        if word == HOLE:
            texts.append(f"{HOLE}{holes}")
            holes += 1
        else:
            texts.append(word)
    try:
        return _Interpreter(texts, _classify(texts), None, None).run()
    except RulesSyntaxError:
        return None  # the general path raises the error with the real tokens


def value_holes(spec: RuleSpec) -> dict[int, str]:
    """The holes of an interpreted skeleton (:func:`skeleton_spec`) that hold a checked value, each with its kind
    (:func:`value_kind`): the skeleton vouches for the rest of a rule, not for these values."""
    holes: dict[int, str] = {}
    target = spec.target
    owned = [(o, o.module) for o in spec.options]
    if target is not None:
        owned += [(o, target.name) for o in target.options]
    bare = not ports_allowed(spec.options)  # a NAT target's port would be refused: see check_nat_ports
    for option, owner in owned:
        kind = value_kind(option.flag, owner)
        if kind is not None and option.args and option.args[0].startswith(HOLE):
            if bare and kind in ("nat", "to-ports"):
                kind = "nat-bare" if kind == "nat" else "no-ports"
            holes[int(option.args[0][1:])] = kind
        if len(option.args) > 1 and option.flag in ONE_STRING_FLAGS:  # (each word: see check_values)
            holes.update((int(arg[1:]), "bare-word") for arg in option.args if arg.startswith(HOLE))
    return holes


def extension_hole(spec: RuleSpec) -> int | None:
    """The hole of an interpreted skeleton's target name when options follow it: the skeleton vouches for such a
    rule only when its name is a target extension's that takes them (:func:`extension_names`; a chain takes no
    options)."""
    target = spec.target
    if target is None or not target.options or not target.name.startswith(HOLE):
        return None
    return int(target.name[1:])


TCP_PROTOCOL = 6
_PROTOCOL_NAMES = {TCP_PROTOCOL: "tcp", 17: "udp"}
PROTOCOL_TARGETS: dict[str, tuple[int, ...]] = {
    "TCPMSS": (TCP_PROTOCOL,), "TCPOPTSTRIP": (TCP_PROTOCOL,), "SYNPROXY": (TCP_PROTOCOL,),
    "TPROXY": (TCP_PROTOCOL, 17), "ECN": (TCP_PROTOCOL,),
}
"""Target -> the protocols a rule's -p must ask for (not negated): the kernel refuses it in any other rule (both
restores v1.8.9, unshare --net: legacy at COMMIT, nft at the rule). TCPMSS and TCPOPTSTRIP: their xt_target's
``.proto``; SYNPROXY: synproxy_tg4_check and _tg6_check; TPROXY: tproxy_tg4_check and _tg6_check (tcp or udp);
ECN: ecn_tg_check, only for an option that sets a TCP bit (:data:`_ECN_TCP`; ``--ecn-ip-ect`` alone is taken)."""
_ECN_TCP = frozenset({"--ecn-tcp-remove", "--ecn-tcp-cwr", "--ecn-tcp-ece"})
_WHOLE_RULE = frozenset(PROTOCOL_TARGETS)
"""Targets whose rule the general path judges (:meth:`_Interpreter.check_tcpmss` reads its other options): a
skeleton with the name as a hole vouches for none of them."""


def extension_names(spec: RuleSpec) -> str:
    """A regular expression of the target extensions whose name in an interpreted skeleton's optioned target hole
    (:func:`extension_hole`) gives a rule iptables takes: those that take its options (:func:`takes_flags`; the
    skeleton gave the target only options no match knows)."""
    assert spec.target is not None
    flags = [option.flag for option in spec.target.options]
    names = [name for name in sorted(TARGET_EXTENSIONS) if takes_flags(name, flags) and name not in _WHOLE_RULE]
    return "(?:" + "|".join(names) + ")" if names else "(?!)"


def _value_tests(spec: RuleSpec) -> ValueTests:
    """(hole, test) per value of a skeleton it does not vouch for: a value the test passes is valid (a port's,
    :data:`VALUE_PATTERNS`; an optioned target's name, :func:`extension_hole`)."""
    tests = [(index, re.compile(VALUE_PATTERNS[kind]).fullmatch) for index, kind in value_holes(spec).items()]
    extension = extension_hole(spec)
    if extension is not None:
        tests.append((extension, re.compile(extension_names(spec)).fullmatch))
    elif spec.target is not None and spec.target.name.startswith(HOLE):  # (a bare name: target_name_problem)
        tests.append((int(spec.target.name[1:]), _TARGET_WORD.fullmatch))
    return tuple(tests)


def _program(skeleton: str) -> _Program | None:
    """Interpret a skeleton once, with its holes as placeholders, and record where each value goes."""
    spec = skeleton_spec(skeleton)
    if spec is None:
        return None
    target = spec.target
    if target is None:
        return _Program(tuple(map(_option_source, spec.options)), None, False, ())
    return _Program(tuple(map(_option_source, spec.options)), _source(target.name), target.goto,
                    tuple(map(_option_source, target.options)))


def _source(text: str) -> Source:
    """A placeholder -> the index of the value it stands for; anything else is literal text."""
    return int(text[1:]) if text.startswith(HOLE) else text


def _option_source(option: Option) -> Recipe:
    """An option with placeholders (in its arguments, or as a target's name in ``module``) -> its
    recipe; one without -> itself, shared by every rule of the skeleton."""
    if not option.module.startswith(HOLE) and not any(arg.startswith(HOLE) for arg in option.args):
        return option
    return (option.flag, tuple(map(_source, option.args)), option.negated, _source(option.module))


def _fill(recipes: tuple[Recipe, ...], values: list[str]) -> tuple[Option, ...]:
    """Options from recipes; a value keeps its text, a quoted one loses its quotes.

    The usual recipe is one value for one option of a known module (``-s ADDR``,
    ``--comment TEXT``): that case is spelled out first, it is nearly every option built.
    """
    out: list[Option] = []
    make = Option.make
    for recipe in recipes:
        if isinstance(recipe, Option):
            out.append(recipe)
            continue
        flag, sources, negated, module = recipe
        if isinstance(module, int):  # a target's option: its module is the target's name
            module = values[module]
            module = module[1:-1] if module[0] == '"' else module
        if len(sources) == 1 and isinstance(sources[0], int):
            value = values[sources[0]]
            out.append(make(flag, (value[1:-1] if value[0] == '"' else value,), negated, module))
            continue
        args: list[str] = []
        for source in sources:
            if isinstance(source, int):
                value = values[source]
                args.append(value[1:-1] if value[0] == '"' else value)
            else:
                args.append(source)
        out.append(make(flag, tuple(args), negated, module))
    return tuple(out)


def _builder(program: _Program) -> Callable[[list[str]], RuleSpec]:
    """The program as one generated function, ``build(values) -> RuleSpec``.

    :func:`_run_program` interprets a program; this writes the same steps out as
    straight-line Python once per skeleton (as ``dataclasses`` and ``namedtuple``
    generate their methods), so building a rule's typed view costs a handful of
    calls instead of a loop over recipes: with hundreds of thousands of rules per
    dump that halves the cost. Only literals taken from the skeleton (through
    ``repr``) and the shared Options (as globals) go into the code.
    """
    shared: dict[str, object] = {"_option": Option.make, "_spec": RuleSpec.make, "_Target": Target.make}
    holes: set[int] = set()

    def source(item: Source) -> str:
        if isinstance(item, int):
            holes.add(item)
            return f"a{item}"
        return repr(item)

    def option(recipe: Recipe) -> str:
        if isinstance(recipe, Option):
            name = f"o{len(shared)}"
            shared[name] = recipe
            return name
        flag, sources, negated, module = recipe
        args = "".join(source(s) + ", " for s in sources)
        return f"_option({flag!r}, ({args}), {negated!r}, {source(module)})"

    options = "".join(option(r) + ", " for r in program.options)
    target = "None"
    if program.target_name is not None:
        target_options = "".join(option(r) + ", " for r in program.target_options)
        target = f"_Target({source(program.target_name)}, ({target_options}), {program.goto!r})"
    lines = ["def build(v):"]
    for hole in sorted(holes):  # a quoted value loses its quotes
        lines += [f"    a{hole} = v[{hole}]", f"    if a{hole}[0] == '\"':", f"        a{hole} = a{hole}[1:-1]"]
    lines.append(f"    return _spec(({options}), {target})")
    exec("\n".join(lines), shared)  # the code is written above from the program's literals
    return shared["build"]  # type: ignore[return-value]


def _run_program(program: _Program, values: list[str]) -> RuleSpec:
    """The reference interpretation of a program (what :func:`_builder`'s code does)."""
    name = program.target_name
    target = None
    if name is not None:
        if isinstance(name, int):
            name = values[name]
            name = name[1:-1] if name[0] == '"' else name
        target = Target.make(name, _fill(program.target_options, values), program.goto)
    return RuleSpec.make(_fill(program.options, values), target)


# --------------------------------------------------------------------------- rule shapes
#
# A *shape* is a skeleton turned into an anchored regular expression: its literal
# pieces (flags, bangs, -m and -p values) stay as they are and each hole becomes
# "one value token written canonically". A rule whose text matches a valid
# skeleton's shape has that skeleton, so it is canonical and valid. One C-level
# fullmatch per rule is what lets a validating parse check a large dump without
# interpreting each rule (its typed view is built on first use instead).

_SHAPE_CHAR = r'[^ "\\\t\r\n\x00]'
_SHAPE_VALUE = (
    r'(?>[^-! "\\\t\r\n\x00]' + _SHAPE_CHAR + r'*+'  # a bare word that starts like a value
    + r'|"(?=[^"]* |!"|-[^0-9"]|")[^"\\\t\r\n\x00]*+"'  # a quoted value that needs its quotes
    + r'|-[0-9]' + _SHAPE_CHAR + r'*+|!' + _SHAPE_CHAR + r'++|-)'  # -5, !x and a lone -
)
"""One value token as the canonical text writes it: what :data:`_VALUE_TOKEN` takes, minus
the spellings the canonical renderer would change (a quoted value that needs no quotes)."""


_SHAPE_MAX_HOLES = 16
"""Values in a shape at most: compiling one costs about 0.2 ms per value (kube-proxy's rules have 1 to 8)."""


def skeleton(spec: str) -> str | None:
    """The text with every free value replaced by NUL (see above); None for text it cannot represent."""
    split = split_skeleton(spec)
    return None if split is None else split[0]


def shape_matcher(spec: str) -> Callable[[str], re.Match[str] | None] | None:
    """A test (``fullmatch``) that holds only for text with the skeleton of ``spec``.

    ``spec`` must be canonical text (``codec.is_canonical_text``); every text the test
    accepts then is canonical too and interprets without error, exactly as ``spec`` does.
    A match's group 1 is the rule's -j target as written, None when it is ``spec``'s own
    ("" without a target): the parser checks jumps by these names, taken as it matches, not
    by a second search of the text, and the many rules of a shape that jump where ``spec``
    does (-j KUBE-MARK-MASQ, -j DNAT) cost no string each.
    None when the skeleton cannot vouch for that (the general path must judge each rule),
    has too many values to be worth compiling, or is a goto's (its name is checked apart,
    as a goto's; kube-proxy writes none).
    """
    split = split_skeleton(spec)
    if split is None:
        return None
    literals = split[0].split(HOLE)  # the text has no HOLE of its own (split_skeleton)
    if len(literals) > _SHAPE_MAX_HOLES + 1:
        return None
    interpreted = skeleton_spec(split[0])
    target = interpreted.target if interpreted is not None else None
    if interpreted is None or (target is not None and (target.goto or not target.name.startswith(HOLE))):
        return None
    ports = value_holes(interpreted)  # a checked value's hole takes only the usual values, all valid
    extension = extension_hole(interpreted)  # an optioned target's, only an extension's name that takes them
    named = int(target.name[1:]) if target is not None else None
    if named is not None and extension is None and split[1][named] in REQUIRED_TARGET_OPTIONS:
        return None  # (-j MARK alone: the parser judges it by the chains declared before it)
    pieces = [re.escape(literals[0])]
    for index, literal in enumerate(literals[1:]):
        value = extension_names(interpreted) if index == extension else _SHAPE_VALUE
        if index == named:  # (the same language: spec's own target is one of the values)
            if extension is None:  # a bare target (the last word): not an extension that needs an option, nor
                value = _BARE_REFUSED + rf"(?={_TARGET_WORD.pattern}\Z)" + value  # a name iptables refuses
            value = f"(?:{re.escape(split[1][index])}|({value}))"
        pieces += [f"(?:{VALUE_PATTERNS[ports[index]]})" if index in ports else value, re.escape(literal)]
    if named is None:
        pieces.append("()")
    match = re.compile("".join(pieces)).fullmatch
    return match if match(spec) is not None else None


def _kind(token: Token) -> int:
    if token.quoted:
        return _VALUE
    text = token.text
    if text == "!":
        return _BANG
    return _FLAG if len(text) > 1 and text[0] == "-" and not text[1].isdigit() else _VALUE


class _Interpreter:
    """Walks the tokens of one rule once, attributing each option to its owner.

    Token kinds (value, flag, bang) are computed once up front: this loop runs
    for every rule of a dump, so it avoids per-token method calls.
    """

    def __init__(self, texts: list[str], kinds: list[int], line: int | None, file: str | None,
                 quoted: frozenset[int] = frozenset()) -> None:
        self.texts = texts
        self.quoted = quoted  # the positions of the tokens written in quotes (see check_words)
        self.kinds = kinds
        self.count = len(texts)
        self.pos = 0
        self.line = line
        self.file = file
        self.options: list[Option] = []
        self.modules: list[str] = []
        self.protocol_module = ""
        self.protocol_loaded = False  # iptables loaded the protocol's match for an option (see long_option)
        self.target: Target | None = None
        self.target_options: list[Option] = []
        self.modules_before_target = 0
        self.given: set[tuple[int, str]] = set()  # (match instance, option) seen: see once()
        self.recent: dict[int, dict[str, tuple[str, ...]]] = {}  # per recent match instance, its options' values
        self.family: bool | None = None  # the dump's family, which a -4 or -6 is read against (family_word)

    def error(self, message: str, token: str | None, expected: str) -> RulesSyntaxError:
        return RulesSyntaxError(message, file=self.file, line=self.line, token=token, expected=expected)

    def current_text(self) -> str:
        return self.texts[self.pos] if self.pos < self.count else "end of rule"

    def take_value(self, flag: str, what: str) -> str:
        pos = self.pos
        if pos >= self.count or self.kinds[pos] != _VALUE:
            raise self.error(f"{flag} needs {what}", self.current_text(), what)
        self.pos = pos + 1
        return self.texts[pos]

    def run(self) -> RuleSpec:
        kinds, texts, count = self.kinds, self.texts, self.count
        while self.pos < count:
            pos = self.pos
            negated = kinds[pos] == _BANG
            if negated:
                pos += 1
                if pos >= count or (kinds[pos] != _FLAG and (texts[pos] not in FAMILY_WORDS or pos in self.quoted)):
                    self.pos = pos
                    raise self.error("'!' must precede an option", self.current_text(),
                                     "an option such as -s or --dport")
            if kinds[pos] != _FLAG:
                if texts[pos] in FAMILY_WORDS and pos not in self.quoted:  # (-4 and -6 look like numbers)
                    self.pos = pos + 1
                    self.family_word(texts[pos])
                    continue
                raise self.error("unexpected value", texts[pos], "an option such as -s, -m or -j")
            self.pos = pos + 1
            self.option(texts[pos], negated)
        flags = []
        if self.target is not None:
            self.target = Target(self.target.name, tuple(self.target_options), self.target.goto)
            self.check_nat_ports()
            flags = [o.flag for o in self.target_options]
            conflict = option_conflict(self.target.name, flags)
            if conflict is not None:
                raise self.error(*conflict)
        if _OPTIONED_MATCHES.intersection(self.texts):
            unoptioned = unoptioned_match(self.options)
            if unoptioned is not None:
                raise self.error(*unoptioned)
        if "ttl" in self.modules or "hl" in self.modules:
            excluded = match_exclusion(self.options)
            if excluded is not None:
                raise self.error(*excluded)
        if "cgroup" in self.modules:
            self.check_cgroups()
        if "statistic" in self.modules:
            problem = statistic_problem(self.options)
            if problem is not None:
                raise self.error(*problem)
        if "--limit-iface-out" in self.texts:
            both = addrtype_limits_together(self.options)
            if both is not None:
                raise self.error(*both)
        if self.target is not None:
            missing = missing_option(self.target.name, flags) \
                if self.target_options else None  # (bare, the name may be a chain's: the parser's to judge)
            if missing is not None:
                raise self.error(missing[0], self.target.name, missing[1])
        self.check_protocol_matches()
        for given in self.recent.values():
            self.check_recent(given)
        self.check_addresses()
        self.check_tcpmss()
        return RuleSpec(tuple(self.options), self.target)

    def check_tcpmss(self) -> None:
        """Refuse a target of :data:`PROTOCOL_TARGETS` in a rule whose -p asks for none of its protocols, and
        TCPMSS in one without a match of SYN packets: tcpmss_tg4_check wants a ``tcp`` match comparing SYN set, not
        negated (``--tcp-flags SYN,RST SYN``, ``--syn``); legacy refuses it at COMMIT, nft accepts it (nft_compat
        skips that check), and this follows legacy."""
        if self.target is None or not self.target_options:  # (bare, the name may be a chain's: the parser's)
            return
        unasked = unasked_target_protocol(self.target, self.options) \
            if self.target.name not in IPV4_ONLY_TARGETS else None  # (ECN: ip6tables knows none of its options,
        # which it refuses first; the parser judges it once the family is known: codec._misplaced)
        if unasked is not None:
            raise self.error(*unasked)
        if self.target.name != "TCPMSS":
            return
        if not any(_compares_syn(o) for o in self.options):
            raise self.error("target TCPMSS needs a match of TCP SYN packets (iptables-legacy-restore fails at "
                             "COMMIT; iptables-nft-restore takes it)", "TCPMSS",
                             "-m tcp --tcp-flags SYN,RST SYN (or --syn) in the rule")

    def check_addresses(self) -> None:
        """Refuse a -s or -d value iptables refuses (:mod:`~kubeproxy_sim.netfilter.hostmask`), and a negated one
        in a rule with several addresses, as iptables 1.8.9 does after reading every option and each extension's
        final check (its post_parse: the source, then the destination, then "! not allowed with multiple source
        or destination IP addresses"). A placeholder's value is checked rule by rule (:func:`value_holes`)."""
        several = negated = None
        for flag in ("-s", "-d"):
            for option in self.options:
                if option.flag != flag or option.module or option.args[0].startswith(HOLE):
                    continue
                hosts = read_hosts(option.args[0])
                if isinstance(hosts, HostRefusal):
                    raise self.error(hosts.message, option.args[0], hosts.expected)
                several = several or (option if len(hosts) > 1 else None)
                negated = negated or (option if option.negated else None)
        if several is not None and negated is not None:
            raise self.error("! not allowed with multiple source or destination IP addresses", several.args[0],
                             f"one address after ! {negated.flag}, or no ! (a list makes one rule per address)")

    def check_recent(self, given: dict[str, tuple[str, ...]]) -> None:
        """Refuse the options of one recent match that iptables takes only apart (libxt_recent: one command,
        ``--rttl`` not with ``--set`` or ``--remove``, ``--reap`` only with ``--seconds``) or that the kernel
        refuses (xt_recent's checkentry: ``--seconds``, ``--hitcount`` and ``--reap`` only with a check; legacy
        then fails at COMMIT). A placeholder's ``--hitcount`` with ``--set`` is the general path's to judge."""
        commands = [flag for flag in RECENT_COMMANDS if flag in given]
        if len(commands) != 1:
            token = commands[1] if commands else "recent"
            raise self.error("a recent match takes one command" + (
                f", not {' and '.join(commands)}" if commands else ""), token,
                "one of --set, --rcheck, --update or --remove per -m recent")
        command = commands[0]
        if "--reap" in given and "--seconds" not in given:
            raise self.error("--reap needs --seconds", "--reap", "--seconds N with --reap")
        if command in ("--rcheck", "--update"):
            return
        hitcount = given.get("--hitcount", ("0",))[0]
        for flag in ("--rttl", "--seconds", "--reap", "--hitcount"):
            if flag in given and (flag != "--hitcount" or hitcount != "0"):
                raise self.error(f"{flag} cannot go with {command}", flag,
                                 f"{flag} only with --rcheck or --update")

    def check_protocol_matches(self) -> None:
        """Refuse a protocol's match (``-m udp``) in a rule not of that protocol, as the kernel refuses it (its
        xt_match names the protocol; iptables-legacy-restore then fails at COMMIT), and multiport without ports, as
        libxt_multiport's final check refuses it whatever the protocol (its protocol is checked with its ports:
        :meth:`check_multiport_protocol`). (icmp's and icmp6's protocol: once the family is known,
        :data:`FAMILY_MATCHES`.)"""
        modules = self.modules
        if not modules:
            return
        protocol = _protocol_asked(self.options)
        asked = protocol_module(protocol)
        for module in modules:
            unasked = None if MATCH_ALIASES.get(module, module) in FAMILY_MATCHES else unasked_protocol(asked, module)
            if unasked is not None:
                raise self.error(*unasked)
            if module == "multiport" and not any(o.module == "multiport" and o.flag != "-m" for o in self.options):
                raise self.error("-m multiport without ports (iptables: \"multiport expection an option\")",
                                 "multiport", "--sports, --dports or --ports after -m multiport")

    def check_multiport_protocol(self, flag: str) -> None:
        """Refuse multiport's ports unless the rule's -p so far asks for a protocol with ports, as libxt_multiport's
        check_proto reads the protocol given so far when it reads them (iptables-legacy-restore and
        iptables-nft-restore v1.8.9: ``-m multiport --dports 80 -p tcp`` and ``-p all`` are "multiport needs `-p
        tcp', ...", a negated -p and one of another protocol, ``-p icmp``, "multiport only works with TCP, UDP,
        UDPLITE, SCTP and DCCP"; ``-m multiport -p tcp --dports 80`` is taken)."""
        given = next((o for o in self.options if o.flag == "-p" and not o.module), None)
        number = protocol_number(given.args[0]) if given is not None else 0
        if (given is not None and given.negated) or number not in (0, *_MULTIPORT_PROTOCOLS):
            raise self.error("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP", flag,
                             f"-p tcp, udp, udplite, sctp or dccp (not negated) before {flag}")
        if number == 0:
            raise self.error("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp' before its "
                             "ports", flag, f"-p tcp, udp, udplite, sctp or dccp (not negated) before {flag}")

    def check_nat_ports(self) -> None:
        """Refuse a NAT target's port in a rule whose -p has none, as iptables does (a placeholder's value is
        checked rule by rule: :func:`value_holes`)."""
        assert self.target is not None
        for option in self.target_options:
            kind = port_kind(option.flag, self.target.name)
            value = option.args[0] if option.args else ""
            if kind in ("nat", "to-ports") and not value.startswith(HOLE) and names_port(kind, value) \
                    and not ports_allowed(self.options):
                raise self.error(f"{option.flag} {value} names a port, which iptables takes only in a rule of a "
                                 "protocol with ports", value, "-p tcp, udp, sctp or dccp in the rule")

    def family_word(self, word: str) -> None:
        """A -4 or -6 (--ipv4, --ipv6) in the rule: iptables-restore 1.8.9 reads its own family's as nothing (a
        ``!`` before it is dropped) and, at the other family's, stops reading the line and skips it, whatever
        follows (xshared.c do_parse, restore mode; both restores, unshare --net: ``-A INPUT -6 --bogus`` is taken
        and adds nothing). Raises :class:`OtherFamilyRule` for the other family's; refused when the dump's family
        is not known here (a skeleton's reading, or a family the parser guesses later)."""
        asked = FAMILY_WORDS[word]
        if self.family is None:
            raise self.error(f"{word} in a rule of a dump whose family is not given", word,
                             "the dump read as IPv4 or IPv6 (iptables-restore skips a rule with -6, "
                             "ip6tables-restore one with -4)")
        if asked != self.family:
            raise OtherFamilyRule(word)

    def option(self, flag: str, negated: bool) -> None:
        if flag[:2] == "--" and (flag not in LONG_FLAGS or flag in _PREFIXES):
            flag = self.long_option(flag)
        if flag in FAMILY_WORDS:
            self.family_word(flag)
            return
        if negated and (flag in MATCH_FLAGS or flag in TARGET_FLAGS):
            raise self.error(f"'!' cannot negate {flag}", flag, "'!' before one of the match's options")
        if flag in MATCH_FLAGS:
            module = self.take_value(flag, "a match module name")
            if module == "udplite":  # (a module not modelled may exist: only this one is known not to)
                raise self.error("iptables has no udplite match", module,
                                 "-p udplite alone, or -m multiport for its ports")
            if module == "recent":  # (its options are checked together: check_recent)
                self.recent[len(self.modules)] = {}
            self.modules.append(module)
            self.options.append(Option("-m", (module,), False, module))
        elif flag in TARGET_FLAGS:
            if self.target is not None:
                raise self.error("a rule has one target", flag, "no second -j/-g")
            name = self.take_value(flag, "a target name")
            invalid = target_name_problem(name) if not name.startswith(HOLE) else None
            if invalid is not None:
                raise self.error(invalid[0], name or '""', invalid[1])
            self.target = Target(name, (), TARGET_FLAGS[flag])
            self.modules_before_target = len(self.modules)
        elif flag in BUILTIN_FLAGS:
            self.builtin(BUILTIN_FLAGS[flag], negated)
        elif self.target is not None and takes_options(self.target.name) and self.target_owns(flag):
            refused = negation_refused(self.target.name, flag) if negated else None
            if refused is not None:
                raise self.error(*refused)
            args = self.args(flag)
            self.check_words(flag, args)
            if value_kind(flag, self.target.name) is not None:
                args = self.check_values(flag, self.target.name, args, 1)
            self.target_options.append(Option(flag, args, negated, self.target.name))
        else:
            instance = self._instance(flag)
            owner = None if instance is None else (self.modules[instance] if instance >= 0 else self.protocol_module)
            self.protocol_loaded = self.protocol_loaded or instance == -1
            if owner is None and self.target is not None and not takes_options(self.target.name):
                jump = "-g" if self.target.goto else "-j"
                raise self.error(f"unknown option: {jump} {self.target.name} takes none (a chain or a verdict)", flag,
                                 "an option of a loaded match (-m MODULE); only target extensions such as DNAT "
                                 "have options")
            if owner is None:
                raise self.error("unknown option", flag, "an option of a loaded match (-m MODULE) or target")
            refused = negation_refused(owner, flag) if negated else None
            if refused is not None:
                raise self.error(*refused)
            bare = (owner, FLAG_ALIASES.get(flag, flag)) in MATCH_ZERO_ARG_FLAGS
            args = self.args(flag, bare)
            if owner in MODULE_FLAGS:  # a modelled match: its options' values are known (others are kept as written)
                name = FLAG_ALIASES.get(flag, flag)
                self.once(flag, name, owner, instance)
                if owner == "multiport" and name in ("--sports", "--dports", "--ports"):
                    self.check_multiport_protocol(flag)
                args = self.check_values(flag, owner, args,
                                         0 if bare or flag in ZERO_ARG_FLAGS else VALUE_COUNTS.get(name, 1))
                if owner == "recent":
                    self.recent.setdefault(-1 if instance is None else instance, {})[name] = args
            self.options.append(Option(FLAG_ALIASES.get(flag, flag), args, negated, owner))

    def long_option(self, flag: str) -> str:
        """The option a long one as written names (:func:`long_option`) over the table of iptables' getopt_long at
        this word: its own options, the matches loaded so far, the target's, and the protocol's match once
        loaded (by an option no other knew: ``-p tcp --sp 1 --so`` is ambiguous, ``--source`` or
        ``--source-port``); that match is loaded for an option nothing else knows, and the word read again.
        ``flag`` itself when an extension loaded is not modelled (its options are not known)."""
        extensions: list[tuple[str, Collection[str]]] = []
        target = self.target
        if any(name.startswith(HOLE) for name in self.modules) or (target is not None and
                                                                    target.name.startswith(HOLE)):
            raise self.error("an option whose name depends on the extensions", flag, "named extensions")  # (a
            # skeleton's placeholder: each rule is read on the general path)
        for module in self.modules:
            known = MODULE_FLAGS.get(module)
            if known is None:
                return flag
            extensions.append((module, known))
        if target is not None and takes_options(target.name):
            known = TARGET_OPTION_FLAGS.get(target.name)
            if known is None:
                return flag
            extensions.append((target.name, known))
        proto = self.protocol_module
        if proto and self.protocol_loaded:
            extensions.append((proto, MODULE_FLAGS[proto]))
        found = long_option(flag, extensions)
        if found is None and proto and not self.protocol_loaded:
            found = long_option(flag, [*extensions, (proto, MODULE_FLAGS[proto])])
        if found == "":
            raise self.error(f'unknown option "{flag}"', flag, "an option's whole name, or more of it: it is the "
                             "start of several options of iptables or of the extensions loaded")
        return flag if found is None else found

    def target_owns(self, flag: str) -> bool:
        """Whether an option after an extension target is the target's: iptables takes options in any order and
        gives each to the extension loaded last that knows it (:data:`TARGET_OPTION_FLAGS`), so a match loaded
        after the target comes first, then the target, then the matches before it and the protocol's own
        (``-p tcp -j DNAT --to-destination 1.2.3.4 --dport 80`` is the tcp match's ``--dport``)."""
        assert self.target is not None
        if self._owner(flag, self.modules_before_target, False) is not None:
            return False
        name = self.target.name
        known = TARGET_OPTION_FLAGS.get(name)
        if known is not None and flag in known:
            return True
        if self._owner(flag) is None:
            return known is None  # (a modelled target's option it does not know is 'unknown option', below)
        if name.startswith(HOLE) and flag in _TARGET_OPTIONS_ANY:  # whose it is depends on the name: each rule's
            raise self.error("option of either the target or a match", flag, "a named target")  # (general path)
        return False

    def check_values(self, flag: str, owner: str, args: tuple[str, ...], count: int) -> tuple[str, ...]:
        """The values, refused as iptables refuses them: a word more or less than ``flag`` takes, a port that is
        none; a match's ports written as the numbers iptables reads (``--dport http`` -> 80: iptables-save prints
        numbers). A placeholder (a skeleton's hole, see below) stands for any value: its rules' values are checked
        one by one."""
        self.check_words(flag, args)
        if len(args) != count and not (flag in ONE_STRING_FLAGS and args):  # (upstream's tests write
            # --comment's words unquoted, as kube-proxy's own parser reads them: kept as one string)
            what = "no value" if not count else "one value" if count == 1 else f"{count} values"
            if len(args) < count:
                raise self.error(f"{flag} needs {what}", self.current_text(), f"{what} after {flag}")
            extra = args[count]
            raise self.error(f"{flag} takes {what}", " ".join(args), f"{what}, then an option (-j {extra}?)"
                             if extra.isupper() else f"{what}, then an option")
        kind = value_kind(flag, owner)
        if kind is None or not args or args[0].startswith(HOLE):
            return args
        if kind == "protocol":  # (kept as written, as -p is: iptables-save prints its number)
            if protocol_number(args[0], fold=False) is None:
                raise self.error(unknown_protocol(args[0], fold=False), args[0], PROTOCOL_EXPECTED_AS_IS)
            return args
        if kind in _NAMED_EXPECTED:  # (likewise: iptables-save prints its numbers, or its own names)
            if isinstance(read := _NAMED_READERS[kind](args[0]), str):
                raise self.error(named_message(kind, read, flag), args[0],
                                 _NAMED_EXPECTED[kind])
            return args
        lookup = port_lookup(owner, self.protocol_module)
        written = port_values(kind, args[0], lookup) if kind in ("port", "ports") else recent_value(
            kind, args[0]) if kind in RECENT_KINDS else nat_values(kind, args[0])
        if written is not None and kind == "nat" and (address := nat_address_problem(args[0])) is not None:
            raise self.error(f"{flag} {args[0]}: {address}", args[0], NAT_EXPECTED)
        if written is not None:
            return (written,)
        problem = value_problem(kind, args[0], lookup)
        if problem is not None:
            what = "port value" if kind not in RECENT_KINDS else "value"
            raise self.error(f"{flag} {args[0]} is not a valid {what}", args[0], problem)
        return args

    def check_words(self, flag: str, args: tuple[str, ...]) -> None:
        """Refuse a free-form string of several words (``args``, just read) in single quotes (``--comment 'a b'``),
        as iptables-restore refuses its second word ("Bad argument `b''": single quotes are characters to it), or
        with a word in double quotes among them (``--comment "a"b``, ``a"b c"d``: a closing quote ends a word,
        "Bad argument `b'"). Several bare words are taken as one string, as kube-proxy's own test parser reads
        upstream's (``--comment kubernetes service portals``), though iptables-restore refuses them too."""
        if len(args) < 2 or flag not in ONE_STRING_FLAGS:
            return
        if any("'" in arg for arg in args):
            raise self.error(f"{flag} takes one value: single quotes are characters to iptables-restore, not "
                             "quoting", " ".join(args), 'the value in double quotes ("a b")')
        if not self.quoted.isdisjoint(range(self.pos - len(args), self.pos)):
            raise self.error(f"{flag} takes one value: a closing quote ends a word, and iptables-restore refuses "
                             f"the word after it (Bad argument `{args[1]}')", args[1],
                             "the whole value in one pair of double quotes")

    def builtin(self, flag: str, negated: bool) -> None:
        if flag != "-p" and any(o.flag == flag and not o.module for o in self.options):
            # (iptables' set_option, as it reads the option: before its value and the rule's other checks; -p's
            # own check names the value: check_protocol)
            raise self.error(f"multiple {flag} flags not allowed", flag, f"one {flag} per rule")
        if flag == "-f":
            self.options.append(Option(flag, (), negated))
            return
        args = self.args(flag)
        if len(args) != 1:
            raise self.error(f"{flag} takes one value", " ".join(args) or "nothing", "one value")
        if flag == "-p":
            self.check_protocol(args[0], negated)
        elif flag in ("-i", "-o") and not args[0].startswith(HOLE):
            self.check_interface(flag, args[0])
        self.options.append(Option(flag, args, negated))

    def check_interface(self, flag: str, name: str) -> None:
        """Refuse an -i or -o name iptables refuses: an empty one (both v1.8.9: "Empty interface is likely to be
        undesired"; physdev's take it) and one too long for IFNAMSIZ."""
        if not name:
            raise self.error(f"{flag} with an empty interface name (iptables: \"Empty interface is likely to be "
                             "undesired\")", '""', f"an interface name, or no {flag} to match any interface")
        problem = value_problem("interface", name)
        if problem:
            raise self.error(f"interface name `{name}' must be shorter than IFNAMSIZ (15)", name, problem)

    def check_protocol(self, value: str, negated: bool) -> None:
        """Refuse a second -p, a protocol iptables does not know and a negated "any protocol", as iptables 1.8.9
        does (legacy and nft: "multiple -p flags not allowed", 'unknown protocol "bogus" specified', "rule would
        never match protocol"); else note the match the protocol's options load."""
        if any(o.flag == "-p" and not o.module for o in self.options):
            raise self.error("multiple -p flags not allowed", value, "one -p per rule")
        number = protocol_number(value)
        if number is None:
            raise self.error(unknown_protocol(value), value, PROTOCOL_EXPECTED)
        if number == 0 and negated:
            raise self.error("rule would never match protocol", value, "a protocol other than all (0) after '!'")
        self.protocol_module = protocol_module(value)  # (by its name as written: -p mh loads mh, -p 135 not)

    def args(self, flag: str, bare: bool = False) -> tuple[str, ...]:
        """The values of an option (``bare``: it takes none, as those of :data:`ZERO_ARG_FLAGS`). A ``!`` right
        after it is its value, as getopt hands it over (:meth:`bang_value`): iptables 1.8.9 has no intrapositioned
        negation (``-s ! 10.0.0.1``)."""
        kinds, count = self.kinds, self.count
        pos = self.pos
        zero = bare or flag in ZERO_ARG_FLAGS  # (its '!' after it is the next option's: ``--rcheck ! --rttl``)
        if zero:
            return ()
        one_string = flag in ONE_STRING_FLAGS  # (its '!' after it is its string: ``--comment !`` saved "!")
        if not one_string and pos < count and kinds[pos] == _BANG:
            return self.bang_value(flag)
        if pos < count and kinds[pos] != _VALUE and (one_string or flag in ANY_WORD_FLAGS):
            # getopt: an option with a required argument takes the next word, whatever it looks like
            # (iptables-save leaves --comment -x unquoted: xtables_save_string quotes only odd characters)
            self.pos = pos + 1
            return (self.texts[pos],)
        start = pos
        while pos < count and kinds[pos] == _VALUE and (pos == start or self.texts[pos] not in FAMILY_WORDS
                                                         or pos in self.quoted):  # (-4 after a value: an option)
            pos += 1
        self.pos = pos
        return tuple(self.texts[start:pos])

    def bang_value(self, flag: str) -> tuple[str, ...]:
        """``flag``'s value when a bare ``!`` follows it: getopt gives the option that word, so iptables 1.8.9
        reads ``-s ! 10.0.0.1`` as the address "!" and a stray word (both restores, unshare --net: "Bad argument
        `10.0.0.1'", 'unknown protocol "!" specified', "invalid port/service `!' specified", 'Bad state "!"': the
        old intrapositioned negation is gone). A name that may be "!" (:data:`BANG_VALUE_FLAGS`: ``-i ! -j
        ACCEPT`` is the interface "!") is taken; any other "!" is refused, naming the negation meant."""
        pos = self.pos + 1
        following = self.texts[pos] if pos < self.count and self.kinds[pos] == _VALUE else None
        if following is None and flag in BANG_VALUE_FLAGS:
            self.pos = pos
            return ("!",)
        meant = f"! {flag} {following or 'VALUE'}"
        raise self.error(f"'!' after {flag} is no negation: iptables-restore 1.8.9 reads it as {flag}'s value", "!",
                         f"'{meant}' (the '!' before the option)")

    def check_cgroups(self) -> None:
        """Refuse a cgroup match of neither or both of --path and --cgroup, as the kernel does (cgroup_mt_check_v1
        and _v2: EINVAL; iptables-legacy-restore v1.8.9 fails at COMMIT, nft at the rule, unshare --net): each -m
        cgroup matches one of them (``-m cgroup --path / -m cgroup --cgroup 1`` is both tests)."""
        for index, module in enumerate(self.modules):
            given = {name for at, name in self.given if at == index} & {"--path", "--cgroup"}
            if module == "cgroup" and len(given) != 1:
                which = "both --path and --cgroup" if given else "neither --path nor --cgroup"
                raise self.error(f"-m cgroup with {which} (the kernel refuses it: iptables-legacy-restore fails at "
                                 "COMMIT)", "cgroup",
                                 "one of --path PATH and --cgroup CLASSID in each -m cgroup (-m cgroup again for the "
                                 "other)")

    def once(self, flag: str, name: str, owner: str, instance: int | None) -> None:
        """Refuse an option given twice to one match (``-p tcp --dport 80 -j X --dport 81``), as iptables 1.8.9
        refuses every option of the modelled matches ("Only one `--destination-port' allowed"); tcp's --syn and
        --tcp-flags count as one, and so do multiport's port lists."""
        key = (-1 if instance is None else instance, _ONCE_GROUPS.get(name, name))
        if key in self.given:
            raise self.error(f"{flag} given twice to one {owner} match", flag,
                             f"each option once per match (-m {owner} again for another)")
        self.given.add(key)

    def _instance(self, flag: str, first: int = 0, implicit: bool = True) -> int | None:
        """Which match takes ``flag``: the index in ``modules`` of the latest loaded one (from ``first``) that
        knows it, else (``implicit``) -1 for the protocol's match that iptables loads on its own for
        ``-p tcp --dport``; None: no match knows it."""
        name = FLAG_ALIASES.get(flag, flag)
        modules = self.modules
        for index in range(len(modules) - 1, first - 1, -1):
            known = MODULE_FLAGS.get(modules[index])
            if known is None or flag in known or name in known:
                return index
        proto = self.protocol_module
        if implicit and proto and (flag in MODULE_FLAGS[proto] or name in MODULE_FLAGS[proto]):
            return -1
        return None

    def _owner(self, flag: str, first: int = 0, implicit: bool = True) -> str | None:
        """The match that takes ``flag`` (:meth:`_instance`), by its name."""
        instance = self._instance(flag, first, implicit)
        if instance is None:
            return None
        return self.modules[instance] if instance >= 0 else self.protocol_module



def _compares_syn(option: Option) -> bool:
    """Whether ``option`` is a tcp match's test of SYN set, as tcpmss_tg4_check's find_syn_match wants it: ``--syn``
    or ``--tcp-flags`` whose compared flags hold SYN (or ALL), not negated."""
    if option.module != "tcp" or option.negated:
        return False
    if option.flag == "--syn":
        return True
    return option.flag == "--tcp-flags" and len(option.args) == 2 and bool(
        {"SYN", "ALL"} & {flag.upper() for flag in option.args[1].split(",")})




def target_protocols(target: Target) -> tuple[int, ...]:
    """The protocols one of which the rule of ``target`` must ask for (:data:`PROTOCOL_TARGETS`); () for any."""
    if target.name == "ECN" and not any(o.flag in _ECN_TCP for o in target.options):
        return ()
    return PROTOCOL_TARGETS.get(target.name, ())


def unasked_target_protocol(target: Target, options: Sequence[Option]) -> tuple[str, str, str] | None:
    """(message, token, expected) when ``target`` changes only packets of protocols (:func:`target_protocols`)
    the rule's -p (in ``options``) does not ask for; None when it does, or the target takes any."""
    wanted = target_protocols(target)
    if not wanted or protocol_number(_protocol_asked(options)) in wanted:
        return None
    kinds = " or ".join(_PROTOCOL_NAMES[number].upper() for number in wanted)
    flags = " or ".join(f"-p {_PROTOCOL_NAMES[number]}" for number in wanted)
    return (f"target {target.name} changes only {kinds} packets, which the rule does not ask for", target.name,
            f"{flags} in the rule (not negated)")


def _protocol_asked(options: Sequence[Option]) -> str:
    """The protocol the rule's -p asks for; empty when it has none or negates it."""
    given = next((o for o in options if o.flag == "-p" and not o.module), None)
    return "" if given is None or given.negated else given.args[0]


def asked_module(options: Sequence[Option]) -> str:
    """The match of the protocol the rule's -p asks for (:func:`_protocol_asked`), "" for none: read once per rule
    for :func:`unasked_protocol`."""
    return protocol_module(_protocol_asked(options))


def unasked_protocol(asked: str, module: str) -> tuple[str, str, str] | None:
    """(message, token, expected) when protocol match ``module`` (``-m udp``) is in a rule whose -p asks for the
    protocol of match ``asked`` (:func:`asked_module`) and not of its own, as the kernel refuses it (its xt_match
    names the protocol; iptables-legacy-restore then fails at COMMIT); None when it is of it, or ``module`` is no
    protocol's match."""
    wanted = _PROTOCOL_OF_MATCH.get(module)
    if wanted is None or asked == wanted:
        return None
    return (f"-m {module} matches only {wanted} packets, which the rule does not ask for", module,
            f"-p {wanted} in the rule (not negated)")


def ipv6_match_problem(options: Sequence[Option]) -> tuple[str, str, str, bool] | None:
    """What is refused in the matches only IPv6 has of a rule read as IPv6, as (message, token, expected, whether
    the kernel refuses it at COMMIT): ipv6header without ``--header`` (ip6tables, at the rule), mh in a rule not of
    ``-p mh`` (mh_mt6_check: ip6tables-legacy-restore v1.8.9 fails at COMMIT, nft at the rule). Judged once the
    family is known, as icmp6's type is: in IPv4 either match is one iptables cannot load."""
    missing = missing_match_option(options, "ipv6header")
    if missing is not None:
        return (*missing, False)
    if any(o.flag == "-m" and o.module == "mh" for o in options) and \
            protocol_number(_protocol_asked(options)) != MH_PROTOCOL:
        return ("-m mh matches only mobility-header packets, which the rule does not ask for", "mh",
                "-p mh (or ipv6-mh, mobility-header, 135) in the rule (not negated)", True)
    return None


def missing_match_option(options: Sequence[Option], module: str) -> tuple[str, str, str] | None:
    """(message, token, expected) for the first ``-m`` of match ``module`` (one of :data:`REQUIRED_MATCH_OPTIONS`,
    or its alias) in ``options`` without its option (one before it, after ``-p icmp``, is the implicit match's);
    None when each has one."""
    flag = REQUIRED_MATCH_OPTIONS[module]
    waiting: Option | None = None  # an -m still without its option
    for option in options:
        if MATCH_ALIASES.get(option.module, option.module) != module:
            continue
        if option.flag == "-m":
            if waiting is not None:
                break
            waiting = option
        elif option.flag == flag:
            waiting = None
    if waiting is None:
        return None
    return (f'{module}: option "{flag}" must be specified', waiting.module, f"-m {waiting.module} {flag} TYPE")


UNOPTIONED_MATCHES = {
    "iprange": ("iprange match: You must specify `--src-range' or `--dst-range'", "--src-range or --dst-range"),
    "devgroup": ("devgroup match: You must specify either '--src-group' or '--dst-group'",
                 "--src-group or --dst-group"),
    "tos": ('tos: option "--tos" must be specified', "--tos"),
    "addrtype": ("addrtype: you must specify --src-type or --dst-type", "--src-type or --dst-type"),
    "mark": ('mark: option "--mark" must be specified', "--mark"),
    "connmark": ('connmark: option "--mark" must be specified', "--mark"),
    "conntrack": ("conntrack: At least one option is required", "an option such as --ctstate"),
    "statistic": ("--probability must be specified when using random mode", "--mode random --probability"),
    "mac": ('mac: option "--mac-source" must be specified', "--mac-source"),
    "pkttype": ('pkttype: option "--pkt-type" must be specified', "--pkt-type"),
    "length": ('length: option "--length" must be specified', "--length"),
    "dscp": ("DSCP match: Parameter --dscp is required", "--dscp or --dscp-class"),
    "state": ('state: option "--state" must be specified', "--state"),
    "comment": ('comment: option "--comment" must be specified', "--comment"),
    "set": ("You must specify `--match-set' with proper arguments", "--match-set"),
    "physdev": ("PHYSDEV: no physdev option specified", "a --physdev option"),
    "nfacct": ('nfacct: option "--nfacct-name" must be specified', "--nfacct-name"),
    "ecn": ("ECN match: some option required", "--ecn-tcp-cwr, --ecn-tcp-ece or --ecn-ip-ect"),
    "ttl": ("TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt", "--ttl-eq, --ttl-lt or --ttl-gt"),
    "hl": ("HL match: You must specify one of `--hl-eq', `--hl-lt', `--hl-gt'", "--hl-eq, --hl-lt or --hl-gt"),
}
"""Matches whose final check wants one of their options, with iptables 1.8.9's words (legacy and nft alike, at
the rule; unshare --net) and what is expected: ``-m iprange`` alone, or ``-m iprange --src 1-2``, whose --src is
-s's (ttl's words lack their last quote, as iptables prints them). (icmp, icmp6 and ipv6header, judged with the
family: :data:`REQUIRED_MATCH_OPTIONS`; cgroup alone is refused by the kernel, not judged.)"""
_OPTIONED_MATCHES = frozenset(UNOPTIONED_MATCHES)
_WANTED_OPTIONS = {"addrtype": frozenset({"--src-type", "--dst-type"}), "set": frozenset({"--match-set"})}
"""The matches of :data:`UNOPTIONED_MATCHES` that only these of their options satisfy (both restores v1.8.9,
unshare --net: ``-m addrtype --limit-iface-in`` and ``-m set --return-nomatch`` alone are refused in its words);
any option of its own satisfies the others."""


def unoptioned_match(options: Sequence[Option]) -> tuple[str, str, str] | None:
    """(message, token, expected) for the first ``-m`` of a match of :data:`UNOPTIONED_MATCHES` that no option of
    its own follows before the match is loaded again (each ``-m`` is a match of its own, checked alone); None."""
    waiting: Option | None = None
    for option in options:
        if option.flag == "-m":
            if waiting is not None and option.module == waiting.module:
                break
            if waiting is None and option.module in UNOPTIONED_MATCHES:
                waiting = option
        elif waiting is not None and option.module == waiting.module and \
                option.flag in _WANTED_OPTIONS.get(option.module, (option.flag,)):
            waiting = None
    if waiting is None:
        return None
    message, wanted = UNOPTIONED_MATCHES[waiting.module]
    return message, waiting.module, f"-m {waiting.module} {wanted} ..."


MATCH_EXCLUSIONS = {name: tuple((f"--{name}-{flag}", tuple(f"--{name}-{o}" for o in others.split()))
                                for flag, others in (("lt", "eq gt"), ("gt", "eq lt")))
                    for name in ("ttl", "hl")}
"""Per match, in its option table's order, the options that exclude others, each with those (in the order of their
ids): libxt_ttl's and libxt_hl's --ttl-lt and --ttl-gt (--hl-) exclude the other comparisons; --ttl-eq excludes
none of its own (both restores v1.8.9, unshare --net: ``--ttl-eq 1 --ttl-lt 2`` in either order is 'ttl: option
"--ttl-lt" cannot be used together with "--ttl-eq".')."""


def _instances(options: Sequence[Option], module: str) -> list[dict[str, Option]]:
    """Each ``-m module`` of ``options`` with its options (a later -m of the module takes those after it)."""
    instances: list[dict[str, Option]] = []
    for option in options:
        if option.flag == "-m" and option.module == module:
            instances.append({})
        elif option.module == module and instances:
            instances[-1][option.flag] = option
    return instances


def match_exclusion(options: Sequence[Option]) -> tuple[str, str, str] | None:
    """(what iptables says, the option, what it expects) for the first match of :data:`MATCH_EXCLUSIONS` given
    options that exclude each other; None when there is none."""
    for module, excluding in MATCH_EXCLUSIONS.items():
        for given in _instances(options, module):
            for flag, others in excluding:
                other = next((o for o in others if o in given), None) if flag in given else None
                if other is not None:
                    return (f'{module}: option "{flag}" cannot be used together with "{other}".', flag,
                            f"one of --{module}-eq, --{module}-lt and --{module}-gt a -m {module}")
    return None


def statistic_problem(options: Sequence[Option]) -> tuple[str, str, str] | None:
    """(what iptables says, the token, what it expects) for the first ``-m statistic`` of ``options`` whose options
    iptables 1.8.9 refuses together (both restores, unshare --net), in its order: libxt_statistic's own final check
    first (random mode, the default, wants ``--probability``; nth mode ``--every`` or ``--packet``, and a packet
    below every), then its option table's (``--mode`` mandatory; ``--probability`` excludes ``--every`` and
    ``--packet``; each of these asks for the other). None when every instance is taken."""
    instances: list[dict[str, str]] = []
    for option in options:
        if option.flag == "-m" and option.module == "statistic":
            instances.append({})
        elif option.module == "statistic" and instances:
            instances[-1][option.flag] = option.args[0] if option.args else ""
    for given in instances:
        mode = given.get("--mode", "random")
        if mode.startswith(HOLE):  # (a skeleton's placeholder: random, the one mode its shape vouches for)
            mode = "random"
        if mode == "random" and "--probability" not in given:
            return ("--probability must be specified when using random mode", "statistic",
                    "--probability P with --mode random")
        if mode == "nth" and "--every" not in given and "--packet" not in given:
            return ("--every and --packet must be specified when using nth mode", "statistic",
                    "--every N --packet P with --mode nth")
        every, packet = (c_strtoumax(given.get(flag, "0")) for flag in ("--every", "--packet"))
        if mode == "nth" and every is not None and packet is not None and packet > max(every - 1, 0):
            return ("the --packet p must be 0 <= p <= n-1", given["--packet"], "--packet below --every")
        if "--mode" not in given:
            return 'statistic: option "--mode" must be specified', "statistic", "--mode random or --mode nth"
        for flag, other in (("--probability", "--every"), ("--probability", "--packet"), ("--every", "--packet"),
                            ("--packet", "--every")):
            if flag not in given:
                continue
            if flag == "--probability" and other in given:
                return (f'statistic: option "{flag}" cannot be used together with "{other}".', other,
                        "--probability with --mode random, --every and --packet with --mode nth")
            if flag != "--probability" and other not in given:
                return (f'statistic: option "{flag}" also requires "{other}".', flag,
                        "--every N --packet P together")
    return None


def addrtype_limits_together(options: Sequence[Option]) -> tuple[str, str, str] | None:
    """(message, token, expected) when one ``-m addrtype`` is given both --limit-iface-in and --limit-iface-out,
    which libxt_addrtype's option table excludes (both restores v1.8.9 say it at the rule, naming them in its
    table's order whichever comes first); None when none is."""
    given: set[str] = set()
    for option in options:
        if option.flag == "-m" and option.module == "addrtype":
            given = set()  # (each -m addrtype is a match of its own)
        elif option.module == "addrtype" and option.flag in ("--limit-iface-in", "--limit-iface-out"):
            given.add(option.flag)
            if len(given) == 2:
                return ('addrtype: option "--limit-iface-in" cannot be used together with "--limit-iface-out".',
                        option.flag, "--limit-iface-in or --limit-iface-out, not both")
    return None


_PROTOCOL_OF_MATCH = {"tcp": "tcp", "udp": "udp", "sctp": "sctp", "dccp": "dccp", "icmp": "icmp", "icmp6": "icmp6",
                      "icmpv6": "icmp6"}
"""The matches the kernel takes only in a rule of their protocol (by its :data:`PROTOCOL_MODULES` match)."""
_MULTIPORT_PROTOCOLS = frozenset({6, 17, 136, 132, 33})
MH_PROTOCOL = 135  # IPPROTO_MH, the only protocol the kernel's mh match takes
"""The protocols (tcp, udp, udplite, sctp, dccp) multiport takes (iptables 1.8.9's check_proto)."""

RECENT_COMMANDS = ("--set", "--rcheck", "--update", "--remove")
"""recent's commands, in the order iptables-save prints them."""

_ONCE_GROUPS = {"--syn": "--tcp-flags", "--sports": "--ports", "--dports": "--ports"}
"""Options of one match that iptables takes as one for :meth:`_Interpreter.once`."""


def interpret(tokens: list[Token], *, line: int | None = None, file: str | None = None,
              family: bool | None = None) -> RuleSpec:
    """Typed view of a rule's tokens; raises RulesSyntaxError naming the token and what was expected (``family``:
    the dump's, True for IPv6, which a -4 or -6 in the rule is read against: :meth:`_Interpreter.family_word`)."""
    quoted = frozenset(i for i, t in enumerate(tokens) if t.quoted)
    interpreter = _Interpreter([t.text for t in tokens], [_kind(t) for t in tokens], line, file, quoted)
    interpreter.family = family
    return interpreter.run()


def canonical_spec(tokens: list[Token], *, line: int | None = None, file: str | None = None,
                   family: bool | None = None) -> tuple[str, RuleSpec]:
    """The canonical text and typed view of a rule's tokens, validated once (a -4 or -6 of the dump's family is
    left out: iptables-save never prints one)."""
    parsed = interpret(tokens, line=line, file=file, family=family)
    return render_spec(parsed), parsed


_JUMP_HEADS = (" -j ", " -g ", "-j ", "-g ")  # (the last two: a rule that is its jump alone)
_TARGET_FLAG = re.compile(r"(?<![^ ])-[jg](?![^ ])")
"""A -j or -g standing as a word of its own (in a rule's text with its quoted values blanked out)."""
_TARGET_AT = re.compile(r"(?<![^ ])-([jg]) ([^ ]+)")
"""-j or -g and the word after it: the target's name (``"``: a quoted value blanked out)."""


def target_word(spec: str) -> tuple[str, bool] | None:
    """(name, goto) of the target of a rule's canonical text, None when it has none: ``parse_spec(spec).target``'s
    name and goto, read off the text (a reader of every rule of a dump, codec's undeclared_jumps, parsed 320,000
    rules for them at 10,000 services, 70% of a trace's time).

    Outside its quoted values the canonical text names its target by the one word ``-j`` or ``-g`` (the long forms
    and abbreviations are written short; iptables refuses a second target), followed by the name, which is never
    quoted for a chain or an extension. Anything else is parsed: a backslash (an escaped quote inside a value
    hides where values end), a -j or -g twice or none followed by a name (``--comment -j``, a one-string value
    written bare), a name that is a quoted value or looks like an option, a long form."""
    if "-j" not in spec and "-g" not in spec:
        return None
    outside = spec
    if '"' in spec:
        if "\\" in spec:
            return _parsed_target(spec)
        outside = '"'.join(spec.split('"')[::2])  # (each quoted value left as one word: '"')
    flags = _TARGET_FLAG.findall(outside)
    if not flags:  # (--jump, --goto or a prefix of theirs: no canonical text's, parsed all the same)
        return _parsed_target(spec) if "--j" in outside or "--g" in outside else None
    found = _TARGET_AT.search(outside)
    if len(flags) > 1 or found is None or found[2][0] in '-"':
        return _parsed_target(spec)
    return found[2], found[1] == "g"


def _parsed_target(spec: str) -> tuple[str, bool] | None:
    """:func:`target_word` by parsing the text (raises RulesSyntaxError for text that is not a rule)."""
    target = parse_spec(spec).target
    return None if target is None else (target.name, target.goto)


def jump_target(spec: str, users: Container[str]) -> str | None:
    """The chain of ``users`` the rule's canonical text jumps (-j) or goes (-g) to, or None (compile_chains's
    circle check and the parser's -X, -E and jumps to a deleted chain read jumps by this one reading).

    A jump to a chain takes no option, so kube-proxy's rules end with it: read off the last word, no parse. A
    rule may still be written with options after its jump (``-j C -p tcp``, ``-j C -m comment ...``; iptables
    takes them): when a -j or -g elsewhere is followed by a user chain's name the rule is parsed, so that a
    comment quoting one is not taken for a jump. A rule that does not parse is left to its reader to report.
    A target with options is the extension of its name, never a chain, as compile_targets reads it: such a rule
    was written before an -E gave a chain that name (``-j LOG --log-prefix x``, then ``-E FOO LOG``; libiptc keeps
    it the extension: iptables-legacy-restore v1.8.9 loads ``-A FOO -j LOG --log-prefix x``, ``-E FOO LOG``,
    ``-A INPUT -j LOG``, no circle); after the -E the parser refuses it (legacy: "using chain LOG, not extension")."""
    word = spec[spec.rfind(" ") + 1:]
    if word in users and spec[-len(word) - 4:-len(word)] in _JUMP_HEADS:
        return word
    for head in ("-j ", "-g "):
        at = spec.find(head)
        while at >= 0:
            start = at + 3
            end = spec.find(" ", start)
            if (at == 0 or spec[at - 1] == " ") and spec[start:end if end >= 0 else None] in users:
                return _parsed_jump(spec, users)
            at = spec.find(head, start)
    return None


def _parsed_jump(spec: str, users: Container[str]) -> str | None:
    """The user chain of the parsed rule's target, or None (a rule that does not parse too, or an extension's
    target with options: :func:`jump_target`)."""
    try:
        target = parse_spec(spec).target
    except RulesSyntaxError:
        return None
    return target.name if target is not None and target.name in users and not target.options else None
