"""Rules drawn from a table of every modelled extension's options, each rule fed to this machine's
iptables-legacy-restore and iptables-nft-restore v1.8.9 (one ``unshare --net`` namespace per command, gone with
it): the parser refuses at the line both refuse, and saves back what both print (iptables-save -c).

The variants: each rule of :data:`SAMPLES` as written (both tools take it) and with ``!`` before each of its long
options in turn (``! --comment``, ``! --to-destination``, ``! --rsource``: iptables refuses a ``!`` an option's
entry does not allow, "cannot be inverted", syntax.NEGATABLE_FLAGS) and with a -4, -6, --ipv4 or --ipv6 before
each (syntax.FAMILY_WORDS), with ``!`` after each option that takes a value (the old intrapositioned negation,
``-s ! 10.0.0.1``: both read the ``!`` as the value and refuse the rule, syntax._Interpreter.bang_value), and
:data:`FIXED`'s rules (statistic's modes, ECN's exclusive options, a match that wants an option, NFQUEUE's queue
numbers, cgroup's --path); :data:`FIXED_H2`'s rules (an interface named ``!``, a quote left open, a cgroup path
cut), :data:`FIXED_H2B`'s (interfaces saved as they are or looking like options, target names refused) and
:data:`FIXED_H7_TEXTS` (a carriage return inside a line, a word's own character) are checked on every run. CI
runs a fixed-seed draw of them
(``KPSIM_RESTORE_DIFF_CASES``, default 200, ~25 s); ``KPSIM_RESTORE_DIFF_CASES=all`` runs every variant and every
pair of options negated together (some 600 more).

Not drawn: what this machine's kernel decides for want of a module or an object (-m set and -j SET without the
ipset, -m nfacct without the counter object, -j LED without its module, -m devgroup --dst-group in INPUT, -m cgroup
--path of a cgroup this machine has or not: the parser takes any path). Where the two tools differ the parser follows
legacy, at the rule's line (as restore_cases does): :data:`FOLLOWING_LEGACY`, ``-j TCPMSS`` after a negated tcp
match (legacy fails at COMMIT, nft takes it) and what the kernel refuses (legacy at COMMIT, nft at the rule)."""

from __future__ import annotations

import itertools
import os
import random

import pytest

from tests.kernel.test_restore_parity import _ours, _restore
from tests.netfilter.restore_cases import FILTER, MANGLE, NAT, filter_with
from tests.netfilter.restore_cases_placement import RAW
from tests.netfilter.test_carriage_return_h7 import CR_RULES, CR_TEXTS, LEGACY_ONLY

pytestmark = pytest.mark.kernel

HEADS = {"filter": FILTER, "nat": NAT, "mangle": MANGLE, "raw": RAW}

SAMPLES: tuple[tuple[str, str, bool, str], ...] = tuple(
    (table, chain, family == "6", rule) for table, chain, family, rule in (
        line.split(" ", 3) for line in """\
filter INPUT 4 -p tcp --sport 80 -j ACCEPT
filter INPUT 4 -p tcp --source-port 80 --destination-port 81 -j ACCEPT
filter INPUT 4 -p tcp --tcp-flags SYN,ACK SYN -j ACCEPT
filter INPUT 4 -p tcp --syn --tcp-option 2 -j ACCEPT
filter INPUT 4 -p udp --sport 80 --dport 81 -j ACCEPT
filter INPUT 4 -p sctp --dport 80 --chunk-types any INIT -j ACCEPT
filter INPUT 4 -p dccp --dport 80 --dccp-types REQUEST --dccp-option 2 -j ACCEPT
filter INPUT 4 -p icmp --icmp-type 8 -j ACCEPT
filter INPUT 6 -p ipv6-icmp --icmpv6-type 128 -j ACCEPT
filter INPUT 4 -p tcp -m multiport --sports 80,81 -j ACCEPT
filter INPUT 4 -p tcp -m multiport --dports 80,81 -j ACCEPT
filter INPUT 4 -p tcp -m multiport --ports 80,81 -j ACCEPT
filter INPUT 4 -m comment --comment x -j ACCEPT
filter INPUT 4 -m mark --mark 1 -m connmark --mark 2 -j ACCEPT
filter INPUT 4 -m addrtype --src-type LOCAL --dst-type LOCAL --limit-iface-in -j ACCEPT
filter OUTPUT 4 -m addrtype --dst-type LOCAL --limit-iface-out -j ACCEPT
filter INPUT 4 -m statistic --mode random --probability 0.5 -j ACCEPT
filter INPUT 4 -m statistic --mode nth --every 2 --packet 1 -j ACCEPT
filter INPUT 4 -m recent --name a --set -j ACCEPT
filter INPUT 4 -m recent --name a --remove -j ACCEPT
filter INPUT 4 -m recent --update --seconds 5 --reap --rttl -j ACCEPT
filter INPUT 4 -m recent --rcheck --hitcount 5 --mask 255.255.255.0 --rdest -j ACCEPT
filter INPUT 4 -m recent --rcheck --rsource -j ACCEPT
filter INPUT 4 -m conntrack --ctstate NEW --ctproto tcp --ctorigsrc 1.2.3.4 --ctorigdst 1.2.3.4 -j ACCEPT
filter INPUT 4 -m conntrack --ctreplsrc 1.2.3.4 --ctrepldst 1.2.3.4 --ctstatus ASSURED -j ACCEPT
filter INPUT 4 -m conntrack --ctorigsrcport 80 --ctorigdstport 80 --ctreplsrcport 80 --ctrepldstport 80 -j ACCEPT
filter INPUT 4 -m conntrack --ctexpire 5 --ctdir ORIGINAL -j ACCEPT
filter INPUT 4 -m state --state NEW -j ACCEPT
filter INPUT 4 -m physdev --physdev-in eth0 --physdev-is-in -j ACCEPT
filter FORWARD 4 -m physdev --physdev-out eth0 --physdev-is-out --physdev-is-bridged -j ACCEPT
filter INPUT 4 -m limit --limit 5/sec --limit-burst 5 -j ACCEPT
filter INPUT 4 -m iprange --src-range 1.2.3.4-1.2.3.5 --dst-range 1.2.3.4-1.2.3.5 -j ACCEPT
filter INPUT 4 -m mac --mac-source 00:11:22:33:44:55 -j ACCEPT
filter OUTPUT 4 -m owner --uid-owner 0 --gid-owner 0 --suppl-groups -j ACCEPT
filter OUTPUT 4 -m owner --socket-exists -j ACCEPT
filter INPUT 4 -m pkttype --pkt-type unicast -m length --length 5 -j ACCEPT
filter INPUT 4 -m ttl --ttl-eq 5 -j ACCEPT
filter INPUT 4 -m ttl --ttl-gt 5 -j ACCEPT
filter INPUT 4 -m ttl --ttl-lt 5 -j ACCEPT
filter INPUT 4 -m ttl --ttl 5 -j ACCEPT
filter INPUT 6 -m hl --hl-eq 5 -j ACCEPT
filter INPUT 6 -m hl --hl-gt 5 -j ACCEPT
filter INPUT 6 -m hl --hl-lt 5 -j ACCEPT
filter INPUT 4 -m tos --tos 0x10 -m dscp --dscp 1 -j ACCEPT
filter INPUT 4 -m dscp --dscp-class CS1 -j ACCEPT
raw PREROUTING 4 -m rpfilter --loose --validmark --accept-local --invert -j ACCEPT
filter INPUT 4 -m socket --transparent --nowildcard --restore-skmark -j ACCEPT
filter INPUT 4 -m devgroup --src-group 1 -j ACCEPT
filter INPUT 4 -m cgroup --cgroup 1 -j ACCEPT
filter INPUT 6 -p mh -m mh --mh-type 1 -j ACCEPT
filter INPUT 6 -m ipv6header --header frag --soft -j ACCEPT
filter INPUT 4 -p tcp -m ecn --ecn-tcp-cwr --ecn-tcp-ece --ecn-ip-ect 1 -j ACCEPT
nat PREROUTING 4 -p tcp -j DNAT --to-destination 1.2.3.4 --random --persistent
nat POSTROUTING 4 -p tcp -j SNAT --to-source 1.2.3.4 --random-fully
nat POSTROUTING 4 -p tcp -j MASQUERADE --to-ports 80 --random
nat PREROUTING 4 -p tcp -j REDIRECT --to-ports 80
nat PREROUTING 4 -j NETMAP --to 1.2.3.0/24
filter INPUT 4 -j MARK --set-mark 1
filter INPUT 4 -j MARK --set-xmark 1
filter INPUT 4 -j MARK --and-mark 1
filter INPUT 4 -j MARK --or-mark 1
filter INPUT 4 -j MARK --xor-mark 1
filter INPUT 4 -j CONNMARK --set-mark 1
filter INPUT 4 -j CONNMARK --save-mark --mask 1
filter INPUT 4 -j CONNMARK --restore-mark --nfmask 1 --ctmask 1
filter INPUT 4 -j LOG --log-level 4 --log-prefix x --log-tcp-sequence --log-tcp-options
filter INPUT 4 -j LOG --log-ip-options --log-uid --log-macdecode
filter INPUT 4 -j NFLOG --nflog-group 1 --nflog-prefix x --nflog-size 1 --nflog-threshold 1
filter INPUT 4 -j NFQUEUE --queue-num 1 --queue-bypass
filter INPUT 4 -j NFQUEUE --queue-balance 1:2 --queue-cpu-fanout
filter INPUT 4 -j REJECT --reject-with icmp-host-unreachable
raw PREROUTING 4 -j CT --notrack
raw PREROUTING 4 -j CT --ctevents new --expevents new --zone 1
raw PREROUTING 4 -p tcp --dport 21 -j CT --helper ftp
raw PREROUTING 4 -j CT --zone-orig 1
raw PREROUTING 4 -j CT --zone-reply 1
mangle FORWARD 4 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1000
mangle FORWARD 4 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
mangle PREROUTING 4 -p tcp -j TPROXY --on-port 80 --on-ip 1.2.3.4 --tproxy-mark 1
mangle PREROUTING 4 -j TTL --ttl-set 5
mangle PREROUTING 4 -j TTL --ttl-dec 5
mangle PREROUTING 4 -j TTL --ttl-inc 5
mangle PREROUTING 6 -j HL --hl-set 5
mangle PREROUTING 6 -j HL --hl-dec 5
mangle PREROUTING 6 -j HL --hl-inc 5
mangle PREROUTING 4 -j DSCP --set-dscp 1
mangle PREROUTING 4 -j DSCP --set-dscp-class CS1
mangle PREROUTING 4 -j TOS --set-tos 1
mangle PREROUTING 4 -j TOS --and-tos 1
mangle PREROUTING 4 -j TOS --or-tos 1
mangle PREROUTING 4 -j TOS --xor-tos 1
mangle POSTROUTING 4 -j CLASSIFY --set-class 1:1
mangle POSTROUTING 4 -p udp -j CHECKSUM --checksum-fill
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-remove
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-cwr 1 --ecn-tcp-ece 1 --ecn-ip-ect 1
filter INPUT 4 -j AUDIT --type accept""".splitlines()))
"""(table, chain, IPv6?, rule): each option of each modelled extension in a rule both tools take."""

FIXED: tuple[tuple[str, str, bool, str], ...] = tuple(
    (table, chain, family == "6", rule) for table, chain, family, rule in (
        line.split(" ", 3) for line in """\
filter INPUT 4 -m statistic -j ACCEPT
filter INPUT 4 -m statistic --mode nth -j ACCEPT
filter INPUT 4 -m statistic --mode random -j ACCEPT
filter INPUT 4 -m statistic --mode bogus -j ACCEPT
filter INPUT 4 -m statistic --every 2 -j ACCEPT
filter INPUT 4 -m statistic --probability 0.5 -j ACCEPT
filter INPUT 4 -m statistic --packet 1 -j ACCEPT
filter INPUT 4 -m statistic --every 2 --packet 1 -j ACCEPT
filter INPUT 4 -m statistic --probability 0.5 --every 2 -j ACCEPT
filter INPUT 4 -m statistic --mode nth --every 2 -j ACCEPT
filter INPUT 4 -m statistic --mode nth --packet 0 -j ACCEPT
filter INPUT 4 -m statistic --mode nth --every 1 --packet 0 -j ACCEPT
filter INPUT 4 -m statistic --mode nth --every 3 --packet 3 -j ACCEPT
filter INPUT 4 -m statistic --mode nth --every 2 --probability 0.5 -j ACCEPT
filter INPUT 4 -m statistic --mode random --probability 0.5 --every 2 -j ACCEPT
filter INPUT 4 -m statistic --mode random --probability 0.5 --packet 0 -j ACCEPT
filter INPUT 4 -m statistic --mode random --probability 0.5 -m statistic --mode nth --every 2 -j ACCEPT
filter INPUT 4 -j NFQUEUE --fail-open
filter INPUT 4 -j NFQUEUE --queue-num 1 --fail-open
filter INPUT 4 -j NFQUEUE --queue-balance 1:2 --queue-bypass
filter INPUT 4 -j NFQUEUE
filter INPUT 4 -j NFQUEUE --queue-bypass
filter INPUT 4 -j NFQUEUE --queue-cpu-fanout --queue-balance 1:2
filter INPUT 4 -j NFQUEUE --queue-num 3 --queue-balance 1:2
filter INPUT 4 -j NFQUEUE --queue-cpu-fanout
raw PREROUTING 4 -j CT --zone 0
raw PREROUTING 4 -j CT --zone-orig 0
raw PREROUTING 4 -j CT --zone-reply 5 --zone 6
raw PREROUTING 4 -j CT --zone-orig 5 --zone-reply 6
raw PREROUTING 4 -j CT --zone 1 --zone-orig 2
raw PREROUTING 4 -j CT --expevents new --ctevents new,related
raw PREROUTING 4 -j CT --zone 1 --notrack --ctevents new
raw PREROUTING 4 -j CT --ctevents related,new
raw PREROUTING 4 -p tcp -j CT --zone 1 --helper ftp --ctevents new,related --expevents new
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-remove --ecn-tcp-cwr 1
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-remove --ecn-tcp-ece 1
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-cwr 1 --ecn-tcp-remove
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-remove
mangle PREROUTING 4 -p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 1
mangle PREROUTING 4 -p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove
mangle PREROUTING 4 -p tcp -j ECN --ecn-ip-ect 2 --ecn-tcp-cwr 0 --ecn-tcp-ece 0
filter INPUT 4 -p tcp -m ecn --ecn-ip-ect 1 ! --ecn-tcp-ece --ecn-tcp-cwr -j ACCEPT
filter INPUT 4 -m ttl -j ACCEPT
filter INPUT 4 -m ttl --ttl-eq 1 --ttl-lt 2 -j ACCEPT
filter INPUT 4 -m ttl --ttl-gt 2 --ttl-eq 1 -j ACCEPT
filter INPUT 4 -m ttl --ttl-gt 2 --ttl-lt 1 -j ACCEPT
filter INPUT 4 -m ttl --ttl 2 --ttl-lt 1 -j ACCEPT
filter INPUT 4 -m ttl --ttl-eq 1 -m ttl --ttl-gt 2 -j ACCEPT
filter INPUT 6 -m hl --hl-gt 1 --hl-lt 2 -j ACCEPT
filter INPUT 6 -m hl --hl-eq 1 --hl-gt 2 -j ACCEPT
filter INPUT 6 -m hl -j ACCEPT
filter INPUT 4 -m comment --comment ! -j ACCEPT
filter INPUT 4 -m comment --comment ! x -j ACCEPT
filter INPUT 4 -j LOG --log-prefix !
filter INPUT 4 -m recent --rcheck ! --rttl -j ACCEPT
filter INPUT 4 -m recent ! --rcheck ! --rttl -j ACCEPT
filter INPUT 4 -m recent ! --set --rsource -j ACCEPT
filter INPUT 4 -p tcp ! --syn ! --dport 80 -j ACCEPT
filter INPUT 4 -m comment ! --comm x -j ACCEPT
filter INPUT 4 -p tcp ! --dp 80 -j ACCEPT
filter INPUT 4 -p tcp -j REJECT ! --reject tcp-reset
filter INPUT 4 -6 --bogus
filter INPUT 4 --bogus -6
filter INPUT 4 ! -6 -j ACCEPT
filter INPUT 4 ! -4 -s 1.2.3.4 -j ACCEPT
filter INPUT 4 -4 -4 -j ACCEPT
filter INPUT 4 -s fd00::1 -6 -j ACCEPT
filter INPUT 4 -s fd00::1 -4 -j ACCEPT
filter NOCHAIN 4 -6 -j ACCEPT
filter INPUT 4 -6 -j NOCHAIN
filter INPUT 4 -p tcp --dport -4 -j ACCEPT
filter INPUT 4 -m comment --comment -6 -j ACCEPT
filter INPUT 4 -i -4 -j ACCEPT
filter INPUT 4 --ipv -j ACCEPT
filter INPUT 4 --ipv4 -j ACCEPT
filter INPUT 6 -s 10.0.0.1 -4 -j ACCEPT
filter INPUT 6 --ipv4 -j DROP
filter INPUT 6 -6 -s fd00::1 -j DROP
filter INPUT 4 -s ! 10.0.0.1 -j ACCEPT
filter INPUT 4 ! -s ! 10.0.0.1 -j ACCEPT
filter INPUT 4 -p ! tcp -j ACCEPT
filter INPUT 4 -p tcp --dport ! -j ACCEPT
filter INPUT 4 -s ! -j ACCEPT
filter INPUT 4 -i ! eth0 -j ACCEPT
filter INPUT 4 -m physdev --physdev-in ! eth0 -j ACCEPT
filter INPUT 4 -m helper --helper ! ftp -j ACCEPT
filter INPUT 4 -m recent --name ! --set -j ACCEPT
filter INPUT 4 -j NFQUEUE --queue-balance 1:1
filter INPUT 4 -j NFQUEUE --queue-balance 0:0 --queue-bypass
filter INPUT 4 -j NFQUEUE --queue-balance 65535:65535
filter INPUT 4 -j NFQUEUE --queue-balance 2:1 --queue-cpu-fanout
filter INPUT 4 -j NFQUEUE --queue-balance 1
filter INPUT 4 -j NFQUEUE --queue-balance 1:1:1
filter INPUT 4 -j NFQUEUE --queue-balance 1-2
filter INPUT 4 -j NFQUEUE --queue-balance 1:2x
filter INPUT 4 -j NFQUEUE --queue-balance -1:2
filter INPUT 4 -j NFQUEUE --queue-balance 0:65536
filter INPUT 4 -j NFQUEUE --queue-balance 1:65535
filter INPUT 4 -j NFQUEUE --queue-balance 0:65534
filter INPUT 4 -j NFQUEUE --queue-num 65535
filter INPUT 4 -j NFQUEUE --queue-num 65536
filter INPUT 4 -j NFQUEUE --queue-num 3x
filter INPUT 4 -j NFQUEUE --queue-num 08
filter INPUT 4 -j NFQUEUE --queue-num 1:2
filter OUTPUT 4 -m cgroup --path a b -j ACCEPT
filter OUTPUT 4 -m cgroup --path -j ACCEPT
filter OUTPUT 4 -m cgroup --path "" -j ACCEPT
filter OUTPUT 4 -m cgroup --cgroup x -j ACCEPT
filter OUTPUT 4 -m cgroup --cgroup 4294967295 -j ACCEPT
filter OUTPUT 4 -m cgroup --cgroup 4294967296 -j ACCEPT
filter OUTPUT 4 -m cgroup --cgroup 0x10 -j ACCEPT
filter OUTPUT 4 -m cgroup --path / -j ACCEPT
filter OUTPUT 4 -m cgroup ! --path / -j ACCEPT
filter INPUT 4 -j NFQUEUE --queue-balance 0x1:0x2
filter INPUT 4 -j NFQUEUE --queue-balance 1:
filter INPUT 4 -j NFQUEUE --queue-balance :2 --queue-bypass
filter INPUT 4 -j NFQUEUE --queue-balance 010:011
filter INPUT 4 -j NFQUEUE --queue-num 0x10
filter INPUT 4 -j NFQUEUE --queue-num +3""".splitlines()))
"""Rules around the options' combinations: statistic's modes, ECN's and ttl's exclusive options, ECN's save
forms, NFQUEUE's --fail-open (no option of v1.8.9's), its options together and its save form, CT's save form, a
match that wants one of its options, ``!`` in odd places (the string of --comment, which takes any word), and a
rule's -4 or -6 (its own family's is nothing, the other's skips the line), the old ``-s ! 10.0.0.1`` (a ``!`` after
an option is its value: ``--name !`` is the list "!"), NFQUEUE's --queue-balance (FIRST below LAST: ``1:1`` is
refused, "1 should be less than 1") and --queue-num, cgroup's --path of two words and its --cgroup class id."""

FIXED_H2: tuple[tuple[str, str, bool, str], ...] = tuple(
    ("filter", chain, False, rule) for chain, rule in (
        ("INPUT", "-i ! -j ACCEPT"), ("INPUT", "! -i ! -j ACCEPT"), ("INPUT", '-i "!" -j ACCEPT'),
        ("OUTPUT", "-o ! -j ACCEPT"), ("FORWARD", "-i ! -o ! -j ACCEPT"),
        ("FORWARD", "-m physdev --physdev-in ! -j ACCEPT"),
        ("FORWARD", "-m physdev --physdev-out ! --physdev-is-bridged -j ACCEPT"),
        ("INPUT", '-j ACCEPT -m comment --comment "abc def'), ("INPUT", '-j ACCEPT -m comment --comment "abc  '),
        ("INPUT", '-m comment --comment "abc -j ACCEPT'), ("INPUT", '-j ACCEPT -m comment --comment x"abc'),
        ("INPUT", '-j ACCEPT -m comment --comment "a\\"b'), ("INPUT", '-j ACCEPT -m comment --comment "ab\\'),
        ("INPUT", '-j ACCEPT -m comment --comment "'), ("INPUT", '-j ACCEPT "'), ("INPUT", '-j "ACCEPT'),
        ("INPUT", '-s "10.0.0.1 -j ACCEPT'), ("INPUT", '-p "tcp -j ACCEPT'),
        ("OUTPUT", "-m cgroup --path " + "/" * 511 + "zzz -j ACCEPT"),
        ("OUTPUT", "-m cgroup --path " + "/" * 600 + " -j ACCEPT"),
        ("OUTPUT", "-m cgroup ! --path " + "/" * 511 + "zzz -j ACCEPT")))
"""Rules of tests/netfilter/test_restore_parity_h2: an interface named ``!`` (iptables-save prints it bare), a
double quote left open (its word is the rest of the line and its newline; iptables-save prints such a comment over
two lines, which both sides split alike) and a cgroup --path past the kernel's 511 bytes (cut; slashes alone name
the root cgroup, which every machine has). Every run checks them all, not drawn
(:func:`test_the_h2_forms_decide_as_both_restores`)."""


FIXED_H2B: tuple[tuple[str, str, bool, str], ...] = tuple(
    ("filter", chain, False, rule) for chain, rule in (
        ("INPUT", '-i "a b" -j ACCEPT'), ("INPUT", '-i "a\\"b" -j ACCEPT'), ("INPUT", "-i \"a'b\" -j ACCEPT"),
        ("INPUT", '-i "a\\\\b" -j ACCEPT'), ("INPUT", '! -i "a\tb" -j ACCEPT'), ("OUTPUT", '-o "x y+" -j ACCEPT'),
        ("FORWARD", '-m physdev --physdev-in "a b" --physdev-out "c\\"d" -j ACCEPT'), ("INPUT", '-i "a "'),
        ("FORWARD", '-m physdev --physdev-in ""'), ("INPUT", "-i a b -j ACCEPT"), ("INPUT", '-j ACCEPT -i a"b'),
        ("FORWARD", "-i -x -j ACCEPT"), ("FORWARD", "! -i -x -j ACCEPT"), ("FORWARD", "-i -- -j ACCEPT"),
        ("FORWARD", "-i --ipv6 -j ACCEPT"), ("FORWARD", "-i -x! -j ACCEPT"), ("FORWARD", "--in-interface -x -j ACCEPT"),
        ("FORWARD", "--out-interface --x -j ACCEPT"), ("FORWARD", "-j ACCEPT -o -eth0"),
        ("FORWARD", "-o -i -i -o -j ACCEPT"), ("FORWARD", "-i -j"), ("FORWARD", "-m physdev --physdev-in -x -j ACCEPT"),
        ("FORWARD", "-m physdev --physdev-in --physdev-out -j ACCEPT"),
        ("FORWARD", "-m physdev --physdev-out -j -j ACCEPT"), ("FORWARD", "-i -j ACCEPT"), ("FORWARD", "-i"),
        ("FORWARD", "-i -x -i -y -j ACCEPT"), ("FORWARD", "-i -abcdefghijklmnop -j ACCEPT"),
        ("FORWARD", "-i ! -x -j ACCEPT"), ("FORWARD", '-i "" -j ACCEPT'), ("FORWARD", '! -o "" -j ACCEPT'),
        ("FORWARD", '-m physdev --physdev-in "" -j ACCEPT'),
        ("INPUT", '-j "B R"'), ("INPUT", '-g "B R"'), ("INPUT", '-j ""'), ("INPUT", "-j " + "A" * 29)))
"""Rules of tests/netfilter/test_restore_parity_h2b: interfaces iptables-save prints as they are (``-i a b``; and
what restore reads back of that), interfaces that look like options (``-i -x``: getopt's argument) and -j/-g names
refused whatever the chains are. Every run checks them all (:func:`test_the_h2b_forms_decide_as_both_restores`);
:data:`PARTIAL_H2B` the names in a partial input."""

PARTIAL_H2B = ('-j "B R"', '-g "B R"', '-j "B\tR"', '-j "B\vR"', '-j "X', '-j ""', "-j " + "A" * 29,
               '-j "B R" --bogus', '-j "B R" -j X')
"""Jumps of a partial input (no built-in chain declared, read as kube-proxy's, whose jumps to chains it does not
declare are the node's to judge) that both restores refuse at the rule's line all the same ("Invalid target
name")."""



FIXED_H7_TEXTS: tuple[str, ...] = (*(filter_with(line) for line, _, _ in CR_RULES),
                                   *(text for text, _, _ in CR_TEXTS))
"""Texts of tests/netfilter/test_carriage_return_h7: a CR inside a rule's word (a comment keeps it, a target, an
address, a port or COMMIT with one is refused), around a declaration's words, a table line's or a line's first,
and one CRLF line among LF ones (the whole CRLF file, which the parser reads deliberately, both refuse at line 1).
Every run checks them all (:func:`test_the_h7_texts_decide_as_both_restores`); :data:`LEGACY_ONLY_H7` where the
two differ."""

LEGACY_ONLY_H7: tuple[str, ...] = tuple(text for text, _ in LEGACY_ONLY)
"""A declared chain's name or policy with a CR in it: legacy takes the name (nft: Invalid chain name) and refuses
the policy '-\\r' (nft takes it as '-')."""


def negated(rule: str) -> list[str]:
    """``rule`` with ``!`` before each of its long options in turn (not before a TCPMSS target: see
    :func:`tcpmss_negated`)."""
    words = rule.split(" ")
    tcpmss = "TCPMSS" in words
    return [" ".join([*words[:at], "!", *words[at:]]) for at, word in enumerate(words)
            if word.startswith("--") and not (tcpmss and at < words.index("-j"))]


def negated_twice(rule: str) -> list[str]:
    """``rule`` with ``!`` before each pair of its long options."""
    words = rule.split(" ")
    if "TCPMSS" in words:
        return []
    places = [at for at, word in enumerate(words) if word.startswith("--")]
    return [" ".join(word if at not in pair else "! " + word for at, word in enumerate(words))
            for pair in itertools.combinations(places, 2)]


def tcpmss_negated(rule: str) -> list[str]:
    """A TCPMSS ``rule`` with ``!`` before each of its match's options (-p too) and each pair of them: the two
    tools differ on these (:data:`FOLLOWING_LEGACY`)."""
    words = rule.split(" ")
    places = [at for at, word in enumerate(words[:words.index("-j")]) if word.startswith("-")]
    return [" ".join(word if at not in chosen else "! " + word for at, word in enumerate(words))
            for count in (1, 2) for chosen in itertools.combinations(places, count)]


def intrapositioned(rule: str) -> list[str]:
    """``rule`` with ``!`` after each of its options that takes a value, before the value (``-s ! 10.0.0.1``)."""
    words = rule.split(" ")
    return [" ".join([*words[:at + 1], "!", *words[at + 1:]]) for at, word in enumerate(words[:-1])
            if word.startswith("-") and word not in ("-j", "-m", "-g") and not words[at + 1].startswith("-")]


def with_family(rule: str, ipv6: bool) -> list[str]:
    """``rule`` with a -4, -6, --ipv4 or --ipv6 before each of its options in turn (drawn by the position)."""
    words = rule.split(" ")
    family = ("-4", "-6", "--ipv4", "--ipv6")
    return [" ".join([*words[:at], family[(at + ipv6) % 4], *words[at:]]) for at, word in enumerate(words)
            if word.startswith("-") and not word[1:2].isdigit()]


def variants(deep: bool) -> list[tuple[str, str, bool, str]]:
    """Every variant (``deep``: with the pairs of negations), in a fixed order."""
    found = [*SAMPLES, *FIXED]
    for table, chain, ipv6, rule in SAMPLES:
        found += [(table, chain, ipv6, variant) for variant in negated(rule)]
        found += [(table, chain, ipv6, variant) for variant in with_family(rule, ipv6)]
        found += [(table, chain, ipv6, variant) for variant in intrapositioned(rule)]
        if deep:
            found += [(table, chain, ipv6, variant) for variant in negated_twice(rule)]
    return found


def _drawn() -> list[tuple[str, str, bool, str]]:
    """The variants this run checks: a fixed-seed draw of ``KPSIM_RESTORE_DIFF_CASES`` of them, or all."""
    wanted = os.environ.get("KPSIM_RESTORE_DIFF_CASES", "200")
    if wanted == "all":
        return variants(deep=True)
    every = variants(deep=False)
    return random.Random(20261202).sample(every, min(int(wanted), len(every)))


def _id(variant: tuple[str, str, bool, str]) -> str:
    table, chain, ipv6, rule = variant
    return f"{'ip6' if ipv6 else 'ip'}:{table}:{chain}:{rule}"


@pytest.mark.parametrize("variant", _drawn(), ids=_id)
def test_the_parser_decides_as_both_restores(kernel: None, variant: tuple[str, str, bool, str]) -> None:
    table, chain, ipv6, rule = variant
    text = f"{HEADS[table]}-A {chain} {rule}\nCOMMIT\n"
    legacy = _restore("legacy", text, ipv6)
    assert _restore("nft", text, ipv6) == legacy, "the two tools differ: not a variant to draw"
    assert _ours(text, ipv6) == legacy


@pytest.mark.parametrize("variant", FIXED_H2, ids=_id)
def test_the_h2_forms_decide_as_both_restores(kernel: None, variant: tuple[str, str, bool, str]) -> None:
    test_the_parser_decides_as_both_restores(kernel, variant)


@pytest.mark.parametrize("variant", FIXED_H2B, ids=_id)
def test_the_h2b_forms_decide_as_both_restores(kernel: None, variant: tuple[str, str, bool, str]) -> None:
    test_the_parser_decides_as_both_restores(kernel, variant)


@pytest.mark.parametrize("text", FIXED_H7_TEXTS, ids=repr)
def test_the_h7_texts_decide_as_both_restores(kernel: None, text: str) -> None:
    legacy = _restore("legacy", text, False)
    assert _restore("nft", text, False) == legacy
    assert _ours(text, False) == legacy


@pytest.mark.parametrize("text", LEGACY_ONLY_H7, ids=repr)
def test_the_h7_texts_where_nft_differs_decide_as_legacy(kernel: None, text: str) -> None:
    legacy = _restore("legacy", text, False)
    assert _restore("nft", text, False) != legacy
    assert _ours(text, False) == legacy


@pytest.mark.parametrize("jump", PARTIAL_H2B)
def test_a_target_name_iptables_refuses_is_refused_in_a_partial_input(kernel: None, jump: str) -> None:
    text = f"*filter\n:KUBE-A - [0:0]\n-A KUBE-A {jump}\nCOMMIT\n"
    assert _restore("legacy", text, False) == (3, [])
    assert _restore("nft", text, False) == (3, [])
    assert _ours(text, False) == (3, [])


FOLLOWING_LEGACY: tuple[tuple[str, str, bool, str], ...] = (
    *((table, chain, ipv6, variant) for table, chain, ipv6, rule in SAMPLES if "TCPMSS" in rule
      for variant in tcpmss_negated(rule)),
    *((table, chain, family == "6", rule) for table, chain, family, rule in (
        line.split(" ", 3) for line in """\
mangle FORWARD 4 -p tcp ! --syn -j TCPMSS --set-mss 1000
mangle FORWARD 6 -p tcp ! --syn -j TCPMSS --set-mss 1000
mangle FORWARD 4 ! -p tcp --syn -j TCPMSS --set-mss 1000
mangle FORWARD 4 ! -p udp -j TCPMSS --set-mss 1000
mangle FORWARD 4 ! -p 6 --syn -j TCPMSS --clamp-mss-to-pmtu
mangle FORWARD 4 -p tcp -m tcp ! --syn -m tcp --syn -j TCPMSS --set-mss 1000
mangle FORWARD 6 -p tcp ! --syn -m tcp --syn -j TCPMSS --set-mss 1000
mangle FORWARD 4 -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcp ! --tcp-flags SYN SYN -j TCPMSS --set-mss 1000
mangle FORWARD 4 -p tcp --syn -m tcp ! --dport 80 -j TCPMSS --set-mss 1000
mangle FORWARD 4 -p tcp ! --dport 80 --syn -j TCPMSS --set-mss 1000
filter INPUT 4 -j NFQUEUE --queue-balance 0:65535
filter INPUT 4 -j NFQUEUE --queue-balance :
filter OUTPUT 4 -m cgroup -j ACCEPT
filter OUTPUT 4 -m cgroup --cgroup 1 --path / -j ACCEPT
filter OUTPUT 4 -m cgroup -m cgroup --path / --cgroup 1 -j ACCEPT""".splitlines())))
"""Rules on which the two tools differ, read as legacy reads them (restore_cases' rule): ``-j TCPMSS`` after a
negated tcp match, or -p negated (legacy fails at COMMIT; nft refuses ``! -p tcp`` at the rule and takes ``-p tcp
! --syn``: its tcp match is no xt_tcp for tcpmss_tg4_check to look for SYN in), a rule of two tcp matches (nft
saves them as one), NFQUEUE's 65536 queues (0:65535, and ``:``, its defaults) and a cgroup match of neither or both
of --path and --cgroup (the kernel refuses them, legacy at COMMIT, nft at the rule)."""


@pytest.mark.parametrize("variant", FOLLOWING_LEGACY, ids=_id)
def test_the_parser_decides_as_legacy_where_nft_differs(kernel: None, variant: tuple[str, str, bool, str]) -> None:
    """Legacy's refusal at the COMMIT line (the kernel's) is the rule's line to the parser; nft refuses no rule
    legacy takes, and at the rule's line when it refuses."""
    table, chain, ipv6, rule = variant
    text = f"{HEADS[table]}-A {chain} {rule}\nCOMMIT\n"
    at = text.count("\n") - 1  # (the rule's line; COMMIT's is the next)
    legacy_line, legacy_saved = _restore("legacy", text, ipv6)
    assert legacy_line in (None, at, at + 1)
    nft_line, _ = _restore("nft", text, ipv6)
    assert nft_line in ((None,) if legacy_line is None else (None, at))
    assert _ours(text, ipv6) == (None if legacy_line is None else at, legacy_saved)


BOTH_FAMILIES = (":INPUT ACCEPT [0:0]", "-A INPUT -j DROP", "-A INPUT -j REJECT", "-A INPUT -j LOG",
                 "-I INPUT 1 -6 -j ACCEPT", "-D INPUT -6 -j DROP", "-4 -A INPUT -s 1.2.3.4 -j ACCEPT",
                 "-6 -A INPUT -s fd00::1 -j ACCEPT", "-D INPUT 3 -6", "-A INPUT --ipv4 -j DROP")
"""A file for both restores: -I and -D of a rule, and a line led by a family's word, skipped by the other family's
restore; ``-D CHAIN NUMBER`` deletes whatever word follows."""


@pytest.mark.parametrize("ipv6", [False, True], ids=["ip", "ip6"])
def test_a_file_for_both_families_is_read_as_each_restore_reads_it(kernel: None, ipv6: bool) -> None:
    text = "*filter\n" + "\n".join(BOTH_FAMILIES) + "\nCOMMIT\n"
    legacy = _restore("legacy", text, ipv6)
    assert _restore("nft", text, ipv6) == legacy
    assert _ours(text, ipv6) == legacy
