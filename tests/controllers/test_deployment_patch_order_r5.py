"""A Deployment patch changing spec.replicas and the image at once is one update: the deployment controller's sync
sees a scaling event first (upstream syncDeployment's isScalingEvent: the live set's desired-replicas annotation, 1,
is not 10), resizes the active (old) set to 10, and only then rolls the new template out (reviewer r5: we rolled out
at 1 replica, then scaled both sets in proportion, old 6 and new 7)."""

from __future__ import annotations

import dataclasses

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.model import World

from .test_patch_get_label import exposed, run

PATCH = ('patch deployment web -p \'{"spec":{"replicas":10,"template":{"spec":{"containers":'
         '[{"name":"kubernetes-bootcamp","image":"nginx:1.28"}]}}}}\'')


def _sizes(world: World) -> dict[str, int]:
    d = world.deployment("default", "web")
    assert d is not None
    image = {rs.name: rs.template.containers[0].image for rs in world.replica_sets}
    return {image[rs.name]: rs.replicas for rs in world.owned_sets(d)}


def test_replicas_and_image_together_scale_the_old_set_then_roll_out() -> None:
    world, rng = exposed(replicas=1)
    old_image = world.replica_sets[0].template.containers[0].image
    world, played = run(world, rng, PATCH)
    assert played[0].notes == ("deployment.apps/web patched",)
    # old set scaled to 10 (1 ready); the new one surges to 3 (25% of 10, up), 2 of the old's 9 unready pods go
    # (maxUnavailable 2: 13 - 8 - 3), and the new set takes the room left: 5; the old keeps 8
    assert _sizes(world) == {old_image: 8, "nginx:1.28": 5}


def test_the_patch_leaves_the_sets_an_apply_of_the_same_spec_leaves() -> None:
    world, rng = exposed(replicas=1)
    d = world.deployment("default", "web")
    assert d is not None
    container = dataclasses.replace(d.template.containers[0], image="nginx:1.28")
    applied = W.apply_deployment(world, dataclasses.replace(
        d, replicas=10, template=dataclasses.replace(d.template, containers=(container,))), rng)
    patched, _ = run(*exposed(replicas=1), PATCH)
    assert _sizes(patched) == _sizes(applied)
