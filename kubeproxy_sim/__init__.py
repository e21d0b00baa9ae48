"""kubeproxy-sim: the Kubernetes Service data plane of kube-proxy (iptables mode), emulated."""

__version__ = "0.1.0"
REFERENCE_COMMIT = "531be81208e2274ef42e72525a26610a9622bcdf"
"""The kubernetes/kubernetes commit whose kube-proxy is emulated (README's reference)."""
KUBERNETES_MINOR = "1.34"
"""The Kubernetes release of that commit: the feature gates and defaults are 1.34's (cli/feature_gates). No older:
the commit's pkg/proxy/iptables/proxier.go builds its sync runner with pkg/proxy/runner, which kubernetes#131615 added
in the 1.34 cycle (kube-proxy's own copy by 2025-07-01, kubernetes#132657); a later bound could not be read (the
commit's CHANGELOG/, go.mod and pkg/features are not in the public source store used)."""
VERSION_LINE = (f"kubeproxy-sim {__version__}: kube-proxy's iptables mode as of kubernetes/kubernetes "
                f"{REFERENCE_COMMIT[:12]} (Kubernetes {KUBERNETES_MINOR})")
"""What --version prints: this program's version and what it models, on one line."""
