"""The node lifecycle controller's part in pod readiness: MarkPodsNotReady, and the kubelet writing it back.

Upstream (pkg/controller/nodelifecycle, monitorNodeHealth) marks every pod of a
Node not ready (its Ready condition False, util/node.MarkPodsNotReady) in one
case only: the pass in which the controller itself turns the Node's Ready
condition from True to Unknown, because the kubelet has posted neither status
nor lease for --node-monitor-grace-period. A Ready condition of False, which
the kubelet posts, marks no pod (the kubelet is alive and keeps its pods'
status), and neither does False or a missing condition turning Unknown
(kubernetes/kubernetes#112733). A Node the scenario applies with Ready Unknown
is the API after that write, so its pods are marked at that step; until the
kubelet posts again no pod there becomes ready (it reports none). When it does
(any other Ready status), its status manager finds the API's pod status
different from its own and writes it back within its 10 s sync; the model
takes that at once, at the step that applies the Node. The controller's other
path (processPod, a pod bound to a Node not Ready) writes only a pod that has a
Ready condition, which one just bound has not; such a pod on a silent Node is
kept not ready here because no kubelet reports it started. That reason holds on
every Node whose Ready is Unknown, however it got there (False or no condition
turning Unknown, or Unknown from the first): a pod there that had not started
stays Pending (:attr:`SimPod.unreported`) until the kubelet posts again, while
one that had started keeps the status its kubelet last posted. A pod deleted while its
Node's Ready is Unknown (by the taint eviction controller, or kubectl) stays
terminating until the kubelet posts again and stops it.
"""

from __future__ import annotations

from dataclasses import replace

from kubeproxy_sim.controllers.model import SimPod, World
from kubeproxy_sim.controllers.replicaset import finish_deletion
from kubeproxy_sim.objects.model import Node


def silent_after(world: World, nodes: tuple[Node, ...], unreachable: frozenset[str]) -> frozenset[str]:
    """The Nodes whose pods stay marked once ``nodes`` are put (``unreachable``: those of them put with Ready
    Unknown): one put Unknown that was Ready True, or was silent already; any other status ends it."""
    names = {n.name for n in nodes}
    was_ready = {n.name for n in world.nodes if n.name in names and n.name not in world.not_ready_nodes}
    return frozenset(world.silent_nodes - names | (unreachable & (was_ready | world.silent_nodes)))


def mark_pods_not_ready(world: World) -> World:
    """Every pod on a silent Node marked not ready (one bound there later too), and every pod not yet started on a
    Node whose Ready is Unknown, silent or not, kept Pending (unreported): no kubelet reports it started."""
    unreachable = world.unreachable_nodes
    if not unreachable:
        return world
    pods = tuple(_unheard(world, p) if p.node_name in unreachable else p for p in world.pods)
    return world if pods == world.pods else replace(world, pods=pods)


def _unheard(world: World, pod: SimPod) -> SimPod:
    """A pod of a Node whose Ready is Unknown, as the API holds it while that Node's kubelet is silent."""
    marked = pod.marked_not_ready or pod.node_name in world.silent_nodes
    unreported = pod.unreported or not (pod.terminating or pod.running(world.now))
    if (marked, unreported) == (pod.marked_not_ready, pod.unreported):
        return pod
    return replace(pod, marked_not_ready=marked, unreported=unreported)


def kubelets_back(world: World, nodes: frozenset[str]) -> World:
    """The pods of ``nodes``, whose kubelets post again after their Ready was Unknown, as those kubelets report them
    (no longer marked), and those deleted meanwhile stopped by them from now (replicaset.finish_deletion)."""
    if not nodes:
        return world
    pods = tuple(_reported(world, p) if p.node_name in nodes else p for p in world.pods)
    return replace(world, pods=pods)


def _reported(world: World, pod: SimPod) -> SimPod:
    """``pod`` once its kubelet posts again: its status manager writes its own view back over the controller's
    Ready False and reports a pod started (so neither mark stays), and the kubelet now sees a deletion made while
    it was silent and stops the pod, its grace period counted from now, not from the deletion. Its own view kept
    Ready True all along, so the Ready condition it writes back carries the lastTransitionTime it had cached
    (updateLastTransitionTime keeps it while the status is unchanged; mergePodStatus takes the kubelet's Ready
    whole): ``ready_at`` stays, and a scale-down ranks the pod by it, not by the time its kubelet came back."""
    if pod.marked_not_ready or pod.unreported:
        pod = replace(pod, marked_not_ready=False, unreported=False)
    return finish_deletion(world, pod) if pod.terminating and pod.gone_at is None else pod
