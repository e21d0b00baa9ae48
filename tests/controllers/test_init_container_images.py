"""A pod starts only once every init container has: a sidecar (restartPolicy Always) or a plain init container
whose image cannot be pulled keeps the containers from starting, so the pod never becomes Ready and a rollout to
that image stalls at its progress deadline, as one to a broken container image does (the kubelet's ready check
counts the restartable init containers; a plain one must run to completion first)."""

from __future__ import annotations

import yaml

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.decode import decode_deployment
from kubeproxy_sim.controllers.model import Deployment

from ._helpers import IMAGE_BROKEN, deployed

TEMPLATE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: app, image: nginx, ports: [{containerPort: 8080}]}]
      initContainers: [{name: tls, image: envoy, restartPolicy: Always}]
"""


def _api() -> Deployment:
    d, problems = decode_deployment(yaml.safe_load(TEMPLATE), "dep.yaml")
    assert d is not None and not problems
    return d


def test_a_rollout_to_a_broken_sidecar_image_stalls_at_its_progress_deadline() -> None:
    """Before, only the containers' images decided readiness: the broken sidecar rolled out at once."""
    w, rng = deployed(0)
    w = W.wait_for_rollout(W.apply_deployment(w, _api(), rng), "default", "api", rng).world
    w = W.set_image(w, "default", "api", {"tls": IMAGE_BROKEN}, rng)
    result = W.wait_for_rollout(w, "default", "api", rng)
    assert not result.done
    assert result.messages[-1][1] == 'error: deployment "api" exceeded its progress deadline'
    new = [p for p in result.world.pods if p.labels and dict(p.labels).get("app") == "api" and p.ready_at is None]
    assert new, "the pods of the broken sidecar's revision never become ready"
