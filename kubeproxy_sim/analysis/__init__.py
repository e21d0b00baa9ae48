"""analysis layer: exact load-balancing shares, affinity limits, long-lived connections, what-if diffs.

Everything here is computed from the rules kube-proxy would write on each node
(generated per node, traced with the all-branches tracer), so the answers are
the kernel's, rounding of the ``statistic`` thresholds included.
"""

from kubeproxy_sim.analysis.exact import DistReport, ServiceDist, View, analyse
from kubeproxy_sim.analysis.nodes import NodeSet, node_set

__all__ = ["DistReport", "NodeSet", "ServiceDist", "View", "analyse", "node_set"]
