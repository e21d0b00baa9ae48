"""The node's nat and filter tables after kube-proxy's first sync on a clean node.

kube-proxy restores only its own chains; the built-in chains keep their ACCEPT
policies and get the jump rules kube-proxy ensures at their front. This is what
``iptables-save`` shows on that node, before the kernel's own normalisation
(``netfilter.saveform`` applies that).
"""

from __future__ import annotations

from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Rule, Ruleset, Table


def node_tables(restore: Ruleset, jumps: tuple[tuple[str, str, Rule], ...]) -> Ruleset:
    """Built-in chains (policy ACCEPT, with kube-proxy's jumps) followed by kube-proxy's chains."""
    tables = []
    for table in sorted(restore.tables, key=lambda t: t.name):
        builtin = tuple(
            Chain(name, tuple(rule for t, c, rule in jumps if t == table.name and c == name), policy="ACCEPT")
            for name in BUILTIN_CHAINS[table.name]
        )
        own = tuple(c for c in table.chains if c.name not in table.deleted)
        tables.append(Table(table.name, builtin + own))
    return Ruleset(tuple(tables), restore.ipv6)


def as_node_holds_it(ruleset: Ruleset) -> Ruleset:
    """A restore input (kube-proxy's chains only) as a node holds it: built-in chains with the jumps kube-proxy
    ensures to the chains the input declares. A dump that already has built-in chains is returned as read."""
    from kubeproxy_sim.proxier.sync import jump_rules

    if any(chain.builtin for table in ruleset.tables for chain in table.chains):
        return ruleset
    declared = {(t.name, c.name) for t in ruleset.tables for c in t.chains}
    jumps = tuple(j for j in jump_rules(("filter", "KUBE-FIREWALL") in declared)
                  if j[2].target is not None and (j[0], j[2].target.name) in declared)
    return node_tables(ruleset, jumps)
