"""The node's nat and filter tables after kube-proxy's first sync on a clean node.

kube-proxy restores only its own chains; the built-in chains keep their ACCEPT
policies and get the jump rules kube-proxy ensures at their front. This is what
``iptables-save`` shows on that node, before the kernel's own normalisation
(``netfilter.saveform`` applies that).
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter

from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Rule, Ruleset, Table
from kubeproxy_sim.proxier import naming

ENSURED_CHAINS = {"filter": (naming.KUBE_FIREWALL, naming.KUBE_PROXY_CANARY), "nat": (naming.KUBE_PROXY_CANARY,)}
"""Chains kube-proxy creates outside its restore input, so empty unless the input fills them: the kubelet's
KUBE-FIREWALL, which every full sync ensures with its INPUT and OUTPUT jumps (the input fills it only on IPv4
with localhost NodePorts), and KUBE-PROXY-CANARY, which kube-proxy's monitor creates at start-up to notice a
flush of the tables."""


def node_tables(restore: Ruleset, jumps: tuple[tuple[str, str, Rule], ...]) -> Ruleset:
    """Built-in chains (policy ACCEPT, with kube-proxy's jumps) followed by kube-proxy's chains, the ones it
    ensures outside the restore input included."""
    tables = []
    for table in sorted(restore.tables, key=lambda t: t.name):
        builtin = tuple(
            Chain(name, tuple(rule for t, c, rule in jumps if t == table.name and c == name), policy="ACCEPT")
            for name in BUILTIN_CHAINS[table.name]
        )
        own = tuple(c for c in table.chains if c.name not in table.deleted)
        names = {c.name for c in own}
        ensured = tuple(Chain(name, ()) for name in ENSURED_CHAINS.get(table.name, ()) if name not in names)
        tables.append(Table(table.name, builtin + own + ensured))
    return Ruleset(tuple(tables), restore.ipv6)


def as_node_holds_it(ruleset: Ruleset) -> Ruleset:
    """A restore input (kube-proxy's chains only) as a node holds it: built-in chains with the jumps kube-proxy
    ensures to the chains the input declares. A dump that already has built-in chains is returned as read,
    except that a built-in chain it declares without a policy (``:INPUT - [0:0]``, which iptables-restore reads
    as "keep the policy") gets ACCEPT, a fresh node's policy."""
    from kubeproxy_sim.proxier.sync import jump_rules

    if _declares_builtins(ruleset):
        return _declared_builtins_kept(ruleset)
    declared = {(t.name, c.name) for t in ruleset.tables for c in t.chains}
    declared |= {(table, name) for table, names in ENSURED_CHAINS.items() for name in names}
    jumps = tuple(j for j in jump_rules() if j[2].target is not None and (j[0], j[2].target.name) in declared)
    return node_tables(ruleset, jumps)


def _declares_builtins(ruleset: Ruleset) -> bool:
    """Whether some chain has a policy or a built-in chain's name (one pass of C loops: 110,000 chains in 10 ms)."""
    for table in ruleset.tables:
        if any(map(_POLICY, table.chains)) or \
                not set(BUILTIN_CHAINS.get(table.name, ())).isdisjoint(map(_NAME, table.chains)):
            return True
    return False


_POLICY, _NAME = attrgetter("policy"), attrgetter("name")


def _declared_builtins_kept(ruleset: Ruleset) -> Ruleset:
    """``ruleset`` with each chain named as a built-in chain of its table but declared without a policy given
    ACCEPT, as restoring it on a fresh node leaves it; the same object when there is none."""
    if not any(c.policy is None and c.name in BUILTIN_CHAINS.get(t.name, ())
               for t in ruleset.tables for c in t.chains):
        return ruleset
    tables = []
    for table in ruleset.tables:
        names = BUILTIN_CHAINS.get(table.name, ())
        chains = tuple(Chain(c.name, c.rules, "ACCEPT", c.counters, c.line) if c.policy is None and c.name in names
                       else c for c in table.chains)
        tables.append(dataclasses.replace(table, chains=chains))
    return Ruleset(tuple(tables), ruleset.ipv6)
