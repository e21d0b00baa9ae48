"""kubeproxy-sim: the Kubernetes Service data plane of kube-proxy (iptables mode), emulated."""

__version__ = "0.1.0"
