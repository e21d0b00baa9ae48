"""The note a command that writes one node's rules gives when the objects hold the other family too.

kube-proxy runs one proxier per IP family; a dual-stack node's rules are two runs' (iptables and ip6tables). The
simulator writes one, the node's primary family's unless --ip-family says. Dual-stack objects (or IPv6 objects
on a node whose primary address is IPv4) then give rules no output shows: said once, with the flag that shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeproxy_sim.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from kubeproxy_sim.objects.model import Cluster
    from kubeproxy_sim.proxier.config import ProxyConfig


def other_family_note(cluster: Cluster, config: ProxyConfig, flag: str | None) -> list[Diagnostic]:
    """The note, when --ip-family was not given (``flag`` None: given, the choice is the user's) and the objects
    give the other family's proxier something to proxy (Cluster.has_family: a cluster IP or a slice)."""
    if flag is not None:
        return []
    family = 6 if config.ipv6 else 4
    other = 4 if family == 6 else 6
    if not cluster.has_family(other):
        return []
    return [Diagnostic(f"the objects also give IPv{other} rules: --ip-family ipv{other} (kube-proxy runs a proxier "
                       f"per family; these are the node's IPv{family} one's)", field="--ip-family",
                       severity=Severity.NOTE)]
