"""proxier layer: kube-proxy's iptables rule generation (one full sync) from the cluster's objects."""

from kubeproxy_sim.proxier.sync import SyncResult, generate

__all__ = ["SyncResult", "generate"]
