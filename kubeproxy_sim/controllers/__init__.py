"""controllers layer: what the API server and kube-controller-manager do with workloads.

Deployments become ReplicaSets and Pods (placed, addressed, started and
stopped on an injected clock), Services and Pods become EndpointSlices, and a
script of kubectl commands drives it all. It sits beside ``watch``: it imports
only ``objects`` and produces the objects the proxier consumes.
"""

from kubeproxy_sim.controllers.endpointslice import controller_slices, service_slices
from kubeproxy_sim.controllers.model import (
    Container,
    Deployment,
    PodTemplate,
    ReplicaSet,
    SimPod,
    Strategy,
    Timing,
    World,
)
from kubeproxy_sim.controllers.script import Manifests, Played, ScriptError, Step, parse_script, play
from kubeproxy_sim.controllers.world import ActionError, advance, cluster_of, settle, wait_for_rollout

__all__ = [
    "ActionError",
    "Container",
    "Deployment",
    "Manifests",
    "Played",
    "PodTemplate",
    "ReplicaSet",
    "ScriptError",
    "SimPod",
    "Step",
    "Strategy",
    "Timing",
    "World",
    "advance",
    "cluster_of",
    "controller_slices",
    "parse_script",
    "play",
    "service_slices",
    "settle",
    "wait_for_rollout",
]
