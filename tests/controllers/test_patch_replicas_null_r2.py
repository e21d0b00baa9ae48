"""``patch deployment`` deleting spec.replicas (a null in a strategic or merge patch, a JSON patch's remove): the
API server decodes the result with replicas unset and apps/v1's SetDefaults_Deployment gives it 1, as it does for
a Deployment created without them; the patch is no invalid value."""

from __future__ import annotations

import pytest

from .test_patch_get_label import exposed, run


@pytest.mark.parametrize(
    ("kind", "patch"),
    [
        ("strategic", '{"spec":{"replicas":null}}'),
        ("merge", '{"spec":{"replicas":null}}'),
        ("json", '[{"op":"remove","path":"/spec/replicas"}]'),
    ],
)
def test_replicas_deleted_by_a_patch_default_to_one(kind: str, patch: str) -> None:
    world, rng = exposed(replicas=3)
    world, played = run(world, rng, f"patch deployment web --type {kind} -p '{patch}'")
    assert played[0].error is None, played[0].error
    assert played[0].notes == ("deployment.apps/web patched",)
    d = world.deployment("default", "web")
    assert d is not None and d.replicas == 1


def test_replicas_deleted_at_one_is_no_change() -> None:
    world, rng = exposed(replicas=1)
    world, played = run(world, rng, 'patch deployment web -p \'{"spec":{"replicas":null}}\'')
    assert played[0].notes == ("deployment.apps/web patched (no change)",)
