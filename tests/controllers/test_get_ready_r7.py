"""Reviewer r7's finding on ``kubectl get pods``' READY column: kubectl's printPod counts spec.containers and the
restartable (sidecar) init containers, not the init containers that run to completion; and an applied Pod counts
its manifest's containers (it showed 0/0, where kubectl shows 1/1 for the usual one-container Pod)."""

from __future__ import annotations

import yaml

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.decode import decode_deployment
from kubeproxy_sim.controllers.kubectl_get import pod_row
from kubeproxy_sim.objects.model import Pod

from ._helpers import deployed

API = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: app, image: nginx, ports: [{containerPort: 8080}]}]
      initContainers: [{name: migrate, image: busybox}, {name: tls, image: envoy, restartPolicy: Always}]
"""


def test_a_replica_sets_pod_counts_its_containers_and_sidecars_not_its_plain_init_containers() -> None:
    d, problems = decode_deployment(yaml.safe_load(API), "api.yaml")
    assert d is not None and not problems
    w, rng = deployed(0)
    w = W.wait_for_rollout(W.apply_deployment(w, d, rng), "default", "api", rng).world
    (pod,) = [p for p in w.pods if p.owner is not None and p.owner.startswith("api-")]
    assert pod_row(pod, w.now, False)[1:3] == ["2/2", "Running"]  # app and the tls sidecar; was 3/3


def test_an_applied_pod_without_a_count_shows_the_one_container_every_pod_has() -> None:
    w, rng = deployed(0)
    w, _ = W.add_pods(w, [Pod("default", "solo", pod_ips=("10.244.0.50",))], rng)
    (pod,) = w.pods
    assert pod_row(pod, w.now, False)[1] == "1/1"  # was 0/0


def test_an_applied_pod_counts_its_manifests_containers() -> None:
    w, rng = deployed(0)
    w, _ = W.add_pods(w, [Pod("default", "trio", pod_ips=("10.244.0.51",))], rng, containers={"default/trio": 3})
    (pod,) = w.pods
    assert pod_row(pod, w.now, False)[1] == "3/3"


def test_a_pod_not_ready_shows_none_of_its_containers_ready() -> None:
    w, rng = deployed(0)
    w, _ = W.add_pods(w, [Pod("default", "slow", ready=False)], rng, containers={"default/slow": 2})
    (pod,) = w.pods
    assert pod_row(pod, w.now, False)[1] == "0/2"
