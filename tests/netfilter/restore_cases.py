"""Inputs whose fate under the real iptables-restore was observed, and that fate: the expected values of
``test_codec_restore_parity`` and what ``tests/kernel/test_restore_parity`` checks again against this machine's tools.

Observed on 2026-11-30 with iptables-legacy-restore v1.8.9 (legacy) and iptables-nft-restore v1.8.9 (nf_tables),
Debian netbase 6.4's /etc/services, each input restored into a fresh network namespace with ``--counters`` (as
kube-proxy restores, and as this parser reads counters) and read back with iptables-save -c. Where the two differ
the case follows legacy (what ``iptables-restore`` is on a node that has not switched) and says what nft does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """``text``: refused at ``line`` (the rule's own, also when the kernel refuses it: legacy then names the
    table's COMMIT line, ``at_commit``), or accepted, when ``saved`` lists lines iptables-save -c prints back."""

    name: str
    text: str
    line: int | None = None
    saved: tuple[str, ...] = ()
    nft_differs: bool = False  # iptables-nft-restore decides the other way (see the case)
    at_commit: bool = False
    ipv6: bool = False  # an ip6tables-restore input (read here with ipv6=True)


FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
NAT = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"


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
         saved=(":INPUT ACCEPT [5:6]", "[0:0] -A INPUT -j ACCEPT", "[0:0] -A INPUT -j DROP")),
]

TABLES_TWICE = [
    # legacy starts a table met again afresh: rules and user chains flushed, the built-in chains' policies kept
    # and their counters cleared (nft resets the policies too: ":INPUT ACCEPT")
    Case("table twice", filter_with(":INPUT DROP [3:4]", ":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j ACCEPT")
         + "*filter\n:FORWARD DROP [0:0]\n:BAR - [0:0]\n-A OUTPUT -j BAR\nCOMMIT\n",
         saved=(":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":BAR - [0:0]",
                "[0:0] -A OUTPUT -j BAR")),
    # ... but the copy it replaces was committed first: what either refuses in it stands (legacy at its line or at
    # its COMMIT; nft at the rule, a jump to no chain at the COMMIT), before anything of the next copy
    Case("table twice, a jump to no chain in the first", NAT + "-A PREROUTING -j NOPE\nCOMMIT\n" + NAT + "COMMIT\n",
         line=6),
    Case("table twice, the other family's address in the first",
         filter_with("-A INPUT -s fd00::1 -j ACCEPT") + filter_with("-A INPUT --bogus"), line=5),
    Case("table twice, the other family's address in the first, IPv6",
         filter_with("-A INPUT -s 10.0.0.1 -j ACCEPT") + filter_with(), line=5, ipv6=True),
    Case("table twice, icmp without its type in the first",
         filter_with("-A INPUT -p icmp -m icmp -j ACCEPT") + filter_with(), line=5),
    Case("table twice, a target out of place in the first",
         filter_with("-A INPUT -j DNAT --to-destination 10.0.0.1") + filter_with(), line=5, at_commit=True),
    Case("table twice, a circle in the first", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A INPUT -j FOO",
                                                        "-A FOO -j BAR", "-A BAR -j FOO") + filter_with(),
         line=9, at_commit=True),
    Case("table twice, a circle no built-in chain reaches in the first",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A FOO -j BAR", "-A BAR -j FOO") + filter_with(),
         saved=(":INPUT ACCEPT [0:0]",)),
]

CHAINS_DELETED = [
    # -X deletes at once: the chain is gone for the lines after it, and only a declared chain without rules goes
    Case("rule into a deleted chain", filter_with(":FOO - [0:0]", "-X FOO", "-A FOO -j ACCEPT"), line=7),
    Case("deleted twice", filter_with(":FOO - [0:0]", "-X FOO", "-X FOO"), line=7),
    Case("undeclared chain deleted", filter_with("-X FOO"), line=5),
    Case("chain with rules deleted", filter_with(":FOO - [0:0]", "-A FOO -j ACCEPT", "-X FOO"), line=7),
    Case("chain declared again after -X", filter_with(":FOO - [0:0]", "-X FOO", ":FOO - [0:0]", "-A FOO -j DROP"),
         saved=(":FOO - [0:0]", "[0:0] -A FOO -j DROP")),
    Case("chain made by -N after -X", filter_with(":FOO - [0:0]", "-X FOO", "-N FOO"), saved=(":FOO - [0:0]",)),
    Case("chain flushed, then deleted", filter_with(":FOO - [0:0]", "-A FOO -j ACCEPT", "-F FOO", "-X FOO"),
         saved=(":INPUT ACCEPT [0:0]",)),
    # ... nor one a rule still jumps to (legacy: libiptc's EMLINK, "line N failed"; nft: CHAIN_DEL's EBUSY), and a
    # jump to a chain deleted is a jump to no target (legacy: "Couldn't load target `FOO'"; nft fails at COMMIT)
    Case("chain a rule jumps to deleted", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-X FOO"), line=7),
    Case("chain a rule goes to deleted", filter_with(":FOO - [0:0]", "-A INPUT -g FOO", "-X FOO"), line=7),
    Case("chain a user chain jumps to deleted", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A FOO -j BAR", "-X BAR"),
         line=8),
    Case("chain deleted after its jump is zeroed", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-Z", "-X FOO"),
         line=8),
    Case("chain deleted after its jump is flushed", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-F INPUT",
                                                               "-X FOO"), saved=(":INPUT ACCEPT [0:0]",)),
    Case("chain deleted after its jump is deleted",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A INPUT -j DROP", "-D INPUT -j FOO", "-X FOO"),
         saved=("[0:0] -A INPUT -j DROP",)),
    Case("chain deleted after its jump is deleted by number",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-D INPUT 1", "-X FOO"), saved=(":INPUT ACCEPT [0:0]",)),
    Case("chain deleted after the chain that jumps to it",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A FOO -j BAR", "-F FOO", "-X FOO", "-X BAR"),
         saved=(":INPUT ACCEPT [0:0]",)),
    Case("rule jumps to a deleted chain", filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -j FOO"), line=7),
    Case("rule goes to a deleted chain", filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -g FOO"), line=7),
    Case("rule jumps to a deleted chain declared again", filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -j FOO",
                                                                     ":FOO - [0:0]"), line=7),
    Case("rule jumps to a deleted chain made again", filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -j FOO", "-N FOO"),
         line=7),
    # ... at the rule's own line, also when a later line removes the rule again before COMMIT
    Case("rule jumps to a deleted chain, then flushed", filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -j FOO",
                                                                    "-F INPUT"), line=7),
    Case("rule jumps to a deleted chain, then deleted by number",
         filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -j FOO", "-D INPUT 1"), line=7),
    Case("rule jumps to a deleted chain, then replaced",
         filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -j FOO", "-R INPUT 1 -j ACCEPT"), line=7),
    Case("rule inserted with a jump to a deleted chain, then flushed",
         filter_with(":FOO - [0:0]", "-X FOO", "-I INPUT -j FOO", "-F"), line=7),
    Case("rule replaced by a jump to a deleted chain, then flushed",
         filter_with(":FOO - [0:0]", "-A INPUT -j ACCEPT", "-X FOO", "-R INPUT 1 -j FOO", "-F INPUT"), line=8),
    Case("rule with counters jumps to a deleted chain, then flushed",
         filter_with(":FOO - [0:0]", "-X FOO", "[1:2] -A INPUT -j FOO", "-F INPUT"), line=7),
    # what -X checks is kept up to date by the rules added and removed after an earlier -X
    Case("chain jumped to after another's -X, deleted",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-X BAR", "-A INPUT -j FOO", "-X FOO"), line=9),
    Case("chain jumped to after another's -X, jump flushed, deleted",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-X BAR", "-A INPUT -j FOO", "-F INPUT", "-X FOO"),
         saved=(":INPUT ACCEPT [0:0]",)),
    Case("chain jumped to after another's -X, jump deleted, deleted",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-X BAR", "-A INPUT -j FOO", "-A INPUT -j DROP",
                     "-D INPUT -j FOO", "-X FOO"), saved=("[0:0] -A INPUT -j DROP",)),
    Case("chain jumped to by a rule inserted after another's -X, deleted",
         filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-X BAR", "[1:2] -I INPUT -j FOO", "-X FOO"), line=9),
    # -X alone deletes every user chain of the table, each as -X NAME would (nft cannot delete a chain whose jump
    # was flushed in the same batch: "CHAIN_DEL failed (Device or resource busy)")
    Case("every user chain deleted", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-X", "-A INPUT -j ACCEPT"),
         saved=("[0:0] -A INPUT -j ACCEPT",)),
    Case("every user chain deleted, none declared", filter_with("-X", "-X"), saved=(":INPUT ACCEPT [0:0]",)),
    Case("every user chain deleted, one with rules", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A BAR -j ACCEPT",
                                                                 "-X"), line=8),
    Case("every user chain deleted, one jumped to", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A INPUT -j FOO",
                                                                "-X"), line=8),
    Case("every chain flushed, then every user chain deleted",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j ACCEPT", "-F", "-X"),
         saved=(":INPUT ACCEPT [0:0]",), nft_differs=True),
    Case("every chain flushed, then a chain jumped to deleted",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-F", "-X FOO"), saved=(":INPUT ACCEPT [0:0]",),
         nft_differs=True),
    Case("every user chain deleted, then a jump to one", filter_with(":FOO - [0:0]", "-X", "-A INPUT -j FOO"), line=7),
    Case("every user chain deleted, then a jump to one flushed",
         filter_with(":FOO - [0:0]", "-X", "-A INPUT -j FOO", "-F"), line=7),
]

CHAINS_RENAMED = [
    # -E renames a user chain and every jump to it (legacy; nft v1.8.9 cannot rename a chain the same input made:
    # "CHAIN_RENAME failed (No such file or directory)"), and refuses what -X and -N refuse
    Case("chain renamed, with its jumps", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j ACCEPT",
                                                      "-E FOO BAR"),
         saved=(":BAR - [0:0]", "[0:0] -A INPUT -j BAR", "[0:0] -A BAR -j ACCEPT"), nft_differs=True),
    Case("chain renamed by its long option, its goto and counters kept",
         filter_with(":FOO - [0:0]", "[3:4] -A FOO -j RETURN", "-A INPUT -p tcp -g FOO -m comment --comment x",
                     "--rename-chain FOO BAR", "-A INPUT -j BAR"),
         saved=("[3:4] -A BAR -j RETURN", "[0:0] -A INPUT -p tcp -m comment --comment x -g BAR",
                "[0:0] -A INPUT -j BAR"), nft_differs=True),
    Case("chain renamed to a deleted chain's name", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-X BAR", "-E FOO BAR",
                                                                "-A INPUT -j BAR"),
         saved=(":BAR - [0:0]", "[0:0] -A INPUT -j BAR"), nft_differs=True),
    Case("renamed chain's jump flushed, then deleted",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-E FOO BAR", "-F INPUT", "-X BAR", "-A OUTPUT -j ACCEPT"),
         saved=("[0:0] -A OUTPUT -j ACCEPT",), nft_differs=True),
    Case("renamed chain jumped to, deleted", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-E FOO BAR", "-X BAR"),
         line=8),
    Case("chain renamed to an existing chain", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-E FOO BAR"), line=7),
    Case("chain renamed to a built-in chain", filter_with(":FOO - [0:0]", "-E FOO INPUT"), line=6),
    Case("built-in chain renamed", filter_with("-E INPUT BAR"), line=5),
    Case("undeclared chain renamed", filter_with("-E FOO BAR"), line=5),
    Case("deleted chain renamed", filter_with(":FOO - [0:0]", "-X FOO", "-E FOO BAR"), line=7),
    Case("chain renamed without a new name", filter_with(":FOO - [0:0]", "-E FOO"), line=6),
    # ... and the rules before it that name OLD or NEW keep what they were at their lines (legacy loaded their
    # targets there): a jump to no chain yet is refused at its line, a target extension stays one (nft cannot
    # rename: "CHAIN_RENAME failed")
    Case("chain renamed to a name jumped to before", filter_with(":FOO - [0:0]", "-A INPUT -j BAR", "-E FOO BAR"),
         line=6),
    Case("chain renamed after a jump before its declaration",
         filter_with("-A INPUT -j FOO", ":FOO - [0:0]", "-E FOO BAR"), line=5),
    Case("chain renamed to an extension a rule used with options",
         filter_with(":FOO - [0:0]", "-A INPUT -j LOG --log-prefix x", "-E FOO LOG", "-A LOG -j ACCEPT"),
         saved=(":LOG - [0:0]", "[0:0] -A INPUT -j LOG --log-prefix x", "[0:0] -A LOG -j ACCEPT"), nft_differs=True),
    Case("chain renamed to an extension its own rule used with options",
         filter_with(":FOO - [0:0]", "-A FOO -j LOG --log-prefix x", "-E FOO LOG", "-A INPUT -j LOG"),
         saved=(":LOG - [0:0]", "[0:0] -A INPUT -j LOG", "[0:0] -A LOG -j LOG --log-prefix x"), nft_differs=True),
    Case("chain renamed to MARK, used with its option before",
         filter_with(":FOO - [0:0]", "-A INPUT -j MARK --set-mark 1", "-E FOO MARK"),
         saved=(":MARK - [0:0]", "[0:0] -A INPUT -j MARK --set-xmark 0x1/0xffffffff"), nft_differs=True),
    Case("chain renamed to MARK, used alone before", filter_with(":FOO - [0:0]", "-A INPUT -j MARK", "-E FOO MARK"),
         line=6),
    Case("chain renamed to an extension a rule used, then deleted",
         filter_with(":FOO - [0:0]", "-A INPUT -j LOG", "-E FOO LOG", "-X LOG"), saved=("[0:0] -A INPUT -j LOG",),
         nft_differs=True),
    Case("chain renamed to an extension a rule used with options, renamed again",
         filter_with(":FOO - [0:0]", "-A INPUT -j LOG --log-prefix x", "-E FOO LOG", "-A LOG -j DROP", "-E LOG BAR"),
         saved=(":BAR - [0:0]", "[0:0] -A INPUT -j LOG --log-prefix x", "[0:0] -A BAR -j DROP"), nft_differs=True),
    # a chain an -E named MARK shadows no extension (MARK's option is still needed); one declared under an
    # extension's name shadows it also once renamed away ("Couldn't load target `LOG'"), and back again
    Case("chain renamed to MARK, used alone after", filter_with(":FOO - [0:0]", "-E FOO MARK", "-A OUTPUT -j MARK"),
         line=7),
    Case("chain declared LOG renamed away, LOG used alone", filter_with(":LOG - [0:0]", "-E LOG FOO",
                                                                       "-A OUTPUT -j LOG"), line=7),
    Case("chain declared LOG renamed away, LOG used with options",
         filter_with(":LOG - [0:0]", "-E LOG FOO", "-A OUTPUT -j LOG --log-prefix x"), line=7),
    Case("chain declared MARK renamed away and back, MARK used alone",
         filter_with(":MARK - [0:0]", "-E MARK FOO", "-E FOO MARK", "-A OUTPUT -j MARK"),
         saved=(":MARK - [0:0]", "[0:0] -A OUTPUT -j MARK"), nft_differs=True),
    Case("chain renamed to a name renamed away",
         filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-E FOO BAR", ":BAZ - [0:0]", "-E BAZ FOO",
                     "-A OUTPUT -j FOO"),
         saved=(":BAR - [0:0]", ":FOO - [0:0]", "[0:0] -A INPUT -j BAR", "[0:0] -A OUTPUT -j FOO"), nft_differs=True),
]

COUNTERS = [
    # a line's [packets:bytes] ends at its first "]"; each number is read as sscanf %llu reads it
    Case("prefix then -A", filter_with("[1:2] -A INPUT -j ACCEPT"), saved=("[1:2] -A INPUT -j ACCEPT",)),
    Case("prefix touching -A", filter_with("[1:2]-A INPUT -j ACCEPT"), saved=("[1:2] -A INPUT -j ACCEPT",)),
    Case("prefix with a blank inside", filter_with("[ 1:2]\t-A INPUT -j ACCEPT"), saved=("[1:2] -A INPUT -j ACCEPT",)),
    Case("prefix with a third number", filter_with("[1:2:3] -A INPUT -j ACCEPT"), saved=("[1:2] -A INPUT -j ACCEPT",)),
    Case("prefix with a sign", filter_with("[+5:2] -A INPUT -j ACCEPT"), saved=("[5:2] -A INPUT -j ACCEPT",)),
    Case("prefix of a negative count", filter_with("[-1:2] -A INPUT -j ACCEPT"),
         saved=("[18446744073709551615:2] -A INPUT -j ACCEPT",)),
    Case("prefix too large", filter_with("[18446744073709551616:2] -A INPUT -j ACCEPT"),
         saved=("[18446744073709551615:2] -A INPUT -j ACCEPT",)),
    Case("prefix of hex", filter_with("[0x10:2] -A INPUT -j ACCEPT"), saved=("[0:2] -A INPUT -j ACCEPT",)),
    Case("prefix not numeric", filter_with("[x:2] -A INPUT -j ACCEPT"), line=5),
    Case("prefix without bytes", filter_with("[1:] -A INPUT -j ACCEPT"), line=5),
    Case("prefix without a colon", filter_with("[1] -A INPUT -j ACCEPT"), line=5),
    Case("prefix without ]", filter_with("[1:2 -A INPUT -j ACCEPT"), line=5),
    Case("prefix twice", filter_with("[1:2] [3:4] -A INPUT -j ACCEPT"), line=5),
    Case("prefix and text after it", filter_with("[1:2]x -A INPUT -j ACCEPT"), line=5),
    Case("prefix alone", filter_with("[1:2]"), line=5),
    # inside a rule a counter is a stray word ("Bad argument `[1:2]'"), unless it is an option's value
    Case("counter token inside a rule", filter_with("-A INPUT -p tcp [1:2] -j ACCEPT"), line=5),
    Case("counter token after the target", filter_with("-A INPUT -j ACCEPT [1:2]"), line=5),
    # single quotes do not quote: they are characters of the value (so 'a b' is two words, refused by both)
    Case("single-quoted comment", filter_with("-A INPUT -m comment --comment 'a' -j ACCEPT"),
         saved=("[0:0] -A INPUT -m comment --comment \"\\'a\\'\" -j ACCEPT",)),
    Case("counter-like comment", filter_with('-A INPUT -m comment --comment [1:2] -j ACCEPT'),
         saved=('[0:0] -A INPUT -m comment --comment "[1:2]" -j ACCEPT',)),
    # ... which no target check may take for the counters (legacy refuses the DNAT at COMMIT, nft at the rule)
    Case("counter-like comment of a misplaced target",
         filter_with("-A INPUT -m comment --comment [1:2] -j DNAT --to-destination 10.0.0.1"), line=5,
         at_commit=True),
    # -c anywhere in -A/-I/-R, once; -P takes counters too (legacy sets them; nft v1.8.9 leaves 0), -D and the
    # chain commands none ("Illegal option `-c' with this command")
    Case("-c after the target", filter_with("-A INPUT -j ACCEPT -c 1 2"), saved=("[1:2] -A INPUT -j ACCEPT",)),
    Case("-c with a comma", filter_with("-A INPUT -j ACCEPT -c 1,2"), saved=("[1:2] -A INPUT -j ACCEPT",)),
    Case("-c missing its bytes", filter_with("-A INPUT -j ACCEPT -c 3"), line=5),
    Case("-c not numeric", filter_with("-A INPUT -j ACCEPT -c x 2"), line=5),
    Case("-c twice", filter_with("-A INPUT -c 1 2 -c 3 4 -j ACCEPT"), line=5),
    Case("prefix and -c", filter_with("[1:2] -A INPUT -c 3 4 -j ACCEPT"), line=5),
    Case("prefix before -I", filter_with("-A INPUT -j DROP", "[1:2] -I INPUT -j ACCEPT"),
         saved=("[1:2] -A INPUT -j ACCEPT", "[0:0] -A INPUT -j DROP")),
    Case("prefix before -P", filter_with("[7:8] -P INPUT DROP"), saved=(":INPUT DROP [7:8]",)),
    Case("-c in -P", filter_with("-P INPUT DROP -c 7 8"), saved=(":INPUT DROP [7:8]",)),
    Case("prefix before -D", filter_with("-A INPUT -j ACCEPT", "[1:2] -D INPUT -j ACCEPT"), line=6),
    Case("-c in -D", filter_with("-A INPUT -j ACCEPT", "-D INPUT -j ACCEPT -c 1 2"), line=6),
    Case("prefix before -F", filter_with("[1:2] -F INPUT"), line=5),
    Case("prefix before -N", filter_with("[1:2] -N BAR"), line=5),
    # a declaration's counters: sscanf "[%llu:%llu]" for a built-in chain; a user chain's are not read
    Case("built-in chain counters not numeric", FILTER.replace(":INPUT ACCEPT [0:0]", ":INPUT ACCEPT [x:2]")
         + "COMMIT\n", line=2),
    Case("built-in chain counters with a third number", FILTER.replace(":INPUT ACCEPT [0:0]", ":INPUT ACCEPT [1:2:3]")
         + "COMMIT\n", saved=(":INPUT ACCEPT [1:2]",)),
    Case("user chain counters not numeric", filter_with(":FOO - [x:2]"), saved=(":FOO - [0:0]",)),
    Case("user chain counters", filter_with(":FOO - [1:2]"), saved=(":FOO - [0:0]",)),
    Case("user chain without counters", filter_with(":FOO -"), saved=(":FOO - [0:0]",)),
    # ... and a built-in chain's must be there (legacy: "invalid policy counters for chain 'INPUT'"; without --counters
    # legacy takes it)
    Case("built-in chain without counters", FILTER.replace(":INPUT ACCEPT [0:0]", ":INPUT ACCEPT") + "COMMIT\n",
         line=2),
]

JUMP_OPTIONS = [
    # a chain or a verdict takes no options: one no loaded match knows is 'unknown option "--foo"'
    Case("option after a jump to a chain", filter_with(":FOO - [0:0]", "-A INPUT -j FOO --foo"), line=6),
    Case("option with a value after a jump", filter_with(":FOO - [0:0]", "-A INPUT -j FOO --foo 3"), line=6),
    Case("option after a goto", filter_with(":FOO - [0:0]", "-A INPUT -g FOO --foo"), line=6),
    Case("option after a verdict", filter_with("-A INPUT -j ACCEPT --foo"), line=5),
    Case("port option after a jump, no protocol", filter_with(":FOO - [0:0]", "-A INPUT -j FOO --dport 3"), line=6),
    # ... but a match's option may come after the target, the protocol's match too
    Case("protocol's option after a jump", filter_with(":FOO - [0:0]", "-A INPUT -p tcp -j FOO --dport 3"),
         saved=("[0:0] -A INPUT -p tcp -m tcp --dport 3 -j FOO",)),
    Case("earlier match's option after a verdict", filter_with("-A INPUT -m comment -j ACCEPT --comment x"),
         saved=("[0:0] -A INPUT -m comment --comment x -j ACCEPT",)),
    Case("target extension's option", filter_with("-A INPUT -j LOG --log-prefix x"),
         saved=("[0:0] -A INPUT -j LOG --log-prefix x",)),
]


def nat_with(*lines: str) -> str:
    return NAT + "".join(line + "\n" for line in lines) + "COMMIT\n"


TARGET_OPTIONS = [
    # an option goes to the extension loaded last that knows it: one the target does not know, to the matches
    # before it or to the protocol's own match (loaded then)
    Case("protocol's port after DNAT", nat_with("-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4 --dport 80"),
         saved=("[0:0] -A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 1.2.3.4",)),
    Case("protocol's port after MARK", filter_with("-A INPUT -p tcp -j MARK --set-xmark 0x1/0x1 --dport 80"),
         saved=("[0:0] -A INPUT -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0x1",)),
    Case("--syn after MARK", filter_with("-A INPUT -p tcp -j MARK --set-xmark 0x1/0x1 --syn"),
         saved=("[0:0] -A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j MARK --set-xmark 0x1/0x1",)),
    Case("protocol's port after MARK, a match between",
         filter_with("-A INPUT -p udp -m mark --mark 0x1 -j MARK --set-xmark 0x2/0xffffffff --sport 5"),
         saved=("[0:0] -A INPUT -p udp -m mark --mark 0x1 -m udp --sport 5 -j MARK --set-xmark 0x2/0xffffffff",)),
    # each option of a match once in that match ("Only one `--destination-port' allowed", 'option "--mark" can only
    # be used once'), a match loaded again taking its own
    Case("port twice, once after the target", filter_with("-A INPUT -p tcp --dport 80 -j DROP --dport 81"), line=5),
    Case("port twice by its two names", filter_with("-A INPUT -p tcp --dport 80 --destination-port 81 -j DROP"),
         line=5),
    Case("mark twice, once after the target", filter_with("-A INPUT -m mark --mark 1 -j ACCEPT --mark 2"), line=5),
    Case("--syn and --tcp-flags", filter_with("-A INPUT -p tcp --syn --tcp-flags SYN SYN -j ACCEPT"), line=5),
    Case("multiport's two lists", filter_with("-A INPUT -p tcp -m multiport --dports 80 --sports 81 -j ACCEPT"),
         line=5),
    Case("port in the protocol's match and in -m udp",
         filter_with("-A INPUT -p udp --dport 80 -m udp --dport 81 -j ACCEPT"),
         saved=("[0:0] -A INPUT -p udp -m udp --dport 80 -m udp --dport 81 -j ACCEPT",)),
]


def _refused_or_saved(rule: str, text: str, line: int, saved: str | None) -> Case:
    """The case RULE over TEXT: refused at LINE when SAVED is None, else saved back as the one rule SAVED."""
    if saved is None:
        return Case(rule, text, line=line)
    return Case(rule, text, saved=(f"[0:0] {saved}",))


def nat_case(rule: str, saved: str | None = None) -> Case:
    """``-A PREROUTING RULE`` in table nat (POSTROUTING for SNAT and MASQUERADE): refused at its line, or saved back
    as ``-A PREROUTING SAVED``."""
    chain = "POSTROUTING" if "SNAT" in rule or "MASQUERADE" in rule else "PREROUTING"
    return _refused_or_saved(rule, nat_with(f"-A {chain} {rule}"), 6, saved and f"-A {chain} {saved}")


# A NAT target's port: the first a number in C's bases or (when the text does not start with a digit) all of it
# a service name of any protocol; the last of a range a number only
NAT_PORTS = [
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:http", "-p tcp -j DNAT --to-destination 10.0.0.1:80"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:bootps", "-p tcp -j DNAT --to-destination 10.0.0.1:67"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:ftp-data", "-p tcp -j DNAT --to-destination 10.0.0.1:20"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:80-0x60", "-p tcp -j DNAT --to-destination 10.0.0.1:80-96"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:+80", "-p tcp -j DNAT --to-destination 10.0.0.1:80"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:80-http"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:http-https"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:Http"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:90-80"),
    nat_case("-p tcp -j REDIRECT --to-ports http", "-p tcp -j REDIRECT --to-ports 80"),
    nat_case("-p udp -j REDIRECT --to-ports bootps", "-p udp -j REDIRECT --to-ports 67"),
    nat_case("-p tcp -j REDIRECT --to-ports 010", "-p tcp -j REDIRECT --to-ports 8"),
    nat_case("-p tcp -j REDIRECT --to-ports 80-http"),
    nat_case("-p tcp -j MASQUERADE --to-ports http", "-p tcp -j MASQUERADE --to-ports 80"),
    nat_case("-p tcp -j SNAT --to-source 10.0.0.1:http", "-p tcp -j SNAT --to-source 10.0.0.1:80"),
    # ... port 0 too, alone or starting a range (the kernel maps the port into [0, 0])
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:0", "-p tcp -j DNAT --to-destination 10.0.0.1:0"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:0-0", "-p tcp -j DNAT --to-destination 10.0.0.1:0"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:0x0-80", "-p tcp -j DNAT --to-destination 10.0.0.1:0-80"),
    nat_case("-p udp -j DNAT --to-destination 10.0.0.1:00", "-p udp -j DNAT --to-destination 10.0.0.1:0"),
    nat_case("-p icmp -j DNAT --to-destination 10.0.0.1:0", "-p icmp -j DNAT --to-destination 10.0.0.1:0"),
    nat_case("-p tcp -j DNAT --to-destination 10.0.0.1:80-0"),
    nat_case("-p tcp -j SNAT --to-source 10.0.0.1:0-10", "-p tcp -j SNAT --to-source 10.0.0.1:0-10"),
    nat_case("-p tcp -j REDIRECT --to-ports 0", "-p tcp -j REDIRECT --to-ports 0"),
    nat_case("-p tcp -j REDIRECT --to-ports 0-0", "-p tcp -j REDIRECT --to-ports 0"),
    nat_case("-p tcp -j MASQUERADE --to-ports 0-10", "-p tcp -j MASQUERADE --to-ports 0-10"),
]


def port_case(rule: str, saved: str | None = None) -> Case:
    """``-A INPUT RULE -j ACCEPT``: refused at its line, or saved back as ``-A INPUT SAVED -j ACCEPT``."""
    text = filter_with(f"-A INPUT {rule} -j ACCEPT")
    return _refused_or_saved(rule, text, 5, saved and f"-A INPUT {saved} -j ACCEPT")


# A port by service name (Debian netbase's /etc/services), printed back as its number. The tcp and sctp matches
# and multiport read a number in C's bases or the name of their protocol (multiport: the rule's -p); the udp and
# dccp matches ask getaddrinfo, which reads a decimal number (wrapping at 65536) or a tcp or udp name, and lets a
# range descend (conntrack's ports too). Names are case-sensitive.
PORT_NAMES = [
    port_case("-p tcp --dport http", "-p tcp -m tcp --dport 80"),
    port_case("-p tcp --sport ssh", "-p tcp -m tcp --sport 22"),
    port_case("-p tcp --dport 80:http", "-p tcp -m tcp --dport 80"),
    port_case("-p tcp --dport http:https", "-p tcp -m tcp --dport 80:443"),
    port_case("-p tcp -m multiport --dports http,https", "-p tcp -m multiport --dports 80,443"),
    port_case("-p tcp -m multiport --dports 22:ssh"),
    port_case("-p tcp -m multiport --dports ssh:http", "-p tcp -m multiport --dports 22:80"),
    port_case("-p tcp -m multiport --ports http", "-p tcp -m multiport --ports 80"),
    port_case("-p udp --dport domain", "-p udp -m udp --dport 53"),
    port_case("-p sctp --dport http"),
    port_case("-p tcp --dport :http", "-p tcp -m tcp --dport 0:80"),
    port_case("-p tcp --dport http:", "-p tcp -m tcp --dport 80:65535"),
    port_case("-p dccp --dport http", "-p dccp -m dccp --dport 80"),
    port_case("-p tcp --dport Http"),
    port_case("-p tcp --dport www", "-p tcp -m tcp --dport 80"),
    port_case("-p tcp --dport 0x50", "-p tcp -m tcp --dport 80"),
    port_case("-p tcp --dport 080"),
    port_case("-p 6 --dport http", "-p tcp -m tcp --dport 80"),
    port_case("-p TCP --dport http", "-p tcp -m tcp --dport 80"),
    port_case("-p dccp --dport bootps", "-p dccp -m dccp --dport 67"),
    port_case("-p dccp --dport Http"),
    port_case("-p dccp --dport 010", "-p dccp -m dccp --dport 10"),
    port_case("-p tcp --dport 010", "-p tcp -m tcp --dport 8"),
    port_case("-p tcp --dport 0x10:0x20", "-p tcp -m tcp --dport 16:32"),
    port_case("-p udp -m multiport --dports bootps,http"),
    port_case("-p udp -m multiport --dports bootps", "-p udp -m multiport --dports 67"),
    port_case("-p sctp -m multiport --dports http"),
    port_case("-p dccp -m multiport --dports http"),
    port_case("-p tcp -m multiport --dports 80:80"),
    port_case("-p tcp -m multiport --dports 010,0x10", "-p tcp -m multiport --dports 8,16"),
    port_case("-p tcp --dport 80:80", "-p tcp -m tcp --dport 80"),
    port_case("-p tcp ! --dport http", "-p tcp -m tcp ! --dport 80"),
    port_case("-p tcp --dport 65536"),
    port_case("-p udp --dport http", "-p udp -m udp --dport 80"),
    port_case("-p udp --dport amqp", "-p udp -m udp --dport 5672"),
    port_case("-p sctp --dport amqp", "-p sctp -m sctp --dport 5672"),
    port_case("-p tcp --dport amqp", "-p tcp -m tcp --dport 5672"),
    port_case("-p sctp --dport bootps"),
    port_case("-p udp --dport 0x10"),
    port_case("-p udp --dport 010", "-p udp -m udp --dport 10"),
    port_case("-p udp --dport 080", "-p udp -m udp --dport 80"),
    port_case("-p sctp --dport 010", "-p sctp -m sctp --dport 8"),
    port_case("-p udp --dport Http"),
    port_case("-p udp --dport 80:http", "-p udp -m udp --dport 80"),
    port_case("-p udp --dport http:79", "-p udp -m udp --dport 80:79"),
    port_case("-p tcp --dport http:79"),
    port_case("-p udp --dport :http", "-p udp -m udp --dport 0:80"),
    port_case("-p udp --dport 65536", "-p udp -m udp --dport 0"),
    port_case("-p udp --dport +80", "-p udp -m udp --dport 80"),
    port_case("-p tcp --dport +80", "-p tcp -m tcp --dport 80"),
    port_case("-p sctp -m multiport --dports amqp", "-p sctp -m multiport --dports 5672"),
    port_case("-p udp --sport rtmp"),
    port_case("-p tcp --dport bootps"),
    port_case("-p udp --dport bootps", "-p udp -m udp --dport 67"),
    port_case("-p tcp -m multiport --dports 80,bootps"),
    port_case("-p udp -m multiport --dports 1:65535", "-p udp -m multiport --dports 1:65535"),
    port_case("-p udp --dport 99999999999999999999999"),
    port_case("-p udp --sport -1"),
    # a protocol's match in a rule of another protocol: the kernel refuses it (legacy names the COMMIT line)
    Case("-m udp without -p", filter_with("-A INPUT -m udp --dport domain -j ACCEPT"), line=5, at_commit=True),
    Case("-m udp with -p tcp", filter_with("-A INPUT -p tcp -m udp --dport 80 -j ACCEPT"), line=5, at_commit=True),
    Case("-m udp with ! -p udp", filter_with("-A INPUT ! -p udp -m udp --dport 80 -j ACCEPT"), line=5,
         at_commit=True, nft_differs=True),
    Case("-m icmp without -p", filter_with("-A INPUT -m icmp --icmp-type 8 -j ACCEPT"), line=5, at_commit=True),
    port_case("-p 17 -m udp --dport 80", "-p udp -m udp --dport 80"),
    # ... and multiport in a rule of no protocol with ports: iptables refuses it
    port_case("-m multiport --dports 80"),
    port_case("! -p tcp -m multiport --dports 80"),
    port_case("-p udplite --dport 80"),  # (no udplite match: 'unknown option "--dport"')
    port_case("-p udplite -m udplite --dport 80"),  # ... nor to load: "Couldn't load match `udplite'" (both)
    Case("-m udplite alone", filter_with("-A INPUT -m udplite -j ACCEPT"), line=5),
    port_case("-p 136 --dport 80"),
    port_case("-p udplite -m multiport --dports 0x10", "-p udplite -m multiport --dports 16"),
    port_case("-p udplite -m multiport --dports domain"),
    port_case("-p udp --dport -80"),
    port_case("-p udp --dport 2147483647", "-p udp -m udp --dport 65535"),
    port_case("-p udp --dport 2147483648"),
    port_case("-p udp --dport 4294967376", "-p udp -m udp --dport 80"),
    port_case("-p dccp --dport -80"),
    port_case("-p tcp -m conntrack --ctorigdstport 2147483648"),
    # conntrack's ports are read as the udp match reads them
    port_case("-p tcp -m conntrack --ctorigdstport 90:80", "-p tcp -m conntrack --ctorigdstport 90:80"),
    port_case("-p tcp -m conntrack --ctorigdstport 010", "-p tcp -m conntrack --ctorigdstport 10"),
    port_case("-p tcp -m conntrack --ctorigsrcport bootps", "-p tcp -m conntrack --ctorigsrcport 67"),
    port_case("-p tcp -m conntrack --ctreplsrcport 0x10"),
    port_case("-p tcp -m conntrack --ctrepldstport :http", "-p tcp -m conntrack --ctrepldstport 0:80"),
    port_case("-p tcp -m conntrack --ctrepldstport http:", "-p tcp -m conntrack --ctrepldstport 80:65535"),
    port_case("-p tcp -m conntrack --ctorigdstport 65536", "-p tcp -m conntrack --ctorigdstport 0"),
    port_case("-p tcp -m conntrack --ctorigdstport 80:80", "-p tcp -m conntrack --ctorigdstport 80"),
    port_case("-p tcp -m conntrack ! --ctorigdstport domain", "-p tcp -m conntrack ! --ctorigdstport 53"),
]



def recent_case(options: str, saved: str | None = None, *, at_commit: bool = False) -> Case:
    """``-A INPUT -m recent OPTIONS -j ACCEPT``: refused at its line (``at_commit``: by the kernel), or saved back
    as ``-A INPUT -m recent SAVED --mask 255.255.255.255 --rsource -j ACCEPT``."""
    text = filter_with(f"-A INPUT -m recent {options} -j ACCEPT")
    if saved is None:
        return Case(options, text, line=5, at_commit=at_commit)
    return Case(options, text, saved=(f"[0:0] -A INPUT -m recent {saved} --mask 255.255.255.255 --rsource -j ACCEPT",))


# libxt_recent takes one command per match, --rttl only with a check, --reap only with --seconds ('option "--set"
# cannot be used together with "--rcheck"', "you must specify one of `--set', ...", 'option "--reap" also requires
# "--seconds"'), --seconds 1-4294967295 and --hitcount as xtables_strtoui reads them; the kernel (xt_recent's
# checkentry: legacy fails at COMMIT, nft at the rule) takes --seconds, --hitcount and --reap only with a check,
# a hitcount up to 65535 (older kernels: 255) and a list name that proc can hold (cut to 199 characters)
RECENT = [
    recent_case("--set --rcheck"),
    recent_case("--set --update"),
    recent_case("--set --remove"),
    recent_case("--rcheck --update"),
    recent_case("--update --remove"),
    recent_case("! --rcheck --set"),
    recent_case("--name x"),
    recent_case("--seconds 10"),
    Case("recent without options", filter_with("-A INPUT -m recent -j ACCEPT"), line=5),
    Case("recent command after the target", filter_with("-A INPUT -m recent --rcheck -j ACCEPT --set"), line=5),
    Case("recent twice, the second with two commands",
         filter_with("-A INPUT -m recent --set -m recent --set --rcheck -j ACCEPT"), line=5),
    Case("recent twice, a command each", filter_with("-A INPUT -m recent --rcheck -m recent --set -j ACCEPT"),
         saved=("[0:0] -A INPUT -m recent --rcheck --name DEFAULT --mask 255.255.255.255 --rsource -m recent --set "
                "--name DEFAULT --mask 255.255.255.255 --rsource -j ACCEPT",)),
    recent_case("--set --rttl"),
    recent_case("--remove --rttl"),
    recent_case("--rcheck --rttl", "--rcheck --rttl --name DEFAULT"),
    recent_case("--rcheck --reap"),
    recent_case("--rcheck --reap --seconds 10", "--rcheck --seconds 10 --reap --name DEFAULT"),
    recent_case("--rcheck --seconds 0"),
    recent_case("--rcheck --seconds 4294967296"),
    recent_case("--rcheck --seconds 5x"),
    recent_case("--rcheck --hitcount -1"),
    recent_case("--rcheck --hitcount -0"),  # (xtables_strtoul refuses a leading -, even of zero)
    recent_case("--rcheck --hitcount -00"),
    recent_case('--rcheck --hitcount " -0"'),
    recent_case("--rcheck --seconds -0x10"),
    recent_case("--rcheck --seconds 4294967295", "--rcheck --seconds -1 --name DEFAULT"),
    recent_case("--rcheck --seconds +5", "--rcheck --seconds 5 --name DEFAULT"),
    recent_case("--update --seconds 0x10 --hitcount 010", "--update --seconds 16 --hitcount 8 --name DEFAULT"),
    recent_case("--rcheck --hitcount 0", "--rcheck --name DEFAULT"),
    recent_case("--set --seconds 10", at_commit=True),
    recent_case("--set --seconds 10 --reap", at_commit=True),
    recent_case("--remove --seconds 10", at_commit=True),
    recent_case("--set --hitcount 2", at_commit=True),
    recent_case("--remove --hitcount 2", at_commit=True),
    recent_case("--set --hitcount 0", "--set --name DEFAULT"),
    recent_case("--rcheck --hitcount 100000", at_commit=True),
    recent_case('--set --name ""', at_commit=True),
    recent_case("--set --name a/b", at_commit=True),
    recent_case("--set --name .", at_commit=True),
    recent_case("--set --name ..", at_commit=True),
    recent_case("--set --name ...", "--set --name ..."),
    recent_case("--set --name " + "a" * 200, "--set --name " + "a" * 199),
]

def recent_saved_case(options: str, saved: str) -> Case:
    """``-A INPUT -m recent OPTIONS -j ACCEPT``, saved back as ``-A INPUT -m recent SAVED -j ACCEPT``."""
    return Case(options, filter_with(f"-A INPUT -m recent {options} -j ACCEPT"),
                saved=(f"[0:0] -A INPUT -m recent {saved} -j ACCEPT",))


# libxt_recent prints its --name with plain printf (a blank or a quote as it is: such a line does not read back),
# its --mask as the address it read (getaddrinfo, numeric: inet_aton's forms, so 16 is 0.0.0.16 and 0255 octal)
# and the last of --rsource and --rdest
RECENT_SAVED = [
    recent_case('--set --name "a b"', "--set --name a b"),
    recent_case('--set --name "a\\"b"', '--set --name a"b'),
    recent_case("--set --name -x", "--set --name -x"),
    recent_saved_case("--set --mask 16", "--set --name DEFAULT --mask 0.0.0.16 --rsource"),
    recent_saved_case("--set --mask 0255.0.0.0", "--set --name DEFAULT --mask 173.0.0.0 --rsource"),
    recent_saved_case("--set --mask 1.2.3", "--set --name DEFAULT --mask 1.2.0.3 --rsource"),
    recent_saved_case("--set --mask 0xffffff00", "--set --name DEFAULT --mask 255.255.255.0 --rsource"),
    recent_saved_case("--set --mask 255.255.0.1", "--set --name DEFAULT --mask 255.255.0.1 --rsource"),
    recent_saved_case("--set --rsource --rdest", "--set --name DEFAULT --mask 255.255.255.255 --rdest"),
    recent_saved_case("--set --rdest --rsource", "--set --name DEFAULT --mask 255.255.255.255 --rsource"),
]

# No user chain is named as a standard target (a declaration, -E), nor by -N as any target extension iptables can
# load ("chain name may not clash with target name"); a declaration may take an extension's name, and its chain
# then shadows the extension for the jumps after it
CHAIN_NAMES = [
    *(Case(f"user chain declared as {name}", filter_with(f":{name} - [0:0]"), line=5)
      for name in ("ACCEPT", "DROP", "RETURN", "QUEUE")),
    Case("user chain declared as an extension", filter_with(":LOG - [0:0]", "-A LOG -j ACCEPT", "-A INPUT -j LOG"),
         saved=(":LOG - [0:0]", "[0:0] -A INPUT -j LOG", "[0:0] -A LOG -j ACCEPT")),
    Case("user chain declared as MASQUERADE", filter_with(":MASQUERADE - [0:0]"), saved=(":MASQUERADE - [0:0]",)),
    Case("user chain declared as standard", filter_with(":standard - [0:0]"), saved=(":standard - [0:0]",)),
    *(Case(f"user chain made as {name}", filter_with(f"-N {name}"), line=5)
      for name in ("LOG", "ACCEPT", "MASQUERADE", "standard", "NOTRACK")),
    Case("user chain made as a match's name", filter_with("-N mark"), saved=(":mark - [0:0]",)),
    Case("user chain renamed to a verdict", filter_with(":FOO - [0:0]", "-E FOO DROP"), line=6),
    Case("user chain renamed to an extension", filter_with(":FOO - [0:0]", "-E FOO LOG"), saved=(":LOG - [0:0]",),
         nft_differs=True),
    Case("shadowing chain jumped to with the extension's option",
         filter_with(":LOG - [0:0]", "-A INPUT -j LOG --log-prefix x"), line=6),
    Case("extension used before a chain of its name is declared",
         filter_with("-A INPUT -j LOG --log-prefix x", ":LOG - [0:0]"),
         saved=(":LOG - [0:0]", '[0:0] -A INPUT -j LOG --log-prefix x')),
]

# A jump is to a chain of its table declared before it, a verdict or a target extension (legacy: "Couldn't load
# target `FOO'" at the rule, also when a later line removes it; nft: "Chain 'FOO' does not exist" at COMMIT); a
# goto is to a user chain ("goto 'LOG' is not a chain"); no rule jumps to a built-in chain
JUMPS = [
    Case("jump to an undeclared chain", filter_with("-A INPUT -j KUBE-NOPE"), line=5),
    Case("goto an undeclared chain", filter_with("-A INPUT -g KUBE-NOPE"), line=5),
    Case("jump to a match's name", filter_with("-A INPUT -j mark"), line=5),
    Case("jump before its chain is declared", filter_with("-A INPUT -j FOO", ":FOO - [0:0]"), line=5),
    Case("jump to an undeclared chain, then flushed", filter_with("-A INPUT -j FOO", "-F INPUT"), line=5),
    Case("jump to an undeclared chain, then deleted", filter_with("-A INPUT -j FOO", "-D INPUT 1"), line=5),
    Case("jump to an undeclared chain, then replaced", filter_with("-A INPUT -j FOO", "-R INPUT 1 -j DROP"), line=5),
    Case("jump to an undeclared chain by its long option", filter_with("-A INPUT --jump FOO"), line=5),
    Case("jump to a chain of another table", nat_with(":FOO - [0:0]") + filter_with("-A INPUT -j FOO"), line=12),
    Case("jump to a built-in chain", filter_with("-A INPUT -j OUTPUT"), line=5),
    Case("jump to standard", filter_with("-A INPUT -j standard"), line=5, at_commit=True),
    Case("goto a verdict", filter_with("-A INPUT -g ACCEPT"), line=5),
    Case("goto an extension", filter_with("-A INPUT -g LOG"), line=5),
    # a bad jump is refused at its line before any error after it (legacy loads the target there; nft: at COMMIT)
    Case("jump to an undeclared chain, then a rule into no chain",
         filter_with("-A INPUT -j BAR", "-A NOPE -j DROP"), line=5),
    Case("jump to an undeclared chain, then a bad option", filter_with("-A INPUT -j BAR", "-A INPUT --bogus"), line=5),
    Case("jump to an undeclared chain, then a chain declared twice",
         filter_with(":FOO - [0:0]", "-A INPUT -j BAR", ":FOO - [0:0]"), line=6),
    Case("jump to an undeclared chain, then no COMMIT", FILTER + "-A INPUT -j BAR\n", line=5),
    Case("jump before its chain is declared, then a bad option",
         filter_with("-A INPUT -j FOO", ":FOO - [0:0]", "-A INPUT --bogus"), line=5),
    Case("jump before its chain is declared, then no COMMIT", FILTER + "-A INPUT -j FOO\n:FOO - [0:0]\n", line=5),
    Case("jump to an undeclared chain, then a second table",
         FILTER + "-A INPUT -j BAR\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", line=5),
    Case("jump quoted in a comment", filter_with('-A INPUT -m comment --comment "x -j NOPE" -j ACCEPT'),
         saved=('[0:0] -A INPUT -m comment --comment "x -j NOPE" -j ACCEPT',)),
    Case("jump to a renamed chain's new name", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-E FOO BAR",
                                                          "-A OUTPUT -j BAR"),
         saved=(":BAR - [0:0]", "[0:0] -A INPUT -j BAR", "[0:0] -A OUTPUT -j BAR"), nft_differs=True),
]

# Double quotes only: single quotes are characters (a --comment of two words in them is a stray word, "Bad argument
# `b''"), and a closing quote ends its word ("10.0.0.1"/32 is two words)
QUOTES = [
    Case("single-quoted words of a comment", filter_with("-A INPUT -m comment --comment 'a b' -j ACCEPT"), line=5),
    Case("single-quoted words of a log prefix", filter_with("-A INPUT -j LOG --log-prefix 'a b'"), line=5),
    Case("word after a closing quote", filter_with('-A INPUT -s "10.0.0.1"/32 -j ACCEPT'), line=5),
    Case("word after a quoted comment", filter_with('-A INPUT -m comment --comment "a"b -j ACCEPT'), line=5),
    Case("word after a quote opened inside a comment's word",
         filter_with('-A INPUT -m comment --comment a"b c"d -j ACCEPT'), line=5),
    Case("quoted comment and a bare word", filter_with('-A INPUT -m comment --comment "a b" c -j ACCEPT'), line=5),
    Case("word after a quoted log prefix", filter_with('-A INPUT -j LOG --log-prefix "a"b'), line=5),
    Case("quote opened inside a word", filter_with('-A INPUT -m comment --comment a"b c" -j ACCEPT'),
         saved=('[0:0] -A INPUT -m comment --comment "ab c" -j ACCEPT',)),
]

# A log prefix is kept as long as the kernel's field: LOG's first 29 characters, NFLOG's first 63 (legacy; nft keeps
# all of it)
PREFIXES = [
    Case("long log prefix", filter_with("-A INPUT -j LOG --log-prefix " + "a" * 32),
         saved=("[0:0] -A INPUT -j LOG --log-prefix " + "a" * 29,)),
    Case("long nflog prefix", filter_with("-A INPUT -j NFLOG --nflog-prefix " + "b" * 70),
         saved=("[0:0] -A INPUT -j NFLOG --nflog-prefix " + "b" * 63,)),
]

# -p: a number 0-255 in C's bases, all, a name of netbase's /etc/protocols (not an alias: the value is lower-cased
# first) or of iptables' own table; else 'unknown protocol "bogus" specified', at the rule (both); saved by the
# number's netbase name
PROTOCOLS = [
    *(Case(f"protocol {value}", filter_with(f"-A INPUT -p {value} -j ACCEPT"), line=5)
      for value in ("bogus", "256", "-1", "08", "0x100", "OSPFIGP", "icmp6")),
    *(Case(f"protocol {value}", filter_with(f"-A INPUT -p {value} -j ACCEPT"),
           saved=(f"[0:0] -A INPUT{saved} -j ACCEPT",))
      for value, saved in (("0", ""), ("ALL", ""), ("ip", ""), ("TCP", " -p tcp"), ("006", " -p tcp"),
                           ("0x6", " -p tcp"), ("ospf", " -p ospf"), ("vrrp", " -p vrrp"), ("255", " -p 255"),
                           ("ipv6-icmp", " -p ipv6-icmp"), ("icmpv6", " -p ipv6-icmp"), ("mh", " -p mobility-header"),
                           ("udplite", " -p udplite"), ("mptcp", " -p mptcp"))),
    Case("protocol negated", filter_with("-A INPUT ! -p tcp -j ACCEPT"), saved=("[0:0] -A INPUT ! -p tcp -j ACCEPT",)),
    Case("every protocol negated", filter_with("-A INPUT ! -p all -j ACCEPT"), line=5),
    Case("protocol twice", filter_with("-A INPUT -p tcp -p udp -j ACCEPT"), line=5),
    Case("protocol in hex with its port", filter_with("-A INPUT -p 0x6 --dport 80 -j ACCEPT"),
         saved=("[0:0] -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT",)),
    Case("protocol by number with multiport", filter_with("-A INPUT -p 17 -m multiport --dports 53 -j ACCEPT"),
         saved=("[0:0] -A INPUT -p udp -m multiport --dports 53 -j ACCEPT",)),
]

# A target extension that needs an option is refused without it at the rule (both: "MARK: One of the --set-xmark,
# --{and,or,xor,set}-mark options is required", 'DNAT: option "--to-destination" must be specified' ...), also
# when a later line removes the rule, unless a chain of its name declared before takes the jump; a modelled one
# refuses an option it does not know ('unknown option "--to-destination"')
TARGETS_NEEDING_OPTIONS = [
    *(Case(f"{rule} alone", filter_with(f"-A INPUT -j {rule}"), line=5)
      for rule in ("MARK", "CONNMARK", "TCPMSS", "TTL", "DSCP", "TOS", "CLASSIFY", "CHECKSUM", "TPROXY", "SET",
                   "AUDIT", "SECMARK")),
    *(Case(f"{rule} alone", nat_with(f"-A PREROUTING -j {rule}"), line=6) for rule in ("DNAT", "SNAT", "NETMAP")),
    Case("CONNMARK with only its mask", filter_with("-A INPUT -j CONNMARK --mask 0x1"), line=5),
    Case("TPROXY without its port", filter_with("-A INPUT -p tcp -j TPROXY --on-ip 10.0.0.1"), line=5),
    Case("DNAT without its address", nat_with("-A PREROUTING -p tcp -j DNAT --random"), line=6),
    Case("MARK with another target's option", filter_with("-A INPUT -j MARK --set-mark 1 --to-destination 10.0.0.1"),
         line=5),
    Case("MARK alone after MARKs with options",
         filter_with(*["-A INPUT -j MARK --set-xmark 0x1/0x1"] * 3, "-A INPUT -j MARK"), line=8),
    Case("MARK alone, then flushed", filter_with("-A INPUT -j MARK", "-F INPUT"), line=5),
    Case("MARK alone, then a rule into no chain", filter_with("-A INPUT -j MARK", "-A NOPE -j DROP"), line=5),
    Case("MARK alone before a chain of its name", filter_with("-A INPUT -j MARK", ":MARK - [0:0]"), line=5),
    Case("MARK alone, a jump to a chain of its name", filter_with(":MARK - [0:0]", "-A INPUT -j MARK"),
         saved=(":MARK - [0:0]", "[0:0] -A INPUT -j MARK")),
    *(Case(f"{rule} alone", filter_with(f"-A INPUT -j {rule}"), saved=(f"[0:0] -A INPUT -j {rule}",))
      for rule in ("LOG", "NFLOG")),
    Case("MASQUERADE alone", nat_with("-A POSTROUTING -j MASQUERADE"), saved=("[0:0] -A POSTROUTING -j MASQUERADE",)),
]

# REJECT's --reject-with: the first type of libipt_REJECT's table whose name or alias the value begins, in any case
# (an empty value: the first), saved by its name; else 'unknown reject type "bogus"' at the rule (both); tcp-reset
# without -p tcp is the kernel's to refuse, at COMMIT (legacy)
REJECT_TYPES = [
    *(Case(f"reject with {value or 'nothing'}", filter_with(f"-A INPUT{proto} -j REJECT --reject-with {value}"),
           saved=(f"[0:0] -A INPUT{saved_proto} -j REJECT --reject-with {saved}",))
      for value, proto, saved_proto, saved in (
          ("TCP-RESET", " -p tcp", " -p tcp", "tcp-reset"), ("tcp", " -p tcp", " -p tcp", "tcp-reset"),
          ("TCP-RST", " -p 0x6", " -p tcp", "tcp-reset"), ("icmp", "", "", "icmp-net-unreachable"),
          ("p", "", "", "icmp-proto-unreachable"), ("port", "", "", "icmp-port-unreachable"),
          ("icmp-h", "", "", "icmp-host-unreachable"), ("ICMP-HOST-PROHIB", "", "", "icmp-host-prohibited"),
          ("net-un", "", "", "icmp-net-unreachable"), ('""', "", "", "icmp-net-unreachable"),
          ("admin-prohib", "", "", "icmp-admin-prohibited"))),
    *(Case(f"reject with {value}", filter_with(f"-A INPUT -j REJECT --reject-with {value}"), line=5)
      for value in ("bogus", "icmp6-port-unreachable", "icmp-net-unreachablex", "echo")),
    Case("reject with tcp abbreviated, no -p tcp", filter_with("-A INPUT -j REJECT --reject-with tcp"), line=5,
         at_commit=True),
]

# conntrack's --ctproto: read as -p is but not lower-cased first (xtables_parse_protocol: a netbase alias is taken,
# 'unknown protocol "Tcp" specified' at the rule, both), saved as a number (all: 0); negating all is taken here
CONNTRACK_PROTOCOLS = [
    *(Case(f"ctproto {value}", filter_with(f"-A INPUT -m conntrack --ctproto {value} -j ACCEPT"), line=5)
      for value in ("bogus", "256", "08", "ospfigp", "Tcp", "ALL")),
    *(Case(f"ctproto {value}", filter_with(f"-A INPUT -m conntrack --ctproto {value} -j ACCEPT"),
           saved=(f"[0:0] -A INPUT -m conntrack --ctproto {saved} -j ACCEPT",))
      for value, saved in (("TCP", "6"), ("0x11", "17"), ("all", "0"), ("icmpv6", "58"), ("ospf", "89"),
                           ("OSPFIGP", "89"), ("IPv6-ICMP", "58"))),
    Case("ctproto all negated", filter_with("-A INPUT -m conntrack ! --ctproto all -j ACCEPT"),
         saved=("[0:0] -A INPUT -m conntrack ! --ctproto 0 -j ACCEPT",)),
]

# A modelled target's option given twice ('MARK: option "--set-mark" can only be used once.', at the rule, both) and
# MARK's and CONNMARK's options that exclude each other ('MARK: option "--set-mark" cannot be used together with
# "--or-mark".': the table's first, whatever the rule's order); CONNMARK's --mask goes with an operation, not with
# --ctmask or --nfmask
OPTIONS_TOGETHER = [
    # libxt_addrtype excludes --limit-iface-in with --limit-iface-out in one -m addrtype (both at the rule); two
    # -m addrtype take one each
    *(Case(f"{rule} refused", filter_with(f"-A FORWARD {rule} -j ACCEPT"), line=5)
      for rule in ("-m addrtype --dst-type LOCAL --limit-iface-in --limit-iface-out",
                   "-m addrtype --limit-iface-out --dst-type LOCAL --limit-iface-in")),
    Case("two -m addrtype, one limit each",
         filter_with("-A FORWARD -m addrtype --dst-type LOCAL --limit-iface-in -m addrtype --src-type LOCAL "
                     "--limit-iface-out -j ACCEPT"),
         saved=("[0:0] -A FORWARD -m addrtype --dst-type LOCAL --limit-iface-in -m addrtype --src-type LOCAL "
                "--limit-iface-out -j ACCEPT",)),
    *(Case(f"{rule} refused", filter_with(f"-A INPUT {rule}"), line=5)
      for rule in ("-j MARK --set-mark 1 --or-mark 2", "-j MARK --or-mark 1 --set-mark 2",
                   "-j MARK --set-xmark 1 --and-mark 2", "-j MARK --set-mark 1 --set-mark 2",
                   "-j CONNMARK --set-mark 1 --save-mark", "-j CONNMARK --save-mark --restore-mark",
                   "-j CONNMARK --save-mark --nfmask 1 --mask 2", "-j CONNMARK --mask 1 --save-mark --ctmask 2",
                   "-j CONNMARK --and-mark 1 --or-mark 1", "-j CONNMARK --save-mark --save-mark",
                   "-j REJECT --reject-with tcp-reset --reject-with icmp", "-j LOG --log-prefix a --log-prefix b")),
    *(Case(f"{rule} saved", filter_with(f"-A INPUT {rule}"), saved=(f"[0:0] -A INPUT {saved}",))
      for rule, saved in (("-j CONNMARK --save-mark --mask 1", "-j CONNMARK --save-mark --nfmask 0x1 --ctmask 0x1"),
                          ("-j CONNMARK --restore-mark --ctmask 1",
                           "-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0x1"),
                          # (a --mask after a set operation is its ctmask; one before it is overwritten)
                          ("-j CONNMARK --set-mark 1 --mask 2", "-j CONNMARK --set-xmark 0x1/0x2"),
                          ("-j CONNMARK --set-mark 1/3 --mask 2", "-j CONNMARK --set-xmark 0x1/0x2"),
                          ("-j CONNMARK --and-mark 1 --mask 2", "-j CONNMARK --set-xmark 0x0/0x2"),
                          ("-j CONNMARK --or-mark 1 --mask 2", "-j CONNMARK --set-xmark 0x1/0x2"),
                          ("-j CONNMARK --xor-mark 1 --mask 0", "-j CONNMARK --set-xmark 0x1/0x0"),
                          ("-j CONNMARK --mask 2 --set-mark 1", "-j CONNMARK --set-xmark 0x1/0xffffffff"),
                          ("-j CONNMARK --mask 2 --and-mark 1", "-j CONNMARK --set-xmark 0x0/0xfffffffe"),
                          # (so is a --ctmask: the last of them after the operation, r1's probe)
                          ("-j CONNMARK --set-mark 1 --ctmask 6", "-j CONNMARK --set-xmark 0x1/0x6"),
                          ("-j CONNMARK --set-xmark 1/3 --ctmask 6 --nfmask 7", "-j CONNMARK --set-xmark 0x1/0x6"),
                          ("-j CONNMARK --and-mark 5 --ctmask 6", "-j CONNMARK --set-xmark 0x0/0x6"),
                          ("-j CONNMARK --or-mark 5 --ctmask 6", "-j CONNMARK --set-xmark 0x5/0x6"),
                          ("-j CONNMARK --xor-mark 5 --ctmask 6", "-j CONNMARK --set-xmark 0x5/0x6"),
                          ("-j CONNMARK --nfmask 7 --set-mark 1 --ctmask 6", "-j CONNMARK --set-xmark 0x1/0x6"),
                          ("-j CONNMARK --ctmask 6 --set-mark 1", "-j CONNMARK --set-xmark 0x1/0xffffffff"))),
    *(Case(f"{rule} refused", nat_with(f"-A PREROUTING {rule}"), line=6)
      for rule in ("-p tcp -j DNAT --to-destination 10.0.0.1:80 --to-destination 10.0.0.2:80",
                   "-p tcp -j DNAT --to-destination 10.0.0.1 --random --random")),
]

# the other family's extensions: IPv6's HL target and icmp6 match are none of IPv4's ("Couldn't load target `HL'",
# 'unknown option "--icmpv6-type"', "Couldn't load match `icmp6'"; nft: "Chain 'HL' does not exist" alone)
FAMILY_ONLY = [
    Case("HL alone in IPv4", filter_with("-A INPUT -j HL"), line=5),
    Case("HL with its option in IPv4", filter_with("-A INPUT -j HL --hl-set 5"), line=5),
    Case("icmpv6's option after -p in IPv4", filter_with("-A INPUT -p ipv6-icmp --icmpv6-type 1 -j ACCEPT"), line=5),
    Case("icmp6 match in IPv4", filter_with("-A INPUT -p icmpv6 -m icmp6 --icmpv6-type 1 -j ACCEPT"), line=5),
    Case("icmp6 match without -p in IPv4", filter_with("-A INPUT -m icmp6 -j ACCEPT"), line=5),
    Case("icmp6 match and option without -p in IPv4", filter_with("-A INPUT -m icmp6 --icmpv6-type 1 -j ACCEPT"),
         line=5),
    Case("icmpv6 match, icmp6's alias, in IPv4", filter_with("-A INPUT -p tcp -m icmpv6 -j ACCEPT"), line=5),
    Case("icmpv6 match, icmp6's alias, in IPv6", filter_with("-A INPUT -p icmpv6 -m icmpv6 --icmpv6-type 1 -j ACCEPT"),
         saved=("[0:0] -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 1 -j ACCEPT",), ipv6=True),
    # the matches only IPv6 has ("Couldn't load match `frag'"; r1)
    *(Case(f"{rule} in IPv4", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-m frag --fragid 1", "-m rt --rt-type 0", "-m hbh", "-m dst", "-m mh", "-m eui64",
                   "-m ipv6header --header frag", '-m "frag"', "--match hbh")),
    *(Case(f"{rule} in IPv6", filter_with(f"-A INPUT {rule} -j ACCEPT"), saved=(f"[0:0] -A INPUT {rule} -j ACCEPT",),
           ipv6=True)
      for rule in ("-m frag --fragid 1", "-m rt --rt-type 0", "-m hbh", "-m dst", "-m eui64")),
    *(Case(f"ipv6header {given}", filter_with(f"-A INPUT -m ipv6header {given} -j ACCEPT"),
           saved=(f"[0:0] -A INPUT -m ipv6header {saved} -j ACCEPT",), ipv6=True)
      for given, saved in (("--header frag", "--header ipv6-frag"),
                           ("--header frag,hop --soft", "--header hop-by-hop,ipv6-frag --soft"),
                           ("! --header hopopt,0", "! --header hop-by-hop"),
                           ("--header 44,ah,esp,none,prot,route,dst,auth,ipv6-nonxt",
                            "--header ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol"))),
]

# icmp and icmp6 need their type ('icmp6: option "--icmpv6-type" must be specified', at the rule, both), before
# the kernel could refuse the match's protocol (legacy: at COMMIT): an -m of its own after the implicit match of
# -p icmp needs one too
MATCH_TYPES = [
    *(Case(f"{rule} in IPv4", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-m icmp", "-p icmp -m icmp", "-p tcp -m icmp", "-p icmp -m icmp --icmp-type 8 -m icmp",
                   "-p icmp --icmp-type 8 -m icmp")),
    *(Case(f"{rule} in IPv6", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("-m icmp6", "-p icmpv6 -m icmp6", "-p tcp -m icmp6", "-p icmpv6 -m icmpv6",
                   "-p icmpv6 --icmpv6-type 1 -m icmp6")),
    Case("icmp's type after another match's option", filter_with("-A INPUT -p icmp -m icmp -m comment --comment x "
                                                                 "--icmp-type 8 -j ACCEPT"),
         saved=("[0:0] -A INPUT -p icmp -m icmp --icmp-type 8 -m comment --comment x -j ACCEPT",)),
    Case("icmp6 negated type in IPv6", filter_with("-A INPUT -p icmpv6 -m icmp6 ! --icmpv6-type 1 -j ACCEPT"),
         saved=("[0:0] -A INPUT -p ipv6-icmp -m icmp6 ! --icmpv6-type 1 -j ACCEPT",), ipv6=True),
]

# iptables-restore stops at the first bad line: what it refuses as it reads a rule (an address or extension of the
# other family, icmp without its type, an unknown reject type) before a later line's error, and what the kernel
# refuses at a table's COMMIT (a target out of place: legacy names the COMMIT line) after the table's read errors
# but before the next table's
FIRST_BAD_LINE = [
    Case("other family's address, then a bad option", filter_with("-A INPUT -s fd00::1 -j ACCEPT", "-A INPUT --bogus"),
         line=5),
    Case("other family's match, then a bad option", filter_with("-A INPUT -m icmp -j ACCEPT", "-A INPUT --bogus"),
         line=5, ipv6=True),
    Case("icmp without its type, then a chain not declared", filter_with("-A INPUT -p icmp -m icmp -j ACCEPT",
                                                                        "-A NOPE -j DROP"), line=5),
    Case("other family's match, then a target out of place",
         filter_with("-A INPUT -m icmp6 --icmpv6-type 1 -j ACCEPT", "-A INPUT -j DNAT --to-destination 10.0.0.1"),
         line=5),
    Case("target out of place, then the other family's match",
         filter_with("-A INPUT -j DNAT --to-destination 10.0.0.1", "-A INPUT -m icmp6 --icmpv6-type 1 -j ACCEPT"),
         line=6),
    Case("target out of place, then a bad option",
         filter_with("-A INPUT -j DNAT --to-destination 10.0.0.1", "-A INPUT --bogus"), line=6),
    Case("target out of place, then a bad table", filter_with("-A INPUT -j DNAT --to-destination 10.0.0.1")
         + "*nat\n-A NOPE -j ACCEPT\nCOMMIT\n", line=5, at_commit=True),
    Case("other family's match in a chain declared later, before an address",
         filter_with(":FOO - [0:0]", "-A FOO -m icmp6 --icmpv6-type 1 -j ACCEPT", "-A INPUT -s 10.0.0.1 -j ACCEPT",
                     "-A FOO -s fd00::1 -j ACCEPT"), line=6),
    Case("other family's address in a chain declared first, after one in a later chain",
         filter_with(":FOO - [0:0]", "-A INPUT -s 10.0.0.1 -j ACCEPT", "-A FOO -s fd00::1 -j ACCEPT",
                     "-A INPUT -s fd00::2 -j ACCEPT"), line=7),
    Case("jump to no chain, then the other family's address",
         filter_with("-A INPUT -j BAR", "-A INPUT -s fd00::1 -j ACCEPT"), line=5),
    Case("other family's address, then a jump to no chain",
         filter_with("-A INPUT -s fd00::1 -j ACCEPT", "-A INPUT -j BAR"), line=5),
]

# A circle of jumps (-j or -g) the built-in chains reach: the kernel refuses the table at its COMMIT (legacy: "line
# N failed", N the COMMIT's; nft: "RULE_APPEND failed (Too many links)" at the rule that closes it), named at the
# jump that closes it; one no built-in chain reaches is loaded by both. The parser read on and refused it only when
# the table was compiled (trace, graph), so a read error of a later table was named first
CIRCLES = [
    Case("circle the built-in chains reach", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A INPUT -j FOO",
                                                          "-A FOO -j BAR", "-A BAR -j FOO"), line=9, at_commit=True),
    Case("circle of gotos", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A OUTPUT -g FOO", "-A FOO -g BAR",
                                        "-A BAR -p tcp -g FOO"), line=9, at_commit=True),
    Case("chain jumping to itself", filter_with(":FOO - [0:0]", "-A FOO -j FOO", "-A FORWARD -j FOO"), line=6,
         at_commit=True),
    Case("circle closed before the jump into it", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A FOO -j BAR",
                                                               "-A BAR -j FOO", "-A INPUT -j FOO"), line=8,
         at_commit=True),
    Case("circle no built-in chain reaches", filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A FOO -j BAR",
                                                          "-A BAR -j FOO"),
         saved=("[0:0] -A BAR -j FOO", "[0:0] -A FOO -j BAR")),
    Case("circle broken by -D before COMMIT", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j FOO",
                                                           "-D FOO -j FOO"), saved=("[0:0] -A INPUT -j FOO",)),
    Case("circle in nat", nat_with(":FOO - [0:0]", "-A PREROUTING -j FOO", "-A FOO -j FOO"), line=8, at_commit=True),
    # ... before the next table is read, after the lines of its own table
    Case("circle, then a bad option in the next table", filter_with(":FOO - [0:0]", "-A INPUT -j FOO",
                                                                   "-A FOO -j FOO") + nat_with("-A OUTPUT --bogus"),
         line=7, at_commit=True),
    Case("circle, then a bad option in its table", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j FOO",
                                                              "-A OUTPUT --bogus"), line=8),
    Case("target out of place, then a circle", filter_with(":FOO - [0:0]", "-A OUTPUT -j DNAT --to-destination "
                                                           "10.0.0.1", "-A INPUT -j FOO", "-A FOO -j FOO"),
         line=6, at_commit=True),
    # ... and after a later rule the kernel refuses in its table (iptables-nft-restore names that rule; legacy: the
    # COMMIT)
    Case("circle, then -m mh without -p mh", filter_with(":A - [0:0]", "-A INPUT -j A", "-A A -j A",
                                                         "-A INPUT -m mh -j ACCEPT"),
         line=8, at_commit=True, ipv6=True),
    Case("circle, then a target out of place", filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j FOO",
                                                           "-A OUTPUT -j DNAT --to-destination 10.0.0.1"),
         line=8, at_commit=True),
]

# IPv6's mh and ipv6header: mh only in a rule of -p mh (mh_mt6_check: legacy fails at COMMIT, nft at the rule), its
# types by name (the first it starts, in any case) or number, saved as numbers ('Invalid MH type `bogus'', at the
# rule, both); -p mh, as written, loads it for --mh-type (-p 135 does not: "unknown option"); ipv6header needs
# --header ('ipv6header: option "--header" must be specified'), of names getprotobyname finds, case and all, or its
# own ("unknown header `bogus' specified", "unknown header `6' specified" for tcp). The parser took them all
IPV6_EXTENSIONS = [
    *(Case(f"mh {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, at_commit=True, ipv6=True)
      for rule in ("-m mh", "-m mh --mh-type 1", "-p tcp -m mh --mh-type 1", "! -p mh -m mh --mh-type 1")),
    *(Case(f"mh {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("-p mh -m mh --mh-type bogus", "-p mh -m mh --mh-type 256", "-p mh -m mh --mh-type 5:3",
                   "-p mh -m mh --mh-type 1 --mh-type 2", "-p 135 --mh-type 1", "-p ipv6-mh --mh-type 1")),
    *(Case(f"mh {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"),
           saved=(f"[0:0] -A INPUT -p mobility-header -m mh{saved} -j ACCEPT",), ipv6=True)
      for rule, saved in (("-p mh -m mh", ""), ("-p mh -m mh --mh-type binding-update", " --mh-type 5"),
                          ("-p mh -m mh --mh-type BE", " --mh-type 7"), ("-p mh -m mh --mh-type b", " --mh-type 0"),
                          ("-p mh -m mh --mh-type hoti:coti", " --mh-type 1:2"),
                          ("-p mh -m mh --mh-type 4:", " --mh-type 4:255"),
                          ("-p mh -m mh --mh-type 3:3", " --mh-type 3"),
                          ("-p mh -m mh ! --mh-type :", ""), ("-p 135 -m mh ! --mh-type 0x5", " ! --mh-type 5"),
                          ("-p MH --mh-type bu", " --mh-type 5"), ("-p ipv6-mh -m mh --mh-type 07", " --mh-type 7"))),
    *(Case(f"ipv6header {rule}", filter_with(f"-A INPUT -m ipv6header {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("", "--header bogus", "--header frag,bogus", "--header FRAG", "--header AH", "--header tcp",
                   "--header 300", "--header mh", '--header ","', "--header frag --header hop")),
    *(Case(f"ipv6header {rule}", filter_with(f"-A INPUT -m ipv6header {rule} -j ACCEPT"),
           saved=(f"[0:0] -A INPUT -m ipv6header {saved} -j ACCEPT",), ipv6=True)
      for rule, saved in (("--header IPv6-Frag,ip", "--header hop-by-hop,ipv6-frag"),
                          ("--header IPSEC-ESP,HOPOPT,255", "--header hop-by-hop,esp,protocol"),
                          ("--header frag,,hop,", "--header hop-by-hop,ipv6-frag"),
                          ("--soft --header frag", "--header ipv6-frag --soft"))),
]

# An interface a packet of the built-in chain (by its name, in any table) has not: "Can't use -o with INPUT" (no -o
# in PREROUTING or INPUT, no -i in OUTPUT or POSTROUTING; at the rule, both, -I and -D too, also when a later line
# removes it), and an interface's name of 16 bytes or more ("interface name `...' must be shorter than IFNAMSIZ
# (15)"); the parser took them
INTERFACES = [
    Case("-o in INPUT", filter_with("-A INPUT -o eth0 -j ACCEPT"), line=5),
    Case("-i in OUTPUT", filter_with("-A OUTPUT --in-interface eth0 -j ACCEPT"), line=5),
    Case("-o in PREROUTING", nat_with("-A PREROUTING -p tcp -o eth0 -j DNAT --to-destination 10.0.0.1"), line=6),
    Case("-i in POSTROUTING", nat_with("-A POSTROUTING ! -i eth0 -j MASQUERADE"), line=6),
    Case("-o in INPUT inserted", filter_with("-A INPUT -j DROP", "-I INPUT -o eth0 -j ACCEPT"), line=6),
    Case("-o in INPUT deleted", filter_with("-A INPUT -j DROP", "-D INPUT -o eth0 -j ACCEPT"), line=6),
    Case("-o in INPUT, then flushed", filter_with("-A INPUT -o eth0 -j ACCEPT", "-F INPUT"), line=5),
    Case("-i in OUTPUT after rules of its shape", filter_with(":FOO - [0:0]", *["-A FOO -i eth0 -j ACCEPT"] * 3,
                                                              "-A OUTPUT -i eth0 -j ACCEPT"), line=9),
    Case("interfaces where they belong", filter_with("-A INPUT -i eth0 -j ACCEPT", "-A FORWARD -i cni0 -o eth+ -j DROP",
                                                     "-A OUTPUT ! -o lo -j ACCEPT"),
         saved=("[0:0] -A INPUT -i eth0 -j ACCEPT", "[0:0] -A FORWARD -i cni0 -o eth+ -j DROP",
                "[0:0] -A OUTPUT ! -o lo -j ACCEPT")),
    Case("interface of 15 bytes", filter_with("-A FORWARD -i abcdefghijklmno -j ACCEPT"),
         saved=("[0:0] -A FORWARD -i abcdefghijklmno -j ACCEPT",)),
    Case("interface of 16 bytes", filter_with("-A FORWARD -o abcdefghijklmnop -j ACCEPT"), line=5),
    Case("interface of 16 bytes after rules of its shape",
         filter_with(*[f"-A FORWARD -i veth{i} -j ACCEPT" for i in range(3)],
                     "-A FORWARD -i veth0123456789abc -j ACCEPT"),
         line=8),
    Case("interface of 9 characters, 18 bytes", filter_with("-A FORWARD -i ééééééééé -j ACCEPT"), line=5),
]

# multiport reads the rule's protocol when it reads its ports: -p after them is too late ("multiport needs `-p
# tcp', ...", at the rule, both); the parser judged the protocol of the whole rule
MULTIPORT_ORDER = [
    *(Case(f"multiport {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-m multiport --dports 80 -p tcp", "-m multiport ! --sports 80 -p udp",
                   "! -p tcp -m multiport --ports 80", "-m multiport --destination-ports 80 --protocol sctp")),
    *(Case(f"multiport {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"),
           saved=("[0:0] -A INPUT -p tcp -m multiport --dports 80 -j ACCEPT",))
      for rule in ("-m multiport -p tcp --dports 80", "-p 6 -m multiport --dports http")),
    # libxt_multiport's check_proto: no -p (or -p all) "needs `-p tcp' ...", a negated -p or one without ports
    # "only works with TCP, UDP, ..."; no ports at all is "multiport expection an option", whatever the -p
    *(Case(f"multiport {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-p all -m multiport --dports 80", "-p icmp -m multiport --dports 80", "-p tcp -m multiport",
                   "! -p tcp -m multiport", "-p udp -m multiport")),
]

# -s/-d as libxtables reads them (kubeproxy_sim.netfilter.hostmask), both restores alike: the mask first ("invalid
# mask `33' specified"), a host of digits and dots that glibc's inet_aton refuses ("host/network `1.2.3.256' not
# found"), "! not allowed with multiple source or destination IP addresses" after every option; the parser took
# them all, and saved a numeric spelling as written (``1.2.3``, ``010.1.1.1``) where iptables-save prints the network
ADDRESSES = [
    *(Case(f"address {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-s 1.2.3/33", "-s 1.2.3.4/33", "-d 1.2.3.4/33", "-s 1.2.3.4/", "-s 1.2.3.4/-1", "-s 1.2.3.4/09",
                   "-s 1.2.3.4/0x", "-s 1.2.3.4/255.255", "-s 1.2.3.4/4294967296", "-s 1.2.3.256", "-s 1.2.3.4.",
                   "-s 1.2..4", "-s 09.1.1.1", "-s 1.2.3.4,", "-s ,1.2.3.4", "-s 1.2.3.4/33,5.6.7.8",
                   "-s 1.2.3.4/32/8", "-s 1.2.3.256 -d 1.2.3.4/33", "! -s 1.2.3.4,5.6.7.8",
                   "! -s 1.2.3.4 -d 1.2.3.4,5.6.7.8", "-s 1:2",
                   # (a blank in a host: no name holds one, "host/network `1.2.3.4 ' not found"; a second -s, -d,
                   # -i, -o or -f: "multiple -s flags not allowed", as iptables reads it)
                   '-s "1.2.3.4 "', '-s "1.2.3.4 ,5.6.7.8"', '-d "1.2.3.4\t"', '-s "x.x.x.x /24"', '-d "foo bar"',
                   "-s 1.2.3.4 -s 5.6.7.8", "-s 1.2.3.4 --source 5.6.7.8", "-d 1.2.3.4 ! -d 5.6.7.8",
                   "-s 1.2.3.4 -p tcp -s 5.6.7.8 --bogus", "-i a -i b", "-f -f", "-s ::1.2.3.4")),
    *(Case(f"address {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("-s fd00::1/129", "-s fd00::1/", "-s fd00:::1", "-s fd00::1,", "-d fd00::1:2::3",
                   # (what only iptables reads as IPv4, and a zone, "host/network `1.2.3' not found" in both tools)
                   "-s 1.2.3", "-s 1", "-d 0x100", "-s 1.2.3.4/0.0.0.0", "-s fd00::1%lo", "-d fd00::1%eth0/64")),
    *(Case(f"address {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), saved=tuple(
        f"[0:0] -A INPUT {one}-j ACCEPT" for one in saved))
      for rule, saved in (("-s 1.2.3", ("-s 1.2.3.0/32 ",)), ("-s 1", ("-s 1.0.0.0/32 ",)),
                          ("-s 1.2.3.4/0x10", ("-s 1.2.0.0/16 ",)), ("-s 1.2.3.4/010", ("-s 1.0.0.0/8 ",)),
                          ("-s 1.2.3.4/+8", ("-s 1.0.0.0/8 ",)), ("-s 010.1.1.1", ("-s 8.1.1.1/32 ",)),
                          ("-s 0x1.2.3.4", ("-s 1.2.3.4/32 ",)), ("-s 1.2.3.0x4", ("-s 1.2.3.4/32 ",)),
                          ("-s +1.2.3.4", ("-s 1.2.3.4/32 ",)), ("-s 4294967295", ("-s 255.255.255.255/32 ",)),
                          ("-s 1.65535", ("-s 1.0.255.255/32 ",)), ("-s 1.0x10000", ("-s 1.1.0.0/32 ",)),
                          ("-s 0x100", ("-s 0.0.1.0/32 ",)), ("-s 256", ("-s 0.0.1.0/32 ",)),
                          ("-s 1.2.3.000000000000004", ("-s 1.2.3.0/32 ",)),
                          ("-s 1.2.3.4/8.0.0.0", ("-s 0.0.0.0/8.0.0.0 ",)),
                          ("-s 1.2.3.4/255.0.255.0", ("-s 1.0.3.0/255.0.255.0 ",)),
                          ("-s 1.2.3.4/0xff.0xff.0.0", ("-s 1.2.0.0/16 ",)),
                          ("-s 1.2.3.4/255.255.0.000000000000", ("-s 1.2.0.0/16 ",)),
                          ("-s 1.2.3.4/255.255.255.255", ("-s 1.2.3.4/32 ",)),
                          ("-d 10.0.0.1 -s 1.2/16", ("-s 1.2.0.0/16 -d 10.0.0.1/32 ",)),
                          ("-s x.x.x.x/0", ("",)), ("-s 1.2.3.4/0.0.0.0", ("",)),
                          ('-s "1.2.3.4, 5.6.7.8"', ("-s 1.2.3.4/32 ", "-s 5.6.7.8/32 ")),
                          ("-s 1.2.3.4,1.2.3.4", ("-s 1.2.3.4/32 ", "-s 1.2.3.4/32 ")),
                          ("-s 1.2.3.4/0,5.6.7.8", ("", "-s 5.6.7.8/32 ")),
                          ('-s "1.2.3. 4"', ("-s 1.2.3.4/32 ",)), ('-s "1.2.3.4 /0"', ("",)),
                          # (an IPv4-mapped IPv6 address is its IPv4 address to iptables: glibc's gethostbyname)
                          ("-s ::ffff:1.2.3.4", ("-s 1.2.3.4/32 ",)), ("-d ::ffff:1.2.3.4/24", ("-d 1.2.3.0/24 ",)),
                          ("-s ::FFFF:102:304", ("-s 1.2.3.4/32 ",)), ("-s fd00::1/0", ("",)),
                          ("-s fd00::1/0x0 -d 10.0.0.1", ("-d 10.0.0.1/32 ",)))),
    # a negated everything: legacy keeps it (a rule that never matches); nft: "RULE_APPEND failed (Invalid argument)"
    Case("address ! -s 1.2.3.4/0", filter_with("-A INPUT ! -s 1.2.3.4/0 -j ACCEPT"),
         saved=("[0:0] -A INPUT ! -s 0.0.0.0/0 -j ACCEPT",), nft_differs=True),
    *(Case(f"address {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), saved=tuple(
        f"[0:0] -A INPUT {one}-j ACCEPT" for one in saved), ipv6=True)
      for rule, saved in (("-s fd00::1/0x40", ("-s fd00::/64 ",)), ("-s fd00::1/ffff:ffff::", ("-s fd00::/32 ",)),
                          ("-s fd00::1/ffff:0:ffff::", ("-s fd00::/ffff:0:ffff:: ",)),
                          ("-s FD00:0:0:0:0:0:0:1", ("-s fd00::1/128 ",)), ("-s ::1.2.3.4", ("-s ::1.2.3.4/128 ",)),
                          ("-s 64:ff9b::1.2.3.4", ("-s 64:ff9b::102:304/128 ",)), ("-s fd00::1/0", ("",)),
                          ("-s fd00::1/0,fd00::2", ("", "-s fd00::2/128 ")),
                          # (a zero mask is read first and skips the host: an IPv4 one is no other family)
                          ("-s 1.2.3.4/0", ("",)), ("-s 1.2.3.4/0x0", ("",)), ("-d 1.2.3.4/00", ("",)),
                          ("-s 1.2.3.4/0,fd00::1", ("", "-s fd00::1/128 ")),
                          # (a numeric zone up to 2^32-1 on any address is read and dropped: glibc's getaddrinfo)
                          ("-s fd00::1%1", ("-s fd00::1/128 ",)), ("-s ::1%1/64", ("-s ::/64 ",)),
                          ("-d fd00::1%4294967295", ("-d fd00::1/128 ",)), ("-s fd00::1%01", ("-s fd00::1/128 ",)))),
    *(Case(f"address {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("-s fd00::1%4294967296", "-s fd00::1%+1", "-s fd00::1%")),
]

MANGLE = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          ":POSTROUTING ACCEPT [0:0]\n")


def mangle_forward(rule: str) -> str:
    return f"{MANGLE}-A FORWARD {rule}\nCOMMIT\n"


TCPMSS = [
    # TCPMSS's xt_target names TCP: both refuse a rule not of -p tcp (legacy at COMMIT, nft at the rule)
    *(Case(f"TCPMSS {rule}", mangle_forward(rule), line=7, at_commit=True)
      for rule in ("-j TCPMSS --clamp-mss-to-pmtu", "! -p tcp -j TCPMSS --set-mss 1400",
                   "-p udp -j TCPMSS --set-mss 1400")),
    # tcpmss_tg4_check wants a tcp match comparing SYN set, not negated: legacy fails at COMMIT, nft takes the rule
    *(Case(f"TCPMSS {rule}", mangle_forward(rule), line=7, at_commit=True, nft_differs=True)
      for rule in ("-p tcp -j TCPMSS --clamp-mss-to-pmtu",
                   "-p tcp -m tcp --tcp-flags SYN,RST RST -j TCPMSS --set-mss 1400",
                   "-p tcp -m tcp ! --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400")),
    *(Case(f"TCPMSS {rule}", mangle_forward(rule), saved=(f"[0:0] -A FORWARD {saved}",))
      for rule, saved in (
          ("-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
           "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"),
          ("-p tcp --syn -j TCPMSS --set-mss 1400",
           "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCPMSS --set-mss 1400"),
          ("-p tcp -m tcp --tcp-flags RST SYN -j TCPMSS --set-mss 1400",
           "-p tcp -m tcp --tcp-flags RST SYN -j TCPMSS --set-mss 1400"),
          ("-p 6 -m tcp --tcp-flags SYN,RST ALL -j TCPMSS --set-mss 1400",
           "-p tcp -m tcp --tcp-flags SYN,RST FIN,SYN,RST,PSH,ACK,URG -j TCPMSS --set-mss 1400"))),
]


# TPROXY's save form: every option, the port a number, the address 0.0.0.0 (::) and the mark 0x0/0x0 when not given,
# a mark without a mask masked by 0xffffffff (iptables-legacy-restore and -save v1.8.9; the parser saved it as written)
TPROXY = [
    *(Case(f"TPROXY {rule}", f"{MANGLE}-A PREROUTING -p tcp -j TPROXY {rule}\nCOMMIT\n",
           saved=(f"[0:0] -A PREROUTING -p tcp -j TPROXY {saved}",), ipv6=ipv6)
      for rule, saved, ipv6 in (
          ("--on-port http", "--on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0", False),
          ("--on-port 80 --tproxy-mark 1", "--on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x1/0xffffffff", False),
          ("--on-port 80 --tproxy-mark 0x1/0xff --on-ip 10.0.0.1",
           "--on-port 80 --on-ip 10.0.0.1 --tproxy-mark 0x1/0xff", False),
          ("--on-port 80", "--on-port 80 --on-ip :: --tproxy-mark 0x0/0x0", True))),
]


# Targets the kernel takes only in a rule whose -p asks for their protocol, not negated (both restores v1.8.9: legacy
# at COMMIT, nft at the rule): TCPOPTSTRIP (its xt_target's .proto), SYNPROXY (tcp), TPROXY (tcp or udp), ECN when
# it sets a TCP bit (--ecn-tcp-remove, -cwr, -ece; --ecn-ip-ect alone is any packet's)
PROTOCOL_TARGETS = [
    *(Case(f"protocol of {rule}", mangle_forward(rule), line=7, at_commit=True, ipv6=ipv6)
      for rule, ipv6 in (("-j ECN --ecn-tcp-remove", False), ("-p udp -j ECN --ecn-tcp-cwr 1", False),
                         ("-j ECN --ecn-tcp-ece 0", False), ("-j TCPOPTSTRIP --strip-options 2", False),
                         ("! -p tcp -j TCPOPTSTRIP --strip-options 2", False),
                         ("-j TCPOPTSTRIP --strip-options 2", True), ("-p udp -j SYNPROXY --mss 1460", False),
                         ("-p udp -j SYNPROXY --mss 1460", True))),
    *(Case(f"protocol of {rule}", f"{MANGLE}-A PREROUTING {rule}\nCOMMIT\n", line=7, at_commit=True, ipv6=ipv6)
      for rule, ipv6 in (("-j TPROXY --on-port 80", False), ("-p sctp -j TPROXY --on-port 80", False),
                         ("! -p tcp -j TPROXY --on-port 80", False), ("-j TPROXY --on-port 80", True))),
    *(Case(f"protocol of {rule}", mangle_forward(rule), saved=(f"[0:0] -A FORWARD {saved}",))
      for rule, saved in (("-j ECN --ecn-ip-ect 1", "-j ECN --ecn-ip-ect 1"),
                          ("-p 6 -j TCPOPTSTRIP --strip-options 2", "-p tcp -j TCPOPTSTRIP --strip-options 2"),
                          ("-p tcp -j SYNPROXY --mss 1460", "-p tcp -j SYNPROXY --mss 1460"))),
    # bare (no option: the parser's to judge, a chain may bear the name)
    Case("protocol of -j TCPOPTSTRIP alone", mangle_forward("-j TCPOPTSTRIP"), line=7, at_commit=True),
    Case("protocol of -j TCPOPTSTRIP alone in IPv6", mangle_forward("-j TCPOPTSTRIP"), line=7, at_commit=True,
         ipv6=True),
    Case("protocol of -j TCPOPTSTRIP alone with -p tcp", mangle_forward("-p tcp -j TCPOPTSTRIP"),
         saved=("[0:0] -A FORWARD -p tcp -j TCPOPTSTRIP",)),
    Case("protocol of -j TCPOPTSTRIP to a chain of the name",
         f"{MANGLE}:TCPOPTSTRIP - [0:0]\n-A FORWARD -j TCPOPTSTRIP\nCOMMIT\n",
         saved=("[0:0] -A FORWARD -j TCPOPTSTRIP",)),
    Case("protocol of -j SYNPROXY alone", mangle_forward("-j SYNPROXY"), line=7, at_commit=True),
    Case("protocol of -j SYNPROXY alone in filter INPUT", filter_with("-A INPUT -j SYNPROXY"), line=5,
         at_commit=True),
    Case("protocol of -j SYNPROXY to a chain of the name",
         f"{MANGLE}:SYNPROXY - [0:0]\n-A FORWARD -j SYNPROXY\nCOMMIT\n", saved=("[0:0] -A FORWARD -j SYNPROXY",)),
    Case("protocol of -j SYNPROXY alone with -p tcp", mangle_forward("-p tcp -j SYNPROXY"),
         saved=("[0:0] -A FORWARD -p tcp -j SYNPROXY",)),
    # ECN: IPv4's only (libipt_ECN); an operation needed, --ecn-ip-ect 0-3, --ecn-tcp-cwr/-ece 0-1 (at the rule)
    *(Case(f"ECN {rule}{' in IPv6' if ipv6 else ''}", mangle_forward(rule), line=7, ipv6=ipv6)
      for rule, ipv6 in (("-j ECN", False), ("-j ECN --ecn-ip-ect 4", False), ("-j ECN --ecn-ip-ect -1", False),
                         ("-p tcp -j ECN --ecn-tcp-cwr 2", False), ("-j ECN", True),
                         ("-j ECN --ecn-tcp-remove", True), ("-p tcp -j ECN --ecn-tcp-remove", True),
                         ("-j ECN --ecn-ip-ect 1", True))),
    Case("ECN --ecn-ip-ect 3", mangle_forward("-j ECN --ecn-ip-ect 3"),
         saved=("[0:0] -A FORWARD -j ECN --ecn-ip-ect 3",)),
    Case("protocol of -p 17 -j TPROXY", f"{MANGLE}-A PREROUTING -p 17 -j TPROXY --on-port 80\nCOMMIT\n",
         saved=("[0:0] -A PREROUTING -p udp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0",)),
]


# Values the family's tool refuses as it reads the rule, though the syntax layer (not knowing the family) takes them:
# an ICMP type that is a prefix of two names, past 255, a name of neither table, IPv6's any, a range of types
# ("Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?", "Unknown ICMPv6 type `any'", "ICMP type range not
# supported"); a conntrack address of the other family ("getaddrinfo: Address family for hostname not supported")
# or with a mask neither a length nor an address ('conntrack: bad value for option "--ctorigdst", neither a valid
# network mask nor valid CIDR (0-32).'); an IPv6 iprange range of what inet_pton cannot read ('iprange: Bad value
# for "--src-range" option: "24"', IPv4's 24.0.0.0). Both restores v1.8.9 alike (unshare --net, 2026-12-01).
ICMP_RULE = "-A INPUT -p icmp -m icmp --icmp-type {} -j ACCEPT"
ICMPV6_RULE = "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type {} -j ACCEPT"
FAMILY_VALUES = [
    *(Case(f"icmp type {value}", filter_with(ICMP_RULE.format(value)), line=5)
      for value in ("echo", "e", "a", "256", "0x100", "foo", "3:5", "8/", "3/256", "300/1", "3/3/3")),
    *(Case(f"icmpv6 type {value}, IPv6", filter_with(ICMPV6_RULE.format(value)), line=5, ipv6=True)
      for value in ("echo", "any", "256", "foo", "3:5", "3/256")),
    *(Case(f"icmp type {value}", filter_with(ICMP_RULE.format(value)),
           saved=(f"[0:0] {ICMP_RULE.format(saved)}",))
      for value, saved in (("3:3", "3"), ("3:3/1", "3/1"), ("+3", "3"), ("3/1:2", "3/1"), ("any", "any"))),
    Case("icmpv6 type 3:3, IPv6", filter_with(ICMPV6_RULE.format("3:3")), ipv6=True,
         saved=("[0:0] -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 3 -j ACCEPT",)),
    *(Case(f"value {rule}{', IPv6' if ipv6 else ''}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5,
           ipv6=ipv6)
      for rule, ipv6 in (("-m conntrack --ctorigdst fd00::1", False),
                         ("-m conntrack --ctorigdst fd00::1%1", False),
                         ("-m conntrack --ctorigdst fd00::1/-1", False),
                         ("-m conntrack --ctorigdst 10.0.0.1/-1", False),
                         ("-m conntrack --ctreplsrc 10.0.0.1/abc", False),
                         ("-m conntrack --ctrepldst 10.0.0.1/", False),
                         ("-m conntrack --ctorigdst 10.0.0.1", True), ("-m conntrack --ctorigdst 1", True),
                         ("-m conntrack --ctorigsrc 1.2.3/129", True), ("-m conntrack --ctorigdst fd00::1/129", True),
                         ("-m iprange --src-range 24", True), ("-m iprange --src-range 1-2", True),
                         ("-m iprange --dst-range fd00::1-2", True))),
    Case("conntrack ::ffff:1.2.3.4, IPv6", filter_with("-A INPUT -m conntrack --ctorigdst ::ffff:1.2.3.4 -j ACCEPT"),
         ipv6=True, saved=("[0:0] -A INPUT -m conntrack --ctorigdst ::ffff:1.2.3.4 -j ACCEPT",)),
    Case("conntrack 10.0.0.1/33", filter_with("-A INPUT -m conntrack --ctreplsrc 10.0.0.1/33 -j ACCEPT"),
         saved=("[0:0] -A INPUT -m conntrack --ctreplsrc 10.0.0.1 -j ACCEPT",)),
    Case("iprange 24", filter_with("-A INPUT -m iprange --src-range 24 -j ACCEPT"),
         saved=("[0:0] -A INPUT -m iprange --src-range 24.0.0.0-24.0.0.0 -j ACCEPT",)),
]


# A built-in chain its table does not declare is the kernel's own: both restores v1.8.9 take its rules (-A, -I, -F),
# and iptables-save prints it ACCEPT [0:0] after a restore into a new namespace (unshare --net, 2026-12-01; on a node,
# legacy keeps the policy it had, nft sets ACCEPT, and --noflush keeps its rules too). A table that names a built-in
# chain so is no partial input: a jump to no chain is refused at its line (legacy: "Couldn't load target `NOPE'";
# nft names the COMMIT); an undeclared user chain stays refused ("line 3 failed", both).
BUILTIN_UNDECLARED = [
    Case("undeclared built-in chain", "*mangle\n-A PREROUTING -j ACCEPT\nCOMMIT\n",
         saved=(":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", "[0:0] -A PREROUTING -j ACCEPT")),
    Case("undeclared built-in chain beside a declared one",
         "*mangle\n:INPUT DROP [5:6]\n-A PREROUTING -j ACCEPT\nCOMMIT\n",
         saved=(":PREROUTING ACCEPT [0:0]", ":INPUT DROP [5:6]", "[0:0] -A PREROUTING -j ACCEPT")),
    Case("undeclared built-in chains, -I and -F",
         "*filter\n-I INPUT -j DROP\n-F FORWARD\n-A OUTPUT -j ACCEPT\nCOMMIT\n",
         saved=(":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", "[0:0] -A INPUT -j DROP",
                "[0:0] -A OUTPUT -j ACCEPT")),
    Case("undeclared built-in chain, IPv6", "*filter\n-A INPUT -s fd00::1 -j ACCEPT\nCOMMIT\n", ipv6=True,
         saved=(":INPUT ACCEPT [0:0]", "[0:0] -A INPUT -s fd00::1/128 -j ACCEPT")),
    Case("undeclared built-in chain jumping to no chain", "*filter\n-A INPUT -j NOPE\nCOMMIT\n", line=2),
    Case("undeclared built-in chain, then an undeclared user chain",
         "*filter\n-A INPUT -j ACCEPT\n-A FOO -j ACCEPT\nCOMMIT\n", line=3),
]

# Long options abbreviated (getopt_long over iptables' own options and the extensions loaded so far, both tools
# alike, observed 2026-12-01): an unambiguous prefix is its option, saved whole (head, rule, the rule saved); a prefix
# of several, 'unknown option "--in"' at the rule (head, rule, the word)
ABBREVIATED = [
    (FILTER, "-A INPUT -p tcp --dp 80 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT"),
    (FILTER, "-A INPUT --sou 1.2.3.4 -j ACCEPT", "-A INPUT -s 1.2.3.4/32 -j ACCEPT"),
    (FILTER, "-A INPUT --pro udp --sp 53 -j ACCEPT", "-A INPUT -p udp -m udp --sport 53 -j ACCEPT"),
    (FILTER, "-A INPUT -m comment --comm hi -j ACCEPT", "-A INPUT -m comment --comment hi -j ACCEPT"),
    (FILTER, "-A INPUT --ma comment --comm x -j ACCEPT", "-A INPUT -m comment --comment x -j ACCEPT"),
    (FILTER, "-A INPUT --ju DROP", "-A INPUT -j DROP"),
    (FILTER, "-A INPUT --fragment -j ACCEPT", "-A INPUT -f -j ACCEPT"),  # (iptables' own is --fragments)
    (FILTER, "-A INPUT -p tcp --dest 1.2.3.4 -j ACCEPT", "-A INPUT -d 1.2.3.4/32 -p tcp -j ACCEPT"),
    (FILTER, "-A INPUT -p tcp -m tcp --destination-p 80 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT"),
    (
        FILTER,
        "-A INPUT -p tcp --tcp-f SYN,ACK SYN -j ACCEPT",
        "-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN -j ACCEPT",
    ),
    # multiport loaded, tcp not: --dport is the start of multiport's --dports only
    (
        FILTER,
        "-A INPUT -p tcp -m multiport --dport 80,81 -j ACCEPT",
        "-A INPUT -p tcp -m multiport --dports 80,81 -j ACCEPT",
    ),
    # a match loaded again merges no options of its own (no ambiguity with the first)
    (
        FILTER,
        "-A INPUT -m comment --comment x -m comment --comm y -j ACCEPT",
        "-A INPUT -m comment --comment x -m comment --comment y -j ACCEPT",
    ),
    (NAT, "-A PREROUTING -p tcp -j DNAT --to 1.2.3.4:80",
     "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80"),
    (
        NAT,
        "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --ran",
        "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --random",
    ),
    (
        NAT,
        "-A PREROUTING -p tcp -j REDIRECT --to-ports 80 --ran",
        "-A PREROUTING -p tcp -j REDIRECT --to-ports 80 --random",
    ),
    (NAT, "-A POSTROUTING -j SNAT --to 1.2.3.4 --per", "-A POSTROUTING -j SNAT --to-source 1.2.3.4 --persistent"),
    (
        FILTER,
        "-A INPUT -m statistic --mode random --prob 0.5 -j ACCEPT",
        "-A INPUT -m statistic --mode random --probability 0.50000000000 -j ACCEPT",
    ),
    (FILTER, "-A INPUT -j MARK --set-xm 0x1", "-A INPUT -j MARK --set-xmark 0x1/0xffffffff"),
    (FILTER, "-A INPUT -m addrtype --dst-t LOCAL -j ACCEPT", "-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT"),
]


AMBIGUOUS = [
    (FILTER, "-A INPUT --in eth0 -j ACCEPT", "--in"),  # in-interface, ipv4, ipv6
    (FILTER, "-A INPUT --s 1.2.3.4 -j ACCEPT", "--s"),  # source, set-counters
    (FILTER, "-A INPUT --i eth0 -j ACCEPT", "--i"),
    (FILTER, "-A INPUT -p tcp -m tcp --dest 1.2.3.4 -j ACCEPT", "--dest"),  # destination, destination-port
    (FILTER, "-A INPUT -p tcp --sp 1 --so 1.2.3.4 -j ACCEPT", "--so"),  # tcp loaded by --sp: source-port too
    (FILTER, "-A INPUT -p tcp --sp 1 -j ACCEPT --sou 1.2.3.4", "--sou"),
    (FILTER, "-A INPUT -p tcp --tcp SYN,ACK SYN -j ACCEPT", "--tcp"),  # tcp-flags, tcp-option
    (NAT, "-A POSTROUTING -j MASQUERADE --ran", "--ran"),  # random, random-fully
    (FILTER, "-A INPUT -m recent --se -j ACCEPT", "--se"),  # set, seconds, set-counters
    (FILTER, "-A INPUT -m conntrack --ctst NEW -j ACCEPT", "--ctst"),  # ctstate, ctstatus
]


ABBREVIATIONS = [
    *(Case(f"abbreviated {rule}", f"{head}{rule}\nCOMMIT\n", saved=(f"[0:0] {saved}",))
      for head, rule, saved in ABBREVIATED),
    *(Case(f"ambiguous {rule}", f"{head}{rule}\nCOMMIT\n", line=head.count("\n") + 1)
      for head, rule, _ in AMBIGUOUS),
    Case("DNAT without --random-fully",
         NAT + "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --random-fully\nCOMMIT\n", line=6),
]


# Parser leftovers (both tools v1.8.9, unshare --net, 2026-12-01): ECN's values in IPv6 are refused as options
# ip6tables does not know ('unknown option "--ecn-ip-ect"', the target's first), not by IPv4's range; its values
# (and the ecn match's) saved in decimal, in libipt_ECN's order, --ecn-tcp-remove alone for both TCP bits cleared;
# -m ecn's --ecn-ip-ect 0-3 ('ecn: bad value for option "--ecn-ip-ect", or out of range (0-3).'), its TCP bits
# valueless; '! -s 0.0.0.0/0' saved by legacy, refused by nft (an empty message: nft_differs, legacy followed); an
# IPv4 number with fewer dots as IPv6's NETMAP --to or TPROXY --on-ip ('getaddrinfo: Address family for hostname
# not supported'; IPv4 reads 10.1 as 10.0.0.1)
LEFTOVERS = [
    *(Case(f"ECN {rule} in IPv6", mangle_forward(rule), line=7, ipv6=True)
      for rule in ("-p tcp -j ECN --ecn-ip-ect 5", "-p tcp -j ECN --ecn-tcp-cwr 1 --ecn-ip-ect 5",
                   "-p tcp -j ECN --ecn-tcp-cwr 2")),
    *(Case(f"ECN {rule}", mangle_forward(rule), saved=(f"[0:0] -A FORWARD {saved}",))
      for rule, saved in (("-p tcp -j ECN --ecn-ip-ect 0x1", "-p tcp -j ECN --ecn-ip-ect 1"),
                          ("-p tcp -j ECN --ecn-ip-ect 01", "-p tcp -j ECN --ecn-ip-ect 1"),
                          ("-p tcp -j ECN --ecn-tcp-cwr 0x1", "-p tcp -j ECN --ecn-tcp-cwr 1"),
                          ("-p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-cwr 1 --ecn-tcp-ece 0",
                           "-p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 1 --ecn-ip-ect 1"),
                          ("-p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove", "-p tcp -j ECN --ecn-tcp-remove"),
                          ("-p tcp -j ECN --ecn-tcp-cwr 0 --ecn-tcp-ece 0", "-p tcp -j ECN --ecn-tcp-remove"))),
    *(Case(f"ecn match {rule}{' in IPv6' if ipv6 else ''}", mangle_forward(f"{rule} -j ACCEPT"), line=7, ipv6=ipv6)
      for rule, ipv6 in (("-m ecn --ecn-ip-ect 5", False), ("-m ecn --ecn-ip-ect 300", False),
                         ("-m ecn --ecn-ip-ect 5", True), ("-p tcp -m ecn --ecn-tcp-cwr 1", False))),
    *(Case(f"ecn match {rule}{' in IPv6' if ipv6 else ''}", mangle_forward(f"{rule} -j ACCEPT"), ipv6=ipv6,
           saved=(f"[0:0] -A FORWARD {saved} -j ACCEPT",))
      for rule, saved, ipv6 in (("-m ecn --ecn-ip-ect 0x2", "-m ecn --ecn-ip-ect 2", False),
                                ("-m ecn ! --ecn-ip-ect 3", "-m ecn ! --ecn-ip-ect 3", False),
                                ("-m ecn --ecn-ip-ect 2", "-m ecn --ecn-ip-ect 2", True),
                                ("-p tcp -m ecn --ecn-tcp-cwr", "-p tcp -m ecn --ecn-tcp-cwr", False),
                                ("-p tcp -m ecn ! --ecn-tcp-ece --ecn-ip-ect 1",
                                 "-p tcp -m ecn ! --ecn-tcp-ece --ecn-ip-ect 1", False))),
    *(Case(f"negated {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), ipv6=ipv6, nft_differs=True,
           saved=(f"[0:0] -A INPUT {rule} -j ACCEPT",))
      for rule, ipv6 in (("! -s 0.0.0.0/0", False), ("! -d 0.0.0.0/0", False), ("! -s ::/0", True))),
    *(Case(f"{rule} in IPv6", f"{table}-A PREROUTING {rule}\nCOMMIT\n", line=table.count("\n") + 1, ipv6=True)
      for table, rule in ((NAT, "-j NETMAP --to 10.1"), (NAT, "-j NETMAP --to 10.1/8"), (NAT, "-j NETMAP --to 0x10"),
                          (MANGLE, "-p tcp -j TPROXY --on-port 80 --on-ip 10.1"),
                          (MANGLE, "-p tcp -j TPROXY --on-port 80 --on-ip 1"))),
    Case("NETMAP --to 10.1/16", f"{NAT}-A PREROUTING -j NETMAP --to 10.1/16\nCOMMIT\n",
         saved=("[0:0] -A PREROUTING -j NETMAP --to 10.0.0.0/16",)),
    Case("TPROXY --on-ip 10.1", f"{MANGLE}-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 10.1\nCOMMIT\n",
         saved=("[0:0] -A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 10.0.0.1 --tproxy-mark 0x0/0x0",)),
]


# A match alone whose final check wants one of its options: refused at the rule in its words (both tools v1.8.9,
# unshare --net, 2026-12-01; syntax.UNOPTIONED_MATCHES): addrtype, mark, connmark, conntrack, statistic, mac, pkttype,
# length, dscp, state, comment, set, physdev, nfacct, ecn. limit (saved --limit 3/hour) and socket alone are taken.
BARE_MATCHES = [
    *(Case(f"-m {module} alone", filter_with(f"-A INPUT -m {module} -j ACCEPT"), line=5)
      for module in ("addrtype", "mark", "connmark", "conntrack", "statistic", "mac", "pkttype", "length", "dscp",
                     "state", "comment", "set", "physdev", "nfacct", "ecn")),
    *(Case(f"-m {module} alone", filter_with(f"-A INPUT -m {module} -j ACCEPT"),
           saved=(f"[0:0] -A INPUT -m {saved} -j ACCEPT",))
      for module, saved in (("limit", "limit --limit 3/hour"), ("socket", "socket"))),
]


# Review r1 (session 23), both tools v1.8.9, unshare --net, 2026-12-01: iptables' own --fragments (the parser knew
# only its abbreviation --fragment); libxt_hl's old names --ttl and --hl (of -m ttl, -m hl), saved as --ttl-eq and
# --hl-eq; the long options of ECN and AUDIT abbreviated like any loaded target's (ECN's were refused: 'An operation
# is required'); -m addrtype satisfied only by --src-type or --dst-type, -m set only by --match-set ('addrtype: you
# must specify --src-type or --dst-type', "You must specify `--match-set' with proper arguments")
REVIEWED = [
    *(Case(f"reviewed {rule}", filter_with(f"-A INPUT {rule}"), saved=(f"[0:0] -A INPUT {saved}",))
      for rule, saved in (("--fragments -j ACCEPT", "-f -j ACCEPT"), ("--fragments --ju ACCEPT", "-f -j ACCEPT"),
                          ("-m ttl --ttl 3 -j ACCEPT", "-m ttl --ttl-eq 3 -j ACCEPT"),
                          ("-m ttl ! --ttl 3 -j ACCEPT", "-m ttl ! --ttl-eq 3 -j ACCEPT"))),
    Case("reviewed -m hl --hl 3", filter_with("-A INPUT -m hl --hl 3 -j ACCEPT"), ipv6=True,
         saved=("[0:0] -A INPUT -m hl --hl-eq 3 -j ACCEPT",)),
    *(Case(f"reviewed {rule}", mangle_forward(rule), saved=(f"[0:0] -A FORWARD {saved}",))
      for rule, saved in (("-p tcp -j ECN --ecn-ip 1", "-p tcp -j ECN --ecn-ip-ect 1"),
                          ("-p tcp -j ECN --ecn-tcp-c 1", "-p tcp -j ECN --ecn-tcp-cwr 1"),
                          ("-p tcp -j ECN --ecn-tcp-rem", "-p tcp -j ECN --ecn-tcp-remove"),
                          ("-j AUDIT --ty accept", "-j AUDIT --type accept"))),
    *(Case(f"reviewed {rule}", mangle_forward(rule), line=7)
      for rule in ("-p tcp -j ECN --ecn-tcp 1", "-p tcp -j ECN --ecn-ip-ect 1 --ecn-i 2")),
    *(Case(f"reviewed {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-m ttl --ttl 3 --ttl-eq 4", "-m addrtype --limit-iface-in", "-m set --return-nomatch",
                   "-m addrtype --src LOCAL --limit-iface-in",
                   "-m addrtype --dst-type LOCAL -m addrtype --limit-iface-out")),
]


ALL_CASES = [*CHAINS_TWICE, *TABLES_TWICE, *CHAINS_DELETED, *CHAINS_RENAMED, *COUNTERS, *JUMP_OPTIONS, *TARGET_OPTIONS,
             *NAT_PORTS, *PORT_NAMES, *RECENT, *RECENT_SAVED, *CHAIN_NAMES, *JUMPS, *QUOTES,
             *PREFIXES, *PROTOCOLS, *TARGETS_NEEDING_OPTIONS, *REJECT_TYPES,
             *CONNTRACK_PROTOCOLS, *OPTIONS_TOGETHER, *FAMILY_ONLY, *MATCH_TYPES, *FIRST_BAD_LINE, *CIRCLES,
             *IPV6_EXTENSIONS, *INTERFACES, *MULTIPORT_ORDER, *ADDRESSES, *TCPMSS, *TPROXY,
             *PROTOCOL_TARGETS, *FAMILY_VALUES, *BUILTIN_UNDECLARED, *ABBREVIATIONS, *LEFTOVERS, *BARE_MATCHES,
             *REVIEWED]
