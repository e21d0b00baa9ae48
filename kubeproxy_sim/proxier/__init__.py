"""proxier layer: kube-proxy's iptables rule generation (one full sync) from the cluster's objects."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeproxy_sim.proxier.sync import SyncResult, generate


def __getattr__(name: str) -> object:
    """The generator is imported on first use: ``proxier.config`` alone (every command's flags) stays light."""
    if name in ("SyncResult", "generate"):
        from kubeproxy_sim.proxier import sync

        return getattr(sync, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SyncResult", "generate"]
