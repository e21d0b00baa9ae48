"""The masquerade machinery: KUBE-MARK-MASQ sets a mark, KUBE-POSTROUTING turns it into SNAT.

Marking instead of masquerading on the spot lets any rule ask for SNAT while
the decision is carried out once, after routing, and only for marked packets
(the mark is cleared so a re-traversal does not masquerade twice).
"""

from __future__ import annotations

from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.rules.context import RuleBuffer, SyncContext


def postrouting_rules(ctx: SyncContext, out: RuleBuffer) -> None:
    """Return unmarked packets, clear the mark, masquerade (fully random ports when supported)."""
    mark = ctx.mark
    rules = out.nat[naming.KUBE_POSTROUTING]
    rules.append(f"-m mark ! --mark {mark}/{mark} -j RETURN")
    rules.append(f"-j MARK --xor-mark {mark}")
    random_fully = " --random-fully" if ctx.config.random_fully else ""
    rules.append(f'-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE{random_fully}')


def mark_masq_rules(ctx: SyncContext, out: RuleBuffer) -> None:
    """KUBE-MARK-MASQ: set the masquerade bit."""
    out.nat[naming.KUBE_MARK_MASQ].append(f"-j MARK --or-mark {ctx.mark}")


def cluster_ip_masquerade(ctx: SyncContext, name: str, proto: str, address: str, port: int,
                          chain: str, out: RuleBuffer) -> None:
    """Mark cluster-IP traffic from outside the pod network (or all of it with --masquerade-all).

    A host may route the service range to any node; such traffic must be
    SNATed so replies come back through this node. Without a local-traffic
    detector (and without masquerade-all) nothing can be told apart, so no rule.
    """
    head = f'-m comment --comment "{name} cluster IP" -m {proto} -p {proto} -d {address} --dport {port}'
    if ctx.config.masquerade_all:
        out.nat[chain].append(f"{head} -j {naming.KUBE_MARK_MASQ}")
    elif ctx.detector is not None:
        out.nat[chain].append(f"{head} {ctx.detector.if_not_local} -j {naming.KUBE_MARK_MASQ}")
