"""A template's init containers, sidecars (restartPolicy Always) and plain ones alike, are part of it: a pod starts
only once every init container has (a sidecar or a plain init container whose image cannot be pulled keeps the
containers from starting, so the pod never becomes Ready and a rollout to that image stalls at its progress deadline,
as one to a broken container image does: the kubelet's ready check counts the restartable init containers, and a
plain one must run to completion first); a new image of either is a new revision, and kubectl set image names
both."""

from __future__ import annotations

import pytest
import yaml

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.decode import decode_deployment
from kubeproxy_sim.controllers.model import Deployment
from kubeproxy_sim.controllers.naming import template_hash
from kubeproxy_sim.controllers.world import ActionError

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
PLAIN = "{name: migrate, image: busybox}"


def _api(text: str = TEMPLATE) -> Deployment:
    d, problems = decode_deployment(yaml.safe_load(text), "dep.yaml")
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


def _with_plain(image: str = "busybox") -> str:
    """The template with a plain init container (no restartPolicy) before its sidecar."""
    return TEMPLATE.replace("initContainers: [", "initContainers: [" + PLAIN.replace("busybox", image) + ", ")


def test_a_rollout_to_a_broken_plain_init_container_image_stalls_at_its_progress_deadline() -> None:
    """Before, the plain init container was dropped from the template: its image was never pulled."""
    w, rng = deployed(0)
    w = W.wait_for_rollout(W.apply_deployment(w, _api(_with_plain()), rng), "default", "api", rng).world
    w = W.apply_deployment(w, _api(_with_plain(IMAGE_BROKEN)), rng)
    result = W.wait_for_rollout(w, "default", "api", rng)
    assert not result.done
    assert result.messages[-1][1] == 'error: deployment "api" exceeded its progress deadline'


def test_set_image_names_a_plain_init_container_and_star_sets_every_container() -> None:
    """kubectl 1.33 set image --local sets a plain init container by name and '*' sets containers and init
    containers, sidecars or not (before: 'unable to find container named "migrate"')."""
    w, rng = deployed(0)
    w = W.wait_for_rollout(W.apply_deployment(w, _api(_with_plain()), rng), "default", "api", rng).world
    w = W.set_image(w, "default", "api", {"migrate": "busybox:2"}, rng)
    (d,) = [x for x in w.deployments if x.name == "api"]
    assert [(c.name, c.image, c.restart_policy) for c in d.template.init_containers] == [
        ("migrate", "busybox:2", ""), ("tls", "envoy", "Always")]
    assert [c.name for c in d.template.sidecars] == ["tls"]
    w = W.set_image(w, "default", "api", {"*": "x"}, rng)
    (d,) = [x for x in w.deployments if x.name == "api"]
    assert {c.image for c in (*d.template.containers, *d.template.init_containers)} == {"x"}
    with pytest.raises(ActionError, match='unable to find container named "nosuch"'):
        W.set_image(w, "default", "api", {"nosuch": "x"}, rng)


def test_a_new_plain_init_container_image_is_a_new_revision() -> None:
    """kubectl apply of a Deployment whose only change is a plain init container's image makes revision 2 (before:
    the template was equal, so nothing changed)."""
    w, rng = deployed(0)
    w = W.wait_for_rollout(W.apply_deployment(w, _api(_with_plain()), rng), "default", "api", rng).world
    w = W.apply_deployment(w, _api(_with_plain("busybox:2")), rng)
    assert sorted(rs.revision for rs in w.replica_sets if rs.owner == "api") == [1, 2]


def test_init_containers_are_hashed_only_when_present_so_earlier_hashes_stay() -> None:
    """The pod-template-hash of a template with a sidecar alone is what it was before plain init containers were
    kept (4fd4476dcc, computed on the parent); a plain init container changes it."""
    text = TEMPLATE.replace("restartPolicy: Always}", "restartPolicy: Always, ports: [{name: https, containerPort: "
                                                      "9443}]}")
    assert template_hash(_api(text).template) == "4fd4476dcc"
    assert template_hash(_api(_with_plain()).template) != template_hash(_api().template)
