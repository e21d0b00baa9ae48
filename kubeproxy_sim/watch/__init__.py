"""The watch layer: sources of watch events, change trackers, and the cluster state they fold into.

Sources (all with ``poll() -> Batch`` and ``close()``): :class:`MemorySource`
for tests and scripts, :class:`DirectorySource` for a directory of manifests,
and :class:`ApiServerSource` for a live API server (imported lazily, so the
``kubernetes`` client is needed only when it is used).
"""

from typing import TYPE_CHECKING

from kubeproxy_sim.watch.directory import DirectorySource
from kubeproxy_sim.watch.events import Batch, EventType, Kind, WatchEvent, kind_of
from kubeproxy_sim.watch.memory import MemorySource
from kubeproxy_sim.watch.state import ClusterState
from kubeproxy_sim.watch.trackers import (
    EndpointSliceChangeTracker,
    ServiceChangeTracker,
    TrackerUpdate,
    service_view,
    slice_service,
    slice_state,
)

if TYPE_CHECKING:  # their real types to a checker; at run time the module __getattr__ below loads them on first use
    from kubeproxy_sim.watch.apiserver import ApiServerSource, Backoff

__all__ = [
    "ApiServerSource",
    "Backoff",
    "Batch",
    "ClusterState",
    "DirectorySource",
    "EndpointSliceChangeTracker",
    "EventType",
    "Kind",
    "MemorySource",
    "ServiceChangeTracker",
    "TrackerUpdate",
    "WatchEvent",
    "kind_of",
    "service_view",
    "slice_service",
    "slice_state",
]


def __getattr__(name: str) -> object:
    """ApiServerSource and Backoff load on first use, keeping the client's import cost off other paths."""
    if name in ("ApiServerSource", "Backoff"):
        from kubeproxy_sim.watch import apiserver

        return getattr(apiserver, name)
    raise AttributeError(name)
